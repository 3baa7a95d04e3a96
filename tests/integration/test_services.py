"""Several services in one process (issue 11, items 2 and 12): each runs with its own `config:` (dead-letter
topic, errors.tolerance, commit interval), and one service that cannot start stops the whole process cleanly
(logged with its cause, the others stopped gracefully, exit code 1, never an abort)."""
import fcntl
import json
import os
import time

from confluent_kafka import Consumer, TopicPartition

from kit import Reader, produce_all, write_topology

TOPOLOGY = """\
application: {app}
config:
{config}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  orders:
    from: {src}
    steps:
      - mapValues: '. + {{total: (.qty * .price)}}'
    to: {out}
"""

COUNT = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
  {out}: {{value: long}}
pipelines:
  count:
    from: {src}
    steps:
      - groupByKey
      - count
      - toStream
    to: {out}
"""


def committed(bootstrap, group, topic, partitions=3):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return sum(tp.offset for tp in tps if tp.offset >= 0)
    finally:
        c.close()


def good(i):
    return (f"o-{i}".encode(), json.dumps({"orderId": f"o-{i}", "qty": 2, "price": i}).encode(), None, None)


def bad(i):
    return (f"bad-{i}".encode(), b'{"orderId": "bad-' + str(i).encode() + b'", "qty": ', None, None)  # not JSON


def test_each_service_runs_with_its_own_config(bootstrap, topics, kstreamd, tmp_path, uid):
    apps, srcs, outs, dlqs = {}, {}, {}, {}
    configs = {
        # The first service commits often and keeps going past bad records...
        "a": "  dlq.topic: {dlq}\n  errors.tolerance: all\n  commit.interval.ms: 200",
        # ... the second (given last) commits rarely and stops on one.
        "b": "  dlq.topic: {dlq}\n  errors.tolerance: none\n  commit.interval.ms: 600000",
    }
    files = []
    for name in ("a", "b"):
        apps[name] = f"it-services-{name}-{uid}"
        srcs[name] = topics.create(f"order-svc{name}-v1", 3)
        outs[name] = topics.create(f"order-svc{name}-total-v1", 3)
        dlqs[name] = topics.name(f"order-svc{name}-dead-v1")
        topics.forget(dlqs[name])
        files.append(str(write_topology(tmp_path, f"{name}.yaml", TOPOLOGY.format(
            app=apps[name], src=srcs[name], out=outs[name], config=configs[name].format(dlq=dlqs[name])))))
    produce_all(bootstrap, srcs["a"], [good(i) for i in range(50)])
    produce_all(bootstrap, srcs["b"], [good(i) for i in range(50)])
    k = kstreamd(files[0], "log.summary.interval.ms=0", f"state.dir={tmp_path}/state", extra_args=("-c", files[1]),
                 defaults=False)
    ra, rb = Reader(bootstrap, outs["a"]), Reader(bootstrap, outs["b"])
    assert ra.until(lambda rs: len(rs) >= 50, 40), f"{len(ra.records)} of 50 outputs of a:\n{k.log()[-3000:]}"
    assert rb.until(lambda rs: len(rs) >= 50, 20), f"{len(rb.records)} of 50 outputs of b"

    # commit.interval.ms: a commits within a second or two; b (600 s) has committed nothing yet.
    deadline = time.time() + 10
    while committed(bootstrap, apps["a"], srcs["a"]) < 50 and time.time() < deadline:
        time.sleep(0.3)
    assert committed(bootstrap, apps["a"], srcs["a"]) == 50, "a did not commit at its own commit.interval.ms (200)"
    assert committed(bootstrap, apps["b"], srcs["b"]) == 0, "b committed before its commit.interval.ms (600 s)"

    # A bad record of a goes to a's dead-letter topic, and a goes on (errors.tolerance all).
    produce_all(bootstrap, srcs["a"], [bad(1), good(50)])
    da = Reader(bootstrap, dlqs["a"])
    assert da.until(lambda rs: len(rs) >= 1, 20), "a's bad record is not in a's dead-letter topic"
    assert ra.until(lambda rs: len(rs) >= 51, 20), "a stopped after a dead letter"
    assert k.alive()

    # A bad record of b stops the process (errors.tolerance none), and nothing goes to b's dead-letter topic.
    produce_all(bootstrap, srcs["b"], [bad(2)])
    rc = k.wait(30)
    log = k.log()
    assert rc == 1, f"exit code {rc}:\n{log[-3000:]}"
    assert f"{apps['b']}[0]: errors.tolerance is none and a record failed" in log, log[-3000:]
    assert "stopped after a failure" in log, log[-3000:]
    da.poll(1)
    assert len(da.records) == 1, [m.key() for m in da.records]
    assert da.records[0].key() == b"bad-1"
    md = Consumer({"bootstrap.servers": bootstrap, "group.id": "x"}).list_topics(timeout=10)
    if dlqs["b"] in md.topics:
        db = Reader(bootstrap, dlqs["b"])
        db.poll(2)
        assert db.records == [], "b dead-lettered a record although its errors.tolerance is none"
        db.close()
    for r in (ra, rb, da):
        r.close()


def test_one_service_that_cannot_start_stops_the_process(bootstrap, topics, kstreamd, tmp_path, uid):
    app_c, app_s = f"it-nostart-count-{uid}", f"it-nostart-copy-{uid}"
    src_c, out_c = topics.create("order-nostart-v1", 3), topics.create("order-nostart-count-v1", 3)
    src_s, out_s = topics.create("order-nostart-copy-in-v1", 3), topics.create("order-nostart-copy-v1", 3)
    counting = write_topology(tmp_path, "count.yaml", COUNT.format(app=app_c, src=src_c, out=out_c))
    copy = write_topology(tmp_path, "copy.yaml", TOPOLOGY.format(app=app_s, src=src_s, out=out_s,
                                                                  config="  commit.interval.ms: 200"))
    # The counting service's state directory is locked, as by another kstreamd process running it.
    state = tmp_path / "state"
    os.makedirs(state / app_c)
    lock = open(state / app_c / "LOCK", "w")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    lock.write("4242\n")
    lock.flush()
    try:
        produce_all(bootstrap, src_s, [good(i) for i in range(20)])
        k = kstreamd(str(copy), f"state.dir={state}", extra_args=("-c", str(counting)))
        rc = k.wait(40)
        log = k.log()
        assert rc == 1, f"exit code {rc} (134 is libuv's abort):\n{log[-3000:]}"
        assert f"{app_c}[0]: cannot start: the state directory" in log and "in use by another kstreamd process (pid 4242)" in log, log
        assert "stopping every service" in log, log
        assert "stopped after a failure" in log, log
        assert "Assertion" not in log and "Aborted" not in log, log
    finally:
        lock.close()
