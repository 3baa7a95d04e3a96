#!/usr/bin/env python3
"""
bench/pipe/run.py (started by bench/pipe/run.sh): consume -> produce throughput on the real broker.

Preloads BENCH_RECORDS (default 2,000,000) ~270-byte order records into a 2-partition topic (load.c),
then runs, each with its own output topic and consumer group, from the start of that topic:
  (a) bare       bare.c: librdkafka consume -> produce, kstreamd's client settings
  (b) passthrough kstreamd, topology: from -> to, no steps
  (c) orders     kstreamd, topology: filter status NEW, mapValues, flatMapValues items, selectKey
A run ends when the output topic holds every expected record (its high watermarks are polled every
50 ms); then CPU time (utime+stime from /proc/<pid>/stat) and peak RSS (VmHWM from /proc/<pid>/status)
are read and the process is stopped with SIGTERM.

rec/s = input records / (time of the last output - time of the first output): startup and the group
join are not counted; "wall" is from the process start. CPU s is the process's whole life up to the end.
"""
import json
import os
import signal
import subprocess
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import cpu_secs, create, status_mb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("BENCH_BIN", os.path.join(REPO, "build", "bench", "pipe"))
KSTREAMD = os.environ.get("KSTREAMD", os.path.join(REPO, "kstreamd"))
if not os.path.isabs(KSTREAMD):
    KSTREAMD = os.path.join(REPO, KSTREAMD)
N = int(os.environ.get("BENCH_RECORDS", "2000000"))
COMMIT_MS = int(os.environ.get("BENCH_COMMIT_MS", "1000"))
CASES = os.environ.get("BENCH_CASES", "a b c").split()
REPEAT = int(os.environ.get("BENCH_REPEAT", "1"))
EXTRA = [s for s in os.environ.get("BENCH_KSTREAMD_SET", "").split() if s]   # more --set k=v for kstreamd

PASSTHROUGH = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  pipe:
    from: {src}
    to: {out}
"""

ORDERS = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  order-lines:
    from: {src}
    steps:
      - filter: '.status == "NEW"'
      - mapValues: '{{orderId, customerId, createdAt, currency, items, total: ([.items[] | .qty * .price] | add)}}'
      - flatMapValues: '. as $o | .items[] | {{orderId: $o.orderId, customerId: $o.customerId, sku, qty, price, orderTotal: $o.total}}'
      - selectKey: .sku
    to: {out}
"""


def broker_pid():
    try:
        with open(os.path.join(REPO, "tests", "kafka", ".run", "broker", "kafka.pid")) as f:
            return int(f.read().strip())
    except Exception:
        return None






class Watermarks:
    def __init__(self, bootstrap):
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watch-" + uuid.uuid4().hex[:6]})

    def total(self, topic, parts):
        for attempt in range(50):
            try:
                return self._total(topic, parts)
            except Exception:
                if attempt == 49:
                    raise
                time.sleep(0.1)

    def _total(self, topic, parts):
        return sum(self.c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                   for p in range(parts))




def run_case(case, bootstrap, admin, wm, src, expected, tag):
    out = f"bench-{case}-out-{tag}"
    create(admin, out, 2)
    app = f"bench-pipe-{case}-{tag}"
    logpath = os.path.join(BIN, f"{case}.log")
    if case == "a":
        args = [os.path.join(BIN, "bare"), bootstrap, src, out, app, str(COMMIT_MS)]
    else:
        topo = os.path.join(BIN, f"{case}.yaml")
        with open(topo, "w") as f:
            f.write((PASSTHROUGH if case == "b" else ORDERS).format(app=app, src=src, out=out))
        args = [KSTREAMD, "-c", topo, "--set", f"bootstrap.servers={bootstrap}", "--set", "query.listen=off",
                "--set", f"commit.interval.ms={COMMIT_MS}",
                "--set", "log.summary.interval.ms=0"]
        for s in EXTRA:
            args += ["--set", s]
    bpid = broker_pid()
    bcpu0 = cpu_secs(bpid) if bpid else 0.0
    logf = open(logpath, "wb")
    t_start = time.time()
    if os.environ.get("BENCH_PERF") and case != "a":
        args = ["perf", "record", "-o", os.path.join(BIN, f"{case}.perf"), "--"] + args
    proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    t_first = t_done = None
    deadline = t_start + max(600, N / 2000)
    try:
        while True:
            n = wm.total(out, 2)
            now = time.time()
            if n > 0 and t_first is None:
                t_first, n_first = now, n
            if n >= expected:
                t_done = now
                break
            if proc.poll() is not None:
                raise SystemExit(f"{case}: exited with {proc.returncode} after {n} of {expected} outputs; log {logpath}")
            if now > deadline:
                raise SystemExit(f"{case}: {n} of {expected} outputs after {now - t_start:.0f} s; log {logpath}")
            time.sleep(0.05)
        cpu = cpu_secs(proc.pid)
        hwm = status_mb(proc.pid, "VmHWM")
        bcpu = (cpu_secs(bpid) - bcpu0) if bpid else float("nan")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = "killed"
        logf.close()
    if proc.returncode != 0:
        print(f"warning: {case} exited with {proc.returncode} after SIGTERM (log {logpath})", file=sys.stderr)
    got = wm.total(out, 2)
    # records in during the measured window: the fraction of the output not there at the first sample
    frac = (expected - n_first) / expected
    steady = N * frac / (t_done - t_first) if t_done > t_first else float("nan")
    admin.delete_topics([out], operation_timeout=10)
    return {"case": case, "in": N, "out": got, "expected": expected, "rate": steady, "wall": t_done - t_start,
            "cpu": cpu, "rss": hwm, "broker_cpu": bcpu, "us_per_rec": cpu / N * 1e6}


def main():
    bootstrap = os.environ["BENCH_BOOTSTRAP"]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    wm = Watermarks(bootstrap)
    tag = uuid.uuid4().hex[:6]
    src = f"bench-order-in-{tag}"
    t0 = time.time()
    r = subprocess.run([os.path.join(BIN, "load"), bootstrap, src, str(N), "2"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("load failed: " + r.stderr)
    st = dict(zip(r.stdout.split()[::2], map(int, r.stdout.split()[1::2])))
    print(f"preloaded {st['records']} records, {st['bytes'] / st['records']:.0f} bytes avg, into {src} "
          f"(2 partitions) in {time.time() - t0:.1f} s", flush=True)
    expected = {"a": st["records"], "b": st["records"], "c": st["items_of_new"]}
    results = []
    for rep in range(REPEAT):
        for case in CASES:
            res = run_case(case, bootstrap, admin, wm, src, expected[case], f"{tag}-{rep}")
            res["rep"] = rep
            results.append(res)
            print(f"  {case} run {rep + 1}: {res['rate']:.0f} rec/s, {res['cpu']:.1f} CPU s, {res['rss']:.1f} MB",
                  flush=True)
    admin.delete_topics([src], operation_timeout=10)

    names = {"a": "(a) bare librdkafka pipe", "b": "(b) kstreamd passthrough", "c": "(c) kstreamd orders topology"}
    best = {}
    for res in results:
        if res["case"] not in best or res["rate"] > best[res["case"]]["rate"]:
            best[res["case"]] = res
    print()
    print(f"records in: {N}; commit.interval.ms {COMMIT_MS}; best of {REPEAT} run(s) each")
    print("| run | records out | rec/s (in) | wall s | CPU s | CPU µs/rec | peak RSS MB | broker CPU s | rec/s vs (a) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in CASES:
        b = best[case]
        ratio = b["rate"] / best["a"]["rate"] if "a" in best else float("nan")
        print(f"| {names[case]} | {b['out']} | {b['rate']:.0f} | {b['wall']:.1f} | {b['cpu']:.1f} | {b['us_per_rec']:.2f} "
              f"| {b['rss']:.1f} | {b['broker_cpu']:.1f} | {ratio:.2f} |")
    if REPEAT > 1:
        print("\nall runs (rec/s): " + "; ".join(f"{r['case']}{r['rep'] + 1} {r['rate']:.0f}" for r in results))
    with open(os.path.join(BIN, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
