#!/usr/bin/python3
"""The ML operators on N generated loan-like rows x 40 numeric features: `ingest` (CSV into the
data database, types inferred), `train` (XGBoost on the first 50,000 rows), and `batch_infer`
(every row scored with the registered model, written back beside its columns), run as one DAG
from the CLI. Prints rows/s of ingest and batch_infer from the tasks' recorded start and end,
and, in the same run, Python xgboost predicting the same rows from an in-memory numpy array
with the same model (inplace_predict: no database reads or writes, a floor, not a peer).

Usage: ml_bench.py CONVEYOR [--rows N]
"""
import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import time

DAG = """dag_id: ml_bench
schedule: "@daily"
start_date: 2026-01-01
tasks:
  - id: ingest
    operator: ingest
    args: {source: loans.csv, table: loans}
  - id: train
    operator: train
    depends_on: [ingest]
    args:
      query: "SELECT * FROM loans WHERE rowid <= 50000"
      label: label
      num_boost_round: 50
      params: {max_depth: 6, nthread: 2}
      register: {name: bench, alias: production}
  - id: score
    operator: batch_infer
    depends_on: [train]
    args: {model: "bench@production", table: loans, output_table: scored}
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("conveyor")
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="conveyor_ml_bench_")
    try:
        dags = os.path.join(work, "dags")
        os.makedirs(dags)
        rng = random.Random(3)
        header = ["f%02d" % i for i in range(40)] + ["label"]
        # A pool of distinct rows, repeated: fast to write, and the label follows the features.
        pool = []
        for _ in range(5000):
            values = [rng.gauss(0, 1) for _ in range(30)] + [rng.randint(0, 9) for _ in range(10)]
            signal = values[0] - 0.7 * values[1] + 0.3 * values[30] - 1.2 + rng.gauss(0, 1)
            pool.append(",".join(["%.5f" % v for v in values[:30]] +
                                 [str(v) for v in values[30:]] + [str(int(signal > 0))]))
        with open(os.path.join(dags, "loans.csv"), "w") as f:
            f.write(",".join(header) + "\n")
            for n in range(args.rows):
                f.write(pool[n % 5000] + "\n")
        with open(os.path.join(dags, "ml_bench.yaml"), "w") as f:
            f.write(DAG)
        with open(os.path.join(work, "conveyor.yaml"), "w") as f:
            f.write("dags_folder: dags\ndb: state.db\n")
        result = subprocess.run([os.path.abspath(args.conveyor), "--config", "conveyor.yaml",
                                 "dags", "trigger", "ml_bench", "--wait"], cwd=work,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit("ml_bench: the DAG failed:\n" + result.stdout + result.stderr)
        state = sqlite3.connect(os.path.join(work, "state.db"))
        seconds = {task: (end - start) / 1e6 for task, start, end in state.execute(
            "SELECT task_id, start_date, end_date FROM task_instances")}
        artifact = state.execute("SELECT artifact_path FROM model_versions").fetchone()[0]
        state.close()
        data = sqlite3.connect(os.path.join(work, "data.db"))
        scored = data.execute("SELECT count(*) FROM scored").fetchone()[0]
        if scored != args.rows:
            raise SystemExit("ml_bench: scored %d rows of %d" % (scored, args.rows))
        print("ingest: %d rows x 41 columns in %.2f s: %.0f rows/s" %
              (args.rows, seconds["ingest"], args.rows / seconds["ingest"]))
        print("train: 50,000 rows x 40 features, 50 rounds, depth 6: %.2f s" % seconds["train"])
        print("batch_infer: %d rows read, scored and written in %.2f s: %.0f rows/s" %
              (args.rows, seconds["score"], args.rows / seconds["score"]))
        try:
            import numpy as np
            import xgboost as xgb
        except ImportError:
            return
        x = np.array(data.execute("SELECT %s FROM loans" % ", ".join(header[:-1])).fetchall(),
                     dtype=np.float32)
        booster = xgb.Booster(model_file=artifact)
        booster.set_param({"nthread": os.cpu_count()})
        start = time.perf_counter()
        booster.inplace_predict(x)
        floor = time.perf_counter() - start
        print("Python xgboost, same model, predicting from memory: %.2f s: %.0f rows/s "
              "(batch_infer takes %.1fx, its reads and writes included)" %
              (floor, args.rows / floor, seconds["score"] / floor))
        data.close()
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
