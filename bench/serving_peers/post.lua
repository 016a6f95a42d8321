-- wrk script of bench/serving_bench.py: POSTs the JSON body held in the file named by
-- SERVING_BENCH_BODY, and at the end prints one line of exact figures (microseconds) for the
-- bench to parse beside wrk's own --latency text.
local path = assert(os.getenv("SERVING_BENCH_BODY"), "SERVING_BENCH_BODY is not set")
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "SERVING_BENCH requests=%d duration_us=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f " ..
    "p999_us=%.1f max_us=%.1f status=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, e.status, e.connect, e.read,
    e.write, e.timeout))
end
