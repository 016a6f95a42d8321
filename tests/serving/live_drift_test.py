#!/usr/bin/python3
"""The prediction log closes the loop from online serving to drift: with `serving.log` set,
`serve` appends every scored row (features, prediction, version, time) to a data table off the
request path, counts it on /metrics, and the demo DAG dags/live_drift_monitor.yaml finds no drift
in traffic drawn from the baseline and reports the drift of shifted traffic.

Usage: live_drift_test.py CONVEYOR SOURCE_DIR
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

import numpy as np

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"
SOURCE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
ALIAS = "credit_default@production"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveDriftTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="conveyor_live_drift_")
        dags = os.path.join(cls.dir, "dags")
        os.makedirs(dags)
        os.symlink(os.path.join(SOURCE, "dags", "data"), os.path.join(dags, "data"))
        for name in ["credit_default_training", "batch_inference_baseline", "live_drift_monitor"]:
            shutil.copy(os.path.join(SOURCE, "dags", name + ".yaml"), dags)
        with open(os.path.join(dags, "live_drift_monitor.yaml")) as f:
            monitor = f.read()
        # No webhook listens here.
        with open(os.path.join(dags, "live_drift_monitor.yaml"), "w") as f:
            f.write(re.sub(r"on_failure: .*\n", "", monitor))
        cls.port = free_port()
        cls.config = os.path.join(cls.dir, "conveyor.yaml")
        with open(cls.config, "w") as f:
            f.write("dags_folder: dags\ndb: state/conveyor.db\nport: %d\n"
                    "serving:\n  log:\n    %s: {table: live_predictions, sample: 1.0}\n"
                    % (cls.port, ALIAS))
        for dag in ["credit_default_training", "batch_inference_baseline"]:
            code, out = cls.cli("dags", "trigger", dag, "--wait")
            assert code == 0, out
        model = json.loads(cls.cli("models", "show", "credit_default", "-o", "json")[1])
        production = [v for v in model["versions"] if "production" in v["aliases"]][0]
        cls.version = production["version"]
        cls.features = production["features"]
        data = sqlite3.connect(os.path.join(cls.dir, "state", "data.db"))
        columns = ", ".join('"%s"' % c for c in cls.features)
        cls.baseline = np.array(data.execute(
            "SELECT %s FROM applications_baseline ORDER BY rowid" % columns).fetchall(),
            dtype=float)
        data.close()
        cls.log = open(os.path.join(cls.dir, "serve.log"), "w")
        cls.serve = subprocess.Popen([CONVEYOR, "--config", cls.config, "serve"],
                                     stdout=cls.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/api/v1/health" % cls.port, timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        with open(os.path.join(cls.dir, "state", "conveyor.db.token")) as f:
            cls.token = f.read().strip()

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

    def post(self, path, body):
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                         data=json.dumps(body).encode(), method="POST")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def score(self, rows):
        """Sends `rows` 100 a request, alternately over MLflow's protocol and KServe v2."""
        predictions = []
        for start in range(0, len(rows), 100):
            chunk = rows[start:start + 100]
            data = [[None if np.isnan(v) else float(v) for v in row] for row in chunk]
            if (start // 100) % 2 == 0:
                answer = self.post("/models/%s/invocations" % ALIAS,
                                   {"dataframe_split": {"columns": self.features, "data": data}})
                predictions += answer["predictions"]
            else:
                answer = self.post("/v2/models/%s/infer" % ALIAS, {"inputs": [{
                    "name": "x", "shape": [len(data), len(self.features)], "datatype": "FP64",
                    "data": data}]})
                predictions += answer["outputs"][0]["data"]
        return predictions

    def logged(self, expected_rows):
        """The log's rows once `expected_rows` are there (it commits off the request path)."""
        deadline = time.time() + 10
        while True:
            data = sqlite3.connect(os.path.join(self.dir, "state", "data.db"))
            try:
                rows = data.execute("SELECT * FROM live_predictions ORDER BY rowid").fetchall()
                columns = [d[0] for d in data.execute(
                    "SELECT * FROM live_predictions LIMIT 0").description]
            except sqlite3.OperationalError:
                rows, columns = [], []
            data.close()
            if len(rows) >= expected_rows or time.time() > deadline:
                return columns, rows
            time.sleep(0.05)

    def metric(self, name):
        request = urllib.request.Request("http://127.0.0.1:%d/metrics" % self.port)
        request.add_header("Authorization", "Bearer " + self.token)
        text = urllib.request.urlopen(request, timeout=10).read().decode()
        line = '%s{model="credit_default",version="%d"} ' % (name, self.version)
        values = [l[len(line):] for l in text.splitlines() if l.startswith(line)]
        return float(values[0]) if values else None

    def monitor(self):
        code, out = self.cli("dags", "trigger", "live_drift_monitor", "--wait")
        state = sqlite3.connect(os.path.join(self.dir, "state", "conveyor.db"))
        outputs = dict(state.execute(
            "SELECT o.key, o.value FROM task_outputs o JOIN dag_runs r ON r.id = o.run "
            "WHERE r.dag_id = 'live_drift_monitor' AND r.id = (SELECT MAX(id) FROM dag_runs "
            "WHERE dag_id = 'live_drift_monitor')").fetchall())
        state.close()
        return code, out, outputs

    def test_1_baseline_traffic_is_logged_exactly_and_shows_no_drift(self):
        rng = np.random.default_rng(7)
        rows = self.baseline[rng.choice(len(self.baseline), 800, replace=False)]
        started = time.time()
        predictions = self.score(rows)
        columns, logged = self.logged(800)
        self.assertEqual(columns, self.features + ["prediction", "model_version", "scored_at"])
        self.assertEqual(len(logged), 800)
        for row, sent, answered in zip(logged, rows, predictions):
            # The values the model scored, 32-bit floats (stored as their shortest decimals).
            self.assertEqual([None if np.isnan(v) else np.float32(v) for v in sent],
                             [None if v is None else np.float32(v)
                              for v in row[:len(self.features)]])
            self.assertAlmostEqual(row[-3], answered, places=6)
            self.assertEqual(row[-2], self.version)
            self.assertRegex(row[-1], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        first = time.mktime(time.strptime(logged[0][-1][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        self.assertLess(abs(first - started), 30)
        self.assertEqual(self.metric("conveyor_serving_log_rows_total"), 800)
        self.assertEqual(self.metric("conveyor_serving_log_dropped_total"), 0)
        code, out, outputs = self.monitor()
        self.assertEqual(code, 0, out)
        self.assertTrue(out.endswith(": success\n"), out)
        self.assertEqual(outputs["dataset_drift"], "false", outputs)

    def test_2_shifted_traffic_is_reported_as_drift(self):
        # Every feature moved by two of the baseline's standard deviations, 3,000 rows after the
        # 800 of the first test: the last hour's window is mostly shifted traffic.
        rng = np.random.default_rng(11)
        rows = self.baseline[rng.choice(len(self.baseline), 3000, replace=True)]
        rows = rows + 2 * np.nanstd(self.baseline, axis=0)
        self.score(rows)
        self.assertEqual(len(self.logged(3800)[1]), 3800)
        code, out, outputs = self.monitor()
        # on_drift: fail, with the drifted features in the failure's message.
        self.assertNotEqual(code, 0, out)
        self.assertIn("drift  running -> failed (try 1): drift in window", out)
        found = re.search(r"(\d+) of (\d+) features drifted \(share [0-9.]+ >= 0.5\): (\S+)", out)
        self.assertIsNotNone(found, out)
        self.assertEqual(int(found.group(2)), len(self.features))
        self.assertGreaterEqual(int(found.group(1)), len(self.features) // 2)
        self.assertTrue(set(found.group(3).split(",")) <= set(self.features), out)
        data = sqlite3.connect(os.path.join(self.dir, "state", "data.db"))
        share = data.execute(
            "SELECT value, drifted FROM drift_results WHERE dag_id = 'live_drift_monitor' AND "
            "feature = 'dataset' AND test = 'drift_share' ORDER BY rowid DESC LIMIT 1").fetchone()
        data.close()
        self.assertEqual(share[1], 1)
        self.assertEqual(self.metric("conveyor_serving_log_rows_total"), 3800)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
