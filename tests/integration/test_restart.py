"""(3) SIGTERM mid-stream, then restart; (4) SIGKILL mid-stream, then restart; (8) SIGTERM: exit 0,
"stopped", offsets committed. At-least-once: every input's output is there after the restart."""
import collections
import json
import re
import signal
import threading
import time

from confluent_kafka import Consumer, TopicPartition

from kit import Reader, produce_all, producer, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  events:
    from: {src}
    steps:
      - mapValues: {{name: stamp, mapper: '. + {{seen: true, from: "\\($partition)/\\($offset)"}}'}}
    to: {out}
"""

FAST_FAILOVER = ("session.timeout.ms=6000", "heartbeat.interval.ms=1000")


class SteadyProducer(threading.Thread):
    """Produces n records keyed e-0..e-(n-1) at about `rate` records/s."""

    def __init__(self, bootstrap, topic, n, rate):
        super().__init__(daemon=True)
        self.p = producer(bootstrap)
        self.topic, self.n, self.rate = topic, n, rate
        self.sent = 0
        self.error = None

    def run(self):
        try:
            t0 = time.time()
            chunk = max(1, self.rate // 50)
            while self.sent < self.n:
                for _ in range(min(chunk, self.n - self.sent)):
                    i = self.sent
                    v = json.dumps({"eventId": f"e-{i}", "seq": i, "kind": "page-view", "path": f"/product/{i % 97}"})
                    while True:
                        try:
                            self.p.produce(self.topic, key=f"e-{i}", value=v)
                            break
                        except BufferError:
                            self.p.poll(0.05)
                    self.sent += 1
                self.p.poll(0)
                ahead = self.sent / self.rate - (time.time() - t0)
                if ahead > 0:
                    time.sleep(ahead)
            assert self.p.flush(30) == 0
        except Exception as e:   # reported by the test
            self.error = e


def keys_of(records):
    return collections.Counter(m.key().decode() for m in records)


def run_interrupted(bootstrap, topics, kstreamd, tmp_path, uid, sig, settings=()):
    src = topics.create("web-pageview-v1", 3)
    out = topics.create("web-pageview-seen-v1", 3)
    app = f"it-restart-{uid}"
    topics.forget(f"{app}-dlq")
    topo = write_topology(tmp_path, "restart.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    n, rate = 24000, 6000

    a = kstreamd(topo, *settings)
    a.wait_running()
    prod = SteadyProducer(bootstrap, src, n, rate)
    prod.start()
    reader = Reader(bootstrap, out)
    assert reader.until(lambda rs: len(rs) >= 2000, timeout=30), "the first instance produced nothing"
    sent_at_stop = prod.sent
    t_stop = time.time()
    if sig == signal.SIGTERM:
        assert a.stop(timeout=30) == 0, a.log()[-2000:]
    else:
        a.kill()
    stop_secs = time.time() - t_stop
    assert sent_at_stop < n, "not mid-stream: all input was already produced when the instance was stopped"

    b = kstreamd(topo, *settings)
    prod.join(timeout=30)
    assert prod.error is None, prod.error
    assert prod.sent == n
    expected = {f"e-{i}" for i in range(n)}
    ok = reader.until(lambda rs: len(rs) >= n and set(keys_of(rs)) >= expected, timeout=45)
    got = keys_of(reader.records)
    assert ok, (f"after the restart, {len(expected - set(got))} of {n} inputs have no output "
                f"(e.g. {sorted(expected - set(got))[:5]})")
    assert b.stop() == 0
    reader.to_end()
    got = keys_of(reader.records)
    assert set(got) == expected, f"unexpected keys: {sorted(set(got) - expected)[:5]}"
    dups = sum(c - 1 for c in got.values())
    print(f"\n{signal.Signals(sig).name}: {n} inputs, {len(reader.records)} outputs, {dups} duplicates "
          f"(stop took {stop_secs:.1f}s; {sent_at_stop} inputs sent before the stop)")
    reader.close()
    return dups, a, b


def test_sigterm_mid_stream_then_restart(bootstrap, topics, kstreamd, tmp_path, uid):
    dups, a, b = run_interrupted(bootstrap, topics, kstreamd, tmp_path, uid, signal.SIGTERM)
    # A graceful stop flushes and commits everything it processed: nothing is processed twice.
    assert dups == 0, f"{dups} outputs duplicated after a graceful stop"
    assert re.search(r"stopped\s*$", a.log(), re.M)


def test_sigkill_mid_stream_then_restart(bootstrap, topics, kstreamd, tmp_path, uid):
    # The killed member stays in the group until its session times out (6 s here).
    dups, a, b = run_interrupted(bootstrap, topics, kstreamd, tmp_path, uid, signal.SIGKILL, FAST_FAILOVER)
    assert a.proc.returncode == -signal.SIGKILL
    # at-least-once: what was processed after the last commit (commit.interval.ms=200) is processed again
    assert dups <= 12000, f"{dups} duplicates: far more than one commit interval's worth"


def test_sigterm_exit_code_and_commit(bootstrap, topics, kstreamd, tmp_path, uid):
    src = topics.create("web-click-v1", 3)
    out = topics.create("web-click-seen-v1", 3)
    app = f"it-stop-{uid}"
    topics.forget(f"{app}-dlq")
    topo = write_topology(tmp_path, "stop.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    where = produce_all(bootstrap, src, [(f"c-{i}".encode(), json.dumps({"n": i}).encode(), None, None)
                                         for i in range(300)])
    # a long commit interval: what is committed at exit is committed by the graceful stop itself
    k = kstreamd(topo, "commit.interval.ms=600000")
    reader = Reader(bootstrap, out)
    assert reader.until(lambda rs: len(rs) >= 300, timeout=30)
    t0 = time.time()
    k.signal(signal.SIGTERM)
    rc = k.wait(timeout=30)
    assert rc == 0, f"exit code {rc} after SIGTERM:\n{k.log()[-2000:]}"
    assert time.time() - t0 < 10, "the graceful stop took more than 10 s"
    log = k.log()
    assert re.search(r"kstreamd info: stopped\s*$", log, re.M), log[-2000:]
    assert "Terminated: stopping" in log
    # committed offsets = end of every input partition
    ends = collections.Counter()
    for part, off in where:
        ends[part] = max(ends[part], off + 1)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": app, "enable.auto.commit": False})
    committed = c.committed([TopicPartition(src, p) for p in range(3)], timeout=10)
    c.close()
    got = {tp.partition: tp.offset for tp in committed}
    assert got == {p: ends.get(p, -1001) for p in range(3)}, f"committed {got}, end offsets {dict(ends)}"
    reader.close()
