#!/usr/bin/python3
"""Kills `conveyor` with SIGKILL at random moments while it runs a DAG, resumes it each time, and
checks that nothing was lost: every task instance ends `success`, its success is recorded exactly
once, no shell task's side effect is missing or happened more often than the task was tried, no
task process outlives the run, no run is left running, and SQLite's integrity check passes.

Two shapes: `lattice`, 500 tasks in 25 layers of 20 (shell tasks, and in-process `sleep` tasks),
and `chain`, 1,500 quick shell tasks one after another, each started before its `queued` state is
committed (the start journal's case: a kill between the two must not leave a side effect without
a recorded try).

A third shape, `branch`, is a line of 100 stages: a shell branch task picks one of two shell tasks
at random, the other is skipped, and a join (none_failed_min_one_success) leads to the next
stage. Across the kills, each stage's chosen task is the one its branch's stored output names,
the other is skipped and never ran.

Usage: crash_test.py CONVEYOR [--kills N] [--seed S] [--shape lattice|chain|branch]
"""
import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

LAYERS, WIDTH = 25, 20
CHAIN = 3000
STAGES = 100


def in_process(task_id):
    """In the lattice, every fourth task of a layer runs in conveyor's process (the `sleep`
    operator), started before its queued state is committed; the others are shell tasks that
    write a side effect."""
    return task_id.startswith("t") and "_" in task_id and int(task_id.split("_")[1]) % 4 == 3


def task_count(shape):
    return {"chain": CHAIN, "branch": 4 * STAGES}.get(shape, LAYERS * WIDTH)


def write_dag(folder, effects, shape):
    lines = ["dag_id: crash", "max_active_tasks: 16", "tasks:"]
    effect = "echo $CONVEYOR_TASK_ID $CONVEYOR_TRY_NUMBER >> %s" % effects
    if shape == "branch":
        for k in range(STAGES):
            # The pid's parity picks the branch: a re-run after a kill may pick the other one.
            lines.append("  - id: b%d" % k)
            lines.append("    branch: true")
            lines.append("    command: 'if [ $(($$ %% 2)) = 0 ]; then c=x%d; else c=y%d; fi; "
                         "%s; echo \"branch=$c\" >> \"$CONVEYOR_OUTPUT\"'" % (k, k, effect))
            if k:
                lines.append("    depends_on: [j%d]" % (k - 1))
            for side in "xy":
                lines.append("  - id: %s%d" % (side, k))
                lines.append("    command: %s; sleep 0.02" % effect)
                lines.append("    depends_on: [b%d]" % k)
            lines.append("  - id: j%d" % k)
            lines.append("    command: " + effect)
            lines.append("    depends_on: [x%d, y%d]" % (k, k))
            lines.append("    trigger_rule: none_failed_min_one_success")
    if shape == "chain":
        for i in range(CHAIN):
            lines.append("  - id: c%d" % i)
            lines.append("    command: " + effect)
            if i:
                lines.append("    depends_on: [c%d]" % (i - 1))
    for layer in range(LAYERS if shape == "lattice" else 0):
        for i in range(WIDTH):
            task_id = "t%d_%d" % (layer, i)
            lines.append("  - id: " + task_id)
            if in_process(task_id):
                lines.append("    operator: sleep")
                lines.append("    args: {duration: 20ms}")
            else:
                lines.append("    command: %s; sleep 0.02" % effect)
            if layer:
                lines.append("    depends_on: [t%d_%d, t%d_%d]"
                             % (layer - 1, i, layer - 1, (i + 1) % WIDTH))
    os.makedirs(folder)
    with open(os.path.join(folder, "crash.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def run_exists(db_path):
    if not os.path.exists(db_path):
        return False
    try:
        db = sqlite3.connect(db_path, timeout=30)
        return db.execute("SELECT count(*) FROM dag_runs WHERE run_id = 'crash1'").fetchone()[0] > 0
    except sqlite3.OperationalError:  # killed before the schema was made
        return False


def leftover_processes(run_id):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if ("CONVEYOR_RUN_ID=%s" % run_id).encode() in env:
            found.append(int(pid))
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("conveyor")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shape", choices=["lattice", "chain", "branch"], default="lattice")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="conveyor_crash_")
    effects = os.path.join(work, "effects")
    write_dag(os.path.join(work, "dags"), effects, args.shape)
    # A chain's run is short: kills come sooner, so that each lands inside it.
    pause = (0.02, 0.12) if args.shape == "chain" else (0.05, 0.35)
    with open(os.path.join(work, "conveyor.yaml"), "w") as f:
        f.write("dags_folder: dags\ndb: state/conveyor.db\nworkers: 2\n")
    base = [args.conveyor, "--config", os.path.join(work, "conveyor.yaml")]
    command = base + ["dags", "trigger", "crash", "--run-id", "crash1", "--wait"]
    # Parsing the chain and creating its run takes 0.1-0.3 s: until the run exists, a kill may come
    # as late as that, so that creation is both interrupted and, at some point, completed.
    creating = (0.02, 0.6)
    kills = 0
    created = False
    while kills < args.kills:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(*(pause if created else creating)))
        if proc.poll() is not None:
            print("run finished after %d kills (exit %d: %s); starting over is not possible"
                  % (kills, proc.returncode, proc.stderr.read().decode()[-500:]))
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        # Killed before it created the run (start-up, migrations): trigger it again.
        if not created and run_exists(os.path.join(work, "state", "conveyor.db")):
            created = True
            command = base + ["runs", "resume", "crash", "crash1", "--wait"]
    final = subprocess.run(base + ["runs", "resume", "crash", "crash1", "--wait"],
                           capture_output=True, text=True, timeout=300)
    failures = []
    if final.returncode != 0:
        failures.append("final resume exited %d: %s" % (final.returncode, final.stderr[-500:]))
    db = sqlite3.connect(os.path.join(work, "state", "conveyor.db"))
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        failures.append("integrity_check: " + integrity)
    runs = db.execute("SELECT run_id, state FROM dag_runs").fetchall()
    if runs != [("crash1", "success")]:
        failures.append("runs: %r" % runs)
    states = dict(db.execute("SELECT task_id, state FROM task_instances").fetchall())
    expected = {t: "success" for t in states}
    if args.shape == "branch":
        chosen = dict(db.execute("SELECT task_id, value FROM task_outputs WHERE key = 'branch'")
                      .fetchall())
        for k in range(STAGES):
            pick = chosen.get("b%d" % k)
            if pick not in ("x%d" % k, "y%d" % k):
                failures.append("stage %d: the branch stored %r" % (k, pick))
                continue
            expected[("y%d" if pick == "x%d" % k else "x%d") % k] = "skipped"
    wrong = {t: s for t, s in states.items() if s != expected[t]}
    if len(states) != task_count(args.shape) or wrong:
        failures.append("%d task instances, not as expected: %r" % (len(states), wrong))
    successes = dict(db.execute("SELECT task_id, count(*) FROM events WHERE to_state = 'success' "
                                "GROUP BY task_id").fetchall())
    meant = [t for t, s in expected.items() if s == "success"]
    twice = {t: successes.get(t, 0) for t in meant if successes.get(t, 0) != 1}
    if len(successes) != len(meant) or twice:
        failures.append("success recorded other than once: %r" % twice)
    tries = dict(db.execute("SELECT task_id, count(*) FROM task_tries GROUP BY task_id").fetchall())
    interrupted = db.execute("SELECT count(*) FROM task_tries WHERE note != ''").fetchone()[0]
    journaled = db.execute("SELECT count(*) FROM task_tries WHERE note LIKE "
                           "'%before its start was recorded%'").fetchone()[0]
    counts = {}
    with open(effects) as f:
        for line in f:
            task = line.split()[0]
            counts[task] = counts.get(task, 0) + 1
    shell_tasks = [t for t in states if not in_process(t) and expected[t] == "success"]
    missing = [t for t in shell_tasks if counts.get(t, 0) < 1]
    ran_skipped = [t for t, s in expected.items() if s == "skipped" and counts.get(t, 0) > 0]
    if ran_skipped:
        failures.append("skipped tasks that ran: %r" % ran_skipped)
    extra = {t: (n, tries.get(t)) for t, n in counts.items() if n > tries.get(t, 0)}
    if missing or extra:
        failures.append("side effects missing for %r, more than tries for %r" % (missing, extra))
    left = leftover_processes("crash1")
    if left:
        failures.append("processes left running: %r" % left)
    repeated = sum(n - 1 for n in counts.values())
    print("%d kills, %d tasks, %d tries interrupted and re-run (%d started before their record, "
          "%d repeated side effects), integrity %s"
          % (kills, len(states), interrupted, journaled, repeated, integrity))
    for failure in failures:
        print("FAIL: " + failure)
    if kills < args.kills:
        print("FAIL: only %d kills" % kills)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
