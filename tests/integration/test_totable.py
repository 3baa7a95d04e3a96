"""toTable after a key change, on the real broker: the stream goes through the repartition topic
`<application>-KSTREAM-TOTABLE-0000000002-repartition` (Kafka Streams' name), so one key read from two
partitions of the source ends up in one partition of the table's changelog; a toTable without a store runs
without any state."""
import json

from confluent_kafka import Producer

from kit import Reader, java_partition, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  latest:
    from: {src}
    steps:
      - selectKey: .customer
      - toTable: {table}
      - toStream
    to: {out}
"""


def produce_to(bootstrap, topic, records):
    """records: (partition, key, value dict); each to the partition given."""
    p = Producer({"bootstrap.servers": bootstrap})
    for part, key, value in records:
        p.produce(topic, key=key.encode(), value=json.dumps(value).encode(), partition=part)
    assert p.flush(30) == 0


def run(bootstrap, topics, kstreamd, tmp_path, uid, name, table):
    src = topics.create(f"quote-{name}-v1", 3)
    out = topics.create(f"latest-quote-{name}-v1", 3)
    app = f"it-totable-{name}-{uid}"
    repartition = f"{app}-KSTREAM-TOTABLE-0000000002-repartition"
    for t in (repartition, f"{app}-latest-quotes-changelog", f"{app}-dlq"):
        topics.forget(t)
    topo = write_topology(tmp_path, f"{name}.yaml", TOPOLOGY.format(app=app, src=src, out=out, table=table))
    k = kstreamd(topo, f"state.dir={tmp_path}/state", "cache.max.bytes=0")  # every update, not one per commit
    k.wait_running()
    produce_to(bootstrap, src, [(0, "q1", {"customer": "c-1", "n": 1}), (2, "q2", {"customer": "c-1", "n": 2})])
    outs = Reader(bootstrap, out)
    assert outs.until(lambda rs: len(rs) >= 2, 30), outs.records
    rep = Reader(bootstrap, repartition).to_end()
    want = java_partition(b"c-1", 3)
    assert sorted((m.partition(), m.key()) for m in rep) == [(want, b"c-1"), (want, b"c-1")]
    assert sorted(json.loads(m.value())["n"] for m in outs.records) == [1, 2]
    assert {m.partition() for m in outs.records} == {want}
    assert k.stop() == 0
    return app, k


def test_totable_after_selectkey_repartitions_so_a_key_is_one_row(bootstrap, topics, kstreamd, tmp_path, uid):
    app, k = run(bootstrap, topics, kstreamd, tmp_path, uid, "store", "{store: latest-quotes}")
    changelog = Reader(bootstrap, f"{app}-latest-quotes-changelog").to_end()
    assert len(changelog) == 2
    assert {m.partition() for m in changelog} == {java_partition(b"c-1", 3)}


def test_totable_without_a_store_needs_no_state(bootstrap, topics, kstreamd, tmp_path, uid):
    app, k = run(bootstrap, topics, kstreamd, tmp_path, uid, "nostore", "{}")
    assert not (tmp_path / "state" / app).exists(), "a service with no store opened a state directory"
