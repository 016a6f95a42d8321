#!/usr/bin/env bash
# Fresh Debian 12 to a running conveyor: installs the packages, builds, and runs the main job on
# the example DAGs with the default config (config/conveyor.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh release --target conveyor
exec build/release/conveyor --config config/conveyor.yaml dags list "$@"
