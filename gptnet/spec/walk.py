"""Walking a spec: binding module calls to their parameters, expanding them to concrete layers, and carrying a
(C, H, W) shape through every node, with params and MACs per node. No torch modules are built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import limits
from ..units import plural
from . import expr
from .grammar import check_number
from .graph import Call, Concat, Gate, ModelSpec, ModuleSpec, Residual
from .layers import Layer, Shape, SpecError


class MissingArgs(SpecError):
    def __init__(self, call: Call, missing: list[str]) -> None:
        super().__init__(f"{call.signature()} is missing {', '.join(missing)}")
        self.call, self.missing = call, missing


def bind(call: Call, module: ModuleSpec) -> dict[str, Any]:
    """The call's arguments by parameter name, defaults and derived parameters filled in."""
    if len(call.args) > len(module.params):
        raise SpecError(f"{call.signature()} passes {len(call.args)} arguments; {module.name} takes "
                        f"{len(module.params)} ({', '.join(module.params)})")
    env = dict(zip(module.params, call.args))
    unknown = [k for k in call.kwargs if k not in module.params]
    if unknown:
        raise SpecError(f"{call.signature()}: {module.name} has no parameter {', '.join(unknown)} "
                        f"(it takes {', '.join(module.params)})")
    env.update(call.kwargs)
    missing = [p for p in module.params if p not in env and p not in module.defaults and p not in module.derived]
    if missing:
        raise MissingArgs(call, missing)
    for p in module.params:
        env.setdefault(p, module.defaults.get(p))
    for p, text in module.derived.items():
        if env.get(p) is None:
            env[p] = expr.evaluate(text, env)
    for p, value in env.items():  # sizes stay bounded however deep modules multiply them
        try:
            check_number(value, f"{call.signature()}: {p}")
        except ValueError as e:
            raise SpecError(str(e)) from None
    return env


def _value(v: Any, env: dict[str, Any]) -> Any:
    if isinstance(v, str) and env is not None:
        try:
            return expr.evaluate(v, env)
        except expr.ExprError:
            return v
    if isinstance(v, (list, tuple)):
        return type(v)(_value(x, env) for x in v)
    return v


def concrete(nodes: list, env: dict[str, Any]) -> list:
    """The nodes with every size expression evaluated against `env`."""
    out = []
    for node in nodes:
        if isinstance(node, Layer):
            out.append(node.model_copy(update={k: _value(v, env) for k, v in node.args().items()}))
        elif isinstance(node, Call):
            out.append(node.model_copy(update={"args": [_value(a, env) for a in node.args],
                                               "kwargs": {k: _value(v, env) for k, v in node.kwargs.items()}}))
        elif isinstance(node, Residual):
            out.append(node.model_copy(update={"body": concrete(node.body, env),
                                               "shortcut": concrete(node.shortcut, env),
                                               "when": None if node.when is None else
                                               ("True" if expr.evaluate(node.when, env) else "False")}))
        elif isinstance(node, Concat):
            out.append(node.model_copy(update={"branches": [concrete(b, env) for b in node.branches]}))
        elif isinstance(node, Gate):
            out.append(node.model_copy(update={"gate": concrete(node.gate, env)}))
    return out


def expand(call: Call, modules: dict[str, ModuleSpec]) -> list:
    module = modules.get(call.module)
    if module is None:
        raise SpecError(f"module {call.module} is not defined")
    return concrete(module.body, bind(call, module))


@dataclass
class Step:
    """One node applied to a shape; `children` for the inside of a module call, residual or concat."""

    node: Any
    inp: Shape
    out: Shape
    params: int = 0
    macs: int = 0
    children: list["Step"] = field(default_factory=list)


def _run_chain(nodes: list, shape: Shape, modules: dict[str, ModuleSpec], costs: bool) -> list[Step]:
    steps = []
    for node in nodes:
        steps.append(run_node(node, shape, modules, costs))
        shape = steps[-1].out
    return steps


def _out(steps: list[Step], shape: Shape) -> Shape:
    return steps[-1].out if steps else shape


def run_node(node: Any, shape: Shape, modules: dict[str, ModuleSpec], costs: bool = True) -> Step:
    if isinstance(node, Layer):
        node.check_bounds()
        missing = [f for f, v in node.sizes().items() if v is None and f in (node.channel_in, node.channel_out)]
        if costs and missing:  # repairs fill these at the top level; a module's layers must give them
            raise SpecError(f"{node.signature()} does not give {', '.join(missing)}")
        takes = getattr(node, node.channel_in) if node.channel_in else None
        if type(takes) is int and shape and shape[0] is not None and takes != shape[0]:
            # repairs align the top level first; inside a module or branch this is a model torch would refuse
            raise SpecError(f"{node.signature()} takes {plural(takes, 'channel')} but gets a {fmt_shape(shape)} input")
        out = node.out_shape(shape)
        if any(d is not None and d <= 0 for d in out):
            raise SpecError(f"{node.signature()} on a {fmt_shape(shape)} input gives {fmt_shape(out)}: the feature "
                            "map collapses to zero")
        if len(out) == 3 and any(d is not None and d > limits.MAX_SPATIAL for d in out[1:]):
            raise SpecError(f"{node.signature()} on a {fmt_shape(shape)} input gives {fmt_shape(out)}: larger than "
                            f"{limits.MAX_SPATIAL} pixels a side")
        return Step(node, shape, out, node.params() if costs else 0, node.macs(shape, out) if costs else 0)
    if isinstance(node, Call):
        children = _run_chain(expand(node, modules), shape, modules, costs)
    elif isinstance(node, Residual):
        body = _run_chain(node.body, shape, modules, costs)
        children = body
        if node.when != "False":
            short = _run_chain(node.shortcut, shape, modules, costs)
            if _out(short, shape) != _out(body, shape):
                raise SpecError(f"residual add of {fmt_shape(_out(body, shape))} and "
                                f"{fmt_shape(_out(short, shape))}: the shapes differ")
            children = body + short
        return Step(node, shape, _out(body, shape), sum(s.params for s in children), sum(s.macs for s in children),
                    children)
    elif isinstance(node, Concat):
        branches = [_run_chain(b, shape, modules, costs) for b in node.branches]
        outs = [_out(b, shape) for b in branches]
        if len({o[1:] for o in outs}) != 1 or any(len(o) != 3 for o in outs):
            raise SpecError(f"concat of {', '.join(fmt_shape(o) for o in outs)}: the spatial sizes differ")
        channels = None if any(o[0] is None for o in outs) else sum(o[0] for o in outs)
        children = [s for b in branches for s in b]
        return Step(node, shape, (channels, *outs[0][1:]), sum(s.params for s in children),
                    sum(s.macs for s in children), children)
    elif isinstance(node, Gate):  # the product is elementwise: thop counts it as no MACs
        children = _run_chain(node.gate, shape, modules, costs)
        scale = _out(children, shape)
        if len(shape) != 3 or scale not in (tuple(shape), (shape[0], 1, 1)):
            raise SpecError(f"a gate giving {fmt_shape(scale)} cannot scale a {fmt_shape(shape)} map: it must give "
                            f"{fmt_shape((shape[0], 1, 1)) if len(shape) == 3 else 'Cx1x1'} or the map's own shape")
        return Step(node, shape, shape, sum(s.params for s in children), sum(s.macs for s in children), children)
    else:
        raise SpecError(f"unknown node {node!r}")
    return Step(node, shape, _out(children, shape), sum(s.params for s in children), sum(s.macs for s in children),
                children)


def walk(model: ModelSpec, input: Shape | None = None, costs: bool = True) -> list[Step]:
    """One Step per top-level layer of the model, at `input` (default: the model's task input)."""
    return _run_chain(model.layers, tuple(input or model.input), {m.name: m for m in model.modules}, costs)


def totals(steps: list[Step]) -> tuple[int, int]:
    return sum(s.params for s in steps), sum(s.macs for s in steps)


def fmt_shape(shape: Shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def signature(node: Any) -> str:
    if isinstance(node, (Layer, Call)):
        return node.signature()
    if isinstance(node, Residual):
        return "Residual(" + " -> ".join(signature(n) for n in node.body) + ")"
    if isinstance(node, Concat):
        return "Concat(" + " | ".join(" -> ".join(signature(n) for n in b) for b in node.branches) + ")"
    if isinstance(node, Gate):
        return "Gate(" + " -> ".join(signature(n) for n in node.gate) + ")"
    return repr(node)
