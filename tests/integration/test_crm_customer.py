"""(1) crm_customer end to end on the real broker: 3000 raw CRM records in, the exact expected outputs out."""
import collections
import json

import crm
from kit import Reader, canon, crm_topology, java_partition, produce_all

N = 3000


def test_crm_customer_end_to_end(bootstrap, topics, kstreamd, tmp_path, uid):
    raw = topics.create("crm-customer-raw-v1", 3)
    out = topics.create("crm-customer-v1", 3)
    app = f"crm-customer-service-{uid}"
    dlq = f"{app}-dlq"
    topics.forget(dlq)
    topo = crm_topology(tmp_path, app, raw, out)

    recs = crm.generate(N)
    kinds = collections.Counter(r["outcome"] for r in recs)
    assert kinds["drop"] > 100 and kinds["dlq"] > 50 and kinds["out"] > 2000, kinds
    where = produce_all(bootstrap, raw, [(r["key"].encode(), r["raw"], r["ts"], None) for r in recs])

    expected = collections.Counter()
    for r in recs:
        for k, v in r["outputs"]:
            expected[(k, json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":")), r["ts"])] += 1
    n_expected = sum(expected.values())
    dlq_expected = {(raw, where[i][0], where[i][1]): r for i, r in enumerate(recs) if r["outcome"] == "dlq"}

    k = kstreamd(topo)
    reader = Reader(bootstrap, out)
    ok = reader.until(lambda rs: len(rs) >= n_expected, timeout=50)
    assert ok, f"only {len(reader.records)} of {n_expected} outputs within 50 s"
    assert k.stop() == 0
    got_records = reader.to_end()

    got = collections.Counter()
    misplaced = []
    for m in got_records:
        key = m.key().decode()
        got[(key, canon(m.value()), m.timestamp()[1])] += 1
        if m.partition() != java_partition(m.key(), 3):
            misplaced.append((key, m.partition()))
    missing = expected - got
    extra = got - expected
    assert not missing and not extra, (f"{sum(missing.values())} missing, {sum(extra.values())} unexpected; "
                                       f"e.g. missing {list(missing)[:2]}, unexpected {list(extra)[:2]}")
    assert not misplaced, f"outputs not in murmur2's partition (Java's partitioner): {misplaced[:5]}"

    # Every dead letter: the right record, the node it failed at, and nothing else dead-lettered.
    dr = Reader(bootstrap, dlq)
    dr.until(lambda rs: len(rs) >= len(dlq_expected), timeout=10)
    dr.to_end()
    got_dlq = {}
    for m in dr.records:
        h = {kk: vv.decode() for kk, vv in (m.headers() or [])}
        src = (h["kstreamd.source.topic"], int(h["kstreamd.source.partition"]), int(h["kstreamd.source.offset"]))
        got_dlq[src] = (m, h)
    assert set(got_dlq) == set(dlq_expected), (f"dead letters: {len(got_dlq)} got, {len(dlq_expected)} expected; "
                                               f"missing {sorted(set(dlq_expected) - set(got_dlq))[:3]}, "
                                               f"unexpected {sorted(set(got_dlq) - set(dlq_expected))[:3]}")
    assert len(dr.records) == len(dlq_expected), "a record was dead-lettered twice"
    for src, r in dlq_expected.items():
        m, h = got_dlq[src]
        assert m.key().decode() == r["key"] and m.value() == r["raw"], f"DLQ record at {src} is not the original"
        assert h["kstreamd.node"] == r["dlq_node"], (src, r["kind"], h)
    reader.close()
    dr.close()
