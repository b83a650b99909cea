"""Channel counts: missing `in_channels` / `out_channels` inferred from neighbours, counts that contradict the
layer before (a BatchNorm2d that disagrees with its conv), the first layer against `--input`, and a Linear's
`in_features` against what reaches it. Given values of weighted layers win; missing ones come from neighbours."""

from __future__ import annotations

from typing import Any

from ..spec.graph import Call, ModuleSpec
from ..spec.layers import Conv2d, Layer
from ..spec.walk import MissingArgs, bind, concrete
from .context import Repair, call_value, channels_in, in_param, out_param, set_call_value


def _next_channels(r: Repair, i: int) -> tuple[Any, str]:
    """The channel count the next stating layer expects, and that layer's text."""
    for node in r.layers[i + 1:]:
        c = channels_in(node, r.modules)
        if isinstance(c, int):
            return c, node.signature()
        if isinstance(node, Layer) and (node.channel_out or node.op in ("Flatten", "AdaptiveAvgPool2d")):
            break  # past a layer that sets or reshapes channels, the next count says nothing about this one
    return None, ""


def _first(r: Repair, i: int) -> bool:
    return all(channels_in(n, r.modules) is None and not isinstance(n, Call) for n in r.layers[:i])


def _fix_in(r: Repair, i: int, stated: Any, actual: Any, apply) -> None:
    if actual is None or stated == actual:
        return
    before = r.layers[i].signature()
    apply(actual)
    after = r.layers[i].signature()
    if stated is None:
        r.add("missing-argument", i, f"no input channel count was given; {actual} channels reach it", before, after)
    elif _first(r, i) and len(r.task.input) == 3 and actual == r.task.input[0]:
        r.add("input-channels", i, f"the input is {'x'.join(map(str, r.task.input))}, so the first layer takes "
              f"{actual} channels", before, after)
    else:
        r.add("channel-mismatch", i, f"it stated {stated} input channels but the layer before gives {actual}",
              before, after)


def _layer(r: Repair, i: int, shape: tuple) -> None:
    layer = r.layers[i]
    actual = shape[0]
    if layer.channel_in and not (layer.op == "Linear" and len(shape) != 1):
        stated = getattr(layer, layer.channel_in)

        def apply(value: int, layer=layer, stated=stated) -> None:
            setattr(layer, layer.channel_in, value)
            if isinstance(layer, Conv2d) and layer.groups not in (1, None) and layer.groups == stated:
                layer.groups = value  # a depthwise conv stays depthwise
                if layer.out_channels == stated:
                    layer.out_channels = value
        _fix_in(r, i, stated, actual, apply)
    if layer.channel_out and getattr(layer, layer.channel_out) is None:
        if isinstance(layer, Conv2d) and layer.groups not in (1, None) and layer.groups == layer.in_channels:
            value, why = layer.in_channels, "a depthwise convolution keeps its channel count"
        else:
            value, text = _next_channels(r, i)
            why = f"the next layer, {text}, takes {value}"
        if value is None:
            if layer.op == "Linear" and i == len(r.layers) - 1:
                return  # the classifier head: the head check sets it to the class count
            r.add("missing-argument", i, f"{layer.channel_out} is missing and no neighbour tells it",
                  layer.signature(), severity="error")
            return
        before = layer.signature()
        setattr(layer, layer.channel_out, value)
        r.add("missing-argument", i, f"{layer.channel_out} was not given; {why}", before, layer.signature())


def _grouped_by_input(call: Call, module: ModuleSpec, pin: str, value: int) -> bool:
    """Whether a conv inside the module takes its groups from the call's input count (a depthwise conv): setting
    the input to `value` regroups it."""
    moved = call.model_copy(deep=True)
    set_call_value(moved, module, pin, value)
    try:
        pairs = zip(concrete(module.body, bind(call, module)), concrete(module.body, bind(moved, module)))
    except ValueError:  # arguments that do not bind yet: the walk reports them
        return False
    return any(isinstance(a, Conv2d) and a.groups not in (1, None) and b.groups == value and a.groups != value
               for a, b in pairs)


def _set_call_in(call: Call, module: ModuleSpec, stated: Any, value: int) -> None:
    """Set the call's input count; a depthwise module's output count follows when it equals the input's, as a
    depthwise layer's does (it must stay a multiple of the groups)."""
    pin, pout = in_param(module), out_param(module)
    follows = bool(pout) and stated is not None and call_value(call, module, pout) == stated \
        and _grouped_by_input(call, module, pin, value)
    set_call_value(call, module, pin, value)
    if follows:
        set_call_value(call, module, pout, value)


def _call(r: Repair, i: int, shape: tuple) -> None:
    call: Call = r.layers[i]
    module = r.modules.get(call.module)
    if module is None:
        return
    before = call.signature()
    try:
        bind(call, module)
        missing: list[str] = []
    except MissingArgs as e:
        missing = e.missing
    pin, pout = in_param(module), out_param(module)
    for param in missing:
        if param == pin:
            value, why = shape[0], f"{shape[0]} channels reach it"
        elif param == pout:
            value, text = _next_channels(r, i)
            why = f"the next layer, {text}, takes {value}"
        else:
            value = None
        if value is None:
            r.add("missing-argument", i, f"{module.name} needs {param} and nothing tells its value", before,
                  severity="error")
            return
        set_call_value(call, module, param, value)
        r.add("missing-argument", i, f"{param} was not given; {why}", before, call.signature())
        before = call.signature()
    if pin:
        stated = call_value(call, module, pin)
        _fix_in(r, i, stated, shape[0], lambda value: _set_call_in(call, module, stated, value))


def fix_channels(r: Repair, i: int, shape: tuple) -> None:
    node = r.layers[i]
    if isinstance(node, Layer):
        _layer(r, i, shape)
    elif isinstance(node, Call):
        _call(r, i, shape)
