"""Foreign-key table-table joins on the real broker: an orders table on 3 partitions joined with a customers
table on 2 by each order's `customerId`, with `join` (unnamed) and `leftJoin` (named, with a store). The
internal topics are created with Kafka Streams' names: the subscription-registration topics with the
customers' 2 partitions, the subscription-response topics with the orders' 3, and the subscription stores'
changelogs. Every order meets its customer's row although the two tables are not co-partitioned; an update
of a customer re-emits its orders; a change of an order's foreign key to a customer that has no row deletes
the inner join's result and nulls the left join's; after a wiped state directory the subscription stores
are restored from their changelogs and a rename reaches exactly the orders that still reference the row; the
outputs are exact."""
import json
import shutil
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import ConfigResource

from kit import Reader, produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
tables:
  orders: {{topic: {orders}}}
  customers: {{topic: {customers}}}
pipelines:
  enrich:
    from: orders
    steps:
      - join: {{table: customers, foreignKey: .customerId, value: '{{order: .id, customer: $right.name}}'}}
      - toStream
    to: {out}
  enrich-left:
    from: orders
    steps:
      - leftJoin:
          table: customers
          foreignKey: .customerId
          name: customer-join
          store: enriched-orders
          value: '{{order: .id, customer: $right.name}}'
      - toStream
    to: {left}
"""

KNOWN, UNKNOWN, ORDERS = 30, 10, 400  # customers c-0..c-29 have a row; c-30..c-39 have none


def customers(names):
    return [(f"c-{i}".encode(), json.dumps({"name": name}).encode(), None, None) for i, name in names]


def order(i, customer):
    return (f"o-{i}".encode(), json.dumps({"id": f"o-{i}", "customerId": customer}).encode(), None, None)


def wait_consumed(bootstrap, app, topic, partitions, timeout=60):
    """Until the application has committed every record of topic: the table holds them."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": app, "enable.auto.commit": False})
    try:
        deadline = time.time() + timeout
        while True:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
            done = {tp.partition: tp.offset for tp in c.committed(tps, timeout=10)}
            if all(ends[p] == 0 or done[p] >= ends[p] for p in range(partitions)):
                return
            assert time.time() < deadline, f"{topic}: committed {done}, end {ends}"
            time.sleep(0.2)
    finally:
        c.close()


def topic_config(admin, topic):
    fs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)], request_timeout=15)
    (_, f), = fs.items()
    return {k: v.value for k, v in f.result(timeout=15).items()}


def by_key(reader):
    """{key: [value or None, ...]} of an output topic, each key's records in the order written."""
    out = {}
    for m in sorted(reader.to_end(), key=lambda m: (m.partition(), m.offset())):
        out.setdefault(m.key().decode(), []).append(None if m.value() is None else json.loads(m.value()))
    return out


def test_foreign_key_join_across_partition_counts(bootstrap, topics, kstreamd, tmp_path, uid, admin):
    orders_t = topics.create("order-fk-v1", 3)
    cust = topics.create("customer-fk-v1", 2)
    out = topics.create("order-fk-enriched-v1", 3)
    left = topics.create("order-fk-left-v1", 3)
    app = f"it-join-fk-{uid}"
    # Kafka Streams' names: the unnamed join's indices follow the two tables' four nodes.
    reg, resp = f"{app}-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004-topic", \
        f"{app}-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000012-topic"
    sub_log = f"{app}-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000008-changelog"
    named = [f"{app}-customer-join-subscription-registration-topic",
             f"{app}-customer-join-subscription-response-topic",
             f"{app}-customer-join-subscription-store-changelog", f"{app}-enriched-orders-changelog"]
    for t in [reg, resp, sub_log, f"{app}-dlq"] + named:
        topics.forget(t)
    topo = write_topology(tmp_path, "join_fk.yaml", TOPOLOGY.format(app=app, orders=orders_t, customers=cust,
                                                                     out=out, left=left))
    produce_all(bootstrap, cust, customers((i, f"name-{i}") for i in range(KNOWN)))
    k = kstreamd(topo, f"state.dir={tmp_path}/state")
    k.wait_running()
    wait_consumed(bootstrap, app, cust, 2)

    produce_all(bootstrap, orders_t, [order(i, f"c-{i % (KNOWN + UNKNOWN)}") for i in range(ORDERS)])
    inner, outer = Reader(bootstrap, out), Reader(bootstrap, left)
    n_inner = ORDERS * KNOWN // (KNOWN + UNKNOWN)
    assert outer.until(lambda rs: len(rs) >= ORDERS, 60), len(outer.records)
    assert inner.until(lambda rs: len(rs) >= n_inner, 60), len(inner.records)
    wait_consumed(bootstrap, app, orders_t, 3)

    # An update of a customer re-emits each of its orders (o-0, o-40, ... reference c-0).
    produce_all(bootstrap, cust, customers([(0, "renamed-0")]))
    per_customer = ORDERS // (KNOWN + UNKNOWN)
    assert outer.until(lambda rs: len(rs) >= ORDERS + per_customer, 60), len(outer.records)
    assert inner.until(lambda rs: len(rs) >= n_inner + per_customer, 60), len(inner.records)

    # o-1 moves from c-1 to c-35, which has no row: the inner join deletes it, the left join nulls it.
    produce_all(bootstrap, orders_t, [order(1, "c-35")])
    assert outer.until(lambda rs: len(rs) >= ORDERS + per_customer + 1, 60), len(outer.records)
    assert inner.until(lambda rs: len(rs) >= n_inner + per_customer + 1, 60), len(inner.records)
    time.sleep(1)
    assert k.stop() == 0, k.log()[-3000:]

    # A wiped state directory: the subscription stores come back from their changelogs, so a rename of c-1
    # reaches the 9 orders that still reference it (o-41, o-81, ...), not o-1.
    shutil.rmtree(tmp_path / "state")
    k2 = kstreamd(topo, f"state.dir={tmp_path}/state")
    k2.wait_running()
    produce_all(bootstrap, cust, customers([(1, "renamed-1")]))
    assert outer.until(lambda rs: len(rs) >= ORDERS + 2 * per_customer, 60), len(outer.records)
    assert inner.until(lambda rs: len(rs) >= n_inner + 2 * per_customer, 60), len(inner.records)
    time.sleep(1)
    assert k2.stop() == 0, k2.log()[-3000:]
    assert f"restoring KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000008[0] from {sub_log}" in k2.log(), \
        k2.log()[-3000:]

    md = admin.list_topics(timeout=10).topics
    assert {t: len(md[t].partitions) for t in (reg, named[0])} == {reg: 2, named[0]: 2}
    assert {t: len(md[t].partitions) for t in (resp, named[1])} == {resp: 3, named[1]: 3}
    assert sub_log in md and named[2] in md and named[3] in md
    # The two topics are repartition topics to Kafka Streams (RepartitionTopicConfig), the store's a changelog.
    for t in (reg, resp):
        conf = topic_config(admin, t)
        assert (conf["cleanup.policy"], conf["retention.ms"]) == ("delete", "-1"), (t, conf)
    assert topic_config(admin, sub_log)["cleanup.policy"] == "compact"

    def name(c):
        return "renamed-0" if c == 0 else f"name-{c}"

    want_inner, want_left = {}, {}
    for i in range(ORDERS):
        c, key = i % (KNOWN + UNKNOWN), f"o-{i}"
        if c < KNOWN:
            want_inner[key] = [{"order": key, "customer": f"name-{c}"}]
        want_left[key] = [{"order": key, "customer": f"name-{c}" if c < KNOWN else None}]
        if c in (0, 1) and key != "o-1":
            want_inner[key].append({"order": key, "customer": f"renamed-{c}"})
            want_left[key].append({"order": key, "customer": f"renamed-{c}"})
    want_inner["o-1"].append(None)
    want_left["o-1"].append({"order": "o-1", "customer": None})
    assert by_key(inner) == want_inner
    assert by_key(outer) == want_left
    inner.close()
    outer.close()
