#!/usr/bin/python3
"""The demo's drift monitor on the generated data: it detects the drift the generator put in the
primary period, and on primary sets drawn from the baseline distribution (100 seeded draws) its
false-positive rate of dataset drift stays at most 5 %. Also: drift_results rows, the histograms
of the latest window, and the task's failure with `on_drift: fail`.

Usage: drift_demo_test.py CONVEYOR SOURCE_DIR
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
SOURCE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")
GENERATOR = os.path.join(SOURCE, "scripts", "generate_credit_data.py")
DRAWS = int(os.environ.get("DRIFT_DRAWS", "100"))

MONITOR = """dag_id: draw
schedule: "@daily"
start_date: 2026-01-01
tasks:
  - {id: ingest_baseline, operator: ingest, args: {source: baseline.csv, table: applications_baseline}}
  - {id: ingest_primary, operator: ingest, args: {source: primary.csv, table: applications_primary}}
  - id: score_baseline
    operator: batch_infer
    depends_on: [ingest_baseline]
    args: {model: "credit_default@production", table: applications_baseline, output_table: inference_baseline}
  - id: score_primary
    operator: batch_infer
    depends_on: [ingest_primary]
    args: {model: "credit_default@production", table: applications_primary, output_table: inference_primary}
  - id: drift
    operator: drift_check
    depends_on: [score_baseline, score_primary]
    args:
      baseline: inference_baseline
      primary: inference_primary
      problem_type: binary_classification
      timestamp_column: app_date
      prediction_column: prediction_score
      label_column: default
      window: 3 week
      metric_change_percent: 15
      on_drift: warn
"""


def run(*args, check=True):
    result = subprocess.run([CONVEYOR, *args], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError("conveyor %s: exit %d\n%s%s" % (" ".join(args), result.returncode,
                                                           result.stdout, result.stderr))
    return result


class DriftDemoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="conveyor_drift_")
        cls.base = ["--config", os.path.join(SOURCE, "config", "conveyor.yaml"), "--db",
                    os.path.join(cls.dir, "conveyor.db")]
        for dag in ["credit_default_training", "batch_inference_baseline",
                    "batch_inference_primary"]:
            run(*cls.base, "dags", "trigger", dag, "--wait")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_demo_monitor_fires_on_the_generated_drift(self):
        result = run(*self.base, "dags", "trigger", "drift_monitor", "--wait", check=False)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("drift  running -> failed (try 1): drift in window 2026-06-10T00:00:00Z .. "
                      "2026-07-01T00:00:00Z: ", result.stdout)
        data = sqlite3.connect(os.path.join(self.dir, "data.db"))
        windows = data.execute(
            "SELECT window_start, window_end, value, drifted FROM drift_results "
            "WHERE feature = 'dataset' ORDER BY window_start").fetchall()
        self.assertEqual([w[:2] for w in windows], [
            ("2026-03-18T00:00:00Z", "2026-04-08T00:00:00Z"),
            ("2026-04-08T00:00:00Z", "2026-04-29T00:00:00Z"),
            ("2026-04-29T00:00:00Z", "2026-05-20T00:00:00Z"),
            ("2026-05-20T00:00:00Z", "2026-06-10T00:00:00Z"),
            ("2026-06-10T00:00:00Z", "2026-07-01T00:00:00Z")])
        self.assertTrue(all(w[3] == 1 for w in windows), windows)
        tests = {r[0]: r[1] for r in data.execute(
            "SELECT feature, test FROM drift_results WHERE test != 'psi' AND feature NOT IN "
            "('dataset', 'model') GROUP BY feature")}
        self.assertEqual(tests["bureau_score"], "wasserstein")
        self.assertEqual(tests["own_car"], "jensenshannon")
        self.assertEqual(tests["prediction_score"], "wasserstein")
        metrics = {r[0] for r in data.execute(
            "SELECT test FROM drift_results WHERE feature = 'model'")}
        self.assertEqual(metrics, {"auc", "gini", "logloss", "accuracy", "precision", "recall",
                                   "f1", "class_ks"})
        histograms = data.execute("SELECT feature, bins FROM drift_histograms").fetchall()
        self.assertEqual(len(histograms), 17)  # 16 features and the prediction
        bins = json.loads(dict(histograms)["bureau_score"])
        self.assertEqual(len(bins["edges"]), len(bins["baseline"]) + 1)
        self.assertAlmostEqual(sum(bins["baseline"]), 1.0)
        data.close()

    def test_false_positive_rate_on_baseline_draws(self):
        folder = os.path.join(self.dir, "draws")
        os.makedirs(os.path.join(folder, "dags"))
        with open(os.path.join(folder, "dags", "draw.yaml"), "w") as f:
            f.write(MONITOR)
        state = os.path.join(self.dir, "conveyor.db")
        base = ["--dags", os.path.join(folder, "dags"), "--db", state, "--config",
                os.path.join(SOURCE, "config", "conveyor.yaml")]
        dataset_drift = quality_alerts = 0
        for seed in range(DRAWS):
            for period, name, rows in [("baseline", "baseline.csv", 3000),
                                       ("stable", "primary.csv", 3000)]:
                with open(os.path.join(folder, "dags", name), "w") as out:
                    subprocess.run(["/usr/bin/python3", GENERATOR, period, str(rows),
                                    str(1000 + seed)], stdout=out, check=True)
            out = run(*base, "dags", "trigger", "draw", "--wait").stdout
            self.assertTrue(out.strip().endswith(": success"), out)
            db = sqlite3.connect(state)
            outputs = dict(db.execute(
                "SELECT o.key, o.value FROM task_outputs o JOIN dag_runs r ON r.id = o.run "
                "WHERE r.dag_id = 'draw' AND o.task_id = 'drift' ORDER BY r.id DESC LIMIT 20"
            ).fetchall())
            db.close()
            dataset_drift += outputs["dataset_drift"] == "true"
            quality_alerts += outputs["quality_alert"] == "true"
        print("drift monitor on %d baseline draws: dataset drift %d, model-quality alerts %d" %
              (DRAWS, dataset_drift, quality_alerts), file=sys.stderr)
        self.assertLessEqual(dataset_drift, DRAWS * 0.05)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
