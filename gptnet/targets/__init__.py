"""Target profiles: data files naming the operators a chip's runtimes run well. The profile decides; the LLM's
answer to stage "ops" is only compared with it."""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from ..errors import UsageError
from ..output import write_atomic


class Figure(BaseModel):
    """A hardware number and where it comes from."""

    value: float | None = Field(description="None where no published figure was found")
    unit: str
    source: str = Field(description="where the figure comes from, or how it is derived")


class KernelFit(BaseModel):
    """A backend's kernel-level cost model fitted to published latencies (gptnet.published): ms per launched kernel,
    per MFLOP of each kernel class (conv: kxk convs; conv1x1: 1x1 convs and Linear; depthwise; grouped) and per MB
    moved (fp32 inputs, outputs and weights of every launched kernel)."""

    rates: dict[str, float] = Field(description="kernel: ms per launch; conv, conv1x1, depthwise, grouped: ms per "
                                                "MFLOP (grouped absent: priced at conv's); mb: ms per MB")
    points: int = Field(description="published latencies fitted")
    fitted_to: str = Field(description="the runtime, device and networks of those latencies")
    loo_median: float | None = Field(None, description="leave-one-network-out |estimate/published - 1|, median")
    loo_worst: float | None = Field(None, description="... and worst")


class Derived(BaseModel):
    """A backend estimated from a sibling chip's fitted backend with the same runtime, divided by a speedup."""

    base: str = Field(description="target/backend, e.g. sd855/gpu")
    speedup: Figure = Field(description="how much faster this processor runs the same runtime, with its source")


class Backend(BaseModel):
    title: str = Field(description="the processor, e.g. Kryo 485 or Adreno 640")
    runtime: str = Field("", description="the inference engine and how it is run, e.g. TFLite CPU (XNNPACK)")
    processor: str = Field("", description="the cores or unit the runtime uses, e.g. 1x Cortex-A76 @2.42 GHz")
    threads: int | None = Field(None, description="CPU threads; None for a GPU or DSP")
    precision: str = Field(description="the arithmetic the runtime uses here: fp32, fp16 or int8")
    delegate: Literal["cpu", "gpu", "hexagon"] | None = Field(
        None, description="for a LiteRT backend, who runs a converted model's operators: the CPU kernels, the GPU "
                          "delegate or the Hexagon delegate (gptnet.litert judges each operator accordingly)")
    peak_gflops: dict[str, Figure] = Field(description="peak arithmetic per precision")
    operators: list[str] = Field(description="operators its runtimes run well")
    slow: dict[str, str] = Field(default_factory=dict, description="operators that fall back or run slowly, and why")
    calibration: dict[str, list[float]] = Field(
        default_factory=dict, description="per cost kind, ms = c0 + c1 x MFLOP + c2 x MB, fitted by gptnet calibrate")
    calibrated_from: str | None = Field(None, description="what the calibration was fitted to")
    fit: KernelFit | None = Field(None, description="kernel-level rates fitted to published latencies")
    derived: Derived | None = None
    uncertainty: str = Field("read as an order of magnitude (off by 1.5-6.3x against published Snapdragon 855 "
                             "latencies)", description="how far a roofline estimate may be off, for one without a fit")

    @model_validator(mode="after")
    def _runs_well_or_slow(self) -> Backend:
        both = [op for op in self.slow if op in self.operators]
        if both:  # `targets show` and export's verdicts would say both
            raise ValueError(f"{', '.join(both)} both run well and are slow; keep each in one of operators and slow")
        return self

    def peak(self) -> float | None:
        figure = self.peak_gflops.get(self.precision)
        return figure.value if figure else None

    def label(self) -> str:
        """The runtime, threads and precision a figure is for, e.g. `TFLite CPU, 1 thread, fp32 on 1x Cortex-A76`."""
        threads = f", {self.threads} thread{'s' * (self.threads != 1)}" if self.threads else ""
        return f"{self.runtime or 'any runtime'}{threads}, {self.precision} on {self.processor or self.title}"

    def estimated_by(self) -> str:
        """How this backend's latency estimates are made."""
        if self.derived:
            s = self.derived.speedup
            return f"{self.derived.base}'s estimate / {s.value:.3g} ({s.source})"
        if self.fit:
            loo = f"; leave-one-out error median {100 * self.fit.loo_median:.0f}%, worst " \
                  f"{100 * self.fit.loo_worst:.0f}%" if self.fit.loo_median is not None else ""
            return f"fitted to {self.fit.points} published latencies ({self.fit.fitted_to}){loo}"
        if self.calibration:
            return "calibrated on this machine"
        return f"roofline from spec-sheet peaks, uncalibrated: {self.uncertainty}"

    def how(self) -> str:
        """estimated_by in a few words, for one-line summaries."""
        if self.derived:
            return f"{self.derived.base} estimate / {self.derived.speedup.value:.3g}"
        if self.fit:
            return f"fitted to {self.fit.points} published latencies"
        return "calibrated on this machine" if self.calibration else "roofline, uncalibrated"


class Measurement(BaseModel):
    """A published latency of a well-known network on this target, at batch 1."""

    model: str = Field(description="a network of gptnet.reference_models, e.g. mobilenet_v2")
    input: int | None = Field(None, gt=0, description="input height = width, when not the network's usual one")
    backend: str = Field(description="the target's backend it ran on")
    ms: float = Field(gt=0, description="the published time")
    scale: float = Field(1.0, gt=0, description="factor from the measured device to this target's clocks")
    scale_why: str = ""
    role: Literal["fit", "held-out", "cross-check"] = Field(
        description="fit: used by `gptnet calibrate --from-published`; held-out: same runtime and device, kept out "
                    "of the fit to test it; cross-check: another runtime or device, shown for comparison only")
    method: Literal["measured", "predicted"] = Field(
        "measured", description="measured on the phone, or predicted by a published model fitted to measurements on it")
    runtime: str = Field(description="inference engine and settings, e.g. ncnn, 4 big cores, fp32")
    device: str = Field(description="the phone, and its chip if not exactly this target")
    source: str = Field(description="where the number is published")

    @field_validator("model")
    @classmethod
    def _known(cls, v: str) -> str:
        from ..reference_models import INPUTS

        if v not in INPUTS:
            raise ValueError(f"unknown reference model {v!r}; known: {', '.join(INPUTS)}")
        return v

    def adjusted_ms(self) -> float:
        return self.ms * self.scale


class Target(BaseModel):
    name: str = Field(description="short name used on the command line, e.g. sd855")
    title: str = Field(description="the chip's full name")
    notes: list[str] = Field(default_factory=list, description="sources and remarks")
    operators: list[str] = Field(description="operators the target's runtimes support well")
    activation: str = Field("ReLU", description="the activation to substitute for an unsupported one")
    default_backend: str = Field("cpu", description="the backend latency budgets refer to unless one is named")
    memory_bandwidth: Figure | None = None
    backends: dict[str, Backend] = Field(default_factory=dict)
    measurements: list[Measurement] = Field(default_factory=list, description="published latencies of known models")

    @model_validator(mode="after")
    def _measured_backends(self) -> Target:
        for m in self.measurements:
            if m.backend not in self.backends:
                raise ValueError(f"measurement of {m.model} names backend {m.backend!r}, which {self.name} lacks")
        for name, b in self.backends.items():
            if b.derived and b.derived.base.count("/") != 1:
                raise ValueError(f"backend {name} is derived from {b.derived.base!r}; write target/backend")
        return self

    def supports(self, op: str) -> bool:
        return op in self.operators

    @property
    def the_title(self) -> str:
        """The title in a sentence: `the Qualcomm Snapdragon 855`, but `this machine (...)` for the host profile."""
        return self.title if self.title.startswith("this ") else f"the {self.title}"


def user_dir() -> Path:
    """Where `gptnet calibrate` writes the `host` profile: $GPTNET_HOME/targets, else ~/.gptnet/targets."""
    return Path(os.environ.get("GPTNET_HOME", Path.home() / ".gptnet")) / "targets"


def save_profile(profile: Target | dict, out: Path) -> Path:
    """Write a profile atomically, as readable JSON: lists of numbers stay on one line."""
    data = profile.model_dump(mode="json", exclude_unset=True) if isinstance(profile, Target) else profile
    text = json.dumps(data, indent=2, ensure_ascii=False)
    text = re.sub(r"\[\s+([-+0-9.e,\s]+?)\s+\]",
                  lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    write_atomic(out, text + "\n", hint="pass --out with a file in a folder you can write to")
    return out


def _files() -> dict[str, Path | object]:
    found: dict[str, Path | object] = {p.name[:-5]: p for p in resources.files(__package__).iterdir()
                                       if p.name.endswith(".json")}
    if user_dir().is_dir():
        found.update({p.stem: p for p in user_dir().glob("*.json")})
    return found


def available() -> list[str]:
    return sorted(_files())


def load_target(name: str) -> Target:
    files = _files()
    if name.lower() not in files:
        hint = f"choose one of: {', '.join(sorted(files))}"
        if name.lower() == "host":
            hint = "run `gptnet calibrate` first, which measures this machine and writes the host profile"
        raise UsageError(f"unknown target {name!r}", hint)
    path = files[name.lower()]
    try:
        return _parse(str(path), os.stat(path).st_mtime_ns)
    except ValueError as e:
        if isinstance(e, ValidationError):  # where in the profile, and what
            first = e.errors()[0]
            detail = f"{'.'.join(map(str, first['loc'])) or 'the profile'}: {first['msg']}"
        else:  # not JSON at all
            detail = str(e).splitlines()[0]
        raise UsageError(f"target profile {path} is invalid: {detail}",
                         "fix it, or run gptnet calibrate again") from None


@lru_cache(maxsize=32)
def _parse(path: str, mtime_ns: int) -> Target:
    """A profile read once per process and version of the file: a derived backend reads its base target on every
    estimate, and budget fitting estimates many times."""
    return Target.model_validate_json(Path(path).read_text(encoding="utf-8"))
