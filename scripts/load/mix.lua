-- The mixed workload of `npm run load` (scripts/load/run.ts), for wrk. wrk runs one Lua state per thread;
-- setup() and done() run in the main one.
--
--   wrk ... -s scripts/load/mix.lua <url> -- <workload file> <orders until (Unix seconds)> <key prefix>
--
-- The workload file (written by run.ts) has one item per line: "token <jwt>", "login <json body>",
-- "product <id>", "list <path and query>". A request is a catalogue page (mostly cache hits), a product view
-- (idem), a login, or an order of one product with a customer token and an Idempotency-Key of its own.
--
-- No order is sent after <orders until>: wrk drops the requests in flight when its time is up, and an order
-- it drops may still be created, which would leave the orders it counted short of the database's.
--
-- Responses are recognised by their body, not by the request that asked for them: with several connections
-- per thread, wrk gives no way to pair them. Only an order answers 201, only a login carries a token.

local WEIGHTS = { list = 40, view = 40, login = 5, order = 15 }

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

local tokens, logins, products, lists = {}, {}, {}, {}
local orders_until, key_prefix
local sent = 0
local json_headers = { ["Content-Type"] = "application/json" }

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local kind, value = line:match("^(%a+) (.+)$")
    if kind == "token" then table.insert(tokens, value)
    elseif kind == "login" then table.insert(logins, value)
    elseif kind == "product" then table.insert(products, value)
    elseif kind == "list" then table.insert(lists, value)
    elseif kind then error("unknown workload line: " .. line) end
  end
  file:close()
  assert(#tokens > 0 and #logins > 0 and #products > 0 and #lists > 0, "workload file lacks tokens, logins, products or lists")
  orders_until = tonumber(args[2])
  key_prefix = args[3] .. "-" .. thread_id .. "-"
  math.randomseed(os.time() * 100 + thread_id)
  -- Read back by done() through thread:get: one flat table of numbers.
  counts = {
    list = 0, list_hit = 0, view = 0, view_hit = 0, login = 0, created = 0, out_of_stock = 0, other = 0,
    sent_order = 0, sent_login = 0, sent_list = 0, sent_view = 0,
  }
  revenue = {}
end

local function pick(items)
  return items[math.random(#items)]
end

function request()
  sent = sent + 1
  local r = math.random(100)
  -- Past <orders until> the orders' share goes to views (falling through, it went to logins, the dearest request).
  if r <= WEIGHTS.order and os.time() >= orders_until then r = 100 end
  if r <= WEIGHTS.order then
    counts.sent_order = counts.sent_order + 1
    local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. pick(tokens),
      ["Idempotency-Key"] = key_prefix .. sent,
    }
    return wrk.format("POST", "/api/orders", headers, '{"items":[{"productId":' .. pick(products) .. ',"quantity":1}]}')
  elseif r <= WEIGHTS.order + WEIGHTS.login then
    counts.sent_login = counts.sent_login + 1
    return wrk.format("POST", "/api/users/login", json_headers, pick(logins))
  elseif r <= WEIGHTS.order + WEIGHTS.login + WEIGHTS.list then
    counts.sent_list = counts.sent_list + 1
    return wrk.format("GET", pick(lists))
  end
  -- Views, and the orders' share once orders have stopped.
  counts.sent_view = counts.sent_view + 1
  return wrk.format("GET", "/api/products/" .. pick(products))
end

local function cache_hit(headers)
  return (headers["X-Cache"] or headers["x-cache"]) == "HIT"
end

function response(status, headers, body)
  if status == 201 and body:find('"totalCents":', 1, true) then
    counts.created = counts.created + 1
    local currency = body:match('"currency":"(%u%u%u)"')
    revenue[currency] = (revenue[currency] or 0) + tonumber(body:match('"totalCents":(%d+)'))
  elseif status == 409 and body:find('"OUT_OF_STOCK"', 1, true) then
    counts.out_of_stock = counts.out_of_stock + 1
  elseif status == 200 and body:find('"token":', 1, true) then
    counts.login = counts.login + 1
  elseif status == 200 and body:find('"items":', 1, true) then
    counts.list = counts.list + 1
    if cache_hit(headers) then counts.list_hit = counts.list_hit + 1 end
  elseif status == 200 and body:find('"sku":', 1, true) then
    counts.view = counts.view + 1
    if cache_hit(headers) then counts.view_hit = counts.view_hit + 1 end
  else
    counts.other = counts.other + 1
    local key = "status_" .. status
    counts[key] = (counts[key] or 0) + 1
  end
end

-- One line for run.ts: "LOAD_RESULT {json}".
local function json_object(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format('"%s":%s', k, type(v) == "table" and json_object(v) or string.format("%.0f", v))) end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local total, revenue_total = {}, {}
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("counts")) do total[k] = (total[k] or 0) + v end
    for k, v in pairs(thread:get("revenue")) do revenue_total[k] = (revenue_total[k] or 0) + v end
  end
  local e = summary.errors
  io.write("LOAD_RESULT ", json_object({
    duration_us = summary.duration,
    requests = summary.requests,
    bytes = summary.bytes,
    errors = { connect = e.connect, read = e.read, write = e.write, status = e.status, timeout = e.timeout },
    latency_us = {
      p50 = latency:percentile(50), p90 = latency:percentile(90), p99 = latency:percentile(99),
      max = latency.max, mean = latency.mean,
    },
    counts = total,
    revenue = revenue_total,
  }), "\n")
end
