#!/usr/bin/env bash
# The syscall buffer's figures (figure 9 of bench/run_benchmarks.sh, which
# runs this script; see docs/BENCHMARKS.md). Every figure is a ratio of
# variants measured side by side: within each repetition the variants run
# one after another, and the figures are medians over the repetitions.
#
# Usage: bench/syscallbuf_bench.sh [--quick] [BUILD_DIR]
#   9a  100,000 syscall(SYS_getppid): native, record, replay, and the same
#       without the buffer (record -n)
#   9b  python3 -c pass (the real binary, not a pyenv shim): native, record,
#       replay, record -n
#   9c  a copy of a 200 MB file (random bytes) in 64 KiB blocks with
#       read/write (--quick: 50 MB)
#   9d  two threads ping-ponging 100,000 bytes over two pipes (--quick:
#       10,000); native pinned to one CPU (taskset) is the baseline, as
#       record runs one thread at a time on one CPU
#   9e  trace bytes per buffered syscall (9a's trace)
#   9f  bench/mt_map_workload.cc (4 threads x 40 rounds; --quick: 15),
#       instrumented, against the uninstrumented native run, pinned to one
#       CPU and not
# At the end, one table of the ratios of issue 14 (the top of
# docs/BENCHMARKS.md).
# Environment: PYTHON (default /root/.pyenv/versions/3.11.7/bin/python3.11,
# else python3), TMPDIR (traces and files, deleted at the end).
# Not a test: nothing here asserts a speed.
set -euo pipefail

quick=0
build=build
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
build=$(cd "$build" && pwd)
bin="$build/bench"
backstep="$build/cli/backstep"
python=${PYTHON:-/root/.pyenv/versions/3.11.7/bin/python3.11}
[[ -x "$python" ]] || python=$(command -v python3)

if ((quick)); then
  reps=3 nsys=100000 copy_mb=50 npong=10000 mt_rounds=15
else
  reps=5 nsys=100000 copy_mb=200 npong=100000 mt_rounds=40
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/backstep-sbbench.XXXXXX")
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
minmax() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%s..%s", lo, hi}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
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
declare -A S
add() { S[$1]+="$2 "; }
med() { tr ' ' '\n' <<<"${S[$1]}" | grep -v '^$' | median; }
rng() { tr ' ' '\n' <<<"${S[$1]}" | grep -v '^$' | minmax; }
show() { printf '   %-30s median %s s  (range %s)\n' "$2" "$(med "$1")" "$(rng "$1")"; }
# A recorded run must print what the native run printed (CHECK=0: not for
# getppid, which is 0 inside the recording's PID namespace).
same_output() {
  [[ "${CHECK:-1}" == 1 ]] || return 0
  local got
  got=$(grep -v '^backstep:' "$work/out" || true)
  [[ "$got" == "$1" ]] || { echo "recorded/replayed run printed '$got', native '$1'" >&2; exit 1; }
}

echo "syscall buffer benchmarks ($( ((quick)) && echo quick || echo full) mode), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "source:   $(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$(dirname "$0")/.." diff --quiet HEAD 2>/dev/null || echo ' (+ local changes)')"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo

# Variants of one workload: native (or a given baseline), record, replay,
# record -n, replay of that. $1 key, then the command.
variants() {
  local key=$1
  shift
  local want
  want=$("$@" 2>/dev/null)
  for ((i = 0; i < reps; i++)); do
    add "${key}_native" "$(wall "$@")"
    rm -rf "$work/t_$key" "$work/n_$key"
    add "${key}_record" "$(wall "$backstep" record -o "$work/t_$key" -- "$@")"
    same_output "$want"
    add "${key}_replay" "$(wall "$backstep" replay "$work/t_$key")"
    same_output "$want"
    add "${key}_record_n" "$(wall "$backstep" record -n -o "$work/n_$key" -- "$@")"
    same_output "$want"
    add "${key}_replay_n" "$(wall "$backstep" replay "$work/n_$key")"
  done
  show "${key}_native" "native"
  show "${key}_record" "record"
  show "${key}_replay" "replay"
  show "${key}_record_n" "record -n (no buffer)"
  show "${key}_replay_n" "replay of record -n"
  local n
  n=$(med "${key}_native")
  echo "   record / native $(div "$(med "${key}_record")" "$n")x, replay / native $(div "$(med "${key}_replay")" "$n")x;" \
    "without the buffer: record $(div "$(med "${key}_record_n")" "$n")x, replay $(div "$(med "${key}_replay_n")" "$n")x"
}

echo "== 9a. $nsys syscall(SYS_getppid), single thread ($reps repetitions)"
CHECK=0 variants sys "$bin/syscall_workload" "$nsys"
echo

echo "== 9b. $python -c pass ($reps repetitions)"
variants py "$python" -c pass
echo

echo "== 9c. copy of a $copy_mb MB file (random bytes) in 64 KiB blocks ($reps repetitions)"
head -c "$((copy_mb << 20))" /dev/urandom >"$work/src"
cat "$work/src" >/dev/null  # in the page cache for every variant
variants copy "$bin/copy_workload" "$work/src" "$work/dst" 65536
echo

echo "== 9d. ping-pong of $npong bytes over two pipes, two threads ($reps repetitions)"
for ((i = 0; i < reps; i++)); do
  add pong_pinned "$(wall taskset -c 0 "$bin/pingpong_workload" "$npong")"
done
show pong_pinned "native pinned to one CPU"
variants pong "$bin/pingpong_workload" "$npong"
p=$(med pong_pinned)
echo "   record / native pinned $(div "$(med pong_record)" "$p")x, replay / native pinned $(div "$(med pong_replay)" "$p")x;" \
  "without the buffer: record $(div "$(med pong_record_n)" "$p")x"
echo

echo "== 9f. mt_map_workload, 4 threads x $mt_rounds rounds ($reps repetitions)"
for ((i = 0; i < reps; i++)); do
  add mt_pinned "$(wall taskset -c 0 "$bin/mt_map_native" 4 "$mt_rounds")"
done
show mt_pinned "native pinned to one CPU"
variants mt "$bin/mt_map_instr" 4 "$mt_rounds"
for ((i = 0; i < reps; i++)); do
  add mt_plain "$(wall "$bin/mt_map_native" 4 "$mt_rounds")"
done
show mt_plain "native, uninstrumented, 2 CPUs"
echo

echo "== 9e. Trace bytes per buffered syscall (9a's last traces)"
for t in t_sys n_sys; do
  ev=$(stat -c %s "$work/$t/events")
  echo "   $t: events stream $ev bytes; $("$backstep" info "$work/$t" | grep -E '^(events|buffered):' | tr '\n' ' ')"
done
buffered=$("$backstep" info "$work/t_sys" | awk '/^buffered:/ {print $2}')
ev=$(stat -c %s "$work/t_sys/events")
ev_n=$(stat -c %s "$work/n_sys/events")
echo "   [9e] $(awk -v e="$ev" -v n="$buffered" 'BEGIN {printf "%.2f", e / n}') bytes of events stream per buffered getppid (compressed, whole stream);" \
  "without the buffer $(awk -v e="$ev_n" -v n="$nsys" 'BEGIN {printf "%.2f", e / n}') bytes per traced one"
echo

# The ratios of issue 14, side by side (medians of this run).
r() { div "$(med "$1")" "$(med "$2")"; }
echo "== Summary (ratios of medians; -n: record --no-syscall-buffer)"
printf '| %-58s | %-9s | %-9s |\n' "workload" "buffer" "-n"
printf '| %-58s | %-9s | %-9s |\n' "---" "---" "---"
row() { printf '| %-58s | %-9s | %-9s |\n' "$1" "$2" "$3"; }
row "$nsys getppid, record / native" "$(r sys_record sys_native)x" "$(r sys_record_n sys_native)x"
row "$nsys getppid, replay / native" "$(r sys_replay sys_native)x" "$(r sys_replay_n sys_native)x"
row "python3 -c pass, record / native" "$(r py_record py_native)x" "$(r py_record_n py_native)x"
row "python3 -c pass, replay / native" "$(r py_replay py_native)x" "$(r py_replay_n py_native)x"
row "$copy_mb MB copy in 64 KiB blocks, record / native" "$(r copy_record copy_native)x" "$(r copy_record_n copy_native)x"
row "$copy_mb MB copy in 64 KiB blocks, replay / native" "$(r copy_replay copy_native)x" "$(r copy_replay_n copy_native)x"
row "pipe ping-pong $npong bytes, record / native pinned" "$(r pong_record pong_pinned)x" "$(r pong_record_n pong_pinned)x"
row "pipe ping-pong $npong bytes, record / native (2 CPUs)" "$(r pong_record pong_native)x" "$(r pong_record_n pong_native)x"
row "pipe ping-pong $npong bytes, replay / native pinned" "$(r pong_replay pong_pinned)x" "$(r pong_replay_n pong_pinned)x"
row "mt_map_workload, record / native pinned" "$(r mt_record mt_pinned)x" "$(r mt_record_n mt_pinned)x"
row "mt_map_workload, replay / native pinned" "$(r mt_replay mt_pinned)x" "$(r mt_replay_n mt_pinned)x"
row "mt_map_workload, record / native (2 CPUs)" "$(r mt_record mt_plain)x" "$(r mt_record_n mt_plain)x"
row "mt_map_workload, replay / native (2 CPUs)" "$(r mt_replay mt_plain)x" "$(r mt_replay_n mt_plain)x"
row "trace bytes per buffered getppid (zstd, whole stream)" "$(awk -v e="$ev" -v n="$buffered" 'BEGIN {printf "%.2f", e / n}')" "$(awk -v e="$ev_n" -v n="$nsys" 'BEGIN {printf "%.2f", e / n}') (traced)"
echo
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) at end"
