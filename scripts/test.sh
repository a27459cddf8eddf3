#!/usr/bin/env bash
# Builds backstep and runs the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
backstep_install_deps "${BACKSTEP_TEST_PACKAGES[@]}"
backstep_build
# The browser test fails, rather than skips, without chromium.
export BACKSTEP_REQUIRE_BROWSER=1
ctest --test-dir "${BACKSTEP_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)"
