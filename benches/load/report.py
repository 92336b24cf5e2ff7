"""Summarize benches/load/run.sh results: medians with min-max, ratios to nginx."""
import statistics
import sys
from collections import defaultdict

rows = defaultdict(list)
with open(sys.argv[1]) as f:
    for line in f:
        scenario, target, rps, p50, p99, cpu = line.split()
        rows[(scenario, target)].append((float(rps), float(p50), float(p99), float(cpu)))


def fmt(values, digits=0):
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


print()
print(f"{'scenario':8} {'target':8} {'req/s':>24} {'p50 us':>20} {'p99 us':>22} {'cpu us/req':>22}")
for (scenario, target), runs in sorted(rows.items()):
    cols = list(zip(*runs))
    print(
        f"{scenario:8} {target:8} {fmt(cols[0]):>24} {fmt(cols[1]):>20} {fmt(cols[2]):>22} {fmt(cols[3], 2):>22}"
    )
print()
for scenario in sorted({s for s, _ in rows}):
    ng = rows.get((scenario, "nginx"))
    for target in ("gateway", "passthrough", "mapped", "guarded", "audited"):
        gw = rows.get((scenario, target))
        if not gw or not ng:
            continue
        rps = statistics.median(r[0] for r in gw) / statistics.median(r[0] for r in ng)
        cpu = statistics.median(r[3] for r in gw) / statistics.median(r[3] for r in ng)
        print(f"{scenario}: {target}/nginx throughput {rps:.2f}x (target >= 0.80), cpu per request {cpu:.2f}x (target <= 1.25)")
    base, audited = rows.get((scenario, "gateway")), rows.get((scenario, "audited"))
    if base and audited:
        rps = statistics.median(r[0] for r in audited) / statistics.median(r[0] for r in base)
        cpu = statistics.median(r[3] for r in audited) / statistics.median(r[3] for r in base)
        print(f"{scenario}: audited/gateway throughput {rps:.2f}x, cpu per request {cpu:.2f}x (the cost of the audit log and events)")
