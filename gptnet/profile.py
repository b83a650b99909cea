"""Params and MACs from the spec, per layer and in total, at the task input and at 1x3x224x224 (the article's
convention). The cost rules are thop's (see spec/layers.py), so these agree exactly with thop on model.py."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .spec.graph import ModelSpec
from .spec.layers import SpecError
from .spec.walk import Step, fmt_shape, signature, totals, walk

ARTICLE_SIZE = 224


class LayerRow(BaseModel):
    index: str = Field(description="position in the model; a.b for the inside of a module call")
    layer: str = Field(description="the layer as written in model.py")
    output: str = Field(description="output shape, CxHxW or F")
    params: int
    macs: int = Field(description="multiply-accumulates at the task input, counted as thop counts")


class Profile(BaseModel):
    input: tuple[int, int, int]
    params: int
    macs: int = Field(description="MACs at the task input")
    macs_224: int | None = Field(description=f"MACs at 1x{{C}}x{ARTICLE_SIZE}x{ARTICLE_SIZE}, the article's "
                                  "convention; None when the model only accepts its task input size")
    rows: list[LayerRow]

    def macs_224_besides(self) -> int | None:
        """MACs at 224x224 to show beside `macs`: none when the task input is 224x224 (the same count twice)."""
        return None if tuple(self.input[1:]) == (ARTICLE_SIZE, ARTICLE_SIZE) else self.macs_224


def _rows(steps: list[Step], prefix: str = "") -> list[LayerRow]:
    rows = []
    for i, s in enumerate(steps):
        index = f"{prefix}{i}"
        rows.append(LayerRow(index=index, layer=signature(s.node), output=fmt_shape(s.out), params=s.params,
                             macs=s.macs))
        if prefix == "" and s.children:
            rows += _rows(s.children, f"{index}.")
    return rows


def profile_spec(model: ModelSpec) -> Profile:
    steps = walk(model)
    params, macs = totals(steps)
    c = model.input[0]
    try:
        _, macs_224 = totals(walk(model, (c, ARTICLE_SIZE, ARTICLE_SIZE)))
    except (SpecError, TypeError, ValueError):
        macs_224 = None  # e.g. a Linear sized for the flattened task-size map
    return Profile(input=model.input, params=params, macs=macs, macs_224=macs_224, rows=_rows(steps))
