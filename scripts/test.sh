#!/usr/bin/env bash
# test.sh - the whole test suite, from a fresh machine: installs the build and test-bed packages,
# brings up the test bed (a swarm manager with 2 workers, the registry, the MongoDB server),
# runs every test against it, fuzzes the protocol decoder for 30 s, and tears the bed down again.
# Arguments go to `swift test` (and skip the fuzzing). Exit status: that of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
# The OpenAPI document's test validates it with openapi-spec-validator (PyPI).
python3 -c 'import openapi_spec_validator' 2>/dev/null \
  || python3 -m pip install --quiet --break-system-packages openapi-spec-validator >&2

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -E"
bed_env=$($sudo scripts/testbed.sh up 4)
trap '$sudo scripts/testbed.sh down >&2 || true' EXIT
eval "$bed_env"
export DEFPI_REQUIRE_TESTBED=1
# Golden files are compared, never rewritten, by the suite.
unset DEFPI_UPDATE_GOLDEN

swift build --build-tests
# At most 6 tests at once: on 2 cores, every suite at once starves the timing tests (lease
# renewal, heartbeats, idle timeouts) of CPU for seconds; 6 keeps the cores busy without that.
# Every suite has its own time limit; the whole run has this one (DEFPI_TEST_TIMEOUT seconds),
# so a hang fails the run instead of stalling it.
limit=${DEFPI_TEST_TIMEOUT:-1800}
status=0
timeout --kill-after=30s "$limit" swift test --skip-build --experimental-maximum-parallelization-width 6 "$@" || status=$?
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "test.sh: the tests did not finish within $limit s; stopped" >&2
  pkill -9 -f defpiPackageTests.xctest || true
fi
[ "$status" = 0 ] || exit "$status"
# The protocol decoder against libFuzzer, for a bounded time (only for a full run).
[ $# -gt 0 ] || scripts/fuzz.sh 30
