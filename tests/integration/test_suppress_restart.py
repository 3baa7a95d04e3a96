"""The suppression buffer across a restart, against the real broker: windows buffered by
`suppress: untilWindowCloses` before a graceful stop come out once, with their final counts, when
stream time closes them after the restart, whether the state directory is kept (the buffer is read
back from LMDB) or wiped (restored from the window store's and the buffer's changelogs)."""
import json
import re
import shutil
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from kit import Reader, produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
  {out}: {{key: json, value: long}}
pipelines:
  final-counts:
    from: {src}
    steps:
      - groupByKey
      - windowedBy: {{tumbling: 10s, grace: 0s}}
      - count: {{store: window-count}}
      - suppress: untilWindowCloses
      - toStream
    to: {out}
"""


def committed_total(bootstrap, group, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
        return sum(max(tp.offset, 0) for tp in tps)
    finally:
        c.close()


def outputs(records):
    return [(json.loads(m.key()), int.from_bytes(m.value(), "big", signed=True), m.timestamp()[1]) for m in records]


@pytest.mark.parametrize("wipe", [False, True], ids=["kept", "wiped"])
def test_buffered_windows_come_out_after_a_restart(bootstrap, topics, kstreamd, tmp_path, uid, wipe):
    name = "wiped" if wipe else "kept"
    src = topics.create(f"sup-in-{name}-v1", 3)
    out = topics.create(f"sup-out-{name}-v1", 3)
    app = f"it-suppress-{name}-{uid}"
    for t in (f"{app}-dlq", f"{app}-window-count-changelog"):
        topics.forget(t)
    topo = write_topology(tmp_path, f"{name}.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    state = tmp_path / "state"
    k1 = kstreamd(topo, f"state.dir={state}")
    k1.wait_running()
    produce_all(bootstrap, src, [(b"a", b"{}", 1000, None), (b"a", b"{}", 2000, None), (b"b", b"{}", 3000, None)])
    deadline = time.time() + 30
    while committed_total(bootstrap, app, src) < 3 and time.time() < deadline:
        time.sleep(0.2)
    assert committed_total(bootstrap, app, src) == 3, k1.log()[-2000:]
    assert k1.stop() == 0, k1.log()[-2000:]
    for t in re.findall(r"created topic (\S+-changelog)", k1.log()):
        topics.forget(t)
    reader = Reader(bootstrap, out)
    reader.poll(1)
    assert reader.records == [], "nothing is final before the windows close"
    if wipe:
        shutil.rmtree(state)

    k2 = kstreamd(topo, f"state.dir={state}")
    k2.wait_running()
    if wipe:
        k2.wait_log(r"restored KTABLE-SUPPRESS-STATE-STORE-\d+\[\d\]: \d+ records")
    # Stream time passes the windows' end in a's and b's partitions.
    produce_all(bootstrap, src, [(b"a", b"{}", 25000, None), (b"b", b"{}", 25000, None)])
    assert reader.until(lambda rs: len(rs) >= 2, timeout=60), k2.log()[-3000:]
    reader.poll(1.5)  # nothing more may follow: the new windows are still open
    got = sorted(outputs(reader.records), key=lambda o: o[0]["key"])
    assert got == [({"key": "a", "window": {"start": 0, "end": 10000}}, 2, 2000),
                   ({"key": "b", "window": {"start": 0, "end": 10000}}, 1, 3000)], (got, k2.log()[-3000:])
    assert k2.stop() == 0
    reader.close()


def end_total(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-ends", "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=10).topics[topic]
        return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in md.partitions)
    finally:
        c.close()


def test_many_buffered_keys_are_restored_from_the_buffers_changelog(bootstrap, topics, kstreamd, tmp_path, uid):
    """6,000 keys buffered between two commits: the buffer's changelog gets one record per key changed since
    the last commit (Kafka Streams' in-memory buffer logs its dirty keys at commit), not one per update, and
    so many changed keys are found by one pass over the buffer's store (more than 1,024 per partition). A
    restart on a wiped state directory restores all of them, and each window comes out once, final."""
    n = 6000
    src = topics.create("sup-in-many-v1", 3)
    out = topics.create("sup-out-many-v1", 3)
    app = f"it-suppress-many-{uid}"
    for t in (f"{app}-dlq", f"{app}-window-count-changelog"):
        topics.forget(t)
    topo = write_topology(tmp_path, "many.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    state = tmp_path / "state"
    k1 = kstreamd(topo, f"state.dir={state}", "commit.interval.ms=2000")
    k1.wait_running()
    keys = [f"k{i:05d}".encode() for i in range(n)]
    # two updates of each key, next to each other: a commit falls between them for a handful at most
    produce_all(bootstrap, src, [(k, b"{}", ts, None) for k in keys for ts in (1000, 2000)])
    deadline = time.time() + 60
    while committed_total(bootstrap, app, src) < 2 * n and time.time() < deadline:
        time.sleep(0.2)
    assert committed_total(bootstrap, app, src) == 2 * n, k1.log()[-2000:]
    assert k1.stop() == 0, k1.log()[-2000:]
    changelogs = re.findall(r"created topic (\S+-changelog)", k1.log())
    for t in changelogs:
        topics.forget(t)
    buffer_log = [t for t in changelogs if "SUPPRESS" in t]
    assert len(buffer_log) == 1, changelogs
    logged = end_total(bootstrap, buffer_log[0])
    # per update it would be 2n; a key split by a commit is logged twice
    assert n <= logged <= n + n // 4, logged
    shutil.rmtree(state)

    reader = Reader(bootstrap, out)
    k2 = kstreamd(topo, f"state.dir={state}")
    k2.wait_running()
    k2.wait_log(r"restored KTABLE-SUPPRESS-STATE-STORE-\d+\[\d\]: \d+ records")
    # stream time passes the windows' end in every partition
    placed = produce_all(bootstrap, src, [(f"z{i:02d}".encode(), b"{}", 25000, None) for i in range(30)])
    assert {p for p, _ in placed} == {0, 1, 2}
    assert reader.until(lambda rs: len(rs) >= n, timeout=90), k2.log()[-3000:]
    reader.poll(1.5)  # nothing more may follow: the z windows are still open
    got = outputs(reader.records)
    assert len(got) == n, (len(got), k2.log()[-3000:])
    want = {k.decode() for k in keys}
    assert {o[0]["key"] for o in got} == want
    assert all(o[0]["window"] == {"start": 0, "end": 10000} and o[1] == 2 and o[2] == 2000 for o in got), \
        [o for o in got if o[1] != 2][:5]
    assert k2.stop() == 0
    reader.close()
