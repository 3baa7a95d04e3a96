#!/usr/bin/env python3
"""
bench/first_output.py: how long a stateless kstreamd service takes from its start to its first output record,
with records waiting. A passthrough of a 3-partition topic holding BENCH_RECORDS (1,000) records; each run is a
new application (a new group, no committed offsets, no dead-letter topic yet) unless --restart, which runs one
application again and again, each time with new records waiting (its offsets committed, its topics there).

The clock starts just before the process is spawned and stops when the output topic's high watermarks move
(polled every 5 ms, one request per partition): the time includes the spawn and up to one poll.

  bench/first_output.py [--runs N] [--restart]      # --restart: N runs after a first one, not counted      # the broker: $KSTREAMD_BOOTSTRAP, else the running tests/kafka/broker
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KSTREAMD = os.environ.get("KSTREAMD", os.path.join(REPO, "kstreamd"))
TOPOLOGY = """\
application: {app}
topics:
  defaults: {{key: string, value: json}}
pipelines:
  pipe:
    from: {src}
    to: {out}
"""


def produce(bootstrap, topic, n):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i in range(n):
        p.produce(topic, key=f"k-{i}", value='{"i":%d}' % i)
    assert p.flush(30) == 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--restart", action="store_true", help="one application, run again with new records")
    args = ap.parse_args()
    bootstrap = os.environ.get("KSTREAMD_BOOTSTRAP") or subprocess.run(
        [os.path.join(REPO, "tests", "kafka", "broker"), "bootstrap"], capture_output=True, text=True,
        check=True).stdout.split()[-1]
    n = int(os.environ.get("BENCH_RECORDS", 1000))
    tag = uuid.uuid4().hex[:6]
    src, out = f"first-output-in-{tag}", f"first-output-out-{tag}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(src, 3, 1), NewTopic(out, 3, 1)]).values():
        f.result(timeout=30)
    wm = Consumer({"bootstrap.servers": bootstrap, "group.id": f"first-output-wm-{tag}"})

    def end():
        return sum(wm.get_watermark_offsets(TopicPartition(out, p), timeout=10, cached=False)[1] for p in range(3))

    produce(bootstrap, src, n)
    tmp = tempfile.mkdtemp(prefix="first-output-")
    apps = []
    times = []
    try:
        for run in range(args.runs + (1 if args.restart else 0)):
            app = f"first-output-{tag}" + ("" if args.restart else f"-{run}")
            if app not in apps:
                apps.append(app)
            topo = os.path.join(tmp, f"{app}.yaml")
            with open(topo, "w") as f:
                f.write(TOPOLOGY.format(app=app, src=src, out=out))
            if args.restart and run > 0:
                produce(bootstrap, src, n)
            before = end()
            log = open(os.path.join(tmp, f"{app}-{run}.log"), "w")
            t0 = time.time()
            proc = subprocess.Popen([KSTREAMD, "-c", topo, "--set", f"bootstrap.servers={bootstrap}",
                                     "--set", f"state.dir={tmp}/state-{app}", "--set", "query.listen=off",
                                     "--set", "log.summary.interval.ms=0"], stdout=log, stderr=subprocess.STDOUT)
            while end() == before:
                if proc.poll() is not None or time.time() - t0 > 30:
                    sys.exit(f"run {run}: no output (log {log.name})")
                time.sleep(0.005)
            ms = (time.time() - t0) * 1000
            if not (args.restart and run == 0):   # a restart's first run is a new application's
                times.append(ms)
            # the records are through before the next run (a restart then finds them committed)
            deadline = time.time() + 30
            while end() - before < n and time.time() < deadline:
                time.sleep(0.05)
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
            print(f"run {run + 1}: first output {ms:.0f} ms")
    finally:
        wm.close()
        admin.delete_topics([src, out] + [f"{a}-dlq" for a in apps])
    times.sort()
    print(f"first_output: {len(times)} runs ({'restarted' if args.restart else 'new applications'}), "
          f"min {times[0]:.0f} ms, median {times[len(times) // 2]:.0f} ms, max {times[-1]:.0f} ms")


if __name__ == "__main__":
    main()
