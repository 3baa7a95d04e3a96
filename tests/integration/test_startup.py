"""(6) A source topic that does not exist; (7) an unreachable bootstrap server: kstreamd exits non-zero
with a message that says what is wrong, within its startup timeout."""
import re
import time

from kit import write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  orders:
    from: {src}
    steps:
      - filter: '.status == "NEW"'
    to: {out}
"""


def test_missing_source_topic(bootstrap, topics, kstreamd, tmp_path, uid, admin):
    src = topics.name("order-missing-v1")          # never created
    out = topics.create("order-missing-out-v1", 1)
    app = f"it-missing-{uid}"
    topo = write_topology(tmp_path, "missing.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    t0 = time.time()
    k = kstreamd(topo, "startup.timeout.ms=10000")
    rc = k.wait(timeout=30)
    took = time.time() - t0
    log = k.log()
    assert rc != 0, f"exit code 0 without its source topic:\n{log}"
    assert src in log, f"the message does not name the topic {src}:\n{log}"
    line = next(l for l in log.splitlines() if src in l)
    assert "does not exist" in line and "error" in line, line
    # points at the topology file: file:line:col
    assert re.search(re.escape(str(topo)) + r":\d+:\d+", line), line
    assert took < 15, f"took {took:.1f}s"
    # nothing was created on its behalf (not the source, not the dead-letter topic)
    md = admin.list_topics(timeout=10)
    assert src not in md.topics
    assert f"{app}-dlq" not in md.topics


def test_unreachable_bootstrap(topics, kstreamd, tmp_path, uid):
    app = f"it-nobroker-{uid}"
    topo = write_topology(tmp_path, "nobroker.yaml",
                          TOPOLOGY.format(app=app, src="order-x-v1", out="order-y-v1"))
    t0 = time.time()
    k = kstreamd(topo, "startup.timeout.ms=3000", bootstrap_override="127.0.0.1:1")
    rc = k.wait(timeout=20)
    took = time.time() - t0
    log = k.log()
    assert rc != 0, f"exit code 0 without a broker:\n{log}"
    assert took < 15, f"took {took:.1f}s with startup.timeout.ms=3000"
    assert took >= 2.5, f"gave up after {took:.1f}s, before startup.timeout.ms=3000"
    errors = [l for l in log.splitlines() if "kstreamd error:" in l]
    assert errors, f"no error line:\n{log}"
    msg = errors[-1]
    assert "127.0.0.1:1" in msg and "startup.timeout.ms" in msg and "cannot reach Kafka" in msg, msg
