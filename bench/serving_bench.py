#!/usr/bin/python3
"""Online serving under load: wrk against `conveyor serve`'s MLflow scoring endpoint
(/models/credit_default@production/invocations) with one-row and 100-row `dataframe_split`
bodies, at 1 and 16 connections, and in the same run the stacks our users run today on the same
model file, all from Debian packages: Flask under gunicorn (sync workers, MLflow 1.x's scoring
server design) and FastAPI under uvicorn, both around Python xgboost. Each peer gets its best
configuration (workers = cores, nthread=1, TCP_NODELAY, access logs off), printed as run; wrk
shares the cores with every server alike. Every server's predictions are checked against
conveyor's (to 1e-6) before anything is measured. And `serve`'s RSS idle and with 10 models
loaded (ten real train + register runs), read before the load runs in the serve they then load.

Prints a table per scenario: requests/s, p50, p99, rows/s, the ratio to Flask, errors, and the
CPU other processes took during each run (a build on the same cores lowers every figure), with
the targets: one row at 16 connections >= 5x Flask's requests/s with p99 < 2 ms; one connection
p50 < 200 us; 100-row requests >= 200,000 rows/s (16 connections); RSS with 10 models loaded
< 100 MB above idle. Exits 1 if predictions differ or conveyor answered any request with an
error; a missed target is printed, not an exit status.

Usage: serving_bench.py CONVEYOR [--duration S] [--rounds R] [--quick]
"""
import argparse
import json
import os
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "serving_peers")
POST_LUA = os.path.join(PEERS, "post.lua")
PYTHON = "/usr/bin/python3"
CORES = os.cpu_count() or 1
RSS_MODELS = 10
TOLERANCE = 1e-6
# (rows in the body, wrk threads, connections)
SCENARIOS = [(1, 1, 1), (1, 2, 16), (100, 1, 1), (100, 2, 16)]
SERVERS = ["conveyor", "flask", "fastapi"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def wait_until_up(url, process, log, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit("serving_bench: %s exited (%d) before answering:\n%s"
                     % (url, process.returncode, tail(log)))
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.read()
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            time.sleep(0.1)
    sys.exit("serving_bench: nothing answers at %s:\n%s" % (url, tail(log)))


def post(url, body):
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


# CPU accounting, to say how much of the cores other processes (a build) took during a run.
def cpu_busy_ticks():
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: softirq is left out, the loopback traffic's
    # own; steal (a hypervisor's other guests) is counted as others'.
    return sum(fields[:3]) + fields[5] + fields[7]


def tree_ticks(roots):
    parents = {}
    ticks = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        ticks[int(entry)] = int(fields[11]) + int(fields[12])  # utime + stime
    total = 0
    for pid in ticks:
        p = pid
        while p > 1:
            if p in roots:
                total += ticks[pid]
                break
            p = parents.get(p, 0)
    return total


def own_ticks():
    hz = os.sysconf("SC_CLK_TCK")
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum((u.ru_utime + u.ru_stime) * hz for u in usage)


def parse_latency(text):
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def run_wrk(url, body_path, threads, connections, seconds, server_pids):
    env = dict(os.environ, SERVING_BENCH_BODY=body_path)
    busy, servers, own = cpu_busy_ticks(), tree_ticks(server_pids), own_ticks()
    start = time.time()
    result = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
                             "--latency", "-s", POST_LUA, url],
                            capture_output=True, text=True, env=env)
    elapsed = time.time() - start
    others = ((cpu_busy_ticks() - busy) - (tree_ticks(server_pids) - servers) -
              (own_ticks() - own)) / os.sysconf("SC_CLK_TCK")
    if result.returncode != 0:
        sys.exit("serving_bench: wrk failed on %s:\n%s%s" % (url, result.stdout, result.stderr))
    out = result.stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
               "others_cpu": max(0.0, others / elapsed),  # in cores
               "raw": out}
    exact = re.search(r"SERVING_BENCH (.*)", out)
    if exact:
        values = dict(pair.split("=") for pair in exact.group(1).split())
        figures["p50_us"] = float(values["p50_us"])
        figures["p99_us"] = float(values["p99_us"])
        figures["non2xx"] = int(values["status"])
        figures["socket_errors"] = sum(int(values[k])
                                       for k in ("connect", "read", "write", "timeout"))
    else:  # wrk's own --latency text, two decimals
        figures["p50_us"] = parse_latency(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        figures["p99_us"] = parse_latency(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        figures["non2xx"] = int(non2xx.group(1)) if non2xx else 0
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                           r"timeout (\d+)", out)
        figures["socket_errors"] = sum(int(v) for v in errors.groups()) if errors else 0
    return figures


def ms(us):
    return "%.3f ms" % (us / 1000.0)


class Bench:
    def __init__(self, conveyor, work):
        self.conveyor = conveyor
        self.work = work
        self.processes = []  # (name, Popen, log path)

    def cli(self, *args):
        result = subprocess.run([self.conveyor, "--config", "conveyor.yaml", *args], cwd=self.work,
                                capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            sys.exit("serving_bench: conveyor %s failed:\n%s%s"
                     % (" ".join(args), result.stdout, result.stderr))
        return result.stdout

    def start(self, name, cmd, cwd, env=None):
        log = os.path.join(self.work, name + ".log")
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=open(log, "w"),
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((name, process, log))
        return process, log

    def stop_all(self):
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
        for _, process, _ in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def peer_stack():
    # Versions and what uvicorn's `auto` picks, from the interpreter the peers run on.
    probe = subprocess.run([PYTHON, "-c", """
import importlib.util, json, flask, fastapi, gunicorn, numpy, starlette, uvicorn, xgboost
from importlib.metadata import version
print(json.dumps({"flask": version("flask"), "gunicorn": gunicorn.__version__,
                  "fastapi": fastapi.__version__, "starlette": starlette.__version__,
                  "uvicorn": uvicorn.__version__, "xgboost": xgboost.__version__,
                  "numpy": numpy.__version__,
                  "uvloop": bool(importlib.util.find_spec("uvloop")),
                  "httptools": bool(importlib.util.find_spec("httptools"))}))
"""], capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit("serving_bench: the peers need %s with flask, gunicorn, fastapi, uvicorn, numpy "
                 "and xgboost (Debian packages):\n%s" % (PYTHON, probe.stderr))
    return json.loads(probe.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("conveyor")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternated rounds; each figure is the median round's")
    parser.add_argument("--quick", action="store_true",
                        help="2 s per run and no warm-up runs (CI)")
    args = parser.parse_args()
    conveyor = os.path.abspath(args.conveyor)
    seconds = 2 if args.quick else args.duration
    for tool in ("wrk", "gunicorn", "uvicorn"):
        if not shutil.which(tool):
            sys.exit("serving_bench: %s is not installed (Debian package %s)"
                     % (tool, {"wrk": "wrk", "gunicorn": "gunicorn", "uvicorn": "uvicorn"}[tool]))
    stack = peer_stack()
    work = tempfile.mkdtemp(prefix="conveyor_serving_bench_")
    bench = Bench(conveyor, work)
    load_before = os.getloadavg()
    try:
        # The example training DAG on the example data: credit_default@production, and nine more
        # models (the same DAG under other model names, a real train + register each) for the RSS
        # check.
        dags = os.path.join(work, "dags")
        os.makedirs(dags)
        os.symlink(os.path.join(SOURCE, "dags", "data"), os.path.join(dags, "data"))
        shutil.copy(os.path.join(SOURCE, "dags", "credit_default_training.yaml"), dags)
        # serve gets a folder of no DAGs: nothing is scheduled while it is measured.
        os.makedirs(os.path.join(work, "serve_dags"))
        port = free_port()
        with open(os.path.join(work, "conveyor.yaml"), "w") as f:
            f.write("dags_folder: dags\ndb: state/conveyor.db\nport: %d\n" % port)
        with open(os.path.join(work, "serve.yaml"), "w") as f:
            f.write("dags_folder: serve_dags\ndb: state/conveyor.db\nport: %d\n"
                    "http: {access_log: false}\n" % port)
        names = ["credit_default"] + ["credit_default_%d" % i for i in range(2, RSS_MODELS + 1)]
        for i, name in enumerate(names):
            bench.cli("dags", "trigger", "credit_default_training", "--run-id", "bench_%d" % i,
                      "--conf", json.dumps({"model_name": name}), "--wait")
        model = json.loads(bench.cli("models", "show", "credit_default", "-o", "json"))
        version = next(v for v in model["versions"] if "production" in v["aliases"])
        model_file, features = version["artifact_path"], version["features"]
        data = sqlite3.connect(os.path.join(work, "state", "data.db"))
        rows = data.execute("SELECT %s FROM credit_train ORDER BY rowid LIMIT 100"
                            % ", ".join('"%s"' % c for c in features)).fetchall()
        data.close()
        bodies = {}
        for n in (1, 100):
            path = os.path.join(work, "body_%d.json" % n)
            with open(path, "w") as f:
                json.dump({"dataframe_split": {"columns": features,
                                               "data": [list(r) for r in rows[:n]]}}, f)
            bodies[n] = path

        # conveyor serve, started fresh for the RSS check and measured in the same process after.
        serve, serve_log = bench.start("serve", [conveyor, "--config", "serve.yaml", "serve"],
                                       work)
        base = "http://127.0.0.1:%d" % port
        wait_until_up(base + "/api/v1/health", serve, serve_log)
        time.sleep(1.0)
        idle = rss_mb(serve.pid)
        with open(bodies[1], "rb") as f:
            one_row = f.read()
        for name in names:
            status, answer = post(base + "/models/%s@production/invocations" % name, one_row)
            if status != 200:
                sys.exit("serving_bench: %s@production answered %d: %s" % (name, status, answer))
        time.sleep(0.5)
        loaded = rss_mb(serve.pid)

        # The peers, on the same model file; workers = cores; each worker loads the booster.
        env = dict(os.environ, SERVING_BENCH_MODEL=model_file, PYTHONDONTWRITEBYTECODE="1")
        flask_port, fastapi_port = free_port(), free_port()
        flask_cmd = ["/usr/bin/gunicorn", "--workers", str(CORES), "--worker-class", "sync",
                     "--bind", "127.0.0.1:%d" % flask_port, "--log-level", "warning",
                     "flask_app:app"]
        fastapi_cmd = ["/usr/bin/uvicorn", "--workers", str(CORES), "--no-access-log",
                       "--log-level", "warning", "--host", "127.0.0.1",
                       "--port", str(fastapi_port), "fastapi_app:app"]
        flask, flask_log = bench.start("flask", flask_cmd, PEERS, env)
        fastapi, fastapi_log = bench.start("fastapi", fastapi_cmd, PEERS, env)
        nodelay = {}
        for name, process, log, p in [("flask", flask, flask_log, flask_port),
                                      ("fastapi", fastapi, fastapi_log, fastapi_port)]:
            ping = json.loads(wait_until_up("http://127.0.0.1:%d/ping" % p, process, log))
            nodelay[name] = ping["tcp_nodelay"]
        urls = {"conveyor": base + "/models/credit_default@production/invocations",
                "flask": "http://127.0.0.1:%d/invocations" % flask_port,
                "fastapi": "http://127.0.0.1:%d/invocations" % fastapi_port}
        all_pids = {serve.pid, flask.pid, fastapi.pid}  # their CPU is not "others'"

        model_kb = os.path.getsize(model_file) / 1024.0
        print("model: credit_default@production v%d, %s (%.0f KB, %d features); bodies: MLflow "
              "dataframe_split of 1 and 100 rows of credit_train" %
              (version["version"], model_file.replace(work, "TMP"), model_kb, len(features)))
        print("machine: %d cores; wrk shares them with each server; load average before: "
              "%.2f %.2f %.2f" % ((CORES,) + load_before))
        print("configured:")
        print("  conveyor: `conveyor serve` defaults (http_threads 8 kept, a thread per "
              "connection; XGBoost nthread=1 per request, set by serve; TCP_NODELAY set by serve); "
              "http.access_log false (the peers log no requests either), stdout to a file")
        print("  flask:    gunicorn %s %s; Flask %s; xgboost %s Booster(model_file), "
              "set_param(nthread=1), inplace_predict on a float32 numpy array from json.loads; "
              "sync workers answer one request at a time and close the connection after each "
              "(MLflow 1.x's design); access log off (gunicorn's default); TCP_NODELAY %s "
              "(gunicorn sets it on the listening socket; read back from a request's socket)"
              % (stack["gunicorn"], " ".join(flask_cmd[1:]), stack["flask"], stack["xgboost"],
                 {1: "on", 0: "OFF"}.get(nodelay["flask"], "unknown")))
        print("  fastapi:  uvicorn %s %s; FastAPI %s (Starlette %s); loop %s, HTTP %s; async "
              "handler on the raw body (no pydantic, no thread pool), same xgboost code; "
              "TCP_NODELAY %s (asyncio skips it on uvicorn's --workers socket, proto 0: the app "
              "sets it on each connection; read back from a request's socket)"
              % (stack["uvicorn"], " ".join(fastapi_cmd[1:]), stack["fastapi"],
                 stack["starlette"],
                 "uvloop" if stack["uvloop"] else "asyncio (uvloop not installed: Debian "
                                                  "python3-uvloop)",
                 "httptools" if stack["httptools"] else "h11 (httptools not installed: Debian "
                                                        "python3-httptools)",
                 {1: "on", 0: "OFF"}.get(nodelay["fastapi"], "unknown")))

        # The same answers from everyone before anything is timed.
        reference = {}
        for n, path in bodies.items():
            with open(path, "rb") as f:
                body = f.read()
            for server in SERVERS:
                status, answer = post(urls[server], body)
                if status != 200 or len(answer.get("predictions", [])) != n:
                    sys.exit("serving_bench: %s answered %d to the %d-row body: %s"
                             % (server, status, n, str(answer)[:500]))
                if server == "conveyor":
                    reference[n] = answer["predictions"]
                    continue
                worst = max(abs(a - b) for a, b in zip(answer["predictions"], reference[n]))
                if worst > TOLERANCE:
                    sys.exit("serving_bench: FAIL: %s's predictions differ from conveyor's by %g "
                             "on the %d-row body (tolerance %g)" % (server, worst, n, TOLERANCE))
        print("predictions: flask and fastapi equal conveyor's to %g on both bodies" % TOLERANCE)

        if not args.quick:
            for server in SERVERS:  # warm-up, not reported
                run_wrk(urls[server], bodies[1], 2, 16, 1, all_pids)

        # Rounds alternate the servers, so a slow minute of the machine (other guests of the
        # hypervisor) falls on all of them; each figure is the round with the median requests/s.
        rounds = {}
        for _ in range(args.rounds):
            for n, threads, connections in SCENARIOS:
                for server in SERVERS:
                    rounds.setdefault((n, connections, server), []).append(
                        run_wrk(urls[server], bodies[n], threads, connections, seconds, all_pids))
        results = {key: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
                   for key, runs in rounds.items()}
        after_load = rss_mb(serve.pid)
        if args.rounds > 1:
            print("\nevery round (requests/s, p99 ms):")
            for (n, connections, server), runs in rounds.items():
                print("  %3d rows, %2d conn, %-8s %s" % (n, connections, server, "  ".join(
                    "%.0f/%.2f" % (r["rps"], r["p99_us"] / 1000) for r in runs)))

        failures = []
        summary = []
        for n, threads, connections in SCENARIOS:
            flask_rps = results[(n, connections, "flask")]["rps"]
            print("\n%d-row bodies, %d connection%s (wrk -t%d -c%d -d%ds, median of %d rounds):"
                  % (n, connections, "" if connections == 1 else "s", threads, connections,
                     seconds, args.rounds))
            print("| server | requests/s | p50 | p99 | rows/s | vs Flask | non-2xx | socket "
                  "errors | others' CPU (approx.) | target | met |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
            for server in SERVERS:
                r = results[(n, connections, server)]
                target, met = "", ""
                if server == "conveyor":
                    if r["non2xx"] or r["socket_errors"]:
                        failures.append("conveyor, %d rows, %d connections: %d non-2xx, %d socket "
                                        "errors" % (n, connections, r["non2xx"],
                                                    r["socket_errors"]))
                    if (n, connections) == (1, 16):
                        ratio = r["rps"] / flask_rps
                        ok = ratio >= 5 and r["p99_us"] < 2000
                        target, met = ">= 5x Flask, p99 < 2 ms", "met" if ok else "not met"
                        # Little's law: 16 busy connections at R requests/s hold each request
                        # 16/R s on average, so p99 < 2 ms needs well over 8,000 requests/s.
                        summary.append("one row, 16 connections: %.1fx Flask's requests/s "
                                       "(target >= 5x), p99 %s (target < 2 ms; Flask %s, FastAPI "
                                       "%s; mean by Little's law 16/%.0f/s = %s): %s" % (
                                           ratio, ms(r["p99_us"]),
                                           ms(results[(1, 16, "flask")]["p99_us"]),
                                           ms(results[(1, 16, "fastapi")]["p99_us"]), r["rps"],
                                           ms(16e6 / r["rps"]), met))
                    elif (n, connections) == (1, 1):
                        ok = r["p50_us"] < 200
                        target, met = "p50 < 0.200 ms", "met" if ok else "not met"
                        summary.append("one row, one connection: p50 %s (target < 0.200 ms; "
                                       "Flask %s, FastAPI %s): %s" % (
                                           ms(r["p50_us"]), ms(results[(1, 1, "flask")]["p50_us"]),
                                           ms(results[(1, 1, "fastapi")]["p50_us"]), met))
                    elif (n, connections) == (100, 16):
                        ok = r["rps"] * n >= 200000
                        target, met = ">= 200,000 rows/s", "met" if ok else "not met"
                        summary.append("100-row bodies, 16 connections: %s rows/s (target >= "
                                       "200,000; Flask %s, FastAPI %s): %s" % (
                                           "{:,.0f}".format(r["rps"] * n),
                                           "{:,.0f}".format(flask_rps * n),
                                           "{:,.0f}".format(
                                               results[(100, 16, "fastapi")]["rps"] * n), met))
                print("| %s | %s | %s | %s | %s | %.2fx | %d | %d | %.2f cores | %s | %s |" % (
                    server, "{:,.0f}".format(r["rps"]), ms(r["p50_us"]), ms(r["p99_us"]),
                    "{:,.0f}".format(r["rps"] * n), r["rps"] / flask_rps, r["non2xx"],
                    r["socket_errors"], r["others_cpu"], target or "-", met or "-"))
        grown = loaded - idle
        print("\nserve RSS: idle %.1f MB; with %d models loaded (one request each, %.0f KB model "
              "files) %.1f MB: +%.1f MB (target < 100 MB above idle): %s; after the load runs "
              "%.1f MB" % (idle, RSS_MODELS, model_kb, loaded, grown,
                           "met" if grown < 100 else "not met", after_load))
        summary.append("serve RSS with %d models loaded: +%.1f MB above idle (target < 100 MB): "
                       "%s" % (RSS_MODELS, grown, "met" if grown < 100 else "not met"))
        load_after = os.getloadavg()
        print("\ntargets:")
        for line in summary:
            print("  " + line)
        print("load average after: %.2f %.2f %.2f%s" % (load_after + (
            "; other processes took CPU during the runs (column \"others' CPU\"): every figure "
            "is lower than on an idle machine" if any(
                r["others_cpu"] > 0.3 for r in results.values()) else "",)))
        serve.terminate()  # its log is flushed every second: all of it, once it has stopped
        serve.wait(timeout=30)
        with open(serve_log, errors="replace") as f:
            logged = sum(1 for line in f if " info http POST " in line)
        print("serve logged %d request lines at info during the run" % logged)
        for failure in failures:
            print("FAIL: " + failure)
        return 1 if failures else 0
    finally:
        bench.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
