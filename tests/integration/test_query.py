"""Interactive queries over HTTP (issue 15): the real kstreamd on the real broker, asked over real sockets.

- every endpoint: /health, /ready, /v1/topology, /v1/stores, lookups, scans, windows, /v1/apps/...;
- every error status: 400 (malformed request, bad key, bad parameter, bad cursor), 404, 405 (with Allow), 413, 414,
  431, 503 (connection limit; a partition restoring);
- keys of every serde (string, json, long, int, double), percent-encoded;
- range scans across four partitions, paginated with a small limit, return each key exactly once in key-byte order;
- window and session queries at their bounds, as Kafka Streams' WindowStore#fetch and SessionStore#findSessions;
- /ready answers 503 while a store restores from its changelog, then 200;
- slow clients (slowloris) and idle connections are closed; 2,000 concurrent connections get 503 past 1,024,
  the process stays small and alive, and the stream thread keeps processing meanwhile;
- a query.listen address in use is a clear fatal error.
"""
import http.client
import json
import os
import re
import socket
import struct
import time
import urllib.parse

import pytest

from kit import Reader, produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
  {js}: {{key: json}}
  {lg}: {{key: long}}
  {it}: {{key: int}}
  {db}: {{key: double}}
tables:
  kv: {{topic: {kv}, queryable: true}}
  by-json: {{topic: {js}, queryable: true}}
  by-long: {{topic: {lg}, queryable: true}}
  by-int: {{topic: {it}, queryable: true}}
  by-double: {{topic: {db}, queryable: true}}
  everywhere: {{topic: {gl}, global: true, queryable: true}}
pipelines:
  per-minute:
    from: {ev}
    steps:
      - groupByKey
      - windowedBy: {{tumbling: 1m, grace: 1d}}
      - count: {{store: per-minute, queryable: true}}
  sessions:
    from: {ev}
    steps:
      - groupByKey
      - windowedBy: {{session: 10s, grace: 1d}}
      - count: {{store: sessions, queryable: true}}
  echo:
    from: {ev}
    to: {out}
"""


def start_server(kstreamd, topo, tmp_path, *settings):
    k = kstreamd(topo, f"state.dir={tmp_path}/state", "query.listen=127.0.0.1:0", *settings)
    addr = k.wait_log(r"query server listening on http://(127\.0\.0\.1:\d+)", 30)[0]
    return k, addr


def get(addr, path, method="GET", headers=None, body=None):
    """(status, headers dict, parsed JSON) of one request on its own connection."""
    host, port = addr.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(data) if data else None


def raw(addr, data, timeout=10):
    """Sends bytes on a fresh socket; returns what comes back until the server closes."""
    host, port = addr.split(":")
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.sendall(data)
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        out += chunk
    s.close()
    return out


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what() if callable(what) else what}")
        time.sleep(0.1)


def q(key):
    return urllib.parse.quote(key, safe="")


@pytest.fixture
def service(bootstrap, topics, kstreamd, tmp_path, uid):
    names = {b: topics.create(f"query-{b}-v1", 4) for b in ("kv", "js", "lg", "it", "db", "gl", "ev", "out")}
    app = f"it-query-{uid}"
    for s in ("per-minute", "sessions"):
        topics.forget(f"{app}-{s}-changelog")
    topics.forget(f"{app}-dlq")
    topo = write_topology(tmp_path, "query.yaml", TOPOLOGY.format(app=app, **names))
    k, addr = start_server(kstreamd, topo, tmp_path)
    k.wait_running()
    wait_until(lambda: get(addr, "/ready")[0] == 200, 30, "/ready")
    return k, addr, names, app


def test_every_endpoint_and_key_serde(bootstrap, service):
    k, addr, names, app = service
    v = lambda d: json.dumps(d).encode()
    produce_all(bootstrap, names["kv"], [(b"k-1", v({"n": 1}), 1000, None), (b"a b/c \xc3\xbc", v({"n": 2}), 2000, None)])
    produce_all(bootstrap, names["js"], [(b'{"id":7}', v({"n": 3}), None, None)])
    produce_all(bootstrap, names["lg"], [(struct.pack(">q", 42), v({"n": 4}), None, None)])
    produce_all(bootstrap, names["it"], [(struct.pack(">i", -7), v({"n": 5}), None, None)])
    produce_all(bootstrap, names["db"], [(struct.pack(">d", 1.5), v({"n": 6}), None, None)])
    produce_all(bootstrap, names["gl"], [(b"g-1", v({"n": 7}), None, None)])

    assert get(addr, "/health")[0] == 200
    wait_until(lambda: get(addr, "/ready")[0] == 200, 30, "/ready")
    st, _, body = get(addr, "/ready")
    assert body == {"status": "READY", "applications": [{"application": app, "state": "RUNNING"}]}

    st, _, body = get(addr, "/v1/stores")
    assert st == 200
    stores = {s["store"]: s for s in body["stores"]}
    assert sorted(stores) == ["by-double", "by-int", "by-json", "by-long", "everywhere", "kv", "per-minute",
                              "sessions"]
    assert stores["kv"] == {"application": app, "store": "kv", "kind": "key-value", "global": False,
                            "keySerde": "string", "valueSerde": "json", "partitions": [0, 1, 2, 3]}
    assert (stores["by-long"]["keySerde"], stores["per-minute"]["kind"], stores["sessions"]["kind"]) == \
        ("long", "window", "session")
    assert stores["everywhere"]["global"] is True and stores["per-minute"]["valueSerde"] == "long"

    st, _, body = get(addr, "/v1/topology")
    assert st == 200 and body["topologies"][0]["application"] == app
    assert any(n.get("stores") == ["kv"] for s in body["topologies"][0]["subtopologies"] for n in s["nodes"])

    def lookup(store, key):
        return wait_until(lambda: (lambda r: r if r[0] == 200 else None)(get(addr, f"/v1/stores/{store}/keys/{q(key)}")),
                          30, f"{store}/{key}")

    assert lookup("kv", "k-1")[2] == {"key": "k-1", "value": {"n": 1}, "timestamp": 1000}
    assert lookup("kv", "a b/c ü")[2]["value"] == {"n": 2}
    assert lookup("by-json", '{"id": 7}')[2]["key"] == {"id": 7}
    assert lookup("by-long", "42")[2]["value"] == {"n": 4}
    assert lookup("by-int", "-7")[2]["value"] == {"n": 5}
    assert lookup("by-double", "1.5")[2]["value"] == {"n": 6}
    assert lookup("everywhere", "g-1")[2]["value"] == {"n": 7}
    # The same through the application's own prefix.
    assert get(addr, f"/v1/apps/{app}/stores/kv/keys/k-1")[2]["value"] == {"n": 1}
    st, _, body = get(addr, f"/v1/apps/{app}/stores")
    assert st == 200 and len(body["stores"]) == 8

    # 404s.
    st, _, body = get(addr, "/v1/stores/kv/keys/nope")
    assert st == 404 and "not found" in body["error"]
    assert get(addr, "/v1/stores/nope/keys/x")[0] == 404
    assert get(addr, "/nope")[0] == 404
    assert get(addr, "/v1/apps/nope/stores")[0] == 404
    # 400s: keys that are not of the store's serde, bad parameters, a cursor we never gave.
    st, _, body = get(addr, "/v1/stores/by-long/keys/abc")
    assert st == 400 and "long" in body["error"]
    assert get(addr, "/v1/stores/by-int/keys/99999999999")[0] == 400
    assert get(addr, "/v1/stores/by-long/keys/1.5")[0] == 400
    assert get(addr, "/v1/stores/kv?limit=0")[0] == 400
    assert get(addr, "/v1/stores/kv?limit=x")[0] == 400
    assert get(addr, "/v1/stores/kv?after=%%%")[0] == 400
    assert get(addr, "/v1/stores/kv?after=!!")[0] == 400
    assert get(addr, "/v1/stores/kv?prefix=a&from=b")[0] == 400
    assert get(addr, "/v1/stores/per-minute/keys/x")[0] == 400  # a window store has windows, not values
    assert get(addr, "/v1/stores/kv/keys/x/windows")[0] == 400
    assert get(addr, "/v1/stores/kv/keys/k-1?stale=maybe")[0] == 400
    # 405 with Allow, 413, 414, 431, 400 for what does not parse.
    st, hs, body = get(addr, "/v1/stores", method="POST", body=b"{}")
    assert st == 405 and hs["allow"] == "GET" and "error" in body
    assert get(addr, "/v1/stores", method="DELETE")[0] == 405
    st, _, body = get(addr, "/v1/stores", body=b"x" * 10, headers={"Content-Length": "10"})
    assert st == 413
    assert raw(addr, b"GET /v1/stores HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").startswith(
        b"HTTP/1.1 413 ")
    assert get(addr, "/v1/stores/kv/keys/" + "x" * 9000)[0] == 414
    assert get(addr, "/v1/stores", headers={f"X-Pad-{i}": "y" * 100 for i in range(100)})[0] == 431
    assert raw(addr, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(addr, b"GET /v1/stores HTTP/9.9\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    # Clients that reset the connection before reading a large answer (SIGPIPE is not the server's end).
    produce_all(bootstrap, names["kv"], [(f"big-{i}".encode(), json.dumps({"pad": "x" * 900}).encode(), None, None)
                                         for i in range(1000)])
    wait_until(lambda: len(get(addr, "/v1/stores/kv?prefix=big-&limit=1000")[2]["records"]) == 1000, 30, "big")
    host, port = addr.split(":")
    for _ in range(100):
        s = socket.create_connection((host, int(port)))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(b"GET /v1/stores/kv?prefix=big-&limit=1000 HTTP/1.1\r\n\r\n" * 3)
        s.close()
    time.sleep(0.5)
    assert k.alive() and get(addr, "/health")[0] == 200
    # Keep-alive: several requests on one connection, pipelined.
    out = raw(addr, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/stores/kv/keys/k-1 HTTP/1.1\r\nHost: x\r\n\r\n"
                    b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 200 OK") == 3, out
    assert out.index(b'"status":"UP"') < out.index(b'"key":"k-1"') < out.rindex(b'"status":"UP"')
    assert k.alive()


def test_range_scans_paginate_each_key_once_in_key_byte_order(bootstrap, service):
    k, addr, names, app = service
    keys = [f"key-{i:04d}" for i in range(300)] + ["a", "b", "ab", "key-", "z\u00fc"]
    produce_all(bootstrap, names["kv"], [(key.encode(), json.dumps({"k": key}).encode(), None, None) for key in keys])
    want = sorted(key.encode() for key in keys)
    wait_until(lambda: len(get(addr, "/v1/stores/kv?limit=1000")[2]["records"]) == len(keys), 30, "all keys")
    # Pages of 7: each key once, in byte order, every page at most 7, the last one's cursor null.
    seen, after, pages = [], None, 0
    while True:
        st, _, body = get(addr, "/v1/stores/kv?limit=7" + (f"&after={after}" if after else ""))
        assert st == 200 and len(body["records"]) <= 7, body
        seen += [r["key"].encode() for r in body["records"]]
        assert all(r["value"] == {"k": r["key"]} for r in body["records"])
        pages += 1
        after = body["next"]
        if after is None:
            break
    assert seen == want and pages == -(-len(keys) // 7)
    # from and to are inclusive (ReadOnlyKeyValueStore#range); prefix; paginated too.
    body = get(addr, "/v1/stores/kv?from=key-0010&to=key-0019")[2]
    assert [r["key"] for r in body["records"]] == [f"key-{i:04d}" for i in range(10, 20)] and body["next"] is None
    got, after = [], None
    while True:
        body = get(addr, "/v1/stores/kv?prefix=key-01&limit=4" + (f"&after={after}" if after else ""))[2]
        got += [r["key"] for r in body["records"]]
        after = body["next"]
        if not after:
            break
    assert got == [f"key-{i:04d}" for i in range(100, 200)]
    assert [r["key"] for r in get(addr, "/v1/stores/kv?to=ab")[2]["records"]] == ["a", "ab"]
    assert [r["key"] for r in get(addr, "/v1/stores/kv?from=z")[2]["records"]] == ["z\u00fc"]


def test_window_and_session_queries_at_their_bounds(bootstrap, service):
    k, addr, names, app = service
    # Tumbling 1-minute windows: [0, 60000) and [60000, 120000); sessions with a 10 s gap: [1000, 5000], [61000],
    # [100000].
    produce_all(bootstrap, names["ev"], [(b"w", b"{}", ts, None) for ts in (1000, 5000, 61000, 100000)])

    def windows(store, qs=""):
        st, _, body = get(addr, f"/v1/stores/{store}/keys/w/windows{qs}")
        assert st == 200, body
        return [(r["window"]["start"], r["window"]["end"], r["value"]) for r in body["records"]]

    wait_until(lambda: windows("per-minute") == [(0, 60000, 2), (60000, 120000, 2)], 30, "windows")
    # WindowStore#fetch(key, from, to): windows whose start is in [from, to], both inclusive.
    assert windows("per-minute", "?from=0&to=60000") == [(0, 60000, 2), (60000, 120000, 2)]
    assert windows("per-minute", "?from=1&to=60000") == [(60000, 120000, 2)]
    assert windows("per-minute", "?from=0&to=59999") == [(0, 60000, 2)]
    assert windows("per-minute", "?from=60001") == []
    assert windows("per-minute", "?limit=1")[0] == (0, 60000, 2)
    st, _, body = get(addr, "/v1/stores/per-minute/keys/w/windows?limit=1")
    assert body["next"] is not None
    st, _, body = get(addr, f"/v1/stores/per-minute/keys/w/windows?limit=1&after={body['next']}")
    assert [r["window"]["start"] for r in body["records"]] == [60000] and body["next"] is None
    # SessionStore#findSessions(key, earliestSessionEndTime, latestSessionStartTime): end >= from, start <= to.
    wait_until(lambda: windows("sessions") == [(1000, 5000, 2), (61000, 61000, 1), (100000, 100000, 1)], 30,
               lambda: f"sessions: {windows('sessions')}")
    assert windows("sessions", "?from=5000&to=99999") == [(1000, 5000, 2), (61000, 61000, 1)]
    assert windows("sessions", "?from=5001&to=100000") == [(61000, 61000, 1), (100000, 100000, 1)]
    assert windows("sessions", "?from=5001&to=60999") == []
    assert windows("sessions", "?from=0&to=1000") == [(1000, 5000, 2)]
    assert get(addr, "/v1/stores/per-minute/keys/w/windows?from=-1")[0] == 400
    assert get(addr, "/v1/stores/per-minute/keys/nope/windows")[2] == {"records": [], "next": None}


RESTORE_TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  counts:
    from: {src}
    steps:
      - groupByKey
      - count: {{store: counts, queryable: true}}
"""


def test_ready_flips_from_503_to_200_when_the_restore_ends(bootstrap, topics, kstreamd, tmp_path, uid):
    src = topics.create("query-restore-v1", 2)
    app = f"it-query-restore-{uid}"
    topics.forget(f"{app}-counts-changelog")
    topics.forget(f"{app}-dlq")
    topo = write_topology(tmp_path, "restore.yaml", RESTORE_TOPOLOGY.format(app=app, src=src))
    n = 200000
    produce_all(bootstrap, src, ((f"c-{i}".encode(), b"{}", None, None) for i in range(n)))
    k, addr = start_server(kstreamd, topo, tmp_path)
    wait_until(lambda: get(addr, "/v1/stores/counts?limit=1")[0] == 200 and
               get(addr, f"/v1/stores/counts/keys/c-{n - 1}")[0] == 200, 120, "first run counted everything")
    assert k.stop() == 0
    # A fresh state directory: the store restores its 200k records from the changelog before the task runs.
    state2 = tmp_path / "state2"
    k2 = kstreamd(topo, f"state.dir={state2}", "query.listen=127.0.0.1:0")
    addr = k2.wait_log(r"query server listening on http://(127\.0\.0\.1:\d+)", 30)[0]
    seen, reasons = [], []
    deadline = time.time() + 120
    while time.time() < deadline:
        st, hs, body = get(addr, "/ready")
        if not seen or seen[-1] != st:
            seen.append(st)
        if st == 503:
            reasons.append(body["reason"])
            assert hs["retry-after"] == "1"
            # Meanwhile a key of a restoring partition is 503 too, unless stale reads are allowed.
            ks = get(addr, "/v1/stores/counts/keys/c-1")
            assert ks[0] == 503 or "restoring" not in body["reason"], ks
        if st == 200:
            break
        time.sleep(0.005)
    assert seen == [503, 200], seen
    assert any("restoring" in r for r in reasons), reasons[-5:]
    k2.wait_log(r"restored counts\[\d\]: \d+ records", 5)
    assert get(addr, f"/v1/stores/counts/keys/c-{n - 1}")[2]["value"] == 1


def test_slow_clients_and_2000_connections(bootstrap, service):
    k, addr, names, app = service
    host, port = addr.split(":")
    wait_until(lambda: get(addr, "/ready")[0] == 200, 30, "/ready")

    def rss_kb():
        with open(f"/proc/{k.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    rss0 = rss_kb()
    # Slowloris: a request whose headers trickle in, a byte a second, is closed by the header timeout (5 s).
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /health HTTP/1.1\r\n")
    t0, closed = time.time(), False
    while time.time() - t0 < 12:
        try:
            s.sendall(b"X")
        except OSError:
            closed = True
            break
        s.settimeout(1)
        try:
            if s.recv(100) == b"":
                closed = True
                break
        except socket.timeout:
            pass
    s.close()
    assert closed and 4 <= time.time() - t0 < 9, time.time() - t0
    # An idle connection is closed after 10 s.
    s = socket.create_connection((host, int(port)))
    s.settimeout(15)
    t0 = time.time()
    assert s.recv(100) == b""
    assert 9 <= time.time() - t0 < 14
    s.close()

    # 2,000 connections at once while records flow through the stream thread.
    out = Reader(bootstrap, names["out"])
    socks = []
    for i in range(2000):
        c = socket.create_connection((host, int(port)))
        socks.append(c)
    produce_all(bootstrap, names["ev"], [(f"e{i}".encode(), b"{}", None, None) for i in range(500)])
    for c in socks:
        c.setblocking(False)
    answered = set()
    deadline = time.time() + 20
    while len(answered) < 2000 - 1024 and time.time() < deadline:
        for i, c in enumerate(socks):
            if i in answered:
                continue
            try:
                if c.recv(200).startswith(b"HTTP/1.1 503 "):
                    answered.add(i)
            except BlockingIOError:
                pass
        time.sleep(0.2)
    time.sleep(0.5)
    for i, c in enumerate(socks):  # none beyond the limit's
        try:
            if i not in answered and c.recv(200).startswith(b"HTTP/1.1 503 "):
                answered.add(i)
        except BlockingIOError:
            pass
    refused = len(answered)
    assert 2000 - 1024 <= refused <= 2000 - 1024 + 2, refused  # + a connection of ours the server had not closed yet
    assert out.until(lambda rs: len(rs) >= 500, 30), len(out.records)  # the stream thread kept processing
    # The connections held do not stop others from being answered once they go.
    for c in socks:
        c.close()
    wait_until(lambda: get(addr, "/health")[0] == 200, 10, "/health after the storm")
    assert k.alive()
    assert rss_kb() - rss0 < 64 * 1024, (rss0, rss_kb())


def test_query_listen_in_use_is_a_fatal_error(bootstrap, tmp_path, uid, kstreamd):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    topo = write_topology(tmp_path, "t.yaml", f"application: it-query-bind-{uid}\npipelines:\n  p:\n    from: x\n")
    k = kstreamd(topo, f"query.listen=127.0.0.1:{port}")
    assert k.wait(30) == 1
    assert f"kstreamd: query.listen 127.0.0.1:{port}: cannot listen: address already in use" in k.log(), k.log()
    holder.close()
