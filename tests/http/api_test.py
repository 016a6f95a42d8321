#!/usr/bin/python3
"""The REST API of `conveyor serve` against a real server on a loopback port: every endpoint, its
errors (RFC 7807 bodies with the right codes), bearer-token auth, and /metrics checked by
promtool.

Usage: api_test.py CONVEYOR
"""
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
import unittest
import urllib.error
import urllib.request

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "s3cret-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="conveyor_api_")
        dags = os.path.join(cls.dir, "dags")
        os.makedirs(dags)
        with open(os.path.join(dags, "greet.yaml"), "w") as f:
            f.write("description: says hello\ntags: [demo, api]\nparams: {who: world}\n"
                    "tasks:\n  - id: hello\n    operator: shell\n"
                    "    command: echo hello {{ params.who }}\n"
                    "  - id: after\n    operator: shell\n    depends_on: [hello]\n"
                    "    command: echo '<script>alert(1)</script>'\n")
        with open(os.path.join(dags, "other.yaml"), "w") as f:
            f.write("tags: [other]\ntasks:\n  - {id: t, operator: noop}\n")
        with open(os.path.join(dags, "broken.yaml"), "w") as f:
            f.write("tasks:\n  - id: x\n    operator: nope\n")
        cls.port = free_port()
        with open(os.path.join(cls.dir, "conveyor.yaml"), "w") as f:
            f.write("dags_folder: dags\ndb: state/conveyor.db\nport: %d\ntoken: %s\n"
                    "dags_are_paused_at_creation: true\n" % (cls.port, TOKEN))
        cls.log = open(os.path.join(cls.dir, "serve.log"), "w")
        cls.serve = subprocess.Popen([CONVEYOR, "--config", os.path.join(cls.dir, "conveyor.yaml"),
                                      "serve"], stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                cls.call("GET", "/api/v1/health")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("serve did not start")

    @classmethod
    def tearDownClass(cls):
        cls.serve.terminate()
        cls.serve.wait(timeout=30)
        shutil.rmtree(cls.dir)

    @classmethod
    def call(cls, method, path, body=None, token=TOKEN, accept=None, raw=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (cls.port, path), data=data,
                                         method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", "Bearer " + token)
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode()

    def json_call(self, method, path, body=None, **kwargs):
        status, headers, text = self.call(method, path, body, **kwargs)
        return status, json.loads(text)

    def assertProblem(self, result, status, detail):
        code, headers, text = result
        self.assertEqual(code, status, text)
        self.assertEqual(headers["Content-Type"], "application/problem+json")
        self.assertEqual(json.loads(text), {"type": "about:blank", "status": status,
                                            "title": json.loads(text)["title"], "detail": detail})

    def wait_run(self, dag_id, run_id):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            _, run = self.json_call("GET", "/api/v1/dags/%s/dagRuns/%s" % (dag_id, run_id))
            if run["state"] in ("success", "failed"):
                return run
            time.sleep(0.05)
        self.fail("run %s did not finish" % run_id)

    def test_health(self):
        status, body = self.json_call("GET", "/api/v1/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["metadatabase"], {"status": "healthy"})
        self.assertEqual(body["scheduler"]["status"], "healthy")

    def raw_exchange(self, sock, expected_responses):
        """Reads from `sock` until `expected_responses` whole responses have arrived."""
        data = b""
        while data.count(b"HTTP/1.1 ") < expected_responses or not data.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode()

    def test_pipelined_requests_keep_alive_and_100_continue(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            # Two requests in one send: two whole responses, in order, on the same connection.
            request = ("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                       "GET /api/v1/dags/nosuch HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "Authorization: Bearer %s\r\n\r\n" % TOKEN)
            sock.sendall(request.encode())
            answer = self.raw_exchange(sock, 2)
            heads = re.findall(r"HTTP/1.1 (\d+)", answer)
            self.assertEqual(heads, ["200", "404"], answer)
            self.assertIn("Keep-Alive: timeout=5, max=1000", answer)
            # Expect: 100-continue: the interim answer comes before the body is sent.
            body = b'{"conf": {}}'
            sock.sendall(("POST /api/v1/dags/nosuch/dagRuns HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                          % (TOKEN, len(body))).encode())
            self.assertEqual(sock.recv(65536), b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.sendall(body)
            answer = self.raw_exchange(sock, 1)
            self.assertTrue(answer.startswith("HTTP/1.1 404 "), answer)

    def test_list_dags_with_pagination_and_filters(self):
        status, body = self.json_call("GET", "/api/v1/dags")
        self.assertEqual(status, 200)
        self.assertEqual(body["total_entries"], 3)
        self.assertEqual([d["dag_id"] for d in body["dags"]], ["broken", "greet", "other"])
        broken = body["dags"][0]
        self.assertEqual((broken["has_import_errors"], broken["is_active"]), (True, False))
        self.assertIn("broken.yaml:3:15: unknown operator 'nope'", broken["import_error"])
        greet = body["dags"][1]
        self.assertEqual(greet["description"], "says hello")
        self.assertEqual(greet["tags"], [{"name": "demo"}, {"name": "api"}])
        self.assertIsNone(greet["schedule_interval"])
        _, page = self.json_call("GET", "/api/v1/dags?limit=1&offset=1")
        self.assertEqual(([d["dag_id"] for d in page["dags"]], page["total_entries"]),
                         (["greet"], 3))
        _, tagged = self.json_call("GET", "/api/v1/dags?tags=other&tags=api")
        self.assertEqual([d["dag_id"] for d in tagged["dags"]], ["greet", "other"])
        _, pattern = self.json_call("GET", "/api/v1/dags?dag_id_pattern=oth")
        self.assertEqual([d["dag_id"] for d in pattern["dags"]], ["other"])
        self.assertProblem(self.call("GET", "/api/v1/dags?limit=0"), 400,
                           "limit must be an integer from 1 to 1000, got '0'")
        self.assertProblem(self.call("GET", "/api/v1/dags?offset=x"), 400,
                           "offset must be an integer from 0 to 1073741824, got 'x'")

    def test_get_and_patch_dag_with_auth(self):
        self.assertProblem(self.call("GET", "/api/v1/dags/gret"), 404,
                           "unknown DAG 'gret', did you mean 'greet'?")
        status, dag = self.json_call("GET", "/api/v1/dags/other")
        self.assertEqual((status, dag["is_paused"]), (200, True))
        self.assertProblem(self.call("PATCH", "/api/v1/dags/other", {"is_paused": False},
                                     token=None), 401,
                           "this endpoint needs an Authorization: Bearer token")
        self.assertProblem(self.call("PATCH", "/api/v1/dags/other", {"is_paused": False},
                                     token="wrong"), 403, "the token is not valid")
        self.assertProblem(self.call("PATCH", "/api/v1/dags/other", {"is_paused": "no"}), 400,
                           "is_paused must be true or false")
        self.assertProblem(self.call("PATCH", "/api/v1/dags/other", raw=b"{not json"), 400,
                           "the request body is not valid JSON")
        status, dag = self.json_call("PATCH", "/api/v1/dags/other", {"is_paused": False})
        self.assertEqual((status, dag["is_paused"]), (200, False))
        _, unpaused = self.json_call("GET", "/api/v1/dags?paused=false")
        self.assertEqual([d["dag_id"] for d in unpaused["dags"]], ["other"])

    def test_trigger_run_with_conf_logs_and_task_instances(self):
        status, run = self.json_call("POST", "/api/v1/dags/greet/dagRuns",
                                     {"dag_run_id": "api_run", "conf": {"who": "conf"}})
        self.assertEqual(status, 200)
        self.assertEqual((run["dag_run_id"], run["state"], run["conf"]),
                         ("api_run", "queued", {"who": "conf"}))
        self.assertEqual(self.wait_run("greet", "api_run")["state"], "success")
        self.assertProblem(self.call("POST", "/api/v1/dags/greet/dagRuns",
                                     {"dag_run_id": "api_run"}), 409,
                           "DAG 'greet' already has a run 'api_run'")
        self.assertProblem(self.call("POST", "/api/v1/dags/greet/dagRuns", {"conf": [1]}), 400,
                           "conf must be a JSON object")
        self.assertProblem(self.call("POST", "/api/v1/dags/nope/dagRuns", {}), 404,
                           "unknown DAG 'nope'")
        self.assertProblem(self.call("POST", "/api/v1/dags/greet/dagRuns", {}, token=None), 401,
                           "this endpoint needs an Authorization: Bearer token")
        _, tis = self.json_call("GET", "/api/v1/dags/greet/dagRuns/api_run/taskInstances")
        self.assertEqual(tis["total_entries"], 2)
        self.assertEqual({t["task_id"]: (t["state"], t["try_number"]) for t in tis["task_instances"]},
                         {"hello": ("success", 1), "after": ("success", 1)})
        status, headers, text = self.call(
            "GET", "/api/v1/dags/greet/dagRuns/api_run/taskInstances/hello/logs/1")
        self.assertEqual((status, text), (200, "hello conf\n"))
        self.assertEqual(headers["Content-Type"], "text/plain; charset=utf-8")
        # Task output is never served as HTML.
        status, headers, text = self.call(
            "GET", "/api/v1/dags/greet/dagRuns/api_run/taskInstances/after/logs/1")
        self.assertEqual(text, "<script>alert(1)</script>\n")
        self.assertEqual(headers["Content-Type"], "text/plain; charset=utf-8")
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        _, as_json = self.json_call(
            "GET", "/api/v1/dags/greet/dagRuns/api_run/taskInstances/after/logs/1",
            accept="application/json")
        self.assertEqual(as_json["content"], "<script>alert(1)</script>\n")
        self.assertProblem(self.call(
            "GET", "/api/v1/dags/greet/dagRuns/api_run/taskInstances/hello/logs/0"), 400,
            "try_number must be a positive integer, got '0'")
        self.assertProblem(self.call(
            "GET", "/api/v1/dags/greet/dagRuns/api_run/taskInstances/hello/logs/1x"), 400,
            "try_number must be a positive integer, got '1x'")
        # A path smuggled through the try number matches no route.
        self.assertProblem(self.call(
            "GET", "/api/v1/dags/greet/dagRuns/api_run/taskInstances/hello/logs/..%2F..%2Fetc"),
            404, "no such endpoint: GET /api/v1/dags/greet/dagRuns/api_run/taskInstances/hello/"
            "logs/../../etc")
        self.assertProblem(self.call(
            "GET", "/api/v1/dags/greet/dagRuns/api_run/taskInstances/hello/logs/7"), 404,
            "task 'hello' of run 'api_run' has no try 7")
        _, ti = self.json_call("GET", "/api/v1/dags/greet/dagRuns/api_run/taskInstances/hello")
        self.assertEqual([t["try_number"] for t in ti["tries"]], [1])
        # Logs in chunks: offset and limit in bytes, Airflow's continuation token to go on.
        logs = "/api/v1/dags/greet/dagRuns/api_run/taskInstances/hello/logs/1"
        _, first = self.json_call("GET", logs + "?limit=4", accept="application/json")
        self.assertEqual(first, {"content": "hell", "continuation_token": "4"})
        _, rest = self.json_call("GET", logs + "?token=4", accept="application/json")
        self.assertEqual(rest, {"content": "o conf\n", "continuation_token": "11"})
        _, whole = self.json_call("GET", logs + "?token=4&full_content=true",
                                  accept="application/json")
        self.assertEqual(whole["content"], "hello conf\n")
        self.assertEqual(self.call("GET", logs + "?offset=6&limit=2")[2], "co")
        self.assertProblem(self.call("GET", logs + "?offset=-1"), 400,
                           "offset must be a non-negative integer, got '-1'")

    def test_runs_listing_and_errors(self):
        for run_id in ("r1", "r2"):
            self.assertEqual(self.call("POST", "/api/v1/dags/other/dagRuns",
                                       {"dag_run_id": run_id})[0], 200)
            self.wait_run("other", run_id)
        _, runs = self.json_call("GET", "/api/v1/dags/other/dagRuns?limit=1")
        self.assertEqual((len(runs["dag_runs"]), runs["total_entries"]), (1, 2))
        _, runs = self.json_call("GET", "/api/v1/dags/other/dagRuns?state=success")
        self.assertEqual(sorted(r["dag_run_id"] for r in runs["dag_runs"]), ["r1", "r2"])
        _, runs = self.json_call("GET", "/api/v1/dags/other/dagRuns?state=failed")
        self.assertEqual(runs, {"dag_runs": [], "total_entries": 0})
        _, everything = self.json_call("GET", "/api/v1/dags/~/dagRuns?limit=1000")
        self.assertGreaterEqual(everything["total_entries"], 2)
        self.assertProblem(self.call("GET", "/api/v1/dags/other/dagRuns?state=done"), 400,
                           "unknown run state 'done' (expected queued, running, success or "
                           "failed)")
        self.assertProblem(self.call("GET", "/api/v1/dags/other/dagRuns/zz"), 404,
                           "DAG 'other' has no run 'zz'")
        self.assertProblem(self.call("GET", "/api/v1/nothing"), 404,
                           "no such endpoint: GET /api/v1/nothing")

    def test_clear_reruns_task_instances(self):
        self.call("POST", "/api/v1/dags/greet/dagRuns", {"dag_run_id": "to_clear"})
        self.wait_run("greet", "to_clear")
        # Airflow's default is a dry run: nothing changes.
        status, dry = self.json_call("POST", "/api/v1/dags/greet/clearTaskInstances",
                                     {"dag_run_id": "to_clear", "task_ids": ["hello"],
                                      "include_downstream": True})
        self.assertEqual(status, 200)
        self.assertEqual(sorted(t["task_id"] for t in dry["task_instances"]), ["after", "hello"])
        _, run = self.json_call("GET", "/api/v1/dags/greet/dagRuns/to_clear")
        self.assertEqual(run["state"], "success")
        status, done = self.json_call("POST", "/api/v1/dags/greet/clearTaskInstances",
                                      {"dag_run_id": "to_clear", "task_ids": ["after"],
                                       "dry_run": False})
        self.assertEqual([t["task_id"] for t in done["task_instances"]], ["after"])
        self.assertEqual(self.wait_run("greet", "to_clear")["state"], "success")
        _, tis = self.json_call("GET", "/api/v1/dags/greet/dagRuns/to_clear/taskInstances")
        self.assertEqual({t["task_id"]: t["try_number"] for t in tis["task_instances"]},
                         {"hello": 1, "after": 2})
        self.assertProblem(self.call("POST", "/api/v1/dags/greet/clearTaskInstances",
                                     {"task_ids": ["after"]}), 400, "dag_run_id is required")
        self.assertProblem(self.call("POST", "/api/v1/dags/greet/clearTaskInstances",
                                     {"dag_run_id": "to_clear", "task_ids": ["aftr"]}), 400,
                           "DAG 'greet' has no task 'aftr'")

    def test_graph_and_source(self):
        _, graph = self.json_call("GET", "/api/v1/dags/greet/graph")
        self.assertEqual([n["task_id"] for n in graph["nodes"]], ["hello", "after"])
        self.assertEqual(graph["edges"], [{"source": "hello", "target": "after"}])
        status, headers, text = self.call("GET", "/api/v1/dags/greet/source")
        self.assertEqual(status, 200)
        self.assertTrue(text.startswith("description: says hello\n"))
        self.assertEqual(headers["Content-Type"], "text/plain; charset=utf-8")

    def test_metrics_pass_promtool(self):
        self.call("GET", "/api/v1/dags")
        status, headers, text = self.call("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        self.assertIn('conveyor_http_requests_total{route="/api/v1/dags",code="200"}', text)
        self.assertIn("conveyor_dag_import_errors 1\n", text)
        self.assertIn("conveyor_dag_files 3\n", text)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=text,
                                   capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            beat = re.search(r"\nconveyor_scheduler_heartbeat_timestamp_seconds (\S+)\n", text)
            self.assertLess(abs(float(beat.group(1)) - time.time()), 30, text)
            # The shipped scrape config and rules, with the token file where serve writes it.
            scrape = os.path.join(self.dir, "deploy", "prometheus")
            os.makedirs(scrape, exist_ok=True)
            for name in ["prometheus.yml", "alerts.yml"]:
                shutil.copy(os.path.join(ROOT, "deploy", "prometheus", name), scrape)
            with open(os.path.join(self.dir, "conveyor.db.token"), "w") as f:
                f.write(TOKEN + "\n")
            check = subprocess.run(["promtool", "check", "config",
                                    os.path.join(scrape, "prometheus.yml")],
                                   capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            self.assertIn("SUCCESS", check.stdout)

    def test_metrics_count_states_as_the_database_does(self):
        status, run = self.json_call("POST", "/api/v1/dags/greet/dagRuns", {"dag_run_id": "counted"})
        self.assertEqual(status, 200, run)
        self.assertEqual(self.wait_run("greet", "counted")["state"], "success")
        db = sqlite3.connect(os.path.join(self.dir, "state", "conveyor.db"))
        deadline = time.monotonic() + 20
        while db.execute("SELECT count(*) FROM dag_runs WHERE state IN ('queued', 'running')"
                         ).fetchone()[0] > 0:
            self.assertLess(time.monotonic(), deadline, "runs still active")
            time.sleep(0.05)
        expected = {"conveyor_dag_runs": dict(db.execute(
            "SELECT state, count(*) FROM dag_runs GROUP BY state")),
            "conveyor_task_instances": dict(db.execute(
                "SELECT coalesce(state, 'none'), count(*) FROM task_instances GROUP BY 1"))}
        db.close()
        _, _, text = self.call("GET", "/metrics")
        counted = {"conveyor_dag_runs": {}, "conveyor_task_instances": {}}
        for line in text.splitlines():
            name, _, rest = line.partition('{state="')
            if name in counted:
                state, _, value = rest.partition('"} ')
                if int(value) > 0:
                    counted[name][state] = int(value)
        self.assertEqual(counted, expected)
        self.assertEqual(counted["conveyor_dag_runs"].get("success", 0) > 0, True)

    def test_oversized_body_is_refused(self):
        status, _, _ = self.call("POST", "/api/v1/dags/greet/dagRuns",
                                 raw=b'{"conf": "' + b"x" * (2 << 20) + b'"}')
        self.assertEqual(status, 413)


class ResourcesTest(unittest.TestCase):
    """`serve` with the config's `resources:`: a try holding GPUs shows on /metrics while it runs,
    sees the GPU it was given, and a DAG whose local task asks for more than the machine has is
    an import error."""

    def test_running_tries_hold_resources_on_metrics_and_see_their_gpus(self):
        work = tempfile.mkdtemp(prefix="conveyor_resources_")
        dags = os.path.join(work, "dags")
        os.makedirs(dags)
        release = os.path.join(work, "release")
        with open(os.path.join(dags, "hold.yaml"), "w") as f:
            f.write("tasks:\n  - id: hold\n"
                    "    resources: {cpus: 1.5, memory: 512MiB, gpus: 1}\n"
                    "    command: echo \"gpus=[$CUDA_VISIBLE_DEVICES]\"; "
                    "while [ ! -e %s ]; do sleep 0.02; done\n" % release)
        with open(os.path.join(dags, "too_big.yaml"), "w") as f:
            f.write("tasks:\n  - {id: fit, command: \"true\", resources: {gpus: 3}}\n")
        port = free_port()
        config = os.path.join(work, "conveyor.yaml")
        with open(config, "w") as f:
            f.write("dags_folder: dags\ndb: conveyor.db\nport: %d\ntoken: %s\n"
                    "dags_are_paused_at_creation: false\n"
                    "resources: {cpus: 4, memory: 2GiB, gpus: [7, GPU-b]}\n" % (port, TOKEN))
        serve = subprocess.Popen([CONVEYOR, "--config", config, "serve"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def get(path):
            request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                             headers={"Authorization": "Bearer " + TOKEN})
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.read().decode()

        def resources(text, name):
            return {m.group(1): float(m.group(2)) for m in re.finditer(
                name + r'\{resource="(\w+)"\} (\S+)\n', text)}

        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    get("/api/v1/health")
                    break
                except OSError:
                    self.assertLess(time.monotonic(), deadline, "serve did not start")
                    time.sleep(0.05)
            listed = json.loads(get("/api/v1/dags"))["dags"]
            self.assertEqual([d["import_error"] for d in listed if d["has_import_errors"]], [
                os.path.join(dags, "too_big.yaml") + ":2:10: task 'fit' asks for 3 GPUs, and this "
                "machine offers 2 (config 'resources'); it could never start"])
            subprocess.run([CONVEYOR, "--config", config, "dags", "trigger", "hold", "--run-id",
                            "r1"], check=True, capture_output=True)
            deadline = time.monotonic() + 15
            while True:
                text = get("/metrics")
                if resources(text, "conveyor_resources_in_use").get("gpus") == 1:
                    break
                self.assertLess(time.monotonic(), deadline, text)
                time.sleep(0.05)
            self.assertEqual(resources(text, "conveyor_resources_capacity"),
                             {"cpus": 4, "memory_bytes": 2 << 30, "gpus": 2})
            self.assertEqual(resources(text, "conveyor_resources_in_use"),
                             {"cpus": 1.5, "memory_bytes": 512 << 20, "gpus": 1})
            open(release, "w").close()
            deadline = time.monotonic() + 15
            while resources(get("/metrics"), "conveyor_resources_in_use").get("gpus") != 0:
                self.assertLess(time.monotonic(), deadline, "the GPU was not given back")
                time.sleep(0.05)
            log = get("/api/v1/dags/hold/dagRuns/r1/taskInstances/hold/logs/1")
            self.assertEqual(log, "gpus=[7]\n")
        finally:
            serve.terminate()
            serve.wait(timeout=30)
            shutil.rmtree(work)


class CacheTest(unittest.TestCase):
    """A cached task through serve: the API's trigger reuses its try (cached_from, the log line),
    "no_cache": true and the CLI's --no-cache run it again."""

    def test_triggers_reuse_a_cached_try_unless_told_not_to(self):
        work = tempfile.mkdtemp(prefix="conveyor_cache_")
        dags = os.path.join(work, "dags")
        os.makedirs(dags)
        ran = os.path.join(work, "ran")
        with open(os.path.join(dags, "cached.yaml"), "w") as f:
            f.write("tasks:\n  - id: t\n    cache: true\n"
                    "    command: echo ran >> %s; echo \"x=1\" >> \"$CONVEYOR_OUTPUT\"\n" % ran)
        port = free_port()
        config = os.path.join(work, "conveyor.yaml")
        with open(config, "w") as f:
            f.write("dags_folder: dags\ndb: conveyor.db\nport: %d\ntoken: %s\n"
                    "dags_are_paused_at_creation: false\n" % (port, TOKEN))
        serve = subprocess.Popen([CONVEYOR, "--config", config, "serve"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def call(method, path, body=None):
            request = urllib.request.Request(
                "http://127.0.0.1:%d%s" % (port, path), method=method,
                data=None if body is None else json.dumps(body).encode(),
                headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
                return json.loads(text) if text.startswith("{") else text

        def run(run_id, **extra):
            created = call("POST", "/api/v1/dags/cached/dagRuns", dict(dag_run_id=run_id, **extra))
            self.assertEqual(created["no_cache"], bool(extra.get("no_cache")))
            deadline = time.monotonic() + 20
            while call("GET", "/api/v1/dags/cached/dagRuns/" + run_id)["state"] != "success":
                self.assertLess(time.monotonic(), deadline, run_id)
                time.sleep(0.05)
            return call("GET", "/api/v1/dags/cached/dagRuns/%s/taskInstances/t" % run_id)

        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    call("GET", "/api/v1/health")
                    break
                except OSError:
                    self.assertLess(time.monotonic(), deadline, "serve did not start")
                    time.sleep(0.05)
            self.assertIsNone(run("r1")["cached_from"])
            ti = run("r2")
            self.assertEqual(ti["cached_from"], "cached/r1/t/try 1")
            self.assertEqual(ti["state"], "success")
            self.assertEqual(call("GET", "/api/v1/dags/cached/dagRuns/r2/taskInstances/t/logs/1"),
                             "conveyor: reused cached/r1/t/try 1\n")
            self.assertIsNone(run("r3", no_cache=True)["cached_from"])
            cli = subprocess.run([CONVEYOR, "--config", config, "dags", "trigger", "cached",
                                  "--run-id", "r4", "--no-cache", "--wait"],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(cli.returncode, 0, cli.stdout + cli.stderr)
            self.assertEqual(run("r5")["cached_from"], "cached/r4/t/try 1")
            with open(ran) as f:
                self.assertEqual(f.read(), "ran\nran\nran\n")
            bad = urllib.request.Request(
                "http://127.0.0.1:%d/api/v1/dags/cached/dagRuns" % port, method="POST",
                data=b'{"no_cache": "yes"}',
                headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
            with self.assertRaises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(bad, timeout=10)
            self.assertEqual(refused.exception.code, 400)
            self.assertIn("no_cache must be true or false",
                          refused.exception.read().decode())
        finally:
            serve.terminate()
            serve.wait(timeout=30)
            shutil.rmtree(work)


class BindTest(unittest.TestCase):
    def test_beyond_loopback_reads_need_the_generated_token(self):
        work = tempfile.mkdtemp(prefix="conveyor_bind_")
        port = free_port()
        db = os.path.join(work, "s.db")
        env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_TOKEN"}
        serve = subprocess.Popen([CONVEYOR, "--config", "/nonexistent.yaml", "--dags", work,
                                  "--db", db, "serve", "--host", "0.0.0.0", "--port", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            def get(path, token=None):
                request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path))
                if token:
                    request.add_header("Authorization", "Bearer " + token)
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status
                except urllib.error.HTTPError as error:
                    return error.code
            deadline = time.monotonic() + 10
            while True:
                try:
                    self.assertEqual(get("/api/v1/health"), 200)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            with open(db + ".token") as f:
                token = f.read().strip()
            self.assertRegex(token, "^[0-9a-f]{64}$")
            self.assertEqual(os.stat(db + ".token").st_mode & 0o777, 0o600)
            self.assertEqual(get("/api/v1/dags"), 401)
            self.assertEqual(get("/metrics"), 401)
            self.assertEqual(get("/api/v1/dags", "wrong"), 403)
            self.assertEqual(get("/api/v1/dags", token), 200)
            self.assertEqual(get("/", None), 200)
        finally:
            serve.terminate()
            serve.wait(timeout=30)
            shutil.rmtree(work)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
