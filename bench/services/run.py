#!/usr/bin/env python3
"""
bench/services/run.py (started by bench/services/run.sh): the demo services on the real broker.

For each service in BENCH_SERVICES (default "crm orders"):
  1. its input topic (3 partitions) is preloaded with BENCH_RECORDS (default 500,000) records by the demo's
     own generator topology run by kstreamd (crm: topologies/crm_seed.yaml, the 20 demo customers in the raw
     CRM shape, round after round; orders: topologies/new_orders.yaml), with `rate: 0` (as fast as it goes)
     and `count: BENCH_RECORDS`, under a fresh application id and topic names;
  2. the service's own topology (crm: topologies/crm_customer.yaml; orders: topologies/customer_order_count.yaml)
     is run by kstreamd from the start of that topic, with its own application id and output topics, until its
     committed offsets reach the end of every topic it reads (the input topic, and the repartition topic for
     orders).
Reported: input records/s (from the partitions' assignment, kstreamd's `assigned N partitions` line, to that
commit), process CPU per input record (utime+stime of the kstreamd process from /proc/PID/stat, read at the
end: start-up included), peak RSS (VmHWM), output records, the broker's CPU per input record when the broker
is ours. BENCH_REPEAT=N runs each service N times, interleaved, on the same preloaded data; the table shows
the run with the median CPU per record.
BENCH_BINARIES="A B ..." runs each service with each of these kstreamd binaries in turn (interleaved, on the same
preloaded data, for before/after comparisons); one table row per service and binary.
BENCH_PERF=1 runs each kstreamd under `perf record -g` (any other value: under `perf record` with those arguments) (build/bench/services/<service>.perf) and prints the
top symbols of `perf report --no-children` and the share of each library.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid

from confluent_kafka.admin import AdminClient

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import Offsets, assigned_at, broker_cpu, cpu_secs, create, status_mb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("BENCH_BIN", os.path.join(REPO, "build", "bench", "services"))
KSTREAMD = os.environ.get("KSTREAMD", os.path.join(REPO, "kstreamd"))
if not os.path.isabs(KSTREAMD):
    KSTREAMD = os.path.join(REPO, KSTREAMD)
N = int(os.environ.get("BENCH_RECORDS", "500000"))
SERVICES = os.environ.get("BENCH_SERVICES", "crm orders").split()
REPEAT = int(os.environ.get("BENCH_REPEAT", "1"))
COMMIT_MS = int(os.environ.get("BENCH_COMMIT_MS", "1000"))
PERF = bool(os.environ.get("BENCH_PERF"))
# BENCH_PERF=1: perf record -g; any other value is given to perf record instead (e.g. "--call-graph dwarf")
PERF_ARGS = ["-g"] if os.environ.get("BENCH_PERF", "1") == "1" else os.environ["BENCH_PERF"].split()
EXTRA = [x for x in os.environ.get("BENCH_KSTREAMD_SET", "").split() if x]
BINARIES = os.environ.get("BENCH_BINARIES", "").split() or [KSTREAMD]
PARTS = 3

# Per service: the generator topology and the topic it writes; the service topology, the topics it writes
# (renamed per run) and its internal topics that must be drained too.
SERVICES_DEF = {
    "crm": {"name": "CrmCustomerService", "seed": "crm_seed.yaml", "seed_app": "crm-seed-system",
            "input": "crm-customer-raw-v1", "topology": "crm_customer.yaml", "app": "crm-customer-service",
            "outputs": ["crm-customer-v1"], "internal": []},
    "orders": {"name": "CustomerOrderCountService", "seed": "new_orders.yaml", "seed_app": "new-order-system",
               "input": "order-new-v1", "topology": "customer_order_count.yaml",
               "app": "customer-order-count-service",
               "outputs": ["customer-order-count-v1", "customer-order-summary-v1", "customer-hourly-revenue-v1"],
               "internal": ["orders-by-customer-repartition"]},
}



def listen_off_accepted():
    """Whether this kstreamd takes `--set query.listen=off` (it then serves no HTTP during the run)."""
    r = subprocess.run([KSTREAMD, "-c", os.path.join(REPO, "topologies", "crm_customer.yaml"), "--validate",
                        "--set", "query.listen=off"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


LISTEN_OFF = False


def kstreamd_args(topo, bootstrap, state_dir, extra=(), binary=KSTREAMD):
    a = [binary, "-c", topo, "--set", f"bootstrap.servers={bootstrap}", "--set", f"state.dir={state_dir}",
         "--set", f"commit.interval.ms={COMMIT_MS}", "--set", "log.summary.interval.ms=0"]
    if LISTEN_OFF:
        a += ["--set", "query.listen=off"]
    for s in list(extra) + EXTRA:
        a += ["--set", s]
    return a


def stop(proc):
    """SIGTERM to the run's process group (perf passes it on), then SIGKILL whatever is left."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kstreamd_pid(proc):
    """The kstreamd process: proc itself, or perf's child when it runs under perf record."""
    if not PERF:
        return proc.pid
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("perf record started no child")



def rename(text, pairs):
    for a, b in pairs:
        text = text.replace(a, b)
    return text


def preload(svc, bootstrap, admin, offsets, tag):
    """Runs the service's generator topology until the input topic holds N records; returns the topic."""
    d = SERVICES_DEF[svc]
    src = f"bench-services-{svc}-in-{tag}"
    create(admin, src, PARTS)
    with open(os.path.join(REPO, "topologies", d["seed"])) as f:
        text = f.read()
    app = f"bench-services-seed-{svc}-{tag}"
    text = rename(text, [(d["seed_app"], app), (d["input"], src)])
    # As fast as it goes, N records: the rate line is replaced, the count line replaced or added after it.
    text, nrate = re.subn(r"(?m)^(\s+)rate: .*$", r"\1rate: 0", text)
    if re.search(r"(?m)^\s+count: \d+$", text):
        text = re.sub(r"(?m)^(\s+)count: \d+$", rf"\g<1>count: {N}", text)
    else:
        text = re.sub(r"(?m)^(\s+)rate: 0$", rf"\g<1>rate: 0\n\g<1>count: {N}", text)
    assert nrate == 1, "the generator topology has no rate: line"
    topo = os.path.join(BIN, f"seed-{svc}.yaml")
    with open(topo, "w") as f:
        f.write(text)
    state = os.path.join(BIN, f"state-seed-{svc}")
    shutil.rmtree(state, ignore_errors=True)
    logpath = os.path.join(BIN, f"seed-{svc}.log")
    t0 = time.time()
    with open(logpath, "wb") as logf:
        proc = subprocess.Popen(kstreamd_args(topo, bootstrap, state), stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.time() + max(600, N / 500)
            while (offsets.end(src) or 0) < N:
                if proc.poll() is not None:
                    raise SystemExit(f"seed {svc}: exited with {proc.returncode}; log {logpath}")
                if time.time() > deadline:
                    raise SystemExit(f"seed {svc}: not done in time; log {logpath}")
                time.sleep(0.2)
        finally:
            stop(proc)
    shutil.rmtree(state, ignore_errors=True)
    n = offsets.end(src)
    print(f"preloaded {n} records into {src} ({PARTS} partitions) with {d['seed']} in {time.time() - t0:.1f} s",
          flush=True)
    if n != N:
        raise SystemExit(f"seed {svc}: {n} records, expected {N}")
    return src


def perf_report(path):
    """perf report's top symbols (self time) and the share of each library, as text."""
    out = []
    for sort, limit in (("dso", "1"), ("symbol", "0.7")):
        r = subprocess.run(["perf", "report", "-i", path, "--no-children", "--sort", sort, "-g", "none",
                            "--percent-limit", limit, "--stdio"], capture_output=True, text=True)
        lines = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
        out.append(f"  perf report --sort {sort} (>= {limit} %):")
        out += ["    " + ln.strip() for ln in lines[:45]]
    return "\n".join(out)


def run_service(svc, bootstrap, admin, offsets, src, tag, binary):
    d = SERVICES_DEF[svc]
    app = f"bench-services-{svc}-{tag}"
    with open(os.path.join(REPO, "topologies", d["topology"])) as f:
        text = f.read()
    outs = {o: f"bench-services-{svc}-{o}-{tag}" for o in d["outputs"]}
    text = rename(text, [(d["app"], app), (d["input"], src)] + list(outs.items()))
    topo = os.path.join(BIN, f"{svc}.yaml")
    with open(topo, "w") as f:
        f.write(text)
    for o in outs.values():
        create(admin, o, PARTS)
    internal = [f"{app}-{t}" for t in d["internal"]]
    state = os.path.join(BIN, f"state-{svc}")
    shutil.rmtree(state, ignore_errors=True)
    logpath = os.path.join(BIN, f"{svc}.log")
    perfpath = os.path.join(BIN, f"{svc}.perf")
    args = kstreamd_args(topo, bootstrap, state, binary=binary)
    if PERF:
        args = ["perf", "record", "-o", perfpath] + PERF_ARGS + ["--"] + args
    with open(logpath, "wb") as logf:
        t0, b0 = time.time(), broker_cpu()
        proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            pid = kstreamd_pid(proc)
            deadline = time.time() + max(900, N / 1000)
            while True:
                done = offsets.committed(app, src) >= N
                for t in internal if done else ():
                    end = offsets.end(t)
                    if end is None or offsets.committed(app, t) < end:
                        done = False
                if done:
                    break
                if proc.poll() is not None:
                    raise SystemExit(f"{svc}: exited with {proc.returncode}; log {logpath}")
                if time.time() > deadline:
                    raise SystemExit(f"{svc}: not done in time; log {logpath}")
                time.sleep(0.2)
            t_done = time.time()
            cpu = cpu_secs(pid)
            rss = status_mb(pid, "VmHWM")
            bcpu = broker_cpu() - b0
        finally:
            stop(proc)
    t_start = assigned_at(logpath) or t0
    nout = sum(offsets.end(o) or 0 for o in outs.values())
    res = {"svc": svc, "rate": N / (t_done - t_start), "wall": t_done - t0, "cpu": cpu, "us": cpu / N * 1e6,
           "rss": rss, "bus": bcpu / N * 1e6, "out": nout}
    if PERF:
        res["perf"] = perf_report(perfpath)
    for t in list(outs.values()):
        admin.delete_topics([t], operation_timeout=10)
    md = admin.list_topics(timeout=10)
    ours = [t for t in md.topics if t.startswith(app + "-")]
    if ours:
        admin.delete_topics(ours, operation_timeout=10)
    shutil.rmtree(state, ignore_errors=True)
    return res


def main():
    global LISTEN_OFF
    os.makedirs(BIN, exist_ok=True)
    bootstrap = os.environ["BENCH_BOOTSTRAP"]
    LISTEN_OFF = listen_off_accepted()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    offsets = Offsets(bootstrap, PARTS)
    tag = uuid.uuid4().hex[:6]
    srcs = {svc: preload(svc, bootstrap, admin, offsets, tag) for svc in SERVICES}
    runs = {}
    for rep in range(REPEAT):
        for svc in SERVICES:
            for bi, binary in enumerate(BINARIES):
                r = run_service(svc, bootstrap, admin, offsets, srcs[svc], f"{tag}{rep}{bi}", binary)
                runs.setdefault((svc, binary), []).append(r)
                print(f"  {svc}{' ' + binary if len(BINARIES) > 1 else ''}: {r['rate']:.0f} records/s, "
                      f"{r['cpu']:.2f} CPU s = {r['us']:.2f} µs per input record, peak RSS {r['rss']:.1f} MB, "
                      f"{r['out']} records out", flush=True)
                if "perf" in r:
                    print(r["perf"], flush=True)
    offsets.close()
    admin.delete_topics(list(srcs.values()), operation_timeout=10)
    print()
    print(f"input records: {N} per service, {PARTS} partitions; commit.interval.ms {COMMIT_MS}"
          + ("; query.listen=off" if LISTEN_OFF else "") + (f"; median of {REPEAT} runs" if REPEAT > 1 else "")
          + ("; under perf record -g" if PERF else ""))
    print("| service |" + (" kstreamd |" if len(BINARIES) > 1 else "")
          + " input records/s | wall s | CPU s | CPU µs/input record | broker CPU µs/record | peak RSS MB | records out |")
    print("|---|" + ("---|" if len(BINARIES) > 1 else "") + "---:|---:|---:|---:|---:|---:|---:|")
    for (svc, binary), rs in runs.items():
        r = sorted(rs, key=lambda x: x["us"])[len(rs) // 2]
        allus = ", ".join(f"{x['us']:.2f}" for x in rs)
        print(f"| {SERVICES_DEF[svc]['name']} |" + (f" {binary} |" if len(BINARIES) > 1 else "") + f" {r['rate']:.0f} | {r['wall']:.1f} | {r['cpu']:.2f} | {r['us']:.2f}"
              + (f" ({allus})" if len(rs) > 1 else "")
              + f" | {r['bus']:.2f} | {r['rss']:.1f} | {r['out']} |")


if __name__ == "__main__":
    main()
