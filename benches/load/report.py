"""Summarize benches/load/run.sh results: medians with min-max, ratios to nginx.

    python3 report.py RESULTS            # one run: its table and ratios
    python3 report.py RUN1 RUN2 RUN3     # several full runs: each run's
                                         # ratios, then their medians, then
                                         # the pooled estimate

Issue 21's targets are judged on same-run ratios (the machine is shared
and noisy; only figures measured side by side compare), so with several
runs each run's ratio is computed first and the medians are of those.

The pooled estimate, printed last, is for reading the figures, not for
judging: each target's median over every repetition of every run, and
their ratio, with the spread of the per-repetition ratios (a repetition
measures each target once, minutes apart at most). With three runs of
three repetitions it rests on nine measurements of each target instead of
three, so one run whose baseline happened to measure low or high moves
it less than it moves that run's own ratio.
"""
import statistics
import sys
from collections import defaultdict

# Issue 21's targets, CPU per request as same-run ratios: the default
# tenant against nginx, the mapped tenant against the default one, the
# audited tenant with webhook events against the unaudited gateway (on
# POST, where the writes are).
TARGETS = {
    ("gateway", "nginx"): 1.00,
    ("mapped", "gateway"): 1.40,
    ("audited", "gateway"): 1.50,
    ("audited-batch", "gateway"): 1.50,
}


def load(path):
    rows = defaultdict(list)
    with open(path) as f:
        for line in f:
            scenario, target, rps, p50, p99, cpu = line.split()
            rows[(scenario, target)].append((float(rps), float(p50), float(p99), float(cpu)))
    return rows


def fmt(values, digits=0):
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def ratio(rows, scenario, a, b, col):
    ra, rb = rows.get((scenario, a)), rows.get((scenario, b))
    if not ra or not rb:
        return None
    return statistics.median(r[col] for r in ra) / statistics.median(r[col] for r in rb)


def judged(scenario, target, base):
    return base == "nginx" or (
        base == "gateway" and (not target.startswith("audited") or scenario == "post")
    )


def verdict(value, limit):
    return "meets" if value <= limit else "MISSES"


def ratios(rows):
    """{(scenario, what): value}: every ratio the report prints."""
    out = {}
    for scenario in sorted({s for s, _ in rows}):
        for target in ("gateway", "passthrough", "mapped", "guarded", "audited", "audited-batch"):
            for col, name in ((0, "throughput"), (3, "cpu")):
                r = ratio(rows, scenario, target, "nginx", col)
                if r is not None:
                    out[(scenario, f"{target}/nginx {name}")] = r
        for (target, base) in TARGETS:
            if base != "nginx":
                r = ratio(rows, scenario, target, base, 3)
                if r is not None:
                    out[(scenario, f"{target}/{base} cpu")] = r
    return out


def target_of(what):
    pair, kind = what.split(" ")
    if kind != "cpu":
        return None
    target, base = pair.split("/")
    return TARGETS.get((target, base)), target, base


def print_ratios(values):
    for (scenario, what), value in sorted(values.items()):
        line = f"{scenario}: {what} per request {value:.2f}x" if what.endswith("cpu") else f"{scenario}: {what} {value:.2f}x"
        t = target_of(what)
        if t and t[0] is not None:
            limit, target, base = t
            if judged(scenario, target, base):
                line += f" (target <= {limit:.2f}: {verdict(value, limit)})"
        print(line)


def table(rows):
    print()
    print(f"{'scenario':8} {'target':11} {'req/s':>24} {'p50 us':>20} {'p99 us':>22} {'cpu us/req':>22}")
    for (scenario, target), runs in sorted(rows.items()):
        cols = list(zip(*runs))
        print(
            f"{scenario:8} {target:11} {fmt(cols[0]):>24} {fmt(cols[1]):>20} {fmt(cols[2]):>22} {fmt(cols[3], 2):>22}"
        )
    print()


def main(paths):
    runs = [load(p) for p in paths]
    if len(runs) == 1:
        table(runs[0])
        print_ratios(ratios(runs[0]))
        return
    per_run = [ratios(r) for r in runs]
    for i, (path, values) in enumerate(zip(paths, per_run), 1):
        print(f"\nrun {i} ({path}):")
        print_ratios(values)
    print(f"\nmedians of the {len(runs)} runs' ratios (each run judged on its own above):")
    keys = sorted(set().union(*per_run))
    print_ratios({k: statistics.median(v[k] for v in per_run if k in v) for k in keys})
    for scenario, what in keys:
        t = target_of(what)
        if t and t[0] is not None and judged(scenario, t[1], t[2]):
            met = sum(1 for v in per_run if k_in(v, scenario, what) and v[(scenario, what)] <= t[0])
            print(f"{scenario}: {what} meets its target in {met} of {len(per_run)} runs")
    pooled(runs)


def pooled(runs):
    """Each judged ratio from every repetition of every run: the ratio of
    the pooled medians, and the per-repetition ratios' median and range."""
    print(f"\npooled over the {len(runs)} runs' repetitions (an estimate, not judged):")
    for scenario in sorted({s for r in runs for s, _ in r}):
        for (target, base), limit in TARGETS.items():
            if not judged(scenario, target, base):
                continue
            a = [x[3] for r in runs for x in r.get((scenario, target), [])]
            b = [x[3] for r in runs for x in r.get((scenario, base), [])]
            if not a or not b:
                continue
            per_rep = ""
            paired = [
                x[3] / y[3]
                for r in runs
                for x, y in zip(r.get((scenario, target), []), r.get((scenario, base), []))
            ]
            if paired:
                per_rep = (
                    f"; per repetition {statistics.median(paired):.2f}x,"
                    f" {min(paired):.2f}-{max(paired):.2f}"
                )
            print(
                f"{scenario}: {target}/{base} cpu per request {statistics.median(a) / statistics.median(b):.2f}x"
                f" ({len(a)} and {len(b)} repetitions{per_rep}; target <= {limit:.2f})"
            )


def k_in(values, scenario, what):
    return (scenario, what) in values


if __name__ == "__main__":
    main(sys.argv[1:])
