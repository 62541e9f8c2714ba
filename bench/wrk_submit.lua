-- wrk script: replays pre-signed Tally submissions, one line of a JSONL file per request.
-- usage: wrk -t T -c C -d D --latency -s bench/wrk_submit.lua URL -- BODIES.jsonl T PATH
--    or: wrk -t T -c C -d D -s bench/wrk_submit.lua URL/PATH   (GET URL/PATH, latencies only)
-- Each thread sends its own slice of the file once, then GET /healthz (counted apart as spare)
-- while its last submissions are answered, and stops once they all are: a phase shorter than
-- its -d when the file runs out, with next to no spare requests. done() prints one JSON line: 201s, items accepted in batches, other
-- statuses, spare requests, seconds, and the latency at every quarter percentile (0.25% to 100%,
-- microseconds), so that the slices of a phase can be pooled into one distribution (wrk's own
-- 50%/99% of each slice cannot be averaged into the phase's).
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  sent, created, ok, other, spare, answered = 0, 0, 0, 0, 0, 0
  if #args == 0 then return end -- GET the URL's path: wrk's own request
  local path, nthreads = args[1], tonumber(args[2])
  target = args[3]
  bodies, i = {}, 0
  for line in io.lines(path) do
    if i % nthreads == id then table.insert(bodies, line) end
    i = i + 1
  end
end

function request()
  if bodies == nil then return wrk.request() end
  -- wrk calls thread 0's request() once to check what it returns, before sending anything: that
  -- call gets a request that is never sent, not a submission (which would never be answered).
  if id == 0 and not probed then
    probed = true
    return wrk.format("GET", "/healthz")
  end
  sent = sent + 1
  if sent > #bodies then
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", target, {["Content-Type"] = "application/json"}, bodies[sent])
end

function response(status, headers, body)
  if bodies == nil then
    if status ~= 200 then other = other + 1 end
    return
  end
  local accepted = status == 200 and string.match(body, '"accepted":(%d+)')
  if status == 201 then
    created = created + 1
  elseif accepted then
    ok = ok + tonumber(accepted)
  elseif status == 200 then
    spare = spare + 1
    return
  else
    other = other + 1
  end
  answered = answered + 1
  if answered == #bodies then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local c, o, x, s = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created"); o = o + t:get("ok"); x = x + t:get("other"); s = s + t:get("spare")
  end
  local quantiles = {}
  for q = 1, 400 do quantiles[q] = string.format("%d", latency:percentile(q / 4)) end
  io.write(string.format('{"created": %d, "ok": %d, "other": %d, "spare": %d, "seconds": %f, "quantiles": [%s]}\n',
    c, o, x, s, summary.duration / 1e6, table.concat(quantiles, ",")))
end
