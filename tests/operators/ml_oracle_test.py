#!/usr/bin/python3
"""The ML operators against oracles nobody here wrote: Python xgboost loads the saved JSON models
and predicts what batch_infer wrote; scikit-learn's metrics equal train's on the same
predictions; on the German credit data set (Debian's weka package) the validation AUC is in the
range of scikit-learn's logistic regression on the same split. The demo DAGs run green and the
registry is the same from the CLI and the REST API.

Usage: ml_oracle_test.py CONVEYOR SOURCE_DIR CACHE_DIR
"""
import csv
import json
import os
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
import xgboost as xgb
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"
SOURCE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
CACHE = os.path.abspath(sys.argv[3] if len(sys.argv) > 3 else tempfile.gettempdir())
GENERATOR = os.path.join(SOURCE, "scripts", "generate_credit_data.py")

ORACLE_DAG = """dag_id: oracle
schedule: "@daily"
start_date: 2026-01-01
tasks:
  - id: ingest
    operator: ingest
    args: {source: train.csv, table: loans}
  - id: train
    operator: train
    depends_on: [ingest]
    args:
      query: "SELECT *, CASE WHEN rowid % 5 = 0 THEN 'validation' ELSE 'train' END AS part FROM loans"
      split_column: part
      label: default
      exclude: [app_date]
      num_boost_round: 60
      params: {max_depth: 4, eta: 0.1}
      register: {name: oracle_tree, alias: production, min_auc: 0.6}
  - id: train_linear
    operator: train
    depends_on: [ingest]
    args:
      query: "SELECT *, CASE WHEN rowid % 5 = 0 THEN 'validation' ELSE 'train' END AS part FROM loans"
      split_column: part
      label: default
      exclude: [app_date]
      booster: gblinear
      num_boost_round: 30
      params: {eta: 0.5}
      register: {name: oracle_linear}
  - id: train_regression
    operator: train
    depends_on: [ingest]
    args:
      query: "SELECT *, CASE WHEN rowid % 5 = 0 THEN 'validation' ELSE 'train' END AS part FROM loans"
      split_column: part
      label: annuity
      exclude: [app_date, default]
      objective: "reg:squarederror"
      num_boost_round: 40
      register: {name: oracle_regression}
  - id: ingest_new
    operator: ingest
    args: {source: new.csv, table: new_loans}
  - id: score
    operator: batch_infer
    depends_on: [train, ingest_new]
    args: {model: "oracle_tree@production", table: new_loans, output_table: scored,
           batch_size: 1000}
"""

GERMAN_DAG = """dag_id: german
schedule: "@daily"
start_date: 2026-01-01
tasks:
  - id: ingest
    operator: ingest
    args: {source: german.csv, table: german}
  - id: train
    operator: train
    depends_on: [ingest]
    args:
      table: german
      label: bad
      split_column: part
      num_boost_round: 300
      params: {max_depth: 2, eta: 0.05}
      register: {name: german_credit}
"""


def run(*args, cwd=None, check=True):
    result = subprocess.run([CONVEYOR, *args], capture_output=True, text=True, cwd=cwd,
                            timeout=300)
    if check and result.returncode != 0:
        raise AssertionError("conveyor %s: exit %d\n%s%s" % (" ".join(args), result.returncode,
                                                           result.stdout, result.stderr))
    return result


def generate(period, rows, seed, path):
    with open(path, "w") as out:
        subprocess.run(["/usr/bin/python3", GENERATOR, period, str(rows), str(seed)], stdout=out,
                       check=True)


def read_arff(path):
    """The attributes (name, nominal values or None) and rows of an ARFF file."""
    attributes, rows, data = [], [], False
    with open(path) as f:
        lines = f.readlines()
    for line in lines:
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        if data:
            rows.append(next(csv.reader([line], quotechar="'", skipinitialspace=True)))
        elif line.lower().startswith("@attribute"):
            rest = line[len("@attribute"):].strip()
            name, kind = rest.split(None, 1)
            if kind.startswith("{"):
                values = next(csv.reader([kind.strip("{} ")], quotechar="'",
                                         skipinitialspace=True))
                attributes.append((name, [v.strip() for v in values]))
            else:
                attributes.append((name, None))
        elif line.lower().startswith("@data"):
            data = True
    return attributes, rows


class MlOracleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="conveyor_ml_")
        cls.dags = os.path.join(cls.dir, "dags")
        os.makedirs(cls.dags)
        with open(os.path.join(cls.dags, "oracle.yaml"), "w") as f:
            f.write(ORACLE_DAG)
        generate("train", 3000, 11, os.path.join(cls.dags, "train.csv"))
        generate("primary", 2500, 12, os.path.join(cls.dags, "new.csv"))
        cls.config = os.path.join(cls.dir, "conveyor.yaml")
        with open(cls.config, "w") as f:
            f.write("dags_folder: dags\ndb: conveyor.db\n")
        cls.base = ["--config", cls.config]
        out = run(*cls.base, "dags", "trigger", "oracle", "--wait").stdout
        assert out.strip().endswith(": success"), out
        cls.data = sqlite3.connect(os.path.join(cls.dir, "data.db"))

    @classmethod
    def tearDownClass(cls):
        cls.data.close()
        shutil.rmtree(cls.dir)

    def model(self, name):
        return json.loads(run(*self.base, "models", "show", name, "-o", "json").stdout)

    def validation(self, label, exclude):
        """The validation rows (rowid % 5 == 0) as the train task split them."""
        columns = [r[1] for r in self.data.execute("PRAGMA table_info(loans)")]
        features = [c for c in columns if c not in exclude and c != label]
        rows = self.data.execute(
            "SELECT %s, \"%s\" FROM loans WHERE rowid %% 5 = 0 ORDER BY rowid" %
            (", ".join('"%s"' % c for c in features), label)).fetchall()
        x = np.array([r[:-1] for r in rows], dtype=np.float64)
        y = np.array([r[-1] for r in rows], dtype=np.float64)
        return features, x, y

    def predict(self, version, features, x):
        booster = xgb.Booster(model_file=version["artifact_path"])
        self.assertEqual(booster.feature_names, features)
        return booster.predict(xgb.DMatrix(x, feature_names=features)).astype(np.float64)

    def assertClose(self, ours, theirs, rel, what):
        self.assertLessEqual(abs(ours - theirs), rel * max(1.0, abs(theirs)),
                             "%s: conveyor %r, oracle %r" % (what, ours, theirs))

    def check_binary(self, name):
        model = self.model(name)
        version = model["versions"][0]
        features, x, y = self.validation("default", ["app_date"])
        self.assertEqual(version["features"], features)
        scores = self.predict(version, features, x)
        predicted = (scores >= 0.5).astype(int)
        expected = {
            "auc": skm.roc_auc_score(y, scores),
            "logloss": skm.log_loss(y, scores),
            "accuracy": skm.accuracy_score(y, predicted),
            "precision": skm.precision_score(y, predicted, zero_division=0),
            "recall": skm.recall_score(y, predicted, zero_division=0),
            "f1": skm.f1_score(y, predicted, zero_division=0),
        }
        expected["gini"] = 2 * expected["auc"] - 1
        self.assertEqual(set(version["metrics"]), set(expected))
        for metric, value in expected.items():
            self.assertClose(version["metrics"][metric], value, 1e-9, name + " " + metric)
        return version

    def test_tree_metrics_equal_sklearn(self):
        version = self.check_binary("oracle_tree")
        self.assertEqual(version["aliases"], ["production"])
        self.assertGreater(version["metrics"]["auc"], 0.75)

    def test_linear_metrics_equal_sklearn(self):
        version = self.check_binary("oracle_linear")
        self.assertNotIn("production", version["aliases"])

    def test_regression_metrics_equal_sklearn(self):
        version = self.model("oracle_regression")["versions"][0]
        features, x, y = self.validation("annuity", ["app_date", "default"])
        predictions = self.predict(version, features, x)
        expected = {
            "rmse": skm.mean_squared_error(y, predictions, squared=False),
            "mae": skm.mean_absolute_error(y, predictions),
            "r2": skm.r2_score(y, predictions),
        }
        self.assertEqual(set(version["metrics"]), set(expected))
        for metric, value in expected.items():
            self.assertClose(version["metrics"][metric], value, 1e-9, "regression " + metric)

    def test_batch_infer_scores_equal_python_xgboost(self):
        version = self.model("oracle_tree")["versions"][0]
        columns = [r[1] for r in self.data.execute("PRAGMA table_info(scored)")]
        source = [r[1] for r in self.data.execute("PRAGMA table_info(new_loans)")]
        self.assertEqual(columns, source + ["prediction_score"])
        features = version["features"]
        rows = self.data.execute("SELECT %s, prediction_score FROM scored ORDER BY rowid" %
                                 ", ".join('"%s"' % c for c in features)).fetchall()
        self.assertEqual(len(rows), 2500)
        x = np.array([r[:-1] for r in rows], dtype=np.float64)
        ours = np.array([r[-1] for r in rows])
        theirs = self.predict(version, features, x)
        self.assertLessEqual(float(np.max(np.abs(ours - theirs))), 1e-6)

    def test_models_show_has_the_spec_shape(self):
        model = self.model("oracle_tree")
        self.assertEqual(set(model), {"name", "versions"})
        version = model["versions"][0]
        self.assertEqual(set(version), {"version", "aliases", "artifact_path", "metrics",
                                        "features", "run_id", "created_at"})
        self.assertTrue(os.path.isabs(version["artifact_path"]))
        self.assertEqual(version["version"], 1)
        self.assertTrue(version["run_id"].startswith("manual__"))
        listing = json.loads(run(*self.base, "models", "list", "-o", "json").stdout)
        self.assertEqual([m["name"] for m in listing["models"]],
                         ["oracle_linear", "oracle_regression", "oracle_tree"])
        self.assertEqual(listing["models"][2]["aliases"], {"production": 1})

    def test_alias_cli_errors_and_event(self):
        result = run(*self.base, "models", "alias", "oracle_linear", "7", "staging", check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("model 'oracle_linear' has no version 7 (latest is version 1)",
                      result.stderr)
        result = run(*self.base, "models", "show", "nope", check=False)
        self.assertEqual(result.returncode, 2)
        self.assertIn("no registered model 'nope' (models: oracle_linear, oracle_regression, "
                      "oracle_tree)", result.stderr)
        result = run(*self.base, "models", "alias", "oracle_linear", "1", "latest", check=False)
        self.assertIn("'latest' and numbers are reserved for versions", result.stderr)
        out = run(*self.base, "models", "alias", "oracle_linear", "1", "staging").stdout
        self.assertEqual(out, "oracle_linear@staging -> version 1\n")
        state = sqlite3.connect(os.path.join(self.dir, "conveyor.db"))
        notes = [r[0] for r in state.execute(
            "SELECT note FROM events WHERE to_state = 'model_alias' ORDER BY id")]
        state.close()
        self.assertEqual(notes[-1], "oracle_linear@staging -> version 1")
        self.assertIn("oracle_tree@production -> version 1", notes)

    def test_api_serves_the_registry(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        serve = subprocess.Popen([CONVEYOR, *self.base, "serve", "--port", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = "http://127.0.0.1:%d/api/v1" % port
            for _ in range(200):
                try:
                    urllib.request.urlopen(base + "/health", timeout=1)
                    break
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.05)
            listing = json.load(urllib.request.urlopen(base + "/models?limit=2"))
            self.assertEqual(listing["total_entries"], 3)
            self.assertEqual([m["name"] for m in listing["models"]],
                             ["oracle_linear", "oracle_regression"])
            served = json.load(urllib.request.urlopen(base + "/models/oracle_tree"))
            self.assertEqual(served, self.model("oracle_tree"))
            with self.assertRaises(urllib.error.HTTPError) as missing:
                urllib.request.urlopen(base + "/models/nope")
            self.assertEqual(missing.exception.code, 404)
        finally:
            serve.terminate()
            serve.wait(timeout=30)

    def test_german_credit_auc_matches_logistic_regression(self):
        arff = os.path.join(CACHE, "credit-g.arff")
        subprocess.run([os.path.join(SOURCE, "scripts", "fetch_credit_g.sh"), arff], check=True)
        attributes, rows = read_arff(arff)
        self.assertEqual(len(rows), 1000)
        header, table = [], []
        for name, values in attributes[:-1]:
            header += [name] if values is None else ["%s=%s" % (name, v) for v in values]
        for row in rows:
            out = []
            for (name, values), value in zip(attributes[:-1], row):
                out += [float(value)] if values is None else [int(value == v) for v in values]
            table.append(out + [int(row[-1] == "bad")])
        # A fixed split: every fourth application is for validation.
        part = ["validation" if i % 4 == 0 else "train" for i in range(len(table))]
        folder = os.path.join(self.dir, "german")
        os.makedirs(os.path.join(folder, "dags"))
        safe = ["f%02d" % i for i in range(len(header))]
        with open(os.path.join(folder, "dags", "german.csv"), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(safe + ["bad", "part"])
            for values, p in zip(table, part):
                writer.writerow(values + [p])
        with open(os.path.join(folder, "dags", "german.yaml"), "w") as f:
            f.write(GERMAN_DAG)
        config = os.path.join(folder, "conveyor.yaml")
        with open(config, "w") as f:
            f.write("dags_folder: dags\ndb: conveyor.db\n")
        run("--config", config, "dags", "trigger", "german", "--wait")
        ours = json.loads(run("--config", config, "models", "show", "german_credit", "-o",
                              "json").stdout)["versions"][0]["metrics"]["auc"]
        x = np.array([r[:-1] for r in table])
        y = np.array([r[-1] for r in table])
        train = np.array([p == "train" for p in part])
        logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        logistic.fit(x[train], y[train])
        theirs = skm.roc_auc_score(y[~train], logistic.predict_proba(x[~train])[:, 1])
        print("German credit validation AUC: conveyor %.4f, sklearn logistic %.4f" %
              (ours, theirs), file=sys.stderr)
        self.assertGreater(theirs, 0.75)
        self.assertLess(abs(ours - theirs), 0.03)


class DemoTest(unittest.TestCase):
    def test_demo_dags_run_green_from_the_cli_and_from_serve(self):
        folder = tempfile.mkdtemp(prefix="conveyor_demo_")
        serve = None
        try:
            base = ["--config", os.path.join(SOURCE, "config", "conveyor.yaml"), "--db",
                    os.path.join(folder, "conveyor.db")]
            for dag in ["credit_default_training", "batch_inference_baseline"]:
                out = run(*base, "dags", "trigger", dag, "--wait").stdout
                self.assertTrue(out.strip().endswith(": success"), out)
            # With serve holding the database, the CLI's run is run by serve.
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            serve = subprocess.Popen([CONVEYOR, *base, "serve", "--port", str(port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(200):
                health = None
                try:
                    health = json.load(urllib.request.urlopen(
                        "http://127.0.0.1:%d/api/v1/health" % port, timeout=1))
                except (urllib.error.URLError, ConnectionError):
                    pass
                if health and health["scheduler"]["status"] == "healthy":
                    break
                time.sleep(0.05)
            out = run(*base, "dags", "trigger", "batch_inference_primary", "--wait").stdout
            self.assertTrue(out.strip().endswith(": success"), out)
            runs = json.loads(run(*base, "runs", "list", "batch_inference_primary", "-o",
                                  "json").stdout)["dag_runs"]
            self.assertEqual([r["state"] for r in runs], ["success"])
            model = json.loads(run(*base, "models", "show", "credit_default", "-o",
                                   "json").stdout)
            self.assertEqual(model["versions"][0]["aliases"], ["production"])
            self.assertGreater(model["versions"][0]["metrics"]["auc"], 0.8)
            data = sqlite3.connect(os.path.join(folder, "data.db"))
            for table in ["inference_baseline", "inference_primary"]:
                columns = [r[1] for r in data.execute("PRAGMA table_info(%s)" % table)]
                for needed in ["prediction_score", "default", "app_date", "bureau_score"]:
                    self.assertIn(needed, columns)
                self.assertEqual(data.execute("SELECT count(*) FROM %s" % table).fetchone()[0],
                                 3000)
            data.close()
        finally:
            if serve:
                serve.terminate()
                serve.wait(timeout=30)
            shutil.rmtree(folder)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
