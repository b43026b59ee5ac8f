#!/usr/bin/env bash
# Compares two builds of burnrate-bench-pipeline on this noisy shared
# machine: the two binaries run alternately, ROUNDS times, so both see the
# same spells of load, and what is reported per benchmark is the median of
# each side and the median of the per-round ratios B/A (the figure to trust;
# a single run can be off by 20%).
#
# Usage: bench/pipeline_ab.sh A_BINARY B_BINARY [FILTER] [ROUNDS]
#   FILTER  Google Benchmark filter (default: DecodePriceAggregate|BM_Decode/)
#   ROUNDS  alternations (default 15; below 10 the ratio wanders by +-5%)
# Example, before and after a change:
#   cp build/bench/burnrate-bench-pipeline /tmp/bench-before
#   ... change, rebuild ...
#   bench/pipeline_ab.sh /tmp/bench-before build/bench/burnrate-bench-pipeline
set -euo pipefail

if (($# < 2)); then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
a=$1 b=$2 filter=${3:-'DecodePriceAggregate|BM_Decode/'} rounds=${4:-15}
for binary in "$a" "$b"; do
  [[ -x "$binary" ]] || { echo "pipeline_ab: $binary is not an executable" >&2; exit 2; }
done

results=$(mktemp "${TMPDIR:-/tmp}/pipeline-ab.XXXXXX")
trap 'rm -f "$results"' EXIT

# One run of one binary: lines "SIDE ROUND NAME ITEMS_PER_SECOND".
run() {
  local side=$1 round=$2 binary=$3
  # JSON, one field per line ("name" comes before "items_per_second"); the
  # CSV reporter refuses benchmarks with different counters.
  "$binary" --benchmark_filter="$filter" --benchmark_min_time=0.5 --benchmark_format=json 2>/dev/null |
    awk -v side="$side" -v round="$round" '
      /^ *"name":/ { name = $2; gsub(/[",]/, "", name) }
      /^ *"items_per_second":/ { v = $2; gsub(/,/, "", v); print side, round, name, v }'
}

for round in $(seq 1 "$rounds"); do
  run A "$round" "$a" >>"$results"
  run B "$round" "$b" >>"$results"
  echo "round $round/$rounds done" >&2
done

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-45s %12s %12s %10s\n' benchmark "A median" "B median" "B/A"
for name in $(awk '{ print $3 }' "$results" | sort -u); do
  a_median=$(awk -v n="$name" '$1 == "A" && $3 == n { print $4 }' "$results" | median)
  b_median=$(awk -v n="$name" '$1 == "B" && $3 == n { print $4 }' "$results" | median)
  ratio=$(awk -v n="$name" '$3 == n { v[$1, $2] = $4 } END {
      for (k in v) { split(k, p, SUBSEP); if (p[1] == "A" && (("B", p[2]) in v)) print v["B", p[2]] / v[k] } }' \
    "$results" | median)
  printf '%-45s %11.3fM %11.3fM %10.3f\n' "$name" "$(awk -v x="$a_median" 'BEGIN { print x / 1e6 }')" \
    "$(awk -v x="$b_median" 'BEGIN { print x / 1e6 }')" "$ratio"
done
