#!/usr/bin/env bash
# benchmark.sh - runs the performance benchmarks (Benchmarks/) in release mode: SQLite, and MongoDB
# on the test bed's server, which it brings up (and leaves up; `scripts/testbed.sh down` stops it).
# Arguments go to `swift package benchmark` (e.g. `--filter SQLite`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -E"
eval "$($sudo scripts/testbed.sh up --only mongo)"
cd Benchmarks
exec swift package --disable-sandbox benchmark "$@"
