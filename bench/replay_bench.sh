#!/usr/bin/env bash
# Whole-process throughput of `burnrate replay`: start-up, reading the file,
# decode, dedup, pricing, windows and writing the window rows and dead
# letters, as a user would run it. Next to it, `cat FILE > /dev/null` over the
# same file shows what reading the bytes alone costs on this machine.
#
# Usage: bench/replay_bench.sh [BUILD_DIR]         (default: build)
# Environment: EVENTS (1000000), KEYS (10000), RUNS (5), SEED (1),
#              FORMAT (mixed), KEEP=1 keeps the work directory.
# Needs the targets burnrate and burnrate-gen-events built in BUILD_DIR.
set -euo pipefail

build_dir=${1:-build}
events=${EVENTS:-1000000}
keys=${KEYS:-10000}
runs=${RUNS:-5}
seed=${SEED:-1}
format=${FORMAT:-mixed}

burnrate="$build_dir/app/burnrate"
generator="$build_dir/tools/burnrate-gen-events"
for program in "$burnrate" "$generator"; do
  if [[ ! -x "$program" ]]; then
    echo "replay_bench: $program not found; build it first:" >&2
    echo "  cmake --build $build_dir --target burnrate burnrate-gen-events" >&2
    exit 2
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/burnrate-replay-bench.XXXXXX")
if [[ -z "${KEEP:-}" ]]; then
  trap 'rm -rf "$work"' EXIT
else
  echo "work directory kept: $work"
fi

# Wall-clock seconds of a command, from bash's own microsecond clock (no fork
# of date(1) inside the measured interval).
elapsed() {
  local start=$EPOCHREALTIME
  "$@"
  local end=$EPOCHREALTIME
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }'
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== burnrate replay benchmark"
echo "machine:   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
echo "burnrate:  $("$burnrate" --version 2>/dev/null || echo unknown) ($burnrate)"

"$generator" --events "$events" --keys "$keys" --seed "$seed" --format "$format" \
  --out "$work/events.jsonl" --prices "$work/prices.yaml" 2>"$work/generator.log"
bytes=$(stat -c %s "$work/events.jsonl")
echo "input:     $events lines, $keys keys, seed $seed, format $format," \
  "$(awk -v b="$bytes" -v n="$events" 'BEGIN { printf "%.1f MB (%.0f bytes/line)", b / 1e6, b / n }')"
echo "generator: $(sed 's/^burnrate-gen-events: //' "$work/generator.log")"

cat >"$work/config.yaml" <<EOF
pricing:
  file: "$work/prices.yaml"
EOF

# Reading the file once first puts it in the page cache for every run below.
cat "$work/events.jsonl" >/dev/null

echo
echo "-- I/O reference (page cache warm), median of 3"
# cat to /dev/null may never copy the bytes to user space (coreutils can use
# copy_file_range or splice), so wc -l, which reads and scans every byte, is
# shown as well: it is the floor for any program that looks at the data.
read_file() { cat "$work/events.jsonl" >/dev/null; }
count_lines() { wc -l "$work/events.jsonl" >/dev/null; }
reference() {
  local label=$1 fn=$2 times=()
  for i in 1 2 3; do times+=("$(elapsed "$fn")"); done
  local t
  t=$(median "${times[@]}")
  awk -v l="$label" -v t="$t" -v b="$bytes" -v n="$events" 'BEGIN {
    printf "%-28s %.3f s  = %6.0f MB/s  = %10.0f lines/s\n", l, t, b / t / 1e6, n / t }'
  REFERENCE_SECONDS=$t
}
reference "cat FILE > /dev/null:" read_file
cat_seconds=$REFERENCE_SECONDS
reference "wc -l FILE:" count_lines
wc_seconds=$REFERENCE_SECONDS

replay() {
  "$burnrate" replay --config "$work/config.yaml" --input "$work/events.jsonl" \
    --windows-out "$work/windows.jsonl" --dead-letters-out "$work/dead-letters.jsonl" \
    2>"$work/replay.log"
}

echo
echo "-- burnrate replay, $runs runs (wall clock, whole process)"
rates=()
for i in $(seq 1 "$runs"); do
  seconds=$(elapsed replay)
  rate=$(awk -v t="$seconds" -v n="$events" 'BEGIN { printf "%.0f", n / t }')
  rates+=("$rate")
  # The engine's own timing covers the pipeline loop only (no start-up).
  internal=$(grep -o '"seconds":[0-9.]*' "$work/replay.log" | cut -d: -f2)
  awk -v i="$i" -v t="$seconds" -v r="$rate" -v b="$bytes" -v s="$internal" 'BEGIN {
    printf "run %d:     %.3f s  %9.0f events/s  %6.0f MB/s  (engine loop %s s)\n", i, t, r, b / t / 1e6, s }'
done
median_rate=$(median "${rates[@]}")
echo
echo "RESULT replay median: $median_rate events/s (lines of input per wall-clock second, single process)"
awk -v r="$median_rate" -v c="$cat_seconds" -v w="$wc_seconds" -v n="$events" 'BEGIN {
  printf "RESULT I/O reference: cat FILE > /dev/null %.0f lines/s, wc -l FILE %.0f lines/s\n", n / c, n / w
  printf "RESULT replay reaches %.1f%% of the wc -l rate\n", 100 * r / (n / w) }'
echo "replay summary of the last run:"
grep '^{"summary"' "$work/replay.log" | sed 's/^/  /'
