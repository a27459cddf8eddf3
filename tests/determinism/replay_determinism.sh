#!/usr/bin/env bash
# Determinism at scale: for every example, N replays of one recording give
# the identical event stream (what replay checked and counted: stops, map
# events, the ending) and the identical register file, at the end and at
# three points inside the recording.
#
#   replay_determinism.sh BACKSTEP EXAMPLES_DIR N [EXAMPLE...]
#
# ctest runs it with a small N (test `determinism`); docs/RELIABILITY.md
# gives the last figures of N=100. Prints one line per example and a total;
# exits non-zero if any replay differs from the first or fails.
set -euo pipefail
backstep=$1 examples_dir=$2 n=$3
shift 3
examples=("$@")
if ((${#examples[@]} == 0)); then
  examples=(iterate_write concurrent_writes read_write growth_panic torn_batch header_corruption
            putall_in_range safe_rwlock safe_cow safe_snapshot)
fi
work=$(mktemp -d /tmp/backstep-determinism-XXXXXX)
trap 'rm -rf "$work"' EXIT
export XDG_DATA_HOME="$work/xdg"
failed=0 compared=0
for example in "${examples[@]}"; do
  trace="$work/$example"
  # Racy examples may fail under this seed or not: either is a recording.
  "$backstep" record --chaos --seed 1 -o "$trace" -- "$examples_dir/$example" 200 \
    >/dev/null 2>&1 || true
  records=$("$backstep" dump --json "$trace" | wc -l)
  probe=(-ex "goto event $((records / 4))" -ex 'info registers'
         -ex "goto event $((records / 2))" -ex 'info registers'
         -ex "goto event $((records * 3 / 4))" -ex 'info registers'
         -ex 'goto end' -ex when -ex 'info registers' -ex 'info threads')
  first="" differs=0
  for ((i = 0; i < n; i++)); do
    # `replay -q` exits 3 for a recording cut short and with the program's
    # status under --exit-status only: any status but a crash is an answer.
    out=$({ "$backstep" replay -q "$trace" 2>&1 || echo "status $?";
            "$backstep" replay --json "$trace" "${probe[@]}" 2>&1 || echo "status $?"; } |
          sha256sum)
    if [[ -z $first ]]; then
      first=$out
    elif [[ $out != "$first" ]]; then
      echo "$example: replay $((i + 1)) differs from the first" >&2
      failed=1 differs=1
    fi
    compared=$((compared + 1))
  done
  echo "$example: $n replays of $records records, identical: $([[ $differs == 0 ]] && echo yes || echo NO)"
done
echo "determinism: $compared replays of ${#examples[@]} recordings compared; $([[ $failed == 0 ]] && echo all identical || echo DIFFERENCES)"
exit $failed
