#!/usr/bin/env bash
# stress.sh: runs the tests of the example module examples/brpc-client
# (`go test -count=1 ./...`, without -short, so the tests that build
# binaries and plugins run too) STRESS_RUNS times in a row (default 20)
# while two busy-looping shells keep two CPUs loaded, to catch tests that
# depend on timing. It stops at the first failing run. On a 2-core machine
# one run takes about a minute once the build cache is warm (the first
# builds the test binaries, programs and plugin: a few minutes more), so the
# default 20 runs take about 20 minutes.
#
#   scripts/stress.sh                  # from any directory
#   STRESS_RUNS=5 scripts/stress.sh
#
# The only test that needs something from outside the repository,
# TestRealBRPCServer (a real bRPC server named by PLUGINK_BRPC_ECHO), skips
# itself when that variable is unset, so every test is run.
set -euo pipefail

runs=${STRESS_RUNS:-20}
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "stress: STRESS_RUNS must be a positive integer, not '$runs'" >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.."

burners=()
stop_burners() {
  for pid in "${burners[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${burners[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_burners EXIT
for _ in 1 2; do
  sh -c 'while :; do :; done' &
  burners+=("$!")
done

cd examples/brpc-client
start=$SECONDS
for ((i = 1; i <= runs; i++)); do
  echo "stress: run $i of $runs ($((SECONDS - start))s so far)"
  if ! go test -count=1 ./...; then
    echo "stress: run $i of $runs failed"
    exit 1
  fi
done
echo "stress: $runs of $runs runs passed ($((SECONDS - start))s)"
