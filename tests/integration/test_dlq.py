"""(2) Dead-letter routing on the real broker: malformed JSON and a failing expression go to `<app>-dlq`
with the kstreamd.* headers, the original bytes and headers, and processing goes on."""
import json
import random

from kit import Reader, produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  orders:
    from: {src}
    steps:
      - filter: {{name: not-cancelled, predicate: '.status != "CANCELLED"'}}
      - mapValues: {{name: order-total, mapper: '. + {{total: ([.items[] | .qty * .price] | add)}}'}}
    to: {out}
"""


def test_dlq_routing(bootstrap, topics, kstreamd, tmp_path, uid):
    src = topics.create("order-dlqtest-v1", 3)
    out = topics.create("order-dlqtest-total-v1", 3)
    app = f"it-dlq-{uid}"
    dlq = f"{app}-dlq"
    topics.forget(dlq)
    topo = write_topology(tmp_path, "dlq.yaml", TOPOLOGY.format(app=app, src=src, out=out))

    rnd = random.Random(7)
    recs = []   # (key, raw, ts, headers, kind)
    for i in range(1200):
        key = f"o-{i}"
        order = {"orderId": key, "customerId": f"c-{rnd.randint(1, 50)}", "status": "NEW",
                 "items": [{"sku": f"SKU-{rnd.randint(1, 9)}", "qty": rnd.randint(1, 4), "price": rnd.randint(1, 900) / 4}
                           for _ in range(rnd.randint(1, 3))]}
        kind, hdrs = "ok", None
        if i % 20 == 3:
            kind = "malformed"
            raw = b'{"orderId": "' + key.encode() + b'", "items": [{"qty": 1,'
            hdrs = [("trace-id", f"t-{i}".encode())]
        elif i % 20 == 11:
            kind = "expr"
            order["items"][0]["price"] = {"amount": 12.5, "currency": "SEK"}   # number * object fails in mapValues
            raw = json.dumps(order).encode()
            hdrs = [("trace-id", f"t-{i}".encode())]
        elif i % 20 == 17:
            kind = "cancelled"
            order["status"] = "CANCELLED"
            raw = json.dumps(order).encode()
        else:
            raw = json.dumps(order).encode()
        recs.append((key, raw, 1_700_000_000_000 + i, hdrs, kind, order))
    where = produce_all(bootstrap, src, [(k.encode(), raw, ts, h) for k, raw, ts, h, _, _ in recs])

    expected_out = {}
    for k, raw, ts, h, kind, order in recs:
        if kind == "ok":
            expected_out[k] = dict(order, total=sum(it["qty"] * it["price"] for it in order["items"]))
    expected_dlq = {where[i]: recs[i] for i in range(len(recs)) if recs[i][4] in ("malformed", "expr")}

    k = kstreamd(topo)
    reader = Reader(bootstrap, out)
    assert reader.until(lambda rs: len(rs) >= len(expected_out), timeout=40), \
        f"{len(reader.records)} of {len(expected_out)} outputs"
    dr = Reader(bootstrap, dlq)
    assert dr.until(lambda rs: len(rs) >= len(expected_dlq), timeout=20), \
        f"{len(dr.records)} of {len(expected_dlq)} dead letters"
    assert k.alive(), "kstreamd stopped on bad records"
    assert k.stop() == 0
    reader.to_end()
    dr.to_end()

    got = {}
    for m in reader.records:
        assert m.key().decode() not in got, f"duplicate output for {m.key()}"
        got[m.key().decode()] = json.loads(m.value())
    assert set(got) == set(expected_out)
    for key, v in expected_out.items():
        assert got[key]["total"] == v["total"] and got[key] == v, (key, got[key], v)

    assert len(dr.records) == len(expected_dlq)
    for m in dr.records:
        h = {}
        for hk, hv in m.headers() or []:
            h[hk] = hv.decode()
        for name in ("kstreamd.error", "kstreamd.source.topic", "kstreamd.source.partition",
                     "kstreamd.source.offset", "kstreamd.node"):
            assert name in h, f"dead letter without header {name}: {h}"
        assert h["kstreamd.source.topic"] == src
        at = (int(h["kstreamd.source.partition"]), int(h["kstreamd.source.offset"]))
        assert at in expected_dlq, f"unexpected dead letter from {at}: {h}"
        key, raw, ts, hdrs, kind, _ = expected_dlq.pop(at)
        assert m.key().decode() == key and m.value() == raw, "dead letter is not the original record"
        assert m.timestamp()[1] == ts, "dead letter lost the original timestamp"
        assert h.get("trace-id") == dict((a, b.decode()) for a, b in hdrs)["trace-id"], "original header lost"
        if kind == "malformed":
            assert h["kstreamd.error"].startswith("deserializing the value"), h["kstreamd.error"]
            assert h["kstreamd.node"] == "not-cancelled", h
        else:
            assert h["kstreamd.error"].startswith("evaluating `mapValues`"), h["kstreamd.error"]
            assert "cannot be multiplied" in h["kstreamd.error"], h["kstreamd.error"]
            assert h["kstreamd.node"] == "order-total", h
    assert not expected_dlq
    reader.close()
    dr.close()
