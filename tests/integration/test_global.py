"""Global tables on the real broker: a products table on 3 partitions (`global: true`) and orders on 6
partitions joined with it by a key computed from the order (`join`/`leftJoin` with `globalTable:` and
`key:`). Products written before the service starts are in the table before the first order is
processed (the bootstrap reads every partition to its end first); a product written while it runs is
seen by the orders after it; two instances of the application each hold the whole table (each
bootstraps every partition) and split the orders; a restart reads only what its checkpoints lack."""
import json
import re
import time

from kit import Reader, produce_all, write_topology

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
tables:
  products: {{topic: {products}, global: true}}
pipelines:
  enrich:
    from: {orders}
    steps:
      - join: {{globalTable: products, key: .sku, value: '{{order: .id, product: $right.name}}'}}
    to: {out}
  enrich-left:
    from: {orders}
    steps:
      - leftJoin: {{globalTable: products, key: .sku, value: '{{order: .id, product: $right.name}}'}}
    to: {left}
"""

PRODUCTS = 2000  # p-0..p-1999 exist; orders also ask for p-2000..p-2199, which do not


def products(rng, name="name"):
    return [(f"p-{i}".encode(), json.dumps({"name": f"{name}-{i}"}).encode(), None, None) for i in rng]


def orders(start, n):
    """Order o-i asks for product p-(i*7 % 2200) and is keyed by its own id (not the product)."""
    return [(f"o-{i}".encode(), json.dumps({"id": f"o-{i}", "sku": f"p-{(i * 7) % 2200}"}).encode(), None, None)
            for i in range(start, start + n)]


def by_order(records):
    out = {}
    for m in records:
        v = json.loads(m.value())
        assert v["order"] not in out, f"order {v['order']} written twice"
        out[v["order"]] = v["product"]
    return out


def want(start, n, name_of, inner):
    w = {}
    for i in range(start, start + n):
        p = (i * 7) % 2200
        if p < PRODUCTS or not inner:
            w[f"o-{i}"] = name_of(p) if p < PRODUCTS else None
    return w


def bootstrapped(k):
    """The number of records the instance's bootstrap read (from its log line)."""
    m = re.findall(r"bootstrapped global tables: (\d+) records", k.log())
    if m:
        return int(m[-1])
    assert re.search(r"global tables up to date", k.log()), k.log()[-3000:]
    return 0


def test_global_table_bootstrap_updates_two_instances_and_restart(bootstrap, topics, kstreamd, tmp_path, uid):
    prod = topics.create("product-global-v1", 3)
    src = topics.create("order-global-v1", 6)
    out = topics.create("order-global-joined-v1", 3)
    left = topics.create("order-global-left-v1", 3)
    app = f"it-global-{uid}"
    topics.forget(f"{app}-dlq")
    topo = write_topology(tmp_path, "global.yaml", TOPOLOGY.format(app=app, products=prod, orders=src, out=out,
                                                                    left=left))
    # Every product is written before the service starts: the bootstrap must read them all first.
    produce_all(bootstrap, prod, products(range(PRODUCTS)))
    produce_all(bootstrap, src, orders(0, 600))
    k1 = kstreamd(topo, f"state.dir={tmp_path}/s1")
    inner, outer = Reader(bootstrap, out), Reader(bootstrap, left)
    assert outer.until(lambda rs: len(rs) >= 600, 60), len(outer.records)
    assert bootstrapped(k1) == PRODUCTS
    assert re.search(r"bootstrapping global tables products \(" + re.escape(prod) + r", 3 partitions\)", k1.log())

    # A second instance: it bootstraps the whole table too, and the two split the orders.
    k2 = kstreamd(topo, f"state.dir={tmp_path}/s2")
    k2.wait_log(r"assigned (\d+) partitions", 60)
    assert bootstrapped(k2) == PRODUCTS
    deadline = time.time() + 60
    while not (k1.current_assignment() and k2.current_assignment() and
               k1.current_assignment() + k2.current_assignment() == 6):
        assert time.time() < deadline, (k1.log()[-2000:], k2.log()[-2000:])
        time.sleep(0.2)
    # A product renamed while both run; the orders after it see the new name, on both instances.
    produce_all(bootstrap, prod, products(range(0, 2200, 7), "renamed"))
    time.sleep(1.5)
    produce_all(bootstrap, src, orders(600, 600))
    assert outer.until(lambda rs: len(rs) >= 1200, 60), len(outer.records)
    assert k2.stop() == 0, k2.log()[-3000:]
    assert k1.stop() == 0, k1.log()[-3000:]

    # A restart with the state kept reads only the records its checkpoints have not seen: the renames
    # were applied while it ran, so only the 5 written since it stopped.
    produce_all(bootstrap, prod, products(range(5)))
    k3 = kstreamd(topo, f"state.dir={tmp_path}/s1")
    k3.wait_running()
    assert bootstrapped(k3) == 5, k3.log()[-3000:]
    assert k3.stop() == 0, k3.log()[-3000:]

    def first(p):
        return f"name-{p}"

    def second(p):
        return f"renamed-{p}" if p % 7 == 0 else f"name-{p}"

    got_inner, got_left = by_order(inner.to_end()), by_order(outer.to_end())
    assert got_left == {**want(0, 600, first, False), **want(600, 600, second, False)}
    assert got_inner == {**want(0, 600, first, True), **want(600, 600, second, True)}
    inner.close()
    outer.close()
