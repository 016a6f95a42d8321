#!/usr/bin/python3
"""Per-task overhead of the Slurm executor against bare Slurm, on the same jobs in the same run.

Two workloads of N tasks that each run `true` on Slurm:
  wide   N independent tasks: conveyor triggers a DAG of N Slurm tasks and waits for the run;
         bare Slurm submits N `sbatch --wrap true` jobs and polls squeue until all are gone.
  chain  N/4 tasks in sequence: conveyor runs the chain; bare Slurm submits a job, polls
         squeue until it is gone, then submits the next (Slurm takes about a second to start
         each job here, so the chain is kept short).
Both sides poll every 100 ms (conveyor's slurm.poll_interval). conveyor's figure includes
everything: the CLI's start, the state database's commits, the launch files, `tasks run-try` on
the node, and reading the results. Each side runs twice, alternating; the better run counts.

Usage: slurm_bench.py CONVEYOR [--tasks N]   (needs SLURM_CONF and a running cluster)
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

POLL = 0.1


def squeue_ids(ids):
    out = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(ids)], capture_output=True,
                         text=True).stdout
    return set(out.split())


def submit(folder):
    out = subprocess.run(["sbatch", "--parsable", "--output=/dev/null", "--chdir=" + folder,
                          "--wrap", "true"], capture_output=True, text=True, check=True).stdout
    return out.strip().split(";")[0]


def bare_wide(n, folder):
    start = time.monotonic()
    ids = [submit(folder) for _ in range(n)]
    while squeue_ids(ids):
        time.sleep(POLL)
    return time.monotonic() - start


def bare_chain(n, folder):
    start = time.monotonic()
    for _ in range(n):
        job = submit(folder)
        while squeue_ids([job]):
            time.sleep(POLL)
    return time.monotonic() - start


def conveyor_run(conveyor, folder, dag_text, dag_id, run_id):
    with open(os.path.join(folder, "dags", dag_id + ".yaml"), "w") as f:
        f.write(dag_text)
    start = time.monotonic()
    result = subprocess.run([conveyor, "--config", os.path.join(folder, "conveyor.yaml"), "dags",
                             "trigger", dag_id, "--run-id", run_id, "--wait"],
                            capture_output=True, text=True, cwd=folder)
    elapsed = time.monotonic() - start
    if result.returncode != 0 or "success" not in result.stdout.splitlines()[-1]:
        sys.exit("conveyor run failed:\n" + result.stdout[-2000:] + result.stderr[-2000:])
    return elapsed


def dag(dag_id, n, chain):
    lines = ["dag_id: " + dag_id, "schedule: null", "max_active_tasks: %d" % n,
             "default_args: {executor: slurm}", "tasks:"]
    for i in range(n):
        deps = ", depends_on: [t%d]" % (i - 1) if chain and i > 0 else ""
        lines.append("  - {id: t%d, command: \"true\"%s}" % (i, deps))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("conveyor")
    parser.add_argument("--tasks", type=int, default=40)
    args = parser.parse_args()
    if not os.environ.get("SLURM_CONF") or shutil.which("sbatch") is None:
        print("slurm_bench: skipped, no Slurm cluster (scripts/slurm_cluster.sh starts one)")
        return
    conveyor = os.path.abspath(args.conveyor)
    n = args.tasks
    folder = tempfile.mkdtemp(prefix="conveyor_slurm_bench_")
    os.makedirs(os.path.join(folder, "dags"))
    with open(os.path.join(folder, "conveyor.yaml"), "w") as f:
        f.write("dags_folder: dags\ndb: conveyor.db\nslurm:\n  poll_interval: 100ms\n")
    try:
        results = {}
        for workload, chain, count in (("wide", False, n), ("chain", True, max(5, n // 4))):
            bare, ours = [], []
            for attempt in range(2):
                bare.append((bare_chain if chain else bare_wide)(count, folder))
                name = "%s_%d" % (workload, attempt)
                ours.append(conveyor_run(conveyor, folder, dag(name, count, chain), name, "bench"))
            results[workload] = (count, min(bare), min(ours))
        print("Slurm executor, poll every %d ms on both sides" % (POLL * 1000))
        print("| workload | tasks | bare Slurm ms/task | conveyor ms/task | conveyor / bare |")
        print("|---|---|---|---|---|")
        for workload, (count, bare, ours) in results.items():
            print("| %s | %d | %.1f | %.1f | %.2fx |" % (workload, count, bare * 1000 / count,
                                                        ours * 1000 / count, ours / bare))
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
