-- wrk script for bench/run.ts: POST the same prepared inference body on every request.
--   wrk ... -s bench/wrk-infer.lua URL -- BODY_FILE [TOKEN] [HEADER_LENGTH]
-- With HEADER_LENGTH the body is a V2 binary-tensor body (JSON header of that many bytes, then raw tensor bytes):
-- sent as application/octet-stream with Inference-Header-Content-Length. Without it, the body is V2 JSON.
-- No request()/response() callbacks: wrk sends one pre-formatted request, so the load generator stays cheap.
-- done() prints one line, "BENCH_RESULT {json}", that bench/wrk-result.ts parses (latencies in microseconds).

function init(args)
  local path, token, header_length = args[1], args[2], args[3]
  local file = assert(io.open(path, "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.method = "POST"
  if header_length and header_length ~= "" then
    wrk.headers["Content-Type"] = "application/octet-stream"
    wrk.headers["Inference-Header-Content-Length"] = header_length
  else
    wrk.headers["Content-Type"] = "application/json"
  end
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,' ..
    '"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
