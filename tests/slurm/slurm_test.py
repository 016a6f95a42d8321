#!/usr/bin/python3
"""conveyor on a real Slurm cluster (scripts/slurm_cluster.sh starts a single-node one): mixed
local and Slurm tasks, the ML operators as Slurm jobs, retries, timeouts, logs and outputs, a
SIGKILL of conveyor while jobs run (the jobs are adopted, never submitted twice), and a job that
Slurm no longer knows.
Usage: slurm_test.py CONVEYOR SOURCE_DIR   (SLURM_CONF must name the cluster's slurm.conf;
without it the test is skipped with exit code 77)
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

CONVEYOR = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "conveyor"
SOURCE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
GENERATOR = os.path.join(SOURCE, "scripts", "generate_credit_data.py")

MIXED = """dag_id: mixed
schedule: null
tasks:
  - id: prepare
    command: echo "rows=42" >> "$CONVEYOR_OUTPUT"
  - id: on_slurm
    executor: slurm
    slurm: {cpus: 1, mem: 64M, time: "5"}
    depends_on: [prepare]
    command: >-
      echo "got {{ outputs.prepare.rows }} in job $SLURM_JOB_ID";
      echo "score=0.9" >> "$CONVEYOR_OUTPUT"
  - id: report
    depends_on: [on_slurm]
    command: echo "score {{ outputs.on_slurm.score }}"
"""

FAILING = """dag_id: failing
schedule: null
default_args: {executor: slurm, retries: 1, retry_delay: 0s}
tasks:
  - id: breaks
    command: echo "try $CONVEYOR_TRY_NUMBER fails"; exit 3
  - id: after
    depends_on: [breaks]
    command: echo never
"""

TIMEOUT = """dag_id: timeout
schedule: null
tasks:
  - id: slow
    executor: slurm
    execution_timeout: 2s
    command: echo started; sleep {seconds}
"""

SLOW = """dag_id: {dag_id}
schedule: null
tasks:
  - id: wait
    executor: slurm
    command: sleep 4; echo "done=yes" >> "$CONVEYOR_OUTPUT"
  - id: after
    depends_on: [wait]
    command: echo "after {{ outputs.wait.done }}"
"""

ML = """dag_id: ml_on_slurm
schedule: null
default_args: {executor: slurm}
tasks:
  - id: ingest
    operator: ingest
    executor: local
    args: {source: train.csv, table: loans}
  - id: train
    operator: train
    depends_on: [ingest]
    args:
      table: loans
      label: default
      exclude: [app_date]
      num_boost_round: 20
      register: {name: slurm_model, alias: production}
  - id: score
    operator: batch_infer
    depends_on: [train]
    args: {model: "slurm_model@production", table: loans, output_table: scored}
"""


RESOURCES = """dag_id: resources
schedule: null
default_args: {executor: slurm, resources: {cpus: 1.5, memory: 100MiB, gpus: 1}}
tasks:
  - id: derived
    command: "true"
  - id: explicit
    slurm: {mem: 64M, gres: "gpu:2"}
    command: "true"
"""


def sh(*args, check=True):
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError("%s: exit %d\n%s%s" % (" ".join(args), result.returncode,
                                                   result.stdout, result.stderr))
    return result


class SlurmTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="conveyor_slurm_")
        self.dags = os.path.join(self.dir, "dags")
        os.makedirs(self.dags)
        self.config = os.path.join(self.dir, "conveyor.yaml")
        jobcomp = os.path.join(os.path.dirname(os.environ["SLURM_CONF"]), "jobcomp.log")
        with open(self.config, "w") as f:
            f.write("dags_folder: dags\ndb: conveyor.db\nslurm:\n  poll_interval: 100ms\n"
                    "  jobcomp_file: %s\n" % jobcomp)
        self.db = os.path.join(self.dir, "conveyor.db")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        with open(os.path.join(self.dags, name), "w") as f:
            f.write(text)

    def conveyor(self, *args, check=True):
        result = subprocess.run([CONVEYOR, "--config", self.config, *args], capture_output=True,
                                text=True, cwd=self.dir, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError("conveyor %s: exit %d\n%s%s" % (
                " ".join(args), result.returncode, result.stdout, result.stderr))
        return result

    def tasks(self, dag, run_id):
        out = self.conveyor("tasks", "list", dag, run_id, "-o", "json").stdout
        return {t["task_id"]: t for t in json.loads(out)["task_instances"]}

    def tasks_once_the_run_exists(self, dag, run_id):
        """The run's tasks, or {} while `trigger` has not yet created the database or the run."""
        if not os.path.exists(self.db):
            return {}
        result = self.conveyor("tasks", "list", dag, run_id, "-o", "json", check=False)
        if result.returncode != 0 and "has no run '%s'" % run_id in result.stderr:
            return {}
        if result.returncode != 0:
            raise AssertionError("conveyor tasks list: exit %d\n%s" % (result.returncode,
                                                                      result.stderr))
        return {t["task_id"]: t for t in json.loads(result.stdout)["task_instances"]}

    def events(self, task_id):
        with sqlite3.connect(self.db) as db:
            return db.execute("SELECT try_number, from_state, to_state, note FROM events "
                              "WHERE task_id = ? ORDER BY id", (task_id,)).fetchall()

    def job_state(self, job_id):
        out = sh("scontrol", "show", "job", "-o", job_id, check=False).stdout
        for field in out.split():
            if field.startswith("JobState="):
                return field.split("=", 1)[1]
        return None

    def test_mixed_local_and_slurm_tasks_run_green_with_logs_and_outputs(self):
        self.write("mixed.yaml", MIXED)
        result = self.conveyor("dags", "trigger", "mixed", "--run-id", "r1", "--wait")
        self.assertIn("run r1: success", result.stdout)
        tis = self.tasks("mixed", "r1")
        self.assertEqual({t: ti["state"] for t, ti in tis.items()},
                         {"prepare": "success", "on_slurm": "success", "report": "success"})
        self.assertIsNone(tis["prepare"]["external_executor_id"])
        # The node the job ran on (the only one here).
        self.assertEqual(tis["on_slurm"]["hostname"], subprocess.run(
            ["hostname", "-s"], capture_output=True, text=True).stdout.strip())
        external = tis["on_slurm"]["external_executor_id"]
        self.assertRegex(external, r"^slurm:\d+$")
        job_id = external.split(":")[1]
        self.assertEqual(self.job_state(job_id), "COMPLETED")
        log = self.conveyor("logs", "mixed", "r1", "on_slurm").stdout
        self.assertEqual(log, "got 42 in job %s\n" % job_id)
        self.assertEqual(self.conveyor("logs", "mixed", "r1", "report").stdout, "score 0.9\n")
        # The job asked Slurm for what the task's options say.
        job = sh("scontrol", "show", "job", "-o", job_id).stdout
        self.assertIn("TimeLimit=00:05:00", job)
        self.assertIn("MinMemoryNode=64M", job)
        self.assertIn("JobName=conveyor.mixed.on_slurm", job)
        notes = [e[3] for e in self.events("on_slurm") if e[3]]
        self.assertEqual(notes, ["submitted as " + external])

    def test_resources_become_sbatch_flags_under_the_explicit_ones(self):
        self.write("resources.yaml", RESOURCES)
        result = self.conveyor("dags", "trigger", "resources", "--run-id", "r1", "--wait")
        self.assertIn("run r1: success", result.stdout)
        tis = self.tasks("resources", "r1")
        jobs = {t: sh("scontrol", "show", "job", "-o",
                      tis[t]["external_executor_id"].split(":")[1]).stdout.split()
                for t in ("derived", "explicit")}
        # 1.5 CPUs round up to 2; 100MiB is 100M; the test cluster has two GPUs.
        for field in ("CPUs/Task=2", "MinMemoryNode=100M", "TresPerNode=gres:gpu:1"):
            self.assertIn(field, jobs["derived"])
        for field in ("CPUs/Task=2", "MinMemoryNode=64M", "TresPerNode=gres:gpu:2"):
            self.assertIn(field, jobs["explicit"])

    def test_a_failing_slurm_task_is_retried_then_fails_its_run(self):
        self.write("failing.yaml", FAILING)
        result = self.conveyor("dags", "trigger", "failing", "--run-id", "r1", "--wait",
                               check=False)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("run r1: failed", result.stdout)
        tis = self.tasks("failing", "r1")
        self.assertEqual(tis["breaks"]["state"], "failed")
        self.assertEqual(tis["breaks"]["try_number"], 2)
        self.assertEqual(tis["after"]["state"], "upstream_failed")
        transitions = [(e[0], e[1], e[2]) for e in self.events("breaks") if e[1] != e[2]]
        self.assertEqual(transitions, [
            (0, None, "scheduled"), (1, "scheduled", "queued"), (1, "queued", "running"),
            (1, "running", "up_for_retry"), (1, "up_for_retry", "scheduled"),
            (2, "scheduled", "queued"), (2, "queued", "running"), (2, "running", "failed")])
        submitted = [e[3] for e in self.events("breaks") if e[3].startswith("submitted as")]
        self.assertEqual(len(submitted), 2)
        self.assertNotEqual(submitted[0], submitted[1])
        for note in submitted:
            self.assertEqual(self.job_state(note.split(":")[1]), "FAILED")
        log2 = self.conveyor("logs", "failing", "r1", "breaks", "--try", "2").stdout
        self.assertEqual(log2, "try 2 fails\nconveyor: command exited with code 3\n")

    def test_a_timeout_cancels_the_job(self):
        # Seconds no other process on the machine sleeps for (other tests sleep 300 too), so
        # that pgrep below finds this job's processes alone.
        seconds = "300.%d" % os.getpid()
        self.write("timeout.yaml", TIMEOUT.replace("{seconds}", seconds))
        started = time.monotonic()
        result = self.conveyor("dags", "trigger", "timeout", "--run-id", "r1", "--wait",
                               check=False)
        self.assertEqual(result.returncode, 1)
        self.assertLess(time.monotonic() - started, 30)
        ti = self.tasks("timeout", "r1")["slow"]
        self.assertEqual(ti["state"], "failed")
        job_id = ti["external_executor_id"].split(":")[1]
        self.assertIn(self.job_state(job_id), ("FAILED", "CANCELLED"))
        self.assertEqual(sh("squeue", "-h", "-j", job_id, check=False).stdout.strip(), "")
        log = self.conveyor("logs", "timeout", "r1", "slow").stdout
        self.assertTrue(log.startswith("started\n"), log)
        self.assertIn("conveyor: timed out: execution_timeout reached", log)
        # slurmd signals the job's processes once the job is cancelled; they go soon after.
        deadline = time.monotonic() + 10
        pattern = "sleep " + seconds.replace(".", "[.]")
        while sh("pgrep", "-f", pattern, check=False).stdout and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(sh("pgrep", "-f", pattern, check=False).stdout, "")

    def start_and_kill_while_running(self, run_id):
        """Starts `trigger --wait` on the slow DAG, SIGKILLs it once its Slurm job runs."""
        # A DAG id of its own, so that the job name is this test's alone.
        self.slow = "slow_%d_%s" % (os.getpid(), run_id)
        self.write("slow.yaml", SLOW.replace("{dag_id}", self.slow))
        proc = subprocess.Popen([CONVEYOR, "--config", self.config, "dags", "trigger", self.slow,
                                 "--run-id", run_id, "--wait"], cwd=self.dir,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ti = self.tasks_once_the_run_exists(self.slow, run_id).get("wait", {})
            if ti.get("state") == "running" and ti.get("external_executor_id"):
                break
            time.sleep(0.05)
        else:
            proc.kill()
            self.fail("the Slurm task never ran")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return ti["external_executor_id"].split(":")[1]

    def assert_adopted(self, run_id, job_id):
        result = self.conveyor("runs", "resume", self.slow, run_id, "--wait")
        self.assertIn("run %s: success" % run_id, result.stdout)
        tis = self.tasks(self.slow, run_id)
        self.assertEqual(tis["wait"]["state"], "success")
        self.assertEqual(tis["wait"]["try_number"], 1)
        self.assertEqual(tis["wait"]["external_executor_id"], "slurm:" + job_id)
        self.assertEqual(self.conveyor("logs", self.slow, run_id, "after").stdout, "after yes\n")
        submitted = [e for e in self.events("wait") if e[3].startswith("submitted as")]
        self.assertEqual(len(submitted), 1)
        adopted = [e[3] for e in self.events("wait") if e[3].startswith("adopted")]
        self.assertEqual(adopted, ["adopted slurm:%s after a restart" % job_id])
        # Slurm ran exactly one job for the task.
        jobs = sh("squeue", "-h", "--states=all", "-n", "conveyor.%s.wait" % self.slow, "-o",
                  "%i").stdout
        self.assertEqual(jobs.split(), [job_id])

    def test_killed_conveyor_adopts_the_running_job(self):
        job_id = self.start_and_kill_while_running("r1")
        self.assertEqual(self.job_state(job_id), "RUNNING")
        self.assert_adopted("r1", job_id)

    def test_a_job_that_ended_while_conveyor_was_down_gets_its_real_end(self):
        job_id = self.start_and_kill_while_running("r2")
        deadline = time.monotonic() + 60
        while self.job_state(job_id) != "COMPLETED" and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.job_state(job_id), "COMPLETED")
        self.assert_adopted("r2", job_id)

    def test_a_job_slurm_no_longer_knows_fails_truthfully(self):
        job_id = self.start_and_kill_while_running("r3")
        sh("scancel", job_id)
        # Until the job has left squeue (past COMPLETING), its run-try may still be writing.
        deadline = time.monotonic() + 60
        while (sh("squeue", "-h", "-j", job_id, check=False).stdout.strip()
               and time.monotonic() < deadline):
            time.sleep(0.1)
        folder = os.path.join(self.dir, "logs", "dag_id=" + self.slow, "run_id=r3", "task_id=wait")
        result = os.path.join(folder, "attempt=1.result.json")
        if os.path.exists(result):  # cancelled before run-try could write it, or not
            os.remove(result)
        # The job the database names is one Slurm has purged: no record, no result file.
        with sqlite3.connect(self.db) as db:
            db.execute("UPDATE task_instances SET external_executor_id = 'slurm:99999999' "
                       "WHERE task_id = 'wait'")
        result = self.conveyor("runs", "resume", self.slow, "r3", "--wait", check=False)
        self.assertEqual(result.returncode, 1)
        tis = self.tasks(self.slow, "r3")
        self.assertEqual(tis["wait"]["state"], "failed")
        self.assertEqual(tis["after"]["state"], "upstream_failed")
        log = self.conveyor("logs", self.slow, "r3", "wait").stdout
        self.assertIn("conveyor: Slurm job 99999999 is gone from Slurm (purged) and left no "
                      "result file\n", log)

    def test_serve_stopped_by_sigterm_leaves_the_job_running_and_adopts_it_on_start(self):
        self.slow = "slow_%d_serve" % os.getpid()
        self.write("slow.yaml", SLOW.replace("{dag_id}", self.slow).replace("sleep 4", "sleep 6"))
        with open(self.config, "a") as f:
            f.write("port: 0\nshutdown_grace: 1s\n")
        log = open(os.path.join(self.dir, "serve.log"), "a")

        def start_serve():
            proc = subprocess.Popen([CONVEYOR, "--config", self.config, "serve"], cwd=self.dir,
                                    stdout=log, stderr=subprocess.STDOUT)
            self.wait_until(lambda: "conveyor serve: pid" in self.read("serve.log"), "serve")
            return proc

        serve = start_serve()
        try:
            self.conveyor("dags", "trigger", self.slow, "--run-id", "r5")
            self.wait_until(lambda: self.tasks(self.slow, "r5")["wait"]["state"] == "running",
                            "the Slurm task to run")
            job_id = self.tasks(self.slow, "r5")["wait"]["external_executor_id"].split(":")[1]
            serve.send_signal(signal.SIGTERM)
            self.assertEqual(serve.wait(timeout=30), 0)
            # serve is gone, the job is not.
            self.assertEqual(self.job_state(job_id), "RUNNING")
            self.assertEqual(self.tasks(self.slow, "r5")["wait"]["state"], "running")
            serve = start_serve()
            self.wait_until(lambda: self.tasks(self.slow, "r5")["after"]["state"] == "success",
                            "the run to finish after the restart")
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
            log.close()
        tis = self.tasks(self.slow, "r5")
        self.assertEqual(tis["wait"]["try_number"], 1)
        self.assertEqual(tis["wait"]["external_executor_id"], "slurm:" + job_id)
        jobs = sh("squeue", "-h", "--states=all", "-n", "conveyor.%s.wait" % self.slow, "-o",
                  "%i").stdout
        self.assertEqual(jobs.split(), [job_id])

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return f.read()

    def wait_until(self, condition, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except (KeyError, AssertionError, FileNotFoundError):
                pass
            time.sleep(0.05)
        self.fail("timed out waiting for " + what)

    def test_ml_operators_run_as_slurm_jobs_and_register_through_the_scheduler(self):
        self.write("ml.yaml", ML)
        with open(os.path.join(self.dags, "train.csv"), "w") as out:
            subprocess.run(["/usr/bin/python3", GENERATOR, "train", "600", "7"], stdout=out,
                           check=True)
        result = self.conveyor("dags", "trigger", "ml_on_slurm", "--run-id", "r1", "--wait")
        self.assertIn("run r1: success", result.stdout)
        tis = self.tasks("ml_on_slurm", "r1")
        self.assertIsNone(tis["ingest"]["external_executor_id"])
        self.assertRegex(tis["train"]["external_executor_id"], r"^slurm:\d+$")
        self.assertRegex(tis["score"]["external_executor_id"], r"^slurm:\d+$")
        model = json.loads(self.conveyor("models", "show", "slurm_model", "-o", "json").stdout)
        self.assertEqual([v["version"] for v in model["versions"]], [1])
        self.assertEqual(model["versions"][0]["aliases"], ["production"])
        self.assertEqual(model["versions"][0]["run_id"], "r1")
        with sqlite3.connect(os.path.join(self.dir, "data.db")) as db:
            scored = db.execute("SELECT count(*) FROM scored").fetchone()[0]
        self.assertEqual(scored, 600)
        # The compute node never opened the state database: only the scheduler's process did.
        launch = os.path.join(self.dir, "logs", "dag_id=ml_on_slurm", "run_id=r1", "task_id=train",
                              "attempt=1.launch.json")
        with open(launch) as f:
            self.assertNotIn(self.db, f.read())


if __name__ == "__main__":
    if not os.environ.get("SLURM_CONF") or shutil.which("sbatch") is None:
        print("skipped: no Slurm cluster (start one with scripts/slurm_cluster.sh)")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
