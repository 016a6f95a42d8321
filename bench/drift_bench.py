#!/usr/bin/python3
"""drift_check's computation on N baseline × N primary rows × 40 features (30 continuous, some
shifted; 10 with 4 values), against the same computation with numpy/scipy in the same run
(Evidently's rules: normed Wasserstein for the continuous features, Jensen-Shannon on Sturges
bins for the rest, PSI on all), in memory on both sides. Checks that the values agree and prints
both times and the ratio.

Usage: drift_bench.py BENCH_DRIFT [--rows N]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
from scipy import stats
from scipy.spatial import distance


def shares(a, b, numeric_bins):
    if numeric_bins:
        bins = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
        return np.histogram(a, bins)[0] / len(a), np.histogram(b, bins)[0] / len(b)
    keys = np.union1d(np.unique(a), np.unique(b))
    return (np.array([np.sum(a == k) for k in keys]) / len(a),
            np.array([np.sum(b == k) for k in keys]) / len(b))


def fill(p):
    smallest = min(p[p != 0])
    np.place(p, p == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return p


def scipy_feature(a, b):
    distinct = len(np.union1d(np.unique(a), np.unique(b)))
    if distinct > 5:
        test, value = "wasserstein", stats.wasserstein_distance(a, b) / max(np.std(a), 0.001)
    else:
        pa, pb = shares(a, b, True)
        test, value = "jensenshannon", distance.jensenshannon(pa, pb)
    pa, pb = shares(a, b, distinct > 20)
    pa, pb = fill(pa.astype(float)), fill(pb.astype(float))
    return test, value, float(np.sum((pa - pb) * np.log(pa / pb)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bench_drift")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    n, features = args.rows, 40
    baseline = np.empty((features, n))
    primary = np.empty((features, n))
    for f in range(30):
        baseline[f] = rng.normal(0, 1 + f / 30, n)
        primary[f] = rng.normal(0.1 * (f % 3), 1 + f / 30, n)
    for f in range(30, 40):
        baseline[f] = rng.integers(0, 4, n)
        primary[f] = rng.choice(4, n, p=[0.3, 0.3, 0.2, 0.2] if f % 2 else [0.25] * 4)
    work = tempfile.mkdtemp(prefix="conveyor_drift_bench_")
    try:
        baseline.tofile(os.path.join(work, "baseline.bin"))
        primary.tofile(os.path.join(work, "primary.bin"))
        result = json.loads(subprocess.run(
            [args.bench_drift, os.path.join(work, "baseline.bin"),
             os.path.join(work, "primary.bin"), str(features), str(n), str(n)],
            capture_output=True, text=True, check=True).stdout)
    finally:
        shutil.rmtree(work)
    start = time.perf_counter()
    expected = [scipy_feature(baseline[f], primary[f]) for f in range(features)]
    scipy_seconds = time.perf_counter() - start
    worst = 0.0
    for ours, (test, value, psi) in zip(result["features"], expected):
        assert ours["test"] == test, (ours, test)
        for mine, theirs in ((ours["value"], value), (ours["psi"], psi)):
            worst = max(worst, abs(mine - theirs) / max(abs(theirs), 1e-300))
    assert worst <= 1e-9, "drift_bench: conveyor and scipy disagree by %g" % worst
    print("drift_check computation, %d x %d rows x %d features (default test + PSI each), "
          "%d threads: %.2f s; numpy/scipy, same computation: %.2f s; %.1fx faster "
          "(largest relative difference %.1e)" %
          (n, n, features, result["threads"], result["seconds"], scipy_seconds,
           scipy_seconds / result["seconds"], worst))


if __name__ == "__main__":
    main()
