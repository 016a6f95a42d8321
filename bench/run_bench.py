#!/usr/bin/python3
"""Runs the reference workloads of shared/anchors with conveyor, make -j2 and ninja -j2 in the same
invocation, and prints per-task costs net of start-up and the ratio to make; then noop throughput
and the latency from an upstream task's end to its downstream's start.

Usage: run_bench.py CONVEYOR ANCHORS_DIR [--runs N] [--noop-tasks N]
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

WORKLOADS = ["single", "wide", "chain", "lattice", "fanout"]


def timed(cmd, cwd, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_dag(spec, path, operator=None):
    lines = ["dag_id: %s" % spec["name"], "max_active_tasks: 100000", "tasks:"]
    for task in spec["tasks"]:
        lines.append("  - id: %s" % task["id"])
        if operator:
            lines.append("    operator: %s" % operator)
        else:
            lines.append("    command: [%s]" % ", ".join(spec["cmd"].split()))
        if task["deps"]:
            lines.append("    depends_on: [%s]" % ", ".join(task["deps"]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Conveyor:
    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        self.config = os.path.join(work, "conveyor.yaml")
        os.makedirs(os.path.join(work, "dags"), exist_ok=True)
        with open(self.config, "w") as f:
            f.write("dags_folder: dags\ndb: state/conveyor.db\nworkers: 2\n")
        os.makedirs(os.path.join(work, "dags"), exist_ok=True)
        self.count = 0

    def run(self, dag_id):
        self.count += 1
        run_id = "bench_%d" % self.count
        subprocess.run([self.binary, "--config", self.config, "dags", "trigger", dag_id,
                        "--run-id", run_id, "--wait"], check=True, stdout=subprocess.DEVNULL)
        return run_id

    def timed(self, dag_id, runs):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self.run(dag_id)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def db(self):
        return sqlite3.connect(os.path.join(self.work, "state", "conveyor.db"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("conveyor")
    parser.add_argument("anchors")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--noop-tasks", type=int, default=20000)
    args = parser.parse_args()
    gen = os.path.join(args.anchors, "gen_workloads.py")
    if not os.path.exists(gen):
        print("run_bench: %s not found; skipping the anchor comparison" % gen)
        return 0
    work = tempfile.mkdtemp(prefix="conveyor_bench_")
    subprocess.run(["/usr/bin/python3", gen, "--out", os.path.join(work, "anchors")], check=True,
                   stdout=subprocess.DEVNULL)
    conveyor = Conveyor(os.path.abspath(args.conveyor), os.path.join(work, "conveyor"))
    specs = {}
    for name in WORKLOADS:
        with open(os.path.join(work, "anchors", name, "workload.json")) as f:
            specs[name] = json.load(f)
        write_dag(specs[name], os.path.join(conveyor.work, "dags", name + ".yaml"))
    tools = {
        "make -j2": lambda name: timed(["make", "-s", "-j2"], os.path.join(work, "anchors", name),
                                       args.runs),
        "ninja -j2": lambda name: timed(["ninja", "-j2"],
                                        os.path.join(work, "anchors", name), args.runs),
        "conveyor (2 workers)": lambda name: conveyor.timed(name, args.runs),
    }
    results = {tool: {name: run(name) for name in WORKLOADS} for tool, run in tools.items()}
    print("| tool | workload | tasks | median s | ms/task net of start-up | ratio to make |")
    print("|---|---|---:|---:|---:|---:|")
    for tool, by_name in results.items():
        for name in WORKLOADS:
            n = len(specs[name]["tasks"])
            net = (by_name[name] - by_name["single"]) * 1000 / n if name != "single" else None
            make_net = ((results["make -j2"][name] - results["make -j2"]["single"]) * 1000 / n
                        if name != "single" else None)
            print("| %s | %s | %d | %.3f | %s | %s |" % (
                tool, name, n, by_name[name], "%.2f" % net if net is not None else "",
                "%.2f" % (net / make_net) if net is not None else ""))

    # In-process noop tasks: scheduler and store throughput.
    noop = {"name": "noop_wide", "tasks": [{"id": "t%d" % i, "deps": []}
                                           for i in range(args.noop_tasks)]}
    write_dag(noop, os.path.join(conveyor.work, "dags", "noop_wide.yaml"), operator="noop")
    start = time.perf_counter()
    noop_run = conveyor.run("noop_wide")
    noop_s = time.perf_counter() - start
    run_start, run_end = conveyor.db().execute(
        "SELECT start_date, end_date FROM dag_runs WHERE run_id = ? AND dag_id = 'noop_wide'",
        (noop_run,)).fetchone()
    run_s = (run_end - run_start) / 1e6
    print("\nnoop: %d in-process tasks, every transition persisted: %.0f tasks/s from the run's "
          "start to its end (%.3f s); %.3f s for the whole command, YAML parsing included"
          % (args.noop_tasks, args.noop_tasks / run_s, run_s, noop_s))

    # Latency from an upstream task's end to its downstream's start, on the chain.
    run_id = conveyor.run("chain")
    db = conveyor.db()
    rows = db.execute("SELECT t.task_id, t.start_date, t.end_date FROM task_tries t "
                      "JOIN dag_runs r ON r.id = t.run WHERE r.run_id = ? AND r.dag_id = 'chain'",
                      (run_id,)).fetchall()
    by_id = {r[0]: (r[1], r[2]) for r in rows}
    gaps = []
    for task in specs["chain"]["tasks"]:
        for dep in task["deps"]:
            gaps.append((by_id[task["id"]][0] - by_id[dep][1]) / 1000.0)
    print("chain: upstream end -> downstream start latency median %.3f ms, p90 %.3f ms"
          % (statistics.median(gaps), sorted(gaps)[int(len(gaps) * 0.9)]))
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
