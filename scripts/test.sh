#!/usr/bin/env bash
# Fresh Debian 12 to the whole test suite: installs the packages, then
#   1. the Release build and every test (GoogleTest through CTest, croniter oracle, CLI end to end),
#   2. the unit tests and the CLI tests again under ASan + UBSan,
#   3. the scheduler tests under ThreadSanitizer,
#   4. each libFuzzer target for a bounded time (FUZZ_SECONDS, default 20),
#   5. the benchmarks (print their figures).
# A single-node Slurm cluster (scripts/slurm_cluster.sh) runs beside them for the Slurm tests.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
JOBS="$(nproc)"

scripts/install_deps.sh
started=$(date +%s)
step() { echo; echo "== $* ($(( $(date +%s) - started ))s)"; }

step "clang-format"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

step "release build"
scripts/build.sh release

step "Slurm: a single-node cluster for the Slurm executor's tests"
scripts/slurm_cluster.sh start build/slurm
trap 'scripts/slurm_cluster.sh stop build/slurm' EXIT
export SLURM_CONF="$PWD/build/slurm/slurm.conf"
step "release tests"
ctest --test-dir build/release --output-on-failure -j "$JOBS"

step "ASan+UBSan build (clang, with the fuzz targets)"
scripts/build.sh asan --target conveyor_tests conveyor fuzz_dag_loader fuzz_cron fuzz_template fuzz_http
step "ASan+UBSan tests"
LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" \
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
DRIFT_DRAWS=10 \
  ctest --test-dir build/asan --output-on-failure -j "$JOBS" -E '^(oracle|crash)\.'

step "TSan build"
scripts/build.sh tsan --target conveyor_scheduler_tests
step "TSan scheduler tests"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build/tsan/tests/conveyor_scheduler_tests \
  --gtest_brief=1

for target in dag_loader cron template http; do
  step "fuzz_$target for ${FUZZ_SECONDS}s"
  corpus="$(mktemp -d)"
  cp tests/fuzz/corpus/$target/* "$corpus/"
  build/asan/tests/fuzz_$target -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$corpus" 2>&1 | tail -n 3
  rm -rf "$corpus"
done

step "web UI in headless Chromium"
mkdir -p build/ui-node
cp tests/ui/package.json tests/ui/ui_test.mjs build/ui-node/
(cd build/ui-node && npm install --no-audit --no-fund --loglevel=error)
node build/ui-node/ui_test.mjs "$PWD/build/release/conveyor" "$PWD/build/release/ui-screenshots" "$PWD"

step "benchmarks"
build/release/bench/bench_dag_load 1000 20
# The reference workloads, with make and ninja measured in the same run (skipped without shared/).
/usr/bin/python3 bench/run_bench.py build/release/conveyor ../shared/anchors --runs 1
# ingest: CSV into the data database (200,000 rows x 40 columns here; the README gives 1M).
/usr/bin/python3 bench/ingest_bench.py build/release/conveyor --rows 200000
# ingest, train and batch_infer on 1,000,000 rows x 40 features, Python xgboost beside it.
/usr/bin/python3 bench/ml_bench.py build/release/conveyor --rows 1000000
# drift_check's statistics on 1,000,000 x 1,000,000 rows x 40 features, scipy beside it.
/usr/bin/python3 bench/drift_bench.py build/release/bench/bench_drift --rows 1000000
# The REST API under load while a 1,000-task DAG runs.
/usr/bin/python3 bench/api_load_bench.py build/release/conveyor --seconds 5
# Online predictions under wrk, Flask + gunicorn and FastAPI + uvicorn beside it.
/usr/bin/python3 bench/serving_bench.py build/release/conveyor --quick
# Cached tasks: a lookup in a cache of 100,000 tries, and 1,000 tasks run, reused, run again.
build/release/bench/bench_cache_lookup 100000 10000
/usr/bin/python3 bench/cache_bench.py build/release/conveyor --tasks 1000
# Per-task overhead on Slurm against bare sbatch and a squeue wait loop, on the same jobs.
/usr/bin/python3 bench/slurm_bench.py build/release/conveyor --tasks 40
# `serve` as a cron scheduler: 200 minutely DAGs (waits for two minute boundaries).
/usr/bin/python3 bench/schedule_bench.py build/release/conveyor --idle-seconds 10

step "done"
