"""Seeded, deterministic mutations of a validated spec, for the offline proposer: widen or narrow a stage, scale
every width at once, add or remove a block, swap a kxk conv for a depthwise-separable pair, change a kernel, move a
stride, add a residual or a squeeze-excite gate.

A mutation edits the top-level chain and returns the edited spec unvalidated: what follows from the edit (the
BatchNorm after a widened conv, the next conv's input channels, the budget) is left to the validators, which
every candidate passes through, as `design`'s answers do. A mutation that does not apply to a spec (no strided
layer to move, nothing to remove) returns None and the proposer draws another; one the target cannot run (a gate
on a target without Mul or Sigmoid) fails validation and is drawn again too.

The search is hardware-aware inside the loop: given each layer's estimated latency on the search's backend
(`costs`), the mutations that make a model cheaper (narrow, remove a block, depthwise-separable) pick their layer
in proportion to its latency, so the costliest layers are slimmed first; the others pick uniformly."""

from __future__ import annotations

import random
import re
from typing import Any, Callable

from ..latency import estimate
from ..spec.graph import Call, Gate, ModelSpec, ModuleSpec, Residual
from ..spec.layers import (ACTIVATIONS, AdaptiveAvgPool2d, BatchNorm2d, Conv2d, DWConv2d, Layer, Sigmoid,
                           pair)
from ..spec.registry import get_layer
from ..spec.walk import bind
from ..targets import Target
from ..validators.budget import round8, scale_widths
from ..validators.context import call_value, in_param, out_param, set_call_value

PASS_THROUGH = {*ACTIVATIONS, "BatchNorm2d", "Dropout", "Identity"}  # keep a unit's channel count
KERNELS = (3, 5, 7)

Costs = dict[int, float]  # a top-level layer's estimated ms on the search's backend (a module call's layers summed)
Mutation = Callable[[ModelSpec, random.Random, "Costs | None"], "tuple[ModelSpec, str] | None"]


def costs(spec: ModelSpec, target: Target, backend: str) -> Costs:
    """Each top-level layer's estimated latency; empty when the backend has no estimate."""
    out: Costs = {}
    for row in estimate(spec, target, backend).layers:
        i = int(re.match(r"\d+", row.index).group())  # "3", "3.1" (inside a call), "3+" (a residual's sum), "3*"
        out[i] = out.get(i, 0.0) + row.ms
    return out


def _modules(spec: ModelSpec) -> dict[str, ModuleSpec]:
    return {m.name: m for m in spec.modules}


def _get(node: Any, modules: dict, param: str) -> Any:
    """An argument of a layer or a module call (a call's defaults and derived values filled in)."""
    if isinstance(node, Layer):
        return getattr(node, param, None)
    module = modules.get(node.module)
    if module is None or param not in module.params:
        return None
    try:
        return bind(node, module).get(param)
    except ValueError:  # SpecError: arguments that do not bind
        return None


def _set(node: Any, modules: dict, param: str, value: Any) -> None:
    if isinstance(node, Layer):
        setattr(node, param, value)
    else:
        set_call_value(node, modules[node.module], param, value)


def _widths(node: Any, modules: dict) -> tuple[Any, Any] | None:
    """Input and output channels of a conv or a module call; None for anything else."""
    if isinstance(node, Conv2d):
        return node.in_channels, node.out_channels
    if isinstance(node, DWConv2d):
        return node.channels, node.as_conv().out_channels
    if isinstance(node, Call) and node.module in modules:
        module = modules[node.module]
        pin, pout = in_param(module), out_param(module)
        if pin is None:
            return None
        c_in = call_value(node, module, pin)
        return c_in, call_value(node, module, pout) if pout else c_in
    return None


def _units(spec: ModelSpec) -> list[int]:
    """The top-level convs and module calls (the head aside): what mutations change."""
    modules = _modules(spec)
    return [i for i, n in enumerate(spec.layers) if i != spec.head and _widths(n, modules) is not None]


def _tail(spec: ModelSpec, i: int) -> int:
    """The index after unit i and the BatchNorm, activations and dropout that follow it."""
    j = i + 1
    while j < len(spec.layers) and isinstance(spec.layers[j], Layer) and spec.layers[j].op in PASS_THROUGH:
        j += 1
    return j


def _stride(node: Any, modules: dict) -> int | None:
    value = _get(node, modules, "stride")
    return pair(value)[0] if isinstance(value, (int, tuple, list)) else None


def _same_width(node: Any, modules: dict, width: Any) -> bool:
    w = _widths(node, modules)
    return w is not None and w[0] == w[1] == width


def _rewidth(node: Any, modules: dict, old: Any, new: Any) -> bool:
    """Set a node that keeps `old` channels to `new` (a number, or a module parameter's name); False, and nothing
    changed, for a node that changes the channel count or is not a layer or call."""
    if isinstance(node, Layer) and node.op in PASS_THROUGH:
        if isinstance(node, BatchNorm2d) and node.num_features == old:
            node.num_features = new
        return True
    if not _same_width(node, modules, old):
        return False
    if isinstance(node, Conv2d):
        node.groups = new if node.groups == old and old != 1 else node.groups
        node.in_channels = node.out_channels = new
    elif isinstance(node, DWConv2d):
        node.channels = new
    else:
        module = modules[node.module]
        for param in {in_param(module), out_param(module)} - {None}:
            set_call_value(node, module, param, new)
    return True


def _calls(spec: ModelSpec, i: int, modules: dict, kind: type) -> bool:
    """Whether node i calls a module whose body holds a `kind` node (a residual, a gate); False past the end."""
    node = spec.layers[i] if i < len(spec.layers) else None
    return isinstance(node, Call) and any(isinstance(n, kind) for n in modules[node.module].body)


def _pick(spec: ModelSpec, sites: list[int], rng: random.Random, cost: Costs | None = None
          ) -> tuple[int, ModelSpec, dict] | None:
    """One of the sites (in proportion to its cost when given one), and a copy of the spec to edit with its
    modules; None when there is no site."""
    if not sites:
        return None
    weights = [cost.get(i, 0.0) for i in sites] if cost else []
    i = rng.choices(sites, weights)[0] if sum(weights) > 0 else rng.choice(sites)
    spec = spec.model_copy(deep=True)
    return i, spec, _modules(spec)


def _activation(spec: ModelSpec) -> Layer:
    """A fresh activation of the kind the model uses (ReLU when it uses none at the top level)."""
    found = next((n for n in spec.layers if isinstance(n, Layer) and n.op in ACTIVATIONS), None)
    return get_layer(found.op if found else "ReLU")()


def resize(factors: tuple[float, ...], name: str) -> Mutation:
    """Scale one stage's width: a channel-changing conv or call, and the same-width layers after it. Narrowing
    (every factor under 1) picks the stage by its cost."""

    def mutate(spec: ModelSpec, rng: random.Random, cost: Costs | None = None):
        modules = _modules(spec)
        sites = [i for i in _units(spec) if (isinstance(spec.layers[i], Conv2d) and spec.layers[i].groups == 1)
                 or (isinstance(spec.layers[i], Call) and len(set(_widths(spec.layers[i], modules))) == 2)]
        if (picked := _pick(spec, sites, rng, cost if max(factors) < 1 else None)) is None:
            return None
        i, spec, modules = picked
        factor = rng.choice(factors)
        node = spec.layers[i]
        old = _widths(node, modules)[1]
        if not isinstance(old, int):
            return None
        new = round8(old * factor)
        if new == old:
            return None
        _set(node, modules, "out_channels" if isinstance(node, Conv2d) else out_param(modules[node.module]), new)
        j = i + 1
        while j < len(spec.layers) and _rewidth(spec.layers[j], modules, old, new):
            j += 1
        return spec, f"layer {i}: {old}->{new} channels"

    mutate.__name__ = name
    return mutate


SCALES = (0.5, 0.75, 1.25, 1.5)


def scale(spec: ModelSpec, rng: random.Random, cost: Costs | None = None):
    """Every width times one factor, as MobileNet's width multiplier: a long step along the latency axis. A model
    grown past its budget is fitted back by the validators, so on a model at its budget only shrinking moves far."""
    factor = rng.choice(SCALES)
    scaled, mapping = scale_widths(spec, factor, spec.input[0])
    if all(old == new for old, new in mapping.items()):
        return None
    return scaled, f"every width x{factor}"


def add_block(spec: ModelSpec, rng: random.Random, cost: Costs | None = None):
    """A stride-1 block at a unit's width after it: a copy of the model's own same-width block if it has one (the
    article's DepthwiseConv2d), else a depthwise-separable pair; with BatchNorm and the model's activation."""
    if (picked := _pick(spec, _units(spec), rng)) is None:
        return None
    i, spec, modules = picked
    width = _widths(spec.layers[i], modules)[1]
    if not isinstance(width, int):
        return None
    template = next((n for n in spec.layers if isinstance(n, Call) and _stride(n, modules) == 1
                     and _widths(n, modules) is not None and len(set(_widths(n, modules))) == 1), None)
    act = _activation(spec)
    if template is not None:
        block = template.model_copy(deep=True)
        _rewidth(block, modules, _widths(block, modules)[0], width)
        new = [block, BatchNorm2d(num_features=width), act]
    else:
        new = [Conv2d(in_channels=width, out_channels=width, kernel_size=3, padding=1, groups=width, bias=False),
               BatchNorm2d(num_features=width), act.model_copy(),
               Conv2d(in_channels=width, out_channels=width, kernel_size=1, bias=False),
               BatchNorm2d(num_features=width), act.model_copy()]
    at = _tail(spec, i)
    spec.layers[at:at] = new
    return spec, f"after layer {i}: a {width}-channel block"


def remove_block(spec: ModelSpec, rng: random.Random, cost: Costs | None = None):
    """Drop a unit (not the first; picked by its cost) with its BatchNorm and activation; the next layer takes what
    reaches it."""
    units = _units(spec)
    if len(units) < 3:
        return None
    i, spec, _ = _pick(spec, units[1:], rng, cost)
    del spec.layers[i:_tail(spec, i)]
    return spec, f"layer {i} removed"


def separable(spec: ModelSpec, rng: random.Random, cost: Costs | None = None):
    """A dense kxk conv (picked by its cost) becomes a depthwise kxk conv, BatchNorm, activation and a pointwise
    1x1 conv."""
    sites = [i for i in _units(spec) if isinstance(spec.layers[i], Conv2d) and spec.layers[i].groups == 1
             and pair(spec.layers[i].kernel_size) != (1, 1)]
    if (picked := _pick(spec, sites, rng, cost)) is None:
        return None
    i, spec, _ = picked
    conv: Conv2d = spec.layers[i]
    c = conv.in_channels
    depthwise = conv.model_copy(update={"out_channels": c, "groups": c, "bias": False, "name": None})
    pointwise = Conv2d(in_channels=c, out_channels=conv.out_channels, kernel_size=1, bias=conv.bias)
    spec.layers[i:i + 1] = [depthwise, BatchNorm2d(num_features=c), _activation(spec), pointwise]
    return spec, f"layer {i}: {conv.signature()} -> depthwise-separable"


def kernel(spec: ModelSpec, rng: random.Random, cost: Costs | None = None):
    """Another odd kernel for a conv or a call that takes one; 'same' padding stays 'same'."""
    modules = _modules(spec)
    sites = [i for i in _units(spec) if isinstance(_get(spec.layers[i], modules, "kernel_size"), int)
             and _get(spec.layers[i], modules, "kernel_size") > 1]
    if (picked := _pick(spec, sites, rng)) is None:
        return None
    i, spec, modules = picked
    node = spec.layers[i]
    old = _get(node, modules, "kernel_size")
    new = rng.choice([k for k in KERNELS if k != old])
    _set(node, modules, "kernel_size", new)
    if _get(node, modules, "padding") == old // 2:
        _set(node, modules, "padding", new // 2)
    return spec, f"layer {i}: kernel {old}->{new}"


def move_stride(spec: ModelSpec, rng: random.Random, cost: Costs | None = None):
    """Swap the strides of a strided unit and a stride-1 unit next to it: downsample a block earlier or later."""
    modules = _modules(spec)
    units = _units(spec)
    pairs = [(a, b) for a, b in zip(units, units[1:])
             if {_stride(spec.layers[a], modules), _stride(spec.layers[b], modules)} in ({1, 2}, {1, 3})]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    spec = spec.model_copy(deep=True)
    modules = _modules(spec)
    sa, sb = _stride(spec.layers[a], modules), _stride(spec.layers[b], modules)
    _set(spec.layers[a], modules, "stride", sb)
    _set(spec.layers[b], modules, "stride", sa)
    return spec, f"stride {max(sa, sb)} moved from layer {a if sa > 1 else b} to layer {b if sa > 1 else a}"


def residual(spec: ModelSpec, rng: random.Random, cost: Costs | None = None):
    """Wrap a stride-1, same-width unit (and its BatchNorm) in an identity shortcut. The wrap is a module of one
    parameter, `channels`, so that the budget fit, which scales module calls, can still scale it."""
    modules = _modules(spec)
    sites = [i for i in _units(spec) if _stride(spec.layers[i], modules) == 1
             and len(set(_widths(spec.layers[i], modules))) == 1 and not _calls(spec, i, modules, Residual)]
    if (picked := _pick(spec, sites, rng)) is None:
        return None
    i, spec, modules = picked
    width = _widths(spec.layers[i], modules)[0]
    end = i + 2 if i + 1 < len(spec.layers) and isinstance(spec.layers[i + 1], BatchNorm2d) else i + 1
    body = [n.model_copy(deep=True) for n in spec.layers[i:end]]
    for node in body:
        _rewidth(node, modules, width, "channels")
    name = next(f"ResBlock{k}" for k in range(1, 1000) if f"ResBlock{k}" not in modules)
    spec.modules.append(ModuleSpec(name=name, params=["channels"], body=[Residual(body=body)],
                                   doc="An identity shortcut around a block (added by gptnet search)."))
    spec.layers[i:end] = [Call(module=name, args=[width])]
    return spec, f"layers {i}-{end - 1}: identity shortcut"


SE_REDUCTION = 4  # the squeeze's width: channels // 4, as MobileNetV3's blocks; at least 8, as the fit keeps widths


def squeeze_excite(spec: ModelSpec, rng: random.Random, cost: Costs | None = None):
    """After a unit (and its BatchNorm and activation), a squeeze-excite gate at its width: x * sigmoid(1x1 conv(act(
    1x1 conv(global pool(x))))). A module of one parameter, `channels`, as the residual's, shared by every gate."""
    modules = _modules(spec)
    sites = [i for i in _units(spec) if isinstance(_widths(spec.layers[i], modules)[1], int)
             and not _calls(spec, i, modules, Gate) and not _calls(spec, _tail(spec, i), modules, Gate)]
    if (picked := _pick(spec, sites, rng)) is None:
        return None
    i, spec, modules = picked
    width = _widths(spec.layers[i], modules)[1]
    squeeze = f"max(8, channels // {SE_REDUCTION})"
    body = [Gate(gate=[AdaptiveAvgPool2d(output_size=1), Conv2d(in_channels="channels", out_channels=squeeze,
                                                               kernel_size=1), _activation(spec),
                       Conv2d(in_channels=squeeze, out_channels="channels", kernel_size=1), Sigmoid()])]
    name = next((m.name for m in spec.modules if m.params == ["channels"] and m.body == body), None)
    if name is None:  # the first gate; later ones call the same module
        name = next(f"SqueezeExcite{k}" for k in range(1, 1000) if f"SqueezeExcite{k}" not in modules)
        spec.modules.append(ModuleSpec(name=name, params=["channels"], body=body,
                                       doc="A squeeze-excite gate: each channel scaled by its pooled weight "
                                           "(added by gptnet search)."))
    at = _tail(spec, i)
    spec.layers[at:at] = [Call(module=name, args=[width])]
    return spec, f"after layer {i}: a {width}-channel squeeze-excite gate"


MUTATIONS: dict[str, Mutation] = {
    "widen": resize((1.25, 1.5), "widen"), "narrow": resize((0.5, 0.75), "narrow"), "scale": scale,
    "add-block": add_block, "remove-block": remove_block, "separable": separable, "kernel": kernel,
    "move-stride": move_stride, "residual": residual, "squeeze-excite": squeeze_excite}
BY_COST = frozenset({"narrow", "remove-block", "separable"})  # the mutations that read `costs`; the rest ignore it
