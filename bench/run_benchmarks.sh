#!/usr/bin/env bash
# Prints the instrumentation's cost as ratios, each measured side by side in
# one run (alternating builds, median of N runs).
# Usage: bench/run_benchmarks.sh [BUILD_DIR] [RUNS]
set -euo pipefail
build=${1:-build}
runs=${2:-7}
b="$build/bench"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_of() { "$@" | awk '/^elapsed/ {print $2}'; }

declare -A samples
for ((i = 0; i < runs; i++)); do
  for v in nohooks hooks ticks; do
    samples[$v]+="$(time_of "$b/map_workload_$v") "
  done
done
for v in nohooks hooks ticks; do
  med[$v]=0
done
declare -A med
for v in nohooks hooks ticks; do
  med[$v]=$(tr ' ' '\n' <<<"${samples[$v]}" | grep -v '^$' | median)
done
printf 'map workload, median of %d runs (seconds): hooks compiled out %s, hooks idle %s, ticks %s\n' \
  "$runs" "${med[nohooks]}" "${med[hooks]}" "${med[ticks]}"
awk -v a="${med[hooks]}" -v b="${med[nohooks]}" 'BEGIN {printf "idle map hooks / hooks compiled out: %.3fx\n", a / b}'
awk -v a="${med[ticks]}" -v b="${med[hooks]}" 'BEGIN {printf "tick instrumentation / uninstrumented: %.3fx\n", a / b}'
