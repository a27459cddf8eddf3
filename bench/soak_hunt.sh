#!/usr/bin/env bash
# Soak: `backstep hunt --verify N` on a safe example (one recording per
# seed, none failing), watching the hunting process for growth:
#
#   bench/soak_hunt.sh [BUILD_DIR] [N] [EXAMPLE] [ROUNDS]   (defaults: build 10000 safe_snapshot 100)
#
# Every 2 s it samples the hunt's open descriptors, threads, child
# processes and resident memory; before and after the run it counts the
# temporary directories left in its private TMPDIR and processes still
# running the example (a private copy, so none are someone else's). Prints
# the first and last samples, the peak, and what was left over. Not a CI
# test: it runs for a long time (N=10000 is about an hour on 2 cores).
set -euo pipefail
build=${1:-build} n=${2:-10000} example=${3:-safe_snapshot} rounds=${4:-100}
backstep=$(realpath "$build/cli/backstep")
work=$(mktemp -d /tmp/backstep-soak-XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$build/examples/$example" "$work/$example"
export XDG_DATA_HOME="$work/xdg"
# The hunt's own temporary directory, so that others' do not count.
mkdir "$work/tmp"
export TMPDIR="$work/tmp"
tmp_dirs() { find "$TMPDIR" -mindepth 1 -maxdepth 1 2>/dev/null | sort; }
tmp_dirs >"$work/tmp-before"
sample() {  # fds threads children rss_kib
  local pid=$1
  local fds threads children rss
  fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  children=$(ps --ppid "$pid" --no-headers 2>/dev/null | wc -l)
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
  echo "${fds:-0} ${threads:-0} ${children:-0} ${rss:-0}"
}
start=$(date +%s)
"$backstep" hunt --verify "$n" -o "$work/hunt" -- "$work/$example" "$rounds" \
  >"$work/hunt.out" 2>&1 &
hunt=$!
: >"$work/samples"
while kill -0 "$hunt" 2>/dev/null; do
  s=$(sample "$hunt")
  [[ $s != "0 0 0 0" ]] && echo "$(($(date +%s) - start)) $s" >>"$work/samples"
  sleep 2
done
status=0
wait "$hunt" || status=$?
elapsed=$(($(date +%s) - start))
tmp_dirs >"$work/tmp-after"
left_dirs=$(comm -13 "$work/tmp-before" "$work/tmp-after" | wc -l)
left_procs=$(pgrep -fc "^$work/$example" || true)
echo "soak: hunt --verify $n of $example $rounds: exit status $status in ${elapsed}s"
tail -n 3 "$work/hunt.out" | sed 's/^/  hunt: /'
echo "  samples (seconds fds threads children rss_kib): $(wc -l <"$work/samples")"
echo "  first: $(sed -n 2p "$work/samples")"  # the first has only started
echo "  last:  $(tail -n 1 "$work/samples")"
echo "  peak:  fds $(awk '{print $2}' "$work/samples" | sort -n | tail -1)," \
  "threads $(awk '{print $3}' "$work/samples" | sort -n | tail -1)," \
  "children $(awk '{print $4}' "$work/samples" | sort -n | tail -1)," \
  "rss $(awk '{print $5}' "$work/samples" | sort -n | tail -1) KiB"
echo "  left over: $left_dirs temporary directories, $left_procs processes"
[[ $status == 0 && $left_dirs == 0 && $left_procs == 0 ]]
