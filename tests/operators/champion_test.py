#!/usr/bin/python3
"""Champion/challenger with the demo's training DAG: `register` with only_if_better registers and
promotes a challenger that beats `production` on the same validation rows, and otherwise ends
skipped, and the publish step after it too. The figures it compares are checked against Python
xgboost and scikit-learn on the same model files and rows.

Usage: champion_test.py CONVEYOR SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import sklearn.metrics as skm
import xgboost

CONVEYOR = sys.argv[1] if len(sys.argv) > 1 else "conveyor"
SOURCE = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".")


class ChampionChallengerTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="conveyor_champion_")
        dags = os.path.join(self.dir, "dags")
        os.makedirs(dags)
        os.symlink(os.path.join(SOURCE, "dags", "data"), os.path.join(dags, "data"))
        with open(os.path.join(SOURCE, "dags", "credit_default_training.yaml")) as f:
            demo = f.read()
        with open(os.path.join(dags, "credit_default_training.yaml"), "w") as f:
            f.write(demo)
        # A weak model: the first champion, that the demo's challenger beats.
        weak = (demo.replace("dag_id: credit_default_training", "dag_id: weak_training")
                .replace("num_boost_round: 200", "num_boost_round: 1")
                .replace("max_depth: 3", "max_depth: 1"))
        with open(os.path.join(dags, "weak_training.yaml"), "w") as f:
            f.write(weak)
        self.config = os.path.join(self.dir, "conveyor.yaml")
        with open(self.config, "w") as f:
            f.write("dags_folder: dags\ndb: state/conveyor.db\n")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def conveyor(self, *args):
        result = subprocess.run([CONVEYOR, "--config", self.config, *args], capture_output=True,
                                text=True, timeout=300)
        return result.returncode, result.stdout + result.stderr

    def trigger(self, dag_id, run_id):
        code, out = self.conveyor("dags", "trigger", dag_id, "--run-id", run_id, "--wait")
        self.assertEqual(code, 0, out)
        code, out = self.conveyor("tasks", "list", dag_id, run_id, "-o", "json")
        self.assertEqual(code, 0, out)
        return {t["task_id"]: t for t in json.loads(out)["task_instances"]}

    def outputs(self, dag_id, run_id, task_id):
        db = os.path.join(self.dir, "state", "conveyor.db")
        rows = subprocess.run(
            ["sqlite3", "-json", db, "SELECT o.key, o.value FROM task_outputs o JOIN dag_runs r "
             "ON r.id = o.run WHERE r.dag_id = '%s' AND r.run_id = '%s' AND o.task_id = '%s'"
             % (dag_id, run_id, task_id)], capture_output=True, text=True, check=True).stdout
        return {r["key"]: r["value"] for r in json.loads(rows or "[]")}

    def model(self):
        code, out = self.conveyor("models", "show", "credit_default", "-o", "json")
        self.assertEqual(code, 0, out)
        return json.loads(out)

    def auc_by_python(self, model_path, validation_path):
        with open(validation_path) as f:
            rows = json.load(f)
        booster = xgboost.Booster()
        booster.load_model(model_path)
        names = booster.feature_names
        columns = [rows["features"].index(n) for n in names]
        x = np.array([[np.nan if r[c] is None else r[c] for c in columns] for r in rows["values"]],
                     dtype=np.float32)
        scores = booster.predict(xgboost.DMatrix(x, feature_names=names))
        return skm.roc_auc_score(rows["labels"], scores)

    def test_a_better_challenger_is_promoted_and_an_equal_one_is_skipped_with_what_follows(self):
        first = self.trigger("weak_training", "w1")
        self.assertEqual(first["compare"]["state"], "success")
        self.assertEqual(self.model()["versions"][0]["aliases"], ["production"])

        tis = self.trigger("credit_default_training", "c1")
        self.assertEqual({t: tis[t]["state"] for t in tis}, {
            "ingest": "success", "train": "success", "compare": "success", "publish": "success",
            "report": "success"})
        compare = self.outputs("credit_default_training", "c1", "compare")
        train = self.outputs("credit_default_training", "c1", "train")
        self.assertEqual((compare["model_version"], compare["champion_version"]), ("2", "1"))
        weak = self.outputs("weak_training", "w1", "train")
        # Both AUCs are on the challenger's validation rows, as Python computes them.
        self.assertAlmostEqual(float(compare["champion_auc"]),
                               self.auc_by_python(weak["artifact_path"], train["validation_path"]),
                               places=6)
        self.assertAlmostEqual(float(compare["auc"]),
                               self.auc_by_python(train["artifact_path"], train["validation_path"]),
                               places=6)
        self.assertGreater(float(compare["auc"]), float(compare["champion_auc"]) + 0.005)
        code, out = self.conveyor("logs", "credit_default_training", "c1", "publish")
        self.assertEqual(out, "published credit_default version 2\n")
        versions = self.model()["versions"]
        self.assertEqual([(v["version"], v["aliases"]) for v in versions],
                         [(2, ["production"]), (1, [])])

        # The same data and seed train the same model: it does not beat production by 0.005.
        tis = self.trigger("credit_default_training", "c2")
        self.assertEqual({t: tis[t]["state"] for t in tis}, {
            "ingest": "success", "train": "success", "compare": "skipped", "publish": "skipped",
            "report": "success"})
        self.assertRegex(tis["compare"]["note"],
                         r"^the challenger does not beat credit_default@production \(version 2\): "
                         r"auc 0\.\d{4} against 0\.\d{4} on the same \d+ validation rows, "
                         r"needing \+0\.0050$")
        self.assertEqual(len(self.model()["versions"]), 2)
        code, out = self.conveyor("runs", "list", "credit_default_training", "-o", "json")
        self.assertEqual([r["state"] for r in json.loads(out)["dag_runs"]], ["success", "success"])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
