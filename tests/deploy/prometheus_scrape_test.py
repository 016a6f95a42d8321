#!/usr/bin/python3
"""A real Prometheus scrapes a running `conveyor serve` with the API token, and every query of
the Grafana dashboard (deploy/grafana/conveyor.json) returns data: the scheduler's, the served
models' and the drift monitor's. Also: /metrics refuses a scrape without the token, the alert
rules (deploy/prometheus/alerts.yml) pass `promtool check rules` and load into Prometheus healthy,
and each dashboard variable has values.

Serve runs the demo's training, both batch inferences and the drift monitor (which fails on the
drift it finds: that is what makes the drift gauges), then a DAG whose task outlives its deadline,
twice, while the test posts predictions in the three protocols, good and bad.

Usage: prometheus_scrape_test.py CONVEYOR SOURCE_DIR
(PROMETHEUS and PROMTOOL in the environment name the binaries; default: from PATH.)
"""
import http.server
import json
import math
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"
SOURCE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
PROMETHEUS = os.environ.get("PROMETHEUS") or shutil.which("prometheus")
PROMTOOL = os.environ.get("PROMTOOL") or shutil.which("promtool")
DASHBOARD = os.path.join(SOURCE, "deploy", "grafana", "conveyor.json")
ALERTS = os.path.join(SOURCE, "deploy", "prometheus", "alerts.yml")

SCRAPE_INTERVAL = "1s"
# What Grafana puts for its own variables. $__rate_interval is at least 4 scrape intervals; a
# minute holds the whole test, so every counter's increase during it is in the window.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "2s", "__interval_ms": "2000",
                    "__range": "5m", "__range_s": "300", "__range_ms": "300000"}
# How long the panel queries may take to show data (rates need two scrapes after an increase).
QUERY_PATIENCE = 30.0

# A task that outlives its DAG's deadline: serve counts the miss, and the task's duration.
LATE_DAG = """dag_id: late
schedule: null
start_date: 2026-01-01
max_active_runs: 1
deadline: {after: 1s, reference: queued, on_miss: [{webhook: "%s/late"}]}
tasks:
  - {id: nap, operator: shell, command: sleep 2}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.2)


def get(url, headers=None, timeout=10):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None, ""


class Hooks(http.server.BaseHTTPRequestHandler):
    """Takes the webhooks the DAGs post (the drift monitor's failure, the missed deadlines)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def panels_of(dashboard):
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def substitute(expr, variables):
    """The query Grafana sends: its variables replaced, each of the dashboard's with its All."""
    def value(match):
        name = match.group(1)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name not in variables:
            raise KeyError("the query uses $%s, which is no variable of the dashboard" % name)
        return variables[name]
    expr = re.sub(r"\$\{(\w+)(?::\w+)?\}", value, expr)
    expr = re.sub(r"\[\[(\w+)\]\]", value, expr)
    return re.sub(r"\$(\w+)", value, expr)


def has_a_number(result):
    """Whether a query's result holds a sample that is not NaN: a panel that shows something."""
    data = result["data"]
    if data["resultType"] == "scalar":
        values = [data["result"]]
    elif data["resultType"] == "vector":
        values = [r["value"] for r in data["result"]]
    else:
        values = [v for r in data["result"] for v in r["values"]]
    return any(not math.isnan(float(v[1])) for v in values)


class PrometheusScrapeTest(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not PROMETHEUS or not PROMTOOL:
            raise unittest.SkipTest("needs prometheus and promtool")
        cls.dir = tempfile.mkdtemp(prefix="conveyor_prometheus_")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        try:
            cls.start()
        except BaseException:
            cls.show_logs()
            raise

    @classmethod
    def show_logs(cls):
        for name in ["serve.log", "prometheus.log"]:
            path = os.path.join(cls.dir, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    sys.stderr.write("--- the end of %s:\n%s\n" % (name, f.read()[-4000:]))

    @classmethod
    def start(cls):
        """serve with the demo's results, Prometheus scraping it, and traffic while it does."""
        hooks = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
        threading.Thread(target=hooks.serve_forever, daemon=True).start()
        cls.addClassCleanup(hooks.server_close)
        cls.addClassCleanup(hooks.shutdown)
        hook_url = "http://127.0.0.1:%d" % hooks.server_address[1]

        dags = os.path.join(cls.dir, "dags")
        os.makedirs(dags)
        os.symlink(os.path.join(SOURCE, "dags", "data"), os.path.join(dags, "data"))
        for name in ["credit_default_training", "batch_inference_primary",
                     "batch_inference_baseline", "drift_monitor"]:
            with open(os.path.join(SOURCE, "dags", name + ".yaml")) as f:
                text = re.sub(r"http://127\.0\.0\.1:9000", hook_url, f.read())
            with open(os.path.join(dags, name + ".yaml"), "w") as f:
                f.write(text)
        with open(os.path.join(dags, "late.yaml"), "w") as f:
            f.write(LATE_DAG % hook_url)

        cls.token = secrets.token_hex(32)
        cls.token_file = os.path.join(cls.dir, "token")
        with open(os.open(cls.token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(cls.token + "\n")
        cls.port = free_port()
        cls.base = "http://127.0.0.1:%d" % cls.port
        cls.config = os.path.join(cls.dir, "conveyor.yaml")
        with open(cls.config, "w") as f:
            f.write("dags_folder: dags\ndb: state/conveyor.db\nport: %d\n"
                    "token_file: token\nauth: {reads: token}\n" % cls.port)

        for dag in ["credit_default_training", "batch_inference_primary",
                    "batch_inference_baseline"]:
            code, out = cls.cli("dags", "trigger", dag, "--wait")
            assert code == 0, out
        # The monitor fails its run on the drift the demo's primary period holds (on_drift: fail),
        # having written its results: the drift gauges.
        code, out = cls.cli("dags", "trigger", "drift_monitor", "--wait")
        assert "features drifted" in out, out

        model = json.loads(cls.cli("models", "show", "credit_default", "-o", "json")[1])
        cls.features = model["versions"][0]["features"]
        data = sqlite3.connect(os.path.join(cls.dir, "state", "data.db"))
        cls.rows = [list(r) for r in data.execute(
            "SELECT %s FROM inference_primary ORDER BY rowid LIMIT 50"
            % ", ".join('"%s"' % c for c in cls.features))]
        data.close()

        cls.serve_log = open(os.path.join(cls.dir, "serve.log"), "w")
        cls.addClassCleanup(cls.serve_log.close)
        cls.serve = subprocess.Popen([CONVEYOR, "--config", cls.config, "serve"],
                                     stdout=cls.serve_log, stderr=subprocess.STDOUT)
        cls.addClassCleanup(cls.stop, cls.serve)
        wait_for(lambda: cls.alive(cls.serve) and get(cls.base + "/api/v1/health")[0] == 200, 20,
                 "serve")
        # A first late run now, so that its task's series exists when the second one ends.
        code, out = cls.cli("dags", "trigger", "late")
        assert code == 0, out

        cls.prometheus_port = free_port()
        cls.prometheus_url = "http://127.0.0.1:%d" % cls.prometheus_port
        prometheus_config = os.path.join(cls.dir, "prometheus.yml")
        with open(prometheus_config, "w") as f:
            f.write("""global:
  scrape_interval: {interval}
  scrape_timeout: {interval}
  evaluation_interval: {interval}
rule_files:
  - {alerts}
scrape_configs:
  - job_name: conveyor
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: {token}
    static_configs:
      - targets: ["127.0.0.1:{port}"]
""".format(interval=SCRAPE_INTERVAL, alerts=json.dumps(ALERTS), token=json.dumps(cls.token_file),
           port=cls.port))
        cls.prometheus_log = open(os.path.join(cls.dir, "prometheus.log"), "w")
        cls.addClassCleanup(cls.prometheus_log.close)
        cls.prometheus = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + prometheus_config,
             "--storage.tsdb.path=" + os.path.join(cls.dir, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % cls.prometheus_port],
            stdout=cls.prometheus_log, stderr=subprocess.STDOUT)
        cls.addClassCleanup(cls.stop, cls.prometheus)
        wait_for(lambda: cls.alive(cls.prometheus) and
                 get(cls.prometheus_url + "/-/ready")[0] == 200, 30, "Prometheus")
        cls.target = wait_for(cls.healthy_target, 20, "Prometheus to scrape serve")

        # Traffic while Prometheus watches: the second late run (its task's duration and its
        # missed deadline increase counters that exist), and predictions over a few scrapes.
        code, out = cls.cli("dags", "trigger", "late")
        assert code == 0, out
        for _ in range(5):
            cls.predict()
            time.sleep(0.6)

    @classmethod
    def alive(cls, process):
        if process.poll() is not None:
            raise AssertionError("%s exited with %d" % (process.args[0], process.returncode))
        return True

    @classmethod
    def stop(cls, process):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    @classmethod
    def cli(cls, *args):
        result = subprocess.run([CONVEYOR, "--config", cls.config, *args], capture_output=True,
                                text=True, timeout=120)
        return result.returncode, result.stdout + result.stderr

    @classmethod
    def post(cls, path, body):
        request = urllib.request.Request(cls.base + path, data=json.dumps(body).encode(),
                                         method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": "Bearer " + cls.token})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    @classmethod
    def predict(cls):
        """A request in each protocol, and two that fail: a 400 and a 404."""
        n, f = len(cls.rows), len(cls.features)
        answers = [
            cls.post("/models/credit_default@production/invocations", {"inputs": cls.rows}),
            cls.post("/v2/models/credit_default@production/infer", {"inputs": [
                {"name": "x", "shape": [n, f], "datatype": "FP64", "data": cls.rows}]}),
            cls.post("/models/credit_default@production/api/v1.0/predictions",
                     {"data": {"names": cls.features, "ndarray": cls.rows}}),
            cls.post("/models/credit_default@production/invocations", {"inputs": [[1.0, 2.0]]}),
            cls.post("/models/credit_default@nowhere/invocations", {"inputs": []}),
        ]
        assert answers == [200, 200, 200, 400, 404], answers

    @classmethod
    def healthy_target(cls):
        status, body = get(cls.prometheus_url + "/api/v1/targets?state=active")
        if status != 200:
            return None
        for target in json.loads(body)["data"]["activeTargets"]:
            if target["scrapeUrl"] == cls.base + "/metrics" and target["health"] == "up":
                return target
        return None

    @classmethod
    def query(cls, expr):
        status, body = get(cls.prometheus_url + "/api/v1/query?" +
                           urllib.parse.urlencode({"query": expr}))
        answer = json.loads(body) if body else {"status": "no answer (%s)" % status}
        return answer

    def metrics_text(self):
        status, text = get(self.base + "/metrics", {"Authorization": "Bearer " + self.token})
        self.assertEqual(status, 200, text)
        return text

    def dashboard(self):
        with open(DASHBOARD) as f:
            return json.load(f)

    def all_values(self, dashboard):
        return {v["name"]: v.get("allValue") or ".*" for v in dashboard["templating"]["list"]
                if v["type"] == "query"}

    def test_metrics_need_the_token_and_prometheus_scrapes_with_it(self):
        self.assertEqual(get(self.base + "/metrics")[0], 401)
        self.assertEqual(get(self.base + "/metrics", {"Authorization": "Bearer wrong"})[0], 403)
        self.assertEqual(self.target["labels"]["job"], "conveyor")
        self.assertEqual(self.target["lastError"], "")
        answer = self.query('up{job="conveyor"}')
        self.assertEqual(answer["status"], "success", answer)
        self.assertEqual([r["value"][1] for r in answer["data"]["result"]], ["1"])

    def test_alert_rules_pass_promtool_and_load_healthy(self):
        check = subprocess.run([PROMTOOL, "check", "rules", ALERTS], capture_output=True,
                               text=True, timeout=60)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        with open(ALERTS) as f:
            alerts = set(re.findall(r"^\s*- alert: (\w+)", f.read(), re.M))
        self.assertGreaterEqual(len(alerts), 5)

        def evaluated():
            status, body = get(self.prometheus_url + "/api/v1/rules?type=alert")
            if status != 200:
                return None
            groups = json.loads(body)["data"]["groups"]
            rules = [r for g in groups for r in g["rules"]]
            if any(r.get("health") == "unknown" for r in rules):
                return None  # not evaluated yet
            return groups

        groups = wait_for(evaluated, 20, "the alert rules to be evaluated")
        self.assertEqual([g["name"] for g in groups], ["conveyor"])
        self.assertEqual(os.path.realpath(groups[0]["file"]), os.path.realpath(ALERTS))
        rules = groups[0]["rules"]
        self.assertEqual({r["name"] for r in rules}, alerts)
        self.assertEqual({r["name"]: (r["health"], r.get("lastError", ""))
                          for r in rules if r["health"] != "ok"}, {})

    def test_the_dashboard_is_well_formed_and_names_only_exported_metrics(self):
        dashboard = self.dashboard()
        self.assertEqual(dashboard["uid"], "conveyor")
        self.assertGreaterEqual(dashboard["schemaVersion"], 36)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        self.assertEqual(variables["model"]["definition"],
                         "label_values(conveyor_serving_requests_total, model)")
        panels = list(panels_of(dashboard))
        titles = [p["title"] for p in panels]
        self.assertEqual(len(titles), len(set(titles)), "panel titles must be unique")
        ids = [p["id"] for p in dashboard["panels"]] + [
            p["id"] for r in dashboard["panels"] for p in r.get("panels", [])]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")
        exported = set(re.findall(r"^# TYPE (\w+) ", self.metrics_text(), re.M))
        for panel in panels:
            self.assertTrue(panel["targets"], panel["title"])
            for target in [panel] + panel["targets"]:
                self.assertEqual(target["datasource"],
                                 {"type": "prometheus", "uid": "${datasource}"}, panel["title"])
            for target in panel["targets"]:
                expr = target["expr"]
                for metric in re.findall(r"\bconveyor_\w+", expr):
                    family = re.sub(r"_(bucket|sum|count)$", "", metric)
                    self.assertIn(family, exported, "%s: %s" % (panel["title"], metric))
                if "conveyor_serving_" in expr:
                    # Every selector of a serving metric follows the model variable.
                    selectors = re.findall(r"conveyor_serving_\w+(\{[^}]*\})?", expr)
                    self.assertTrue(all('model=~"$model"' in s for s in selectors),
                                    "%s: %s" % (panel["title"], expr))

    def test_each_dashboard_variable_has_values(self):
        for variable in self.dashboard()["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["definition"])
            self.assertTrue(match, variable["definition"])
            metric, label = match.groups()
            status, body = get("%s/api/v1/label/%s/values?%s" % (
                self.prometheus_url, label, urllib.parse.urlencode({"match[]": metric})))
            self.assertEqual(status, 200, body)
            values = json.loads(body)["data"]
            self.assertTrue(values, variable["name"])
            if variable["name"] == "model":
                self.assertEqual(values, ["credit_default"])

    def test_every_dashboard_query_returns_data(self):
        dashboard = self.dashboard()
        variables = self.all_values(dashboard)
        metrics = self.metrics_text()
        pending = {}
        for panel in panels_of(dashboard):
            for target in panel["targets"]:
                key = "%s [%s]" % (panel["title"], target["refId"])
                pending[key] = substitute(target["expr"], variables)
        self.assertGreaterEqual(len(pending), 25)
        failures = {}
        deadline = time.monotonic() + QUERY_PATIENCE
        while True:
            for key, expr in list(pending.items()):
                answer = self.query(expr)
                if answer["status"] == "success" and has_a_number(answer):
                    del pending[key]
                else:
                    failures[key] = (expr, answer)
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.assertEqual({key: failures[key] for key in pending}, {},
                         "dashboard queries without data; serve's /metrics:\n" + metrics)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
