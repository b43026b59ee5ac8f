#!/usr/bin/env bash
# `burnrate run` draining a pre-filled topic, against `kcat -C` draining the
# same topic on the same machine in the same run (the issue's yardstick:
# burnrate should reach at least 80% of kcat's rate).
#
# Usage: bench/run_drain_bench.sh [BUILD_DIR]      (default: build)
# Environment: EVENTS (1000000), KEYS (10000), RUNS (3), REPLICAS (1),
# DUPLICATES (fraction of lines that re-send an event, 0.01), BURNRATE (the
# binary to measure, default BUILD_DIR/app/burnrate: compare two builds on
# one generated topic by running the script once per binary), EXTRA_CONFIG
# (YAML appended to each replica's config, e.g. to leave a detector out),
# KAFKA_PROPERTIES (librdkafka settings as "key: value" lines, indented
# under kafka.properties, e.g. to try another prefetch bound), AGE_DAYS
# (event times that many days back, default 0: with 40, beyond the 30-day
# bound, every event is dead-lettered as timestamp_out_of_range through the
# store's held dead letters, as a backlog of old data replayed into the
# topic would be).
# Prints per run both rates and each replica's peak RSS (VmHWM), and at the
# end the checkpoint script's Redis CPU and Redis's peak memory.
# Starts its own Kafka and Redis (scripts/stack) and stops them at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$(cd "${1:-$ROOT/build}" && pwd)
events=${EVENTS:-1000000}
keys=${KEYS:-10000}
runs=${RUNS:-3}
replicas=${REPLICAS:-1}
burnrate=${BURNRATE:-$build_dir/app/burnrate}
duplicates=${DUPLICATES:-0.01}
generator=$build_dir/tools/burnrate-gen-events
[[ -x $burnrate && -x $generator ]] || { echo "build burnrate and burnrate-gen-events first" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/burnrate-drain-bench.XXXXXX")
export BURNRATE_STACK_DIR=$work/stack
cleanup() {
  pkill -f -- "--config $work/" 2>/dev/null || true
  "$ROOT/scripts/stack" down >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
"$ROOT/scripts/stack" up >/dev/null
set -a
source "$BURNRATE_STACK_DIR/env"
set +a

# Event times within the last hour, so the wall-clock time bounds accept them
# (unless AGE_DAYS moves them back).
start_ms=$((($(date +%s) - 3600 - ${AGE_DAYS:-0} * 86400) / 60 * 60 * 1000))
"$generator" --events "$events" --keys "$keys" --start "$start_ms" --out "$work/events.jsonl" \
  --expected "$work/expected.jsonl" --prices "$work/prices.yaml" --duplicate-fraction "$duplicates" 2>/dev/null
topic=drain-bench
# librdkafka's sticky partitioner would send long runs to one partition; a
# random partitioner spreads the load over the four partitions.
kcat -P -b "$BURNRATE_KAFKA_BROKERS" -t "$topic" -X topic.partitioner=random -X linger.ms=50 <"$work/events.jsonl"
echo "topic $topic: $(kcat -C -b "$BURNRATE_KAFKA_BROKERS" -t "$topic" -o beginning -e -q -f 'x\n' 2>/dev/null | wc -l) messages, $(du -h "$work/events.jsonl" | cut -f1)"

# The output topics exist before the runs, as in a deployment (the Helm
# chart's operators create them): otherwise each run's first checkpoint
# would also wait for the broker to create them. kcat can only create a
# topic by writing to it, so each gets one marker record.
for output in drain-windows drain-dead; do
  echo "created by run_drain_bench.sh" | kcat -P -b "$BURNRATE_KAFKA_BROKERS" -t "$output"
done

now() { date +%s.%N; }
rate() { awk -v n="$events" -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", n / (b - a) }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

kafka_properties=""
[ -n "${KAFKA_PROPERTIES:-}" ] && kafka_properties="  properties:
$(sed 's/^/    /' <<<"$KAFKA_PROPERTIES")"
kcat_rates=()
run_rates=()
for run in $(seq 1 "$runs"); do
  t0=$(now)
  kcat -C -b "$BURNRATE_KAFKA_BROKERS" -t "$topic" -o beginning -e -q >/dev/null 2>&1
  t1=$(now)
  kcat_rates+=("$(rate "$t0" "$t1")")

  cat >"$work/run$run.yaml" <<YAML
kafka:
  brokers: $BURNRATE_KAFKA_BROKERS
  topic: $topic
  group_id: drain-$run
  windows_topic: drain-windows
  dead_letter_topic: drain-dead
${kafka_properties}
redis:
  port: $BURNRATE_REDIS_PORT
  key_prefix: "drain$run:"
pricing:
  file: $work/prices.yaml
time_bounds:
  max_past: 30d
checkpoint_interval: 1s
idle_timeout: 5s
# No metrics endpoint: replicas started side by side would contend for its port.
http:
  listen: "off"
${EXTRA_CONFIG:-}
YAML
  t0=$(now)
  pids=()
  for r in $(seq 1 "$replicas"); do
    "$burnrate" run --config "$work/run$run.yaml" >"$work/run$run-$r.log" 2>&1 &
    pids+=($!)
  done
  # Drained when the positions made durable in Redis add up to the topic's
  # size. One redis-cli asks every 50 ms on one connection (-r/-i), rather
  # than a new redis-cli per check (about 6 ms of CPU each, 20 a second, on
  # the cores the drain runs on; no difference in the ratio was measurable).
  # stdbuf hands each answer on at once (a pipe is block-buffered otherwise).
  sum_positions="local s = 0 for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
    if tonumber(v) > 0 then s = s + tonumber(v) end end return s"
  coproc POSITIONS {
    exec stdbuf -oL redis-cli -p "$BURNRATE_REDIS_PORT" -r -1 -i 0.05 \
      eval "$sum_positions" 1 "drain$run:$topic:pos"
  }
  positions_pid=$POSITIONS_PID
  deadline=$((SECONDS + ${DRAIN_DEADLINE:-300}))
  drained=false
  while read -r -u "${POSITIONS[0]}" sum; do
    if [[ $sum =~ ^[0-9]+$ ]] && ((sum >= events)); then
      drained=true
      break
    fi
    ((SECONDS > deadline)) && break
  done
  kill "$positions_pid" 2>/dev/null || true
  wait "$positions_pid" 2>/dev/null || true
  if ! $drained; then
    echo "run $run: not drained in time; positions:" >&2
    redis-cli -p "$BURNRATE_REDIS_PORT" hgetall "drain$run:$topic:pos" >&2
    kcat -Q -b "$BURNRATE_KAFKA_BROKERS" -t "$topic:0:-1" -t "$topic:1:-1" -t "$topic:2:-1" -t "$topic:3:-1" >&2 || true
    exit 1
  fi
  t1=$(now)
  # Each replica's peak resident memory so far (VmHWM), before it stops.
  peaks=()
  for pid in "${pids[@]}"; do
    peaks+=("$(awk '/^VmHWM:/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$pid/status" 2>/dev/null)")
  done
  kill -TERM "${pids[@]}"
  wait "${pids[@]}" || true
  run_rates+=("$(rate "$t0" "$t1")")
  echo "run $run: kcat -C ${kcat_rates[-1]} msgs/s; burnrate run ($replicas replica(s)) ${run_rates[-1]} msgs/s (to durable state); peak RSS ${peaks[*]}"
done
redis-cli -p "$BURNRATE_REDIS_PORT" info commandstats | grep -E "evalsha|append|strlen|sadd|smismember" | tr -d '\r' | sed 's/^/redis /'
redis-cli -p "$BURNRATE_REDIS_PORT" info memory | grep -E "^used_memory_peak_human" | tr -d '\r' | sed 's/^/redis /'
k=$(printf '%s\n' "${kcat_rates[@]}" | median)
b=$(printf '%s\n' "${run_rates[@]}" | median)
echo "median: kcat -C $k msgs/s, burnrate run $b msgs/s, ratio $(awk -v a="$b" -v b="$k" 'BEGIN { printf "%.2f", a / b }')"
