#!/usr/bin/env python3
"""compare.py KSTREAMD.jsonl KAFKA_STREAMS.jsonl NOT_COMPARABLE.yaml

Compares, case by case, what kstreamd wrote (`kstreamd test --trace`) with
what Kafka Streams' TopologyTestDriver wrote for the same inputs
(harness/Conformance.java): the records of every topic, internal ones
included, in order within each key (key and value bytes, timestamps,
headers); the stores' contents; and, once per topology file, kstreamd's
--dump-topology ($KSTREAMD) against Topology#describe(). Payloads
whose bytes differ but which are the same JSON value (1.0 and 1) agree:
the json serde's number formatting is not what is being compared.

A case listed in NOT_COMPARABLE.yaml (file, case, reason) is reported as
not comparable with its reason; a case that cannot be compared but is not
listed (the translation refused it, it uses partitions other than 0) is a
difference. Prints a diff per difference and ends with the line
`conformance: N agree, N differ, N not comparable`.
"""
import difflib
import json
import os
import re
import subprocess
import sys

DLQ_NOTE = "dead-letter records: their format is kstreamd's own, only their number is compared"


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_not_comparable(path):
    """The list: `- {file: F, case: NAME or '*', reason: WHY}` entries, read without a YAML library."""
    entries, cur = [], None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            if s.startswith("- "):
                cur = {}
                entries.append(cur)
                s = s[2:].strip()
            if cur is None or ":" not in s:
                raise SystemExit("%s: cannot read line: %s" % (path, line))
            k, v = s.split(":", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                v = v[1:-1]
            cur[k.strip()] = v
    for e in entries:
        if not e.get("file") or not e.get("case") or not e.get("reason"):
            raise SystemExit("%s: every entry needs file, case and reason: %s" % (path, e))
    return entries


def payload(hexs):
    """(bytes or None, a JSON value when the bytes are JSON text)."""
    if hexs is None:
        return None, None
    b = bytes.fromhex(hexs)
    try:
        return b, ("json", json.loads(b.decode("utf-8")))
    except (ValueError, UnicodeDecodeError):
        return b, None


def same_payload(a, b):
    ba, ja = payload(a)
    bb, jb = payload(b)
    if ba == bb:
        return True
    return ja is not None and jb is not None and ja == jb


def show(hexs):
    if hexs is None:
        return "null"
    b = bytes.fromhex(hexs)
    try:
        t = b.decode("utf-8")
        if t.isprintable():
            return repr(t)
    except UnicodeDecodeError:
        pass
    return "0x" + hexs


def rec_text(r):
    hs = "".join(" %s=%s" % (h[0], show(h[1])) for h in r.get("headers", []))
    return "key %s value %s ts %s%s" % (show(r["key"]), show(r["value"]), r["timestamp"], hs)


def same_record(a, b):
    return (same_payload(a["key"], b["key"]) and same_payload(a["value"], b["value"])
            and a["timestamp"] == b["timestamp"]
            and [(h[0], h[1]) for h in a.get("headers", [])] == [(h[0], h[1]) for h in b.get("headers", [])])


def key_of(r):
    b, j = payload(r["key"])
    return json.dumps(j[1], sort_keys=True) if j else repr(b)


def compare_topic(kd, ks):
    """Differences between two record lists of one topic: order counts within a key only."""
    if len(kd) == len(ks) and all(same_record(a, b) for a, b in zip(kd, ks)):
        return []
    by_key = {}
    for side, recs in (("kd", kd), ("ks", ks)):
        for r in recs:
            by_key.setdefault(key_of(r), {"kd": [], "ks": []})[side].append(r)
    if all(len(v["kd"]) == len(v["ks"]) and all(same_record(a, b) for a, b in zip(v["kd"], v["ks"]))
           for v in by_key.values()):
        return []
    out = []
    n = max(len(kd), len(ks))
    for i in range(n):
        a = rec_text(kd[i]) if i < len(kd) else "-"
        b = rec_text(ks[i]) if i < len(ks) else "-"
        mark = " " if i < len(kd) and i < len(ks) and same_record(kd[i], ks[i]) else "!"
        out.append("   %s kstreamd:      %s\n     Kafka Streams: %s" % (mark, a, b))
    return out


def canon_entries(entries):
    return sorted(json.dumps(e, sort_keys=True) for e in entries)


def generator_failure(r):
    """A dead letter of a generate source's own expressions (kstreamd's error names `... of generate`)."""
    for h in r.get("headers", []):
        if h[0] == "kstreamd.error" and h[1] and b" of generate (" in bytes.fromhex(h[1]):
            return True
    return False


def compare_case(kd, ks, dlq_topic):
    diffs = []
    if ks.get("error"):
        return ["Kafka Streams failed: " + ks["error"]]
    topics = sorted({r["topic"] for r in kd["outputs"]} | {r["topic"] for r in ks["outputs"]})
    for t in topics:
        a = [r for r in kd["outputs"] if r["topic"] == t]
        b = [r for r in ks["outputs"] if r["topic"] == t]
        if t == dlq_topic:
            # A generator's own dead letters (a record its expressions could not make) never reach Kafka Streams.
            a = [r for r in a if not generator_failure(r)]
            if len(a) != len(b):
                diffs.append("topic %s (%s): kstreamd wrote %d, Kafka Streams %d" % (t, DLQ_NOTE, len(a), len(b)))
            continue
        d = compare_topic(a, b)
        if d:
            diffs.append("topic %s: %d records from kstreamd, %d from Kafka Streams" % (t, len(a), len(b)))
            diffs += d
    for name, entries in sorted(ks.get("stores", {}).items()):
        mine = kd.get("stores", {}).get(name)
        if mine is None:
            diffs.append("store %s: kstreamd has no such store" % name)
        elif canon_entries(mine) != canon_entries(entries):
            diffs.append("store %s:\n     kstreamd:      %s\n     Kafka Streams: %s"
                         % (name, json.dumps(mine, sort_keys=True), json.dumps(entries, sort_keys=True)))
    return diffs


def main():
    kd_path, ks_path, nc_path = sys.argv[1:4]
    kstreamd = os.environ.get("KSTREAMD", "./kstreamd")
    kd_cases, ks_cases = load_jsonl(kd_path), load_jsonl(ks_path)
    for c in kd_cases + ks_cases:
        c["file"] = os.path.relpath(c["file"])
    listed = load_not_comparable(nc_path)
    used = set()
    agree = differ = nc = 0

    def listed_reason(c):
        for i, e in enumerate(listed):
            if e["file"] == c["file"] and e["case"] in ("*", c["case"]):
                used.add(i)
                return e["reason"]
        return None

    if len(kd_cases) != len(ks_cases):
        print("FAIL the two sides ran %d and %d cases" % (len(kd_cases), len(ks_cases)))
        differ += 1
    for kd, ks in zip(kd_cases, ks_cases):
        title = "%s:%s: %s" % (kd["file"], kd["line"], kd["case"])
        reason = listed_reason(kd)
        if reason:
            nc += 1
            print("n/c  %s (%s)" % (title, reason))
            continue
        why = []
        if ks.get("unsupported"):
            why.append("not comparable, but not listed in %s: %s" % (os.path.basename(nc_path), ks["unsupported"]))
        elif any(i.get("partition", 0) != 0 for i in kd["inputs"] if "topic" in i):
            why.append("not comparable, but not listed: inputs on partitions other than 0 (the test driver has one)")
        elif bool(kd.get("stopped")) != bool(ks.get("stopped")):
            why.append("kstreamd %s, Kafka Streams %s" % ("stopped: " + kd["stopped"] if kd.get("stopped") else "did not stop",
                                                         "failed: " + ks["stopped"] if ks.get("stopped") else "did not fail"))
        else:
            dlq = kd.get("dlqTopic") or ks.get("dlqTopic")
            why = compare_case(kd, ks, dlq)
        if why:
            differ += 1
            print("FAIL %s" % title)
            for w in why:
                print("   " + w)
        else:
            agree += 1
            print("ok   %s" % title)
    # --dump-topology against Topology#describe(), once per topology file.
    seen = {}
    for kd, ks in zip(kd_cases, ks_cases):
        if "describe" in ks and kd["topology"] not in seen:
            seen[kd["topology"]] = ks["describe"]
    for topo, want in sorted(seen.items()):
        got = subprocess.run([kstreamd, "-c", topo, "--dump-topology"], capture_output=True, text=True).stdout
        # A dynamic sink's extractor: Kafka Streams names the Java class (a lambda's, here), kstreamd the jq.
        want = re.sub(r"\(extractor class: [^)]*\)", "(extractor class: ...)", want)
        got = re.sub(r"\(extractor class: jq `.*`\)$", "(extractor class: ...)", got, flags=re.M)
        if got == want:
            agree += 1
            print("ok   %s: --dump-topology" % os.path.relpath(topo))
        else:
            differ += 1
            print("FAIL %s: --dump-topology differs from Topology#describe()" % os.path.relpath(topo))
            sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                       "Kafka Streams", "kstreamd"))
    for i, e in enumerate(listed):
        if i not in used:
            print("FAIL %s: %s is listed as not comparable but ran no such case" % (e["file"], e["case"]))
            differ += 1
    print("conformance: %d agree, %d differ, %d not comparable" % (agree, differ, nc))
    print("conformance: %d passed, %d failed" % (agree, differ))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
