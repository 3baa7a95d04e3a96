"""Where an assigned partition starts: its committed offset when the group has one, else where
auto.offset.reset says (earliest by default, as in Kafka Streams). kstreamd reads the group's offsets
itself in the rebalance and assigns explicit offsets (src/kafka/consume.c, resolve_start_offsets), so these
pin that a committed offset is honoured next to partitions that have none, for both reset policies."""
import json
import time

from confluent_kafka import Consumer, TopicPartition

from kit import Reader, produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  pipe:
    from: {src}
    steps:
      - mapValues: {{name: stamp, mapper: '. + {{from: "\\($partition)/\\($offset)"}}'}}
    to: {out}
"""


def commit_offsets(bootstrap, group, offsets):
    """Commits {(topic, partition): offset} for `group` without joining it."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
    c.close()


def records(n, base=0):
    return [(f"k-{i}".encode(), json.dumps({"i": i}).encode(), None, None) for i in range(base, base + n)]


def origins(reader):
    """The (partition, offset) of the input each output record came from."""
    out = set()
    for m in reader.records:
        p, o = json.loads(m.value())["from"].split("/")
        out.add((int(p), int(o)))
    return out


def expect_exactly(bootstrap, out, k, want):
    """The service's output comes from exactly the inputs `want` ((partition, offset)), then it stops."""
    r = Reader(bootstrap, out)
    assert r.until(lambda _: origins(r) >= want, 60), f"missing {sorted(want - origins(r))[:10]}\n{k.log()}"
    r.poll(1.0)   # anything from before a partition's start would have come out by now
    got = origins(r)
    assert got == want, f"read inputs it should have skipped: {sorted(got - want)[:10]}"
    k.stop()
    r.close()


def setup(bootstrap, topics, tmp_path, uid, name):
    src = topics.create(f"start-in-{name}", 3)
    out = topics.create(f"start-out-{name}", 3)
    app = f"it-start-{name}-{uid}"
    topo = write_topology(tmp_path, f"{name}.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    where = produce_all(bootstrap, src, records(300))
    return src, out, app, topo, where


def test_committed_offset_beside_earliest(bootstrap, topics, kstreamd, tmp_path, uid):
    src, out, app, topo, where = setup(bootstrap, topics, tmp_path, uid, "earliest")
    counts = {p: sum(1 for q, _ in where if q == p) for p in range(3)}
    assert all(counts[p] > 20 for p in range(3)), counts
    # partition 0 committed part-way; 1 and 2 have no committed offset
    commit_offsets(bootstrap, app, {(src, 0): 10})
    k = kstreamd(topo)
    expect_exactly(bootstrap, out, k, {(p, o) for p, o in where if p != 0 or o >= 10})


def test_committed_offset_beside_latest(bootstrap, topics, kstreamd, tmp_path, uid):
    src, out, app, topo, where = setup(bootstrap, topics, tmp_path, uid, "latest")
    commit_offsets(bootstrap, app, {(src, 0): 10})
    k = kstreamd(topo, "auto.offset.reset=latest")
    assert k.wait_log("assigned 3 partitions", 30), k.log()
    # the consumer may still be resetting partitions 1 and 2 to their ends: what they get from now on is new
    time.sleep(1.0)
    later = produce_all(bootstrap, src, records(60, base=300))
    expect_exactly(bootstrap, out, k, {(p, o) for p, o in where if p == 0 and o >= 10} | set(later))
