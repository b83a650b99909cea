"""Target profiles: data files naming the operators a chip's runtimes run well. The profile decides; the LLM's
answer to stage "ops" is only compared with it."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field

from ..errors import UsageError


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

    def peak(self) -> float | None:
        figure = self.peak_gflops.get(self.precision)
        return figure.value if figure else None


class Target(BaseModel):
    name: str = Field(description="short name used on the command line, e.g. sd855")
    title: str = Field(description="the chip's full name")
    operators: list[str] = Field(description="operators the target's runtimes support well")
    activation: str = Field("ReLU", description="the activation to substitute for an unsupported one")
    notes: list[str] = Field(default_factory=list, description="sources and remarks")
    default_backend: str = Field("cpu", description="the backend latency budgets refer to unless one is named")
    memory_bandwidth: Figure | None = None
    backends: dict[str, Backend] = Field(default_factory=dict)

    def supports(self, op: str) -> bool:
        return op in self.operators


def user_dir() -> Path:
    """Where `gptnet calibrate` writes the `host` profile: $GPTNET_HOME/targets, else ~/.gptnet/targets."""
    return Path(os.environ.get("GPTNET_HOME", Path.home() / ".gptnet")) / "targets"


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
        raise UsageError(f"target profile {files[name.lower()]} is invalid: {str(e).splitlines()[0]}",
                         "fix it, or run gptnet calibrate again") from None
