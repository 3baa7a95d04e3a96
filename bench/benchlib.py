"""Helpers shared by the benchmarks' run.py: process CPU and memory from /proc, topic creation, topics' end
offsets and groups' committed offsets, and kstreamd's log times."""
import os
import re
import time
import uuid

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import NewTopic

TICK = os.sysconf("SC_CLK_TCK")


def cpu_secs(pid):
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def broker_cpu():
    """The broker's CPU seconds (bench/broker.sh exports its pid as BENCH_BROKER_PID); NaN when it is not known."""
    try:
        return cpu_secs(int(os.environ.get("BENCH_BROKER_PID", "")))
    except (ValueError, OSError):
        return float("nan")


def status_mb(pid, field):
    """A /proc/<pid>/status size field (VmHWM, RssAnon, RssFile...) in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def create(admin, name, parts, config=None):
    """Creates a topic and waits until every partition has a leader."""
    fs = admin.create_topics([NewTopic(name, parts, 1, config=config or {})], operation_timeout=30)
    fs[name].result(timeout=30)
    deadline = time.time() + 30
    while time.time() < deadline:
        t = admin.list_topics(name, timeout=10).topics.get(name)
        if t and t.error is None and len(t.partitions) == parts and all(p.leader >= 0 for p in t.partitions.values()):
            return
        time.sleep(0.1)


class Offsets:
    """End offsets of topics and committed offsets of groups, over `parts` partitions each."""

    def __init__(self, bootstrap, parts):
        self.bootstrap = bootstrap
        self.parts = parts
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-offsets-" + uuid.uuid4().hex[:6]})
        self.groups = {}

    def end(self, topic):
        try:
            return sum(self.c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
                       for p in range(self.parts))
        except Exception:
            return None

    def committed(self, group, topic):
        # one client per group, kept: a new one would spend ~1 s finding the coordinator on every check
        if group not in self.groups:
            self.groups[group] = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            tps = self.groups[group].committed([TopicPartition(topic, p) for p in range(self.parts)], timeout=10)
            return sum(max(tp.offset, 0) for tp in tps)
        except Exception:
            return 0

    def close(self):
        for c in self.groups.values():
            c.close()
        self.groups = {}
        self.c.close()


def assigned_time(line):
    """The time (epoch s) of a kstreamd `assigned N partitions` log line (HH:MM:SS.mmm, UTC, today), or None."""
    m = re.match(r"(\d\d):(\d\d):(\d\d\.\d+) .*: assigned \d+ partitions", line)
    if not m:
        return None
    day = time.time() // 86400 * 86400
    t = day + int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return t - 86400 if t > time.time() + 60 else t


def assigned_at(logpath):
    """The time of kstreamd's first `assigned N partitions` log line, or None."""
    with open(logpath, errors="replace") as f:
        for line in f:
            t = assigned_time(line)
            if t is not None:
                return t
    return None
