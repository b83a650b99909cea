"""Target profiles: data files naming the operators a chip's runtimes run well. The profile decides; the LLM's
answer to stage "ops" is only compared with it."""

from __future__ import annotations

from importlib import resources

from pydantic import BaseModel, Field

from ..errors import UsageError


class Target(BaseModel):
    name: str = Field(description="short name used on the command line, e.g. sd855")
    title: str = Field(description="the chip's full name")
    operators: list[str] = Field(description="operators the target's runtimes support well")
    activation: str = Field("ReLU", description="the activation to substitute for an unsupported one")
    notes: list[str] = Field(default_factory=list, description="sources and remarks")

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
