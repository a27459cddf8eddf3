#!/usr/bin/env bash
# Makes the fuzzers' seeds from fresh recordings (the fuzz.seeds test):
#
#   make_seeds.sh BACKSTEP FUZZ_SEEDS OUT_DIR SYMBOLS_SEED GDB_PROGRAM TRACE_PROGRAM
#
# OUT_DIR/gdb-trace is the recording gdb_protocol_fuzzer replays
# (GDB_PROGRAM, short, fair scheduler); TRACE_PROGRAM is recorded under the
# chaos scheduler for records of every kind (map events, switches).
set -euo pipefail
backstep=$1 seeds_tool=$2 out=$3 symbols_seed=$4 gdb_program=$5 trace_program=$6
rm -rf "$out"
mkdir -p "$out/seeds/symbols"
export XDG_DATA_HOME="$out/xdg"
"$backstep" record -o "$out/gdb-trace" -- "$gdb_program" 20 >/dev/null
# Racy: it may fail or not; either recording is a seed.
"$backstep" record --chaos --seed 3 -o "$out/chaos-trace" -- "$trace_program" 100 \
  >/dev/null 2>&1 || true
"$seeds_tool" "$out/gdb-trace" "$out/seeds" fair
"$seeds_tool" "$out/chaos-trace" "$out/seeds" chaos
cp "$symbols_seed" "$out/seeds/symbols/seed_prog"
echo "seeds: $(find "$out/seeds" -type f | wc -l) files in $out/seeds"
