#!/usr/bin/env python3
"""
bench/join/run.py (started by bench/join/run.sh): global tables on the real broker.

(g) BENCH_GLOBAL (default 1,000,000) products (keyed p-<i>, ~70-byte JSON, 6 partitions) are written, then
    kstreamd starts with a topology whose only table is that global table: the bootstrap's records/s is
    its own log line's ("bootstrapped global tables: N records in T ms (R records/s)"); peak RSS (VmHWM),
    RssAnon and RssFile (LMDB's mapped pages) are read once it is running.
(j) BENCH_ORDERS (default 1,000,000) orders (3 items each, 3 partitions) are then processed by the same
    process: flatMapValues over the items, leftJoin with the global table per item; orders/s from the
    assignment until the committed offsets reach the end of the orders topic; CPU µs per order.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import cpu_secs, create, status_mb  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KSTREAMD = os.environ.get("KSTREAMD", os.path.join(REPO, "kstreamd"))
B = os.environ["BENCH_BOOTSTRAP"]
NG = int(os.environ.get("BENCH_GLOBAL", "1000000"))
NO = int(os.environ.get("BENCH_ORDERS", "1000000"))

TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
tables:
  products: {{topic: {products}, global: true}}
pipelines:
  items:
    from: {orders}
    steps:
      - flatMapValues: '.items[]'
      - leftJoin: {{globalTable: products, key: .sku, value: '. + {{name: $right.name, price: $right.price}}'}}
    to: {out}
"""


def produce(topic, gen, n):
    p = Producer({"bootstrap.servers": B, "linger.ms": 20, "batch.num.messages": 10000,
                  "queue.buffering.max.messages": 500000, "partitioner": "murmur2_random"})
    for i in range(n):
        k, v = gen(i)
        while True:
            try:
                p.produce(topic, v, k)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    p.flush(120)


def lag_zero(app, topic, parts):
    c = Consumer({"bootstrap.servers": B, "group.id": app, "enable.auto.commit": False})
    try:
        tps = [TopicPartition(topic, p) for p in range(parts)]
        ends = [c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]
        done = [tp.offset for tp in c.committed(tps, timeout=10)]
        return all(d >= e for d, e in zip(done, ends))
    finally:
        c.close()


def main():
    admin = AdminClient({"bootstrap.servers": B})
    uid = uuid.uuid4().hex[:8]
    products, orders, out = f"bench-product-{uid}", f"bench-order-{uid}", f"bench-item-{uid}"
    create(admin, products, 6)
    create(admin, orders, 3)
    create(admin, out, 3)
    app = f"bench-join-{uid}"
    t0 = time.time()
    produce(products, lambda i: (f"p-{i}".encode(),
                                 json.dumps({"name": f"product {i}", "price": i % 500, "cat": "c" + str(i % 40)})
                                 .encode()), NG)
    produce(orders, lambda i: (f"o-{i}".encode(), json.dumps(
        {"id": f"o-{i}", "items": [{"sku": f"p-{(i * 7 + j * 13) % (NG + NG // 10)}", "qty": 1 + j}
                                   for j in range(3)]}).encode()), NO)
    print(f"preloaded {NG} products and {NO} orders in {time.time() - t0:.0f} s")
    tmp = tempfile.mkdtemp(prefix="bench-join-")
    topo = os.path.join(tmp, "join.yaml")
    with open(topo, "w") as f:
        f.write(TOPOLOGY.format(app=app, products=products, orders=orders, out=out))
    log = open(os.path.join(tmp, "kstreamd.log"), "wb")
    proc = subprocess.Popen([KSTREAMD, "-c", topo, "--set", f"bootstrap.servers={B}", "--set", "query.listen=off", "--set",
                             f"state.dir={tmp}/state", "--set", "commit.interval.ms=1000", "--set",
                             "log.summary.interval.ms=0"], stdout=log, stderr=subprocess.STDOUT)

    def text():
        with open(log.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    deadline = time.time() + 600
    while "assigned" not in text():
        assert proc.poll() is None and time.time() < deadline, text()[-3000:]
        time.sleep(0.05)
    t_assign, cpu0 = time.time(), cpu_secs(proc.pid)
    m = re.search(r"bootstrapped global tables: (\d+) records in (\d+) ms \((\d+) records/s\)", text())
    assert m, text()[-3000:]
    rss_boot = status_mb(proc.pid, "VmHWM")
    while not lag_zero(app, orders, 3):
        assert proc.poll() is None and time.time() < deadline, text()[-3000:]
        time.sleep(0.2)
    secs, cpu = time.time() - t_assign, cpu_secs(proc.pid) - cpu0
    hwm, anon, filem = status_mb(proc.pid, "VmHWM"), status_mb(proc.pid, "RssAnon"), status_mb(proc.pid, "RssFile")
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    lmdb = os.path.getsize(os.path.join(tmp, "state", app, "global", "data.mdb")) / 2**20
    print("| case | records | time | rate | CPU | memory |")
    print("|---|---:|---:|---:|---:|---|")
    print(f"| (g) global bootstrap | {m.group(1)} products | {int(m.group(2))} ms | {int(m.group(3)):,} records/s | "
          f"| peak RSS {rss_boot:.0f} MB after it; LMDB file {lmdb:.0f} MB |")
    print(f"| (j) per-item leftJoin with it | {NO} orders ({3 * NO} items) | {secs:.1f} s | {NO / secs:,.0f} orders/s | "
          f"{cpu * 1e6 / NO:.1f} µs/order | peak RSS {hwm:.0f} MB (RssAnon {anon:.0f}, RssFile {filem:.0f}) |")
    shutil.rmtree(tmp, ignore_errors=True)
    for t in (products, orders, out, f"{app}-dlq"):
        admin.delete_topics([t])


if __name__ == "__main__":
    main()
