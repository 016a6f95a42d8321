#!/usr/bin/python3
"""Runs bench/run_bench.py for two conveyor binaries in alternation, ROUNDS rounds each, and prints
the median (and range) of every figure for both and their ratio: the same machine, the same
minutes, so that a change is measured against the build before it rather than against a day.

Usage: alternate.py OLD_CONVEYOR NEW_CONVEYOR ANCHORS_DIR [--rounds 9]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def figures(conveyor, anchors):
    out = subprocess.run([sys.executable, os.path.join(HERE, "run_bench.py"), conveyor, anchors,
                          "--runs", "1"], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("conveyor") and cells[5]:
            found["ratio to make, " + cells[1]] = float(cells[5])
    noop = re.search(r"persisted: (\d+) tasks/s", out)
    if noop:
        found["noop tasks/s"] = float(noop.group(1))
    latency = re.search(r"latency median ([\d.]+) ms", out)
    if latency:
        found["chain latency ms"] = float(latency.group(1))
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("anchors")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    results = {"old": {}, "new": {}}
    for _ in range(args.rounds):
        for name in ("old", "new"):
            for key, value in figures(getattr(args, name), args.anchors).items():
                results[name].setdefault(key, []).append(value)
    print("| figure | old median (range) | new median (range) | new / old |")
    print("|---|---:|---:|---:|")
    for key in results["old"]:
        old, new = results["old"][key], results["new"].get(key, [])
        if not new:
            continue
        o, n = statistics.median(old), statistics.median(new)
        print("| %s | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %.3f |" % (
            key, o, min(old), max(old), n, min(new), max(new), n / o if o else float("nan")))
    print("%d alternated rounds of bench/run_bench.py --runs 1 each" % args.rounds)


if __name__ == "__main__":
    main()
