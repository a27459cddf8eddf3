#!/usr/bin/env bash
# Runs every fuzzer for longer than CI does (30 s each), one after another:
#
#   tests/fuzz/run_long.sh [SECONDS_EACH] [BUILD_DIR]     (defaults: 1800 build)
#
# Needs the clang build of the fuzzers in BUILD_DIR-fuzz and the seeds the
# main build's fuzz.seeds test makes (run `ctest --test-dir BUILD -R fuzz`
# once, or scripts/test.sh). New inputs accumulate in
# BUILD_DIR/tests/fuzz/ctest/work/<fuzzer>/corpus, crashes in .../crashes/.
# A crash found becomes a fix plus its input in tests/fuzz/corpus/<fuzzer>/.
set -euo pipefail
seconds=${1:-1800} build=${2:-build}
here=$(cd "$(dirname "$0")" && pwd)
build=$(realpath "$build")
made="$build/tests/fuzz/ctest/made"
if [[ ! -d $made/seeds ]]; then
  echo "no seeds in $made: run ctest --test-dir $build -R fuzz.seeds first" >&2
  exit 2
fi
export BACKSTEP_FUZZ_TRACE="$made/gdb-trace"
status=0
for fuzzer in trace_records bundle gdb_protocol symbols; do
  "$here/run_fuzzer.sh" "$build-fuzz/tests/fuzz/${fuzzer}_fuzzer" "$seconds" \
    "$build/tests/fuzz/ctest/work/$fuzzer" "$here/corpus/$fuzzer" "$made/seeds/$fuzzer" ||
    status=1
done
exit "$status"
