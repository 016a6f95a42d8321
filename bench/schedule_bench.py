#!/usr/bin/python3
"""Measures `conveyor serve` as a cron scheduler: with N DAGs on "* * * * *", the delay from each
interval's end to its first task starting, and the scheduler's CPU use while idle.

Two task kinds: `noop` (in-process, so the figure is the scheduler's own delay) and `shell`
running /bin/true (adds the machine's cost of starting N processes; for scale, the same number of
/bin/true started by `xargs -P WORKERS` is timed in the same run).

The noop figure is taken over several consecutive intervals (--intervals, 3 by default): one
burst of 200 runs gives one median, which a single stall of this 2-core VM moves by milliseconds;
the delays of all the intervals are pooled, and each interval's median is printed too. The shell
figure, which has no target, is taken over one interval.

The database holds --history finished runs (100,000 by default, about eight hours of 200 DAGs on
"* * * * *") before serve starts, as a scheduler that has run for a while has.

Usage: schedule_bench.py CONVEYOR [--dags N] [--intervals N] [--idle-seconds S]
                         [--operators noop,shell] [--history N]
"""
import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

WORKERS = 4


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def percentile(values, p):
    return values[min(len(values) - 1, max(0, int(round(p * len(values))) - 1))]


def add_history(conveyor, work, dags, runs):
    """Finished runs from before start_date, as a scheduler that has run for a while has: the
    rounds' queries must not grow with them."""
    subprocess.run([conveyor, "--config", "conveyor.yaml", "runs", "list"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL)  # makes the database
    db = sqlite3.connect(os.path.join(work, "conveyor.db"))
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) "
        "INSERT INTO dag_runs (dag_id, run_id, run_type, logical_date, data_interval_start, "
        "data_interval_end, state, queued_at, start_date, end_date) "
        "SELECT printf('m%03d', i % ?), 'scheduled__history' || i, 'scheduled', "
        "1700000000 + 60 * i, 1700000000 + 60 * i, 1700000060 + 60 * i, 'success', 0, 0, 0 "
        "FROM n", (runs, dags))
    db.commit()
    db.close()


def measure(conveyor, operator, dags, intervals, idle_seconds, history):
    work = tempfile.mkdtemp(prefix="conveyor_schedule_bench_")
    try:
        os.makedirs(os.path.join(work, "dags"))
        task = "    command: [true]\n" if operator == "shell" else "    operator: noop\n"
        for i in range(dags):
            with open(os.path.join(work, "dags", "m%03d.yaml" % i), "w") as f:
                f.write("schedule: '* * * * *'\nstart_date: 2026-01-01\ncatchup: false\n"
                        "tasks:\n  - id: first\n" + task)
        with open(os.path.join(work, "conveyor.yaml"), "w") as f:
            f.write("dags_folder: dags\ndb: conveyor.db\ndags_are_paused_at_creation: false\n"
                    "workers: %d\n" % WORKERS)
        if history > 0:
            add_history(conveyor, work, dags, history)
        # Start so that the next minute boundary is at least 8 s away: the start-up round (the
        # latest interval of every DAG) is over before the measured one.
        while 60 - time.time() % 60 < 8:
            time.sleep(0.5)
        log_path = os.path.join(work, "serve.log")
        serve = subprocess.Popen([conveyor, "--config", "conveyor.yaml", "serve"], cwd=work,
                                 stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
        boundary = int(time.time() // 60 + 1) * 60
        while "conveyor serve: pid" not in open(log_path).read():
            time.sleep(0.05)
        db = sqlite3.connect(os.path.join(work, "conveyor.db"), timeout=30)

        def done(end):
            return db.execute("SELECT count(*) FROM dag_runs WHERE data_interval_end = ? AND "
                              "state = 'success'", (end,)).fetchone()[0]

        by_interval = []
        for end in range(boundary, boundary + 60 * intervals, 60):
            while time.time() < end + 60 and done(end) < dags:
                time.sleep(0.25)
            # Runs may be prepared ahead, but nothing of theirs may be seen before the interval
            # ends: not the run, not an event, not a task.
            early = db.execute(
                "SELECT count(*) FROM dag_runs r WHERE r.data_interval_end = ?1 AND "
                "(r.queued_at < ?1 * 1000000 OR r.start_date < ?1 * 1000000 OR EXISTS "
                "(SELECT 1 FROM events e WHERE e.run = r.id AND e.at < ?1 * 1000000))",
                (end,)).fetchone()[0]
            if early:
                sys.exit("schedule_bench: %d runs of the interval ending at %d recorded something "
                         "before it ended" % (early, end))
            by_interval.append(sorted(row[0] / 1000.0 for row in db.execute(
                "SELECT t.start_date - r.data_interval_end * 1000000 FROM dag_runs r "
                "JOIN task_tries t ON t.run = r.id AND t.try_number = 1 "
                "WHERE r.data_interval_end = ?", (end,))))
        idle = None
        if idle_seconds > 0:
            time.sleep(1.0)
            before = cpu_seconds(serve.pid)
            started = time.monotonic()
            time.sleep(idle_seconds)
            idle = (cpu_seconds(serve.pid) - before) / (time.monotonic() - started)
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
        for end, delays in zip(range(boundary, boundary + 60 * intervals, 60), by_interval):
            if delays and delays[0] < 0:
                sys.exit("schedule_bench: a task of the interval ending at %d started %.3f ms "
                         "before it ended" % (end, -delays[0]))
            if len(delays) < dags:
                sys.exit("schedule_bench: only %d of %d runs started for the interval ending at %d"
                         % (len(delays), dags, end))
        return by_interval, idle
    finally:
        shutil.rmtree(work)


def spawn_baseline(count):
    start = time.perf_counter()
    subprocess.run("seq %d | xargs -P %d -n 1 sh -c 'exec /bin/true'" % (count, WORKERS),
                   shell=True, check=True)
    return (time.perf_counter() - start) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("conveyor")
    parser.add_argument("--dags", type=int, default=200)
    parser.add_argument("--intervals", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=15.0)
    parser.add_argument("--operators", default="noop,shell")
    parser.add_argument("--history", type=int, default=100000,
                        help="finished runs in the database before serve starts")
    args = parser.parse_args()
    conveyor = os.path.abspath(args.conveyor)
    print("cron latency, %d DAGs on '* * * * *', %d workers, %d finished runs in the database "
          "(interval end -> first task started; targets: median < 10 ms, p99 < 50 ms)"
          % (args.dags, WORKERS, args.history))
    idle = None
    for i, operator in enumerate(args.operators.split(",")):
        intervals = args.intervals if operator == "noop" else 1
        by_interval, measured_idle = measure(conveyor, operator, args.dags, intervals,
                                             args.idle_seconds if i == 0 else 0, args.history)
        idle = idle if measured_idle is None else measured_idle
        delays = sorted(d for interval in by_interval for d in interval)
        print("  %-5s median %6.1f ms   p99 %6.1f ms   max %6.1f ms   (%d interval%s%s)" % (
            operator, statistics.median(delays), percentile(delays, 0.99), delays[-1],
            len(by_interval), "" if len(by_interval) == 1 else "s",
            "" if len(by_interval) == 1 else "; medians " + ", ".join(
                "%.1f" % statistics.median(interval) for interval in by_interval) + " ms"))
        if operator == "shell":
            print("        (the machine alone: %d x /bin/true through xargs -P %d takes %.0f ms)"
                  % (args.dags, WORKERS, spawn_baseline(args.dags)))
    if idle is not None:
        print("idle scheduler CPU over %.0f s: %.2f %% of a core (target: < 1 %%)"
              % (args.idle_seconds, idle * 100))


if __name__ == "__main__":
    main()
