-- bench/query/keys.lua: wrk script, GET /v1/stores/STORE/keys/KEY for keys drawn at random from a file (one
-- key per line: BENCH_KEYFILE), e.g. the keys another instance owns, so that every lookup is proxied.
local store = os.getenv("BENCH_STORE") or "kv"
local keys = {}

function init(args)
    for line in io.lines(os.getenv("BENCH_KEYFILE")) do
        keys[#keys + 1] = line
    end
    math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
    return wrk.format("GET", string.format("/v1/stores/%s/keys/%s", store, keys[math.random(1, #keys)]))
end

function done(summary, latency, requests)
    io.write(string.format("errors: %d non-2xx, %d connect, %d read, %d timeout\n", summary.errors.status,
        summary.errors.connect, summary.errors.read, summary.errors.timeout))
end
