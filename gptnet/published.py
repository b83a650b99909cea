"""A target's cost model fitted to published latencies of well-known networks, and the comparison of its
estimates with those publications.

A roofline from spec-sheet peaks misses what phone runtimes do (how fast their kernels are for each kind of layer,
fused BatchNorm and activations, a fixed cost per launched kernel), by 2-6x on the Snapdragon 855. So a backend
whose measurements (role "fit") come from one runtime on the chip gets the kernel-level model of gptnet.latency
fitted to them: ms per launched kernel, per MFLOP of kxk convolution, of 1x1 convolution and Linear (plain GEMMs),
of depthwise and of grouped convolution, and per MB moved, non-negative and minimizing relative error (grouped
convolutions at the kxk rate unless two of the fit's networks run them). Five or six rates, one physical meaning
each, so that ten or twenty networks constrain them and networks outside the fit are estimated about as well as
those in it (the leave-one-network-out error says how well, and is kept with the fit; leave-one-family-out, in
`accuracy`, is the stricter test). A backend with only a handful of latencies (another thread count or precision
of the same runtime) is derived from a fitted one instead, and only its speedup over it is fitted.

Measurements with role "held-out" come from the same runtime and device but stay out of the fit, so their ratios
test it; "cross-check" ones come from other runtimes or versions, to show how far those differ on the same chip."""

from __future__ import annotations

import math
import statistics
from functools import lru_cache
from typing import Callable, Literal

from pydantic import BaseModel, Field

from .errors import UsageError
from .latency import PARENT, Work, kernels, predict, work_from_torch
from .targets import Figure, KernelFit, Measurement, Target

RATES = ("kernel", "conv", "conv1x1", "depthwise", "grouped", "mb")  # ms per launch, per MFLOP of each class, per MB


class Comparison(BaseModel):
    model: str
    backend: str
    role: str
    method: str
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
def reference_works(name: str, size: int | None = None) -> tuple[Work, ...]:
    from .reference_models import build

    model, shape = build(name, size)
    return tuple(work_from_torch(model, shape))


def works_of(m: Measurement) -> list[Work]:
    return list(reference_works(m.model, m.input))


def features(works, rates: tuple[str, ...] = RATES) -> list[float]:
    """The network's totals the rates multiply: kernels launched, MFLOP per kernel class, MB moved; a class without
    a rate of its own counts as its parent (latency.PARENT)."""
    row = dict.fromkeys(rates, 0.0)
    for w, launched in zip(works, kernels(works)):
        if launched is None:
            continue
        row["kernel"] += 1
        row["mb"] += w.mbytes
        launched = launched if launched in row else PARENT.get(launched)
        if launched in row:
            row[launched] += w.mflops
    return [row[r] for r in rates]


def _fittable(measurements: list[Measurement]) -> tuple[str, ...]:
    """The rates the measurements can determine: a class with a parent gets its own rate only where two networks
    or more run it (one alone would be fitted exactly, and say nothing about the next)."""
    rows = [features(works_of(m)) for m in measurements]
    return tuple(r for i, r in enumerate(RATES) if r not in PARENT or sum(row[i] > 0 for row in rows) >= 2)


def _solve(measurements: list[Measurement]) -> dict[str, float]:
    from .calibrate import nonneg_lstsq

    rates = _fittable(measurements)
    coef = nonneg_lstsq([features(works_of(m), rates) for m in measurements],
                        [m.adjusted_ms() for m in measurements])
    return {r: round(c, 8) for r, c in zip(rates, coef)}


def _estimate(rates: dict[str, float], m: Measurement) -> float:
    return sum(rates[r] * x for r, x in zip(rates, features(works_of(m), tuple(rates))))


def _others(measurements: list[Measurement], by_family: bool) -> list[list[Measurement]]:
    """For each measurement, the ones a fit predicting it may see: all but itself, or (by_family) all but every
    network of its family (gptnet.reference_models.family)."""
    from .reference_models import family

    keys = [family(m.model) if by_family else i for i, m in enumerate(measurements)]
    return [[o for j, o in zip(keys, measurements) if j != k] for k in keys]


def leave_one_out(measurements: list[Measurement], by_family: bool = False) -> list[float | None]:
    """estimate / published of each measurement, with the rates fitted to the others (each network left out once:
    one network's measurements on one backend are one point; or its whole family left out); None where no other
    measurement is left to fit."""
    return [_estimate(_solve(rest), m) / m.adjusted_ms() if rest else None
            for m, rest in zip(measurements, _others(measurements, by_family))]


def spearman(a: list[float], b: list[float]) -> float:
    """Rank correlation (no ties expected among latencies)."""
    def ranks(xs):
        order = sorted(range(len(xs)), key=xs.__getitem__)
        r = [0] * len(xs)
        for rank, i in enumerate(order):
            r[i] = rank
        return r

    ra, rb = ranks(a), ranks(b)
    n = len(a)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb)) / (n * (n * n - 1))


def fit_backend(measurements: list[Measurement]) -> KernelFit:
    """The rates fitted to all the measurements, with their leave-one-out errors (given more measurements than
    rates, so that each leave-one-out fit is still determined)."""
    errors = [abs(r - 1) for r in leave_one_out(measurements)] if len(measurements) > len(_fittable(measurements)) \
        else []
    return KernelFit(rates=_solve(measurements), points=len(measurements), fitted_to=_conditions(measurements),
                     loo_median=round(statistics.median(errors), 4) if errors else None,
                     loo_worst=round(max(errors), 4) if errors else None)


def _geomean(xs: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(x) for x in xs))


def _speedups(target: Target, backend: str, measurements: list[Measurement]) -> list[float]:
    """base estimate / published for each measurement of a backend derived from another of the same target."""
    base = target.backends[backend].derived.base.split("/")[1]
    return [predict(works_of(m), target, base).total_ms / m.adjusted_ms() for m in measurements]


def fit_speedup(target: Target, backend: str, measurements: list[Measurement]) -> Figure:
    """A derived backend's speedup over its base, fitted to its own few measurements: the geometric mean of base
    estimate / published (one rate instead of five, for data too thin to fit the kernel model itself)."""
    ratios = _speedups(target, backend, measurements)
    loo = [abs(r / _geomean(ratios[:i] + ratios[i + 1:]) - 1) for i, r in enumerate(ratios)]
    return Figure(value=round(_geomean(ratios), 4), unit="x", source=(
        f"fitted to {len(measurements)} published latencies ({_conditions(measurements)}); leave-one-out error "
        f"median {100 * statistics.median(loo):.0f}%, worst {100 * max(loo):.0f}%"))


def loo_ratios(target: Target, backend: str, by_family: bool = False) -> list[tuple[Measurement, float]]:
    """Each "fit" measurement of a fitted backend with its estimate / published when it is left out of the fit
    (alone, or with every network of its family): the kernel model refitted to the others, or the derived
    backend's speedup refitted to the others. Measurements with nothing left to fit them are skipped."""
    points = [m for m in target.measurements if m.backend == backend and m.role == "fit"]
    b = target.backends[backend]
    if b.derived and b.derived.base.startswith(f"{target.name}/"):
        ratio = dict(zip(map(id, points), _speedups(target, backend, points)))
        pairs = [(m, ratio[id(m)] / _geomean([ratio[id(o)] for o in rest]) if rest else None)
                 for m, rest in zip(points, _others(points, by_family))]
    else:
        pairs = list(zip(points, leave_one_out(points, by_family)))
    return [(m, r) for m, r in pairs if r is not None]


class Accuracy(BaseModel):
    """How well a fitted backend predicts measured networks it did not see."""

    backend: str
    left_out: Literal["network", "family"] = Field(description="what each fit leaves out: the network predicted, "
                                                               "or every network of its family")
    networks: int
    families: int
    method: str = Field(description="what the fit's latencies are: measured, predicted (by a published model), "
                                    "or both")
    median: float = Field(description="median |estimate / published - 1|")
    within_10: float = Field(description="share of networks estimated within 10%")
    within_25: float = Field(description="share of networks estimated within 25%")
    worst: float = Field(description="largest |estimate / published - 1|")
    spearman: float | None = Field(description="rank correlation of the left-out estimates with the published "
                                               "times; None under 3 networks")


def accuracy(target: Target, backend: str, by_family: bool = True) -> Accuracy | None:
    """The backend's left-out error (per family by default), or None if it has no "fit" measurements to test."""
    from .reference_models import family

    pairs = loo_ratios(target, backend, by_family)
    if not pairs:
        return None
    off = [abs(r - 1) for _, r in pairs]
    return Accuracy(
        backend=backend, left_out="family" if by_family else "network", networks=len(pairs),
        families=len({family(m.model) for m, _ in pairs}), method=" and ".join(sorted({m.method for m, _ in pairs})),
        median=statistics.median(off), within_10=sum(x <= 0.10 for x in off) / len(off),
        within_25=sum(x <= 0.25 for x in off) / len(off), worst=max(off),
        spearman=spearman([m.adjusted_ms() * r for m, r in pairs], [m.adjusted_ms() for m, _ in pairs])
        if len(pairs) >= 3 else None)


def _conditions(measurements: list[Measurement]) -> str:
    """Where a fit's latencies come from, in a few words: runtime, measured or predicted, device."""
    return "; ".join(sorted({f"{m.runtime}, {m.method} on a {m.device}" for m in measurements}))


def _trace(measurements: list[Measurement], say: Callable[[str], None] | None, terminal: bool) -> None:
    """Build and trace each network the measurements name, once: the slow part of a fit (seconds per network),
    so it shows progress as training does."""
    from .train.progress import Progress

    networks = list(dict.fromkeys((m.model, m.input) for m in measurements))
    if say is not None:
        say(f"Tracing the {len(networks)} networks of {len(measurements)} published latencies, once each...")
    with Progress("tracing the published networks", len(networks), "networks", terminal, say, images=False) as bar:
        for name, size in networks:
            reference_works(name, size)
            bar.advance()


def fit_published(target: Target, say: Callable[[str], None] | None = None, terminal: bool = False) -> Target:
    """The target with each backend that has "fit" measurements fitted to them: the kernel model where the backend
    stands alone, the speedup over its base where it is derived from another backend of the same target (fitted
    after that base). `say` and `terminal` show progress, as training's do."""
    fitted = [m for m in target.measurements if m.role == "fit"]
    if not fitted:
        raise UsageError(f"{target.name} lists no published measurements to fit (role \"fit\")",
                         "add some to its profile's `measurements`, or run gptnet calibrate on the machine itself")
    _trace(fitted, say, terminal)
    points = {name: [m for m in target.measurements if m.backend == name and m.role == "fit"]
              for name in target.backends}
    todo = [name for name in target.backends if points[name]]

    def waits(name: str) -> bool:  # derived from a backend of this target not fitted yet
        derived = target.backends[name].derived
        return derived is not None and derived.base in {f"{target.name}/{n}" for n in todo}

    while todo:
        name = next((n for n in todo if not waits(n)), None)
        if name is None:
            raise UsageError(f"{target.name}'s derived backends {', '.join(todo)} refer to each other",
                             "derive each from a backend fitted on its own")
        todo.remove(name)
        b = target.backends[name]
        if b.derived and b.derived.base.startswith(f"{target.name}/"):
            update = {"derived": b.derived.model_copy(update={"speedup": fit_speedup(target, name, points[name])})}
        else:
            update = {"fit": fit_backend(points[name])}
        b = b.model_copy(update=update)
        # calibrated_from: what `gptnet calibrate --from-published` reports per backend
        b = b.model_copy(update={"calibrated_from": f"gptnet calibrate --from-published {target.name}: "
                                                    f"{b.estimated_by()}"})
        target = target.model_copy(update={"backends": {**target.backends, name: b}})
    return target


def roofline(target: Target, backend: str) -> Target:
    """The target with one backend stripped to its spec-sheet roofline (no fit, calibration or derivation)."""
    b = target.backends[backend].model_copy(update={"calibration": {}, "fit": None, "derived": None})
    return target.model_copy(update={"backends": {**target.backends, backend: b}})


def compare(target: Target) -> list[Comparison]:
    """Each published measurement beside the profile's estimate and the uncalibrated roofline's."""
    rows = []
    for m in target.measurements:
        works = works_of(m)
        bare = predict(works, roofline(target, m.backend), m.backend)
        est = predict(works, target, m.backend)
        rows.append(Comparison(
            model=m.model if m.input is None else f"{m.model}@{m.input}", backend=m.backend, role=m.role,
            method=m.method, runtime=m.runtime, device=m.device, published_ms=m.ms, adjusted_ms=m.adjusted_ms(),
            roofline_ms=bare.total_ms, estimate_ms=est.total_ms, calibrated=est.calibrated, source=m.source))
    return rows


def summary(ratios: list[float]) -> tuple[float, float]:
    """(median, worst) of |ratio - 1|."""
    off = [abs(r - 1) for r in ratios]
    return statistics.median(off), max(off)


def geometric_off(ratios: list[float]) -> float:
    """The median factor the ratios are off by, either way (2.0 for 0.5 or 2.0)."""
    return math.exp(statistics.median(abs(math.log(r)) for r in ratios))
