-- bench/query/lookup.lua: wrk script, GET /v1/stores/STORE/keys/KEY for random keys of the loaded table.
-- Environment: BENCH_STORE, BENCH_KEYS (keys k-0000000 .. k-(N-1)), BENCH_DELAY_MS (per connection, between
-- requests; 0: none), so that connections * 1000 / delay is the request rate.
local store = os.getenv("BENCH_STORE") or "kv"
local keys = tonumber(os.getenv("BENCH_KEYS") or "1000000")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

function init(args)
    math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
    return wrk.format("GET", string.format("/v1/stores/%s/keys/k-%07d", store, math.random(0, keys - 1)))
end

if delay_ms > 0 then
    function delay()
        return delay_ms
    end
end

function done(summary, latency, requests)
    io.write(string.format("errors: %d non-2xx, %d connect, %d read, %d timeout\n", summary.errors.status,
        summary.errors.connect, summary.errors.read, summary.errors.timeout))
end
