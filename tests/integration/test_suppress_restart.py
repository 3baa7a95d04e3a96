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
