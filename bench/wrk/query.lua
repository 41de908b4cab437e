-- wrk script for bench/query_bench.sh: one kind of query per run, chosen by
-- the environment, and a one-line JSON summary at the end.
--
--   QUERY=new_text      GET /api/search?q=... , a text never asked before
--                       (a counter per thread: every request misses the
--                       text-embedding cache and runs the text tower)
--   QUERY=cached_text   GET /api/search?q=... , always the same text
--   QUERY=by_id         GET /api/images/{id}/similar, ids from IDS_FILE in turn
--   QUERY=image         POST /api/search/image, the bytes of IMAGE_FILE
--   K                   results per query (default 10)
local query = os.getenv("QUERY") or "cached_text"
local k = os.getenv("K") or "10"
local next_thread = 0

local function encode(text)
  return (text:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
end

local counter = 0
local ids = {}
local body = nil

function init(args)
  if query == "by_id" then
    for line in io.lines(os.getenv("IDS_FILE")) do table.insert(ids, line) end
  elseif query == "image" then
    local f = assert(io.open(os.getenv("IMAGE_FILE"), "rb"))
    body = f:read("*a")
    f:close()
  end
end

local words = {"red", "bicycle", "dog", "beach", "night", "city", "mountain", "snow", "cat", "kitchen",
               "street", "tree", "boat", "sunset", "train", "market"}

function request()
  counter = counter + 1
  if query == "new_text" then
    -- Distinct across threads and requests; short, like real queries.
    local n = counter * 16 + (thread_number or 0)
    local text = string.format("a photo of a %s %s %d", words[n % #words + 1], words[math.floor(n / 7) % #words + 1], n)
    return wrk.format("GET", "/api/search?q=" .. encode(text) .. "&k=" .. k)
  elseif query == "cached_text" then
    return wrk.format("GET", "/api/search?q=" .. encode("a photo of a red bicycle at night") .. "&k=" .. k)
  elseif query == "by_id" then
    local id = ids[counter % #ids + 1]
    return wrk.format("GET", "/api/images/" .. id .. "/similar?k=" .. k)
  elseif query == "image" then
    return wrk.format("POST", "/api/search/image?k=" .. k, {["Content-Type"] = "image/jpeg"}, body)
  end
  error("unknown QUERY " .. query)
end

-- The first failed answer is shown (wrk counts them all in errors.status).
local reported = false
function response(status, headers, body)
  if (status < 200 or status > 299) and not reported then
    reported = true
    io.stderr:write("first non-2xx answer: " .. status .. " " .. (body or ""):sub(1, 300) .. "\n")
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"query": "%s", "requests": %d, "seconds": %.2f, "qps": %.2f, "p50_ms": %.2f, "p90_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "socket_errors": %d, "non_2xx": %d}\n',
    query, summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
