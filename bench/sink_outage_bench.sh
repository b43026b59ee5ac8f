#!/usr/bin/env bash
# Event throughput of `burnrate run` while an alert sink is down, against the
# same run with the sink healthy (issue: within 10% of normal). Both drain the
# same topic of simulated traffic in which many agent runs exceed a low
# runaway bound, so alerts flow all the time; the webhook receiver is either
# a local HTTP server answering 200 or a closed port. Runs alternate
# (healthy, down, healthy, down, ...) and medians are compared.
#
# Usage: bench/sink_outage_bench.sh [BUILD_DIR]     Environment: RUNS (3), DAYS (3), TENANTS (150)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$(cd "${1:-$ROOT/build}" && pwd)
runs=${RUNS:-3}
burnrate=$build_dir/app/burnrate
[[ -x $burnrate ]] || { echo "build burnrate first" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/burnrate-outage-bench.XXXXXX")
export BURNRATE_STACK_DIR=$work/stack
receiver_pid=""
cleanup() {
  pkill -f -- "--config $work/" 2>/dev/null || true
  [ -n "$receiver_pid" ] && kill "$receiver_pid" 2>/dev/null || true
  "$ROOT/scripts/stack" down >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
"$ROOT/scripts/stack" up >/dev/null
set -a
source "$BURNRATE_STACK_DIR/env"
set +a

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# A healthy receiver: answers 200 to every POST (a small test tool).
healthy_port=$(free_port)
python3 - "$healthy_port" >"$work/receiver.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
receiver_pid=$!
down_port=$(free_port)  # nothing listens here: connections are refused

topic=outage-bench
"$burnrate" simulate --start "now-${DAYS:-3}d" --days "${DAYS:-3}" --warmup-days 0 --tenants "${TENANTS:-150}" --incidents-per-day 0 \
  --seed 7 --out "$work/events.jsonl" 2>/dev/null
events=$(wc -l <"$work/events.jsonl")
kcat -P -b "$BURNRATE_KAFKA_BROKERS" -t "$topic" -X topic.partitioner=random -X linger.ms=50 <"$work/events.jsonl"
echo "topic $topic: $events events"

now() { date +%s.%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A rates
for run in $(seq 1 "$runs"); do
  for sink in healthy down; do
    port=$healthy_port
    [ "$sink" = down ] && port=$down_port
    name=$sink$run
    cat >"$work/$name.yaml" <<YAML
kafka:
  brokers: $BURNRATE_KAFKA_BROKERS
  topic: $topic
  group_id: outage-$name
  windows_topic: outage-windows-$name
  dead_letter_topic: outage-dead-$name
redis:
  port: $BURNRATE_REDIS_PORT
  key_prefix: "outage-$name:"
time_bounds:
  max_past: 30d
http:
  listen: off
checkpoint_interval: 1s
idle_timeout: 5s
detectors:
  runaway: {max_calls: 5}
alerting:
  receivers:
    - name: hook
      webhook: {url: {env: OUTAGE_HOOK_URL}, timeout: 2s}
  route: {receiver: hook}
YAML
    t0=$(now)
    OUTAGE_HOOK_URL=http://127.0.0.1:$port/hook "$burnrate" run --config "$work/$name.yaml" >"$work/$name.log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + 600))
    until [ "$(redis-cli -p "$BURNRATE_REDIS_PORT" hvals "outage-$name:$topic:pos" | awk '$1 > 0 { s += $1 } END { print s + 0 }')" -ge "$events" ]; do
      ((SECONDS < deadline)) || { echo "$name: not drained in time" >&2; tail -5 "$work/$name.log" >&2; exit 1; }
      sleep 0.05
    done
    t1=$(now)
    kill -TERM "$pid"
    wait "$pid" || true
    rate=$(awk -v n="$events" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    rates[$sink]+="$rate "
    alerts=$(grep -c '"kind":"runaway"\|kind=runaway\|runaway' "$work/$name.log" || true)
    echo "run $run, sink $sink: $rate events/s ($alerts runaway log lines)"
  done
done
h=$(printf '%s\n' ${rates[healthy]} | median)
d=$(printf '%s\n' ${rates[down]} | median)
echo "median: sink healthy $h events/s, sink down $d events/s, ratio $(awk -v a="$d" -v b="$h" 'BEGIN { printf "%.2f", a / b }')"
