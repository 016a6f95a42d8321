#!/usr/bin/python3
"""Load on the REST API while a 1,000-task DAG (10 ms in-process sleeps, 2 workers) runs: wrk on GET /api/v1/dags (loopback, bounded
in time), then checks that no request failed and no transition was lost. Prints requests/s.

Usage: api_load_bench.py CONVEYOR [--seconds S] [--connections C]
"""
import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

TASKS = 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("conveyor")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    args.conveyor = os.path.abspath(args.conveyor)
    if not shutil.which("wrk"):
        sys.exit("api_load_bench: wrk is not installed (Debian package wrk)")
    work = tempfile.mkdtemp(prefix="conveyor_api_bench_")
    try:
        os.makedirs(os.path.join(work, "dags"))
        with open(os.path.join(work, "dags", "load.yaml"), "w") as f:
            f.write("max_active_tasks: 100000\ntasks:\n")
            for i in range(TASKS):
                # In-process sleeps: the run writes transitions all through the load, and the
                # CPU goes to the API and the scheduler rather than to starting processes.
                f.write("  - id: t%d\n    operator: sleep\n    args: {duration: 10ms}\n" % i)
                if i >= 10:
                    f.write("    depends_on: [t%d]\n" % (i - 10))
        for i in range(20):
            with open(os.path.join(work, "dags", "d%02d.yaml" % i), "w") as f:
                f.write("schedule: '@daily'\nstart_date: 2026-01-01\ntags: [bench]\n"
                        "tasks:\n  - {id: t, operator: noop}\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(os.path.join(work, "conveyor.yaml"), "w") as f:
            # Reads need the token too (as beyond loopback): every request is checked.
            f.write("dags_folder: dags\ndb: conveyor.db\nport: %d\nworkers: 2\n"
                    "http_threads: %d\nauth: {reads: token}\n" % (port, args.connections))
        serve = subprocess.Popen([args.conveyor, "--config", "conveyor.yaml", "serve"], cwd=work,
                                 stdout=open(os.path.join(work, "serve.log"), "w"),
                                 stderr=subprocess.STDOUT)
        base = "http://127.0.0.1:%d" % port
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/api/v1/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        # The token serve generated on its first start.
        with open(os.path.join(work, "conveyor.db.token")) as f:
            auth = "Bearer " + f.read().strip()
        request = urllib.request.Request(base + "/api/v1/dags/load/dagRuns", method="POST",
                                         data=json.dumps({"dag_run_id": "load"}).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": auth})
        urllib.request.urlopen(request, timeout=5)
        wrk = subprocess.run(["wrk", "-t2", "-c%d" % args.connections, "-d%ds" % args.seconds,
                              "-H", "Authorization: " + auth, base + "/api/v1/dags"],
                             capture_output=True, text=True, check=True)
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk.stdout)
        socket_errors = re.search(r"Socket errors: (.*)", wrk.stdout)
        db = sqlite3.connect(os.path.join(work, "conveyor.db"), timeout=30)
        deadline = time.time() + 120
        while time.time() < deadline:
            state = db.execute("SELECT state FROM dag_runs WHERE run_id = 'load'").fetchone()[0]
            if state in ("success", "failed"):
                break
            time.sleep(0.2)
        successes = db.execute("SELECT count(*) FROM events WHERE to_state = 'success' AND "
                               "task_id IS NOT NULL").fetchone()[0]
        states = dict(db.execute("SELECT state, count(*) FROM task_instances GROUP BY state"))
        serve.terminate()
        serve.wait(timeout=30)
        print("GET /api/v1/dags (21 DAGs) with wrk, %d connections, %d s, while a %d-task DAG "
              "runs: %.0f requests/s (target >= 10,000)" % (args.connections, args.seconds,
                                                            TASKS, rate))
        failures = []
        if errors:
            failures.append("%s non-2xx responses" % errors.group(1))
        if socket_errors:
            failures.append("socket errors: " + socket_errors.group(1))
        if state != "success" or states != {"success": TASKS} or successes != TASKS:
            failures.append("run %s, task states %r, %d successes recorded" %
                            (state, states, successes))
        print("run under load: %s, %d task instances success, each success recorded once: %s"
              % (state, states.get("success", 0), "yes" if successes == TASKS else "no"))
        for failure in failures:
            print("FAIL: " + failure)
        sys.exit(1 if failures else 0)
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
