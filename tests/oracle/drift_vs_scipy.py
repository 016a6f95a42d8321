#!/usr/bin/python3
"""drift_check's statistics against scipy (Debian's python3-scipy), with Evidently's rules written
here in Python from its documented behaviour: every test on seeded random and adversarial
samples (ties, unequal sizes, constant columns, one-value samples, huge and tiny magnitudes).
Relative error ≤ 1e-9; p-values ≤ 1e-6 where scipy is approximate (asymptotic KS).

Usage: drift_vs_scipy.py DRIFT_ORACLE_DRIVER
"""
import json
import math
import subprocess
import sys

import numpy as np
from scipy import stats
from scipy.spatial import distance

DRIVER = sys.argv[1]


def clean(values):
    x = np.array(values, dtype=np.float64)
    return np.sort(x[np.isfinite(x)])


def value_counts(a, b):
    keys = sorted(set(a.tolist()) | set(b.tolist()))
    ca = {k: 0 for k in keys}
    cb = {k: 0 for k in keys}
    for v in a.tolist():
        ca[v] += 1
    for v in b.tolist():
        cb[v] += 1
    return keys, np.array([ca[k] for k in keys], float), np.array([cb[k] for k in keys], float)


def binned(a, b, numeric_bins, fill_zeroes):
    if numeric_bins:
        bins = np.histogram_bin_edges(np.concatenate([a, b]), bins="sturges")
        pa = np.histogram(a, bins)[0] / len(a)
        pb = np.histogram(b, bins)[0] / len(b)
    else:
        _, ca, cb = value_counts(a, b)
        pa, pb = ca / len(a), cb / len(b)
    if fill_zeroes:
        for p in (pa, pb):
            smallest = min(p[p != 0])
            np.place(p, p == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return pa, pb


def reference(test, a, b, kind):
    if test == "ks":
        return stats.ks_2samp(a, b).pvalue
    if test == "chisquare":
        keys, ca, cb = value_counts(a, b)
        k_norm = len(b) / len(a)
        return stats.chisquare(cb, ca * k_norm)[1]
    if test == "z":
        if len(set(a.tolist())) == 1 and len(set(b.tolist())) == 1 and a[0] == b[0]:
            return 1.0
        key = min(set(a.tolist()) | set(b.tolist()))
        n1, n2 = len(a), len(b)
        p1, p2 = float(np.sum(a == key)) / n1, float(np.sum(b == key)) / n2
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
        return 2 * (1 - stats.norm.cdf(np.abs(z)))
    if test == "wasserstein":
        return stats.wasserstein_distance(a, b) / max(np.std(a), 0.001)
    if test == "jensenshannon":
        pa, pb = binned(a, b, kind == "num", False)
        return distance.jensenshannon(pa, pb)
    if test == "psi":
        distinct = len(set(a.tolist()) | set(b.tolist()))
        pa, pb = binned(a, b, kind == "num" and distinct > 20, True)
        return float(np.sum((pa - pb) * np.log(pa / pb)))
    raise ValueError(test)


def default_test(a, b, kind):
    distinct = len(set(a.tolist()) | set(b.tolist()))
    if len(a) <= 1000:
        if kind == "num" and distinct > 5:
            return "ks"
        return "chisquare" if distinct > 2 else "z"
    return "wasserstein" if kind == "num" and distinct > 5 else "jensenshannon"


def cases():
    rng = np.random.default_rng(20261125)
    sizes = [(5, 7), (50, 50), (100, 80), (300, 1000), (1000, 999), (2000, 3000),
             (10000, 10000), (4000, 10000), (12000, 800), (30000, 25000), (60000, 45000)]
    for n1, n2 in sizes:
        for shift in (0.0, 0.05, 0.3):
            a = rng.normal(0, 1, n1)
            b = rng.normal(shift, 1.1, n2)
            yield "normal %dx%d shift %g" % (n1, n2, shift), a, b, "num"
            # Ties: values on a coarse grid.
            yield "ties %dx%d shift %g" % (n1, n2, shift), np.round(a, 1), np.round(b, 1), "num"
        # Categories: 2, 3 and 12 values.
        for k in (2, 3, 12):
            pa = rng.dirichlet(np.ones(k))
            a = rng.choice(k, n1, p=pa).astype(float)
            b = rng.choice(k, n2, p=rng.dirichlet(np.ones(k)) if n2 % 2 else pa).astype(float)
            yield "categories %d %dx%d" % (k, n1, n2), a, b, "cat"
    # Adversarial samples.
    yield "same constant", np.full(100, 5.0), np.full(40, 5.0), "num"
    yield "different constants", np.full(100, 5.0), np.full(40, 6.0), "num"
    yield "one value each", np.array([1.0]), np.array([2.0]), "num"
    yield "one value vs many", np.array([1.0]), rng.normal(0, 1, 50), "num"
    yield "huge magnitudes", rng.normal(0, 1e250, 300), rng.normal(1e249, 1e250, 200), "num"
    yield "tiny magnitudes", rng.normal(0, 1e-250, 300), rng.normal(0, 2e-250, 200), "num"
    yield "identical", np.arange(200.0), np.arange(200.0), "num"
    yield "disjoint", np.arange(100.0), np.arange(100.0) + 1000, "num"
    yield "NaN and inf dropped", np.array([1, 2, np.nan, 3, np.inf, 4, 5, 6, 7]), \
        np.array([2, 3, -np.inf, 4, 5, 9, 10]), "num"
    yield "a new category", np.array([0.0] * 30 + [1.0] * 20), \
        np.array([0.0] * 10 + [1.0] * 10 + [2.0] * 5), "cat"


def close(ours, theirs, rel, absolute=0.0):
    if isinstance(theirs, float) and math.isnan(theirs):
        return ours is None or (isinstance(ours, float) and math.isnan(ours))
    return abs(ours - theirs) <= rel * abs(theirs) + absolute


def main():
    requests, expected = [], []
    for name, a, b, kind in cases():
        ca, cb = clean(a), clean(b)
        tests = ["ks", "wasserstein", "jensenshannon", "psi"] if kind == "num" else []
        distinct = len(set(ca.tolist()) | set(cb.tolist()))
        tests += ["chisquare"] if distinct >= 2 else []
        tests += ["z"] if distinct <= 2 else []
        for test in tests:
            requests.append({"test": test, "kind": kind, "a": [float(x) if np.isfinite(x) else
                                                                None for x in a],
                             "b": [float(x) if np.isfinite(x) else None for x in b]})
            expected.append((name, test, kind, ca, cb))
    out = subprocess.run([DRIVER], input="\n".join(json.dumps(r) for r in requests) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(requests), (len(out), len(requests))
    failures, checked = [], 0
    for line, (name, test, kind, a, b) in zip(out, expected):
        got = json.loads(line)
        theirs = float(reference(test, a, b, kind))
        asymptotic_ks = test == "ks" and max(len(a), len(b)) > 10000
        rel = 1e-6 if asymptotic_ks else 1e-9
        absolute = 1e-14 if test in ("z", "chisquare", "ks") else 0.0
        if not close(got.get("value"), theirs, rel, absolute):
            failures.append("%s %s: conveyor %r, scipy %r" % (name, test, got.get("value"),
                                                               theirs))
        if got["default_test"] != default_test(a, b, kind):
            failures.append("%s: default test %s, expected %s" % (name, got["default_test"],
                                                                  default_test(a, b, kind)))
        checked += 1
    print("drift oracle: %d comparisons, %d failures" % (checked, len(failures)))
    for failure in failures:
        print("  " + failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
