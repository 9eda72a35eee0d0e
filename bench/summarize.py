"""Summarise ftpbench's JSON lines: medians with min-max per server and workload, Ferry's ratio to
the best peer, a markdown table, aggregated JSON and an SVG of throughput against concurrency.
Usage: summarize.py RAW.jsonl RESULTS_DIR "machine description"
"""
import json
import statistics
import sys
from collections import defaultdict

raw, out_dir, machine = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(line) for line in open(raw) if line.strip()]

# workload -> (metric key, unit, higher is better)
METRICS = {
    "w1": ("mibPerSecond", "MiB/s", True, "RETR big.bin, one stream"),
    "w2": ("mibPerSecond", "MiB/s", True, "parallel RETR of mid.bin"),
    "w3": ("mibPerSecond", "MiB/s", True, "STOR big.bin, one stream"),
    "w4": ("sessionsPerSecond", "sessions/s", True, "connect + login + RETR 4 KiB + QUIT"),
    "w4s": ("sessionsPerSecond", "sessions/s", True, "W4 with a SHA-512 crypt (5000 rounds) user"),
    "w5": ("mibPerSecond", "MiB/s", True, "FTPS RETR big.bin, one stream, AES-128-GCM"),
    "w5u": ("mibPerSecond", "MiB/s", True, "FTPS STOR big.bin, one stream, AES-128-GCM"),
    "w6": ("serverKiBPerSession", "KiB/session (PSS)", False, "idle logged-in sessions"),
    "w6w1": ("mibPerSecond", "MiB/s", True, "W1 while this many idle sessions are held"),
    "w7": ("p50Milliseconds", "ms p50", False, "LIST of 10 000 files"),
    "w7m": ("p50Milliseconds", "ms p50", False, "MLSD of 10 000 files"),
    "w8": ("p99Milliseconds", "ms p99", False, "NOOP of idle sessions while 4 LIST 100 000 files and 16 RETR"),
    "w1c": ("mibPerSecond", "MiB/s", True, "curl: RETR big.bin, one stream"),
    "w2c": ("mibPerSecond", "MiB/s", True, "curl: parallel RETR of mid.bin, one curl each"),
    "w3c": ("mibPerSecond", "MiB/s", True, "curl: STOR big.bin, one stream"),
    "w5c": ("mibPerSecond", "MiB/s", True, "curl: FTPS RETR big.bin, AES-128-GCM"),
    "w5uc": ("mibPerSecond", "MiB/s", True, "curl: FTPS STOR big.bin, AES-128-GCM"),
}
# the workloads whose rows get a server CPU line
TRANSFERS = ("w1", "w2", "w3", "w5", "w5u", "w1c", "w2c", "w3c", "w5c", "w5uc")

samples = defaultdict(list)
cpu = defaultdict(list)
p99 = defaultdict(list)
p50 = defaultdict(list)
servers = []
for row in rows:
    if row["workload"] == "loopback":
        continue
    if row["server"] not in servers:
        servers.append(row["server"])
    key = (row["workload"], row["concurrency"], row["server"])
    metric = METRICS[row["workload"]][0]
    if row.get(metric) is not None and row.get("errors", 0) == 0:
        samples[key].append(row[metric])
    if row.get("serverCPUSecondsPerGiB") is not None:
        cpu[key].append(row["serverCPUSecondsPerGiB"])
    if row.get("p99Milliseconds") is not None:
        p99[key].append(row["p99Milliseconds"])
    if row.get("p50Milliseconds") is not None:
        p50[key].append(row["p50Milliseconds"])
loopback = [r["mibPerSecond"] for r in rows if r["workload"] == "loopback"]

def cell(values, digits=0):
    if not values:
        return "—"
    fmt = "%%.%df" % digits
    median = fmt % statistics.median(values)
    return median if len(values) == 1 else "%s (%s–%s)" % (median, fmt % min(values), fmt % max(values))

cases = sorted({(k[0], k[1]) for k in samples} | {(k[0], k[1]) for k in cpu}, key=lambda c: (c[0], c[1]))
lines = ["Machine: %s. Medians of the rounds (min–max); every transfer's byte count checked. A ratio is marked "
         "level where Ferry's range meets the best peer's." % machine, ""]
if loopback:
    lines.append("Loopback limit, one stream, `iperf3 -Z`: %.0f MiB/s." % statistics.median(loopback))
    lines.append("")
lines.append("| workload | " + " | ".join(servers) + " | Ferry vs best peer |")
lines.append("|---" * (len(servers) + 2) + "|")
summary = []
for workload, concurrency in cases:
    metric, unit, higher, what = METRICS[workload]
    digits = 1 if workload in ("w4", "w4s", "w6") else 0
    medians = {s: statistics.median(samples[(workload, concurrency, s)]) for s in servers if samples[(workload, concurrency, s)]}
    peers = {s: v for s, v in medians.items() if s != "ferry"}
    ratio = "—"
    if "ferry" in medians and peers:
        best_server = max(peers, key=peers.get) if higher else min(peers, key=peers.get)
        best = peers[best_server]
        if medians["ferry"] > 0 and best > 0:
            ratio = "%.2f×" % ((medians["ferry"] / best) if higher else (best / medians["ferry"]))
            # Noisy machines: when Ferry's range across the rounds meets the best peer's, neither won.
            ours, theirs = samples[(workload, concurrency, "ferry")], samples[(workload, concurrency, best_server)]
            if len(ours) > 1 and len(theirs) > 1 and min(ours) <= max(theirs) and min(theirs) <= max(ours):
                ratio = "level (%s)" % ratio
    label = "%s %s ×%d (%s)" % (workload.upper().replace("W6W1", "W6+W1").replace("W7M", "W7"), what, concurrency, unit)
    lines.append("| " + label + " | " + " | ".join(cell(samples[(workload, concurrency, s)], digits) for s in servers) + " | " + ratio + " |")
    if workload in TRANSFERS:
        lines.append("| ↳ server CPU s per GiB | " + " | ".join(cell(cpu[(workload, concurrency, s)], 2) for s in servers) + " | |")
    if workload == "w8":
        lines.append("| ↳ p50 ms | " + " | ".join(cell(p50[(workload, concurrency, s)], 1) for s in servers) + " | |")
    if workload in ("w4", "w4s"):
        lines.append("| ↳ p99 ms | " + " | ".join(cell(p99[(workload, concurrency, s)], 1) for s in servers) + " | |")
    summary.append({"workload": workload, "concurrency": concurrency, "unit": unit, "medians": medians, "ratio": ratio})

text = "\n".join(lines) + "\n"
open(out_dir + "/latest.md", "w").write(text)
json.dump({"machine": machine, "loopbackMiBPerSecond": statistics.median(loopback) if loopback else None, "rows": summary},
          open(out_dir + "/latest.json", "w"), indent=1)

# SVG: W1 and W2 throughput against concurrency, one line per server.
points = {s: sorted((c, statistics.median(samples[(w, c, s)])) for (w, c) in cases if w in ("w1", "w2") and samples[(w, c, s)])
          for s in servers}
width, height, pad = 640, 360, 50
concurrencies = sorted({c for s in points for c, _ in points[s]}) or [1]
top = max([v for s in points for _, v in points[s]] + [1]) * 1.1
def x(c):
    index = concurrencies.index(c)
    return pad + index * (width - 2 * pad) / max(1, len(concurrencies) - 1)
def y(v):
    return height - pad - v / top * (height - 2 * pad)
colors = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (width, height),
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="%d" y="20" font-size="14">RETR throughput (MiB/s) against parallel streams</text>' % pad,
       '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (pad, height - pad, width - pad, height - pad),
       '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (pad, pad, pad, height - pad)]
for c in concurrencies:
    svg.append('<text x="%.0f" y="%d" text-anchor="middle">%d</text>' % (x(c), height - pad + 16, c))
for fraction in (0, 0.5, 1):
    svg.append('<text x="%d" y="%.0f" text-anchor="end">%.0f</text>' % (pad - 4, y(top * fraction / 1.1), top * fraction / 1.1))
for index, s in enumerate(servers):
    color = colors[index % len(colors)]
    pts = " ".join("%.1f,%.1f" % (x(c), y(v)) for c, v in points[s])
    if pts:
        svg.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (color, pts))
    svg.append('<text x="%d" y="%d" fill="%s">%s</text>' % (width - pad - 90, pad + 16 * index, color, s))
svg.append("</svg>")
open(out_dir + "/throughput.svg", "w").write("\n".join(svg) + "\n")
print(text)
