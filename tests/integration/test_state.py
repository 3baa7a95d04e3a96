"""State stores against the real broker: counts per customer (groupBy through a repartition topic, count in
LMDB with a compacted changelog) stay right across (a) SIGTERM and restart, (b) SIGKILL and restart (at-least-once:
the test computes the exact range each count may end in), (c) a wiped state directory (full restore from the
changelog), and (d) two instances with their own state directories, one killed and brought back."""
import collections
import json
import os
import re
import shutil
import signal
import time

from confluent_kafka import Consumer, TopicPartition

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
"""

CUSTOMERS = 40
FAST_FAILOVER = ("session.timeout.ms=6000", "heartbeat.interval.ms=1000")


def orders(start, n):
    return [(f"o-{i}".encode(), json.dumps({"orderId": f"o-{i}", "customer": f"c-{i % CUSTOMERS}"}).encode(),
             None, None) for i in range(start, start + n)]


def expected_counts(n):
    c = collections.Counter()
    for i in range(n):
        c[f"c-{i % CUSTOMERS}"] += 1
    return c


def latest(records):
    """The last count written per customer (per partition order: a customer lives in one partition)."""
    last = {}
    for m in records:
        last[m.key().decode()] = int.from_bytes(m.value(), "big", signed=True)
    return last


class App:
    def __init__(self, bootstrap, topics, tmp_path, uid, name):
        self.src = topics.create(f"order-{name}-v1", 3)
        self.out = topics.create(f"order-count-{name}-v1", 3)
        self.app = f"it-state-{name}-{uid}"
        self.repartition = f"{self.app}-order-count-repartition"
        self.changelog = f"{self.app}-order-count-changelog"
        for t in (f"{self.app}-dlq", self.repartition, self.changelog):
            topics.forget(t)
        self.topo = write_topology(tmp_path, f"{name}.yaml",
                                   TOPOLOGY.format(app=self.app, src=self.src, out=self.out))
        self.bootstrap = bootstrap

    def state_dir(self, tmp_path, n):
        return str(tmp_path / f"state-{n}")

    def committed(self, topic):
        """The application's committed offsets of a topic, per partition (-1001: none)."""
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.app, "enable.auto.commit": False})
        try:
            tps = c.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
            return {tp.partition: tp.offset for tp in tps}
        finally:
            c.close()


def wait_counts(reader, want, timeout=60):
    ok = reader.until(lambda rs: all(latest(rs).get(k) == v for k, v in want.items()), timeout=timeout)
    got = latest(reader.records)
    assert ok, f"counts not reached: " + str({k: (got.get(k), v) for k, v in want.items() if got.get(k) != v})


def test_counts_survive_sigterm_and_restart(bootstrap, topics, kstreamd, tmp_path, uid):
    a = App(bootstrap, topics, tmp_path, uid, "term")
    sd = f"state.dir={a.state_dir(tmp_path, 1)}"
    k1 = kstreamd(a.topo, sd)
    k1.wait_running()
    produce_all(bootstrap, a.src, orders(0, 2000))
    reader = Reader(bootstrap, a.out)
    wait_counts(reader, expected_counts(2000))
    assert k1.stop() == 0, k1.log()[-2000:]

    k2 = kstreamd(a.topo, sd, "log.level=debug")
    k2.wait_running()
    produce_all(bootstrap, a.src, orders(2000, 1000))
    wait_counts(reader, expected_counts(3000))
    assert k2.stop() == 0
    # A graceful stop checkpoints every store: the restart restores nothing.
    assert "is up to date" in k2.log()
    assert not re.search(r"restored order-count\[\d\]: [1-9]", k2.log()), k2.log()[-3000:]
    reader.to_end()
    assert latest(reader.records) == dict(expected_counts(3000))
    reader.close()


def test_counts_after_sigkill_and_restart_are_within_at_least_once_bounds(bootstrap, topics, kstreamd, tmp_path,
                                                                          uid):
    a = App(bootstrap, topics, tmp_path, uid, "kill")
    sd = f"state.dir={a.state_dir(tmp_path, 1)}"
    n1, n2 = 6000, 2000
    k1 = kstreamd(a.topo, sd, *FAST_FAILOVER)
    k1.wait_running()
    produce_all(bootstrap, a.src, orders(0, n1))
    reader = Reader(bootstrap, a.out)
    assert reader.until(lambda rs: sum(latest(rs).values()) >= n1 // 3, timeout=60)
    k1.kill()
    # Records of the repartition topic at or after the committed offsets may be counted twice: once by the killed
    # instance (if its changelog write was delivered) and once again after the restart.
    committed = a.committed(a.repartition)

    k2 = kstreamd(a.topo, sd, *FAST_FAILOVER)
    k2.wait_running()
    produce_all(bootstrap, a.src, orders(n1, n2))
    want = expected_counts(n1 + n2)
    rep = Reader(bootstrap, a.repartition)

    def settled(_):
        rep.poll(0.2)
        seen = collections.Counter(m.key().decode() for m in rep.records)
        return all(seen[c] >= v for c, v in want.items())

    assert reader.until(lambda rs: settled(rs) and all(latest(rs).get(c, 0) >= v for c, v in want.items()),
                        timeout=90), f"counts: {latest(reader.records)}"
    assert k2.stop() == 0
    reader.to_end()
    rep.to_end()
    # Every order reached the repartition topic (none lost); some may be there twice (re-processed source records).
    per_order = collections.Counter(json.loads(m.value())["orderId"] for m in rep.records)
    assert set(per_order) == {f"o-{i}" for i in range(n1 + n2)}
    total = collections.Counter(m.key().decode() for m in rep.records)
    maybe_twice = collections.Counter(m.key().decode() for m in rep.records
                                      if m.offset() >= max(committed.get(m.partition(), 0), 0))
    got = latest(reader.records)
    for c in want:
        assert total[c] <= got[c] <= total[c] + maybe_twice[c], (
            f"{c}: count {got[c]}, allowed {total[c]}..{total[c] + maybe_twice[c]} "
            f"({want[c]} orders, {total[c] - want[c]} re-sent to the repartition topic)")
    print(f"\nSIGKILL: {sum(got.values())} counted for {n1 + n2} orders "
          f"({sum(total.values()) - (n1 + n2)} re-sent, {sum(maybe_twice.values())} after the committed offsets)")
    reader.close()
    rep.close()


def test_wiped_state_directory_is_restored_from_the_changelog(bootstrap, topics, kstreamd, tmp_path, uid):
    a = App(bootstrap, topics, tmp_path, uid, "wipe")
    d = a.state_dir(tmp_path, 1)
    k1 = kstreamd(a.topo, f"state.dir={d}")
    k1.wait_running()
    produce_all(bootstrap, a.src, orders(0, 3000))
    reader = Reader(bootstrap, a.out)
    wait_counts(reader, expected_counts(3000))
    assert k1.stop() == 0
    shutil.rmtree(d)

    k2 = kstreamd(a.topo, f"state.dir={d}")
    k2.wait_running()
    k2.wait_log(r"restored order-count\[\d\]: \d+ records", count=3)
    restored = sum(int(x) for x in re.findall(r"restored order-count\[\d\]: (\d+) records", k2.log()))
    assert restored >= CUSTOMERS, k2.log()[-3000:]
    # One more order per customer: the count continues from the restored value.
    produce_all(bootstrap, a.src, orders(3000, CUSTOMERS))
    wait_counts(reader, expected_counts(3000 + CUSTOMERS))
    assert k2.stop() == 0
    assert os.path.exists(os.path.join(d, a.app, "data.mdb"))
    reader.close()


def test_two_instances_fail_over_and_come_back(bootstrap, topics, kstreamd, tmp_path, uid):
    a = App(bootstrap, topics, tmp_path, uid, "pair")
    sa, sb = f"state.dir={a.state_dir(tmp_path, 'a')}", f"state.dir={a.state_dir(tmp_path, 'b')}"
    # Static membership makes the range assignment deterministic: instance a gets the first partitions each time.
    ka = kstreamd(a.topo, sa, "group.instance.id=a", *FAST_FAILOVER)
    ka.wait_running()
    kb = kstreamd(a.topo, sb, "group.instance.id=b", *FAST_FAILOVER)
    kb.wait_running()
    deadline = time.time() + 40
    while time.time() < deadline and not (ka.current_assignment() and kb.current_assignment()
                                          and ka.current_assignment() + kb.current_assignment() == 6):
        time.sleep(0.1)
    assert ka.current_assignment() + kb.current_assignment() == 6, (ka.log()[-1500:], kb.log()[-1500:])
    reader = Reader(bootstrap, a.out)
    produce_all(bootstrap, a.src, orders(0, 3000))
    wait_counts(reader, expected_counts(3000))
    time.sleep(1.5)  # several commit intervals: everything processed is committed and checkpointed
    ka.kill()
    # B takes A's partitions over, restores their stores from the changelogs, and goes on counting.
    kb.wait_log(r"assigned 6 partitions", timeout=40)
    kb.wait_log(r"restored order-count\[\d\]: [1-9]\d* records", timeout=40)
    produce_all(bootstrap, a.src, orders(3000, 2000))
    wait_counts(reader, expected_counts(5000))
    time.sleep(1.5)
    # A comes back with its state directory: it restores only what B added since A's checkpoint.
    ka2 = kstreamd(a.topo, sa, "group.instance.id=a", *FAST_FAILOVER)
    ka2.wait_running(timeout=60)
    deadline = time.time() + 40
    while time.time() < deadline and not (ka2.current_assignment() and kb.current_assignment() != 6):
        time.sleep(0.1)
    ka2.wait_log(r"restored order-count\[\d\]: \d+ records", count=2, timeout=40)
    ranges = [(int(f), int(t)) for f, t in re.findall(r"restoring order-count\[\d\] from \S+ offset (\d+) to (\d+)",
                                                      ka2.log())]
    assert ranges and all(f > 0 for f, t in ranges), ka2.log()[-3000:]
    produce_all(bootstrap, a.src, orders(5000, 1000))
    wait_counts(reader, expected_counts(6000))
    assert ka2.stop() == 0
    assert kb.stop() == 0
    reader.close()
