#!/usr/bin/env bash
# Fresh Debian 12 to a running conveyor: installs the packages, builds, and starts
# `conveyor serve` on the example DAGs with the default config (config/conveyor.yaml) and the
# embedded SQLite database. Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh release --target conveyor
exec build/release/conveyor --config config/conveyor.yaml serve "$@"
