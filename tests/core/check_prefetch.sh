#!/usr/bin/env bash
# Checks that EventPipeline::Process in the compiled core library still
# prefetches (a compiler may silently delete the prefetch calls: see
# core/CMakeLists.txt). Arguments: the object files of burnrate_core.
set -euo pipefail
object=""
for o in "$@"; do
  case "$o" in */pipeline.cc.o) object=$o ;; esac
done
[ -n "$object" ] || { echo "pipeline.cc.o is not among the objects given" >&2; exit 1; }
code=$(objdump -d --no-show-raw-insn -C "$object")
process=$(awk '/<burnrate::EventPipeline::Process\(/,/^$/' <<<"$code")
[ -n "$process" ] || { echo "EventPipeline::Process not found in $object" >&2; exit 1; }
count=$(grep -c 'prefetcht0' <<<"$process" || true)
echo "EventPipeline::Process in $object: $count prefetcht0 instructions"
# The dedup slot and the claim slot: a control group and a slot each.
if ((count < 4)); then
  echo "expected at least 4: the pipeline's prefetches were compiled away" >&2
  exit 1
fi
