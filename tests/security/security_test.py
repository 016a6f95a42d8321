#!/usr/bin/python3
"""Attacks on a real `conveyor serve`, each with the defence it must meet (/tmp/security_contract.md,
docs/http.md).

The main server starts with no token configured and CONVEYOR_TOKEN removed from its environment,
so it generates one; the suite reads it from the token file and checks that file. Then, one test
per attack, it proves that:

- a page on another site cannot write (text/plain "simple" POSTs, a foreign Origin or Referer, a
  DNS-rebound Host header), and nothing it sent created a run;
- a run's conf reaches a shell command as text, never as code, in every quoting context, and no
  injection attempt ran a command;
- tasks see neither serve's token nor serve's other variables (only the allowlist and
  env_passthrough), and secret values are masked as *** in logs, outputs, the API and serve's log;
- hostile bodies (deep nesting, oversize, huge conf), ids (long, ".", "..", hidden) and slow or
  idle connections are refused or cut off while serve keeps answering quickly;
- YAML alias bombs, self-referencing aliases, oversized files and templates the shell cannot
  place are import errors, not a hung or crashed serve;
- files conveyor creates are private (0600 / 0700) while files a task creates keep the umask;
- every API write is in the event log with the caller's address and the answer's status;
- `auth: {reads: token}` closes reads (and /metrics) but not health nor the UI, and connections
  beyond max_connections get a 503 at once.

Every problem is checked as the exact application/problem+json body.

Usage: security_test.py CONVEYOR
"""
import http.client
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"
SECRET = "s3cr3t-Value-42"
EVIL = "http://evil.example"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          413: "Payload Too Large", 415: "Unsupported Media Type", 503: "Service Unavailable"}
NEEDS_TOKEN = "this endpoint needs an Authorization: Bearer token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def dag_yaml(tasks, params=None, dag_id=None):
    """A DAG file; each task a JSON flow mapping (valid YAML) so commands need no YAML quoting."""
    lines = []
    if dag_id:
        lines.append("dag_id: " + dag_id)
    if params is not None:
        lines.append("params: " + json.dumps(params))
    lines.append("tasks:")
    lines += ["  - " + json.dumps(task) for task in tasks]
    return "\n".join(lines) + "\n"


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class Server:
    """One `conveyor serve` in a temp folder: its config, dags folder, state and log."""

    def __init__(self, config="", env=None):
        self.dir = tempfile.mkdtemp(prefix="conveyor_security_")
        self.dags = os.path.join(self.dir, "dags")
        os.makedirs(self.dags)
        self.port = free_port()
        self.config = os.path.join(self.dir, "conveyor.yaml")
        with open(self.config, "w") as f:
            f.write("dags_folder: dags\ndb: state/conveyor.db\nport: %d\n"
                    "dags_are_paused_at_creation: false\n%s" % (self.port, config))
        self.db = os.path.join(self.dir, "state", "conveyor.db")
        self.env = {k: v for k, v in os.environ.items() if k != "CONVEYOR_TOKEN"}
        self.env.update(env or {})
        self.token = None
        self.proc = None
        self.log = None

    def write_dag(self, name, text):
        # Written beside under a hidden name (the loader skips those), then renamed into place,
        # so serve's watcher never reads half a file.
        hidden = os.path.join(self.dags, "." + name + ".tmp")
        with open(hidden, "w") as f:
            f.write(text)
        os.rename(hidden, os.path.join(self.dags, name + ".yaml"))

    def start(self):
        self.log = open(os.path.join(self.dir, "serve.log"), "w")
        self.proc = subprocess.Popen([CONVEYOR, "--config", self.config, "serve"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
                                     preexec_fn=lambda: os.umask(0o022))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if self.call("GET", "/api/v1/health", token=None)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        problem = "serve %s:\n%s" % ("did not answer" if self.proc.poll() is None else
                                     "exited with %d" % self.proc.returncode, self.serve_log())
        self.stop()
        raise RuntimeError(problem)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve_log(self):
        with open(os.path.join(self.dir, "serve.log"), errors="replace") as f:
            return f.read()

    def call(self, method, path, body=None, token=True, content_type="application/json",
             headers=None):
        """One request on its own connection: (status, headers, body bytes). `token` True sends
        the server's token, a string sends that, None sends none; `headers` may set Host."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        sent = {}
        if token is True:
            token = self.token
        if token:
            sent["Authorization"] = "Bearer " + token
        if data is not None and content_type:
            sent["Content-Type"] = content_type
        sent.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def json_call(self, method, path, body=None, **kwargs):
        status, _, data = self.call(method, path, body, **kwargs)
        return status, json.loads(data)

    def trigger(self, dag_id, run_id, conf=None):
        body = {"dag_run_id": run_id}
        if conf is not None:
            body["conf"] = conf
        status, run = self.json_call("POST", "/api/v1/dags/%s/dagRuns" % dag_id, body)
        if status != 200:
            raise AssertionError("trigger %s %s: %d %s" % (dag_id, run_id, status, run))
        return run

    def wait_run(self, dag_id, run_id, timeout=60.0):
        def ended():
            _, run = self.json_call("GET", "/api/v1/dags/%s/dagRuns/%s" % (dag_id, run_id))
            return run if run["state"] in ("success", "failed") else None
        return wait_for(ended, timeout, "run %s of %s to end" % (run_id, dag_id))

    def task_log(self, dag_id, run_id, task_id, try_number=1):
        status, _, data = self.call("GET", "/api/v1/dags/%s/dagRuns/%s/taskInstances/%s/logs/%d"
                                    % (dag_id, run_id, task_id, try_number))
        if status != 200:
            raise AssertionError("log of %s/%s/%s: %d %r" % (dag_id, run_id, task_id, status,
                                                             data))
        return data


class ProblemAssertions(unittest.TestCase):
    def assertProblem(self, result, status, detail):
        code, headers, data = result
        self.assertEqual(code, status, data)
        self.assertEqual(headers["Content-Type"], "application/problem+json")
        self.assertEqual(json.loads(data), {"type": "about:blank", "title": TITLES[status],
                                            "status": status, "detail": detail})


class AttackTest(ProblemAssertions):
    @classmethod
    def setUpClass(cls):
        cls.server = server = Server(
            'http: {header_timeout: 2s}\nenv_passthrough: ["PASS_*"]\n'
            "secrets:\n  API_KEY: {env: TEST_SECRET_VALUE}\n",
            env={"SERVER_ONLY_SECRET": "abc", "PASS_ME": "1", "TEST_SECRET_VALUE": SECRET})
        cls.work = os.path.join(server.dir, "work")
        os.makedirs(cls.work)
        os.chmod(cls.work, 0o755)
        noop = [{"id": "t", "operator": "noop"}]
        for name in ("target", "sink", "roomy", "audited"):
            server.write_dag(name, dag_yaml(noop))
        server.write_dag("quoting", dag_yaml([
            {"id": "q", "command": 'echo "n={{ params.n | q }}"'},
            {"id": "bare", "command": "printf '%s\\n' {{ params.n }}"},
            {"id": "single", "command": "echo 'x{{ params.n }}y'"},
            {"id": "double", "command": 'echo "d={{ params.n }}"'},
            {"id": "words", "command": "printf '[%s]\\n' {{ params.n }}"},
        ], params={"n": "default"}))
        server.write_dag("envdump", dag_yaml([{"id": "env", "command": "env"}]))
        server.write_dag("secretive", dag_yaml([
            {"id": "leak", "env": {"KEY": "{{ secrets.API_KEY }}"},
             "command": 'echo "$KEY"\necho "pre${KEY}post"\n'
                        "printf '%s' \"$KEY\" | cut -c1-5; printf '%s\\n' \"$KEY\" | cut -c6-\n"
                        'echo "k=$KEY" >> "$CONVEYOR_OUTPUT"\nexit 3\n'},
            {"id": "share", "env": {"KEY": "{{ secrets.API_KEY }}"},
             "command": 'echo "k=$KEY" >> "$CONVEYOR_OUTPUT"'},
            {"id": "reader", "depends_on": ["share"],
             "command": 'echo "got={{ outputs.share.k | q }}"'},
        ]))
        server.write_dag("files", dag_yaml([
            {"id": "touch", "env": {"WORK": cls.work},
             "command": 'echo made && cd "$WORK" && touch "out_$CONVEYOR_RUN_ID.txt" && '
                        'mkdir "dir_$CONVEYOR_RUN_ID"'}]))
        cls.long_id = "a" * 99
        server.write_dag("longid", dag_yaml(noop, dag_id=cls.long_id))
        server.start()
        cls.token_path = server.db + ".token"
        try:
            wait_for(lambda: os.path.exists(cls.token_path), 10, "the token file")
            with open(cls.token_path) as f:
                cls.token_text = f.read()
            server.token = cls.token_text.rstrip("\n")
            wait_for(lambda: server.json_call("GET", "/api/v1/dags")[1]["total_entries"] == 9,
                     what="the 9 DAGs to load")
        except BaseException:
            server.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def runs_of(self, dag_id):
        status, runs = self.server.json_call("GET", "/api/v1/dags/%s/dagRuns" % dag_id)
        self.assertEqual(status, 200, runs)
        return runs

    # -- the generated token -----------------------------------------------------------------

    def test_generated_token_is_private_and_the_cli_prints_it(self):
        self.assertEqual(mode(self.token_path), 0o600)
        self.assertRegex(self.token_text, r"\A[0-9a-fA-F]{64}\n?\Z")
        cli = subprocess.run([CONVEYOR, "--config", self.server.config, "token"],
                             capture_output=True, text=True, timeout=30, env=self.server.env)
        self.assertEqual((cli.returncode, cli.stdout), (0, self.server.token + "\n"), cli.stderr)
        log = self.server.serve_log()
        self.assertIn(self.token_path, log)
        self.assertNotIn(self.server.token, log)
        self.assertProblem(self.server.call("POST", "/api/v1/dags/sink/dagRuns", {}, token=None),
                           401, NEEDS_TOKEN)
        self.assertProblem(self.server.call("POST", "/api/v1/dags/sink/dagRuns", {},
                                            token="0" * 64), 403, "the token is not valid")

    # -- 1. cross-site writes and DNS rebinding ----------------------------------------------

    def test_cross_site_write_is_refused_and_creates_no_run(self):
        s = self.server
        path = "/api/v1/dags/target/dagRuns"
        body = b'{"conf":{"n":"pwned"}}'
        origin_refused = ("cross-origin request refused: Origin 'http://evil.example' is not "
                          "this server's origin")
        # A form or fetch() "simple request": text/plain, the browser's Origin, no token.
        self.assertProblem(s.call("POST", path, body, token=None, content_type="text/plain",
                                  headers={"Origin": EVIL}), 403, origin_refused)
        self.assertProblem(s.call("POST", path, body, content_type="text/plain"), 415,
                           "a write needs Content-Type: application/json, got 'text/plain'")
        self.assertProblem(s.call("POST", path, body, content_type=None), 415,
                           "a write needs Content-Type: application/json, got ''")
        self.assertProblem(s.call("POST", path, body, headers={"Origin": EVIL}), 403,
                           origin_refused)
        self.assertProblem(s.call("POST", path, body, headers={"Origin": "null"}), 403,
                           "cross-origin request refused: Origin 'null' is not this server's "
                           "origin")
        self.assertProblem(s.call("POST", path, body, headers={"Referer": EVIL + "/x"}), 403,
                           "cross-origin request refused: Referer 'http://evil.example/x' is not "
                           "from this server's origin")
        self.assertProblem(s.call("POST", path, body, token=None), 401, NEEDS_TOKEN)
        self.assertEqual(self.runs_of("target"), {"dag_runs": [], "total_entries": 0})
        # The server's own origin, as its UI sends it, goes through.
        own = "http://127.0.0.1:%d" % s.port
        status, _, data = s.call("POST", path, b'{"dag_run_id":"same_origin","conf":{"n":"ok"}}',
                                 headers={"Origin": own})
        self.assertEqual(status, 200, data)
        status, _, data = s.call("POST", path, b'{"dag_run_id":"same_referer"}',
                                 content_type="application/json; charset=utf-8",
                                 headers={"Referer": own + "/#/dags/target"})
        self.assertEqual(status, 200, data)
        self.assertEqual(sorted(r["dag_run_id"] for r in self.runs_of("target")["dag_runs"]),
                         ["same_origin", "same_referer"])

    def test_foreign_host_header_is_refused(self):
        s = self.server
        host_refused = "the Host header 'evil.example' does not name this server"
        self.assertProblem(s.call("GET", "/api/v1/dags", headers={"Host": "evil.example"}), 403,
                           host_refused)
        self.assertProblem(s.call("GET", "/api/v1/dags", token=None,
                                  headers={"Host": "evil.example"}), 403, host_refused)
        # The Host check comes first: a valid token and the attacker's matching Origin do not help.
        self.assertProblem(s.call("POST", "/api/v1/dags/sink/dagRuns", {},
                                  headers={"Host": "evil.example", "Origin": EVIL}), 403,
                           host_refused)
        self.assertProblem(s.call("GET", "/metrics", headers={"Host": "evil.example"}), 403,
                           host_refused)
        for host in ("localhost:%d" % s.port, "127.0.0.1:%d" % s.port, "localhost"):
            status, _, data = s.call("GET", "/api/v1/dags", headers={"Host": host})
            self.assertEqual(status, 200, (host, data))
        status, _, data = s.call("GET", "/api/v1/dags", headers={
            "Host": "localhost:%d" % s.port, "Origin": "http://localhost:%d" % s.port})
        self.assertEqual(status, 200, data)

    def test_reads_are_open_on_loopback_without_token(self):
        for path in ("/api/v1/dags", "/metrics", "/api/v1/health"):
            status, _, data = self.server.call("GET", path, token=None)
            self.assertEqual(status, 200, (path, data))

    # -- 2. conf as shell code ---------------------------------------------------------------

    def test_conf_reaches_the_shell_as_text_never_as_code(self):
        s = self.server
        # Inside the server's temp folder, which tearDown removes, should an attack succeed.
        pwned = [os.path.join(s.dir, "pwned_%d" % i) for i in range(6)]
        values = ["$(id)", "`id`", "'", '"', ";", "a\nb", "--option", "a  b", "*", "$HOME",
                  "$(touch %s)" % pwned[0], "`touch %s`" % pwned[1], "'; touch %s; '" % pwned[2],
                  '"; touch %s; "' % pwned[3], "; touch %s #" % pwned[4],
                  "\ntouch %s" % pwned[5]]
        for i, value in enumerate(values):
            s.trigger("quoting", "v%d" % i, {"n": value})
        states = {value: s.wait_run("quoting", "v%d" % i)["state"]
                  for i, value in enumerate(values)}
        self.assertEqual([p for p in pwned if os.path.exists(p)], [], "created by an injection")
        self.assertEqual(states, {value: "success" for value in values})
        for i, value in enumerate(values):
            v = value.encode()
            expected = {"q": b"n=" + v + b"\n", "bare": v + b"\n", "single": b"x" + v + b"y\n",
                        "double": b"d=" + v + b"\n", "words": b"[" + v + b"]\n"}
            got = {task: s.task_log("quoting", "v%d" % i, task) for task in expected}
            self.assertEqual(got, expected, "conf n=%r" % value)

    # -- 3. the token, serve's variables and secrets -----------------------------------------

    def test_task_env_has_no_token_and_no_server_variables(self):
        s = self.server
        s.trigger("envdump", "env1")
        self.assertEqual(s.wait_run("envdump", "env1")["state"], "success")
        text = s.task_log("envdump", "env1", "env").decode()
        self.assertNotIn(s.token, text)
        self.assertNotIn("CONVEYOR_TOKEN", text)
        self.assertNotIn(SECRET, text)
        env = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        for name in ("SERVER_ONLY_SECRET", "TEST_SECRET_VALUE"):
            self.assertNotIn(name, env)
        self.assertEqual(env["PATH"], s.env["PATH"])
        self.assertEqual(env["PASS_ME"], "1")
        self.assertEqual((env["CONVEYOR_DAG_ID"], env["CONVEYOR_RUN_ID"], env["CONVEYOR_TASK_ID"],
                          env["CONVEYOR_TRY_NUMBER"]), ("envdump", "env1", "env", "1"))
        allowed = {"PATH", "HOME", "LANG", "TZ", "USER", "TMPDIR", "CONVEYOR_DAG_ID",
                   "CONVEYOR_RUN_ID", "CONVEYOR_TASK_ID", "CONVEYOR_TRY_NUMBER",
                   "CONVEYOR_LOGICAL_DATE", "CONVEYOR_OUTPUT"}
        extra = sorted(name for name in env if name not in allowed
                       and not name.startswith(("LC_", "PASS_", "SLURM_")))
        self.assertEqual(extra, [])

    def test_secret_values_are_masked_in_logs_outputs_and_api(self):
        s = self.server
        s.trigger("secretive", "sec1")
        self.assertEqual(s.wait_run("secretive", "sec1")["state"], "failed")
        _, tis = s.json_call("GET", "/api/v1/dags/secretive/dagRuns/sec1/taskInstances")
        self.assertEqual({t["task_id"]: t["state"] for t in tis["task_instances"]},
                         {"leak": "failed", "share": "success", "reader": "success"})
        leak = s.task_log("secretive", "sec1", "leak")
        self.assertTrue(leak.startswith(b"***\npre***post\n"), leak)
        self.assertNotIn(SECRET.encode(), leak)
        # share's output k is the secret: what reaches a downstream template is masked.
        self.assertEqual(s.task_log("secretive", "sec1", "reader"), b"got=***\n")
        run = "/api/v1/dags/secretive/dagRuns/sec1"
        for path in (run, run + "/taskInstances", run + "/taskInstances/leak",
                     run + "/taskInstances/share", run + "/taskInstances/reader",
                     "/api/v1/dags/secretive/graph", "/api/v1/dags/secretive",
                     "/api/v1/eventLogs?limit=1000", "/metrics"):
            status, _, data = s.call("GET", path)
            self.assertEqual(status, 200, path)
            self.assertNotIn(SECRET.encode(), data, path)
        for suffix in ("", "-wal"):
            if os.path.exists(s.db + suffix):
                with open(s.db + suffix, "rb") as f:
                    self.assertNotIn(SECRET.encode(), f.read(), "stored in conveyor.db" + suffix)
        self.assertNotIn(SECRET, s.serve_log())

    # -- 4. hostile bodies and ids -----------------------------------------------------------

    def test_deep_json_nesting_is_refused_and_serve_lives(self):
        s = self.server
        body = b'{"conf":{"a":' + b"[" * 100000 + b"]" * 100000 + b"}}"
        self.assertProblem(s.call("POST", "/api/v1/dags/sink/dagRuns", body), 400,
                           "the request body nests deeper than 64 levels")
        self.assertIsNone(s.proc.poll())
        self.assertEqual(s.call("GET", "/api/v1/health", token=None)[0], 200)
        self.assertEqual(self.runs_of("sink")["dag_runs"], [])

    def test_oversized_body_and_conf_are_refused(self):
        s = self.server
        body = b'{"conf":{"x":"' + b"a" * (1 << 20) + b'"}}'
        try:
            result = s.call("POST", "/api/v1/dags/sink/dagRuns", body)
        except (BrokenPipeError, ConnectionResetError) as error:
            self.fail("serve dropped the connection instead of answering 413: %r" % error)
        self.assertProblem(result, 413, "the request body is larger than 1048576 bytes")
        self.assertProblem(s.call("POST", "/api/v1/dags/sink/dagRuns",
                                  {"dag_run_id": "big", "conf": {"x": "a" * 65536}}), 400,
                           "conf is larger than 65536 bytes")
        self.assertEqual(self.runs_of("sink")["dag_runs"], [])
        # Just under the cap is a run.
        status, _, data = s.call("POST", "/api/v1/dags/roomy/dagRuns",
                                 {"dag_run_id": "almost", "conf": {"x": "a" * 65000}})
        self.assertEqual(status, 200, data[:200])

    def test_hostile_run_ids_and_long_ids_are_refused(self):
        s = self.server
        self.assertProblem(s.call("POST", "/api/v1/dags/sink/dagRuns", {"dag_run_id": "r" * 251}),
                           400, "dag_run_id is longer than 250 characters")
        for run_id in (".", "..", ".hidden"):
            self.assertProblem(s.call("POST", "/api/v1/dags/sink/dagRuns",
                                      {"dag_run_id": run_id}), 400,
                               "dag_run_id must not begin with '.'")
        self.assertProblem(s.call("GET", "/api/v1/dags/" + "d" * 251), 400,
                           "dag_id is longer than 250 characters")
        self.assertEqual(self.runs_of("sink")["dag_runs"], [])

    def test_long_unknown_id_gets_no_suggestion(self):
        s = self.server
        # One letter from a DAG's 99-letter id: a suggestion would cost 100 x 99 steps per DAG.
        unknown = self.long_id + "b"
        self.assertProblem(s.call("GET", "/api/v1/dags/" + unknown), 404,
                           "unknown DAG '%s'" % unknown)
        # Short ids still get one.
        self.assertProblem(s.call("GET", "/api/v1/dags/sinc"), 404,
                           "unknown DAG 'sinc', did you mean 'sink'?")

    # -- 5. idle and slow connections --------------------------------------------------------

    def test_idle_connections_do_not_delay_health(self):
        sockets = []
        try:
            for _ in range(100):
                sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
                sock.sendall(b"GET /api/v1/hea")
                sockets.append(sock)
            times = []
            for _ in range(3):  # a scheduling hiccup may spoil one measurement, not three
                start = time.monotonic()
                status, _, _ = self.server.call("GET", "/api/v1/health", token=None)
                times.append(time.monotonic() - start)
                self.assertEqual(status, 200)
                if times[-1] < 0.1:
                    break
            self.assertLess(min(times), 0.1, "health took %s s with 100 idle connections" % times)
            # The first request too: a connection the listen backlog dropped waits a second for
            # the SYN's retransmission.
            self.assertLess(times[0], 0.5, "health took %s s with 100 idle connections" % times)
        finally:
            for sock in sockets:
                sock.close()

    def test_slow_request_is_cut_off_after_header_timeout(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        try:
            start = time.monotonic()
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            closed_after = None
            while time.monotonic() - start < 8:
                time.sleep(0.25)
                try:
                    sock.sendall(b"a")  # a byte now and then must not keep the connection
                    sock.settimeout(0.01)
                    data = sock.recv(4096)
                    sock.settimeout(10)
                except socket.timeout:
                    sock.settimeout(10)
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    data = b""
                if data == b"":
                    closed_after = time.monotonic() - start
                    break
            self.assertIsNotNone(closed_after, "the slow request was never cut off")
            self.assertGreater(closed_after, 1.5)
            self.assertLess(closed_after, 5.0)
        finally:
            sock.close()

    # -- 6. files ----------------------------------------------------------------------------

    def test_files_conveyor_creates_are_private(self):
        s = self.server
        s.trigger("files", "priv1")
        self.assertEqual(s.wait_run("files", "priv1")["state"], "success")
        self.assertEqual(s.task_log("files", "priv1", "touch"), b"made\n")
        state = os.path.dirname(s.db)
        logs = os.path.join(state, "logs")
        log_dirs = [logs, os.path.join(logs, "dag_id=files"),
                    os.path.join(logs, "dag_id=files", "run_id=priv1"),
                    os.path.join(logs, "dag_id=files", "run_id=priv1", "task_id=touch")]
        log_file = os.path.join(log_dirs[-1], "attempt=1.log")
        files = [s.db, s.db + "-wal", self.token_path, log_file]
        if os.path.exists(s.db + "-shm"):
            files.append(s.db + "-shm")
        self.assertEqual({p: oct(mode(p)) for p in files}, {p: oct(0o600) for p in files})
        self.assertEqual({p: oct(mode(p)) for p in log_dirs}, {p: oct(0o700) for p in log_dirs})

    def test_files_a_task_creates_keep_the_umask(self):
        s = self.server
        s.trigger("files", "umask1")
        self.assertEqual(s.wait_run("files", "umask1")["state"], "success")
        self.assertEqual(oct(mode(os.path.join(self.work, "out_umask1.txt"))), oct(0o644))
        self.assertEqual(oct(mode(os.path.join(self.work, "dir_umask1"))), oct(0o755))

    # -- 7. audit trail ----------------------------------------------------------------------

    def test_api_writes_are_audited_with_the_caller(self):
        s = self.server
        path = "/api/v1/dags/audited/dagRuns"
        self.assertEqual(s.call("POST", path, {"dag_run_id": "audit1"})[0], 200)
        self.assertEqual(s.call("POST", path, {"dag_run_id": "audit2"}, token=None)[0], 401)
        self.assertEqual(s.call("POST", path, {"dag_run_id": "audit1"})[0], 409)
        status, logs = s.json_call(
            "GET", "/api/v1/eventLogs?event=api.trigger_dag_run&order_by=-event_log_id&limit=1000")
        self.assertEqual(status, 200, logs)
        self.assertEqual({e["event"] for e in logs["event_logs"]}, {"api.trigger_dag_run"})
        keys = ("remote_addr", "method", "path", "status")
        seen = []
        for entry in logs["event_logs"]:
            extra = json.loads(entry["extra"])
            if extra.get("path") == path:
                self.assertEqual(entry["owner"], "api")
                seen.append({k: extra.get(k) for k in keys})
        expected = [{"remote_addr": "127.0.0.1", "method": "POST", "path": path, "status": code}
                    for code in (409, 200)]  # newest first; the refused 401 is not recorded
        self.assertEqual(seen, expected)


class LoadErrorTest(ProblemAssertions):
    """DAG files built to hang or crash the loader are import errors; serve keeps running."""

    BAD = {
        "bomb": "params:\n  l0: &l0 \"lol\"\n" + "".join(
            "  l%d: &l%d [%s]\n" % (i, i, ", ".join(["*l%d" % (i - 1)] * 10))
            for i in range(1, 10)) + "tasks:\n  - {id: t, operator: noop}\n",
        "selfref": "params:\n  loop: &a [*a]\ntasks:\n  - {id: t, operator: noop}\n",
        "huge": "params: {x: \"" + "a" * (10 * 1024 * 1024 + 16) + "\"}\n"
                "tasks:\n  - {id: t, operator: noop}\n",
        "backtick": dag_yaml([{"id": "t", "command": "echo `echo {{ params.n }}`"}], {"n": "1"}),
        "heredoc": dag_yaml([{"id": "t", "command": "cat <<EOF\n{{ params.n }}\nEOF\n"}],
                            {"n": "1"}),
        "arith": dag_yaml([{"id": "t", "command": "echo $(( {{ params.n }} + 1 ))"}], {"n": "1"}),
        "secret_in_command": dag_yaml([{"id": "t", "command": "echo {{ secrets.API_KEY }}"}]),
    }

    def setUp(self):
        self.server = Server("secrets:\n  API_KEY: {env: TEST_SECRET_VALUE}\n",
                             env={"TEST_SECRET_VALUE": SECRET})
        self.server.write_dag("fine", dag_yaml([{"id": "t", "operator": "noop"}]))
        self.server.start()
        self.server.token = "unused"

    def tearDown(self):
        self.server.stop()

    def test_alias_bombs_huge_files_and_misplaced_templates_are_import_errors(self):
        s = self.server
        # Written while serve runs: a loader that hangs fails this test, not the whole suite.
        for name, text in self.BAD.items():
            s.write_dag(name, text)

        def listed():
            _, body = s.json_call("GET", "/api/v1/dags?limit=100", token=None)
            dags = {d["dag_id"]: d for d in body["dags"]}
            return dags if all(name in dags for name in self.BAD) else None
        dags = wait_for(listed, 60, "the bad files to be listed")
        for name in self.BAD:
            dag = dags[name]
            self.assertEqual((dag["has_import_errors"], dag["is_active"]), (True, False), name)
            self.assertRegex(dag["import_error"], r"(^|/)%s\.yaml:\d+:\d+: " % name)
        self.assertEqual((dags["fine"]["has_import_errors"], dags["fine"]["is_active"]),
                         (False, True))
        self.assertIsNone(s.proc.poll())
        self.assertEqual(s.call("GET", "/api/v1/health", token=None)[0], 200)
        self.assertNotIn(SECRET, s.serve_log())


class ReadsNeedTokenTest(ProblemAssertions):
    """A second serve with `auth: {reads: token}` and a small connection limit."""

    TOKEN = "reads-t0ken-" + uuid.uuid4().hex

    @classmethod
    def setUpClass(cls):
        cls.server = Server("token: %s\nauth: {reads: token}\nhttp: {max_connections: 8}\n"
                            % cls.TOKEN)
        cls.server.write_dag("fine", dag_yaml([{"id": "t", "operator": "noop"}]))
        cls.server.token = cls.TOKEN
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_reads_need_the_token_but_health_and_ui_stay_open(self):
        s = self.server
        for path in ("/api/v1/dags", "/metrics", "/api/v1/eventLogs"):
            self.assertProblem(s.call("GET", path, token=None), 401, NEEDS_TOKEN)
            self.assertProblem(s.call("GET", path, token="wrong"), 403, "the token is not valid")
            status, _, data = s.call("GET", path)
            self.assertEqual(status, 200, (path, data))
        for path in ("/api/v1/health", "/"):
            status, _, data = s.call("GET", path, token=None)
            self.assertEqual(status, 200, (path, data))

    def test_connections_beyond_the_limit_get_503_at_once(self):
        s = self.server
        idle = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(8)]
        try:
            time.sleep(0.3)
            # A connection a client has just closed counts until its thread sees the close: allow
            # the 503 to come for one connection more than the limit, never later.
            raw, elapsed = b"", None
            for _ in range(2):
                with socket.create_connection(("127.0.0.1", s.port), timeout=1.5) as extra:
                    idle.append(extra.dup())
                    start = time.monotonic()
                    raw = b""
                    try:
                        while True:
                            chunk = extra.recv(65536)
                            if not chunk:
                                break
                            raw += chunk
                    except socket.timeout:
                        continue
                    elapsed = time.monotonic() - start
                    break
            self.assertIsNotNone(elapsed, "no connection beyond the limit of 8 got an answer")
            head, _, body = raw.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 503 "), raw)
            self.assertIn(b"\r\nContent-Type: application/problem+json\r\n", head + b"\r\n")
            self.assertEqual(json.loads(body), {"type": "about:blank", "title": TITLES[503],
                                                "status": 503,
                                                "detail": "too many connections (limit 8)"})
            self.assertLess(elapsed, 1.0)
        finally:
            for sock in idle:
                sock.close()
        wait_for(lambda: s.call("GET", "/api/v1/health", token=None)[0] == 200, 10,
                 "serve to answer once the idle connections closed")


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
