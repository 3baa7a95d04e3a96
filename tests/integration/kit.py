"""Helpers for the integration tests: producing, reading topics, murmur2, topologies."""
import json
import os
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---------------------------------------------------------------- clients

def producer(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5,
            "enable.idempotence": True}
    conf.update(extra)
    return Producer(conf)


def produce_all(bootstrap, topic, records, **extra):
    """records: iterable of (key, value_bytes, timestamp_ms or None, headers or None).
    Returns a list of (partition, offset) per record, in order."""
    p = producer(bootstrap, **extra)
    out = []

    def cb_for(i):
        def cb(err, msg):
            if err is not None:
                raise RuntimeError(f"delivery failed: {err}")
            out.append((i, msg.partition(), msg.offset()))
        return cb

    for i, (k, v, ts, hdrs) in enumerate(records):
        kw = {}
        if ts is not None:
            kw["timestamp"] = ts
        if hdrs:
            kw["headers"] = hdrs
        while True:
            try:
                p.produce(topic, key=k, value=v, on_delivery=cb_for(i), **kw)
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(30)
    assert left == 0, f"{left} records not delivered to {topic}"
    where = [None] * len(out)
    for i, part, off in out:
        where[i] = (part, off)
    return where


class Reader:
    """Reads a topic from the beginning (all partitions, no consumer group)."""

    def __init__(self, bootstrap, topic, admin=None):
        self.topic = topic
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-reader-" + uuid.uuid4().hex[:8],
                           "enable.auto.commit": False, "enable.partition.eof": False,
                           "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100})
        md = self.c.list_topics(topic, timeout=10)
        t = md.topics[topic]
        assert t.error is None, f"{topic}: {t.error}"
        self.partitions = sorted(t.partitions)
        self.c.assign([TopicPartition(topic, p, 0) for p in self.partitions])
        self.records = []

    def poll(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            ms = self.c.consume(num_messages=2000, timeout=min(0.2, max(0.01, deadline - time.time())))
            for m in ms:
                if m.error():
                    raise AssertionError(f"reading {self.topic}: {m.error()}")
                self.records.append(m)
        return self.records

    def until(self, pred, timeout):
        """Polls until pred(records) is true; returns True, or False at the timeout."""
        deadline = time.time() + timeout
        while True:
            if pred(self.records):
                return True
            if time.time() > deadline:
                return False
            self.poll(0.25)

    def high_watermarks(self):
        return {p: self.c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1] for p in self.partitions}

    def to_end(self, timeout=30):
        """Reads until every partition is read up to its current high watermark."""
        hw = self.high_watermarks()
        deadline = time.time() + timeout
        while True:
            seen = {}
            for m in self.records:
                seen[m.partition()] = max(seen.get(m.partition(), -1), m.offset())
            if all(seen.get(p, -1) >= hw[p] - 1 for p in self.partitions if hw[p] > 0):
                return self.records
            if time.time() > deadline:
                raise AssertionError(f"{self.topic}: not read to the end ({seen} vs {hw})")
            self.poll(0.25)

    def close(self):
        self.c.close()


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2)."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(length // 4):
        k = int.from_bytes(data[i * 4:i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra, idx = length % 4, length & ~3
    if extra == 3:
        h ^= data[idx + 2] << 16
    if extra >= 2:
        h ^= data[idx + 1] << 8
    if extra >= 1:
        h ^= data[idx]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key: bytes, n: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % n


def canon(value_bytes):
    """A JSON value as a canonical string (for multiset comparison)."""
    return json.dumps(json.loads(value_bytes), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def write_topology(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def crm_topology(tmp_path, app, raw, out):
    """topologies/crm_customer.yaml with its application and topics renamed."""
    with open(os.path.join(REPO, "topologies", "crm_customer.yaml")) as f:
        text = f.read()
    text = text.replace("crm-customer-raw-v1", raw).replace("crm-customer-v1", out)
    text = text.replace("crm-customer-service", app)
    return write_topology(tmp_path, "crm_customer.yaml", text)
