"""Composite modules and whole models: a small graph of layers (a chain, plus residual add and channel concat),
enough for the article's DepthwiseConv2d, MobileNetV2's inverted residual and SqueezeNet's Fire."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import expr
from .layers import LAYER_KINDS, check_identifier, check_value

_IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Call(BaseModel):
    """A use of a composite module, e.g. `DepthwiseConv2d(32, 32, kernel_size=3, padding=1)`."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["call"] = "call"
    module: str = Field(pattern=_IDENT, description="name of the module being called")
    args: list[Any] = Field(default_factory=list, description="positional arguments")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments")
    name: Union[str, None] = Field(None, description="attribute name inside a module (optional)")

    _check_name = field_validator("name")(lambda cls, v: check_identifier(v))

    @model_validator(mode="after")
    def _check_arguments(self):
        for key, value in self.kwargs.items():
            check_identifier(key)
            check_value(value, key)
        for value in self.args:
            check_value(value, self.module)
        return self

    def signature(self) -> str:
        from .layers import fmt

        parts = [fmt(a) for a in self.args] + [f"{k}={fmt(v)}" for k, v in self.kwargs.items()]
        return f"{self.module}({', '.join(parts)})"


class Residual(BaseModel):
    """`body(x) + shortcut(x)`; an empty shortcut is the identity. `when` (an expression over the module's
    parameters, e.g. `stride == 1 and in_channels == out_channels`) makes the shortcut conditional."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["add"] = "add"
    body: list[Node] = Field(description="the residual branch")
    shortcut: list[Node] = Field(default_factory=list, description="the shortcut branch; empty for identity")
    when: Union[str, None] = Field(None, description="condition for the shortcut; always when omitted")

    _check_when = field_validator("when")(lambda cls, v: v if v is None else expr.normalize(v))


class Concat(BaseModel):
    """Branches applied to the same input, concatenated along channels (Inception, Fire)."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["concat"] = "concat"
    branches: list[list[Node]] = Field(min_length=1, description="parallel branches")


Node = Annotated[Union[LAYER_KINDS + (Call, Residual, Concat)], Field(discriminator="op")]  # type: ignore


class ModuleSpec(BaseModel):
    """A composite module class: constructor parameters and a body of nodes whose sizes may use them."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_IDENT, description="class name")
    params: list[str] = Field(default_factory=list, description="constructor parameters, in order")
    defaults: dict[str, Any] = Field(default_factory=dict, description="literal defaults of parameters")
    derived: dict[str, str] = Field(default_factory=dict,
                                    description="parameters computed from others when left None, e.g. groups")
    body: list[Node] = Field(description="the layers, in forward order")
    doc: Union[str, None] = Field(None, description="one-line description")

    @model_validator(mode="after")
    def _check_parameters(self):
        for p in self.params:
            check_identifier(p)
        for key, value in self.defaults.items():
            if key not in self.params:
                raise ValueError(f"default for unknown parameter {key!r}")
            check_value(value, key)
        for key, value in self.derived.items():
            if key not in self.params:
                raise ValueError(f"derived value for unknown parameter {key!r}")
            self.derived[key] = expr.normalize(value)
        return self


class ModelSpec(BaseModel):
    """A whole model: a chain of layers and module calls, plus the composite modules it uses."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("CNN-GPT", description="model name")
    input: tuple[int, int, int] = Field((3, 32, 32), description="input channels, height, width")
    num_classes: int = Field(100, ge=1, description="classifier outputs")
    layers: list[Node] = Field(description="the layers, in forward order")
    modules: list[ModuleSpec] = Field(default_factory=list, description="composite modules the layers call")
    head: Union[int, None] = Field(None, description="index of the layer whose output size is the class count")

    @property
    def class_name(self) -> str:
        parts = re.findall(r"[A-Za-z0-9]+", self.name) or ["Model"]
        name = "".join(p if p.isupper() else p[:1].upper() + p[1:] for p in parts)
        return name if name[0].isalpha() else "Model" + name

    @property
    def folder_name(self) -> str:
        """`CNN-GPT` -> `cnn_gpt`; `MobileNetV2Lite` -> `mobile_net_v2_lite`."""
        words = []
        for part in re.findall(r"[A-Za-z0-9]+", self.name) or ["model"]:
            words += re.findall(r"[A-Z]+[0-9]*(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+[a-z]*", part) or [part]
        return "_".join(w.lower() for w in words)

    def module(self, name: str) -> ModuleSpec | None:
        return next((m for m in self.modules if m.name == name), None)


Residual.model_rebuild()
Concat.model_rebuild()
ModuleSpec.model_rebuild()
ModelSpec.model_rebuild()
