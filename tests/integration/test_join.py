"""Stream-table joins on the real broker: orders on 3 partitions joined with a customers table on 3
partitions (co-partitioned: both keyed by customer, murmur2), with `join` and `leftJoin`. Every order is
joined with the row its task's partition of the table holds: the inner join writes exactly the orders of
known customers, the left join every order (unknown customers with `customer: null`), each in the
partition of its key; a table update changes the orders that come after it only. After a stop and a
wiped state directory, the table's store is restored from its source topic, its changelog (once, though the
table and both joins list it), before the first order is joined."""
import json
import re
import shutil
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

from kit import Reader, java_partition, produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
tables:
  customers: {{topic: {customers}}}
pipelines:
  enrich:
    from: {orders}
    steps:
      - join: {{table: customers, value: '{{order: .id, customer: $right.name}}'}}
    to: {out}
  enrich-left:
    from: {orders}
    steps:
      - leftJoin: {{table: customers, value: '{{order: .id, customer: $right.name}}'}}
    to: {left}
"""

KNOWN, UNKNOWN = 30, 10  # customers c-0..c-29 have a row; c-30..c-39 have none


def customers(names):
    return [(f"c-{i}".encode(), json.dumps({"name": name}).encode(), None, None) for i, name in names]


def orders(start, n):
    return [(f"c-{i % (KNOWN + UNKNOWN)}".encode(), json.dumps({"id": f"o-{i}"}).encode(), None, None)
            for i in range(start, start + n)]


def joined(records):
    """{order: (key, customer, partition)} of an output topic."""
    out = {}
    for m in records:
        v = json.loads(m.value())
        assert v["order"] not in out, f"order {v['order']} written twice"
        out[v["order"]] = (m.key().decode(), v["customer"], m.partition())
    return out


def wait_consumed(bootstrap, app, topic, timeout=60):
    """Until the application has committed every record of topic (3 partitions): the table holds them."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": app, "enable.auto.commit": False})
    try:
        deadline = time.time() + timeout
        while True:
            tps = [TopicPartition(topic, p) for p in range(3)]
            ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(3)}
            done = {tp.partition: tp.offset for tp in c.committed(tps, timeout=10)}
            if all(ends[p] == 0 or done[p] >= ends[p] for p in range(3)):
                return
            assert time.time() < deadline, f"{topic}: committed {done}, end {ends}"
            time.sleep(0.2)
    finally:
        c.close()


def expect(start, n, name_of, inner):
    want = {}
    for i in range(start, start + n):
        c = i % (KNOWN + UNKNOWN)
        if c < KNOWN or not inner:
            key = f"c-{c}"
            want[f"o-{i}"] = (key, name_of(c) if c < KNOWN else None, java_partition(key.encode(), 3))
    return want


def test_stream_table_join_and_left_join_then_restore(bootstrap, topics, kstreamd, tmp_path, uid, admin):
    cust = topics.create("customer-join-v1", 3)
    src = topics.create("order-join-v1", 3)
    out = topics.create("order-joined-v1", 3)
    left = topics.create("order-left-joined-v1", 3)
    app = f"it-join-{uid}"
    for t in (f"{app}-customers-changelog", f"{app}-dlq"):
        topics.forget(t)
    topo = write_topology(tmp_path, "join.yaml", TOPOLOGY.format(app=app, customers=cust, orders=src, out=out,
                                                                  left=left))
    state = tmp_path / "state"
    # A customer written before the service starts is in the table when the first order comes.
    produce_all(bootstrap, cust, customers((i, f"name-{i}") for i in range(KNOWN)))
    k1 = kstreamd(topo, f"state.dir={state}")
    k1.wait_running()
    wait_consumed(bootstrap, app, cust)

    produce_all(bootstrap, src, orders(0, 400))
    inner, outer = Reader(bootstrap, out), Reader(bootstrap, left)
    assert outer.until(lambda rs: len(rs) >= 400, 60), len(outer.records)
    assert inner.until(lambda rs: len(rs) >= 300, 60), len(inner.records)
    # An update of the table emits nothing; the orders after it see it.
    produce_all(bootstrap, cust, customers([(0, "renamed-0")]))
    wait_consumed(bootstrap, app, cust)
    inner.poll(1)
    assert len(inner.records) == 300 and len(outer.records) == 400, "a table update emitted a join result"
    produce_all(bootstrap, src, orders(400, 40))
    assert outer.until(lambda rs: len(rs) >= 440, 60), len(outer.records)
    assert k1.stop() == 0, k1.log()[-3000:]

    # A wiped state directory: the table comes back from its changelog before any order is joined.
    shutil.rmtree(state)
    k2 = kstreamd(topo, f"state.dir={state}")
    k2.wait_running()
    produce_all(bootstrap, src, orders(440, 80))
    assert outer.until(lambda rs: len(rs) >= 520, 60), len(outer.records)
    assert inner.until(lambda rs: len(rs) >= 390, 60), len(inner.records)
    assert k2.stop() == 0, k2.log()[-3000:]
    # The table's changelog is its source topic (reuse.ktable.source.topics): restored from there, up to the
    # offsets the group committed, and no `-customers-changelog` topic is made.
    restored = re.findall(r"restoring customers\[(\d)\] from " + re.escape(cust) + r" offset 0 to", k2.log())
    assert sorted(restored) == ["0", "1", "2"], k2.log()[-3000:]
    assert f"{app}-customers-changelog" not in admin.list_topics(timeout=10).topics

    def name_of(c):
        return f"name-{c}"

    def renamed(c):
        return "renamed-0" if c == 0 else f"name-{c}"

    want_inner = {**expect(0, 400, name_of, True), **expect(400, 120, renamed, True)}
    want_left = {**expect(0, 400, name_of, False), **expect(400, 120, renamed, False)}
    assert joined(inner.to_end()) == want_inner
    assert joined(outer.to_end()) == want_left
    inner.close()
    outer.close()


REKEYED = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
tables:
  customers: {{topic: {customers}}}
pipelines:
  shipments:
    from: {shipments}
    steps:
      - selectKey: .customer
      - leftJoin: {{table: customers, name: ship-join, value: '{{shipment: .id, customer: $right.name}}'}}
    to: {out}
"""


def test_a_rekeyed_stream_repartitions_with_its_tables_partition_count(bootstrap, topics, kstreamd, tmp_path, uid,
                                                                         admin):
    """The stream's topic has 6 partitions, the table's 3: the repartition topic in front of the join gets 3
    (Kafka Streams' co-partitioning), so every shipment meets its customer's partition of the table; an
    existing repartition topic with another count is refused, naming both topics and counts."""
    cust = topics.create("customer-rekey-v1", 3)
    ships = topics.create("shipment-rekey-v1", 6)
    out = topics.create("shipment-joined-v1", 3)
    app = f"it-join-rekey-{uid}"
    repartition = f"{app}-ship-join-repartition"
    for t in (repartition, f"{app}-customers-changelog", f"{app}-dlq"):
        topics.forget(t)
    topo = write_topology(tmp_path, "rekey.yaml", REKEYED.format(app=app, customers=cust, shipments=ships, out=out))
    produce_all(bootstrap, cust, customers((i, f"name-{i}") for i in range(KNOWN)))
    k = kstreamd(topo, f"state.dir={tmp_path}/state")
    k.wait_running()
    wait_consumed(bootstrap, app, cust)
    n = 300
    produce_all(bootstrap, ships, [(f"s-{i}".encode(), json.dumps({"id": f"s-{i}", "customer": f"c-{i % KNOWN}"})
                                    .encode(), None, None) for i in range(n)])
    r = Reader(bootstrap, out)
    assert r.until(lambda rs: len(rs) >= n, 60), len(r.records)
    assert k.stop() == 0, k.log()[-3000:]
    md = admin.list_topics(repartition, timeout=10)
    assert len(md.topics[repartition].partitions) == 3
    got = {json.loads(m.value())["shipment"]: (m.key().decode(), json.loads(m.value())["customer"])
           for m in r.to_end()}
    assert got == {f"s-{i}": (f"c-{i % KNOWN}", f"name-{i % KNOWN}") for i in range(n)}
    r.close()

    # A second application whose repartition topic already exists with the stream's 6 partitions.
    app2 = f"it-join-rekey2-{uid}"
    wrong = f"{app2}-ship-join-repartition"
    admin.create_topics([NewTopic(wrong, 6, 1)], operation_timeout=30)[wrong].result(timeout=30)
    for t in (wrong, f"{app2}-customers-changelog", f"{app2}-dlq"):
        topics.forget(t)
    topo2 = write_topology(tmp_path, "rekey2.yaml",
                           REKEYED.format(app=app2, customers=cust, shipments=ships, out=out))
    k2 = kstreamd(topo2, f"state.dir={tmp_path}/state2")
    assert k2.wait(30) != 0
    assert (f"topics `{app2}-ship-join-repartition` (6 partitions) and `{cust}` (3) are joined in one "
            f"sub-topology, so they must be co-partitioned") in k2.log(), k2.log()[-3000:]
