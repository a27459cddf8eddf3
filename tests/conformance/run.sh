#!/usr/bin/env bash
# Conformance suite: does backstep record any Linux program faithfully?
#
#   tests/conformance/run.sh [-j 1|2] [BUILD_DIR] [NAME...]
#
# For each program (all of BUILD_DIR/tests/conformance/bin by default):
#   1. runs it natively twice (stdout, stderr, exit status): both runs must
#      agree, or the program itself is nondeterministic (a bug of the suite);
#   2. `backstep record -o TMP -- PROG` (60 s timeout: a hang is a failure):
#      stdout and exit status must equal the native run's;
#   3. `backstep replay TMP` three times: stdout equal to the native run's,
#      exit 0, no "diverged" on stderr, "replay complete" on stderr with the
#      native ending ("exited with status N" / "killed by SIGX (N)").
# Prints `PASS name`, `FAIL name: <class>: <first difference>`, or, for the
# programs listed in known_failures.txt, `XFAIL name: ...` / `XPASS name`;
# then per-class counts and `N/M pass`. Exits 1 when any program FAILs
# (an XPASS does not fail the run, it asks for the manifest to be updated).
# BUILD_DIR defaults to ./build of the source tree; BACKSTEP (the binary)
# and CONF_BIN_DIR (the programs) override what is derived from it.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jobs=2
if [[ ${1:-} == -j ]]; then
  jobs=$2
  shift 2
fi
# Two at a time at most: each program runs under ptrace on a shared machine.
[[ $jobs -ge 1 && $jobs -le 2 ]] || jobs=2
build=$here/../../build
if [[ $# -gt 0 && -d $1 ]]; then
  build=$1
  shift
fi
build=$(cd "$build" 2>/dev/null && pwd) || {
  echo "run.sh: no build directory" >&2
  exit 2
}
backstep=$(realpath -- "${BACKSTEP:-$build/cli/backstep}")
bindir=$(realpath -- "${CONF_BIN_DIR:-$build/tests/conformance/bin}")
manifest=$here/known_failures.txt
record_timeout=${CONF_RECORD_TIMEOUT:-60}
native_timeout=20

if [[ ! -x $backstep ]]; then
  echo "run.sh: no backstep binary at $backstep (build first, or pass BUILD_DIR)" >&2
  exit 2
fi
if [[ $# -gt 0 ]]; then
  names=("$@")
else
  names=()
  for f in "$bindir"/*; do [[ -x $f ]] && names+=("$(basename "$f")"); done
fi
if [[ ${#names[@]} -eq 0 ]]; then
  echo "run.sh: no programs in $bindir" >&2
  exit 2
fi

work=$(mktemp -d /tmp/backstep-conformance.XXXXXX)
trap 'rm -rf "$work"' EXIT

# known NAME -> "CLASS reason" from the manifest (lines: NAME CLASS REASON...).
known_reason() {
  [[ -f $manifest ]] || return 1
  awk -v n="$1" '$1 == n { $1 = ""; sub(/^ /, ""); print; found = 1 } END { exit !found }' \
    "$manifest"
}

# The class a program tests, from its source's "conformance-class: N" line
# (the instrumented variants NAME_inst share NAME.c).
program_class() {
  local src=$here/programs/${1%_inst}.c
  sed -n 's/.*conformance-class: \([0-9]\).*/\1/p' "$src" 2>/dev/null | head -1
}

# "line N: expected 'A', got 'B'" for the first difference of two files.
first_difference() {
  local a=$1 b=$2
  local line
  line=$(cmp -- "$a" "$b" 2>/dev/null | sed -n 's/.* line \([0-9]*\).*/\1/p')
  if [[ -z $line ]]; then # one is a prefix of the other
    echo "$(wc -l <"$a") lines expected, $(wc -l <"$b") got ($(wc -c <"$a") vs $(wc -c <"$b") bytes)"
    return
  fi
  local ea eb
  ea=$(sed -n "${line}p" "$a" | cut -c1-70)
  eb=$(sed -n "${line}p" "$b" | cut -c1-70)
  echo "line $line: expected '$ea', got '$eb'"
}

# A shell status for a timeout(1)-wrapped run: 124 (or 137 after -k) is a hang.
is_hang() { [[ $1 -eq 124 || $1 -eq 137 ]]; }

# How replay says the program ended (an extended regex), for a native
# shell status: "exited with status N" or "killed by SIGX (N)".
ending_regex() {
  if [[ $1 -ge 128 ]]; then
    echo "the program killed by SIG[A-Z0-9+-]* \\($(($1 - 128))\\)( |\$)"
  else
    echo "the program exited with status $1( |\$)"
  fi
}

# The first thing backstep said on stderr (an error or warning), for reasons.
backstep_says() {
  grep -m1 -E '^backstep: (error|warning)|^backstep: .*(not supported|unsupported|cannot)' "$1" |
    cut -c1-120
}

# Checks one program; prints its verdict line on stdout and returns 0 when
# it passes. All files go to $work/NAME.
check_one() {
  local name=$1 prog=$bindir/$1 d=$work/$1
  mkdir -p "$d/cwd" "$d/xdg"
  if [[ ! -x $prog ]]; then
    echo "setup: no program $prog"
    return 1
  fi
  local st1 st2
  (cd "$d/cwd" && timeout -k 5 $native_timeout "$prog" >"$d/n1.out" 2>"$d/n1.err" </dev/null) 2>>"$d/shell.err"
  st1=$?
  (cd "$d/cwd" && timeout -k 5 $native_timeout "$prog" >"$d/n2.out" 2>"$d/n2.err" </dev/null) 2>>"$d/shell.err"
  st2=$?
  if [[ $st1 -eq 126 || $st1 -eq 127 ]]; then
    echo "setup: the program does not start ($st1)"
    return 1
  fi
  if is_hang $st1 || is_hang $st2; then
    echo "native: the program hangs natively (suite bug)"
    return 1
  fi
  if [[ $st1 -ne $st2 ]]; then
    echo "native: nondeterministic exit status natively ($st1 then $st2; suite bug)"
    return 1
  fi
  if ! cmp -s "$d/n1.out" "$d/n2.out"; then
    echo "native: nondeterministic stdout natively, $(first_difference "$d/n1.out" "$d/n2.out") (suite bug)"
    return 1
  fi
  if grep -q '^FAIL' "$d/n1.out"; then
    echo "native: self-check fails natively: $(grep -m1 '^FAIL' "$d/n1.out" | cut -c1-80) (suite bug)"
    return 1
  fi

  local rst
  (cd "$d/cwd" && XDG_DATA_HOME=$d/xdg timeout -k 5 "$record_timeout" \
    "$backstep" record -o "$d/trace" -- "$prog" >"$d/r.out" 2>"$d/r.err" </dev/null) 2>>"$d/shell.err"
  rst=$?
  local says
  says=$(backstep_says "$d/r.err")
  if [[ -z $says ]] && grep -q '^FAIL' "$d/r.out"; then # the program saw something wrong
    says="recorded program says: $(grep -m1 '^FAIL' "$d/r.out" | cut -c1-80)"
  fi
  if is_hang $rst; then
    echo "hang: record did not finish in ${record_timeout} s${says:+ ($says)}"
    return 1
  fi
  if [[ $rst -ne $st1 ]]; then
    echo "record-status: exit status $rst, native $st1${says:+ ($says)}"
    return 1
  fi
  if ! cmp -s "$d/n1.out" "$d/r.out"; then
    echo "record-output: stdout $(first_difference "$d/n1.out" "$d/r.out")${says:+ ($says)}"
    return 1
  fi

  local i pst ending
  ending=$(ending_regex "$st1")
  for i in 1 2 3; do
    (cd "$d/cwd" && XDG_DATA_HOME=$d/xdg timeout -k 5 "$record_timeout" \
      "$backstep" replay "$d/trace" >"$d/p$i.out" 2>"$d/p$i.err" </dev/null) 2>>"$d/shell.err"
    pst=$?
    if is_hang $pst; then
      echo "replay-hang: replay $i did not finish in ${record_timeout} s"
      return 1
    fi
    if grep -q diverged "$d/p$i.err"; then
      echo "replay-divergence: replay $i: $(grep -m1 diverged "$d/p$i.err" | cut -c1-120)"
      return 1
    fi
    if [[ $pst -ne 0 ]]; then
      echo "replay-status: replay $i exited $pst: $(grep -m1 '^backstep' "$d/p$i.err" | cut -c1-100)"
      return 1
    fi
    if ! cmp -s "$d/n1.out" "$d/p$i.out"; then
      echo "replay-output: replay $i stdout $(first_difference "$d/n1.out" "$d/p$i.out")${says:+ ($says)}"
      return 1
    fi
    if ! grep -q 'replay complete' "$d/p$i.err"; then
      echo "replay-ending: replay $i did not say 'replay complete'"
      return 1
    fi
    if ! grep 'replay complete' "$d/p$i.err" | grep -qE -- "$ending"; then
      echo "replay-ending: replay $i: '$(grep -m1 'replay complete' "$d/p$i.err" | cut -c1-100)', native ended with status $st1"
      return 1
    fi
  done
  return 0
}

# One program: the verdict line, also kept in $work/NAME.verdict.
run_one() {
  local name=$1 reason known verdict
  if reason=$(check_one "$name"); then
    if known=$(known_reason "$name"); then
      verdict="XPASS $name (listed in known_failures.txt: $known)"
    else
      verdict="PASS $name"
    fi
  else
    if known_reason "$name" >/dev/null; then
      verdict="XFAIL $name: $reason"
    else
      verdict="FAIL $name: $reason"
    fi
  fi
  echo "$verdict" >"$work/$name.verdict"
  echo "$verdict"
}

running=0
for name in "${names[@]}"; do
  if [[ $running -ge $jobs ]]; then
    wait -n
    running=$((running - 1))
  fi
  run_one "$name" &
  running=$((running + 1))
done
wait

pass=0 fail=0 xfail=0 xpass=0 total=0
declare -A class_pass class_total
for name in "${names[@]}"; do
  v=$(cut -d' ' -f1 "$work/$name.verdict" 2>/dev/null || echo FAIL)
  c=$(program_class "$name")
  c=${c:-?}
  total=$((total + 1))
  class_total[$c]=$((${class_total[$c]:-0} + 1))
  case $v in
    PASS) pass=$((pass + 1)) ;;
    XPASS) xpass=$((xpass + 1)) ;;
    XFAIL) xfail=$((xfail + 1)) ;;
    *) fail=$((fail + 1)) ;;
  esac
  if [[ $v == PASS || $v == XPASS ]]; then
    class_pass[$c]=$((${class_pass[$c]:-0} + 1))
  fi
done
if [[ $total -gt 1 ]]; then
  line="by class:"
  for c in $(printf '%s\n' "${!class_total[@]}" | sort); do
    line+=" $c=${class_pass[$c]:-0}/${class_total[$c]}"
  done
  echo "$line (0 = general)"
fi
echo "$((pass + xpass))/$total pass ($xfail xfail, $xpass xpass, $fail fail)"
[[ $fail -eq 0 ]]
