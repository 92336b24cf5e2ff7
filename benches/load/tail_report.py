"""Summarize benches/load/tail.sh results: per scenario and target the
medians over the repetitions (min-max) of the achieved rate and the
corrected p50/p99/p99.9, the p99 added over direct (the median of each
repetition's difference: the two ran a few seconds apart), and the
server's run-queue wait (ms per s)."""
import statistics
import sys
from collections import defaultdict

rows = defaultdict(dict)
with open(sys.argv[1]) as f:
    for line in f:
        rep, scenario, target, rps, p50, p99, p999, runq = line.split()
        rows[(scenario, target)][rep] = tuple(float(v) for v in (rps, p50, p99, p999, runq))
rate = float(sys.argv[2])


def fmt(values, digits=0):
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


print()
print(f"fixed rate {rate:.0f} req/s, latencies corrected for coordinated omission, in us")
print(f"{'scenario':8} {'target':8} {'req/s':>20} {'p50':>18} {'p99':>20} {'p99.9':>22} {'p99 added':>20} {'runq ms/s':>18}")
verdicts = []
for (scenario, target), reps in sorted(rows.items()):
    cols = list(zip(*reps.values()))
    direct = rows.get((scenario, "direct"), {})
    added = [reps[r][2] - direct[r][2] for r in reps if r in direct]
    added_s = fmt(added) if target != "direct" and added else "-"
    print(f"{scenario:8} {target:8} {fmt(cols[0]):>20} {fmt(cols[1]):>18} {fmt(cols[2]):>20} {fmt(cols[3]):>22} {added_s:>20} {fmt(cols[4], 1):>18}")
    if min(cols[0]) < 0.95 * rate:
        print(f"  warning: {scenario} {target} reached only {min(cols[0]):.0f} req/s of {rate:.0f} in a repetition")
    if target != "direct" and added:
        med = statistics.median(added)
        verdicts.append(f"{scenario}: {target} adds {med:.0f} us at p99 over direct: "
                        f"{'within' if med <= 1000 else 'NOT within'} 1 ms")
print()
for v in verdicts:
    print(v)
