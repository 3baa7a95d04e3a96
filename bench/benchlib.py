"""Helpers shared by the benchmarks' run.py: process CPU and memory from /proc, and topic creation."""
import os
import time

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
