#!/usr/bin/python3
"""What a cached task costs to decide: N independent `cache: true` shell tasks (`/bin/true`),
triggered three times with `conveyor dags trigger --wait`: the first run runs them and fills the
cache, the second reuses every try, and the third (`--no-cache`) runs them again. Also N `noop`
tasks, which run in-process and cache nothing: a cached run's time over theirs, per task, is what
the cache lookup (key, fingerprints, SQLite read) adds to a task that does nothing.

Usage: cache_bench.py CONVEYOR [--tasks N]
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("conveyor")
    parser.add_argument("--tasks", type=int, default=2000)
    args = parser.parse_args()
    args.conveyor = os.path.abspath(args.conveyor)
    work = tempfile.mkdtemp(prefix="conveyor_cache_bench_")
    try:
        dags = os.path.join(work, "dags")
        os.makedirs(dags)
        with open(os.path.join(dags, "cached.yaml"), "w") as f:
            f.write("max_active_tasks: 64\ndefault_args: {cache: true}\ntasks:\n")
            for i in range(args.tasks):
                f.write("  - {id: t%d, command: /bin/true}\n" % i)
        with open(os.path.join(dags, "noops.yaml"), "w") as f:
            f.write("max_active_tasks: 64\ntasks:\n")
            for i in range(args.tasks):
                f.write("  - {id: t%d, operator: noop}\n" % i)
        config = os.path.join(work, "conveyor.yaml")
        with open(config, "w") as f:
            f.write("dags_folder: dags\ndb: conveyor.db\n")

        def trigger(dag, run_id, *extra):
            started = time.monotonic()
            result = subprocess.run([args.conveyor, "--config", config, "dags", "trigger", dag,
                                     "--run-id", run_id, "--wait", *extra],
                                    capture_output=True, text=True, cwd=work)
            seconds = time.monotonic() - started
            if result.returncode != 0 or "success" not in result.stdout.splitlines()[-1]:
                raise SystemExit("%s %s failed:\n%s%s" % (dag, run_id, result.stdout[-2000:],
                                                         result.stderr[-2000:]))
            return seconds

        trigger("noops", "warm")  # the DAG files parsed and cached, the database made
        filled = trigger("cached", "fill")
        reused = trigger("cached", "reuse")
        again = trigger("cached", "again", "--no-cache")
        noops = trigger("noops", "noops")
        n = args.tasks
        print("cache: %d cached shell tasks: %.3f s running them, %.3f s reusing every try "
              "(%.1fx quicker), %.3f s with --no-cache" % (n, filled, reused, filled / reused,
                                                           again))
        print("cache: %d noop tasks: %.3f s; a reused try costs %.1f us more than a noop, "
              "%.1f us in all per task (target: lookup < 50 us)" %
              (n, noops, max(0.0, reused - noops) / n * 1e6, reused / n * 1e6))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
