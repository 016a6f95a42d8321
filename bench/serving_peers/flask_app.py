"""The Flask peer of bench/serving_bench.py: MLflow 1.x's scoring server design (a WSGI app under
gunicorn's sync workers) around Python xgboost, on the model file conveyor serves.

POST /invocations takes MLflow's `dataframe_split` JSON and answers {"predictions": [...]}.
GET /ping answers {"tcp_nodelay": 0|1}, read from the request's own socket, so the bench can say
what gunicorn set rather than assume it.

Run: SERVING_BENCH_MODEL=model.json gunicorn -w 2 --bind 127.0.0.1:PORT flask_app:app
"""
import json
import os
import socket

import numpy as np
import xgboost
from flask import Flask, Response, request

# Loaded in each worker (no --preload): each process has its own booster, one thread each.
BOOSTER = xgboost.Booster(model_file=os.environ["SERVING_BENCH_MODEL"])
BOOSTER.set_param({"nthread": 1})
FEATURES = BOOSTER.feature_names
ORDER = {}  # a request's column list -> the indices that put its columns in the model's order

app = Flask(__name__)


def predict(raw):
    split = json.loads(raw)["dataframe_split"]
    columns = split["columns"]
    x = np.array(split["data"], dtype=np.float32)  # null -> NaN, xgboost's missing value
    if columns != FEATURES:
        key = tuple(columns)
        if key not in ORDER:
            ORDER[key] = [columns.index(f) for f in FEATURES]
        x = x[:, ORDER[key]]
    return BOOSTER.inplace_predict(x).tolist()


@app.post("/invocations")
def invocations():
    try:
        predictions = predict(request.get_data())
    except (ValueError, KeyError, TypeError, IndexError) as error:
        return Response(json.dumps({"error_code": "BAD_REQUEST", "message": str(error)}),
                        status=400, mimetype="application/json")
    return Response(json.dumps({"predictions": predictions}), mimetype="application/json")


@app.get("/ping")
def ping():
    sock = request.environ.get("gunicorn.socket")
    nodelay = None
    if sock is not None:
        nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    return Response(json.dumps({"tcp_nodelay": nodelay, "pid": os.getpid()}),
                    mimetype="application/json")
