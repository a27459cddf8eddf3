#!/usr/bin/env bash
# backstep's benchmarks: every figure is a ratio of variants measured side by
# side in this one run (the variants alternate within each repetition; the
# figures are medians over the repetitions). See docs/BENCHMARKS.md.
#
# Usage: bench/run_benchmarks.sh [--quick] [BUILD_DIR]
#   BUILD_DIR  a configured build tree (default: build); the script builds the
#              targets it needs (backstep, backstep_bench) first.
#   --quick    fewer repetitions and smaller workloads (about 2 minutes
#              instead of about 8).
# Environment: BENCH_NO_BUILD=1 skips the build step; TMPDIR chooses where the
# traces go (they are deleted at the end); BENCH_GDB=0 skips figure 6;
# BENCH_SYSCALLBUF=0 skips figure 9 (bench/syscallbuf_bench.sh, alone too).
# `record` binds to the CPU it starts on (its default); the `--cpu-unbound`
# variants leave placement to the kernel.
#
# Not a test: nothing here asserts a speed, and nothing is registered with ctest.
set -euo pipefail

quick=0
build=build
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
build=$(cd "$build" && pwd)
bin="$build/bench"
backstep="$build/cli/backstep"

if ((quick)); then
  reps_map=5 map_rounds=20        # figures 1, 2
  reps_mt=3 mt_threads=4 mt_rounds=15  # figures 3, 5
  reps_sys=3 nsys=100000          # figures 4, 5
  reps_gdb=1 gdb_iters=10000      # figure 6 (6 instructions per iteration)
else
  reps_map=15 map_rounds=40
  reps_mt=7 mt_threads=4 mt_rounds=40
  reps_sys=5 nsys=100000
  reps_gdb=3 gdb_iters=80000
fi
cg_rounds=4  # callgrind run of figure 1 (instruction counts, deterministic)

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  cmake --build "$build" --target backstep backstep_bench backstep_preload -j"$(nproc)" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/backstep-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- helpers ---------------------------------------------------------------

# median / min / max of the numbers on stdin (lower median for even counts).
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
minmax() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%s..%s", lo, hi}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
fmt() { awk -v a="$1" -v s="${2:-1}" -v p="${3:-3}" 'BEGIN {printf "%.*f", p, a * s}'; }

# Wall seconds of a command (stdout to $work/out, stderr to $work/err).
wall() {
  local t0=$EPOCHREALTIME
  if ! "$@" >"$work/out" 2>"$work/err"; then
    echo "failed: $*" >&2
    cat "$work/err" >&2
    exit 1
  fi
  local t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f\n", b - a}'
}
# A program's self-reported "elapsed S" (work only, no process start-up).
elapsed_of() {
  "$@" >"$work/out" 2>"$work/err" || { echo "failed: $*" >&2; cat "$work/err" >&2; exit 1; }
  awk '/^elapsed/ {print $2}' "$work/out"
}

declare -A S  # samples: S[key]="v1 v2 ..."
add() { S[$1]+="$2 "; }
med() { tr ' ' '\n' <<<"${S[$1]}" | grep -v '^$' | median; }
rng() { tr ' ' '\n' <<<"${S[$1]}" | grep -v '^$' | minmax; }

# Fields of `backstep info`: records, stops (sum of the per-kind counts), map events.
trace_counts() {
  "$backstep" info "$1" | awk '
    /^events:/ {rec = $2; for (i = 1; i <= NF; i++) if ($i == "map") me = $(i - 1); in_kinds = 1; next}
    in_kinds && /^  [a-z]/ {stops += $2; next}
    {in_kinds = 0}
    END {printf "%d %d %d\n", rec, stops, me}'
}

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "backstep benchmarks ($( ((quick)) && echo quick || echo full) mode)"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:  $(nproc) CPUs, $cpu_model, $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
echo "compiler: $(c++ --version | head -1)"
echo "source:   $(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$(dirname "$0")/.." diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)')"
echo "build:    $build ($(awk -F= '/^CMAKE_BUILD_TYPE:/ {print $2}' "$build/CMakeCache.txt"))"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo

# ---- 1, 2: map hooks and ticks, single thread --------------------------------

echo "== 1, 2. Map throughput: hooks compiled out / hooks idle / hooks + ticks"
echo "   map_workload $map_rounds (self-timed), $reps_map repetitions, variants alternating"
for ((i = 0; i < reps_map; i++)); do
  for v in nohooks hooks ticks; do add "map_$v" "$(elapsed_of "$bin/map_workload_$v" "$map_rounds")"; done
done
for v in nohooks hooks ticks; do
  printf '   %-26s median %s s  (range %s)\n' "map_workload_$v" "$(med "map_$v")" "$(rng "map_$v")"
done
r_hooks=$(div "$(med map_hooks)" "$(med map_nohooks)")
r_ticks=$(div "$(med map_ticks)" "$(med map_hooks)")
r_all=$(div "$(med map_ticks)" "$(med map_nohooks)")
echo "   [1] hooks idle / hooks compiled out:        ${r_hooks}x   (target <= 1.10x)"
echo "   [2] ticks + hooks / hooks only:              ${r_ticks}x"
echo "       ticks + hooks / nothing (full instr.):   ${r_all}x"
if command -v valgrind >/dev/null; then
  declare -A ir
  for v in nohooks hooks ticks; do
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.$v" "$bin/map_workload_$v" "$cg_rounds" \
      >/dev/null 2>"$work/cg.$v.log"
    ir[$v]=$(awk '/Collected :/ {print $NF}' "$work/cg.$v.log")
  done
  wall "$backstep" record -o "$work/t_cg" -- "$bin/map_workload_hooks" "$cg_rounds" >/dev/null
  read -r _ _ cg_events < <(trace_counts "$work/t_cg")
  echo "   callgrind, map_workload $cg_rounds: instructions nohooks ${ir[nohooks]}, hooks ${ir[hooks]}, ticks ${ir[ticks]}"
  echo "       map events ${cg_events} (counted by backstep record):" \
    "$(awk -v a="${ir[hooks]}" -v b="${ir[nohooks]}" -v e="$cg_events" 'BEGIN {printf "%.1f", (a - b) / e}') instructions per idle event;" \
    "instructions hooks/nohooks $(div "${ir[hooks]}" "${ir[nohooks]}")x, ticks/hooks $(div "${ir[ticks]}" "${ir[hooks]}")x"
else
  echo "   (valgrind not found: no instruction counts)"
fi
echo

# ---- 3: record and replay, multi-threaded map workload -----------------------

echo "== 3. Record / replay vs native: mt_map $mt_threads threads x $mt_rounds rounds, each thread its own GoMap"
echo "   wall time of the whole command, $reps_mt repetitions, variants alternating"
mt_args=("$mt_threads" "$mt_rounds")
want=$("$bin/mt_map_native" "${mt_args[@]}")
for ((i = 0; i < reps_mt; i++)); do
  add mt_native "$(wall "$bin/mt_map_native" "${mt_args[@]}")"
  add mt_native1 "$(wall taskset -c 0 "$bin/mt_map_native" "${mt_args[@]}")"
  add mt_instr "$(wall "$bin/mt_map_instr" "${mt_args[@]}")"
  add mt_instr1 "$(wall taskset -c 0 "$bin/mt_map_instr" "${mt_args[@]}")"
  rm -rf "$work/t_mt"
  add mt_record "$(wall "$backstep" record -o "$work/t_mt" -- "$bin/mt_map_instr" "${mt_args[@]}")"
  got=$(grep -v '^backstep:' "$work/out" || true)
  [[ "$got" == "$want" ]] || { echo "recorded run printed '$got', native '$want'" >&2; exit 1; }
  add mt_replay "$(wall "$backstep" replay -q "$work/t_mt")"
  rm -rf "$work/t_mtb"
  add mt_record_b "$(wall "$backstep" record --cpu-unbound -o "$work/t_mtb" -- "$bin/mt_map_instr" "${mt_args[@]}")"
  got=$(grep -v '^backstep:' "$work/out" || true)
  [[ "$got" == "$want" ]] || { echo "recorded run (--cpu-unbound) printed '$got', native '$want'" >&2; exit 1; }
  rm -rf "$work/t_mtu"
  add mt_record_u "$(wall "$backstep" record -o "$work/t_mtu" -- "$bin/mt_map_native" "${mt_args[@]}")"
done
for v in native native1 instr instr1 record record_b replay record_u; do
  case $v in
    native) d="native (uninstrumented, 2 CPUs)" ;;
    native1) d="native pinned to 1 CPU" ;;
    instr) d="instrumented, native" ;;
    instr1) d="instrumented, pinned to 1 CPU" ;;
    record) d="backstep record (instrumented)" ;;
    record_b) d="record --cpu-unbound" ;;
    replay) d="backstep replay -q" ;;
    record_u) d="backstep record (uninstrumented)" ;;
  esac
  printf '   %-34s median %s s  (range %s)\n' "$d" "$(med "mt_$v")" "$(rng "mt_$v")"
done
n=$(med mt_native)
echo "   [3] record / native:                       $(div "$(med mt_record)" "$n")x   (target <= 2x)"
echo "       replay / native:                       $(div "$(med mt_replay)" "$n")x   (target <= 2x)"
echo "       instrumented native / native:          $(div "$(med mt_instr)" "$n")x"
echo "       record / instrumented native:          $(div "$(med mt_record)" "$(med mt_instr)")x"
echo "       replay / instrumented native:          $(div "$(med mt_replay)" "$(med mt_instr)")x"
echo "       record / native pinned to 1 CPU:       $(div "$(med mt_record)" "$(med mt_native1)")x   (the recorder runs one thread at a time)"
echo "       instrumented 1 CPU / native:           $(div "$(med mt_instr1)" "$n")x   (the floor: instrumentation x serialization)"
echo "       record --cpu-unbound / native:         $(div "$(med mt_record_b)" "$n")x"
echo "       record uninstrumented / native:        $(div "$(med mt_record_u)" "$n")x"
echo

# ---- 4: syscall-heavy workload ----------------------------------------------

echo "== 4. Syscall-heavy: syscall_workload $nsys (getppid), single thread, uninstrumented"
echo "   wall time of the whole command, $reps_sys repetitions, variants alternating"
for ((i = 0; i < reps_sys; i++)); do
  add sys_native "$(wall "$bin/syscall_workload" "$nsys")"
  rm -rf "$work/t_sys"
  add sys_record "$(wall "$backstep" record -o "$work/t_sys" -- "$bin/syscall_workload" "$nsys")"
  add sys_replay "$(wall "$backstep" replay -q "$work/t_sys")"
  rm -rf "$work/t_sysb"
  add sys_record_b "$(wall "$backstep" record --cpu-unbound -o "$work/t_sysb" -- "$bin/syscall_workload" "$nsys")"
  if command -v strace >/dev/null; then
    add sys_strace "$(wall strace -f -o /dev/null "$bin/syscall_workload" "$nsys")"
  fi
done
sys_variants=(native record record_b replay)
command -v strace >/dev/null && sys_variants+=(strace)
for v in "${sys_variants[@]}"; do
  d=$v
  [[ $v == record_b ]] && d="record --cpu-unbound"
  printf '   %-34s median %s s  (range %s)\n' "$d" "$(med "sys_$v")" "$(rng "sys_$v")"
done
us() { awk -v a="$1" -v n="$nsys" 'BEGIN {printf "%.2f", a * 1e6 / n}'; }
echo "   [4] record / native:                       $(div "$(med sys_record)" "$(med sys_native)")x," \
  "$(us "$(med sys_record)") us per syscall (native $(us "$(med sys_native)") us)"
echo "       record --cpu-unbound / native:         $(div "$(med sys_record_b)" "$(med sys_native)")x," \
  "$(us "$(med sys_record_b)") us per syscall"
echo "       replay / native:                       $(div "$(med sys_replay)" "$(med sys_native)")x," \
  "$(us "$(med sys_replay)") us per syscall"
if command -v strace >/dev/null; then
  echo "       strace -f / native (reference):        $(div "$(med sys_strace)" "$(med sys_native)")x," \
    "$(us "$(med sys_strace)") us per syscall (same two ptrace stops per syscall)"
fi
echo

# ---- 5: trace size -----------------------------------------------------------

echo "== 5. Trace size (the last repetition's traces of 3 and 4; du -b; counts from backstep info)"
for t in mt sys; do
  dir="$work/t_$t"
  read -r recs stops mev < <(trace_counts "$dir")
  total=$(du -sb "$dir" | cut -f1)
  files=$(du -sb "$dir/files" 2>/dev/null | cut -f1 || echo 0)
  evbytes=$((total - files))
  secs=$(med "${t}_record")
  [[ $t == mt ]] && name="3 (mt_map)" || name="4 (syscalls)"
  echo "   [5] workload $name: $total bytes total = $evbytes event streams + $files copies of exec'd files;"
  echo "       $recs records, $stops stops, $mev map events;" \
    "$(awk -v b="$evbytes" -v n="$((stops + mev))" 'BEGIN {printf "%.2f", b / n}') bytes of event streams per event (stops + map events);" \
    "$(awk -v b="$total" -v s="$secs" 'BEGIN {printf "%.2f", b / s / 1e6}') MB per second of recording" \
    "($(awk -v b="$evbytes" -v s="$secs" 'BEGIN {printf "%.2f", b / s / 1e6}') MB/s without the file copies)"
done
echo

# ---- 6: gdb record full ------------------------------------------------------

if [[ "${BENCH_GDB:-1}" != 0 ]] && command -v gdb >/dev/null; then
  insns=$((6 * gdb_iters))
  echo "== 6. gdb 'record full' for scale: loop_workload $gdb_iters (about $insns instructions recorded)"
  echo "   $reps_gdb repetitions; the loop's own time (native or under gdb) and whole-command wall times"
  gdb_cmd=(gdb -batch -nx -ex 'set record full insn-number-max unlimited' -ex 'break loop_spin'
           -ex 'break loop_done' -ex run -ex 'record full' -ex continue -ex 'record stop' -ex continue
           --args "$bin/loop_workload" "$gdb_iters")
  for ((i = 0; i < reps_gdb; i++)); do
    add loop_native "$(elapsed_of "$bin/loop_workload" "$gdb_iters")"
    add cmd_native "$(wall "$bin/loop_workload" "$gdb_iters")"
    add cmd_gdb "$(wall "${gdb_cmd[@]}")"
    add loop_gdb "$(awk '/^elapsed/ {print $2}' "$work/out")"
    rm -rf "$work/t_loop"
    add cmd_record "$(wall "$backstep" record -o "$work/t_loop" -- "$bin/loop_workload" "$gdb_iters")"
  done
  printf '   %-34s median %s s, whole command %s s\n' "native" "$(med loop_native)" "$(med cmd_native)"
  printf '   %-34s median %s s, whole command %s s\n' "gdb record full" "$(med loop_gdb)" "$(med cmd_gdb)"
  printf '   %-34s whole command %s s\n' "backstep record" "$(med cmd_record)"
  echo "   [6] gdb record full / native, the loop:    $(awk -v a="$(med loop_gdb)" -v b="$(med loop_native)" 'BEGIN {printf "%.0f", a / b}')x" \
    "($(awk -v a="$(med loop_gdb)" -v n="$insns" 'BEGIN {printf "%.0f", n / a}') instructions/s," \
    "$(awk -v a="$(med loop_gdb)" -v n="$insns" 'BEGIN {printf "%.0f", a * 1e6 / n}') us per instruction)"
  echo "       whole command: gdb record full / native $(awk -v a="$(med cmd_gdb)" -v b="$(med cmd_native)" 'BEGIN {printf "%.0f", a / b}')x," \
    "backstep record / native $(div "$(med cmd_record)" "$(med cmd_native)")x," \
    "gdb record full / backstep record $(awk -v a="$(med cmd_gdb)" -v b="$(med cmd_record)" 'BEGIN {printf "%.0f", a / b}')x"
  echo
fi
# ---- 9: the syscall buffer -----------------------------------------------------

if [[ "${BENCH_SYSCALLBUF:-1}" != 0 ]]; then
  echo "== 9. The syscall buffer (bench/syscallbuf_bench.sh)"
  "$(dirname "$0")/syscallbuf_bench.sh" $( ((quick)) && echo --quick) "$build" | sed 's/^/   /'
  echo
fi
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at end"
