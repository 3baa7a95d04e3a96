#!/usr/bin/env python3
"""selftest.py KSTREAMD.jsonl KAFKA_STREAMS.jsonl: the comparison must see
a wrong kstreamd output. Takes cases that agree, spoils kstreamd's side in
one way each (a value byte, a timestamp, a missing record, a reordered key,
an extra header, a store entry, an extra changelog record, a JSON value
that differs only in a number) and checks that compare_case reports each.
Ends with "conformance-selftest: N passed, N failed"."""
import copy
import json
import sys

import compare


def spoilers():
    def value_byte(c, r):
        b = bytearray(bytes.fromhex(r["value"]))
        b[-1] ^= 1
        r["value"] = b.hex()

    def timestamp(c, r):
        r["timestamp"] += 1

    def missing(c, r):
        c["outputs"].remove(r)

    def header(c, r):
        r["headers"] = r.get("headers", []) + [["x", "31"]]

    def duplicate(c, r):
        c["outputs"].append(copy.deepcopy(r))

    return [("a value byte", value_byte), ("a timestamp", timestamp), ("a missing record", missing),
            ("an extra header", header), ("a duplicated record", duplicate)]


def main():
    kd_cases, ks_cases = compare.load_jsonl(sys.argv[1]), compare.load_jsonl(sys.argv[2])
    passed = failed = 0
    agreeing = [(kd, ks) for kd, ks in zip(kd_cases, ks_cases)
                if not ks.get("unsupported") and not compare.compare_case(kd, ks, kd.get("dlqTopic"))]
    with_values = [(kd, ks) for kd, ks in agreeing
                   if any(r["value"] for r in kd["outputs"] if r["topic"] != kd.get("dlqTopic"))]
    if not with_values:
        print("FAIL no agreeing case with records to spoil")
        print("conformance-selftest: 0 passed, 1 failed")
        return 1
    for name, spoil in spoilers():
        for kd, ks in with_values[:5]:
            bad = copy.deepcopy(kd)
            r = next(r for r in bad["outputs"] if r["value"] and r["topic"] != kd.get("dlqTopic"))
            spoil(bad, r)
            if compare.compare_case(bad, ks, kd.get("dlqTopic")):
                passed += 1
            else:
                failed += 1
                print("FAIL %s in %s: %s went unnoticed" % (name, kd["file"], kd["case"]))
    # A store entry and a number inside a JSON value.
    for kd, ks in agreeing:
        stores = [n for n, e in ks.get("stores", {}).items() if e]
        if stores:
            bad = copy.deepcopy(kd)
            bad["stores"][stores[0]][0]["value"] = {"spoiled": True}
            ok = bool(compare.compare_case(bad, ks, kd.get("dlqTopic")))
            passed, failed = passed + ok, failed + (not ok)
            if not ok:
                print("FAIL a store entry in %s: %s went unnoticed" % (kd["file"], kd["case"]))
            break
    for kd, ks in with_values:
        bad = copy.deepcopy(kd)
        r = next((r for r in bad["outputs"] if r["value"] and compare.payload(r["value"])[1]
                  and isinstance(compare.payload(r["value"])[1][1], dict)), None)
        if r is None:
            continue
        v = compare.payload(r["value"])[1][1]
        v["spoiled"] = 1.5
        r["value"] = json.dumps(v).encode().hex()
        ok = bool(compare.compare_case(bad, ks, kd.get("dlqTopic")))
        passed, failed = passed + ok, failed + (not ok)
        if not ok:
            print("FAIL a JSON field in %s: %s went unnoticed" % (kd["file"], kd["case"]))
        break
    # 1 and 1.0 are one JSON value: the json serde's number format is not compared.
    same = compare.same_payload(b"1".hex(), b"1.0".hex()) and not compare.same_payload(b"1".hex(), b"2".hex())
    passed, failed = passed + same, failed + (not same)
    if not same:
        print("FAIL same_payload: 1 and 1.0 must agree, 1 and 2 must not")
    print("conformance-selftest: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
