#!/usr/bin/env python3
"""
bench/compare_chart.py RESULTS.json OUT.png: the ratios of bench/compare.py's results as a bar chart, one
group of bars per service: how many times kstreamd's throughput is Kafka Streams', and how many times less
CPU per input record (whole run, and warm: the second half of the input), peak RSS, time to the first output and p99 latency it takes (Kafka Streams' figure
over kstreamd's); the restore of the 1M-entry store in its own group. A dashed line marks 1 (equal) and a
dotted one 5 (the margin issue 16 asks for). Needs matplotlib (make deps installs it).
"""
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = [("passthrough", "passthrough"), ("crm", "CrmCustomer"), ("count", "CustomerOrderCount"),
         ("enrich", "OrderEnrich"), ("entity", "EntityLookup")]


def med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None and r[key] == r[key]]
    return statistics.median(vals) if vals else float("nan")


def main():
    with open(sys.argv[1]) as f:
        res = json.load(f)
    runs, lats, restores = res["runs"], res["latency"], res["restore"]
    metrics = [("rec/s (kstreamd / KS)", "rate", True, runs), ("CPU µs/rec", "cpu_us", False, runs),
               ("CPU µs/rec, warm", "warm_us", False, runs),
               ("peak RSS", "rss", False, runs), ("first output", "first_ms", False, runs),
               ("p99 latency at 20k/s", "p99", False, lats)]
    groups = [label for _, label in ORDER] + ["restore 1M"]
    fig, ax = plt.subplots(figsize=(11, 5.5))
    width = 0.13
    for j, (name, key, higher_better, rows) in enumerate(metrics):
        vals = []
        for svc, _ in ORDER:
            kd = med([r for r in rows if r["svc"] == svc and r["system"] == "kstreamd"], key)
            ks = med([r for r in rows if r["svc"] == svc and r["system"] == "streams"], key)
            vals.append(kd / ks if higher_better else ks / kd)
        vals.append(float("nan"))
        xs = [i + (j - 2.5) * width for i in range(len(groups))]
        bars = ax.bar(xs, vals, width, label=name)
        for x, v in zip(xs, vals):
            if v == v:
                ax.text(x, v * 1.05, f"{v:.1f}", ha="center", va="bottom", fontsize=7, rotation=90)
        del bars
    kd = med([r for r in restores if r["system"] == "kstreamd"], "restore_s")
    ks = med([r for r in restores if r["system"] == "streams"], "restore_s")
    ax.bar([len(groups) - 1], [ks / kd], width, color="grey", label="restore time")
    ax.text(len(groups) - 1, ks / kd * 1.05, f"{ks / kd:.1f}", ha="center", va="bottom", fontsize=7, rotation=90)
    ax.axhline(1, color="black", linestyle="--", linewidth=0.8)
    ax.axhline(5, color="black", linestyle=":", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylabel("Kafka Streams / kstreamd (log scale; higher: kstreamd better)")
    ax.set_title(f"kstreamd vs Kafka Streams, medians of {res['repeat']} run(s) "
                 f"({res['orders']} orders; bench/compare.sh)")
    top = max(v for v in ax.get_ylim())
    ax.set_ylim(0.5, top * 3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    print(f"bench/compare: chart in {sys.argv[2]}")


if __name__ == "__main__":
    main()
