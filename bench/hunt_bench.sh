#!/usr/bin/env bash
# Hunt throughput: recordings per second of `backstep hunt` on the smallest
# example (concurrent_writes, 20 rounds) over --verify-style runs of fixed
# seeds, at -j 1 and -j $(nproc); and the wall time `backstep hunt` takes
# to find the growth-panic failure from seed 0 (search, then minimize).
# Figures in docs/BENCHMARKS.md (history: "Hunting").
#
# Usage: bench/hunt_bench.sh [BUILD_DIR] [RUNS]
#   BUILD_DIR  a configured build tree (default: build); built first unless
#              BENCH_NO_BUILD=1.
#   RUNS       recordings per throughput figure (default 200).
#
# Not a test: nothing here asserts a speed.
set -euo pipefail

build=${1:-build}
runs=${2:-200}
build=$(cd "$build" && pwd)
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  cmake --build "$build" -j"$(nproc)" --target backstep concurrent_writes growth_panic >/dev/null
fi
backstep="$build/cli/backstep"
examples="$build/examples"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_DATA_HOME="$work/xdg"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# --until hang: a failing seed does not stop the search, so every one of the
# RUNS recordings is made (concurrent_writes fails at most seeds).
for j in 1 "$(nproc)"; do
  t0=$(now)
  "$backstep" hunt -j "$j" --runs "$runs" --until hang --no-minimize -o "$work/tp-$j" -- \
    "$examples/concurrent_writes" 20 >/dev/null 2>&1 || true
  t1=$(now)
  s=$(elapsed "$t0" "$t1")
  printf 'throughput, concurrent_writes 20, -j %s: %d recordings in %.1f s = %.1f recordings/s\n' \
    "$j" "$runs" "$s" "$(echo "$runs / $s" | bc -l)"
done

t0=$(now)
"$backstep" hunt -j "$(nproc)" --no-minimize -o "$work/gp" -- "$examples/growth_panic" 20 \
  >"$work/gp.out" 2>/dev/null
t1=$(now)
printf 'growth_panic 20 from seed 0: found seed %s in %.2f s (search only)\n' \
  "$(sed -n 's/^seed: //p' "$work/gp.out")" "$(elapsed "$t0" "$t1")"
t0=$(now)
"$backstep" hunt -j "$(nproc)" -o "$work/gpm" -- "$examples/growth_panic" 20 >"$work/gpm.out" 2>/dev/null
t1=$(now)
printf 'growth_panic 20 from seed 0, with minimize: %.2f s (%s)\n' "$(elapsed "$t0" "$t1")" \
  "$(sed -n 's/^forced switches: //p' "$work/gpm.out")"
