#!/usr/bin/env python3
"""Summarise perfrun.py JSON lines: min / median / max of chosen fields per group.

usage: stats.py RESULTS.jsonl [--by tag,mode,sessions] [--fields fl_p50_ms,fl_p99_ms,...]
       [--where 'others_cores<0.3']
Prints a Markdown table, one row per group, each cell "min / median / max (n)".
"""
import argparse, json, statistics, sys

ap = argparse.ArgumentParser()
ap.add_argument("jsonl")
ap.add_argument("--by", default="tag,mode,sessions")
ap.add_argument("--fields", default="fl_p50_ms,fl_p99_ms,fps_per_session,packets_lost,missing_frames,others_cores")
ap.add_argument("--where", default="", help="filter, e.g. others_cores<0.3")
a = ap.parse_args()

rows = [json.loads(l) for l in open(a.jsonl) if l.strip()]
if a.where:
    import operator, re
    m = re.match(r"(\w+)\s*(<=|>=|<|>|==)\s*([-\d.]+)", a.where)
    ops = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq}
    f, op, v = m.group(1), ops[m.group(2)], float(m.group(3))
    rows = [r for r in rows if r.get(f) is not None and op(r[f], v)]
by = a.by.split(",")
fields = a.fields.split(",")
groups = {}
for r in rows:
    groups.setdefault(tuple(r.get(k) for k in by), []).append(r)


def fmt(x):
    if isinstance(x, float):
        return f"{x:.3f}".rstrip("0").rstrip(".") if abs(x) < 100 else f"{x:.1f}"
    return str(x)


print("| " + " | ".join(by + fields) + " |")
print("|" + "---|" * (len(by) + len(fields)))
for key in sorted(groups, key=lambda k: tuple((str(type(x)), x) for x in k)):
    rs = groups[key]
    cells = []
    for f in fields:
        vals = [r[f] for r in rs if isinstance(r.get(f), (int, float))]
        if not vals:
            cells.append("–")
        elif len(vals) == 1:
            cells.append(f"{fmt(vals[0])} (1)")
        else:
            cells.append(f"{fmt(min(vals))} / {fmt(statistics.median(vals))} / {fmt(max(vals))} ({len(vals)})")
    print("| " + " | ".join(fmt(k) for k in key) + " | " + " | ".join(cells) + " |")
