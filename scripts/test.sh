#!/usr/bin/env bash
# Builds backstep and runs the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
backstep_install_deps "${BACKSTEP_TEST_PACKAGES[@]}"
build=${BACKSTEP_BUILD_DIR:-build}
# The fuzzers (clang), run for 30 s each by the main build's fuzz.* tests.
backstep_build_fuzzers "$build-fuzz"
backstep_build -DBACKSTEP_FUZZ_BUILD_DIR="$(realpath "$build-fuzz")"
# The unit and trace tests again under ASan+UBSan, the trace writer's
# thread under TSan (docs/RELIABILITY.md).
backstep_build_sanitized "$build-asan" address,undefined "${BACKSTEP_ASAN_TESTS[@]}"
backstep_build_sanitized "$build-tsan" thread "${BACKSTEP_TSAN_TESTS[@]}"
# The browser test fails, rather than skips, without chromium.
export BACKSTEP_REQUIRE_BROWSER=1
status=0
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" || status=$?
ctest --test-dir "$build-asan" --output-on-failure -j"$(nproc)" \
  -E "$BACKSTEP_SANITIZED_TEST_EXCLUDE" || status=$?
ctest --test-dir "$build-tsan" --output-on-failure -j"$(nproc)" -R '^trace\.' || status=$?
exit "$status"
