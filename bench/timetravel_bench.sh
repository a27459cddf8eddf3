#!/usr/bin/env bash
# Time travel over a long recording: records bench/long_run_workload (10^8
# ticks by default, a watched write 10^7 ticks before the end, then abort),
# then times, each in a fresh `backstep replay` session whose cost of
# reaching the end is measured alone and subtracted:
#   reverse-stepi at the end, goto panic from the end, and reverse-continue
#   with a watchpoint to the write 10^7 ticks earlier; and the cost of taking
#   checkpoints on the way to the end (the same session with none).
# Usage: bench/timetravel_bench.sh [BUILD_DIR] [TICKS]
# Not a test: nothing here asserts a speed. See docs/BENCHMARKS.md.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
ticks=${2:-100000000}
backstep="$build/cli/backstep"
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  cmake --build "$build" --target backstep long_run_workload -j"$(nproc)" >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_DATA_HOME="$work/xdg"

t0=$(date +%s.%N)
("$build/bench/long_run_workload" "$ticks" >"$work/native.out") 2>/dev/null || true
t1=$(date +%s.%N)
"$backstep" record -o "$work/trace" -- "$build/bench/long_run_workload" "$ticks" \
  >"$work/record.out" 2>/dev/null || true
t2=$(date +%s.%N)
marker=$(sed -n 's/^g_marker at \(0x[0-9a-f]*\)$/\1/p' "$work/record.out")

sub() { awk -v a="$1" -v b="$2" 'BEGIN { print a - b }'; }

# Seconds taken by one batch session running the given commands
# ($replay_opts: extra options of `backstep replay`).
replay_opts=()
session() {
  local s e
  s=$(date +%s.%N)
  "$backstep" replay "$work/trace" -q "${replay_opts[@]}" "${@/#/--ex=}" >"$work/session.out" 2>&1
  e=$(date +%s.%N)
  sub "$e" "$s"
}
# Each motion is repeated $reps times in one session, from the end each
# time ("goto end" is cheap once a checkpoint is near it), and its cost is
# (that session - the session with the gotos only) / $reps.
reps=5
repeat() {  # repeat N CMD... : the commands N times
  local n=$1 i
  shift
  for ((i = 0; i < n; i++)); do printf '%s\n' "$@"; done
}
per_op() { awk -v a="$1" -v b="$2" -v n="$reps" 'BEGIN { printf "%.3f", (a - b) / n }'; }
mapfile -t gotos < <(repeat "$reps" "goto end")
mapfile -t rsis < <(repeat "$reps" "goto end" "reverse-stepi")
mapfile -t panics < <(repeat "$reps" "goto end" "goto panic")
mapfile -t watches < <(echo "watch $marker"; repeat "$reps" "goto end" "reverse-continue")

replay_opts=(--checkpoint-interval=0)
to_end_bare=$(session "goto end")
replay_opts=()
to_end=$(session "goto end")
base=$(session "${gotos[@]}")
rsi=$(session "${rsis[@]}")
panic=$(session "${panics[@]}")
watch=$(session "${watches[@]}")
[[ $(grep -c "hit watchpoint" "$work/session.out") == "$reps" ]] ||
  echo "warning: the watchpoint did not trigger every time" >&2

printf 'recording: %s ticks; native %.2f s, record %.2f s\n' "$ticks" \
  "$(sub "$t1" "$t0")" "$(sub "$t2" "$t1")"
printf 'replay to the end, no checkpoints:   %.2f s\n' "$to_end_bare"
printf 'replay to the end, checkpoints on:   %.2f s (one every 25 ms of replaying)\n' "$to_end"
printf 'each figure below: one motion from the end, mean of %s in one session\n' "$reps"
printf 'reverse-stepi at the end:            %s s\n' "$(per_op "$rsi" "$base")"
printf 'goto panic from the end:             %s s\n' "$(per_op "$panic" "$base")"
printf 'reverse-continue to a watchpoint hit %s ticks earlier: %s s\n' "$((ticks / 10))" \
  "$(per_op "$watch" "$base")"
