#!/usr/bin/python3
"""End-to-end tests of `conveyor serve`: hot reload, CLI triggers run by serve, backfills,
failure webhooks, and a clean shutdown on SIGTERM that a restart resumes.

Usage: serve_test.py CONVEYOR
"""
import http.server
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class Hooks(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hooks.received.append((self.path, json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class ServeTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="conveyor_serve_")
        self.dags = os.path.join(self.dir, "dags")
        os.makedirs(self.dags)
        self.config = os.path.join(self.dir, "conveyor.yaml")
        with open(self.config, "w") as f:
            f.write("dags_folder: dags\ndb: state/conveyor.db\n"
                    "dags_are_paused_at_creation: false\nshutdown_grace: 1s\nworkers: 2\n")
        self.serve = None

    def tearDown(self):
        if self.serve and self.serve.poll() is None:
            self.serve.kill()
            self.serve.wait()
        shutil.rmtree(self.dir)

    def write_dag(self, name, text):
        path = os.path.join(self.dags, name + ".yaml")
        with open(path, "w") as f:
            f.write(text.replace("$DIR", self.dir))
        return path

    def run_cli(self, *args, timeout=60):
        r = subprocess.run([CONVEYOR, "--config", self.config, *args], capture_output=True,
                           text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def start_serve(self):
        self.log = open(os.path.join(self.dir, "serve.log"), "a")
        self.serve = subprocess.Popen([CONVEYOR, "--config", self.config, "serve"],
                                      stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: "conveyor serve: pid" in self.serve_log(), what="serve to start")

    def serve_log(self):
        with open(os.path.join(self.dir, "serve.log")) as f:
            return f.read()

    def db(self):
        return sqlite3.connect(os.path.join(self.dir, "state", "conveyor.db"))

    def runs(self, dag_id):
        code, out, err = self.run_cli("runs", "list", dag_id, "-o", "json")
        self.assertEqual(code, 0, err)
        return json.loads(out)["dag_runs"]

    def parsed_at(self, dag_id):
        row = self.db().execute("SELECT last_parsed_at FROM dags WHERE dag_id = ?",
                                (dag_id,)).fetchone()
        return row[0] / 1e6 if row and row[0] is not None else 0.0

    def ran_by(self, run_id):
        rows = self.db().execute(
            "SELECT DISTINCT who FROM events JOIN dag_runs r ON r.id = events.run "
            "WHERE r.run_id = ? AND who != 'create'", (run_id,)).fetchall()
        return sorted(r[0] for r in rows)

    def test_edited_dag_is_picked_up_and_cli_triggers_run_in_serve(self):
        out = os.path.join(self.dir, "out.txt")
        self.write_dag("edit", "tasks:\n  - id: say\n    operator: shell\n"
                       "    command: echo v1 >> " + out + "\n")
        self.start_serve()
        code, stdout, err = self.run_cli("dags", "trigger", "edit", "--run-id", "first", "--wait")
        self.assertEqual(code, 0, err)
        self.assertIn("run first: success", stdout)
        # serve ran it; the CLI showed its transitions from the event log as they happened.
        self.assertIn("  say  queued -> running (try 1)\n", stdout)
        self.assertIn("  say  running -> success (try 1)\n", stdout)
        self.assertEqual(self.ran_by("first"), ["serve pid %d" % self.serve.pid])
        written = time.time()
        v2 = "tasks:\n  - id: say\n    operator: shell\n    command: echo v2 >> " + out + "\n"
        self.write_dag("edit", v2)
        # serve records a parse once the new version is the one it schedules.
        wait_for(lambda: self.parsed_at("edit") >= written, what="serve to read the edit")
        code, _, err = self.run_cli("dags", "trigger", "edit", "--run-id", "second", "--wait")
        self.assertEqual(code, 0, err)
        with open(out) as f:
            self.assertEqual(f.read(), "v1\nv2\n")
        # A file that breaks: serve reports it and keeps the last good version.
        path = self.write_dag("edit", "tasks:\n  - id: say\n    operator: shel\n")
        error = path + ":3:15: unknown operator 'shel', did you mean 'shell'?"
        wait_for(lambda: error in self.serve_log(), what="the error in serve's log")
        row = self.db().execute("SELECT import_error FROM dags WHERE dag_id = 'edit'").fetchone()
        self.assertEqual(row[0], error)
        code, out_json, _ = self.run_cli("dags", "list", "-o", "json")
        broken = [d for d in json.loads(out_json)["dags"] if d["dag_id"] == "edit"][0]
        self.assertEqual((broken["has_import_errors"], broken["import_error"]), (True, error))
        # serve keeps the last good parse of each file, for its next start (docs/running.md).
        self.assertEqual(self.db().execute("SELECT path, source FROM parsed_dag_files").fetchall(),
                         [(path, v2.encode())])

    def test_backfill_ten_days_then_nothing_more(self):
        self.write_dag("daily", "schedule: '@daily'\nstart_date: 2026-01-01\n"
                       "max_active_runs: 3\ntasks:\n  - id: day\n    operator: shell\n"
                       "    command: echo {{ ds }} >> $DIR/days.txt\n")
        # Paused: no scheduled runs get in the way, and backfills run on paused DAGs.
        self.assertEqual(self.run_cli("dags", "pause", "daily")[0], 0)
        self.start_serve()
        code, out, err = self.run_cli("dags", "backfill", "daily", "--start-date", "2026-01-09",
                                      "--end-date", "2026-01-12", "--dry-run", "-o", "json")
        self.assertEqual(code, 0, err)
        planned = json.loads(out)
        self.assertEqual([r["dag_run_id"] for r in planned["dag_runs"]],
                         ["backfill__2026-01-%02dT00:00:00+00:00" % d for d in range(9, 13)])
        self.assertEqual(planned["dag_runs"][0]["data_interval_end"], "2026-01-10T00:00:00Z")
        self.assertEqual([r for r in self.runs("daily") if r["run_type"] == "backfill"], [])

        code, out, err = self.run_cli("dags", "backfill", "daily", "--start-date", "2026-01-01",
                                      "--end-date", "2026-01-10", timeout=120)
        self.assertEqual(code, 0, err + out)
        self.assertIn("backfill of daily: 10 run(s) to run, 0 skipped", out)
        self.assertIn("backfill of daily: 10 succeeded, 0 failed", out)
        self.assertEqual(out.count(": success ("), 10)
        backfills = [r for r in self.runs("daily") if r["run_type"] == "backfill"]
        self.assertEqual(sorted(r["logical_date"] for r in backfills),
                         ["2026-01-%02dT00:00:00Z" % d for d in range(1, 11)])
        self.assertTrue(all(r["state"] == "success" for r in backfills))
        self.assertEqual(self.ran_by(backfills[0]["dag_run_id"]),
                         ["serve pid %d" % self.serve.pid])
        with open(os.path.join(self.dir, "days.txt")) as f:
            self.assertEqual(sorted(f.read().split()), ["2026-01-%02d" % d for d in range(1, 11)])
        code, out, err = self.run_cli("dags", "backfill", "daily", "--start-date", "2026-01-01",
                                      "--end-date", "2026-01-10")
        self.assertEqual((code, out), (0, "backfill of daily: 0 run(s) to run, 10 skipped\n"), err)
        self.assertEqual(len([r for r in self.runs("daily") if r["run_type"] == "backfill"]), 10)

    def test_failure_webhook_reaches_a_local_listener(self):
        Hooks.received = []
        server = http.server.HTTPServer(("127.0.0.1", 0), Hooks)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = "http://127.0.0.1:%d" % server.server_address[1]
        self.write_dag("fails", "on_failure: [{webhook: '" + url + "/dag'}]\ntasks:\n"
                       "  - id: boom\n    operator: shell\n"
                       "    command: echo the disk is full; exit 3\n"
                       "    on_failure: [{webhook: '" + url + "/task'}]\n")
        self.start_serve()
        code, _, _ = self.run_cli("dags", "trigger", "fails", "--run-id", "r1", "--wait")
        self.assertEqual(code, 1)
        wait_for(lambda: len(Hooks.received) == 2, what="two webhooks")
        server.shutdown()
        server.server_close()
        by_path = dict(Hooks.received)
        task = by_path["/task"]
        self.assertEqual({k: task[k] for k in ("event", "dag_id", "dag_run_id", "task_id",
                                               "state", "try_number")},
                         {"event": "on_failure", "dag_id": "fails", "dag_run_id": "r1",
                          "task_id": "boom", "state": "failed", "try_number": 1})
        self.assertIn("the disk is full", task["error"])
        self.assertTrue(task["log_url"].endswith(
            "/api/v1/dags/fails/dagRuns/r1/taskInstances/boom/logs/1"), task["log_url"])
        self.assertRegex(task["logical_date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        dag = by_path["/dag"]
        self.assertEqual((dag["event"], dag["state"], dag["task_id"], dag["failed_tasks"]),
                         ("on_failure", "failed", None, ["boom"]))

    def test_a_deadline_callback_fires_once_for_a_late_run_and_never_for_a_quick_one(self):
        Hooks.received = []
        server = http.server.HTTPServer(("127.0.0.1", 0), Hooks)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        url = "http://127.0.0.1:%d/late" % server.server_address[1]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with open(self.config, "a") as f:
            f.write("port: %d\n" % port)
        self.write_dag("late", "deadline: {after: 1500ms, reference: queued, on_miss: [{webhook: '"
                       + url + "'}]}\nparams: {s: 0}\n"
                       "tasks:\n  - {id: work, command: 'sleep {{ params.s }}'}\n")
        self.start_serve()
        code, out, err = self.run_cli("dags", "trigger", "late", "--run-id", "quick", "--wait")
        self.assertEqual(code, 0, out + err)
        code, out, err = self.run_cli("dags", "trigger", "late", "--run-id", "slow", "--conf",
                                      '{"s": 5}')
        self.assertEqual(code, 0, out + err)
        wait_for(lambda: len(Hooks.received) == 1, timeout=6, what="the deadline webhook")
        path, payload = Hooks.received[0]
        self.assertEqual(path, "/late")
        self.assertEqual({k: payload[k] for k in ("event", "dag_id", "dag_run_id", "state")},
                         {"event": "deadline_missed", "dag_id": "late", "dag_run_id": "slow",
                          "state": "running"})
        self.assertRegex(payload["deadline"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        with open(os.path.join(self.dir, "state", "conveyor.db.token")) as f:
            token = f.read().strip()
        request = urllib.request.Request("http://127.0.0.1:%d/metrics" % port,
                                         headers={"Authorization": "Bearer " + token})
        metrics = urllib.request.urlopen(request, timeout=5).read().decode()
        self.assertIn('conveyor_deadline_misses_total{dag_id="late"} 1\n', metrics)
        # A restart while the run is still late does not call again.
        self.serve.send_signal(signal.SIGTERM)
        self.assertEqual(self.serve.wait(timeout=15), 0)
        self.start_serve()
        wait_for(lambda: {r["dag_run_id"]: r["state"] for r in self.runs("late")}["slow"] ==
                 "success", timeout=20, what="the slow run")
        time.sleep(1.5)
        self.assertEqual(len(Hooks.received), 1, Hooks.received)
        self.assertEqual(self.db().execute(
            "SELECT count(*) FROM events WHERE to_state = 'deadline_missed'").fetchone()[0], 1)

    def test_latest_only_skips_the_caught_up_intervals_but_the_latest(self):
        today = time.strftime("%Y-%m-%d", time.gmtime())
        start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 86400))
        self.write_dag("caught", "schedule: '@daily'\nstart_date: '" + start + "'\ncatchup: true\n"
                       "tasks:\n  - {id: score, operator: noop}\n"
                       "  - {id: publish, operator: noop, depends_on: [score], latest_only: true}\n")
        self.start_serve()
        wait_for(lambda: len(self.runs("caught")) == 3 and
                 all(r["state"] == "success" for r in self.runs("caught")),
                 timeout=20, what="three caught-up runs")
        published = {}
        for run in self.runs("caught"):
            code, out, _ = self.run_cli("tasks", "list", "caught", run["dag_run_id"], "-o", "json")
            states = {t["task_id"]: t["state"] for t in json.loads(out)["task_instances"]}
            published[run["data_interval_end"][:10]] = states["publish"]
        self.assertEqual(published[today], "success")
        self.assertEqual(sorted(published.values()), ["skipped", "skipped", "success"])

    def test_sigterm_stops_cleanly_and_a_restart_resumes(self):
        flag = os.path.join(self.dir, "fast")
        # A sleep no other process on the machine is likely to run, for pgrep to look for.
        sleep = "sleep 60.%05d" % (os.getpid() % 100000)
        self.write_dag("slow", "tasks:\n  - id: wait\n    operator: shell\n"
                       "    command: if [ -f " + flag + " ]; then echo quick; else " + sleep +
                       "; fi\n"
                       "  - id: after\n    operator: noop\n    depends_on: [wait]\n")
        self.start_serve()
        code, _, err = self.run_cli("dags", "trigger", "slow", "--run-id", "r")
        self.assertEqual(code, 0, err)
        wait_for(lambda: self.db().execute(
            "SELECT state FROM task_instances WHERE task_id = 'wait'").fetchone()[0] == "running",
            what="the task to run")
        started = time.monotonic()
        self.serve.send_signal(signal.SIGTERM)
        self.assertEqual(self.serve.wait(timeout=15), 0)
        self.assertLess(time.monotonic() - started, 10)
        db = self.db()
        self.assertEqual(db.execute("SELECT state FROM dag_runs").fetchone()[0], "running")
        state, tries, max_tries = db.execute(
            "SELECT state, try_number, max_tries FROM task_instances WHERE task_id = 'wait'"
        ).fetchone()
        self.assertEqual((state, tries, max_tries), ("scheduled", 1, 2))
        note = db.execute("SELECT note FROM task_tries WHERE task_id = 'wait'").fetchone()[0]
        self.assertEqual(note, "try 1 interrupted: conveyor shut down and stopped it after the "
                         "grace period")
        # The task's whole process group got TERM: nothing of it outlives serve for long.
        wait_for(lambda: subprocess.run(["pgrep", "-f", sleep]).returncode == 1,
                 timeout=3, what="the task's processes to end")
        self.assertEqual(db.execute("SELECT count(*) FROM scheduler_lease").fetchone()[0], 0)
        open(flag, "w").close()
        self.start_serve()
        wait_for(lambda: self.runs("slow")[0]["state"] == "success", what="the resumed run")
        code, out, _ = self.run_cli("tasks", "list", "slow", "r", "-o", "json")
        tis = {t["task_id"]: t for t in json.loads(out)["task_instances"]}
        self.assertEqual((tis["wait"]["state"], tis["wait"]["try_number"]), ("success", 2))
        self.assertEqual(tis["after"]["state"], "success")

    def test_backfill_without_serve_runs_itself_and_exits_1_on_failure(self):
        self.write_dag("flaky", "schedule: '@daily'\nstart_date: 2026-01-01\ntasks:\n"
                       "  - id: t\n    operator: shell\n"
                       "    command: test {{ ds }} != 2026-01-02\n")
        code, out, err = self.run_cli("dags", "backfill", "flaky", "--start-date", "2026-01-01",
                                      "--end-date", "2026-01-03")
        self.assertEqual(code, 1, err)
        self.assertIn("backfill of flaky: 2 succeeded, 1 failed", out)
        self.assertIn("run backfill__2026-01-02T00:00:00+00:00: failed", out)
        # The failed interval is skipped unless --rerun-failed; with it, it runs again.
        code, out, _ = self.run_cli("dags", "backfill", "flaky", "--start-date", "2026-01-01",
                                    "--end-date", "2026-01-03")
        self.assertEqual((code, out), (0, "backfill of flaky: 0 run(s) to run, 3 skipped\n"))
        code, out, _ = self.run_cli("dags", "backfill", "flaky", "--start-date", "2026-01-02",
                                    "--end-date", "2026-01-02", "--rerun-failed")
        self.assertEqual(code, 1)
        self.assertIn("backfill of flaky: 1 run(s) to run, 0 skipped", out)
        code, _, err = self.run_cli("dags", "backfill", "flaky", "--start-date", "2026-01-05",
                                    "--end-date", "2026-01-04")
        self.assertEqual(code, 2)
        self.assertEqual(err, "conveyor: error: --end-date 2026-01-04 is before --start-date "
                         "2026-01-05\n")

    def test_pause_and_unpause_before_serve_has_seen_the_dag(self):
        self.write_dag("later", "tasks:\n  - {id: t, operator: noop}\n")
        code, out, _ = self.run_cli("dags", "pause", "later")
        self.assertEqual((code, out), (0, "DAG later paused\n"))
        code, out, _ = self.run_cli("dags", "list", "-o", "json")
        self.assertEqual(json.loads(out)["dags"][0]["is_paused"], True)
        code, out, _ = self.run_cli("dags", "unpause", "later")
        self.assertEqual((code, out), (0, "DAG later unpaused\n"))
        code, _, err = self.run_cli("dags", "pause", "latr")
        self.assertEqual(code, 2)
        self.assertEqual(err, "conveyor: error: unknown DAG 'latr', did you mean 'later'?\n")

    def test_second_serve_is_refused(self):
        self.write_dag("x", "tasks:\n  - {id: t, operator: noop}\n")
        self.start_serve()
        code, _, err = self.run_cli("serve", timeout=10)
        self.assertEqual(code, 1)
        self.assertIn("another conveyor serve (pid %d) is running on this database"
                      % self.serve.pid, err)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
