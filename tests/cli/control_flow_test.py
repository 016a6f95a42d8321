#!/usr/bin/python3
"""End-to-end tests of control flow (skips, branches, short-circuits, trigger rules, latest_only)
with real processes: each DAG is triggered and run by the conveyor binary, and the task states
it stored are read back.

Usage: control_flow_test.py CONVEYOR
"""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"


class ControlFlowTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="conveyor_flow_")
        self.dags = os.path.join(self.dir, "dags")
        os.makedirs(self.dags)
        self.base = ["--dags", self.dags, "--db", os.path.join(self.dir, "state", "c.db")]

    def tearDown(self):
        shutil.rmtree(self.dir)

    def conveyor(self, *args):
        result = subprocess.run([CONVEYOR, *self.base, *args], capture_output=True, text=True,
                                timeout=60)
        return result.returncode, result.stdout, result.stderr

    def dag(self, dag_id, text):
        with open(os.path.join(self.dags, dag_id + ".yaml"), "w") as f:
            f.write(text)

    def trigger(self, dag_id, run_id="r1", conf=None):
        args = ["dags", "trigger", dag_id, "--run-id", run_id, "--wait"]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        code, out, err = self.conveyor(*args)
        return code, out + err

    def states(self, dag_id, run_id="r1"):
        code, out, err = self.conveyor("tasks", "list", dag_id, run_id, "-o", "json")
        self.assertEqual(code, 0, err)
        return {t["task_id"]: t["state"] for t in json.loads(out)["task_instances"]}

    def notes(self, dag_id, run_id="r1"):
        code, out, err = self.conveyor("tasks", "list", dag_id, run_id, "-o", "json")
        self.assertEqual(code, 0, err)
        return {t["task_id"]: t["note"] for t in json.loads(out)["task_instances"]}

    def test_exit_code_99_skips_and_skip_on_exit_code_chooses_the_codes(self):
        self.dag("skips", """tasks:
  - {id: default99, command: "exit 99"}
  - {id: after, command: "true", depends_on: [default99]}
  - {id: custom, command: "exit 4", skip_on_exit_code: [3, 4]}
  - {id: custom99, command: "exit 99", skip_on_exit_code: 3}
  - {id: never, command: "exit 99", skip_on_exit_code: null, retries: 0}
""")
        code, out = self.trigger("skips")
        self.assertEqual(code, 1, out)  # custom99 and never fail
        self.assertEqual(self.states("skips"), {
            "default99": "skipped", "after": "skipped", "custom": "skipped",
            "custom99": "failed", "never": "failed"})
        self.assertIn("  default99  running -> skipped (try 1): skipped: the command exited with "
                      "code 99 (skip_on_exit_code)\n", out)
        self.assertEqual(self.notes("skips")["default99"],
                         "skipped: the command exited with code 99 (skip_on_exit_code)")

    def test_a_shell_branch_follows_one_or_several_tasks_and_the_join_runs(self):
        self.dag("branchy", """params: {pick: b}
tasks:
  - id: choose
    branch: true
    command: 'echo "branch={{ params.pick }}" >> "$CONVEYOR_OUTPUT"'
  - {id: a, command: "true", depends_on: [choose]}
  - {id: b, command: "true", depends_on: [choose]}
  - {id: c, command: "true", depends_on: [choose]}
  - {id: after_a, command: "true", depends_on: [a]}
  - {id: join, command: "true", depends_on: [a, b, c], trigger_rule: none_failed_min_one_success}
  - {id: strict_join, command: "true", depends_on: [a, b, c]}
""")
        code, out = self.trigger("branchy")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.states("branchy"), {
            "choose": "success", "a": "skipped", "b": "success", "c": "skipped",
            "after_a": "skipped", "join": "success", "strict_join": "skipped"})
        notes = self.notes("branchy")
        self.assertEqual(notes["a"], "skipped: branch 'choose' chose b")
        self.assertIsNone(notes["b"])
        self.assertIsNone(notes["after_a"])  # skipped by its trigger rule, not by the branch

        code, out = self.trigger("branchy", "r2", {"pick": "a, c"})
        self.assertEqual(code, 0, out)
        self.assertEqual(self.states("branchy", "r2"), {
            "choose": "success", "a": "success", "b": "skipped", "c": "success",
            "after_a": "success", "join": "success", "strict_join": "skipped"})

    def test_a_branch_to_an_unknown_task_fails_with_a_clear_error(self):
        self.dag("badbranch", """tasks:
  - {id: choose, branch: true, command: 'echo "branch=nope" >> "$CONVEYOR_OUTPUT"'}
  - {id: a, command: "true", depends_on: [choose]}
  - {id: b, command: "true", depends_on: [choose]}
""")
        code, out = self.trigger("badbranch")
        self.assertEqual(code, 1, out)
        self.assertIn("  choose  running -> failed (try 1): branch task 'choose' chose 'nope', which "
                      "is not a task directly downstream of it (those are: a, b)\n", out)
        self.assertEqual(self.states("badbranch"),
                         {"choose": "failed", "a": "upstream_failed", "b": "upstream_failed"})
        self.dag("silent", """tasks:
  - {id: choose, branch: true, command: "true"}
  - {id: a, command: "true", depends_on: [choose]}
""")
        code, out = self.trigger("silent")
        self.assertEqual(code, 1, out)
        self.assertIn("branch task 'choose' chose nothing: it must write the output 'branch' "
                      "(e.g. branch=TASK_ID to $CONVEYOR_OUTPUT)\n", out)

    def test_the_branch_operator_chooses_from_its_rendered_args(self):
        self.dag("pick", """params: {model: champion}
tasks:
  - {id: decide, operator: branch, args: {choose: "keep_{{ params.model }}"}}
  - {id: keep_champion, command: "true", depends_on: [decide]}
  - {id: keep_challenger, command: "true", depends_on: [decide]}
  - {id: empty_join, command: "true", depends_on: [decide, keep_challenger],
     trigger_rule: none_failed_min_one_success}
""")
        code, out = self.trigger("pick", conf={"model": "challenger"})
        self.assertEqual(code, 0, out)
        # A direct downstream task that also follows the chosen one is not skipped (Airflow's
        # skip_all_except).
        self.assertEqual(self.states("pick"), {
            "decide": "success", "keep_champion": "skipped", "keep_challenger": "success",
            "empty_join": "success"})

    def short_circuit_dag(self, ignore):
        return """tasks:
  - {id: check, short_circuit: true, ignore_downstream_trigger_rules: %s,
     command: "exit {{ params.code }}"}
  - {id: direct, command: "true", depends_on: [check]}
  - {id: done_after, command: "true", depends_on: [direct], trigger_rule: all_done}
  - {id: final, command: "true", depends_on: [done_after], trigger_rule: one_success}
params: {code: 99}
""" % ("true" if ignore else "false")

    def test_a_short_circuit_skips_everything_downstream_by_default(self):
        self.dag("sc", self.short_circuit_dag(True))
        code, out = self.trigger("sc")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.states("sc"), {
            "check": "success", "direct": "skipped", "done_after": "skipped", "final": "skipped"})
        self.assertEqual(self.notes("sc")["final"], "skipped: short-circuit 'check' was false")
        code, out = self.trigger("sc", "r2", {"code": 0})
        self.assertEqual(code, 0, out)
        self.assertEqual(set(self.states("sc", "r2").values()), {"success"})

    def test_a_short_circuit_that_respects_trigger_rules_skips_only_its_direct_downstream(self):
        self.dag("sc2", self.short_circuit_dag(False))
        code, out = self.trigger("sc2")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.states("sc2"), {
            "check": "success", "direct": "skipped", "done_after": "success", "final": "success"})

    def test_the_short_circuit_operator_reads_its_condition(self):
        self.dag("gate", """params: {go: "yes"}
tasks:
  - {id: gate, operator: short_circuit, args: {condition: "{{ params.go }}"}}
  - {id: publish, command: "true", depends_on: [gate]}
""")
        for run_id, go, expected in [("r1", "yes", "success"), ("r2", "False", "skipped"),
                                     ("r3", "", "skipped"), ("r4", "1", "success")]:
            code, out = self.trigger("gate", run_id, {"go": go})
            self.assertEqual(code, 0, out)
            self.assertEqual(self.states("gate", run_id)["publish"], expected, go)

    def test_branch_and_short_circuit_are_checked_at_load(self):
        self.dag("bad", """tasks:
  - {id: t, operator: noop, short_circuit: true}
  - {id: u, command: "true", branch: true, short_circuit: true}
  - {id: v, command: "true", ignore_downstream_trigger_rules: false}
  - {id: w, command: "true", skip_on_exit_code: 300}
""")
        code, out, err = self.conveyor("dags", "validate", os.path.join(self.dags, "bad.yaml"))
        self.assertEqual(code, 2, out + err)
        self.assertIn("bad.yaml:2:44: 'short_circuit: true' needs a shell task (a command); operator "
                      "'noop' has no exit code\n", out + err)
        self.assertIn("bad.yaml:3:59: task 'u' cannot be both a branch and a short-circuit\n",
                      out + err)
        self.assertIn("bad.yaml:4:63: 'ignore_downstream_trigger_rules' applies only to a "
                      "short-circuit task\n", out + err)
        self.assertIn("bad.yaml:5:49: skip_on_exit_code must be an exit code from 1 to 255, got "
                      "300\n", out + err)

    def test_latest_only_skips_every_backfilled_interval_but_the_latest(self):
        today = datetime.datetime.now(datetime.timezone.utc).date()
        start = today - datetime.timedelta(days=3)
        self.dag("daily", """schedule: "@daily"
start_date: "%s"
tasks:
  - {id: score, command: "true"}
  - {id: publish, command: "true", depends_on: [score], latest_only: true}
  - {id: notify, command: "true", depends_on: [publish]}
""" % start.isoformat())
        end = today - datetime.timedelta(days=1)
        code, out, err = self.conveyor("dags", "backfill", "daily", "--start-date",
                                       start.isoformat(), "--end-date", end.isoformat())
        self.assertEqual(code, 0, out + err)
        code, out, _ = self.conveyor("runs", "list", "daily", "-o", "json")
        runs = sorted(json.loads(out)["dag_runs"], key=lambda r: r["logical_date"])
        self.assertEqual(len(runs), 3)
        published = [self.states("daily", r["dag_run_id"])["publish"] for r in runs]
        notified = [self.states("daily", r["dag_run_id"])["notify"] for r in runs]
        # Only the interval [yesterday, today) is the latest.
        self.assertEqual(published, ["skipped", "skipped", "success"])
        self.assertEqual(notified, ["skipped", "skipped", "success"])
        self.assertEqual(self.notes("daily", runs[0]["dag_run_id"])["publish"],
                         "skipped: latest_only, and run '%s' is not the latest scheduled interval"
                         % runs[0]["dag_run_id"])
        # A manual run is never skipped by latest_only (Airflow's rule).
        code, out = self.trigger("daily", "manual1")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.states("daily", "manual1")["publish"], "success")

    def wait_for(self, predicate, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        self.fail("timed out waiting for " + what)

    def logical_date(self, dag_id, run_id):
        code, out, _ = self.conveyor("runs", "list", dag_id, "-o", "json")
        for run in json.loads(out)["dag_runs"]:
            if run["dag_run_id"] == run_id:
                return run["logical_date"].replace("+00:00", "Z")
        self.fail("no run " + run_id)

    def background_resume(self, dag_id, run_id):
        process = subprocess.Popen([CONVEYOR, *self.base, "runs", "resume", dag_id, run_id,
                                    "--wait"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        self.addCleanup(lambda: process.poll() is None and process.kill())
        return process

    def test_depends_on_past_a_failed_past_blocks_and_a_cleared_one_unblocks(self):
        self.dag("incr", """default_args: {depends_on_past: true}
tasks:
  - {id: train, command: 'test ! -f "%s/fail_{{ run_id }}"'}
  - {id: score, command: "true", depends_on: [train], depends_on_past: false}
""" % self.dir)
        open(os.path.join(self.dir, "fail_r1"), "w").close()
        code, out = self.trigger("incr", "r1")
        self.assertEqual(code, 1, out)
        time.sleep(1.1)  # the next run's logical date is later (they are kept to the second)
        code, out, err = self.conveyor("dags", "trigger", "incr", "--run-id", "r2")
        self.assertEqual(code, 0, out + err)
        r2 = self.background_resume("incr", "r2")
        expected = ("waiting for incr/%s/train, which is failed (depends_on_past)"
                    % self.logical_date("incr", "r1"))
        self.wait_for(lambda: self.notes("incr", "r2")["train"] == expected, "r2 to wait")
        self.assertEqual(self.states("incr", "r2"), {"train": None, "score": None})
        code, out, err = self.conveyor("tasks", "list", "incr", "r2")
        self.assertIn(expected, out)

        os.remove(os.path.join(self.dir, "fail_r1"))
        code, out, err = self.conveyor("tasks", "clear", "incr", "r1", "--task", "train",
                                        "--downstream")
        self.assertEqual(code, 0, out + err)
        code, out, err = self.conveyor("runs", "resume", "incr", "r1", "--wait")
        self.assertEqual(code, 0, "r1: " + out + err)
        out, _ = r2.communicate(timeout=30)
        self.assertEqual(r2.returncode, 0, "r2: " + out)
        self.assertIn("  train  none: " + expected + "\n", out)
        self.assertEqual(self.states("incr", "r2"), {"train": "success", "score": "success"})
        self.assertIsNone(self.notes("incr", "r2")["train"])

        time.sleep(1.1)
        code, out = self.trigger("incr", "r3")
        self.assertEqual(code, 0, out)
        self.assertNotIn("waiting", out)

    def test_wait_for_downstream_waits_for_the_past_tasks_direct_downstream(self):
        self.dag("wfd", """tasks:
  - {id: extract, command: "true", wait_for_downstream: true}
  - {id: load, command: 'test ! -f "%s/fail_{{ run_id }}"', depends_on: [extract]}
""" % self.dir)
        open(os.path.join(self.dir, "fail_r1"), "w").close()
        code, out = self.trigger("wfd", "r1")
        self.assertEqual(code, 1, out)
        self.assertEqual(self.states("wfd", "r1"), {"extract": "success", "load": "failed"})
        time.sleep(1.1)
        self.conveyor("dags", "trigger", "wfd", "--run-id", "r2")
        r2 = self.background_resume("wfd", "r2")
        expected = ("waiting for wfd/%s/load, which is failed (wait_for_downstream)"
                    % self.logical_date("wfd", "r1"))
        self.wait_for(lambda: self.notes("wfd", "r2")["extract"] == expected, "r2 to wait")
        os.remove(os.path.join(self.dir, "fail_r1"))
        self.conveyor("tasks", "clear", "wfd", "r1", "--task", "load")
        code, out, err = self.conveyor("runs", "resume", "wfd", "r1", "--wait")
        self.assertEqual(code, 0, out + err)
        out, _ = r2.communicate(timeout=30)
        self.assertEqual(r2.returncode, 0, out)

    def test_depends_on_past_between_runs_of_one_backfill(self):
        today = datetime.datetime.now(datetime.timezone.utc).date()
        start = today - datetime.timedelta(days=4)
        self.dag("chain", """schedule: "@daily"
start_date: "%s"
max_active_runs: 4
tasks:
  - {id: step, command: 'echo "$CONVEYOR_LOGICAL_DATE $(date +%%s%%N)" >> "%s/order"',
     depends_on_past: true}
""" % (start.isoformat(), self.dir))
        code, out, err = self.conveyor("dags", "backfill", "chain", "--start-date",
                                       start.isoformat(), "--end-date",
                                       (today - datetime.timedelta(days=1)).isoformat())
        self.assertEqual(code, 0, out + err)
        with open(os.path.join(self.dir, "order")) as f:
            lines = [line.split() for line in f.read().splitlines()]
        # Each interval's step started after the one before ended, in logical date order.
        self.assertEqual([l[0] for l in lines], sorted(l[0] for l in lines))
        self.assertEqual(len(lines), 4)

    def test_groups_prefix_ids_give_default_args_and_take_dependencies(self):
        self.dag("grouped", """default_args: {retries: 0}
groups:
  - id: features
    description: feature engineering
    default_args: {retries: 2, retry_delay: 10ms}
    depends_on: [ingest]
    tasks:
      - {id: scale, command: 'echo "rows=3" >> "$CONVEYOR_OUTPUT"'}
      - {id: encode, command: "true", depends_on: [scale]}
tasks:
  - {id: ingest, command: 'echo ingest >> "%s/order"'}
  - {id: extra, group: features, depends_on: [scale],
     command: 'echo "extra {{ outputs.features.scale.rows }}" >> "%s/order"'}
  - {id: train, depends_on: [features], command: 'echo train >> "%s/order"', retries: 1}
""" % (self.dir, self.dir, self.dir))
        code, out, err = self.conveyor("dags", "show", "grouped")
        self.assertEqual(code, 0, out + err)
        self.assertIn("  features.scale [shell] <- ingest (retries 2 every 10ms)\n", out)
        self.assertIn("  train [shell] <- features.encode, features.extra (retries 1 every 5m)\n",
                      out)
        code, out = self.trigger("grouped")
        self.assertEqual(code, 0, out)
        code, out, _ = self.conveyor("tasks", "list", "grouped", "r1", "-o", "json")
        tis = {t["task_id"]: t for t in json.loads(out)["task_instances"]}
        self.assertEqual(sorted(tis), ["features.encode", "features.extra", "features.scale",
                                       "ingest", "train"])
        self.assertEqual({t: tis[t]["max_tries"] for t in tis}, {
            "features.encode": 3, "features.extra": 3, "features.scale": 3, "ingest": 1,
            "train": 2})
        with open(os.path.join(self.dir, "order")) as f:
            self.assertEqual(f.read(), "ingest\nextra 3\ntrain\n")

    def test_group_mistakes_are_reported_where_they_are(self):
        self.dag("badgroups", """groups:
  - {id: g, depends_on: [nowhere], tasks: [{id: a, command: "true", depends_on: [g]}]}
  - {id: "x.y", tasks: []}
  - {id: empty}
tasks:
  - {id: b, group: gg, command: "true"}
""")
        code, out, err = self.conveyor("dags", "validate", os.path.join(self.dags, "badgroups.yaml"))
        self.assertEqual(code, 2, out + err)
        text = out + err
        self.assertIn("badgroups.yaml:2:10: group 'g' depends on unknown task 'nowhere'\n", text)
        self.assertIn("badgroups.yaml:2:82: task 'g.a' is in group 'g' and cannot depend on it\n",
                      text)
        self.assertIn("badgroups.yaml:3:10: invalid group id 'x.y' (use letters, digits, '_' and "
                      "'-': its tasks are GROUP.TASK)\n", text)
        self.assertIn("badgroups.yaml:4:10: group 'empty' has no tasks\n", text)
        self.assertIn("badgroups.yaml:6:20: unknown group 'gg'\n", text)

    def test_a_deadline_is_checked_at_load(self):
        self.dag("baddeadline", """deadline: {after: soon, reference: finish, on_miss: [{webhook: ftp://x}]}
tasks:
  - {id: a, command: "true"}
""")
        code, out, err = self.conveyor("dags", "validate",
                                       os.path.join(self.dags, "baddeadline.yaml"))
        self.assertEqual(code, 2, out + err)
        self.assertIn("baddeadline.yaml:1:19: 'after': invalid duration 'soon'", out + err)
        self.assertIn("baddeadline.yaml:1:36: unknown deadline reference 'finish' (expected "
                      "logical_date, queued or start)\n", out + err)
        self.assertIn("baddeadline.yaml:1:64: 'webhook' must be an http:// or https:// URL, got "
                      "'ftp://x'\n", out + err)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
