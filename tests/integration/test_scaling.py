"""(5) Two instances of one application share a 3-partition input and together produce every output;
when one leaves (SIGTERM), the other takes all partitions over."""
import collections
import json
import re
import time

from kit import Reader, produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  orders:
    from: {src}
    steps:
      - peek: {{name: handled, action: '"handled \\($key) p\\($partition)"'}}
      - filter: '.status == "NEW"'
      - mapValues: '{{orderId, customerId, total: ([.items[] | .qty * .price] | add)}}'
    to: {out}
"""


def handled(k):
    """(key, partition) per record this instance processed, from its peek lines."""
    return re.findall(r"handled: \"handled (\S+) p(\d+)\"", k.log())


def wait_shared(a, b, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        x, y = a.current_assignment(), b.current_assignment()
        # eager rebalance: both have their final assignment once the two add up to 3 and neither is empty
        if x and y and x + y == 3:
            return x, y
        time.sleep(0.1)
    raise AssertionError(f"the two instances did not share the partitions within {timeout}s "
                         f"(assignments {a.current_assignment()}, {b.current_assignment()}):\n"
                         f"A:\n{a.log()[-1500:]}\nB:\n{b.log()[-1500:]}")


def orders(start, n):
    out = []
    for i in range(start, start + n):
        o = {"orderId": f"o-{i}", "customerId": f"c-{i % 113}", "status": "NEW" if i % 5 else "PAID",
             "items": [{"sku": f"SKU-{i % 7}", "qty": 1 + i % 3, "price": 2.5}]}
        out.append((o["orderId"].encode(), json.dumps(o).encode(), None, None))
    return out


def test_two_instances_share_partitions(bootstrap, topics, kstreamd, tmp_path, uid):
    src = topics.create("order-placed-v1", 3)
    out = topics.create("order-total-v1", 3)
    app = f"it-scale-{uid}"
    topics.forget(f"{app}-dlq")
    topo = write_topology(tmp_path, "scale.yaml", TOPOLOGY.format(app=app, src=src, out=out))
    a = kstreamd(topo, "session.timeout.ms=6000", "heartbeat.interval.ms=1000")
    a.wait_running()
    b = kstreamd(topo, "session.timeout.ms=6000", "heartbeat.interval.ms=1000")
    na, nb = wait_shared(a, b)

    first = orders(0, 3000)
    produce_all(bootstrap, src, first)
    want = {k.decode() for k, v, _, _ in first if json.loads(v)["status"] == "NEW"}
    reader = Reader(bootstrap, out)
    assert reader.until(lambda rs: {m.key().decode() for m in rs} >= want, timeout=40), \
        f"{len(want - {m.key().decode() for m in reader.records})} outputs missing"

    ha, hb = handled(a), handled(b)
    pa, pb = {int(p) for _, p in ha}, {int(p) for _, p in hb}
    print(f"\nA: {na} partitions, {len(ha)} records; B: {nb} partitions, {len(hb)} records")
    assert ha and hb, f"one instance processed nothing (A {len(ha)}, B {len(hb)})"
    assert not (pa & pb), f"both instances processed partitions {pa & pb}"
    assert len(pa) == na and len(pb) == nb
    got = collections.Counter(k for k, _ in ha + hb)
    assert set(got) == {k.decode() for k, _, _, _ in first} and all(c == 1 for c in got.values())

    # B leaves gracefully: A takes all three partitions and processes the next records.
    assert b.stop() == 0
    a.wait_log(r"assigned 3 partitions", timeout=30, count=2)
    second = orders(3000, 600)
    produce_all(bootstrap, src, second)
    want |= {k.decode() for k, v, _, _ in second if json.loads(v)["status"] == "NEW"}
    assert reader.until(lambda rs: {m.key().decode() for m in rs} >= want, timeout=30), \
        f"after B left, {len(want - {m.key().decode() for m in reader.records})} outputs missing"
    assert a.stop() == 0
    reader.to_end()
    keys = collections.Counter(m.key().decode() for m in reader.records)
    assert set(keys) == want
    assert sum(keys.values()) == len(want), f"{sum(keys.values()) - len(want)} duplicates across a graceful handover"
    reader.close()
