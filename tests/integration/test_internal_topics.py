"""Internal topics as Kafka Streams configures them (issue 11, item 5), against the real broker.

- Repartition topics are created with Kafka Streams' RepartitionTopicConfig: cleanup.policy=delete,
  retention.ms=-1, segment.bytes=52428800. Changelogs are compacted (a window store's is compact,delete with
  retention = window size + grace + windowstore.changelog.additional.retention.ms, a day), with
  message.timestamp.type=CreateTime.
- Records of a repartition topic below the committed offset are deleted (DeleteRecords) every
  repartition.purge.interval.ms: the partitions' low watermarks reach the committed offsets; with a purge interval
  longer than the run nothing is deleted.
"""
import json
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import ConfigResource

from kit import Reader, produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
  {out}: {{value: long}}
pipelines:
  count:
    from: {src}
    steps:
      - groupBy: .customer
      - count: {{store: order-count}}
      - toStream
    to: {out}
  hourly:
    from: {src}
    steps:
      - groupBy: .customer
      - windowedBy: {{tumbling: 1h, grace: 10m}}
      - count: {{store: hourly-count}}
      - suppress: untilWindowCloses
  sliding:
    from: {src}
    steps:
      - groupByKey
      - windowedBy: {{sliding: 5m, grace: 1m}}
      - count: {{store: sliding-count}}
  sessions:
    from: {src}
    steps:
      - groupByKey
      - windowedBy: {{session: 30m, grace: 2m}}
      - count: {{store: session-count}}
"""

CUSTOMERS = 20


def orders(n):
    return [(f"o-{i}".encode(), json.dumps({"orderId": f"o-{i}", "customer": f"c-{i % CUSTOMERS}"}).encode(),
             None, None) for i in range(n)]


def topic_configs(admin, topic):
    fs = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)], request_timeout=15)
    (res, f), = fs.items()
    return {k: v.value for k, v in f.result(timeout=15).items()}


def committed(bootstrap, group, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def watermarks(bootstrap, topic, partitions):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-wm", "enable.auto.commit": False})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
    finally:
        c.close()


def setup_app(topics, tmp_path, uid, name):
    src = topics.create(f"order-{name}-v1", 3)
    out = topics.create(f"order-count-{name}-v1", 3)
    app = f"it-topics-{name}-{uid}"
    internal = {
        "count-repartition": f"{app}-order-count-repartition",
        "hourly-repartition": f"{app}-hourly-count-repartition",
        "count-changelog": f"{app}-order-count-changelog",
        "hourly-changelog": f"{app}-hourly-count-changelog",
        "sliding-changelog": f"{app}-sliding-count-changelog",
        "session-changelog": f"{app}-session-count-changelog",
    }
    for t in list(internal.values()) + [f"{app}-dlq"]:
        topics.forget(t)
    topo = write_topology(tmp_path, f"{name}.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    return src, out, app, internal, topo


def run_until_counted(bootstrap, kstreamd, topo, src, out, tmp_path, n, *settings):
    ks = kstreamd(topo, f"state.dir={tmp_path / 'state'}", *settings)
    ks.wait_running()
    produce_all(bootstrap, src, orders(n))
    r = Reader(bootstrap, out)
    # Every customer's last count is n / CUSTOMERS once all n orders went through the repartition topic.
    done = r.until(lambda rs: len({m.key() for m in rs if int.from_bytes(m.value(), "big") == n // CUSTOMERS})
                   == CUSTOMERS, 60)
    r.close()
    assert done, "the counts did not reach the number of orders:\n" + ks.log()[-3000:]
    return ks


def test_internal_topic_configs_and_purge(bootstrap, admin, topics, kstreamd, tmp_path, uid):
    src, out, app, internal, topo = setup_app(topics, tmp_path, uid, "purge")
    n = 600
    ks = run_until_counted(bootstrap, kstreamd, topo, src, out, tmp_path, n, "repartition.purge.interval.ms=1000")

    for key in ("count-repartition", "hourly-repartition"):
        c = topic_configs(admin, internal[key])
        assert (c["cleanup.policy"], c["retention.ms"], c["segment.bytes"]) == ("delete", "-1", "52428800"), \
            f"{internal[key]}: {c}"
    c = topic_configs(admin, internal["count-changelog"])
    assert (c["cleanup.policy"], c["message.timestamp.type"]) == ("compact", "CreateTime"), c
    c = topic_configs(admin, internal["hourly-changelog"])
    # 1 h window + 10 min grace + one day (windowstore.changelog.additional.retention.ms).
    assert (c["cleanup.policy"], c["retention.ms"], c["message.timestamp.type"]) == \
        ("compact,delete", str(3600000 + 600000 + 86400000), "CreateTime"), c
    # Sliding windows keep twice the time difference + grace (Kafka Streams' sliding window store); sessions
    # the gap + grace.
    c = topic_configs(admin, internal["sliding-changelog"])
    assert (c["cleanup.policy"], c["retention.ms"]) == ("compact,delete", str(2 * 300000 + 60000 + 86400000)), c
    c = topic_configs(admin, internal["session-changelog"])
    assert (c["cleanup.policy"], c["retention.ms"]) == ("compact,delete", str(1800000 + 120000 + 86400000)), c
    # A suppression buffer's changelog is not a window store's: compacted only.
    suppress = [t for t in admin.list_topics(timeout=10).topics
                if t.startswith(app + "-") and "SUPPRESS" in t and t.endswith("-changelog")]
    assert len(suppress) == 1, suppress
    topics.forget(suppress[0])
    c = topic_configs(admin, suppress[0])
    assert (c["cleanup.policy"], c["message.timestamp.type"]) == ("compact", "CreateTime"), c

    # Committed records of the repartition topics are deleted: low watermark = committed offset, for every
    # partition that had records.
    for key in ("count-repartition", "hourly-repartition"):
        topic = internal[key]
        deadline = time.time() + 30
        while True:
            com = committed(bootstrap, app, topic, range(3))
            wm = watermarks(bootstrap, topic, range(3))
            total = sum(hi for lo, hi in wm.values())
            purged = all(wm[p][0] == com[p] for p in range(3) if wm[p][1] > 0)
            if total == n and all(com[p] == wm[p][1] for p in range(3)) and purged:
                break
            if time.time() > deadline:
                raise AssertionError(f"{topic}: not purged up to the committed offsets: committed {com}, "
                                     f"watermarks {wm}\n" + ks.log()[-3000:])
            time.sleep(0.3)
    assert ks.stop() == 0


def test_no_purge_before_the_interval(bootstrap, admin, topics, kstreamd, tmp_path, uid):
    src, out, app, internal, topo = setup_app(topics, tmp_path, uid, "nopurge")
    n = 200
    ks = run_until_counted(bootstrap, kstreamd, topo, src, out, tmp_path, n, "repartition.purge.interval.ms=600000")
    time.sleep(3)  # many commits (every 200 ms), none an interval after the start
    topic = internal["count-repartition"]
    com = committed(bootstrap, app, topic, range(3))
    wm = watermarks(bootstrap, topic, range(3))
    assert sum(c for c in com.values() if c > 0) == n, com
    assert all(lo == 0 for lo, hi in wm.values()), f"{topic}: purged before repartition.purge.interval.ms: {wm}"
    assert ks.stop() == 0
