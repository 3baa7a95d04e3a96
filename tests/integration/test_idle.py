"""An idle service stays in its group: the driver polls the consumer even when no record arrives (librdkafka
counts max.poll.interval.ms from the last poll, and the consumer queue signals its fd only for messages)."""
import time

from kit import produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  p:
    from: {src}
    to: {out}
"""


def test_idle_service_keeps_its_group_membership(bootstrap, topics, kstreamd, tmp_path, uid):
    src = topics.create("idle-in-v1", 1)
    out = topics.create("idle-out-v1", 1)
    app = f"it-idle-{uid}"
    topics.forget(f"{app}-dlq")
    topo = write_topology(tmp_path, "idle.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    k = kstreamd(topo, "session.timeout.ms=6000", "heartbeat.interval.ms=1000", "max.poll.interval.ms=7000")
    k.wait_running()
    produce_all(bootstrap, src, [(b"k", b"{}", None, None)])
    time.sleep(16)  # more than twice max.poll.interval.ms with nothing to read
    log = k.log()
    assert "maximum poll interval" not in log, log[-2000:]
    assert log.count("assigned 1 partitions") == 1, log[-2000:]
    assert k.stop() == 0
