"""`forward` as real answers write it, followed by the same evaluator with the input as a symbolic tensor:
modules applied to it, `F.relu`/`F.avg_pool2d`/`torch.flatten`/`x.view(x.size(0), -1)`/`x.mean([2, 3])`, `+`, `*`,
`torch.cat`, build-time conditions (`if self.use_res_connect:`) and loops over containers. What a tensor operation
cannot be a layer of the spec (a channel shuffle's 5-d view, `chunk`, a slice that drops channels) is refused
with its line."""

from __future__ import annotations

import ast
from typing import Any

from ...spec.graph import Call
from ...spec.layers import ACTIVATIONS, Flatten, check_identifier
from .messages import Refused
from .tensors import Tensor
from .values import Builtin, Container, Dim, Instance, Layer, Module

# functional forms and tensor methods -> layer kind
FUNCTIONAL = {"relu": "ReLU", "relu6": "ReLU6", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU",
              "silu": "SiLU", "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid", "leaky_relu": "LeakyReLU",
              "max_pool2d": "MaxPool2d", "avg_pool2d": "AvgPool2d", "adaptive_avg_pool2d": "AdaptiveAvgPool2d",
              "adaptive_max_pool2d": "AdaptiveMaxPool2d", "dropout": "Dropout", "flatten": "Flatten",
              "softmax": "Softmax", "log_softmax": "LogSoftmax", "mish": "Mish", "elu": "ELU"}
_SAME = {"contiguous", "expand_as", "clone", "detach"}  # values as they are (a gate broadcasts anyway)
_NOT_LAYERS = {"chunk": "splits channels (a channel split)", "split": "splits channels",
               "transpose": "transposes dimensions (a channel shuffle)", "permute": "permutes dimensions",
               "unsqueeze": "adds a dimension", "stack": "stacks tensors", "matmul": "multiplies matrices",
               "bmm": "multiplies matrices", "sum": "sums a tensor", "sub": "subtracts tensors",
               "div": "divides tensors", "pow": "raises a tensor to a power", "exp": "exponentiates a tensor",
               "roll": "rolls a tensor", "pad": "pads a tensor", "interpolate": "resizes a map",
               "repeat": "repeats a tensor", "expand": "expands a tensor"}
_PARAMETERLESS = {*ACTIVATIONS, "Flatten", "Dropout", "Identity", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
                  "AdaptiveMaxPool2d", "Softmax", "LogSoftmax", "Upsample"}  # may be applied more than once


class Pending:
    """A tensor and a number added in forward (`x + 3`), kept while it may still begin a hand-written hard sigmoid,
    `relu6(x + 3) / 6`, or hard swish, `x * relu6(x + 3) / 6` (MobileNetV3s and GhostNets write them so): `stage`
    is how far it has got, "shift" (x + 3), "relu6" (relu6(x + 3)) or "scaled" (`factor` * relu6(x + 3)). Anything
    else done with it is refused as the `+` itself was (`refusal`): when it is done, or when forward ends with it
    unused (program.py's `follow`)."""

    def __init__(self, ev, x: Tensor, stage: str, refusal: Refused, factor: Tensor | None = None) -> None:
        self.x, self.stage, self.refusal, self.factor = x, stage, refusal, factor
        ev.applied[-1]["pending"].append(self)

    def then(self, ev, stage: str, factor: Tensor | None = None) -> Pending:
        self.done(ev)
        return Pending(ev, self.x, stage, self.refusal, factor)

    def done(self, ev) -> None:
        if self in ev.applied[-1]["pending"]:
            ev.applied[-1]["pending"].remove(self)


def _is(value: Any, number: int) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == number


def _relu6(ev, p: Pending, args: tuple, kwargs: dict) -> Pending:
    """relu6(x + 3), as F.relu6, an nn.ReLU6 or a clamp to [0, 6] writes it (in place or not: x + 3 is a
    temporary)."""
    if p.stage != "shift" or len(args) > 1 or set(kwargs) - {"inplace"}:
        raise p.refusal
    return p.then(ev, "relu6")


def _hard(ev, op: ast.operator, a: Any, b: Any) -> Any:
    """A step of a hard sigmoid or hard swish written out (see Pending); None for any other arithmetic."""
    if isinstance(op, ast.Add) and (isinstance(a, Tensor) and _is(b, 3) or isinstance(b, Tensor) and _is(a, 3)):
        return Pending(ev, a if isinstance(a, Tensor) else b, "shift", Refused(_arithmetic(op, a, b), ev.line))
    p, t = (a, b) if isinstance(a, Pending) else (b, a)
    if isinstance(op, ast.Mult) and isinstance(p, Pending) and p.stage == "relu6" and isinstance(t, Tensor):
        return p.then(ev, "scaled", t)
    if not (isinstance(op, ast.Div) and isinstance(a, Pending) and a.stage in ("relu6", "scaled") and _is(b, 6)):
        return None
    a.done(ev)
    if a.factor is a.x:  # x * relu6(x + 3) / 6
        return apply_nodes(ev, a.x, [ev.layer("Hardswish", [], {}).node])
    gate = apply_nodes(ev, a.x, [ev.layer("Hardsigmoid", [], {}).node])
    return gate if a.factor is None else Tensor("mul", [a.factor, gate])  # y * relu6(x + 3) / 6: y gated


def _arithmetic(op: ast.operator, a: Any, b: Any) -> str:
    what = "two tensors" if isinstance(a, Tensor) and isinstance(b, Tensor) else "a tensor and a number"
    return f"`{ast.unparse(ast.BinOp(ast.Name('a'), op, ast.Name('b')))[2:-2]}` of {what} is not a layer gptnet " \
           "has (it reads x + f(x) and x * gate(x))"


def _tensor(value: Any, what: str) -> Tensor:
    if not isinstance(value, Tensor):
        raise Refused(f"{what} takes a tensor")
    return value


def _dims(values: Any) -> bool:
    return any(isinstance(v, Dim) for v in (values if isinstance(values, (tuple, list)) else (values,)))


def _functional(kind: str):
    def run(ev, x, *rest, **kwargs):
        if isinstance(x, Pending) and kind == "ReLU6":
            return _relu6(ev, x, rest, kwargs)
        x = _tensor(x, kind)
        kwargs = {k: v for k, v in kwargs.items() if k not in ("training", "input")}
        if kind == "Flatten":
            rest, kwargs = (), {}
        elif kind in ("AvgPool2d", "MaxPool2d") and (_dims(rest[:1]) or _dims(kwargs.get("kernel_size"))):
            return apply_nodes(ev, x, [ev.layer(f"Adaptive{kind}", [1], {}).node])  # a window the map's size
        elif kind == "Dropout":
            rest = rest[:1]
        return apply_nodes(ev, x, [ev.layer(kind, list(rest), kwargs).node])
    return run


def _cat(ev, tensors, dim=0):
    if dim not in (1, -3):
        raise Refused(f"torch.cat along dim {dim!r:.10}: gptnet reads a channel concat (dim=1)")
    parts = [_tensor(t, "torch.cat") for t in ev.iterate(tensors)]
    return Tensor("cat", parts)


def _combine(kind: str):
    def run(ev, a, b, **kwargs):
        if kwargs:
            raise Refused(f"torch.{kind}(..., {', '.join(kwargs)}=...) is not read")
        return tensor_binop(ev, ast.Add() if kind == "add" else ast.Mult(), a, b)
    return run


def _mean(ev, x, dim=None, keepdim=False, **kwargs):
    x = _tensor(x, "mean")
    dims = tuple(dim) if isinstance(dim, (list, tuple)) else (dim,)
    if sorted(dims) not in ([2, 3], [-2, -1]):
        raise Refused(f"a mean over dims {dims!r:.20} is not a layer; gptnet reads a mean over the map (dims 2, 3)")
    pool = ev.layer("AdaptiveAvgPool2d", [1], {}).node
    return apply_nodes(ev, x, [pool] if keepdim else [pool, Flatten()])


def _clamp(ev, x, min=None, max=None):  # noqa: A002 - torch's names for the bounds
    """clamp(x, 0, 6) is a ReLU6 (of x + 3, a hard sigmoid's middle step), clamp(x, min=0) a ReLU."""
    if isinstance(x, Pending) and _is(min, 0) and _is(max, 6):
        return _relu6(ev, x, (), {})
    kind = "ReLU6" if _is(min, 0) and _is(max, 6) else "ReLU" if _is(min, 0) and max is None else None
    if kind is None:
        raise Refused(f"a clamp to [{min!r:.10}, {max!r:.10}] is not a layer gptnet has (it reads clamp(x, 0, 6) "
                      "as a ReLU6 and clamp(x, min=0) as a ReLU)")
    return apply_nodes(ev, _tensor(x, "clamp"), [ev.layer(kind, [], {}).node])


def _refuse(name: str, why: str):
    def run(ev, *args, **kwargs):
        raise Refused(f"`{name}` {why}: no layer of gptnet's does that")
    return run


TENSOR_FUNCTIONS = {**{name: Builtin(name, _functional(kind)) for name, kind in FUNCTIONAL.items()},
                    "cat": Builtin("cat", _cat), "concat": Builtin("concat", _cat), "mean": Builtin("mean", _mean),
                    "add": Builtin("add", _combine("add")), "mul": Builtin("mul", _combine("mul")),
                    "clamp": Builtin("clamp", _clamp), "clip": Builtin("clip", _clamp),
                    **{name: Builtin(name, _refuse(name, why)) for name, why in _NOT_LAYERS.items()}}


def _reshape(ev, x: Tensor, *shape):
    shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
    if len(shape) == 2 or len(shape) == 4 and shape[2:] == (1, 1):  # (b, -1); (b, c, 1, 1) of a gate
        return apply_nodes(ev, x, [Flatten()])
    raise Refused(f"a reshape to {len(shape)} dimensions is not a layer gptnet has (gptnet reads a flatten to "
                  "(batch, -1); a channel shuffle has no layer)")


def tensor_attribute(ev, owner: Any, name: str) -> Any:
    """`x.shape`, `x.size(0)`, `x.view(...)`, `x.mean(...)`, `x.relu()` ..."""
    if isinstance(owner, Dim):
        raise Refused(f"`.{name}` of a tensor size is not read")
    if isinstance(owner, Pending) and name not in TENSOR_FUNCTIONS:
        raise owner.refusal
    if name == "shape":
        return tuple(Dim(f"x.shape[{k}]") for k in range(4))
    if name == "size":
        return Builtin("size", lambda ev, dim=None: tuple(Dim(f"size {k}") for k in range(4)) if dim is None
                       else Dim(f"size {dim}"))
    if name in ("view", "reshape"):
        return Builtin(name, lambda ev, *shape: _reshape(ev, owner, *shape))
    if name in ("flatten", "squeeze"):
        return Builtin(name, lambda ev, *a, **k: apply_nodes(ev, owner, [Flatten()]))
    if name in _SAME:
        return Builtin(name, lambda ev, *a, **k: owner)
    if name in TENSOR_FUNCTIONS and name not in ("cat", "concat"):
        return Builtin(name, lambda ev, *a, **k: TENSOR_FUNCTIONS[name].run(ev, owner, *a, **k))
    raise Refused(f"the tensor method `.{name}` is not read")


def tensor_binop(ev, op: ast.operator, a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) and isinstance(b, Tensor) and isinstance(op, (ast.Add, ast.Mult)):
        return Tensor("add" if isinstance(op, ast.Add) else "mul", [a, b])
    if not any(isinstance(v, (Tensor, Pending)) for v in (a, b)):
        return Dim("a size computed from the input's")
    hard = _hard(ev, op, a, b)
    if hard is not None:
        return hard
    pending = next((v for v in (a, b) if isinstance(v, Pending)), None)
    raise pending.refusal if pending is not None else Refused(_arithmetic(op, a, b))


def tensor_index(ev, t: Tensor, key: Any, node: ast.AST) -> Tensor:
    """`out[:, :n]`: kept when it keeps every channel (GhostNet's, when its halves add up); refused otherwise."""
    key = key if isinstance(key, tuple) else (key,)
    full = slice(None)
    if len(key) >= 2 and key[0] == full and isinstance(key[1], slice) and key[1].start in (None, 0) \
            and key[1].step is None and isinstance(key[1].stop, int) and all(k == full for k in key[2:]):
        have = channels(ev, t)
        if have == key[1].stop:
            ev.notes.append(f"line {node.lineno}: the slice `{ast.unparse(node)}` keeps all {have} channels; "
                            "read as the tensor itself")
            return t
        raise Refused(f"`{ast.unparse(node)}` keeps {key[1].stop} of {have or 'its'} channels: gptnet has no layer "
                      "that drops channels (make the branches add up to the channels wanted)")
    if len(key) >= 2 and key[0] == full and isinstance(key[1], slice):
        raise Refused(f"`{ast.unparse(node)}` takes a part of the channels (a channel split): gptnet has no layer "
                      "that drops channels")
    raise Refused(f"indexing a tensor (`{ast.unparse(node)}`) is not a layer gptnet has")


def channels(ev, t: Tensor) -> int | None:
    """The channels of a traced tensor, from the last layer that sets them; None when only the input knows."""
    while t.kind == "apply" or t.kind in ("add", "mul") and t.parts:
        if t.kind != "apply":
            found = [channels(ev, p) for p in t.parts]
            return next((c for c in found if c is not None), None)
        for node in reversed(t.nodes):
            value = ev.out_channels.get(node.module) if node.op == "call" else \
                next((getattr(node, f) for f in ("out_channels", "num_features", "out_features")
                      if isinstance(getattr(node, f, None), int)), None)
            if node.op == "DWConv2d" and isinstance(node.channels, int):
                value = node.channels * node.depth_multiplier
            if value is not None or node.op == "call":
                return value
        t = t.parts[0]
    if t.kind == "cat":
        found = [channels(ev, p) for p in t.parts]
        return None if None in found else sum(found)
    return None


def apply_nodes(ev, x: Tensor, nodes: list) -> Tensor:
    ev.spend(len(nodes))
    return Tensor("apply", [x], nodes) if nodes else x


def apply(ev, module: Module, args: list, kwargs: dict) -> Tensor:
    """A module called in forward: its layers applied to the tensor (an instance of the answer's class as a
    call of the spec module it specialises to)."""
    if len(args) == 1 and not kwargs and isinstance(args[0], Pending) and isinstance(module, Layer) and \
            module.node.op == "ReLU6":  # h_sigmoid's `self.relu(x + 3) / 6`
        ev.applied[-1]["modules"].add(id(module))
        return _relu6(ev, args[0], (), {})
    if len(args) != 1 or kwargs or not isinstance(args[0], Tensor):
        raise Refused("a module is called with other than one tensor (gptnet follows one input)")
    x = args[0]
    if isinstance(module, Container):
        if module.kind == "ModuleList":
            raise Refused("an nn.ModuleList is called; forward iterates or indexes it")
        for item in module.items:
            x = apply(ev, item, [x], {})
        return x
    if isinstance(module, Instance) and module.seq is not None and module.cls.method("forward") is None:
        if ev.applied:  # used, though inline: its container is not "built but never used"
            ev.applied[-1]["modules"].add(id(module))
        return apply(ev, module.seq, [x], {})  # an nn.Sequential subclass (ConvBNReLU): its layers, inline
    seen = ev.applied[-1] if ev.applied else None
    name = module.attr if module.attr and seen is not None and module.attr not in seen["names"] else None
    if isinstance(module, Layer):
        node = module.node
        if seen is not None and id(module) in seen["modules"] and node.op not in _PARAMETERLESS:
            raise Refused(f"the {node.op} `{module.attr or 'layer'}` is applied twice: gptnet's specs do not share "
                          "weights (build one per use)")
    elif isinstance(module, Instance):
        if seen is not None and id(module) in seen["modules"]:
            raise Refused(f"the {module.cls.name} `{module.attr or 'module'}` is applied twice: gptnet's specs do not "
                          "share weights (build one per use)")
        spec = ev.module_spec(module)
        if spec is None:  # a module whose forward returns its input
            return x
        node = Call(module=spec)
    else:
        raise Refused("calls something that is not a module")
    if seen is not None:
        seen["modules"].add(id(module))
        seen["names"].add(name)
    try:
        name = check_identifier(name) if name else None
    except ValueError:
        name = None
    return apply_nodes(ev, x, [node.model_copy(update={"name": name})])
