#!/usr/bin/env python3
"""Validate the structure of the jq-style .test corpus files and count cases.

Format: '#' lines are comments, blank lines separate cases. A case is a program
line, an input line (one JSON value), then zero or more expected-output lines
(one JSON value each, as printed by `jq -c`), terminated by a blank line.

Blocks starting with a '%%FAIL' line (program + expected error text, added by
hand for the native engine) run up to the next blank line; they are counted
separately and not validated as JSON. Other '%%' lines are directives. Files
with a '%%NATIVE_ONLY' line are not jq-1.6-checked, so the 2^53 rule is not
applied to them.

Usage: check.py [FILE.test ...]   (default: every *.test next to this script)
Exit status is non-zero if any problem is found.
"""
import glob
import json
import os
import sys

LIMIT = 2 ** 53


def big_ints(v):
    """Yield integer literals whose magnitude exceeds 2^53."""
    if isinstance(v, bool):
        return
    if isinstance(v, int):
        if abs(v) > LIMIT:
            yield v
    elif isinstance(v, float):
        # integral floats in the int64 range above 2^53 (e.g. 1e17) are the
        # deliberate int64-vs-double difference; 1e100 and the like are fine.
        if v == v and abs(v) != float("inf") and v == int(v) and LIMIT < abs(v) < 2.0 ** 64:
            yield v
    elif isinstance(v, list):
        for x in v:
            yield from big_ints(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from big_ints(x)


def parse_json(s):
    def bad_const(c):
        raise ValueError("non-standard constant %s" % c)
    return json.loads(s, parse_constant=bad_const)


def check_file(path):
    errors = []
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return 0, ["%s: not valid UTF-8: %s" % (path, e)]
    if "\r" in text:
        errors.append("%s: contains CR characters" % path)
    if text and not text.endswith("\n"):
        errors.append("%s: does not end with a newline" % path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    cases = 0
    fails = 0
    native_only = "%%NATIVE_ONLY" in lines
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        if line == "" or line.startswith("#"):
            i += 1
            continue
        if line.startswith("%%FAIL"):
            fails += 1
            i += 1
            if i >= n or lines[i] == "":
                errors.append("%s:%d: %%%%FAIL block without a program" % (path, i))
            while i < n and lines[i] != "":
                i += 1
            continue
        if line.startswith("%%"):
            i += 1
            continue
        start = i + 1
        prog = line
        if prog != prog.strip():
            errors.append("%s:%d: program has leading/trailing whitespace" % (path, start))
        block = []
        i += 1
        while i < n and lines[i] != "":
            block.append((i + 1, lines[i]))
            i += 1
        if i >= n:
            errors.append("%s:%d: case is not terminated by a blank line" % (path, start))
        if not block:
            errors.append("%s:%d: case has no input line" % (path, start))
            continue
        for ln, l in block:
            if l.startswith("#"):
                errors.append("%s:%d: comment line inside a case" % (path, ln))
            try:
                v = parse_json(l)
            except ValueError as e:
                errors.append("%s:%d: not a JSON value: %s (%s)" % (path, ln, l, e))
                continue
            if l != l.strip():
                errors.append("%s:%d: leading/trailing whitespace" % (path, ln))
            for b in ([] if native_only else big_ints(v)):
                errors.append("%s:%d: integer above 2^53: %r" % (path, ln, b))
        cases += 1
    return cases, fails, native_only, errors


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    files = argv[1:] or sorted(glob.glob(os.path.join(here, "*.test")))
    total = total_fail = total_native = 0
    all_errors = []
    for f in files:
        c, nf, native, errs = check_file(f)
        if native:
            total_native += c
        else:
            total += c
        total_fail += nf
        all_errors += errs
        extra = []
        if nf:
            extra.append("%d %%%%FAIL" % nf)
        if native:
            extra.append("native-only")
        if errs:
            extra.append("%d problems" % len(errs))
        print("%-28s %4d cases%s" % (os.path.basename(f), c, "  (" + ", ".join(extra) + ")" if extra else ""))
    sys.stdout.flush()
    for e in all_errors:
        print("ERROR: " + e, file=sys.stderr)
    print("TOTAL %d jq-1.6-checked cases, %d native-only cases, %d %%%%FAIL blocks, in %d files"
          % (total, total_native, total_fail, len(files)))
    return 1 if all_errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
