"""What the per-layer repair rules share: the model being repaired, the task, and how to name and read nodes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..spec.graph import Call, ModelSpec, ModuleSpec
from ..spec.layers import Layer
from .findings import Finding, Task

_IN = re.compile(r"^(in|inp|input|c_?in|ch_?in|nin|inplanes|in_?planes|in_?ch\w*|in_?channels?|in_?features)$", re.I)
_OUT = re.compile(r"^(out|oup|output|c_?out|ch_?out|nout|planes|out_?planes|out_?ch\w*|out_?channels?|"
                  r"out_?features|num_?filters|filters)$", re.I)


@dataclass
class Repair:
    """A model under repair and the findings so far."""

    model: ModelSpec
    task: Task
    findings: list[Finding] = field(default_factory=list)

    @property
    def layers(self) -> list:
        return self.model.layers

    @property
    def modules(self) -> dict[str, ModuleSpec]:
        return {m.name: m for m in self.model.modules}

    def where(self, i: int) -> str:
        node = self.layers[i]
        name = node.module if isinstance(node, Call) else getattr(node, "op", type(node).__name__)
        return f"layer {i} ({name})"

    def add(self, kind: str, i: int | str, why: str, before: str | None = None, after: str | None = None,
            severity: str = "repair") -> Finding:
        where = self.where(i) if isinstance(i, int) else i
        finding = Finding(kind=kind, where=where, before=before, after=after, why=why, severity=severity)
        if finding not in self.findings:  # the layer pass runs again after the head repair: say a thing once
            self.findings.append(finding)
        return finding


def module_param(module: ModuleSpec, pattern: re.Pattern) -> str | None:
    return next((p for p in module.params if pattern.match(p)), None)


def in_param(module: ModuleSpec) -> str | None:
    return module_param(module, _IN) or (module.params[0] if module.params else None)


def out_param(module: ModuleSpec) -> str | None:
    return module_param(module, _OUT)


def call_value(call: Call, module: ModuleSpec, param: str) -> Any:
    """What the call passes for `param` (None when it passes nothing)."""
    if param in call.kwargs:
        return call.kwargs[param]
    idx = module.params.index(param)
    return call.args[idx] if idx < len(call.args) else None


def set_call_value(call: Call, module: ModuleSpec, param: str, value: Any) -> None:
    """Set `param` positionally when it is the next positional argument (as a person would write it)."""
    idx = module.params.index(param)
    if param not in call.kwargs and idx < len(call.args):
        call.args[idx] = value
    elif param not in call.kwargs and idx == len(call.args):
        call.args.append(value)
    else:
        call.kwargs[param] = value


def channels_in(node: Any, modules: dict[str, ModuleSpec]) -> Any:
    """The channel count a node expects, when it states one."""
    if isinstance(node, Layer) and node.channel_in:
        return getattr(node, node.channel_in)
    if isinstance(node, Call) and node.module in modules and in_param(modules[node.module]):
        return call_value(node, modules[node.module], in_param(modules[node.module]))
    return None


__all__ = ["Repair", "call_value", "channels_in", "in_param", "out_param", "set_call_value"]
