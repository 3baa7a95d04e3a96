#!/usr/bin/env python3
"""bench/expr_process.py: `kstreamd eval` against `jq -c` as whole processes.

For each of the four programs of bench/expr.c (filter, mapValues,
flatMapValues, selectKey), both commands read the same BENCH_RECORDS
(default 100,000) orders from a file on standard input and write into a pipe
this script drains, as `kstreamd eval P < orders | ...` runs for a user.
Their outputs are first checked byte-identical (the benchmark fails
otherwise). Each command then runs BENCH_RUNS times (default 5), alternating;
the table gives the fastest run of each, by the process's CPU time
(user + system, from wait4) and by wall time, and their ratios.

Usage: bench/expr_process.py [KSTREAMD]   (make bench-expr runs it after bench/expr)
"""
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

PROGS = [
    ("filter", 'select(.status == "NEW")'),
    ("mapValues", "{id: .orderId, customer: .customerId, total: ([.items[] | .qty * .price] | add)}"),
    ("flatMapValues", ".orderId as $o | .items[] | {orderId: $o, sku}"),
    ("selectKey", ".customerId"),
]


def orders(n):
    """n orders shaped like bench/expr.c's record, with varying ids, statuses, quantities and prices."""
    rnd = random.Random(20261202)
    cities = [("Lyon", "69003", "FR"), ("Porto", "4000-123", "PT"), ("Gent", "9000", "BE")]
    lines = []
    for i in range(n):
        status = "PAID" if i % 5 == 4 else "NEW"
        city, zip_, country = cities[i % 3]
        items = ",".join(
            '{"sku":"%s-%04d","qty":%d,"price":%s,"name":"%s"}'
            % (k, rnd.randrange(10000), rnd.randint(1, 5), repr(rnd.randrange(100, 10000) / 100), name)
            for k, name in (("A", "Cup"), ("B", "Jug"))[: 1 + (i % 4 != 0)]
        )
        lines.append(
            '{"orderId":"o-%06d","customerId":"c-%04d","status":"%s","createdAt":"2024-05-14T09:%02d:%02dZ",'
            '"currency":"EUR","items":[%s],"shipping":{"city":"%s","zip":"%s","country":"%s"}}\n'
            % (i, rnd.randrange(5000), status, (i // 60) % 60, i % 60, items, city, zip_, country)
        )
    return "".join(lines)


def run(cmd, path):
    """Runs cmd < path, draining its standard output; returns (cpu s, wall s, output bytes)."""
    with open(path, "rb") as f:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=f, stdout=subprocess.PIPE)
        chunks = []
        while True:
            b = p.stdout.read1(1 << 20)
            if not b:
                break
            chunks.append(b)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"bench/expr_process: {cmd} exited {p.returncode}")
    return ru.ru_utime + ru.ru_stime, wall, b"".join(chunks)


def main():
    kstreamd = sys.argv[1] if len(sys.argv) > 1 else "./kstreamd"
    n = int(os.environ.get("BENCH_RECORDS", "100000"))
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "orders.jsonl")
        with open(path, "w") as f:
            f.write(orders(n))
        size = os.path.getsize(path)
        jqv = subprocess.run(["jq", "--version"], capture_output=True, text=True).stdout.strip()
        print(f"bench/expr_process: {n} orders ({size} bytes) on standard input, outputs into a pipe; "
              f"{kstreamd} eval vs {jqv} -c; fastest of {runs} runs each; load average {os.getloadavg()[0]:.2f}")
        print("outputs of kstreamd eval and jq -c verified byte-identical\n")
        print("| program | kstreamd CPU s | jq -c CPU s | CPU ratio | kstreamd wall s | jq -c wall s | wall ratio |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        cpu_ratios, wall_ratios = [], []
        for role, prog in PROGS:
            ours = [kstreamd, "eval", prog]
            theirs = ["jq", "-c", prog]
            k = run(ours, path)
            j = run(theirs, path)
            if k[2] != j[2]:
                sys.exit(f"bench/expr_process: outputs differ for {prog}")
            ks, js = [k[:2]], [j[:2]]
            for _ in range(runs - 1):
                ks.append(run(ours, path)[:2])
                js.append(run(theirs, path)[:2])
            kc, jc = min(c for c, _ in ks), min(c for c, _ in js)
            kw, jw = min(w for _, w in ks), min(w for _, w in js)
            cpu_ratios.append(jc / kc)
            wall_ratios.append(jw / kw)
            label = f"{role} `{prog}`".replace("|", "\\|")
            print(f"| {label} | {kc:.3f} | {jc:.3f} | {jc / kc:.1f}x | {kw:.3f} | {jw:.3f} | {jw / kw:.1f}x |")
            sys.stdout.flush()
        print(f"| **mean of the four ratios** | | | {statistics.mean(cpu_ratios):.1f}x | | | "
              f"{statistics.mean(wall_ratios):.1f}x |")
        print(f"\ntarget: >= 3x on each and >= 5x on the mean; by CPU: min {min(cpu_ratios):.1f}x, "
              f"mean {statistics.mean(cpu_ratios):.1f}x; by wall: min {min(wall_ratios):.1f}x, "
              f"mean {statistics.mean(wall_ratios):.1f}x")


if __name__ == "__main__":
    main()
