"""Stream-stream joins on the real broker: views and clicks on 3 partitions each (co-partitioned, keyed by
view), joined within a 1-hour window. Every click joins the view buffered for its key, whichever came first;
the joined output is exact. Then the service is killed (SIGKILL) with views buffered and not yet clicked, its
state directory wiped, and restarted: the buffers come back from their changelog topics, and a click for a
view buffered before the kill still joins it."""
import json
import re
import shutil
import time

from kit import Reader, java_partition, produce_all, write_topology
from test_join import wait_consumed

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  clicks:
    from: {clicks}
  views:
    from: {views}
    steps:
      - join: {{stream: clicks, window: 1h, value: '{{view: $left.id, click: $right.id}}'}}
    to: {out}
"""


def records(prefix, keys, t0):
    """One record per key: {id: <prefix>-<key>}, timestamped t0 + its index (ms)."""
    return [(k.encode(), json.dumps({"id": f"{prefix}-{k}"}).encode(), t0 + i, None) for i, k in enumerate(keys)]


def joined(msgs):
    out = {}
    for m in msgs:
        v = json.loads(m.value())
        assert v["click"] not in out, f"click {v['click']} joined twice"
        out[v["click"]] = (m.key().decode(), v["view"], m.partition())
    return out


def want(keys):
    return {f"click-{k}": (k, f"view-{k}", java_partition(k.encode(), 3)) for k in keys}


def test_stream_stream_join_restores_its_buffers_after_sigkill(bootstrap, topics, kstreamd, tmp_path, uid, admin):
    views = topics.create("view-ssj-v1", 3)
    clicks = topics.create("click-ssj-v1", 3)
    out = topics.create("view-click-ssj-v1", 3)
    app = f"it-join-stream-{uid}"
    this_store, other_store = "KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-JOINOTHER-0000000005-store"
    for t in (f"{app}-{this_store}-changelog", f"{app}-{other_store}-changelog", f"{app}-dlq"):
        topics.forget(t)
    topo = write_topology(tmp_path, "ssj.yaml", TOPOLOGY.format(app=app, views=views, clicks=clicks, out=out))
    state = tmp_path / "state"
    t0 = int(time.time() * 1000) - 60_000
    first = [f"v-{i}" for i in range(300)]
    late = [f"v-{i}" for i in range(300, 360)]  # views clicked only after the restart

    # The killed member leaves the group when its session times out: 6 s here.
    fast = ("session.timeout.ms=6000", "heartbeat.interval.ms=1000")
    k1 = kstreamd(topo, f"state.dir={state}", "commit.interval.ms=200", *fast)
    k1.wait_running()
    # Views first for the even keys, clicks first for the odd ones: both sides trigger.
    produce_all(bootstrap, views, records("view", first[0::2] + late, t0))
    produce_all(bootstrap, clicks, records("click", first, t0 + 1000))
    produce_all(bootstrap, views, records("view", first[1::2], t0 + 2000))
    r = Reader(bootstrap, out)
    assert r.until(lambda rs: len(rs) >= len(first), 60), len(r.records)
    # Everything read is committed, changelogs included, before the kill.
    wait_consumed(bootstrap, app, views)
    wait_consumed(bootstrap, app, clicks)
    k1.kill()

    # No local state at all: the buffers can only come from their changelogs.
    shutil.rmtree(state)
    k2 = kstreamd(topo, f"state.dir={state}", *fast)
    k2.wait_running(60)
    produce_all(bootstrap, clicks, records("click", late, t0 + 3000))
    assert r.until(lambda rs: len(rs) >= len(first) + len(late), 60), len(r.records)
    r.poll(1)
    assert k2.stop() == 0, k2.log()[-3000:]
    restored = re.findall(r"restoring " + re.escape(this_store) + r"\[(\d)\] from " +
                          re.escape(f"{app}-{this_store}-changelog") + r" offset 0 to \d+ \((\d+) records\)", k2.log())
    assert sorted(p for p, _ in restored) == ["0", "1", "2"], k2.log()[-3000:]
    # Each view was buffered once (a record each in the changelog) and all come back.
    assert sum(int(n) for _, n in restored) == len(first) + len(late), restored
    assert joined(r.to_end()) == want(first + late)
    r.close()


REKEYED = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  clicks:
    from: {clicks}
    steps:
      - selectKey: .view
  views:
    from: {views}
    steps:
      - leftJoin: {{stream: clicks, window: 1h, name: vc, value: '{{view: $left.id, click: $right.id}}'}}
    to: {out}
"""


def test_a_rekeyed_side_repartitions_with_the_other_sides_partition_count(bootstrap, topics, kstreamd, tmp_path, uid,
                                                                            admin):
    """Clicks on 6 partitions, keyed by click, re-keyed by view; views on 3: the right side's repartition topic
    (`<name>-right`) gets 3 partitions, as Kafka Streams co-partitions a join's sources, so every click meets
    its view's partition."""
    views = topics.create("view-ssj2-v1", 3)
    clicks = topics.create("click-ssj2-v1", 6)
    out = topics.create("view-click-ssj2-v1", 3)
    app = f"it-join-stream2-{uid}"
    repartition = f"{app}-vc-right-repartition"
    for t in (repartition, f"{app}-vc-this-join-store-changelog", f"{app}-vc-outer-other-join-store-changelog",
              f"{app}-vc-left-shared-join-store-changelog", f"{app}-dlq"):
        topics.forget(t)
    topo = write_topology(tmp_path, "ssj2.yaml", REKEYED.format(app=app, views=views, clicks=clicks, out=out))
    k = kstreamd(topo, f"state.dir={tmp_path}/state")
    k.wait_running()
    t0 = int(time.time() * 1000) - 60_000
    keys = [f"v-{i}" for i in range(200)]
    produce_all(bootstrap, views, records("view", keys, t0))
    produce_all(bootstrap, clicks, [(f"c-{i}".encode(), json.dumps({"id": f"click-v-{i}", "view": f"v-{i}"}).encode(),
                                     t0 + 1000 + i, None) for i in range(200)])
    r = Reader(bootstrap, out)
    assert r.until(lambda rs: len(rs) >= len(keys), 60), len(r.records)
    r.poll(1)
    assert k.stop() == 0, k.log()[-3000:]
    md = admin.list_topics(repartition, timeout=10)
    assert len(md.topics[repartition].partitions) == 3
    assert joined(r.to_end()) == want(keys)
    r.close()
