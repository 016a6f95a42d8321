#!/usr/bin/python3
"""Times the `ingest` operator (`conveyor tasks test`) on a generated CSV of N rows x 40 columns
(10 integer, 25 real, 1 timestamp, 4 text), type inference included, and prints rows/s.

Usage: ingest_bench.py CONVEYOR [--rows N]
"""
import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("conveyor")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="conveyor_ingest_bench_")
    try:
        os.makedirs(os.path.join(work, "dags"))
        rng = random.Random(7)
        header = (["i%d" % i for i in range(10)] + ["r%d" % i for i in range(25)] + ["day"] +
                  ["t%d" % i for i in range(4)])
        # A pool of distinct lines, repeated with a running id: fast to write, realistic to parse.
        pool = []
        for _ in range(1000):
            ints = [str(rng.randint(0, 100000)) for _ in range(9)]
            reals = ["%.4f" % rng.uniform(-1000, 1000) for _ in range(25)]
            day = "2026-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28))
            texts = [rng.choice(["north", "south", "east", "west"]), "grade_%d" % rng.randint(1, 9),
                     rng.choice(["yes", "no"]), "\"a, quoted\""]
            pool.append(",".join(ints + reals + [day] + texts))
        path = os.path.join(work, "dags", "big.csv")
        with open(path, "w") as f:
            f.write(",".join(header) + "\n")
            for n in range(args.rows):
                f.write("%d,%s\n" % (n, pool[n % 1000]))
        size_mb = os.path.getsize(path) / 1e6
        with open(os.path.join(work, "dags", "ingest_bench.yaml"), "w") as f:
            f.write("tasks:\n  - id: load\n    operator: ingest\n"
                    "    args: {source: big.csv, table: big, unique_key: [i0]}\n")
        start = time.perf_counter()
        result = subprocess.run([os.path.abspath(args.conveyor), "--dags", "dags", "--db",
                                 "state.db", "--config", "/nonexistent.yaml", "tasks", "test",
                                 "ingest_bench", "load"], cwd=work, capture_output=True,
                                text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0 or '"rows":%d' % args.rows not in result.stdout:
            raise SystemExit("ingest_bench: ingest failed: " + result.stdout + result.stderr)
        print("ingest: %d rows x 40 columns (%.0f MB CSV, types inferred, unique key checked) "
              "in %.2f s: %.0f rows/s" % (args.rows, size_mb, elapsed, args.rows / elapsed))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
