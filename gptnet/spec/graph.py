"""Composite modules and whole models: a small graph of layers (a chain, plus residual add, channel concat and a
multiplying gate), enough for the article's DepthwiseConv2d, MobileNetV2's inverted residual, SqueezeNet's Fire
and squeeze-excite."""

from __future__ import annotations

import re
from typing import Annotated, Any, Iterator, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import limits
from . import expr
from .grammar import RESERVED, check_default, check_name, clean_text
from .layers import LAYER_KINDS, Layer, check_identifier, check_value

_CHAIN = Field(max_length=limits.MAX_LAYERS)


class Call(BaseModel):
    """A use of a composite module, e.g. `DepthwiseConv2d(32, 32, kernel_size=3, padding=1)`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    op: Literal["call"] = "call"
    module: str = Field(description="name of the module being called")
    args: list[Any] = Field(default_factory=list, max_length=32, description="positional arguments")
    kwargs: dict[str, Any] = Field(default_factory=dict, max_length=32, description="keyword arguments")
    name: Union[str, None] = Field(None, description="attribute name inside a module (optional)")

    _check_name = field_validator("name")(lambda cls, v: check_identifier(v))
    _check_module = field_validator("module")(lambda cls, v: check_name(v, "module name"))

    @model_validator(mode="after")
    def _check_arguments(self):
        self.kwargs = {check_name(k, f"{self.module} argument"): check_value(v, k) for k, v in self.kwargs.items()}
        self.args = [check_value(v, self.module) for v in self.args]
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
    body: list[Node] = Field(max_length=limits.MAX_LAYERS, description="the residual branch")
    shortcut: list[Node] = Field(default_factory=list, max_length=limits.MAX_LAYERS,
                                 description="the shortcut branch; empty for identity")
    when: Union[str, None] = Field(None, description="condition for the shortcut; always when omitted")

    _check_when = field_validator("when")(lambda cls, v: v if v is None else expr.normalize(v))


class Concat(BaseModel):
    """Branches applied to the same input, concatenated along channels (Inception, Fire)."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["concat"] = "concat"
    branches: list[Annotated[list[Node], _CHAIN]] = Field(min_length=1, max_length=limits.MAX_BRANCHES,
                                                           description="parallel branches")


class Gate(BaseModel):
    """`x * gate(x)`: a branch applied to the same input whose output scales it, channel by channel when it is
    Cx1x1 (squeeze-excite: a global pool, two 1x1 convs, a sigmoid) or element by element when it is CxHxW."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["mul"] = "mul"
    gate: list[Node] = Field(min_length=1, max_length=limits.MAX_LAYERS,
                             description="the branch whose output multiplies the input")


Node = Annotated[Union[LAYER_KINDS + (Call, Residual, Concat, Gate)], Field(discriminator="op")]  # type: ignore


def branches(node: Any) -> list[list]:
    """The chains inside a residual, concat or gate (none for a layer or a call)."""
    if isinstance(node, Residual):
        return [node.body, node.shortcut]
    if isinstance(node, Concat):
        return list(node.branches)
    return [node.gate] if isinstance(node, Gate) else []


def expressions(nodes: list) -> Iterator[str]:
    """Every size expression in a chain of nodes, branches included."""
    for node in nodes:
        if isinstance(node, Layer):
            values = list(node.sizes().values())
        elif isinstance(node, Call):
            values = [*node.args, *node.kwargs.values()]
        else:
            values = [node.when] if isinstance(node, Residual) else []
            for branch in branches(node):
                yield from expressions(branch)
        for value in values:
            for v in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(v, str):
                    yield v


def calls(nodes: list) -> Iterator[str]:
    """The modules a chain calls, branches included, in order."""
    for node in nodes:
        if isinstance(node, Call):
            yield node.module
        for branch in branches(node):
            yield from calls(branch)


class ModuleSpec(BaseModel):
    """A composite module class: constructor parameters and a body of nodes whose sizes may use them."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field(description="class name")
    params: list[str] = Field(default_factory=list, max_length=32, description="constructor parameters, in order")
    defaults: dict[str, Any] = Field(default_factory=dict, description="literal defaults of parameters")
    derived: dict[str, str] = Field(default_factory=dict,
                                    description="parameters computed from others when left None, e.g. groups")
    body: list[Node] = Field(max_length=limits.MAX_LAYERS, description="the layers, in forward order")
    doc: Union[str, None] = Field(None, description="one-line description")

    _check_name = field_validator("name")(lambda cls, v: check_name(v, "module name"))
    _clean_doc = field_validator("doc")(lambda cls, v: v if v is None else clean_text(v) or None)

    @model_validator(mode="after")
    def _check_parameters(self):
        for p in self.params:
            check_name(p, f"parameter of {self.name}")
        if len(set(self.params)) != len(self.params):
            raise ValueError(f"module {self.name} names a parameter twice")
        for key, value in self.defaults.items():
            if key not in self.params:
                raise ValueError(f"default for unknown parameter {key!r}")
            self.defaults[key] = check_default(value, f"{self.name}.{key}")
        for key, value in self.derived.items():
            if key not in self.params:
                raise ValueError(f"derived value for unknown parameter {key!r}")
            self.derived[key] = expr.normalize(value)
        # a size may name only this module's own parameters: nothing else of Python's or the file's
        for text in [*self.derived.values(), *expressions(self.body)]:
            unknown = expr.names(text) - set(self.params)
            if unknown:
                raise ValueError(f"module {self.name}: `{text}` uses {', '.join(sorted(unknown))}, which is not a "
                                 f"parameter of {self.name} ({', '.join(self.params) or 'it has none'})")
        return self


class ModelSpec(BaseModel):
    """A whole model: a chain of layers and module calls, plus the composite modules it uses."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = Field("CNN-GPT", description="model name")
    input: tuple[int, int, int] = Field((3, 32, 32), description="input channels, height, width")
    num_classes: int = Field(100, ge=1, le=limits.MAX_SIZE, description="classifier outputs")
    layers: list[Node] = Field(max_length=limits.MAX_LAYERS, description="the layers, in forward order")
    modules: list[ModuleSpec] = Field(default_factory=list, max_length=limits.MAX_MODULES,
                                      description="composite modules the layers call")
    head: Union[int, None] = Field(None, description="index of the layer whose output size is the class count")

    _clean_name = field_validator("name")(lambda cls, v: clean_text(v, limits.MAX_MODEL_NAME) or "Model")

    @model_validator(mode="after")
    def _check_graph(self):
        names = [m.name for m in self.modules]
        if len(set(names)) != len(names):
            raise ValueError(f"module {next(n for n in names if names.count(n) > 1)} is defined twice")
        for m in self.modules:
            shadowed = set(m.params) & set(names)
            if shadowed:
                raise ValueError(f"module {m.name}: parameter {', '.join(sorted(shadowed))} has the name of a module")
        for text in expressions(self.layers):
            if expr.names(text):
                raise ValueError(f"`{text}` at the top level names {', '.join(sorted(expr.names(text)))}: only a "
                                 "module's layers take sizes from its parameters")
        self._expanded_size()
        return self

    def _expanded_size(self) -> int:
        """Layers once every call is expanded; refuses a module that calls itself, nesting deeper than
        MAX_NESTING, or more than MAX_EXPANDED layers, before anything walks them."""
        modules, sizes = {m.name: m for m in self.modules}, {}

        def size(nodes: list, stack: tuple[str, ...]) -> int:
            total = 0
            for node in nodes:
                if isinstance(node, Call) and node.module in modules:
                    total += module_size(node.module, stack)
                else:
                    total += 1 + sum(size(b, stack) for b in branches(node))
                if total > limits.MAX_EXPANDED:
                    raise ValueError(f"the model expands to more than {limits.MAX_EXPANDED:,} layers")
            return total

        def module_size(name: str, stack: tuple[str, ...]) -> int:
            if name in stack:
                raise ValueError(f"module {name} calls itself ({' -> '.join((*stack, name))})")
            if len(stack) >= limits.MAX_NESTING:
                raise ValueError(f"modules nest more than {limits.MAX_NESTING} deep ({' -> '.join(stack)})")
            if name not in sizes:
                sizes[name] = size(modules[name].body, (*stack, name))
            return sizes[name]

        return size(self.layers, ())

    @property
    def class_name(self) -> str:
        """The model's class: from its name, never a reserved name or one of its modules'."""
        parts = re.findall(r"[A-Za-z0-9]+", self.name) or ["Model"]
        name = "".join(p if p.isupper() else p[:1].upper() + p[1:] for p in parts)[:limits.MAX_NAME - 8]
        name = name if name[0].isalpha() else "Model" + name
        taken = RESERVED | {m.name for m in self.modules}
        while name in taken:
            name += "Net"
        return name

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
Gate.model_rebuild()
ModuleSpec.model_rebuild()
ModelSpec.model_rebuild()
