#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time:
#
#   run_fuzzer.sh FUZZER SECONDS WORK_DIR [SEED_DIR...]
#
# New inputs go to WORK_DIR/corpus (kept between runs), crashing inputs to
# WORK_DIR/crashes/; the seed directories (the checked-in corpus with its
# regression inputs, the seeds the build made) are read, never written.
# Exits non-zero on a crash, a leak, a timeout or a sanitizer report, with
# the reproducer's path in the output; prints the executions done.
set -euo pipefail
fuzzer=$1 seconds=$2 work=$3
shift 3
mkdir -p "$work/corpus" "$work/crashes"
seeds=()
for d in "$@"; do [[ -d $d ]] && seeds+=("$d"); done
log="$work/last-run.log"
status=0
# -timeout: one input may replay a program (gdb_protocol_fuzzer), not hang.
"$fuzzer" -max_total_time="$seconds" -timeout=60 -rss_limit_mb=3072 -print_final_stats=1 \
  -artifact_prefix="$work/crashes/" "$work/corpus" "${seeds[@]}" >"$log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
echo "$(basename "$fuzzer"): ${runs:-?} executions in ${seconds}s, corpus $(ls "$work/corpus" | wc -l) inputs"
if ((status != 0)); then
  tail -n 60 "$log"
  echo "$(basename "$fuzzer"): FAILED (status $status); reproducers in $work/crashes/" >&2
fi
exit "$status"
