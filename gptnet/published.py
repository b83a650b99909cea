"""A target's cost model fitted to published latencies of well-known networks, and the comparison of its
estimates with those publications.

A roofline from spec-sheet peaks misses what phone runtimes do (Winograd 3x3 convs, fp16 arithmetic, fused
BatchNorm and activations, a fixed cost per dispatched layer), by 2-4x on the Snapdragon 855. So a target whose
profile lists published measurements (`measurements`, role "fit") gets, per backend, a rate per kind of work fitted
to them: ms per MFLOP of kxk, 1x1 and depthwise convs, ms per MB of Linear weights (batch 1 reads each weight
once), and ms per dispatched layer. BatchNorm and activations cost nothing: mobile runtimes fuse them into the conv
before. Measurements with role "held-out" come from the same runtime and device but stay out of the fit, so their
ratios test it; "cross-check" ones come from other runtimes, to show how far runtimes differ on the same chip."""

from __future__ import annotations

from functools import lru_cache

from pydantic import BaseModel

from .errors import UsageError
from .latency import Work, predict, work_from_torch
from .targets import Measurement, Target

UNKNOWNS = ("ms/MFLOP Conv2d", "ms/MFLOP Conv1x1", "ms/MFLOP DepthwiseConv2d", "ms/MB Linear", "ms/layer")
# kind -> (column of its MFLOP rate, column of its MB rate, dispatched as a layer of its own)
TERMS: dict[str, tuple[int | None, int | None, bool]] = {
    "Conv2d": (0, None, True), "GroupConv2d": (0, None, True), "Conv1x1": (1, None, True),
    "DepthwiseConv2d": (2, None, True), "Linear": (None, 3, True),
    "Add": (None, None, True), "Concat": (None, None, True), "Pool": (None, None, True), "Copy": (None, None, True),
}
FUSED = ("BatchNorm2d", "Activation", "Free")


class Comparison(BaseModel):
    model: str
    backend: str
    role: str
    runtime: str
    device: str
    published_ms: float
    adjusted_ms: float
    roofline_ms: float | None
    estimate_ms: float | None
    calibrated: bool
    source: str

    @property
    def ratio(self) -> float | None:
        return None if self.estimate_ms is None else self.estimate_ms / self.adjusted_ms


@lru_cache(maxsize=None)
def reference_works(name: str) -> tuple[Work, ...]:
    from .reference_models import build

    model, shape = build(name)
    return tuple(work_from_torch(model, shape))


def features(works) -> list[float]:
    row = [0.0] * len(UNKNOWNS)
    for w in works:
        flop_col, mb_col, dispatched = TERMS.get(w.kind, (None, None, False))
        if flop_col is not None:
            row[flop_col] += w.mflops
        if mb_col is not None:
            row[mb_col] += w.mbytes
        row[-1] += dispatched
    return row


def to_calibration(coef: list[float]) -> dict[str, list[float]]:
    """The fitted rates in the per-kind form latency.predict reads: ms = c0 + c1 x MFLOP + c2 x MB."""
    per_layer = coef[-1]
    table = {kind: [per_layer if dispatched else 0.0, coef[f] if f is not None else 0.0,
                    coef[m] if m is not None else 0.0] for kind, (f, m, dispatched) in TERMS.items()}
    table.update({kind: [0.0, 0.0, 0.0] for kind in FUSED})
    table["_model"] = [1.0, 0.0]
    return {k: [round(v, 6) for v in c] for k, c in table.items()}


def fit_backend(measurements: list[Measurement]) -> dict[str, list[float]]:
    from .calibrate import nonneg_lstsq

    X = [features(reference_works(m.model)) for m in measurements]
    return to_calibration(nonneg_lstsq(X, [m.adjusted_ms() for m in measurements]))


def fit_published(target: Target) -> Target:
    """The target with each backend that has "fit" measurements calibrated to them."""
    if not any(m.role == "fit" for m in target.measurements):
        raise UsageError(f"{target.name} lists no published measurements to fit (role \"fit\")",
                         "add some to its profile's `measurements`, or run gptnet calibrate on the machine itself")
    fitted = dict(target.backends)
    for name, backend in target.backends.items():
        points = [m for m in target.measurements if m.backend == name and m.role == "fit"]
        if not points:
            continue
        models = ", ".join(m.model for m in points)
        sources = sorted({f"{m.runtime} on {m.device}" for m in points})
        fitted[name] = backend.model_copy(update={
            "calibration": fit_backend(points),
            "calibrated_from": f"gptnet calibrate --from-published {target.name}: {len(points)} published "
                               f"latencies ({'; '.join(sources)}) of {models}"})
    return target.model_copy(update={"backends": fitted})


def with_calibration(target: Target, backend: str, calibration: dict[str, list[float]]) -> Target:
    """The target with one backend's calibration replaced ({} for the uncalibrated roofline)."""
    b = target.backends[backend].model_copy(update={"calibration": calibration})
    return target.model_copy(update={"backends": {**target.backends, backend: b}})


def compare(target: Target) -> list[Comparison]:
    """Each published measurement beside the profile's estimate and the uncalibrated roofline's."""
    rows = []
    for m in target.measurements:
        works = list(reference_works(m.model))
        roofline = predict(works, with_calibration(target, m.backend, {}), m.backend)
        est = predict(works, target, m.backend)
        rows.append(Comparison(
            model=m.model, backend=m.backend, role=m.role, runtime=m.runtime, device=m.device, published_ms=m.ms,
            adjusted_ms=m.adjusted_ms(), roofline_ms=roofline.total_ms,
            estimate_ms=est.total_ms, calibrated=est.calibrated, source=m.source))
    return rows
