#!/usr/bin/env bash
# Latency and throughput of the quota decision endpoint on loopback, with
# wrk: bench/decision_server serves N tenants from an in-memory snapshot;
# wrk sends GET /v1/decision/v1/chat/completions with x-tenant-id spread over
# all tenants (a Lua script), for a fixed connection count.
#
# wrk has no rate option (wrk2 is not packaged). By default this measures at
# maximum throughput. With DELAY_MS set, each connection waits that long
# after every response (wrk's delay() hook), so the offered rate is about
# CONNECTIONS x 1000 / (DELAY_MS + latency): CONNECTIONS=24 DELAY_MS=2 gives
# roughly 10,000 requests/s, the rate the p99 target is stated for.
#
# Usage: bench/decision_bench.sh [BUILD_DIR]      (default: build)
# Environment: TENANTS (10000), CONNECTIONS (16), WRK_THREADS (1),
#              SERVER_THREADS (32), DURATION (20s), RUNS (3), DELAY_MS (unset)
set -euo pipefail

build_dir=${1:-build}
tenants=${TENANTS:-10000}
connections=${CONNECTIONS:-16}
wrk_threads=${WRK_THREADS:-1}
server_threads=${SERVER_THREADS:-32}
duration=${DURATION:-20s}
runs=${RUNS:-3}
delay_ms=${DELAY_MS:-}

server="$build_dir/bench/decision_server"
if [[ ! -x "$server" ]]; then
  echo "decision_bench: $server not found; build it first:" >&2
  echo "  cmake --build $build_dir --target decision_server" >&2
  exit 2
fi
command -v wrk >/dev/null || { echo "decision_bench: wrk not installed (apt-get install wrk)" >&2; exit 2; }
if (( connections > server_threads )); then
  # A keep-alive connection holds a server worker while open; more
  # connections than workers would measure queueing, not the endpoint.
  echo "decision_bench: CONNECTIONS ($connections) must not exceed SERVER_THREADS ($server_threads)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/burnrate-decision-bench.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$server" --tenants "$tenants" --threads "$server_threads" > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q '^port ' "$work/server.out" 2>/dev/null && break
  sleep 0.05
done
port=$(awk '/^port /{print $2}' "$work/server.out")
[[ -n "$port" ]] || { echo "decision_bench: server did not start" >&2; cat "$work/server.err" >&2; exit 1; }

cat > "$work/tenants.lua" <<LUA
local n = $tenants
local i = 0
request = function()
  i = (i + 7919) % n
  return wrk.format("GET", "/v1/decision/v1/chat/completions", {["x-tenant-id"] = "tenant-" .. i})
end
LUA
if [[ -n "$delay_ms" ]]; then
  printf 'delay = function() return %d end\n' "$delay_ms" >> "$work/tenants.lua"
fi

echo "decision endpoint: $tenants tenants, $connections connections, $wrk_threads wrk thread(s), $server_threads server threads, $duration x $runs${delay_ms:+, ${delay_ms} ms between requests per connection}"
for run in $(seq "$runs"); do
  wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency -s "$work/tenants.lua" "http://127.0.0.1:$port" \
    > "$work/wrk.$run" 2>&1
  rps=$(awk '/^Requests\/sec:/{print $2}' "$work/wrk.$run")
  p50=$(awk '$1=="50%"{print $2}' "$work/wrk.$run")
  p99=$(awk '$1=="99%"{print $2}' "$work/wrk.$run")
  non2xx=$(awk '/Non-2xx/{print $5}' "$work/wrk.$run")
  echo "run $run: requests/s $rps  p50 $p50  p99 $p99  (non-2xx: ${non2xx:-0}, the blocked and throttled share)"
done
