#!/usr/bin/env bash
# The demo investigation: installs what is missing, builds, then records the
# growth-panic example until it fails, replays the failure deterministically,
# and stops the replay at the fatal signal.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
backstep_install_deps
backstep_build >/dev/null

build=${BACKSTEP_BUILD_DIR:-build}
backstep="$build/cli/backstep"
example="$build/examples/growth_panic"
traces=$(mktemp -d /tmp/backstep-demo.XXXXXX)
trap 'rm -rf "$traces"' EXIT

# Bold headings on a terminal, unless NO_COLOR (https://no-color.org) is set.
if [[ -t 1 && -z ${NO_COLOR:-} && ${TERM:-} != dumb ]]; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  step() { printf '\n== %s\n' "$*"; }
fi

step "1. The race, natively: PutAll grows the map while another thread ranges over it"
"$example" || echo "(exit status $?)"

step "2. Record it under backstep (chaos scheduler), seed by seed, until it fails"
seed=1
while :; do
  if ! "$backstep" record -o "$traces/seed-$seed" --chaos --seed "$seed" -- "$example" 200 \
      >/dev/null 2>"$traces/log"; then
    break
  fi
  rm -rf "$traces/seed-$seed"
  seed=$((seed + 1))
  if ((seed > 200)); then echo "no failing seed in 200 tries"; exit 1; fi
done
tail -n 1 "$traces/log"
"$backstep" info "$traces/seed-$seed"

step "3. Replay the recording: same schedule, same syscall results, same crash"
"$backstep" replay "$traces/seed-$seed" 2>&1 | grep -v '^/' || true

step "4. Time travel: go to the panic, the exact instruction that saw hashWriting"
"$backstep" replay "$traces/seed-$seed" \
  -ex 'goto panic' -ex 'backtrace' -ex 'list' -ex 'map' \
  -ex 'reverse-stepi' -ex 'stepi' -ex 'info threads'

step "5. Who set the flag, and when: back to the writer's last PutAll before the panic"
"$backstep" replay "$traces/seed-$seed" \
  -ex 'break PutAll' -ex 'goto panic' -ex 'reverse-continue' -ex 'backtrace'

step "6. The map-flag transitions just before the crash"
"$backstep" replay "$traces/seed-$seed" -ex 'goto end' -ex 'events 8 map'
