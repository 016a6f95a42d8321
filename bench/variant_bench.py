#!/usr/bin/python3
"""Measures two conveyor binaries built from the same source with one mechanism switched, in
alternation on the same workloads: how docs/internals/performance.md decides whether a mechanism
stays (a wall-time gain of at least 5 % on the workloads it targets, medians of 9 rounds or more).

Workloads (a run's time from its start to its end, as recorded, of `conveyor dags trigger DAG
--wait` on a fresh database, 2 workers):
  wide   1,000 independent `/bin/true` tasks and a join
  chain  200 `/bin/true` tasks in sequence
  noop   20,000 independent in-process `noop` tasks

Usage: variant_bench.py BASELINE_CONVEYOR VARIANT_CONVEYOR [--rounds 9]
  e.g. the Release build against one configured with
  -DCMAKE_CXX_FLAGS=-DCONVEYOR_SPAWN_WITH_POSIX_SPAWN=1 (glibc's posix_spawn instead of
  conveyor's clone-based spawn) or -DCMAKE_CXX_FLAGS=-DCONVEYOR_SQLITE_DEFAULT_VFS=1 (SQLite's own
  VFS instead of the WAL-coalescing one), in a build folder of its own.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sqlite3
import tempfile


def write_dags(folder):
    os.makedirs(folder)
    wide = ["dag_id: wide", "max_active_tasks: 100000", "tasks:"]
    for i in range(1000):
        wide.append("  - {id: t%d, command: /bin/true}" % i)
    wide.append("  - {id: join, command: /bin/true, depends_on: [%s]}"
                % ", ".join("t%d" % i for i in range(1000)))
    chain = ["dag_id: chain", "tasks:"]
    for i in range(200):
        dep = ", depends_on: [c%d]" % (i - 1) if i else ""
        chain.append("  - {id: c%d, command: /bin/true%s}" % (i, dep))
    noop = ["dag_id: noop", "max_active_tasks: 100000", "tasks:"]
    for i in range(20000):
        noop.append("  - {id: n%d, operator: noop}" % i)
    for name, lines in (("wide", wide), ("chain", chain), ("noop", noop)):
        with open(os.path.join(folder, name + ".yaml"), "w") as f:
            f.write("\n".join(lines) + "\n")


def run(conveyor, work, dag):
    state = os.path.join(work, "state")
    shutil.rmtree(state, ignore_errors=True)
    base = [conveyor, "--config", os.path.join(work, "conveyor.yaml")]
    subprocess.run(base + ["dags", "trigger", dag, "--run-id", "r", "--wait"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = sqlite3.connect(os.path.join(state, "c.db"))
    start, end = db.execute("SELECT start_date, end_date FROM dag_runs").fetchone()
    db.close()
    return (end - start) / 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("baseline")
    parser.add_argument("variant")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="conveyor_variant_")
    write_dags(os.path.join(work, "dags"))
    with open(os.path.join(work, "conveyor.yaml"), "w") as f:
        f.write("dags_folder: dags\ndb: state/c.db\nworkers: 2\nlog_dir: logs\n")
    times = {(b, d): [] for b in ("baseline", "variant") for d in ("wide", "chain", "noop")}
    for _ in range(args.rounds):
        for dag in ("wide", "chain", "noop"):
            for name in ("baseline", "variant"):
                times[(name, dag)].append(run(getattr(args, name), work, dag))
    shutil.rmtree(work)
    print("| workload | baseline median s (range) | variant median s (range) | variant / baseline |")
    print("|---|---:|---:|---:|")
    for dag in ("wide", "chain", "noop"):
        b, v = times[("baseline", dag)], times[("variant", dag)]
        print("| %s | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %.3f |"
              % (dag, statistics.median(b), min(b), max(b), statistics.median(v), min(v), max(v),
                 statistics.median(v) / statistics.median(b)))
    print("%d alternated rounds" % args.rounds)


if __name__ == "__main__":
    main()
