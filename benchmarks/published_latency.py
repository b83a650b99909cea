"""A target profile's latency estimates beside published measurements on the real chip, with the ratio.

    python benchmarks/published_latency.py [TARGET]        (default: every target that lists some)

For every measurement the profile lists (batch 1, torchvision's version of the network traced with torch.fx):
the published time, scaled to the target's clocks when measured on a sibling chip; the uncalibrated roofline's
estimate; the profile's estimate (fitted by `gptnet calibrate --from-published` to the "fit" rows only); and
estimate / published. "held-out" rows (MobileNetV2 and ResNet-18 on the Snapdragon 855) come from the same runtime
and device as the fit but were kept out of it; "cross-check" rows come from another runtime on the same chip.
For fit rows, "LOO" is the estimate / published when that row is left out of the fit too."""

from __future__ import annotations

import math
import statistics
import sys

from gptnet.latency import predict
from gptnet.published import compare, fit_backend, reference_works, with_calibration
from gptnet.targets import available, load_target


def leave_one_out(target, row_index: int) -> float:
    m = target.measurements[row_index]
    rest = [o for i, o in enumerate(target.measurements)
            if i != row_index and o.backend == m.backend and o.role == "fit"]
    loo = with_calibration(target, m.backend, fit_backend(rest))
    return predict(list(reference_works(m.model)), loo, m.backend).total_ms / m.adjusted_ms()


def report(target) -> None:
    rows = compare(target)
    sources: list[str] = []
    print(f"{target.title}: estimates against published batch-1 latencies (ms)")
    print(f"{'model':16} {'backend':7} {'role':11} {'published':>9} {'scaled':>7} {'roofline':>9} {'ratio':>6} "
          f"{'estimate':>9} {'ratio':>6} {'LOO':>6}  src")
    by_role: dict[str, list[float]] = {}
    for i, r in enumerate(rows):
        if r.source not in sources:
            sources.append(r.source)
        loo = f"{leave_one_out(target, i):6.2f}" if r.role == "fit" else " " * 6
        roof = f"{r.roofline_ms:9.2f} {r.roofline_ms / r.adjusted_ms:6.2f}" if r.roofline_ms else f"{'-':>9} {'-':>6}"
        est = f"{r.estimate_ms:9.2f} {r.ratio:6.2f}" if r.estimate_ms else f"{'-':>9} {'-':>6}"
        print(f"{r.model:16} {r.backend:7} {r.role:11} {r.published_ms:9.2f} {r.adjusted_ms:7.2f} {roof} {est} "
              f"{loo}  [{sources.index(r.source) + 1}]")
        if r.ratio:
            by_role.setdefault(f"{r.backend} {r.role}", []).append(r.ratio)
    print()
    for key, ratios in sorted(by_role.items()):
        off = [abs(math.log(x)) for x in ratios]
        print(f"{key:22} {len(ratios):2} rows: estimate/published from {min(ratios):.2f} to {max(ratios):.2f}, "
              f"median factor off {math.exp(statistics.median(off)):.2f}")
    for b, backend in target.backends.items():
        print(f"{b}: {backend.calibrated_from or backend.estimated_by()}")
    print("Sources:")
    for n, s in enumerate(sources, 1):
        print(f"[{n}] {s}")
    print()


def main() -> None:
    names = sys.argv[1:] or available()
    targets = [t for t in map(load_target, names) if t.measurements]
    if not targets:
        sys.exit(f"no published measurements in {', '.join(names)}")
    for target in targets:
        report(target)


if __name__ == "__main__":
    main()
