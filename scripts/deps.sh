#!/usr/bin/env bash
# Installs the Debian 12 packages backstep needs, only those missing.
# Sourced by demo.sh and test.sh; safe to run again. test.sh also installs
# BACKSTEP_TEST_PACKAGES: the browser the HTML report is tested in.
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

backstep_build() {
  local build_dir=${BACKSTEP_BUILD_DIR:-build}
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" -j"$(nproc)"
}
