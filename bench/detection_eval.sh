#!/usr/bin/env bash
# Detection quality on labelled traffic (docs/detection.md): simulates 28 days
# (the first 7 are warm-up) of LLM cost events with labelled incidents, runs
# them through `burnrate replay` with the detectors, and scores the alerts
# with `burnrate evaluate` beside a static threshold and an EWMA baseline.
#
#   bench/detection_eval.sh [BUILD_DIR] [SEED] [CONFIG]
#
# Needs about 3 GB of scratch space in $TMPDIR for the events and windows.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
SEED=${2:-1}
CONFIG=${3:-}
BIN="$BUILD/app/burnrate"
[ -x "$BIN" ] || { echo "detection_eval: build burnrate first ($BIN missing)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/burnrate-detection.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

"$BIN" simulate --days 28 --warmup-days 7 --seed "$SEED" --out - \
    --labels-out "$WORK/labels.jsonl" --meta-out "$WORK/meta.json" |
  "$BIN" replay --input - ${CONFIG:+--config "$CONFIG"} --windows-out "$WORK/windows.jsonl" \
    --alerts-out "$WORK/alerts.jsonl" 2>"$WORK/summary.json"
tail -n 1 "$WORK/summary.json" >&2
"$BIN" evaluate --labels "$WORK/labels.jsonl" --alerts "$WORK/alerts.jsonl" --windows "$WORK/windows.jsonl" \
  --meta "$WORK/meta.json"
