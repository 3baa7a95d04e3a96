#!/usr/bin/env python3
"""
bench/compare.py (started by bench/compare.sh): kstreamd side by side with Kafka Streams on one broker.

Data set (made by kstreamd itself, once, from the demo's own generators): topologies/new_orders.yaml writes
BENCH_ORDERS orders, topologies/crm_seed.yaml BENCH_CRM raw CRM customers and topologies/catalog_seed.yaml
the 10 products, each with a `timestamp` expression that spreads their event times over the past (customers
and products first, then the orders, BENCH_SPACING_MS apart, so that hourly windows close); then kstreamd's
CrmCustomerService, CustomerOrderCountService and OrderEnrichService write crm-customer-v1,
customer-order-count-v1, order-enriched-v1 and customer-profile-v1 from them. Every run reads these topics
and writes its own output topics, under its own application id.

Services: passthrough (order-new-v1 to a topic), CrmCustomerService, CustomerOrderCountService,
OrderEnrichService, EntityLookupService's materialisation. Systems: the bare librdkafka pipe
(bench/pipe/bare.c, passthrough only), kstreamd (the topology files in topologies/) and Kafka Streams
(bench/kafka-streams/, the twins). Both are given commit.interval.ms 1000, a 10 MB record cache, one stream
thread, at-least-once; everything else is each system's default.

Per run (BENCH_REPEAT repetitions, interleaved: every service and system once, then again):
  rec/s       input records / (end - start): start is the partitions' assignment (see CPU), end the
              moment the last output record landed (output watermarks polled every 50 ms; a service
              without outputs: when its committed offsets reached the end of every input and repartition
              topic, which is also when every run is taken as done)
  CPU         utime + stime of the process up to done, per input record; "after start" subtracts what it
              had used when its partitions were assigned (kstreamd's log line, Kafka Streams' RUNNING
              state; the bare pipe: its first output); "JIT" is the part of the whole that a JVM's JIT
              compiler threads used; "warm" is the CPU per record over the input left once half of it
              was committed (a run too short to tell, with no commit between 50 % and 90 % of its input:
              its "after start" figure)
  broker CPU  the broker's utime + stime during the run, per input record
  peak RSS    VmHWM at done (the log line adds RssAnon, RssFile and RssShmem at done, and the peaks of RssAnon
              and RssFile sampled while it ran: heap against mapped files, the state stores' LMDB map among them)
  first output  from the process's start to its first output record (the data waiting)
Input records: every record of the topics the application consumes (global tables not counted).

Latency (passthrough and CrmCustomerService): the service starts on an empty topic; once a probe record
has come through, bench/latency.c writes BENCH_LAT_RATE (20,000) records/s for BENCH_LAT_SECS seconds, each
carrying the microsecond it was produced, and reads the output topic in the same process: (now - that
time) for records produced after the first BENCH_LAT_WARMUP seconds, p50 and p99; "kept up" when the last
record came out less than 30 s after the producer stopped.

BENCH_STAGES="conformance throughput latency restore" (the default) picks stages; BENCH_SERVICES (of
"passthrough crm count enrich entity") and BENCH_SYSTEMS (of "bare kstreamd streams") pick the runs of the
throughput and latency stages (the report table then needs --report of a full run's results.json).

Restore: the changelog of a one-store counting service (one kstreamd topology and bench.RestoreCount) is
written with BENCH_RESTORE (1,000,000) entries in the format both systems share (the key's bytes, the count
as 8 bytes), then the service starts on an empty state directory, BENCH_REPEAT times (each after the
previous instance has left the group): the time from the first partition's restore start to the last one's
end (their "restored STORE[P]: N records in T ms" lines), and from the process start to that end.

Conformance (BENCH_CONFORMANCE_ORDERS orders, a separate small data set made the same way): every service run
once by each system; each output topic is compared record for record (key and JSON value, per partition and
key) or, where the record cache decides how many updates are written (counts, aggregates, table joins), by
the final value per key. A mismatch is printed with the first differing keys and makes the exit status 1;
the comparison is also shown one spoilt kstreamd record per topic, which it must notice.

  --quick             small data, one repetition (BENCH_* variables still override)
  --conformance-only  only the conformance check
  --report FILE       only the tables, from an earlier run's results.json
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import assigned_time, broker_cpu, cpu_secs, create, status_mb  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KSTREAMD = os.environ.get("KSTREAMD", os.path.join(REPO, "kstreamd"))
if not os.path.isabs(KSTREAMD):
    KSTREAMD = os.path.join(REPO, KSTREAMD)
BIN = os.environ.get("BENCH_BIN", os.path.join(REPO, "build", "bench", "compare"))
KS_DIR = os.path.join(REPO, "bench", "kafka-streams")
JAVA = os.environ.get("JAVA", "java")
PARTS = 3

# The kstreamd topology of the passthrough (the Java twin is bench.Passthrough).
PASSTHROUGH = """\
application: passthrough
topics:
  defaults: {key: string, value: json}
pipelines:
  pipe:
    from: in
    to: out
"""

# The restore benchmark's one-store service (the Java twin is bench.RestoreCount).
RESTORE_COUNT = """\
application: restore-count
topics:
  defaults: {key: string, value: json}
pipelines:
  count:
    from: in
    steps:
      - groupByKey
      - count: {store: entry-count}
"""

# How each service is run. inputs: the data set's topics it consumes (counted as its input records);
# outputs: the topics it writes (each run gets its own); repartitions: its repartition topics' names;
# final: outputs compared by the final value per key (the record cache decides how many updates appear).
SERVICES = {
    "passthrough": {"title": "passthrough", "yaml": PASSTHROUGH, "java": "Passthrough",
                    "inputs": {"in": "order-new-v1"}, "outputs": ["out"], "repartitions": [], "final": [],
                    "bare": True},
    "crm": {"title": "CrmCustomerService", "file": "crm_customer.yaml", "java": "CrmCustomerService",
            "inputs": {"crm-customer-raw-v1": "crm-customer-raw-v1"}, "outputs": ["crm-customer-v1"],
            "repartitions": [], "final": []},
    "count": {"title": "CustomerOrderCountService", "file": "customer_order_count.yaml",
              "java": "CustomerOrderCountService", "inputs": {"order-new-v1": "order-new-v1"},
              "outputs": ["customer-order-count-v1", "customer-order-summary-v1", "customer-hourly-revenue-v1"],
              "repartitions": ["orders-by-customer"],
              "final": ["customer-order-count-v1", "customer-order-summary-v1"]},
    "enrich": {"title": "OrderEnrichService", "file": "order_enrich.yaml", "java": "OrderEnrichService",
               "inputs": {"order-new-v1": "order-new-v1", "crm-customer-v1": "crm-customer-v1",
                          "customer-order-count-v1": "customer-order-count-v1"},
               "globals": {"catalog-product-v1": "catalog-product-v1"},
               "outputs": ["order-enriched-v1", "order-item-enriched-v1", "customer-profile-v1"],
               "repartitions": ["order-customer"], "final": ["customer-profile-v1"]},
    "entity": {"title": "EntityLookupService (materialisation)", "file": "entity_lookup.yaml",
               "java": "EntityLookupService",
               "inputs": {"order-enriched-v1": "order-enriched-v1", "customer-profile-v1": "customer-profile-v1",
                          "order-new-v1": "order-new-v1"},
               "outputs": [], "repartitions": ["customer-hourly-orders"], "final": []},
}
ORDER = ["passthrough", "crm", "count", "enrich", "entity"]
SYSTEMS = ["bare", "kstreamd", "streams"]
SYS_TAG = {"bare": "bare", "kstreamd": "kd", "streams": "ks"}


def log(msg):
    print(msg, flush=True)


def retopic(text, names):
    """The topology text with each topic (or application) name in names replaced, whole names only."""
    for old, new in names.items():
        text = re.sub(r"(?<![\w.-])" + re.escape(old) + r"(?![\w.-])", new, text)
    return text


def set_application(text, app):
    return re.sub(r"^application: .*$", f"application: {app}", text, count=1, flags=re.M)


class Kafka:
    """The admin client and one consumer for watermarks; one kept consumer per group for its commits."""

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-compare-wm-" + uuid.uuid4().hex[:6]})
        self.groups = {}
        self.nparts = {}

    def parts(self, topic):
        if topic not in self.nparts:
            t = self.admin.list_topics(topic, timeout=10).topics.get(topic)
            if t is None or t.error is not None or not t.partitions:
                return PARTS
            self.nparts[topic] = len(t.partitions)
        return self.nparts[topic]

    def end(self, topic, parts=None):
        parts = parts or self.parts(topic)
        for attempt in range(50):
            try:
                return sum(self.c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                           for p in range(parts))
            except Exception:
                if attempt == 49:
                    raise
                time.sleep(0.1)

    def end_or_none(self, topic):
        try:
            return sum(self.c.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)[1]
                       for p in range(self.parts(topic)))
        except Exception:
            return None

    def committed(self, group, topic):
        if group not in self.groups:
            self.groups[group] = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            tps = self.groups[group].committed([TopicPartition(topic, p) for p in range(self.parts(topic))],
                                               timeout=10)
            return sum(max(tp.offset, 0) for tp in tps)
        except Exception:
            return 0

    def forget(self, group):
        c = self.groups.pop(group, None)
        if c:
            c.close()

    def wait_group_empty(self, group, timeout=120):
        """Waits until group has no members (Kafka Streams does not leave its group on close: the broker
        drops the member after session.timeout.ms); returns the seconds waited."""
        t0 = time.time()
        while time.time() < t0 + timeout:
            try:
                d = self.admin.describe_consumer_groups([group], request_timeout=10)[group].result()
                if not d.members:
                    return time.time() - t0
            except Exception:
                return time.time() - t0
            time.sleep(0.5)
        raise SystemExit(f"group {group} still has members after {timeout} s")

    def create(self, topic, parts=PARTS, config=None):
        create(self.admin, topic, parts, config)

    def delete_prefix(self, prefix):
        """Deletes every topic whose name starts with prefix (a run's outputs and internal topics)."""
        names = [t for t in self.admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if names:
            for f in self.admin.delete_topics(names, operation_timeout=30).values():
                try:
                    f.result(30)
                except Exception:
                    pass

    def read_all(self, topic):
        """Every record of topic: {partition: [(key bytes, value bytes, timestamp)]}."""
        ends = {p: self.c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                for p in range(self.parts(topic))}
        out = {p: [] for p in ends}
        if sum(ends.values()) == 0:
            return out
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-compare-read-" + uuid.uuid4().hex[:6],
                      "enable.auto.commit": False})
        c.assign([TopicPartition(topic, p, 0) for p in ends if ends[p] > 0])
        left = sum(ends.values())
        deadline = time.time() + 120
        while left > 0 and time.time() < deadline:
            for m in c.consume(1000, 1.0):
                if m.error():
                    continue
                out[m.partition()].append((m.key(), m.value(), m.timestamp()[1]))
                left -= 1
        c.close()
        if left > 0:
            raise SystemExit(f"reading {topic}: {left} records missing")
        return out

    def close(self):
        for c in self.groups.values():
            c.close()
        self.groups = {}
        self.c.close()


def stop(proc, timeout=60):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def kstreamd_cmd(topo, bootstrap, state):
    return [KSTREAMD, "-c", topo, "--set", f"bootstrap.servers={bootstrap}", "--set", f"state.dir={state}",
            "--set", "commit.interval.ms=1000", "--set", "cache.max.bytes=10485760",
            "--set", "num.stream.threads=1", "--set", "processing.guarantee=at_least_once",
            "--set", "log.summary.interval.ms=0", "--set", "query.listen=off"]


def streams_cmd(cls, bootstrap, app, state, topics):
    cp = os.path.join(KS_DIR, "target", "classes") + ":" + os.path.join(KS_DIR, "target", "lib", "*")
    cmd = [JAVA, "-cp", cp, f"bench.{cls}", "--bootstrap", bootstrap, "--app", app, "--state", state]
    for k, v in topics.items():
        cmd += ["--topic", f"{k}={v}"]
    return cmd


# ---------------------------------------------------------------- the data set

def generate(kafka, file, topic, app, count, timestamp, extra_names=None):
    """Runs one of the demo's generator topologies with rate 0, `count` and `timestamp`, until topic holds count."""
    with open(os.path.join(REPO, "topologies", file)) as f:
        text = f.read()
    text = re.sub(r"\n        count: [0-9]+", "", text)
    text = re.sub(r"rate: [0-9]+/s", f"rate: 0\n        count: {count}\n        timestamp: {timestamp}", text)
    names = {**(extra_names or {})}
    text = set_application(retopic(text, names), app)
    path = os.path.join(BIN, f"{app}.yaml")
    with open(path, "w") as f:
        f.write(text)
    logpath = os.path.join(BIN, f"{app}.log")
    with open(logpath, "wb") as logf:
        proc = subprocess.Popen(kstreamd_cmd(path, kafka.bootstrap, os.path.join(BIN, "state-gen")),
                                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + 600
            while kafka.end(topic) < count:
                if proc.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"generating {topic}: kstreamd stopped or too slow; log {logpath}")
                time.sleep(0.2)
        finally:
            stop(proc)
    kafka.delete_prefix(app + "-")


def run_until_caught_up(kafka, file, app, inputs, repartitions, names, what):
    """One kstreamd service over the data set, until its commits reach the end of its inputs (the preload)."""
    with open(os.path.join(REPO, "topologies", file)) as f:
        text = set_application(retopic(f.read(), names), app)
    path = os.path.join(BIN, f"{app}.yaml")
    with open(path, "w") as f:
        f.write(text)
    logpath = os.path.join(BIN, f"{app}.log")
    state = os.path.join(BIN, "state-preload")
    shutil.rmtree(state, ignore_errors=True)
    with open(logpath, "wb") as logf:
        proc = subprocess.Popen(kstreamd_cmd(path, kafka.bootstrap, state), stdout=logf, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.time() + 900
            while not caught_up(kafka, app, inputs, repartitions):
                if proc.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"{what}: kstreamd stopped or too slow; log {logpath}")
                time.sleep(0.3)
        finally:
            stop(proc)
    kafka.forget(app)
    shutil.rmtree(state, ignore_errors=True)


def caught_up(kafka, app, inputs, repartitions, totals=None):
    for t in inputs:
        end = totals[t] if totals else kafka.end(t)
        if kafka.committed(app, t) < end:
            return False
    for r in repartitions:
        end = kafka.end_or_none(f"{app}-{r}-repartition")
        if end is None or kafka.committed(app, f"{app}-{r}-repartition") < end:
            return False
    return True


def make_dataset(kafka, prefix, orders, crm, spacing_ms, order_parts=PARTS):
    """The demo's topics under prefix, made by kstreamd; returns {logical name: actual topic}."""
    logical = ["order-new-v1", "crm-customer-raw-v1", "catalog-product-v1", "crm-customer-v1",
               "customer-order-count-v1", "customer-order-summary-v1", "customer-hourly-revenue-v1",
               "order-enriched-v1", "order-item-enriched-v1", "customer-profile-v1"]
    topics = {n: f"{prefix}-{n}" for n in logical}
    for n, t in topics.items():
        kafka.create(t, 1 if n == "catalog-product-v1" else order_parts if n == "order-new-v1" else PARTS)
    now = int(time.time() * 1000)
    base = now - orders * spacing_ms - 60000
    t0 = time.time()
    # products an hour and a half before the first order, customers an hour before it, then the orders
    generate(kafka, "catalog_seed.yaml", topics["catalog-product-v1"], f"{prefix}-gen-catalog", 10,
             f"{base - 5400000} + $i", topics)
    generate(kafka, "crm_seed.yaml", topics["crm-customer-raw-v1"], f"{prefix}-gen-crm", crm,
             f"{base - 3600000} + $i", topics)
    generate(kafka, "new_orders.yaml", topics["order-new-v1"], f"{prefix}-gen-orders", orders,
             f"{base} + $i * {spacing_ms}", topics)
    log(f"  generated {orders} orders, {crm} raw CRM customers and 10 products in {time.time() - t0:.1f} s")
    t0 = time.time()
    run_until_caught_up(kafka, "crm_customer.yaml", f"{prefix}-pre-crm", [topics["crm-customer-raw-v1"]], [],
                        topics, "preloading crm-customer-v1")
    run_until_caught_up(kafka, "customer_order_count.yaml", f"{prefix}-pre-count", [topics["order-new-v1"]],
                        ["orders-by-customer"], topics, "preloading customer-order-count-v1")
    run_until_caught_up(kafka, "order_enrich.yaml", f"{prefix}-pre-enrich",
                        [topics["order-new-v1"], topics["crm-customer-v1"], topics["customer-order-count-v1"]],
                        ["order-customer"], topics, "preloading order-enriched-v1")
    for p in ("crm", "count", "enrich"):
        kafka.delete_prefix(f"{prefix}-pre-{p}-")
    sizes = {n: kafka.end(t) for n, t in topics.items()}
    log(f"  derived topics by kstreamd in {time.time() - t0:.1f} s: "
        + ", ".join(f"{n} {sizes[n]}" for n in logical[3:]))
    return topics, sizes


# ---------------------------------------------------------------- one run

def start_service(kafka, svc, system, app, out_prefix, data, state, logpath):
    """Starts one system's service; returns (process, {logical output: actual topic})."""
    s = SERVICES[svc]
    outs = {o: f"{out_prefix}-{o}" for o in s["outputs"]}
    for t in outs.values():
        kafka.create(t)
    names = {**{k: data[v] for k, v in s["inputs"].items()},
             **{k: data[v] for k, v in s.get("globals", {}).items()}, **outs}
    logf = open(logpath, "wb")
    if system == "bare":
        cmd = [os.path.join(BIN, "bare"), kafka.bootstrap, names["in"], names["out"], app, "1000"]
    elif system == "kstreamd":
        if "yaml" in s:
            text = s["yaml"]
        else:
            with open(os.path.join(REPO, "topologies", s["file"])) as f:
                text = f.read()
        text = set_application(retopic(text, names), app)
        topo = os.path.join(BIN, f"{app}.yaml")
        with open(topo, "w") as f:
            f.write(text)
        cmd = kstreamd_cmd(topo, kafka.bootstrap, state)
    else:
        cmd = streams_cmd(s["java"], kafka.bootstrap, app, state, names)
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
                            stdin=subprocess.DEVNULL)
    logf.close()
    return proc, outs


def started_at(system, logpath):
    """When the run's processing could start: kstreamd's first `assigned N partitions` log line (its clock,
    HH:MM:SS.mmm UTC), Kafka Streams' first `state RUNNING EPOCH_MS`; None when the log has neither."""
    with open(logpath, errors="replace") as f:
        for line in f:
            m = re.match(r"state RUNNING (\d+)", line)
            if m:
                return int(m.group(1)) / 1000
            t = assigned_time(line)
            if t is not None:
                return t
    return None


def cpu_at(samples, t):
    """The process's CPU seconds at time t, interpolated between the (time, cpu) samples."""
    prev = samples[0]
    for s in samples:
        if s[0] >= t:
            if s[0] == prev[0]:
                return s[1]
            return prev[1] + (s[1] - prev[1]) * (t - prev[0]) / (s[0] - prev[0])
        prev = s
    return samples[-1][1]


def jit_secs(pid):
    """CPU seconds of a JVM's JIT compiler threads ("C1 CompilerThre", "C2 CompilerThre"); 0 for others."""
    total = 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        if comm.startswith(("C1 Compiler", "C2 Compiler")):
            fields = st.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run_service(kafka, svc, system, data, sizes, tag):
    s = SERVICES[svc]
    app = f"cmp-{svc}-{SYS_TAG[system]}-{tag}"
    state = os.path.join(BIN, f"state-{app}")
    shutil.rmtree(state, ignore_errors=True)
    logpath = os.path.join(BIN, f"{app}.log")
    inputs = [data[v] for v in s["inputs"].values()]
    totals = {t: kafka.end(t) for t in inputs}
    n_in = sum(totals.values())
    b0 = broker_cpu()
    t0 = time.time()
    proc, outs = start_service(kafka, svc, system, app, app, data, state, logpath)
    repartitions = [] if system == "bare" else s["repartitions"]
    first_output = None
    samples = [(t0, 0.0)]
    peaks = {"RssAnon": 0.0, "RssFile": 0.0}
    progress = []   # (time, CPU s, committed input records), at each commit check
    out_total, t_last_out = 0, None
    try:
        deadline = t0 + max(900, n_in / 1000)
        last_check = 0.0
        while True:
            now = time.time()
            if proc.poll() is not None:
                raise SystemExit(f"{svc} on {system}: exited with {proc.returncode}; log {logpath}")
            if now > deadline:
                raise SystemExit(f"{svc} on {system}: not done after {now - t0:.0f} s; log {logpath}")
            samples.append((now, cpu_secs(proc.pid)))
            for k in peaks:   # sampled: VmHWM is the peak of their sum, these show which part made it
                peaks[k] = max(peaks[k], status_mb(proc.pid, k))
            if outs:
                n = sum(kafka.end(t) for t in outs.values())
                if n > out_total:
                    out_total, t_last_out = n, time.time()
                    if first_output is None:
                        first_output = t_last_out - t0
            # the commit checks wait for the first output: their first call makes a client for the group, whose
            # tens of milliseconds would be counted in the first output's time
            if now - last_check >= 0.3 and (first_output is not None or not outs):
                last_check = now
                committed = sum(kafka.committed(app, t) for t in inputs)
                progress.append((time.time(), cpu_secs(proc.pid), committed))
                if committed >= n_in and caught_up(kafka, app, inputs, repartitions, totals):
                    break
            time.sleep(0.01 if first_output is None and outs else 0.05)
        t_done = time.time()
        cpu = cpu_secs(proc.pid)
        jit = jit_secs(proc.pid)
        rss = status_mb(proc.pid, "VmHWM")
        # what the resident pages are at done: the heap's, mapped files' (LMDB's map), shared memory's
        rss_kinds = {k: status_mb(proc.pid, k) for k in ("RssAnon", "RssFile", "RssShmem")}
        bcpu = broker_cpu() - b0
    finally:
        stop(proc)
        kafka.forget(app)
    kafka.delete_prefix(app + "-")
    shutil.rmtree(state, ignore_errors=True)
    samples.append((t_done, cpu))
    # from the assignment (the bare pipe logs none: its first output) to the last output landing (a
    # service without outputs: its last commit, up to commit.interval.ms late)
    t_start = started_at(system, logpath) or (t0 + first_output)
    t_end = t_last_out if outs else t_done
    span = t_end - t_start
    # warm: CPU per record over what was left after half the input was committed (nan when a run went
    # from less than half to (nearly) all in one commit: too short to tell)
    half = next((x for x in progress if x[2] >= n_in / 2), None)
    warm = (cpu - half[1]) / (n_in - half[2]) * 1e6 if half and n_in - half[2] >= n_in / 10 else float("nan")
    if warm != warm:
        # too short to tell: a run that short has nothing to warm up; its CPU after the assignment stands in
        warm = (cpu - cpu_at(samples, t_start)) / n_in * 1e6
    return {"warm_us": warm, "svc": svc, "system": system, "in": n_in, "rate": n_in / span, "span": span, "wall": t_done - t0,
            "cpu_us": cpu / n_in * 1e6, "cpu_after_us": (cpu - cpu_at(samples, t_start)) / n_in * 1e6,
            "startup_cpu": cpu_at(samples, t_start), "broker_us": bcpu / n_in * 1e6, "rss": rss, **rss_kinds,
            "peak_anon": peaks["RssAnon"], "peak_file": peaks["RssFile"],
            "jit_us": jit / n_in * 1e6,
            "first_ms": first_output * 1000 if first_output is not None else float("nan")}


# ---------------------------------------------------------------- latency

LAT_RECORD = ('{"crmId":"crm-%d","customerNumber":"c-%d","firstName":"Anna","lastName":"Berg",'
              '"email":"anna.berg@example.com","status":"ACTIVE","vip":%s,'
              '"addresses":[{"type":"HOME","street":"Storgatan 1","zip":"111 22","city":"Stockholm","country":"SE"}],'
              '"contacts":[{"type":"PHONE","value":"+46 70 123 10 10"},{"type":"Email","value":"anna.berg@example.com"}],'
              '"updatedAt":"%d"}')


def run_latency(kafka, svc, system, tag, rate, secs, warmup):
    """The service reading an empty topic; once a probe record has come through, bench/latency.c writes
    rate records/s for secs seconds and measures each one's way through (after the first warmup s)."""
    s = SERVICES[svc]
    app = f"cmp-lat-{svc}-{SYS_TAG[system]}-{tag}"
    src = f"{app}-input"
    kafka.create(src)
    data = {v: src for v in s["inputs"].values()}
    state = os.path.join(BIN, f"state-{app}")
    shutil.rmtree(state, ignore_errors=True)
    logpath = os.path.join(BIN, f"{app}.log")
    proc, outs = start_service(kafka, svc, system, app, app, data, state, logpath)
    out = list(outs.values())[0]
    p = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 1, "partitioner": "murmur2_random",
                  "log_level": 3})
    try:
        deadline = time.time() + 120
        i = 0
        while kafka.end(out) == 0:
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"latency {svc} on {system}: no output; log {logpath}")
            p.produce(src, key=f"crm-{i}", value=LAT_RECORD % (i, i, "false", 0))
            p.flush(5)
            i += 1
            time.sleep(0.1)
        r = subprocess.run([os.path.join(BIN, "latency"), kafka.bootstrap, src, out, str(PARTS), str(rate), str(secs),
                            str(warmup)], capture_output=True, text=True, timeout=secs + 120)
        if r.returncode != 0:
            raise SystemExit(f"latency {svc} on {system}: bench/latency.c failed: {r.stderr}")
        f = r.stdout.split()
        got = dict(zip(f[::2], f[1::2]))
        if proc.poll() is not None:
            raise SystemExit(f"latency {svc} on {system}: exited with {proc.returncode}; log {logpath}")
    finally:
        stop(proc)
        kafka.forget(app)
    kafka.delete_prefix(app + "-")
    shutil.rmtree(state, ignore_errors=True)
    if int(got["measured"]) == 0:
        raise SystemExit(f"latency {svc} on {system}: nothing measured; log {logpath}")
    return {"svc": svc, "system": system, "p50": float(got["p50_ms"]), "p99": float(got["p99_ms"]),
            "max": float(got["max_ms"]), "n": int(got["measured"]), "achieved": int(got["sent"]) / secs,
            "kept_up": got["kept_up"] == "1"}


# ---------------------------------------------------------------- restore

def restore_logged(logpath):
    """(partition, records, ms, end time) of each "restored entry-count[P]: N records in T ms" line: the end
    time is kstreamd's log time (HH:MM:SS.mmm UTC) or the twin's " at EPOCH_MS"."""
    out = []
    day = time.time() // 86400 * 86400
    with open(logpath, errors="replace") as f:
        for line in f:
            m = re.search(r"restored entry-count\[(\d+)\]: (\d+) records in (\d+) ms(?: at (\d+))?", line)
            if not m:
                continue
            if m.group(4):
                end = int(m.group(4)) / 1000
            else:
                h = re.match(r"(\d\d):(\d\d):(\d\d\.\d+) ", line)
                end = day + int(h.group(1)) * 3600 + int(h.group(2)) * 60 + float(h.group(3)) if h else time.time()
            out.append((m.group(1), int(m.group(2)), int(m.group(3)), end))
    return out


def run_restore(kafka, system, tag, n, reps):
    """A one-store service's changelog filled with n entries (as Kafka Streams and kstreamd both write a count
    store's changelog: the key's bytes, the count as 8 bytes big-endian), then restored into an empty state
    directory reps times."""
    app = f"cmp-restore-{SYS_TAG[system]}-{tag}"
    src = f"{app}-input"
    changelog = f"{app}-entry-count-changelog"
    kafka.create(src)
    kafka.create(changelog, PARTS, {"cleanup.policy": "compact"})
    p = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 20, "batch.num.messages": 10000,
                  "queue.buffering.max.messages": 1000000, "log_level": 3})
    t0 = time.time()
    for i in range(n):
        while True:
            try:
                p.produce(changelog, key=f"k-{i:07d}", value=(1 + i % 50).to_bytes(8, "big"), partition=i % PARTS)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    if p.flush(120):
        raise SystemExit(f"restore on {system}: writing the changelog did not finish")
    log(f"    wrote {n} changelog entries for {system} in {time.time() - t0:.1f} s")
    state = os.path.join(BIN, f"state-{app}")
    names = {"in": src}
    if system == "kstreamd":
        topo = os.path.join(BIN, f"{app}.yaml")
        with open(topo, "w") as f:
            f.write(set_application(retopic(RESTORE_COUNT, names), app))
        cmd = kstreamd_cmd(topo, kafka.bootstrap, state)
    else:
        cmd = streams_cmd("RestoreCount", kafka.bootstrap, app, state, names)
    out = []
    for r in range(reps):
        waited = kafka.wait_group_empty(app)
        shutil.rmtree(state, ignore_errors=True)
        logpath = os.path.join(BIN, f"{app}-restore{r}.log")
        with open(logpath, "wb") as logf:
            t0 = time.time()
            proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                deadline = t0 + 600
                while True:
                    done = restore_logged(logpath)
                    if len({d[0] for d in done}) >= PARTS:
                        break
                    if proc.poll() is not None or time.time() > deadline:
                        raise SystemExit(f"restore on {system}: not done; log {logpath}")
                    time.sleep(0.02)
                wall = time.time() - t0
                rss = status_mb(proc.pid, "VmHWM")
            finally:
                stop(proc)
        recs = sum(d[1] for d in done)
        span = max(d[3] for d in done) - min(d[3] - d[2] / 1000 for d in done)
        out.append({"system": system, "wall": wall, "records": recs, "restore_s": span, "rss": rss,
                    "waited": waited})
        log(f"    restore {system} #{r + 1}: {recs} records restored in {span:.2f} s (first partition's start to "
            f"the last one's end, by its log), {wall:.2f} s from the process start; peak RSS {rss:.0f} MB "
            f"(waited {waited:.1f} s for the old member to leave the group first)")
    kafka.forget(app)
    kafka.delete_prefix(app + "-")
    shutil.rmtree(state, ignore_errors=True)
    return out


# ---------------------------------------------------------------- conformance

def parsed(v):
    if v is None:
        return None
    try:
        return json.loads(v)
    except ValueError:
        return ("bytes", v)


def decode_value(topic, v):
    if v is not None and topic.endswith("customer-order-count-v1") and len(v) == 8:
        return int.from_bytes(v, "big", signed=True)
    return parsed(v)


def norm(x):
    """JSON values compared as values: 1 and 1.0 are one number."""
    if isinstance(x, dict):
        return {k: norm(v) for k, v in x.items()}
    if isinstance(x, list):
        return [norm(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if isinstance(x, (int, float)):
        return float(x)
    return x


def compare_topic(name, a, b, final):
    """a, b: {partition: [(key, value, ts)]}; returns a list of problems."""
    problems = []

    def by_key(recs):
        d = {}
        for p, rs in recs.items():
            for k, v, _ in rs:
                d.setdefault((p, k), []).append(norm(decode_value(name, v)))
        return d
    ka, kb = by_key(a), by_key(b)
    na, nb = sum(len(v) for v in a.values()), sum(len(v) for v in b.values())
    if final:
        fa = {k: v[-1] for k, v in ka.items()}
        fb = {k: v[-1] for k, v in kb.items()}
        diff = sorted(k for k in set(fa) | set(fb) if fa.get(k, "<none>") != fb.get(k, "<none>"))
        for k in diff[:3]:
            problems.append(f"{name}: final value of key {k[1]!r} (partition {k[0]}): kstreamd "
                            f"{fa.get(k, '<none>')!r}, Kafka Streams {fb.get(k, '<none>')!r}")
        if diff:
            problems.append(f"{name}: {len(diff)} of {len(set(fa) | set(fb))} keys differ in their final value")
        return problems, f"{len(fa)} keys (final values; {na} vs {nb} records)"
    diff = sorted(k for k in set(ka) | set(kb) if ka.get(k) != kb.get(k))
    for k in diff[:3]:
        va, vb = ka.get(k, []), kb.get(k, [])
        i = next((j for j in range(max(len(va), len(vb))) if j >= len(va) or j >= len(vb) or va[j] != vb[j]), 0)
        problems.append(f"{name}: key {k[1]!r} (partition {k[0]}): {len(va)} vs {len(vb)} records; record {i}: "
                        f"kstreamd {va[i] if i < len(va) else '<none>'!r}, Kafka Streams "
                        f"{vb[i] if i < len(vb) else '<none>'!r}")
    if diff:
        problems.append(f"{name}: {len(diff)} of {len(set(ka) | set(kb))} keys differ")
    return problems, f"{na} vs {nb} records, {len(ka)} keys, record for record"


def conformance(kafka, tag, orders, crm):
    log(f"conformance: a small data set ({orders} orders, {crm} raw CRM customers, 10 products)")
    # One partition of orders: the repartition topic then gets each customer's orders in event-time order
    # whatever the systems' interleaving of input partitions, so no window's result depends on how many
    # late records a run happened to make (5 s apart, 5 min of grace).
    data, sizes = make_dataset(kafka, f"cmp-conf-{tag}", orders, crm, 5000, order_parts=1)
    problems = []
    for svc in ORDER:
        s = SERVICES[svc]
        if not s["outputs"]:
            log(f"  {s['title']}: no output topic: nothing to compare (its stores are not readable from outside)")
            continue
        got = {}
        for system in ("kstreamd", "streams"):
            app = f"cmp-conf-{svc}-{SYS_TAG[system]}-{tag}"
            state = os.path.join(BIN, f"state-{app}")
            shutil.rmtree(state, ignore_errors=True)
            logpath = os.path.join(BIN, f"{app}.log")
            inputs = [data[v] for v in s["inputs"].values()]
            proc, outs = start_service(kafka, svc, system, app, app, data, state, logpath)
            try:
                deadline = time.time() + 300
                while not caught_up(kafka, app, inputs, s["repartitions"]):
                    if proc.poll() is not None or time.time() > deadline:
                        raise SystemExit(f"conformance {svc} on {system}: stopped or too slow; log {logpath}")
                    time.sleep(0.2)
                time.sleep(0.5)
                got[system] = {o: kafka.read_all(t) for o, t in outs.items()}
            finally:
                stop(proc)
                kafka.forget(app)
            kafka.delete_prefix(app + "-")
            shutil.rmtree(state, ignore_errors=True)
        for o in s["outputs"]:
            ps, what = compare_topic(o, got["kstreamd"][o], got["streams"][o], o in s["final"])
            if ps:
                log(f"  MISMATCH {s['title']} {o}: {what}")
                for p in ps:
                    log(f"    {p}")
            else:
                log(f"  ok {s['title']} {o}: {what}")
            problems += ps
            # The comparison itself must catch a difference: one record of kstreamd's output spoilt.
            spoilt = {p: list(rs) for p, rs in got["kstreamd"][o].items()}
            p0 = next((p for p, rs in spoilt.items() if rs), None)
            if p0 is not None:
                k0, v0, t0 = spoilt[p0][-1]
                spoilt[p0][-1] = (k0, b'{"spoilt":true}', t0)
                if not compare_topic(o, spoilt, got["streams"][o], o in s["final"])[0]:
                    problems.append(f"{o}: the comparison did not notice a spoilt record")
                    log(f"  MISMATCH {s['title']} {o}: a spoilt record went unnoticed")
    kafka.delete_prefix(f"cmp-conf-{tag}-")
    return problems


# ---------------------------------------------------------------- report

def med(rs, key):
    vals = [r[key] for r in rs if r.get(key) is not None and r[key] == r[key]]
    return statistics.median(vals) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--conformance-only", action="store_true")
    ap.add_argument("--report", metavar="RESULTS.json", help="only print the tables of an earlier run's results")
    args = ap.parse_args()
    # SIGTERM unwinds like an error, so that each run's `finally` stops the service it started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.report:
        with open(args.report) as f:
            report(json.load(f))
        return
    quick = args.quick
    env = lambda k, d: int(os.environ.get(k, d))  # noqa: E731
    orders = env("BENCH_ORDERS", 20000 if quick else 100000)
    crm = env("BENCH_CRM", 2000 if quick else 25000)
    spacing = env("BENCH_SPACING_MS", 20)
    repeat = env("BENCH_REPEAT", 1 if quick else 3)
    nrestore = env("BENCH_RESTORE", 50000 if quick else 1000000)
    lat_rate = env("BENCH_LAT_RATE", 20000)
    lat_secs = env("BENCH_LAT_SECS", 5 if quick else 10)
    lat_warm = env("BENCH_LAT_WARMUP", 2 if quick else 3)
    conf_orders = env("BENCH_CONFORMANCE_ORDERS", 2000)
    conf_crm = env("BENCH_CONFORMANCE_CRM", 200)
    stages = os.environ.get("BENCH_STAGES", "conformance throughput latency restore").split()
    if args.conformance_only:
        stages = ["conformance"]
    services = os.environ.get("BENCH_SERVICES", " ".join(ORDER)).split()
    systems = os.environ.get("BENCH_SYSTEMS", " ".join(SYSTEMS)).split()
    for name, chosen, known in (("BENCH_SERVICES", services, ORDER), ("BENCH_SYSTEMS", systems, SYSTEMS)):
        if set(chosen) - set(known):
            raise SystemExit(f"{name}: unknown {' '.join(sorted(set(chosen) - set(known)))} (known: {' '.join(known)})")
    kafka = Kafka(os.environ["BENCH_BOOTSTRAP"])
    tag = uuid.uuid4().hex[:6]
    t_all = time.time()
    problems = conformance(kafka, tag, conf_orders, conf_crm) if "conformance" in stages else []
    results = {"conformance": problems, "orders": orders, "crm": crm, "repeat": repeat, "restore_n": nrestore,
               "lat_rate": lat_rate, "lat_secs": lat_secs, "lat_warmup": lat_warm, "runs": [], "latency": [],
               "restore": []}
    if "throughput" in stages:
        log(f"data set: {orders} orders, {crm} raw CRM customers")
        data, sizes = make_dataset(kafka, f"cmp-data-{tag}", orders, crm, spacing)
        results["sizes"] = sizes
        for rep in range(repeat):
            for svc in (x for x in ORDER if x in services):
                for system in (x for x in SYSTEMS if x in systems):
                    if system == "bare" and not SERVICES[svc].get("bare"):
                        continue
                    r = run_service(kafka, svc, system, data, sizes, f"{tag}{rep}")
                    r["rep"] = rep
                    results["runs"].append(r)
                    log(f"  {svc:11s} {system:8s} #{rep + 1}: {r['in']} in, {r['rate']:.0f} rec/s, "
                        f"{r['cpu_us']:.1f} CPU µs/rec ({r['cpu_after_us']:.1f} after start, JIT {r['jit_us']:.1f}, "
                        f"warm {r['warm_us']:.1f}), broker "
                        f"{r['broker_us']:.1f} µs/rec, peak RSS {r['rss']:.0f} MB (at done: heap {r['RssAnon']:.0f}, "
                        f"files {r['RssFile']:.0f}, shared {r['RssShmem']:.0f}; sampled peaks: heap {r['peak_anon']:.0f}, "
                        f"files {r['peak_file']:.0f}), first output {r['first_ms']:.0f} ms")
        kafka.delete_prefix(f"cmp-data-{tag}-")
    if "latency" in stages:
        for rep in range(repeat):
            for svc in (x for x in ("passthrough", "crm") if x in services):
                for system in (x for x in SYSTEMS if x in systems):
                    if system == "bare" and not SERVICES[svc].get("bare"):
                        continue
                    r = run_latency(kafka, svc, system, f"{tag}{rep}", lat_rate, lat_secs, lat_warm)
                    results["latency"].append(r)
                    log(f"  latency {svc:11s} {system:8s} #{rep + 1}: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms "
                        f"({r['n']} records, produced at {r['achieved']:.0f}/s)"
                        + ("" if r["kept_up"] else "; FELL BEHIND: the last records had not come out 30 s later"))
    if "restore" in stages:
        log(f"restore: {nrestore} keys")
        for system in ("kstreamd", "streams"):
            results["restore"] += run_restore(kafka, system, tag, nrestore, repeat)
    if results["runs"] or results["latency"] or results["restore"]:
        report(results)
    kafka.close()
    os.makedirs(BIN, exist_ok=True)
    with open(os.path.join(BIN, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    log(f"\nbench/compare: {time.time() - t_all:.0f} s in all; results in {os.path.join(BIN, 'results.json')}")
    if problems:
        log(f"\nCONFORMANCE MISMATCH: {len(problems)} problem(s) above: kstreamd and Kafka Streams disagree")
        log("compare: 0 passed, 1 failed")
        sys.exit(1)
    log("compare: 1 passed, 0 failed")


def report(res):
    runs, lats, restores = res["runs"], res["latency"], res["restore"]
    if not (runs and lats and restores):
        print("\n(a stage was left out: no report table)")
        print(json.dumps({k: res[k] for k in ("runs", "latency", "restore")}, indent=1))
        return
    names = {"bare": "bare pipe", "kstreamd": "kstreamd", "streams": "Kafka Streams"}
    print()
    print(f"Medians of {res['repeat']} run(s). Data set: {res['orders']} orders, {res['crm']} raw CRM customers.")
    print("| service | system | input records | rec/s | CPU µs/rec | after start | of which JIT | warm "
          "| broker CPU µs/rec | peak RSS MB | first output ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for svc in ORDER:
        for system in SYSTEMS:
            rs = [r for r in runs if r["svc"] == svc and r["system"] == system]
            if not rs:
                continue
            print(f"| {SERVICES[svc]['title']} | {names[system]} | {rs[0]['in']} | {med(rs, 'rate'):,.0f} "
                  f"| {med(rs, 'cpu_us'):.1f} | {med(rs, 'cpu_after_us'):.1f} | {med(rs, 'jit_us'):.1f} "
                  f"| {med(rs, 'warm_us'):.1f} "
                  f"| {med(rs, 'broker_us'):.1f} "
                  f"| {med(rs, 'rss'):.0f} | {med(rs, 'first_ms'):.0f} |")
    print()
    print(f"End-to-end latency at {res['lat_rate']} records/s ({res['lat_secs']} s per run):")
    print("| service | system | p50 ms | p99 ms | runs that kept up |")
    print("|---|---|---:|---:|---:|")
    for svc in ("passthrough", "crm"):
        for system in SYSTEMS:
            rs = [r for r in lats if r["svc"] == svc and r["system"] == system]
            if rs:
                print(f"| {SERVICES[svc]['title']} | {names[system]} | {med(rs, 'p50'):.1f} | {med(rs, 'p99'):.1f} "
                      f"| {sum(1 for r in rs if r.get('kept_up', True))} of {len(rs)} |")
    print()
    print(f"Restore of a {res['restore_n']}-entry store into an empty state directory:")
    print("| system | restore s (first start to last end) | process start to restored, s | peak RSS MB |")
    print("|---|---:|---:|---:|")
    for system in ("kstreamd", "streams"):
        rs = [r for r in restores if r["system"] == system]
        print(f"| {names[system]} | {med(rs, 'restore_s'):.2f} | {med(rs, 'wall'):.2f} | {med(rs, 'rss'):.0f} |")
    print()
    print("Ratios (Kafka Streams / kstreamd; rec/s: kstreamd / Kafka Streams):")
    print("| service | rec/s | CPU µs/rec | CPU warm | peak RSS | first output | p99 latency |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for svc in ORDER:
        kd = [r for r in runs if r["svc"] == svc and r["system"] == "kstreamd"]
        ks = [r for r in runs if r["svc"] == svc and r["system"] == "streams"]
        lk = [r for r in lats if r["svc"] == svc and r["system"] == "kstreamd"]
        ls = [r for r in lats if r["svc"] == svc and r["system"] == "streams"]
        p99 = f"{med(ls, 'p99') / med(lk, 'p99'):.1f}×" if lk else "—"
        fo = f"{med(ks, 'first_ms') / med(kd, 'first_ms'):.1f}×" if SERVICES[svc]["outputs"] else "—"
        print(f"| {SERVICES[svc]['title']} | {med(kd, 'rate') / med(ks, 'rate'):.1f}× | "
              f"{med(ks, 'cpu_us') / med(kd, 'cpu_us'):.1f}× | {med(ks, 'warm_us') / med(kd, 'warm_us'):.1f}× | "
              f"{med(ks, 'rss') / med(kd, 'rss'):.1f}× | {fo} | {p99} |")
    rk = [r for r in restores if r["system"] == "kstreamd"]
    rs = [r for r in restores if r["system"] == "streams"]
    print(f"| restore of {res['restore_n']} entries | {med(rs, 'restore_s') / med(rk, 'restore_s'):.1f}× faster "
          f"(from the process start: {med(rs, 'wall') / med(rk, 'wall'):.1f}×) | | | | | |")


if __name__ == "__main__":
    main()
