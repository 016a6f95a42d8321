"""The FastAPI peer of bench/serving_bench.py: FastAPI under uvicorn around Python xgboost, on the
model file conveyor serves.

POST /invocations takes MLflow's `dataframe_split` JSON and answers {"predictions": [...]}. The
handler is `async` and reads the raw body (no pydantic model, no thread pool hop): with one worker
per core and nthread=1, predicting on the event loop is this stack's fastest form. GET /ping
answers {"tcp_nodelay": 0|1}, read from the request's own socket where uvicorn exposes it.

Run: SERVING_BENCH_MODEL=model.json uvicorn --workers 2 --no-access-log --host 127.0.0.1
     --port PORT fastapi_app:app
"""
import asyncio.base_events
import json
import os
import socket

import numpy as np
import xgboost
from fastapi import FastAPI, Request
from fastapi.responses import Response


def _set_nodelay(sock):
    # asyncio sets TCP_NODELAY on each accepted connection only when the listening socket's proto
    # is IPPROTO_TCP; with --workers N, uvicorn makes the socket with proto 0 and hands it to its
    # workers, so their connections keep Nagle on. This sets it whatever the proto.
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


asyncio.base_events._set_nodelay = _set_nodelay

BOOSTER = xgboost.Booster(model_file=os.environ["SERVING_BENCH_MODEL"])
BOOSTER.set_param({"nthread": 1})
FEATURES = BOOSTER.feature_names
ORDER = {}  # a request's column list -> the indices that put its columns in the model's order

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


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
async def invocations(request: Request):
    try:
        predictions = predict(await request.body())
    except (ValueError, KeyError, TypeError, IndexError) as error:
        return Response(json.dumps({"error_code": "BAD_REQUEST", "message": str(error)}),
                        status_code=400, media_type="application/json")
    return Response(json.dumps({"predictions": predictions}), media_type="application/json")


@app.get("/ping")
async def ping(request: Request):
    # uvicorn's protocol object (the receive callable's owner) holds the connection's transport.
    nodelay = None
    transport = getattr(getattr(request.receive, "__self__", None), "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    return Response(json.dumps({"tcp_nodelay": nodelay, "pid": os.getpid()}),
                    media_type="application/json")
