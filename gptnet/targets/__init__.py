"""Target profiles: data files naming the operators a chip's runtimes run well. The profile decides; the LLM's
answer to stage "ops" is only compared with it."""

from __future__ import annotations

import json
import os
import re
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


class Backend(BaseModel):
    title: str = Field(description="the processor, e.g. Kryo 485 or Adreno 640")
    precision: str = Field(description="the precision models usually run at on it: fp32, fp16 or int8")
    peak_gflops: dict[str, Figure] = Field(description="peak arithmetic per precision")
    operators: list[str] = Field(description="operators its runtimes run well")
    slow: dict[str, str] = Field(default_factory=dict, description="operators that fall back or run slowly, and why")
    calibration: dict[str, list[float]] = Field(
        default_factory=dict, description="per cost kind, ms = c0 + c1 x MFLOP + c2 x MB, fitted by gptnet calibrate")
    calibrated_from: str | None = Field(None, description="what the calibration was fitted to")

    def peak(self) -> float | None:
        figure = self.peak_gflops.get(self.precision)
        return figure.value if figure else None

    def estimated_by(self) -> str:
        """How this backend's latency estimates are made."""
        if not self.calibration:
            return "roofline estimate, uncalibrated"
        return "fitted to published latencies" if self.calibrated_from else "calibrated on this machine"


class Measurement(BaseModel):
    """A published latency of a well-known network on this target, at batch 1."""

    model: str = Field(description="a network of gptnet.reference_models, e.g. mobilenet_v2")
    backend: str = Field(description="the target's backend it ran on")
    ms: float = Field(gt=0, description="the published time")
    scale: float = Field(1.0, gt=0, description="factor from the measured device to this target's clocks")
    scale_why: str = ""
    role: Literal["fit", "held-out", "cross-check"] = Field(
        description="fit: used by `gptnet calibrate --from-published`; held-out: same runtime and device, kept out "
                    "of the fit to test it; cross-check: another runtime or device, shown for comparison only")
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
        return self

    def supports(self, op: str) -> bool:
        return op in self.operators


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
    try:
        return Target.model_validate_json(files[name.lower()].read_text(encoding="utf-8"))
    except ValueError as e:
        if isinstance(e, ValidationError):  # where in the profile, and what
            first = e.errors()[0]
            detail = f"{'.'.join(map(str, first['loc'])) or 'the profile'}: {first['msg']}"
        else:  # not JSON at all
            detail = str(e).splitlines()[0]
        raise UsageError(f"target profile {files[name.lower()]} is invalid: {detail}",
                         "fix it, or run gptnet calibrate again") from None
