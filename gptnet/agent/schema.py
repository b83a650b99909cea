"""The JSON schemas sent with structured-output requests, from the spec's own pydantic models (their field
descriptions included), so that what the LLM is asked for is exactly what the parsers read."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel, Field

from ..spec.graph import ModuleSpec, Node


class ModelAnswer(BaseModel):
    """A whole model: its layers, and the composite modules they call."""

    name: str = Field(description="the model's name, e.g. EdgeNet")
    layers: list[Node] = Field(description="the layers, in forward order")
    modules: list[ModuleSpec] = Field(default_factory=list, description="composite modules the layers call")


@functools.cache
def response_format(stage: str) -> dict[str, Any] | None:
    """The `response_format` for a stage: a model for model/revise, a module for module:<Name>, none for ops and
    build (a list of operators, a line of Python)."""
    if stage in ("ops", "build"):
        return None
    model = ModuleSpec if stage.startswith("module:") else ModelAnswer
    return {"type": "json_schema", "json_schema": {"name": model.__name__, "schema": model.model_json_schema(),
                                                   "strict": False}}
