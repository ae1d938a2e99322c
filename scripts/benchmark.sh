#!/usr/bin/env bash
# benchmark.sh - runs the performance benchmarks (Benchmarks/) in release mode: the stores (SQLite,
# and MongoDB on the test bed's server) and the cluster connectors (the test bed's registry and
# swarm), the REST API and the console (rendering; the release binary in tmux on the test bed). It brings the
# test bed up and leaves it up; `scripts/testbed.sh down` stops it.
# Arguments go to `swift package benchmark` (e.g. `--filter SQLite`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -E"
eval "$($sudo scripts/testbed.sh up 2)"
# The console benchmarks run the release binary in tmux; the lifecycle benchmarks deploy the
# sample meter through it and its gateway.
for product in defpi defpi-gateway sample-meter; do swift build -c release --product "$product"; done
export DEFPI_BINARY="$PWD/.build/release/defpi"
export DEFPI_SAMPLE_METER="$PWD/.build/release/sample-meter"
export DEFPI_SAMPLE_METER_DESCRIPTION="$PWD/Sources/Services/Meter/defpi-service.yaml"
cd Benchmarks
exec swift package --disable-sandbox benchmark "$@"
