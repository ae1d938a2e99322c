#!/usr/bin/env bash
# demo.sh - defpi on a local demo cluster, from a fresh machine: installs what is needed, brings
# up the demo cluster (a swarm manager with 2 workers and the registry; it stays up, stop it with
# `scripts/testbed.sh down`), builds defpi and publishes its sample services (meter, aggregator,
# echo) to the cluster's registry, and runs defpi against the cluster with the embedded SQLite
# store. Arguments are passed to defpi (default: `console`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh

sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -E"
eval "$($sudo scripts/testbed.sh up 2 --only swarm,registry)"
export DEFPI_REGISTRY="$TESTBED_REGISTRY_URL"

swift build -c release
for sample in meter aggregator echo; do
    description="Sources/Services/${sample^}/defpi-service.yaml"
    for version in 1.0.0 1.1.0; do
        .build/release/defpi service publish ".build/release/sample-$sample" --id "$sample" --version "$version" \
            --description "$description" > /dev/null
    done
done
[ $# -gt 0 ] || set -- console
exec .build/release/defpi "$@"
