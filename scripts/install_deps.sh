#!/usr/bin/env bash
# Installs the Debian 12 packages conveyor needs to build, test and run. Idempotent.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev clang-format         # fuzzers, sanitizers, formatting
  libyaml-cpp-dev libboost-dev libboost-graph-dev libsqlite3-dev sqlite3
  libcrossguid-dev uuid-dev libspdlog-dev libcpp-httplib-dev nlohmann-json3-dev
  libcli11-dev libhowardhinnant-date-dev tzdata libxgboost-dev
  libjemalloc-dev                               # the binary's allocator
  libssl-dev                                    # SHA-256 of cache keys and fingerprints
  libgtest-dev libgmock-dev libbenchmark-dev
  graphviz libgraphviz-dev
  python3 python3-croniter                      # test oracles run by /usr/bin/python3
  python3-xgboost python3-sklearn python3-scipy python3-numpy
  make                                          # benchmark peers
  python3-flask gunicorn python3-fastapi uvicorn python3-uvloop python3-httptools  # serving peers
  prometheus wrk                                # scrapes /metrics in a test; wrk loads the API
  chromium nodejs                               # the web UI's browser test (playwright-core)
  slurm-wlm munge                               # the Slurm executor's tests on a real cluster
)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ] && command -v npm >/dev/null; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
# npm comes with some nodejs builds and separately with Debian's.
command -v npm >/dev/null || $SUDO apt-get install -y --no-install-recommends npm
