#!/usr/bin/python3
"""End-to-end tests of the conveyor binary: outputs, JSON shapes, exit codes.

Usage: cli_test.py CONVEYOR SOURCE_DIR
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."


def run(*args, cwd=None):
    result = subprocess.run([CONVEYOR, *args], capture_output=True, text=True, cwd=cwd,
                            timeout=60)
    return result.returncode, result.stdout, result.stderr


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="conveyor_cli_")
        self.dags = os.path.join(self.dir, "dags")
        os.makedirs(self.dags)
        self.write("good.yaml", """dag_id: good
description: a good DAG
schedule: "0 6 * * *"
timezone: America/New_York
start_date: 2030-01-01
tags: [a, b]
tasks:
  - {id: first, operator: noop}
  - {id: second, operator: noop, depends_on: [first]}
""")
        self.write("broken.yaml", "tasks:\n  - id: x\n    operator: noop\n    depends_on: [y]\n")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        with open(os.path.join(self.dags, name), "w") as f:
            f.write(text)

    def test_dags_list_json_has_the_api_shape(self):
        code, out, err = run("dags", "list", "--dags", self.dags, "-o", "json",
                             "--config", "/nonexistent.yaml")
        self.assertEqual(code, 0, err)
        data = json.loads(out)
        self.assertEqual(data["total_entries"], 2)
        good, broken = data["dags"]
        self.assertEqual(good["dag_id"], "good")
        # No database yet: a DAG starts paused (dags_are_paused_at_creation defaults to true).
        self.assertEqual(good["is_paused"], True)
        self.assertEqual(good["has_import_errors"], False)
        self.assertIsNone(good["import_error"])
        self.assertEqual(good["schedule_interval"],
                         {"__type": "CronExpression", "value": "0 6 * * *"})
        self.assertEqual(good["tags"], [{"name": "a"}, {"name": "b"}])
        # 06:00 in New York on 2030-01-01 is 11:00Z.
        self.assertEqual(good["next_dagrun"], "2030-01-01T11:00:00Z")
        self.assertEqual(good["next_dagrun_data_interval_end"], "2030-01-02T11:00:00Z")
        self.assertEqual(broken["dag_id"], "broken")
        self.assertEqual(broken["has_import_errors"], True)
        self.assertEqual(broken["import_error"],
                         self.dags + "/broken.yaml:4:18: task 'x' depends on unknown task 'y'")

    def test_dags_list_table_shows_broken_files(self):
        code, out, err = run("--dags", self.dags, "dags", "list")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["dag_id", "paused", "schedule", "timezone",
                                            "next_dagrun", "tags", "file"])
        self.assertTrue(lines[1].startswith("good "))
        self.assertIn("2030-01-01T11:00:00Z", lines[1])
        self.assertEqual(lines[2], "broken: " + self.dags +
                         "/broken.yaml:4:18: task 'x' depends on unknown task 'y'")

    def test_validate_exits_2_and_prints_located_errors(self):
        code, out, _ = run("dags", "validate", "--dags", self.dags)
        self.assertEqual(code, 2)
        self.assertEqual(out, self.dags + "/broken.yaml:4:18: task 'x' depends on unknown "
                         "task 'y'\n2 files, 1 invalid\n")
        code, out, _ = run("dags", "validate", os.path.join(self.dags, "good.yaml"))
        self.assertEqual((code, out), (0, "1 file, 0 invalid\n"))
        code, out, _ = run("dags", "validate", os.path.join(self.dags, "broken.yaml"), "-o", "json")
        self.assertEqual(code, 2)
        self.assertEqual(json.loads(out), {"files": [{
            "path": self.dags + "/broken.yaml", "dag_id": "broken", "valid": False,
            "errors": [{"file": self.dags + "/broken.yaml", "line": 4, "column": 18,
                        "message": "task 'x' depends on unknown task 'y'"}]}],
            "total_entries": 1})

    def test_validate_the_example_dags(self):
        code, out, err = run("dags", "validate", "--dags", os.path.join(SOURCE, "dags"))
        self.assertEqual((code, out), (0, "6 files, 0 invalid\n"), err)

    def test_show_text_dot_svg(self):
        code, out, _ = run("dags", "show", "good", "--dags", self.dags)
        self.assertEqual(code, 0)
        self.assertIn("  second [noop] <- first\n", out)
        code, out, _ = run("dags", "show", "good", "--dags", self.dags, "--format", "dot")
        self.assertIn('  "first" -> "second";\n', out)
        code, out, _ = run("dags", "show", "good", "--dags", self.dags, "--format", "svg")
        self.assertEqual(code, 0)
        self.assertIn("<svg", out)
        self.assertIn("<title>first&#45;&gt;second</title>", out)

    def test_unknown_and_broken_dags_are_bad_input(self):
        code, _, err = run("dags", "show", "god", "--dags", self.dags)
        self.assertEqual(code, 2)
        self.assertEqual(err, "conveyor: error: unknown DAG 'god', did you mean 'good'?\n")
        code, _, err = run("dags", "next", "broken", "--dags", self.dags)
        self.assertEqual(code, 2)
        self.assertEqual(err, "conveyor: error: DAG 'broken' is broken: " + self.dags +
                         "/broken.yaml:4:18: task 'x' depends on unknown task 'y'\n")

    def test_dags_next(self):
        code, out, _ = run("dags", "next", "good", "-n", "2", "--from", "2030-03-07T12:00",
                           "--dags", self.dags, "-o", "json")
        self.assertEqual(code, 0)
        # Dates without an offset are in the DAG's zone; DST starts on 2030-03-10 in New York.
        self.assertEqual(json.loads(out), {"dag_id": "good", "total_entries": 2, "next_dagruns": [
            {"logical_date": "2030-03-07T11:00:00Z", "data_interval_start": "2030-03-07T11:00:00Z",
             "data_interval_end": "2030-03-08T11:00:00Z", "run_after": "2030-03-08T11:00:00Z"},
            {"logical_date": "2030-03-08T11:00:00Z", "data_interval_start": "2030-03-08T11:00:00Z",
             "data_interval_end": "2030-03-09T11:00:00Z", "run_after": "2030-03-09T11:00:00Z"}]})

    def test_cron_next(self):
        code, out, _ = run("cron", "next", "30 2 * * *", "--tz", "America/New_York",
                           "--from", "2026-03-07T12:00Z", "-n", "3")
        self.assertEqual((code, out), (0, "2026-03-08T07:00:00Z\n2026-03-09T06:30:00Z\n"
                                          "2026-03-10T06:30:00Z\n"))
        code, out, _ = run("cron", "next", "@hourly", "--from", "2026-01-01T00:00")
        self.assertEqual((code, out), (0, "2026-01-01T01:00:00Z\n"))
        code, _, err = run("cron", "next", "61 * * * *")
        self.assertEqual(code, 2)
        self.assertEqual(err, "conveyor: error: invalid cron expression '61 * * * *': minute "
                              "value 61 is out of range 0-59\n")
        code, _, err = run("cron", "next", "* * * * *", "--tz", "Mars/Olympus")
        self.assertEqual(code, 2)
        code, _, err = run("cron", "next", "* * * * *", "--from", "tomorrow")
        self.assertEqual(code, 2)
        self.assertIn("--from: invalid date 'tomorrow'", err)

    def test_help_and_bad_flags(self):
        for args in (["--help"], ["dags", "--help"], ["dags", "show", "--help"],
                     ["cron", "next", "--help"]):
            code, out, _ = run(*args)
            self.assertEqual(code, 0, args)
            self.assertIn("Usage", out)
        code, _, _ = run("dags", "list", "--frobnicate")
        self.assertEqual(code, 2)
        code, _, _ = run("dags", "list", "-o", "xml")
        self.assertEqual(code, 2)
        code, _, _ = run()
        self.assertEqual(code, 2)

    def test_config_file_supplies_the_dags_folder(self):
        config = os.path.join(self.dir, "conf", "conveyor.yaml")
        os.makedirs(os.path.dirname(config))
        with open(config, "w") as f:
            f.write("dags_folder: ../dags\n")
        code, out, _ = run("--config", config, "dags", "list", "-o", "json")
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out)["total_entries"], 2)
        with open(config, "w") as f:
            f.write("dags_folder: ../dags\nport: [1]\n")
        code, _, err = run("--config", config, "dags", "list")
        self.assertEqual(code, 2)
        self.assertEqual(err, "conveyor: error: " + config + ":2:7: 'port' must be a single value\n")


class RunCommandsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="conveyor_runs_")
        self.dags = os.path.join(self.dir, "dags")
        os.makedirs(self.dags)
        with open(os.path.join(self.dags, "pipe.yaml"), "w") as f:
            f.write("""params: {who: nobody}
tasks:
  - {id: make, command: 'echo "n=7" >> "$CONVEYOR_OUTPUT"; echo made {{ params.who }}'}
  - {id: use, depends_on: [make], command: ["echo", "got {{ outputs.make.n }}"]}
  - {id: flaky, command: "test -f %s/ok", retries: 1, retry_delay: 100ms}
""" % self.dir)
        self.base = ["--dags", self.dags, "--db", os.path.join(self.dir, "state", "c.db")]

    def tearDown(self):
        shutil.rmtree(self.dir)

    def conveyor(self, *args):
        return run(*self.base, *args)

    def test_trigger_wait_logs_tasks_clear_resume(self):
        code, out, err = self.conveyor("dags", "trigger", "pipe", "--run-id", "r1", "--wait",
                                       "--conf", '{"who": "alice"}')
        self.assertEqual(code, 1, out + err)  # flaky fails twice
        self.assertIn("created run r1 (queued)\n", out)
        self.assertIn("  make  queued -> running (try 1)\n", out)
        self.assertIn("  flaky  running -> up_for_retry (try 1): command exited with code 1\n", out)
        self.assertIn("  flaky  running -> failed (try 2): command exited with code 1\n", out)
        self.assertTrue(out.endswith("run r1: failed\n"), out)

        code, out, _ = self.conveyor("logs", "pipe", "r1", "make")
        self.assertEqual((code, out), (0, "made alice\n"))
        code, out, _ = self.conveyor("logs", "pipe", "r1", "use")
        self.assertEqual((code, out), (0, "got 7\n"))
        code, out, _ = self.conveyor("logs", "pipe", "r1", "flaky", "--try", "1")
        self.assertEqual((code, out), (0, "conveyor: command exited with code 1\n"))
        code, _, err = self.conveyor("logs", "pipe", "r1", "flaky", "--try", "3")
        self.assertEqual((code, err), (2, "conveyor: error: task 'flaky' has no try 3\n"))

        code, out, _ = self.conveyor("tasks", "list", "pipe", "r1", "-o", "json")
        self.assertEqual(code, 0)
        tis = json.loads(out)
        self.assertEqual(tis["total_entries"], 3)
        by_id = {t["task_id"]: t for t in tis["task_instances"]}
        self.assertEqual((by_id["make"]["state"], by_id["make"]["try_number"]), ("success", 1))
        self.assertEqual((by_id["flaky"]["state"], by_id["flaky"]["try_number"],
                          by_id["flaky"]["max_tries"]), ("failed", 2, 2))
        self.assertEqual(by_id["use"]["dag_run_id"], "r1")

        code, out, _ = self.conveyor("runs", "list", "pipe", "--state", "failed", "-o", "json")
        runs = json.loads(out)
        self.assertEqual(runs["total_entries"], 1)
        self.assertEqual(runs["dag_runs"][0]["dag_run_id"], "r1")
        self.assertEqual(runs["dag_runs"][0]["conf"], {"who": "alice"})
        self.assertEqual(runs["dag_runs"][0]["state"], "failed")

        open(os.path.join(self.dir, "ok"), "w").close()
        code, out, _ = self.conveyor("tasks", "clear", "pipe", "r1", "--task", "flaky")
        self.assertEqual(code, 0)
        self.assertIn("cleared 1 task instance(s) of r1: flaky\n", out)
        code, out, _ = self.conveyor("runs", "resume", "pipe", "r1", "--wait")
        self.assertEqual(code, 0, out)
        self.assertIn("  flaky  running -> success (try 3)\n", out)
        self.assertNotIn("  make  ", out)

    def test_bad_input_exit_codes(self):
        code, _, err = self.conveyor("dags", "trigger", "pipe", "--run-id", "x")
        self.assertEqual(code, 0)
        code, _, err = self.conveyor("dags", "trigger", "pipe", "--run-id", "x")
        self.assertEqual((code, err), (2, "conveyor: error: DAG 'pipe' already has a run 'x'\n"))
        code, _, err = self.conveyor("dags", "trigger", "pipe", "--conf", "[1]")
        self.assertEqual((code, err), (2, "conveyor: error: conf must be a JSON object, got [1]\n"))
        code, _, err = self.conveyor("dags", "trigger", "pipe", "--conf", "{nope")
        self.assertEqual((code, err), (2, "conveyor: error: --conf is not valid JSON: {nope\n"))
        code, _, err = self.conveyor("runs", "resume", "pipe", "nope", "--wait")
        self.assertEqual((code, err), (2, "conveyor: error: DAG 'pipe' has no run 'nope'\n"))
        code, _, err = self.conveyor("runs", "list", "--state", "done")
        self.assertEqual(code, 2)

    def test_a_dag_file_is_parsed_again_only_when_it_changes(self):
        path = os.path.join(self.dags, "edit.yaml")
        with open(path, "w") as f:
            f.write("tasks:\n  - {id: a, operator: noop}\n")
        code, out, err = self.conveyor("dags", "trigger", "edit", "--run-id", "r1", "--wait")
        self.assertEqual(code, 0, out + err)
        db = sqlite3.connect(os.path.join(self.dir, "state", "c.db"))
        notes = subprocess.run(["readelf", "-n", CONVEYOR], capture_output=True, text=True,
                               check=True).stdout
        build_id = notes.split("Build ID:")[1].split()[0]
        self.assertEqual(db.execute("SELECT build, source FROM parsed_dag_files WHERE path = ?",
                                    (path,)).fetchall(),
                         [(build_id, b"tasks:\n  - {id: a, operator: noop}\n")])
        with open(path, "a") as f:
            f.write("  - {id: b, operator: noop, depends_on: [a]}\n")
        code, out, err = self.conveyor("dags", "trigger", "edit", "--run-id", "r2", "--wait")
        self.assertEqual(code, 0, out + err)
        self.assertIn("  b  running -> success (try 1)\n", out)
        # A damaged record is parsed again and replaced.
        with db:
            db.execute("UPDATE parsed_dag_files SET dag = x'01ff'")
        code, out, err = self.conveyor("dags", "trigger", "edit", "--run-id", "r3", "--wait")
        self.assertEqual(code, 0, out + err)
        self.assertIn("  b  running -> success (try 1)\n", out)
        (size,) = db.execute("SELECT length(dag) FROM parsed_dag_files").fetchone()
        self.assertGreater(size, 2)
        code, out, _ = self.conveyor("tasks", "list", "edit", "r3", "-o", "json")
        self.assertEqual([t["task_id"] for t in json.loads(out)["task_instances"]], ["a", "b"])

    def test_tasks_test_records_nothing(self):
        code, out, _ = self.conveyor("tasks", "test", "pipe", "make", "2026-03-01")
        self.assertEqual((code, out), (0, "made nobody\noutputs: {\"n\":\"7\"}\ntask make: success\n"))
        code, out, _ = self.conveyor("tasks", "test", "pipe", "use")
        self.assertEqual(code, 1)
        self.assertEqual(out, "task use: failed: cannot render command.1: unknown template name "
                              "'outputs.make.n'\n")
        code, out, _ = self.conveyor("runs", "list", "-o", "json")
        self.assertEqual(json.loads(out)["total_entries"], 0)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
