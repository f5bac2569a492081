-- wrk script: POSTs one fixed body with a bearer key; prints a RESULT line at the end.
-- Environment: BODY (file), KEY (API key, optional), HEADER_LENGTH (binary extension:
-- the JSON header's length, optional), CONTENT_TYPE (default application/json).
local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

wrk.method = "POST"
wrk.body = read_all(os.getenv("BODY"))
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
if os.getenv("KEY") and os.getenv("KEY") ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
end
if os.getenv("HEADER_LENGTH") and os.getenv("HEADER_LENGTH") ~= "" then
  wrk.headers["Inference-Header-Content-Length"] = os.getenv("HEADER_LENGTH")
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT rps=%.0f admitted_rps=%.2f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d errors=%d\n",
    summary.requests / seconds, (summary.requests - summary.errors.status) / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
