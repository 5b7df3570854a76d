#!/usr/bin/env python3
"""Prints the criterion medians of the `compare` bench as a markdown table, with each
contender's ratio to tallyho and to the best peer. Run after
`cargo bench -p tallyho-bench --bench compare`."""
import json
import pathlib
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
GROUPS = ["counter_inc", "counter_inc_2threads", "labels_2_literal", "labels_2_runtime",
          "labels_typed", "histogram_observe", "encode_10k"]
PEERS = ["metrics", "prometheus", "prometheus-client", "opentelemetry_sdk", "measured"]
BASELINES = ["atomic", "cell"]


def median_ns(group, contender):
    hits = list((ROOT / group / contender).glob("**/new/estimates.json"))
    if not hits:
        return None
    return json.loads(hits[0].read_text())["median"]["point_estimate"]


def fmt(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.0f} µs"
    return f"{ns:.2f} ns"


cols = ["tallyho"] + PEERS + BASELINES
print("| group | " + " | ".join(cols) + " | tallyho ÷ best peer | tallyho ÷ atomic |")
print("|---|" + "---:|" * (len(cols) + 2))
for g in GROUPS:
    vals = {c: median_ns(g, c) for c in cols}
    peers = [vals[p] for p in PEERS if vals[p] is not None]
    t = vals["tallyho"]
    best = min(peers) if peers else None
    ratio = f"{t / best:.2f}" if t and best else "–"
    atomic = f"{t / vals['atomic']:.2f}" if t and vals["atomic"] else "–"
    print(f"| {g} | " + " | ".join(fmt(vals[c]) for c in cols) + f" | {ratio} | {atomic} |")
