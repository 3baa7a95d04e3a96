#!/usr/bin/env python3
"""
bench/state/run.py (started by bench/state/run.sh): stateful throughput and restore on the real broker.

Preloads BENCH_RECORDS (default 2,000,000) orders for 100,000 customers (keyed by order id, JSON as
NewOrderSystem writes them, 3 partitions), then runs from the start of that topic, each with its own
application id and output topics:
  (a) bare   bench/pipe/bare.c: consume -> produce, kstreamd's client settings (the baseline)
  (b) cache  kstreamd, topologies/customer_order_count.yaml (re-keyed by customer through one repartition
             topic; count, aggregate, hourly windowed revenue with suppress: three stores and their changelogs,
             plus the suppression buffer's), cache.max.bytes default
  (c) nocache  the same with cache.max.bytes=0 (every update to the store, changelog and downstream)
A run is done when the application's committed offsets reach the end of the source topic and of every
repartition topic (lag 0); (a) when its output holds every record. rec/s = orders / (done - first output).
CPU s = utime+stime of the process; peak RSS = VmHWM; at the end, RssAnon (heap) and RssFile (mapped
files: LMDB's pages) from /proc/<pid>/status, and the size of the LMDB file.
  (e) count  kstreamd, the simplest counting service: groupBy customer (one repartition topic), count,
             toStream (cache on)
  (s) join   kstreamd, orders re-keyed by customer (one repartition topic) and joined with a table of the
             BENCH_CUSTOMERS customers (preloaded, 3 partitions; its records are processed in the run, from
             the assignment), written to one output topic
  (d) restore  BENCH_RESTORE (default 1,000,000) entries written straight to a count store's changelog
             (3 partitions), then kstreamd started on an empty state directory: records/s of its restore
             (the sum of the "restored" lines' records over the sum of their times).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import Offsets, assigned_at, broker_cpu, cpu_secs, create, status_mb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("BENCH_BIN", os.path.join(REPO, "build", "bench", "state"))
KSTREAMD = os.environ.get("KSTREAMD", os.path.join(REPO, "kstreamd"))
if not os.path.isabs(KSTREAMD):
    KSTREAMD = os.path.join(REPO, KSTREAMD)
N = int(os.environ.get("BENCH_RECORDS", "2000000"))
NRESTORE = int(os.environ.get("BENCH_RESTORE", "1000000"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "100000"))
COMMIT_MS = int(os.environ.get("BENCH_COMMIT_MS", "1000"))
CASES = os.environ.get("BENCH_CASES", "a b c e d").split()
REPEAT = int(os.environ.get("BENCH_REPEAT", "1"))   # runs of each of a b c e; the table shows the median
# BENCH_PERF=1: perf record each kstreamd run; any other value is passed to perf record (e.g. "-g")
PERF_ARGS = [] if os.environ.get("BENCH_PERF", "1") == "1" else os.environ["BENCH_PERF"].split()
PARTS = 3
EXTRA = [x for x in os.environ.get("BENCH_KSTREAMD_SET", "").split() if x]   # more --set k=v for kstreamd

COUNT_ONLY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
  {out}: {{value: long}}
pipelines:
  count:
    from: {src}
    steps:
      - groupByKey
      - count: {{store: order-count}}
      - toStream
    to: {out}
"""








def produce(bootstrap, topic, gen, n):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10000,
                  "queue.buffering.max.messages": 500000, "partitioner": "murmur2_random", "compression.type": "none"})
    for i in range(n):
        k, v, part = gen(i)
        while True:
            try:
                if part is None:
                    p.produce(topic, key=k, value=v)
                else:
                    p.produce(topic, key=k, value=v, partition=part)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(120) == 0


def order(i):
    c = (i * 7919) % CUSTOMERS
    total = round(5 + (i % 97) * 1.37, 2)
    v = {"orderId": f"o-{i:08d}", "customerId": f"c-{c:06d}", "status": "NEW",
         "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1718064000 + i // 50)), "currency": "EUR",
         "items": [{"sku": f"SKU-{1001 + i % 10}", "qty": 1 + i % 3, "unitPrice": 9.9}], "total": total}
    return f"o-{i:08d}", json.dumps(v, separators=(",", ":")), None



def stop(proc):
    """SIGTERM to the run's process group (a BENCH_WRAP or perf wrapper would not pass it on), then SIGKILL."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # what the wrapper left behind
    except ProcessLookupError:
        pass


def wait_done(proc, check, what, logpath, timeout):
    """Polls check() every 0.2 s: (time of the first output, time done, peak RssAnon in MB meanwhile)."""
    deadline = time.time() + timeout
    t_first = None
    peak_anon = 0.0
    while True:
        first, done = check()
        now = time.time()
        try:
            peak_anon = max(peak_anon, status_mb(proc.pid, "RssAnon"))
        except OSError:
            pass
        if first and t_first is None:
            t_first = now
        if done:
            return t_first or now, now, peak_anon
        if proc.poll() is not None:
            raise SystemExit(f"{what}: exited with {proc.returncode}; log {logpath}")
        if now > deadline:
            raise SystemExit(f"{what}: not done after {timeout} s; log {logpath}")
        time.sleep(0.2)


def kstreamd_args(topo, bootstrap, state_dir, extra=()):
    a = [KSTREAMD, "-c", topo, "--set", f"bootstrap.servers={bootstrap}", "--set", "query.listen=off",
         "--set", f"state.dir={state_dir}",
         "--set", f"commit.interval.ms={COMMIT_MS}", "--set", "log.summary.interval.ms=0"]
    for s in list(extra) + EXTRA:
        a += ["--set", s]
    return a


def run_bare(bootstrap, admin, lag, src, tag):
    out = f"bench-state-bare-out-{tag}"
    create(admin, out, PARTS)
    logpath = os.path.join(BIN, "a.log")
    with open(logpath, "wb") as logf:
        t0, b0 = time.time(), broker_cpu()
        proc = subprocess.Popen([os.path.join(BIN, "bare"), bootstrap, src, out, f"bench-state-bare-{tag}",
                                 str(COMMIT_MS)], stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            def check():
                # done as kstreamd's runs are: when the consumed offsets are committed (both commit every
                # COMMIT_MS), not when the last output lands
                n = lag.end(out) or 0
                if n >= N and "out_done" not in marks:
                    marks["out_done"] = time.time()
                return n > 0, n >= N and lag.committed(f"bench-state-bare-{tag}", src) >= N
            marks = {}
            t_first, t_done, peak_anon = wait_done(proc, check, "bare", logpath, max(600, N / 2000))
            bcpu = broker_cpu() - b0
            out_span = marks["out_done"] - t_first
            span = t_done - t_first if t_done - t_first > 0.5 else t_done - t0   # a short run: over the wall time
            res = {"case": "a", "rate": N / span, "rate_out": N / out_span if out_span > 0.5 else float("nan"), "wall": t_done - t0, "cpu": cpu_secs(proc.pid),
                   "bcpu": bcpu, "rss": status_mb(proc.pid, "VmHWM"), "anon": status_mb(proc.pid, "RssAnon"),
                   "peak_anon": peak_anon, "file": status_mb(proc.pid, "RssFile"), "db": 0}
        finally:
            stop(proc)
    admin.delete_topics([out], operation_timeout=10)
    return res


COUNT_BY_CUSTOMER = """\
application: customer-order-count-service
topics:
  defaults: {key: string, value: json}
  customer-order-count-v1: {value: long}
pipelines:
  count:
    from: order-new-v1
    steps:
      - groupBy: {keySelector: .customerId, name: orders-by-customer}
      - count: {store: customer-order-count}
      - toStream
    to: customer-order-count-v1
"""


JOIN_CUSTOMER = """\
application: customer-order-count-service
topics:
  defaults: {key: string, value: json}
tables:
  customers: {topic: crm-customer-v1}
pipelines:
  enrich:
    from: order-new-v1
    steps:
      - selectKey: {keySelector: .customerId, name: by-customer}
      - join: {table: customers, name: order-customer, value: '$left + {customer: {name: $right.name, segment: $right.segment}}'}
    to: customer-order-count-v1
"""


def customer(i):
    v = {"customerId": f"c-{i:06d}", "name": f"Customer {i}", "email": f"c{i}@example.com",
         "segment": "vip" if i % 7 == 0 else "standard"}
    return f"c-{i:06d}", json.dumps(v, separators=(",", ":")), None


def run_count(case, bootstrap, admin, lag, src, tag, extra, customers=None):
    app = f"bench-state-{case}-{tag}"
    outs = {"customer-order-count-v1": f"bench-count-{case}-{tag}", "customer-order-summary-v1": f"bench-summary-{case}-{tag}",
            "customer-hourly-revenue-v1": f"bench-revenue-{case}-{tag}"}
    if case == "e":
        text = COUNT_BY_CUSTOMER
        del outs["customer-order-summary-v1"], outs["customer-hourly-revenue-v1"]
    elif case == "s":
        text = JOIN_CUSTOMER.replace("crm-customer-v1", customers)
        del outs["customer-order-summary-v1"], outs["customer-hourly-revenue-v1"]
    else:
        with open(os.path.join(REPO, "topologies", "customer_order_count.yaml")) as f:
            text = f.read()
    text = text.replace("customer-order-count-service", app).replace("order-new-v1", src)
    for k, v in outs.items():
        text = text.replace(k, v)
    topo = os.path.join(BIN, f"{case}.yaml")
    with open(topo, "w") as f:
        f.write(text)
    for t in outs.values():
        create(admin, t, PARTS)
    state = os.path.join(BIN, f"state-{case}")
    shutil.rmtree(state, ignore_errors=True)
    logpath = os.path.join(BIN, f"{case}.log")
    repartitions = [f"{app}-order-customer-repartition" if case == "s" else f"{app}-orders-by-customer-repartition"]
    with open(logpath, "wb") as logf:
        t0, b0 = time.time(), broker_cpu()
        args = kstreamd_args(topo, bootstrap, state, extra)
        if os.environ.get("BENCH_PERF"):
            args = ["perf", "record", "-o", os.path.join(BIN, f"{case}.perf")] + PERF_ARGS + ["--"] + args
        args = os.environ.get("BENCH_WRAP", "").split() + args   # e.g. BENCH_WRAP=heaptrack
        proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            def check():
                first = (lag.end(outs["customer-order-count-v1"]) or 0) > 0
                if lag.committed(app, src) < N:
                    return first, False
                for r in repartitions:
                    end = lag.end(r)
                    if end is None or lag.committed(app, r) < end:
                        return first, False
                return first, True
            t_first, t_done, peak_anon = wait_done(proc, check, case, logpath, max(900, N / 1000))
            bcpu = broker_cpu() - b0
            db = os.path.getsize(os.path.join(state, app, "data.mdb"))
            # Over the time from the partitions' assignment (the record cache holds the first outputs back
            # until a commit, so the first output is late); the first output when the log has no such line.
            t_start = min(t_first, assigned_at(logpath) or t_first)
            span = t_done - t_start
            res = {"case": case, "rate": N / span, "wall": t_done - t0, "cpu": cpu_secs(proc.pid),
                   "bcpu": bcpu, "rss": status_mb(proc.pid, "VmHWM"), "anon": status_mb(proc.pid, "RssAnon"),
                   "peak_anon": peak_anon, "file": status_mb(proc.pid, "RssFile"), "db": db / 1048576}
        finally:
            stop(proc)
    for t in list(outs.values()) + repartitions:
        admin.delete_topics([t], operation_timeout=10)
    shutil.rmtree(state, ignore_errors=True)
    return res


def run_restore(bootstrap, admin, tag):
    app = f"bench-state-restore-{tag}"
    src, out = f"bench-restore-in-{tag}", f"bench-restore-out-{tag}"
    changelog = f"{app}-order-count-changelog"
    for t in (src, out):
        create(admin, t, PARTS)
    create(admin, changelog, PARTS, {"cleanup.policy": "compact"})
    t0 = time.time()

    def entry(i):
        # the store's key (JSON text of the key) and the count, as kstreamd's changelog holds them
        return f'"c-{i:07d}"', str(1 + i % 50), i % PARTS
    produce(bootstrap, changelog, entry, NRESTORE)
    print(f"  wrote {NRESTORE} changelog entries in {time.time() - t0:.1f} s", flush=True)
    topo = os.path.join(BIN, "d.yaml")
    with open(topo, "w") as f:
        f.write(COUNT_ONLY.format(app=app, src=src, out=out))
    state = os.path.join(BIN, "state-d")
    shutil.rmtree(state, ignore_errors=True)
    logpath = os.path.join(BIN, "d.log")
    with open(logpath, "wb") as logf:
        args = kstreamd_args(topo, bootstrap, state)
        if os.environ.get("BENCH_PERF"):
            args = ["perf", "record", "-o", os.path.join(BIN, "d.perf")] + PERF_ARGS + ["--"] + args
        proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + 600
            while True:
                with open(logpath, errors="replace") as f:
                    log = f.read()
                done = re.findall(r"restored order-count\[\d+\]: (\d+) records in (\d+) ms", log)
                if len(done) >= PARTS:
                    break
                if proc.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"restore: not done; log {logpath}")
                time.sleep(0.2)
            rss = status_mb(proc.pid, "VmHWM")
            anon = status_mb(proc.pid, "RssAnon")
        finally:
            stop(proc)
    recs = sum(int(r) for r, _ in done)
    ms = sum(int(m) for _, m in done)
    db = os.path.getsize(os.path.join(state, app, "data.mdb")) / 1048576
    shutil.rmtree(state, ignore_errors=True)
    for t in (src, out, changelog, f"{app}-dlq"):
        admin.delete_topics([t], operation_timeout=10)
    return {"case": "d", "records": recs, "ms": ms, "rate": recs * 1000 / ms if ms else float("nan"), "rss": rss,
            "anon": anon, "db": db}


def main():
    bootstrap = os.environ["BENCH_BOOTSTRAP"]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    lag = Offsets(bootstrap, PARTS)
    tag = uuid.uuid4().hex[:6]
    results = {}
    if any(c in CASES for c in "abces"):
        src = f"bench-state-orders-{tag}"
        create(admin, src, PARTS)
        t0 = time.time()
        produce(bootstrap, src, order, N)
        print(f"preloaded {N} orders for {CUSTOMERS} customers into {src} ({PARTS} partitions) in "
              f"{time.time() - t0:.1f} s", flush=True)
        customers = f"bench-state-customers-{tag}"
        if "s" in CASES:
            create(admin, customers, PARTS)
            produce(bootstrap, customers, customer, CUSTOMERS)
            print(f"preloaded {CUSTOMERS} customers into {customers}", flush=True)
        runs = {}
        for rep in range(REPEAT):   # interleaved (a b c e s a b c e s ...): the broker's state drifts between runs
            for case in "abces":
                if case not in CASES:
                    continue
                run_tag = tag if REPEAT == 1 else f"{tag}{rep}"
                if case == "a":
                    r = run_bare(bootstrap, admin, lag, src, run_tag)
                else:
                    r = run_count(case, bootstrap, admin, lag, src, run_tag,
                                  ("cache.max.bytes=0",) if case == "c" else (), customers)
                runs.setdefault(case, []).append(r)
                print(f"  {case}: {r['rate']:.0f} orders/s, {r['cpu']:.1f} CPU s (broker {r.get('bcpu', float('nan')):.1f}), peak RSS {r['rss']:.1f} MB "
                      f"(heap {r['peak_anon']:.1f} MB at most, {r['anon']:.1f} MB at the end; mapped files "
                      f"{r['file']:.1f} MB), LMDB file {r['db']:.1f} MB",
                      flush=True)
        for case, rs in runs.items():   # the run with the median rate stands for the case
            results[case] = sorted(rs, key=lambda r: r["rate"])[len(rs) // 2]
        if "a" in runs:
            outs = sorted(r["rate_out"] for r in runs["a"])
            print(f"  a, to the last output landing (not to the commit): "
                  + ", ".join(f"{x:.0f}" for x in outs) + " orders/s", flush=True)
        admin.delete_topics([src] + ([customers] if "s" in CASES else []), operation_timeout=10)
    lag.close()
    if "d" in CASES:
        r = run_restore(bootstrap, admin, tag)
        results["d"] = r
        print(f"  d: restored {r['records']} records in {r['ms']} ms: {r['rate']:.0f} records/s, peak RSS "
              f"{r['rss']:.1f} MB (heap {r['anon']:.1f} MB), LMDB file {r['db']:.1f} MB", flush=True)
    names = {"a": "(a) bare librdkafka pipe", "b": "(b) customer_order_count, cache on (10 MB)",
             "c": "(c) customer_order_count, cache off", "e": "(e) groupBy + count only, cache on",
             "s": "(s) selectKey + stream-table join with the customers table"}
    print()
    print(f"orders: {N} over {CUSTOMERS} customers, {PARTS} partitions; commit.interval.ms {COMMIT_MS}"
          + (f"; median of {REPEAT} runs each" if REPEAT > 1 else ""))
    print("| run | orders/s | wall s | CPU s | CPU µs/order | broker CPU µs/order | peak RSS MB | peak heap MB | heap at end MB | mapped MB "
          "| LMDB file MB | vs (a) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in "abces":
        if case in results:
            r = results[case]
            ratio = r["rate"] / results["a"]["rate"] if "a" in results else float("nan")
            print(f"| {names[case]} | {r['rate']:.0f} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['cpu'] / N * 1e6:.2f} "
                  f"| {r.get('bcpu', float('nan')) / N * 1e6:.2f} | {r['rss']:.1f} | {r['peak_anon']:.1f} | {r['anon']:.1f} | {r['file']:.1f} | {r['db']:.1f} "
                  f"| {ratio:.2f} |")
    if "d" in results:
        r = results["d"]
        print(f"\n(d) restore: {r['records']} changelog records into an empty state directory in {r['ms']} ms: "
              f"{r['rate']:.0f} records/s (peak RSS {r['rss']:.1f} MB, heap {r['anon']:.1f} MB, LMDB file {r['db']:.1f} MB)")
    with open(os.path.join(BIN, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
