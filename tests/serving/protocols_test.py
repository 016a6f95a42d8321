#!/usr/bin/python3
"""Online serving over real HTTP: `serve` answers MLflow's scoring protocol
(/models/NAME@ALIAS/invocations and /models/NAME/VERSION/invocations, in MLflow's four JSON forms
and CSV), the Open Inference Protocol (KServe v2) and Seldon Core v1, with exactly batch_infer's
predictions for the same rows and version (to the bit) and Python xgboost's (to 1e-6); errors
have each protocol's bodies; a moved alias answers with its new version within a second;
`conveyor serve-model` serves one model at MLflow's own paths.

Usage: protocols_test.py CONVEYOR SOURCE_DIR
"""
import json
import os
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
import urllib.request

import numpy as np
import xgboost

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"
SOURCE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(port, path):
    for _ in range(200):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=1)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    raise RuntimeError("nothing answers on port %d" % port)


class MlflowScoringTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="conveyor_serving_")
        dags = os.path.join(cls.dir, "dags")
        os.makedirs(dags)
        os.symlink(os.path.join(SOURCE, "dags", "data"), os.path.join(dags, "data"))
        for name in ["credit_default_training", "batch_inference_primary"]:
            shutil.copy(os.path.join(SOURCE, "dags", name + ".yaml"), dags)
        # A second version: a weaker model registered as `staging`.
        with open(os.path.join(SOURCE, "dags", "credit_default_training.yaml")) as f:
            weak = (f.read().replace("dag_id: credit_default_training", "dag_id: weak_training")
                    .replace("num_boost_round: 200", "num_boost_round: 2")
                    .replace("alias: production", "alias: staging")
                    .replace("      only_if_better: {metric: auc, than: production, by: 0.005}\n",
                             ""))
        with open(os.path.join(dags, "weak_training.yaml"), "w") as f:
            f.write(weak)
        cls.port = free_port()
        cls.config = os.path.join(cls.dir, "conveyor.yaml")
        with open(cls.config, "w") as f:
            f.write("dags_folder: dags\ndb: state/conveyor.db\nport: %d\n"
                    "serving: {max_rows: 200}\n" % cls.port)
        for dag in ["credit_default_training", "batch_inference_primary", "weak_training"]:
            code, out = cls.cli("dags", "trigger", dag, "--wait")
            assert code == 0, out
        model = json.loads(cls.cli("models", "show", "credit_default", "-o", "json")[1])
        cls.version = model["versions"][1]
        assert cls.version["aliases"] == ["production"], model
        cls.features = cls.version["features"]
        data = sqlite3.connect(os.path.join(cls.dir, "state", "data.db"))
        columns = ", ".join('"%s"' % c for c in cls.features)
        cls.rows = data.execute("SELECT %s, prediction_score FROM inference_primary ORDER BY rowid "
                                "LIMIT 100" % columns).fetchall()
        data.close()
        cls.log = open(os.path.join(cls.dir, "serve.log"), "w")
        cls.serve = subprocess.Popen([CONVEYOR, "--config", cls.config, "serve"],
                                     stdout=cls.log, stderr=subprocess.STDOUT)
        wait_until_up(cls.port, "/api/v1/health")

    @classmethod
    def tearDownClass(cls):
        cls.serve.terminate()
        cls.serve.wait(timeout=30)
        shutil.rmtree(cls.dir)

    @classmethod
    def cli(cls, *args):
        result = subprocess.run([CONVEYOR, "--config", cls.config, *args], capture_output=True,
                                text=True, timeout=300)
        return result.returncode, result.stdout + result.stderr

    def post(self, path, body, content_type="application/json", port=None, headers=None):
        data = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (port or self.port, path),
                                         data=data, method="POST")
        request.add_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read())

    def expected(self):
        return [r[-1] for r in self.rows]

    def features_of(self, row):
        return list(row[:-1])

    def test_every_input_form_gives_batch_infers_predictions_to_the_bit(self):
        path = "/models/credit_default@production/invocations"
        shuffled = list(reversed(self.features))
        forms = {
            "dataframe_split": {"dataframe_split": {
                "columns": shuffled, "index": list(range(len(self.rows))),
                "data": [[r[self.features.index(c)] for c in shuffled] for r in self.rows]}},
            "dataframe_records": {"dataframe_records": [
                dict(zip(self.features, self.features_of(r))) for r in self.rows]},
            "inputs as lists": {"inputs": [self.features_of(r) for r in self.rows]},
            "instances as records": {"instances": [
                dict(zip(self.features, self.features_of(r))) for r in self.rows]},
            "inputs as columns": {"inputs": {
                c: [r[i] for r in self.rows] for i, c in enumerate(self.features)}},
        }
        for name, body in forms.items():
            status, headers, answer = self.post(path, body)
            self.assertEqual(status, 200, (name, answer))
            self.assertEqual(answer["predictions"], self.expected(), name)
            self.assertEqual(headers["X-Model-Version"], str(self.version["version"]))
        csv = ",".join(shuffled) + "\n" + "\n".join(
            ",".join("" if r[self.features.index(c)] is None else repr(r[self.features.index(c)])
                     for c in shuffled) for r in self.rows) + "\n"
        status, _, answer = self.post(path, csv, "text/csv")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["predictions"], self.expected())
        status, _, answer = self.post(
            "/models/credit_default/%d/invocations" % self.version["version"],
            {"inputs": [self.features_of(r) for r in self.rows]},
            "application/json; charset=utf-8")
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["predictions"], self.expected())

    def test_predictions_equal_python_xgboosts(self):
        booster = xgboost.Booster()
        booster.load_model(self.version["artifact_path"])
        x = np.array([[np.nan if v is None else v for v in self.features_of(r)] for r in self.rows],
                     dtype=np.float32)
        theirs = booster.predict(xgboost.DMatrix(x, feature_names=self.features, missing=np.nan))
        status, _, answer = self.post("/models/credit_default@production/invocations",
                                      {"inputs": [self.features_of(r) for r in self.rows]})
        self.assertEqual(status, 200)
        self.assertLess(max(abs(a - b) for a, b in zip(answer["predictions"], theirs)), 1e-6)

    def test_errors_have_mlflows_bodies_and_name_what_is_wrong(self):
        path = "/models/credit_default@production/invocations"
        row = dict(zip(self.features, self.features_of(self.rows[0])))

        def error(body, content_type="application/json", at=path, headers=None):
            status, _, answer = self.post(at, body, content_type, headers=headers)
            return status, answer

        self.assertEqual(error(b"a,b\n1,2\n", "text/plain"), (415, {
            "error_code": "BAD_REQUEST",
            "message": "Content-Type must be application/json (charset=utf-8 at most) or "
                       "text/csv, got 'text/plain'"}))
        self.assertEqual(error({"dataframe_records": [row]}, "application/json; charset=latin-1")[0],
                         415)
        self.assertEqual(error({"inputs": [], "instances": []}), (400, {
            "error_code": "BAD_REQUEST",
            "message": "the body must hold exactly one of dataframe_split, dataframe_records, "
                       "inputs or instances; it holds inputs, instances"}))
        missing = dict(row)
        del missing[self.features[0]]
        missing["colour"] = 1
        status, answer = error({"dataframe_records": [missing]})
        self.assertEqual((status, answer["error_code"]), (400, "BAD_REQUEST"))
        self.assertTrue(answer["message"].startswith(
            "record 0: missing features: %s; unknown columns: colour (the model's features: "
            % self.features[0]), answer["message"])
        text = dict(row)
        text[self.features[1]] = "high"
        self.assertEqual(error({"dataframe_records": [row, text]}), (400, {
            "error_code": "BAD_REQUEST",
            "message": "row 1, column '%s' holds \"high\": expected a number, a boolean or null"
                       % self.features[1]}))
        self.assertEqual(error({"inputs": [[1.0, 2.0]]})[1]["message"],
                         "row 0 must be a list of %d values, got 2 values" % len(self.features))
        self.assertEqual(error({"inputs": [self.features_of(self.rows[0])] * 201}), (400, {
            "error_code": "BAD_REQUEST",
            "message": "201 rows is more than the 200 a request may hold (serving.max_rows)"}))
        self.assertEqual(error(b"{not json"), (400, {"error_code": "BAD_REQUEST",
                                                     "message": "the request body is not valid JSON"}))
        status, answer = error({"inputs": []}, at="/models/credit_default@nowhere/invocations")
        self.assertEqual((status, answer["error_code"]), (404, "RESOURCE_DOES_NOT_EXIST"))
        self.assertIn("model 'credit_default' has no alias 'nowhere'", answer["message"])
        # A body of 100,000 nested lists (the attack that once took serve down) is refused by
        # every protocol before it is parsed, and serve goes on.
        deep = "{\"inputs\": " + "[" * 100000 + "]" * 100000 + "}"
        for at, body in [(path, deep), ("/v2/models/credit_default@production/infer", deep),
                         ("/models/credit_default@production/api/v1.0/predictions", deep)]:
            status, _, answer = self.post(at, deep)
            self.assertEqual(status, 400, at)
            self.assertIn("the request body nests deeper than 64 levels", json.dumps(answer))
        self.assertEqual(self.get("/v2/health/live"), (200, {"live": True}))
        # A web page's cross-origin request is refused, in MLflow's body too.
        status, answer = error({"inputs": []}, headers={"Origin": "http://evil.example"})
        self.assertEqual((status, answer["error_code"]), (403, "PERMISSION_DENIED"))

    def test_a_moved_alias_answers_with_its_new_version_within_a_second(self):
        code, out = self.cli("models", "alias", "credit_default", "1", "challenger")
        self.assertEqual(code, 0, out)
        path = "/models/credit_default@challenger/invocations"
        body = {"inputs": [self.features_of(r) for r in self.rows[:10]]}
        status, headers, first = self.post(path, body)
        self.assertEqual((status, headers["X-Model-Version"]), (200, "1"))
        code, out = self.cli("models", "alias", "credit_default", "2", "challenger")
        self.assertEqual(code, 0, out)
        moved = time.monotonic()
        while True:
            status, headers, answer = self.post(path, body)
            self.assertEqual(status, 200, answer)
            if headers["X-Model-Version"] == "2":
                break
            self.assertEqual(answer, first)  # the old version, whole, until the swap
            self.assertLess(time.monotonic() - moved, 1.5, "the alias did not move in time")
            time.sleep(0.02)
        self.assertNotEqual(answer["predictions"], first["predictions"])

    def test_alias_moves_under_load_fail_no_request(self):
        rows = [self.features_of(r) for r in self.rows[:20]]
        by_version = {}
        for version in (1, 2):
            status, _, answer = self.post("/models/credit_default/%d/invocations" % version,
                                          {"inputs": rows})
            self.assertEqual(status, 200)
            by_version[str(version)] = answer["predictions"]
        self.assertEqual(self.cli("models", "alias", "credit_default", "1", "swapped")[0], 0)
        stop = threading.Event()
        seen = []
        problems = []

        def client():
            while not stop.is_set():
                status, headers, answer = self.post(
                    "/models/credit_default@swapped/invocations", {"inputs": rows})
                if status != 200:
                    problems.append((status, answer))
                    continue
                version = headers["X-Model-Version"]
                seen.append(version)
                # Each answer is whole: every prediction from the version it names.
                if answer["predictions"] != by_version[version]:
                    problems.append(("mixed", version))

        clients = [threading.Thread(target=client) for _ in range(4)]
        for thread in clients:
            thread.start()
        try:
            # Each move is followed until the clients are answered by the version it names (an
            # alias is looked up again within a second), then the next comes.
            for move in range(6):
                target = str(2 - move % 2)
                code, out = self.cli("models", "alias", "credit_default", target, "swapped")
                self.assertEqual(code, 0, out)
                deadline = time.monotonic() + 3
                followed = False
                while not followed and time.monotonic() < deadline:
                    time.sleep(0.02)
                    followed = bool(seen) and seen[-1] == target
                self.assertTrue(followed, "move %d was not followed in 3 s" % move)
        finally:
            stop.set()
            for thread in clients:
                thread.join()
        self.assertEqual(problems, [])
        self.assertGreater(len(seen), 100)
        self.assertEqual(set(seen), {"1", "2"})

    def get(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                        timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def test_the_open_inference_protocol(self):
        rows = [self.features_of(r) for r in self.rows]
        n, f = len(rows), len(self.features)
        one_tensor = {"id": "abc", "inputs": [{"name": "input-0", "shape": [n, f],
                                               "datatype": "FP32", "data": rows}]}
        status, headers, answer = self.post("/v2/models/credit_default@production/infer",
                                            one_tensor)
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer, {"model_name": "credit_default", "model_version": "1",
                                  "id": "abc", "outputs": [{"name": "predict", "shape": [n],
                                                            "datatype": "FP32",
                                                            "data": self.expected()}]})
        self.assertEqual(headers["X-Model-Version"], "1")
        flat = {"inputs": [{"name": "x", "shape": [n, f], "datatype": "FP64",
                            "data": [v for r in rows for v in r]}]}
        status, _, answer = self.post("/v2/models/credit_default/versions/1/infer", flat)
        self.assertEqual((status, answer["outputs"][0]["data"]), (200, self.expected()))
        self.assertTrue(answer["id"].startswith("conveyor-"), answer["id"])
        per_feature = {"inputs": [{"name": c, "shape": [n], "datatype": "FP32",
                                   "data": [r[i] for r in rows]}
                                  for i, c in reversed(list(enumerate(self.features)))]}
        status, _, answer = self.post("/v2/models/credit_default@production/infer", per_feature)
        self.assertEqual((status, answer["outputs"][0]["data"]), (200, self.expected()))
        # A bare name is the latest version: the weak one.
        status, _, answer = self.post("/v2/models/credit_default/infer", one_tensor)
        self.assertEqual((status, answer["model_version"]), (200, "2"))

        bad = {"inputs": [{"name": "x", "shape": [1, f], "datatype": "BYTES", "data": rows[0]}]}
        self.assertEqual(self.post("/v2/models/credit_default@production/infer", bad)[::2], (400, {
            "error": "input 'x' has datatype 'BYTES': expected FP32, FP64, INT64, INT32 or BOOL"}))
        wrong = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}
        self.assertEqual(self.post("/v2/models/credit_default@production/infer", wrong)[::2], (400, {
            "error": "input 'x' has shape [1,2]: expected [N, %d], the model's features in order, "
                     "or one input per feature" % f}))
        status, _, answer = self.post("/v2/models/nothing@production/infer", one_tensor)
        self.assertEqual((status, list(answer)), (404, ["error"]))
        status, _, answer = self.post("/v2/models/credit_default@production/infer", "x",
                                      "text/plain")
        self.assertEqual((status, list(answer)), (415, ["error"]))

        self.assertEqual(self.get("/v2/health/live"), (200, {"live": True}))
        self.assertEqual(self.get("/v2/health/ready"), (200, {"ready": True}))
        status, metadata = self.get("/v2/models/credit_default@production")
        self.assertEqual((status, metadata["name"], metadata["versions"], metadata["platform"]),
                         (200, "credit_default", ["1"], "xgboost"))
        self.assertEqual([i["name"] for i in metadata["inputs"]], self.features)
        self.assertEqual(metadata["outputs"], [{"name": "predict", "datatype": "FP32",
                                                "shape": [-1]}])
        self.assertEqual(self.get("/v2/models/credit_default/versions/2/ready"),
                         (200, {"name": "credit_default", "ready": True}))
        self.assertEqual(self.get("/v2/models/credit_default/versions/9/ready")[0], 404)

    def test_seldon_core_v1(self):
        shuffled = list(reversed(self.features))
        body = {"data": {"names": shuffled, "ndarray": [
            [r[self.features.index(c)] for c in shuffled] for r in self.rows]}}
        status, _, answer = self.post("/models/credit_default@production/api/v1.0/predictions",
                                      body)
        self.assertEqual(status, 200, answer)
        self.assertEqual(answer["data"], {"names": ["predict"], "ndarray": self.expected()})
        self.assertEqual(answer["meta"]["tags"], {"model_version": 1})
        status, _, answer = self.post("/models/credit_default@production/api/v1.0/predictions",
                                      {"data": {}})
        self.assertEqual((status, answer["status"]["status"], answer["status"]["code"]),
                         (400, "FAILURE", 400))

    def metrics(self):
        with open(os.path.join(self.dir, "state", "conveyor.db.token")) as f:
            token = f.read().strip()
        request = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.port,
                                         headers={"Authorization": "Bearer " + token})
        text = urllib.request.urlopen(request, timeout=10).read().decode()
        values = {}
        for line in text.splitlines():
            if line.startswith("conveyor_serving_"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return text, values

    def test_metrics_count_requests_rows_latency_and_scores(self):
        _, before = self.metrics()
        labels = 'model="credit_default",version="1"'
        ok = 'conveyor_serving_requests_total{%s,protocol="mlflow",code="200"}' % labels
        unknown = ('conveyor_serving_requests_total{model="credit_default",version="",'
                   'protocol="mlflow",code="404"}')
        self.post("/models/credit_default@production/invocations",
                  {"inputs": [self.features_of(r) for r in self.rows]})
        self.post("/models/credit_default@nowhere/invocations", {"inputs": []})
        # Names a client makes up add no series: they are all counted under model "".
        for made_up in ["attacker_%d" % i for i in range(20)]:
            self.post("/models/%s@x/invocations" % made_up, {"inputs": []})
        made_up = ('conveyor_serving_requests_total{model="",version="",protocol="mlflow",'
                   'code="404"}')
        text, after = self.metrics()
        self.assertEqual(after[ok] - before.get(ok, 0), 1)
        self.assertEqual(after[unknown] - before.get(unknown, 0), 1)
        self.assertEqual(after[made_up] - before.get(made_up, 0), 20)
        self.assertNotIn("attacker_", text)
        rows = "conveyor_serving_rows_total{%s}" % labels
        self.assertEqual(after[rows] - before.get(rows, 0), 100)
        scores = 'conveyor_serving_prediction_score_bucket{%s,le="+Inf"}' % labels
        self.assertEqual(after[scores] - before.get(scores, 0), 100)
        below = 'conveyor_serving_prediction_score_bucket{%s,le="0.5"}' % labels
        self.assertEqual(after[below] - before.get(below, 0),
                         sum(1 for r in self.rows if r[-1] <= 0.5))
        self.assertIn('conveyor_serving_request_seconds_count{%s}' % labels, text)
        if shutil.which("promtool"):
            check = subprocess.run(["promtool", "check", "metrics"], input=text,
                                   capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

    def test_model_serving_figures_for_the_ui_equal_the_metrics(self):
        def figures():
            request = urllib.request.Request(
                "http://127.0.0.1:%d/api/v1/models/credit_default/serving" % self.port)
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read())
            return {v["version"]: v for v in answer["versions"]}
        version = self.version["version"]
        before = figures().get(version, {"rows": 0, "requests": [], "scores": {"count": 0}})
        for _ in range(3):
            self.post("/models/credit_default@production/invocations",
                      {"inputs": [self.features_of(r) for r in self.rows[:7]]})
        after = figures()[version]
        self.assertEqual(after["rows"] - before["rows"], 21)
        self.assertEqual(after["scores"]["count"] - before["scores"]["count"], 21)
        count = lambda v: sum(r["count"] for r in v["requests"]
                              if r["protocol"] == "mlflow" and r["status"] == 200)
        self.assertEqual(count(after) - count(before), 3)
        self.assertEqual(after["latency_seconds"]["bounds"][0], 0.0001)
        self.assertEqual(len(after["latency_seconds"]["counts"]),
                         len(after["latency_seconds"]["bounds"]) + 1)
        _, values = self.metrics()
        self.assertEqual(values['conveyor_serving_rows_total{model="credit_default",version="%d"}'
                                % version], after["rows"])
        with self.assertRaises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen("http://127.0.0.1:%d/api/v1/models/nosuch/serving" % self.port)
        self.assertEqual(missing.exception.code, 404)

    def test_serve_model_answers_at_mlflows_paths(self):
        port = free_port()
        process = subprocess.Popen([CONVEYOR, "--config", self.config, "serve-model",
                                    "credit_default@production", "--port", str(port)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            wait_until_up(port, "/ping")
            status, headers, answer = self.post(
                "/invocations", {"inputs": [self.features_of(r) for r in self.rows]}, port=port)
            self.assertEqual(status, 200, answer)
            self.assertEqual(answer["predictions"], self.expected())
            self.assertEqual(headers["X-Model-Version"], str(self.version["version"]))
            for path in ["/ping", "/health"]:
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path)) as response:
                    self.assertEqual(response.status, 200)
            with urllib.request.urlopen("http://127.0.0.1:%d/version" % port) as response:
                self.assertRegex(response.read().decode(), r"^\d+\.\d+\.\d+$")
        finally:
            process.terminate()
            out, _ = process.communicate(timeout=10)
        self.assertEqual(process.returncode, 0, out)
        self.assertIn("conveyor serve-model: credit_default@production (version %d) at "
                      "http://127.0.0.1:%d/invocations" % (self.version["version"], port), out)
        result = subprocess.run([CONVEYOR, "--config", self.config, "serve-model",
                                 "credit_default@nowhere", "--port", str(port)],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2)
        self.assertIn("model 'credit_default' has no alias 'nowhere'", result.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
