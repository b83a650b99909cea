"""A target profile's latency estimates beside published latencies on the real chip, and how well each fitted
backend predicts networks it was not fitted on.

    python benchmarks/published_latency.py [TARGET]        (default: every target that lists some)

For every measurement the profile lists (batch 1, torchvision's version of the network, or gptnet.reference_models',
traced with torch.fx): the published time (scaled to the target's clocks when measured on a sibling chip); the
uncalibrated roofline's estimate; the profile's estimate; and estimate / published. For "fit" rows, LOO is the
estimate / published with that network left out of the fit. Then, per backend with data: the leave-one-network-out
error (median and worst |estimate / published - 1|) and the Spearman rank correlation of those left-out estimates
with the published times; and, for cross-check rows (other runtimes or versions), the median factor they are off.
Last, the stricter table: leave-one-family-out (every ResNet out of the fit when a ResNet is predicted, every VGG
for a VGG, ...), with the median error, the share of networks within 10% and 25%, the worst and Spearman."""

from __future__ import annotations

import sys

from gptnet.published import accuracy, compare, geometric_off, loo_ratios, spearman, summary
from gptnet.targets import available, load_target


def report(target) -> None:
    rows = compare(target)
    loo = {(m.model, m.input, m.backend): r for b in target.backends for m, r in loo_ratios(target, b)}
    sources: list[str] = []
    print(f"{target.title}: estimates against published batch-1 latencies (ms)")
    print(f"{'model':22} {'backend':9} {'role':11} {'method':9} {'published':>9} {'roofline':>9} {'ratio':>6} "
          f"{'estimate':>9} {'ratio':>6} {'LOO':>6}  src")
    for r, m in zip(rows, target.measurements):
        if r.source not in sources:
            sources.append(r.source)
        left_out = loo.get((m.model, m.input, m.backend)) if r.role == "fit" else None
        roof = f"{r.roofline_ms:9.2f} {r.roofline_ms / r.adjusted_ms:6.2f}" if r.roofline_ms else f"{'-':>9} {'-':>6}"
        est = f"{r.estimate_ms:9.2f} {r.ratio:6.2f}" if r.estimate_ms else f"{'-':>9} {'-':>6}"
        print(f"{r.model:22} {r.backend:9} {r.role:11} {r.method:9} {r.adjusted_ms:9.2f} {roof} {est} "
              f"{f'{left_out:6.2f}' if left_out else ' ' * 6}  [{sources.index(r.source) + 1}]")
    print()
    for name, b in target.backends.items():
        pairs = loo_ratios(target, name)
        crosses = [r.ratio for r in rows if r.backend == name and r.role != "fit" and r.ratio]
        if not pairs and not crosses:
            print(f"{name}: no published latencies; {b.estimated_by()}")
            continue
        line = f"{name} ({b.label()}):"
        if pairs:
            med, worst = summary([r for _, r in pairs])
            rho = spearman([m.adjusted_ms() * r for m, r in pairs], [m.adjusted_ms() for m, _ in pairs])
            line += (f" {len(pairs)} networks left out one at a time: error median {100 * med:.0f}%, worst "
                     f"{100 * worst:.0f}%, Spearman {rho:.2f};")
        if crosses:
            line += f" {len(crosses)} cross-check/held-out rows off by a median factor {geometric_off(crosses):.2f};"
        print(line + f" {b.how()}")
    print(family_table(target))
    print("Sources:")
    for n, s in enumerate(sources, 1):
        print(f"[{n}] {s}")
    print()


def family_table(target) -> str:
    """Leave-one-family-out accuracy of each fitted backend, as a Markdown table."""
    rows = [(name, a) for name in target.backends if (a := accuracy(target, name)) is not None]
    lines = [f"{target.name}, leave-one-family-out:", "",
             "| backend | runtime | fitted to | networks (families) | median error | within 10% | within 25% "
             "| worst | Spearman |", "|---|---|---|---|---|---|---|---|---|"]
    for name, a in rows:
        rho = "-" if a.spearman is None else f"{a.spearman:.2f}"
        lines.append(f"| {name} | {target.backends[name].label()} | {a.method} | {a.networks} ({a.families}) "
                     f"| {100 * a.median:.0f}% | {100 * a.within_10:.0f}% | {100 * a.within_25:.0f}% "
                     f"| {100 * a.worst:.0f}% | {rho} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    names = sys.argv[1:] or available()
    targets = [t for t in map(load_target, names) if t.measurements]
    if not targets:
        sys.exit(f"no published measurements in {', '.join(names)}")
    for target in targets:
        report(target)


if __name__ == "__main__":
    main()
