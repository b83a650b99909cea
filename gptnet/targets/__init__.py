"""Target profiles: data files naming the operators a chip's runtimes run well. The profile decides; the LLM's
answer to stage "ops" is only compared with it."""

from __future__ import annotations

from importlib import resources

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


def available() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files(__package__).iterdir() if p.name.endswith(".json"))


def load_target(name: str) -> Target:
    names = available()
    if name.lower() not in names:
        raise UsageError(f"unknown target {name!r}", f"choose one of: {', '.join(names)}")
    text = resources.files(__package__).joinpath(f"{name.lower()}.json").read_text(encoding="utf-8")
    return Target.model_validate_json(text)
