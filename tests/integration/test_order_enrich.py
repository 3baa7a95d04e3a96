"""OrderEnrichService (topologies/order_enrich.yaml) on the real broker, the file itself with its topics renamed
per test: orders re-keyed by customer through a repartition topic and joined with the customers table, each item
given its product from the global catalogue table (lookup) and, in order-items, through a stream-global-table join;
customer profiles as the table-table join of the customers and order-counts tables, materialised in the
customer-profiles store with its changelog.

The outputs are checked record for record against what the inputs make. The service is then killed (SIGKILL) and
restarted on the same state directory, and finally restarted on a wiped one: the customers table comes back from
its source topic, the profiles store from its changelog, the global table from its topic, and the profiles updated
after each restart carry the customer's row and the new count (a profile is a join of two tables: it is right only if
both sides came back)."""
import json
import os
import re
import shutil
import struct

from kit import REPO, Reader, produce_all, write_topology

TOPICS = ["order-new-v1", "crm-customer-v1", "customer-order-count-v1", "catalog-product-v1", "order-enriched-v1",
          "order-item-enriched-v1", "customer-profile-v1"]
PRODUCTS = {f"SKU-{1001 + i}": {"sku": f"SKU-{1001 + i}", "name": f"product {i}", "price": 10 + i,
                                "category": "cat-%d" % (i % 3)} for i in range(10)}
FAST_FAILOVER = ("session.timeout.ms=6000", "heartbeat.interval.ms=1000")  # a killed member leaves in 6 s
NCUST = 20  # c-1001 .. c-1020 are in the CRM; orders also name c-1021 .. c-1025, which are not


def service(tmp_path, topics, app):
    """topologies/order_enrich.yaml with this test's application id and topic names."""
    with open(os.path.join(REPO, "topologies", "order_enrich.yaml")) as f:
        text = f.read()
    names = {t: topics.name(t) for t in TOPICS}
    for t in sorted(TOPICS, key=len, reverse=True):
        text = re.sub(r"(?<![\w-])" + re.escape(t) + r"(?![\w-])", names[t], text)
    text = text.replace("application: order-enrich-service", f"application: {app}")
    return write_topology(tmp_path, "order_enrich.yaml", text), names


def customer(i):
    cid = f"c-{1001 + i}"
    return {"customerId": cid, "name": f"name-{i}", "email": f"n{i}@example.com",
            "segment": "vip" if i % 4 == 1 else "standard"}


def order(n):
    cid = f"c-{1001 + n % (NCUST + 5)}"
    items = [{"sku": f"SKU-{1001 + (n + j) % 11}", "qty": j + 1} for j in range(n % 3 + 1)]  # SKU-1011: unknown
    return {"orderId": f"o-{n:06d}", "customerId": cid, "status": "NEW", "items": items}


def enriched_with(o, c, products):
    """The order as OrderEnrichService writes it, with customer row c (None: none) and the catalogue products."""
    items = []
    for it in o["items"]:
        p = products.get(it["sku"])
        items.append({**it, "product": None if p is None else
                      {"name": p["name"], "category": p["category"], "listPrice": p["price"]}})
    return {**o, "items": items,
            "customer": None if c is None else {"name": c["name"], "email": c["email"], "segment": c["segment"]}}


def enriched(o):
    i = int(o["customerId"][2:]) - 1001
    return enriched_with(o, customer(i) if i < NCUST else None, PRODUCTS)


def order_items(o):
    out = []
    for line, it in enumerate(o["items"], 1):
        p = PRODUCTS.get(it["sku"])
        out.append({**it, "orderId": o["orderId"], "line": line, "category": p and p["category"],
                    "listPrice": p and p["price"]})
    return out


def profile(i, count):
    c = customer(i)
    return {"customerId": c["customerId"], "name": c["name"], "email": c["email"], "segment": c["segment"],
            "orders": count}


def produce_orders(bootstrap, topic, start, n):
    produce_all(bootstrap, topic, [(f"o-{k:06d}".encode(), json.dumps(order(k)).encode(), None, None)
                                   for k in range(start, start + n)])


def produce_counts(bootstrap, topic, counts):
    produce_all(bootstrap, topic, [(f"c-{1001 + i}".encode(), struct.pack(">q", c), None, None)
                                   for i, c in counts.items()])


def by_key_last(records):
    last = {}
    for m in records:
        last[m.key().decode()] = None if m.value() is None else json.loads(m.value())
    return last


def check_orders(records, upto):
    """Every order 0..upto-1 enriched exactly once in content (at least once in delivery), keyed by order id."""
    got = {}
    for m in records:
        v = json.loads(m.value())
        assert m.key().decode() == v["orderId"]
        assert got.setdefault(v["orderId"], v) == v, f"{v['orderId']} written twice, differently"
    assert set(got) == {f"o-{k:06d}" for k in range(upto)}
    for k in range(upto):
        assert got[f"o-{k:06d}"] == enriched(order(k)), k


def test_order_enrich_end_to_end_kill_and_restore(bootstrap, topics, kstreamd, tmp_path, uid, admin):
    for t in TOPICS:
        topics.create(t, 1 if t == "catalog-product-v1" else 3)
    app = f"it-enrich-{uid}"
    for t in (f"{app}-order-customer-repartition", f"{app}-customer-profiles-changelog", f"{app}-dlq"):
        topics.forget(t)
    topo, n = service(tmp_path, topics, app)
    state = tmp_path / "state"
    produce_all(bootstrap, n["catalog-product-v1"],
                [(k.encode(), json.dumps(v).encode(), None, None) for k, v in PRODUCTS.items()])
    produce_all(bootstrap, n["crm-customer-v1"],
                [(f"c-{1001 + i}".encode(), json.dumps(customer(i)).encode(), None, None) for i in range(NCUST)])
    produce_counts(bootstrap, n["customer-order-count-v1"], {i: 1 for i in range(0, NCUST, 2)})

    k1 = kstreamd(topo, f"state.dir={state}", *FAST_FAILOVER)
    k1.wait_running()
    k1.wait_log(r"bootstrapped global tables: 10 records|global tables up to date", 30)
    produce_orders(bootstrap, n["order-new-v1"], 0, 300)
    out, items, profiles = (Reader(bootstrap, n[t]) for t in ("order-enriched-v1", "order-item-enriched-v1",
                                                               "customer-profile-v1"))
    assert out.until(lambda rs: len(rs) >= 300, 90), len(out.records)
    check_orders(out.records, 300)
    want_items = [it for k in range(300) for it in order_items(order(k))]
    assert items.until(lambda rs: len(rs) >= len(want_items), 60), len(items.records)
    got_items = sorted((json.loads(m.value()) for m in items.records), key=lambda v: (v["orderId"], v["line"]))
    assert got_items == want_items
    assert all(m.key().decode() == json.loads(m.value())["orderId"] for m in items.records)
    want = {f"c-{1001 + i}": profile(i, 1 if i % 2 == 0 else 0) for i in range(NCUST)}
    assert profiles.until(lambda rs: by_key_last(rs) == want, 60), by_key_last(profiles.records)

    # SIGKILL, whatever was committed: at-least-once, so outputs may repeat, never change.
    k1.kill()
    produce_counts(bootstrap, n["customer-order-count-v1"], {i: 2 for i in range(0, NCUST, 3)})
    k2 = kstreamd(topo, f"state.dir={state}", *FAST_FAILOVER)
    k2.wait_running()
    produce_orders(bootstrap, n["order-new-v1"], 300, 60)
    for i in range(0, NCUST, 3):
        want[f"c-{1001 + i}"] = profile(i, 2)
    assert profiles.until(lambda rs: by_key_last(rs) == want, 90), by_key_last(profiles.records)
    assert out.until(lambda rs: len({m.key() for m in rs}) >= 360, 90), len(out.records)
    check_orders(out.records, 360)
    assert k2.stop() == 0, k2.log()[-3000:]

    # A wiped state directory: every table is restored before the first record is processed.
    shutil.rmtree(state)
    k3 = kstreamd(topo, f"state.dir={state}", *FAST_FAILOVER)
    k3.wait_running()
    produce_counts(bootstrap, n["customer-order-count-v1"], {i: 3 for i in range(1, NCUST, 5)})
    produce_orders(bootstrap, n["order-new-v1"], 360, 40)
    for i in range(1, NCUST, 5):
        want[f"c-{1001 + i}"] = profile(i, 3)
    assert profiles.until(lambda rs: by_key_last(rs) == want, 90), by_key_last(profiles.records)
    assert out.until(lambda rs: len({m.key() for m in rs}) >= 400, 90), len(out.records)
    check_orders(out.records, 400)
    assert k3.stop() == 0, k3.log()[-3000:]
    log = k3.log()
    cust = n["crm-customer-v1"]
    assert sorted(re.findall(r"restoring customers\[(\d)\] from " + re.escape(cust) + " offset 0 to", log)) == \
        ["0", "1", "2"], log[-3000:]
    assert sorted(re.findall(r"restoring customer-profiles\[(\d)\] from " + re.escape(app)
                             + "-customer-profiles-changelog offset 0 to", log)) == ["0", "1", "2"], log[-3000:]
    assert re.search(r"bootstrapped global tables: 10 records", log), log[-3000:]
    # Only the profiles store has a changelog topic: the tables use their source topics.
    internal = {t for t in admin.list_topics(timeout=10).topics if t.startswith(app + "-")}
    assert internal == {f"{app}-order-customer-repartition", f"{app}-customer-profiles-changelog", f"{app}-dlq"}, \
        internal
    for r in (out, items, profiles):
        r.close()


def test_order_enrich_refuses_tables_that_are_not_co_partitioned(bootstrap, topics, kstreamd, tmp_path, uid):
    """The customers and order-counts tables are joined: their topics must have one partition count."""
    for t in TOPICS:
        topics.create(t, 2 if t == "customer-order-count-v1" else 1 if t == "catalog-product-v1" else 3)
    app = f"it-enrich-copart-{uid}"
    for t in (f"{app}-order-customer-repartition", f"{app}-customer-profiles-changelog", f"{app}-dlq"):
        topics.forget(t)
    topo, n = service(tmp_path, topics, app)
    k = kstreamd(topo, f"state.dir={tmp_path}/state")
    assert k.wait(30) != 0
    assert (f"topics `{n['crm-customer-v1']}` (3 partitions) and `{n['customer-order-count-v1']}` (2) are joined in "
            "one sub-topology, so they must be co-partitioned") in k.log(), k.log()[-3000:]


SYSTEM_TOPICS = {"crm-customer-raw-v1": 3, "crm-customer-v1": 3, "catalog-product-v1": 1, "order-new-v1": 3,
                 "customer-order-count-v1": 3, "customer-order-summary-v1": 3, "customer-hourly-revenue-v1": 3,
                 "order-enriched-v1": 3, "order-item-enriched-v1": 3, "customer-profile-v1": 3}
SYSTEM_APPS = ["crm-seed-system", "catalog-seed-system", "crm-customer-service", "new-order-system",
               "customer-order-count-service", "order-enrich-service"]
NORDERS = 3000


def system_file(tmp_path, name, names, uid):
    """topologies/<name>.yaml with this test's topic names and application ids; NewOrderSystem makes NORDERS."""
    with open(os.path.join(REPO, "topologies", name + ".yaml")) as f:
        text = f.read()
    for t in sorted(names, key=len, reverse=True):
        text = re.sub(r"(?<![\w-])" + re.escape(t) + r"(?![\w-])", names[t], text)
    for a in SYSTEM_APPS:
        text = text.replace(f"application: {a}", f"application: {a}-{uid}")
    if name == "new_orders":
        text = text.replace("rate: 200/s", f"rate: 1000/s\n        count: {NORDERS}")
    return str(write_topology(tmp_path, name + ".yaml", text))


def test_order_enrich_with_its_upstream_services(bootstrap, topics, kstreamd, tmp_path, uid):
    """The demo system on the real broker, every service as its topology file has it: the seeds and
    CrmCustomerService first (one process), then NewOrderSystem (3,000 orders), CustomerOrderCountService and
    OrderEnrichService (another). Every order is enriched exactly as the tables then hold its customer (the last
    record CrmCustomerService wrote for the key, or none for the customers it drops) and its products (the
    catalogue), and every profile ends with the customer's number of orders."""
    names = {t: topics.create(t, n) for t, n in SYSTEM_TOPICS.items()}
    for a in SYSTEM_APPS:
        for t in ("dlq", "by-customer-repartition", "orders-by-customer-repartition", "order-customer-repartition",
                  "customer-order-count-changelog", "customer-order-summary-changelog",
                  "customer-hourly-revenue-changelog", "customer-profiles-changelog"):
            topics.forget(f"{a}-{uid}-{t}")
    files = {n: system_file(tmp_path, n, names, uid) for n in ("crm_seed", "catalog_seed", "crm_customer",
                                                               "new_orders", "customer_order_count", "order_enrich")}
    seeds = kstreamd(files["crm_seed"], f"state.dir={tmp_path}/state-1",
                     extra_args=["-c", files["catalog_seed"], "-c", files["crm_customer"]])
    crm, catalog = Reader(bootstrap, names["crm-customer-v1"]), Reader(bootstrap, names["catalog-product-v1"])
    raw = Reader(bootstrap, names["crm-customer-raw-v1"])
    assert raw.until(lambda rs: len(rs) >= 20, 60) and catalog.until(lambda rs: len(rs) >= 10, 60)
    seeds.wait_log(r"crm-customer-service-\S+\[0\]: assigned", 60)
    prev = -1
    while prev != len(crm.records):  # until CrmCustomerService has written everything for the 20 raw customers
        prev = len(crm.records)
        crm.poll(3)
    assert seeds.stop() == 0, seeds.log()[-3000:]
    customers = by_key_last(crm.to_end())
    products = by_key_last(catalog.to_end())
    assert len(products) == 10 and 10 <= len(customers) < 20, (len(products), len(customers))

    rest = kstreamd(files["new_orders"], f"state.dir={tmp_path}/state-2",
                    extra_args=["-c", files["customer_order_count"], "-c", files["order_enrich"]])
    orders_r = Reader(bootstrap, names["order-new-v1"])
    assert orders_r.until(lambda rs: len(rs) >= NORDERS, 120), len(orders_r.records)
    orders = [json.loads(m.value()) for m in orders_r.records]
    per_customer = {}
    for o in orders:
        per_customer[o["customerId"]] = per_customer.get(o["customerId"], 0) + 1

    out = Reader(bootstrap, names["order-enriched-v1"])
    assert out.until(lambda rs: len({m.key() for m in rs}) >= NORDERS, 120), len(out.records)
    got = {}
    for m in out.records:
        v = json.loads(m.value())
        assert got.setdefault(m.key().decode(), v) == v
    assert got == {o["orderId"]: enriched_with(o, customers.get(o["customerId"]), products) for o in orders}
    assert sum(1 for v in got.values() if v["customer"] is None) == \
        sum(n for c, n in per_customer.items() if c not in customers)
    want = {c: {"customerId": c, "name": v["name"], "email": v["email"], "segment": v["segment"],
                "orders": per_customer.get(c, 0)} for c, v in customers.items()}
    profiles = Reader(bootstrap, names["customer-profile-v1"])
    assert profiles.until(lambda rs: by_key_last(rs) == want, 120), (by_key_last(profiles.records), want)
    assert rest.stop() == 0, rest.log()[-3000:]
    for r in (crm, catalog, raw, orders_r, out, profiles):
        r.close()
