#!/usr/bin/env bash
# Installs the Debian 12 packages backstep needs, only those missing.
# Sourced by demo.sh and test.sh; safe to run again. test.sh also installs
# BACKSTEP_TEST_PACKAGES: the browser the HTML report is tested in, and
# clang with libFuzzer for the fuzzers (tests/fuzz).
set -euo pipefail

BACKSTEP_PACKAGES=(
  build-essential cmake pkg-config git
  libunwind-dev libcapstone-dev libfmt-dev libcli11-dev libdw-dev
  libzstd-dev libxxhash-dev libreadline-dev nlohmann-json3-dev
  googletest libgtest-dev libgmock-dev
  gcc-12-plugin-dev
  gdb
)
BACKSTEP_TEST_PACKAGES=(
  chromium
  clang libclang-rt-14-dev
)

# backstep_install_deps [EXTRA_PACKAGE...]
backstep_install_deps() {
  local missing=()
  local p
  for p in "${BACKSTEP_PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  if ((${#missing[@]})); then
    echo "backstep: installing ${missing[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then
      echo "backstep: missing packages and not root; run as root or install: ${missing[*]}" >&2
      return 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# backstep_build [CMAKE_ARG...]
backstep_build() {
  local build_dir=${BACKSTEP_BUILD_DIR:-build}
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$build_dir" -j"$(nproc)"
}

# backstep_build_fuzzers DIR: the libFuzzer targets (tests/fuzz), with clang
# in a build of their own; only they and the libraries they read with.
backstep_build_fuzzers() {
  CC=clang CXX=clang++ cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBACKSTEP_FUZZ=ON \
    >/dev/null
  cmake --build "$1" --target backstep_fuzzers -j"$(nproc)"
}

# The unit and trace tests that scripts/test.sh also runs under ASan+UBSan,
# and under TSan those with threads of backstep's own (TraceWriter's).
# (Not the gomap tests yet: UBSan reports a null load of tls_events_idle,
# src/runtime/runtime.h:44, in every one; see docs/RELIABILITY.md.)
BACKSTEP_ASAN_TESTS=(trace_tests syscall_tests symbols_tests)
BACKSTEP_TSAN_TESTS=(trace_tests)
# ctest -E: what else those builds register but do not build.
BACKSTEP_SANITIZED_TEST_EXCLUDE='^example_|_NOT_BUILT'

# backstep_build_sanitized DIR SANITIZERS TARGET...: the targets built with
# -DBACKSTEP_SANITIZE=SANITIZERS (address,undefined or thread).
backstep_build_sanitized() {
  local dir=$1 sanitizers=$2
  shift 2
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBACKSTEP_SANITIZE="$sanitizers" \
    -DBACKSTEP_E2E_TESTS=OFF >/dev/null
  cmake --build "$dir" --target "$@" -j"$(nproc)"
}
