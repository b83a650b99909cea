"""From an operator name and its arguments, as an LLM wrote them, to a layer spec or a module call.

Shared by every parser: JSON, article-style layer lists and PyTorch source all end here, so names, aliases and
argument spellings (Keras `filters`, `strides`, `units`, `padding="same"` ...) are resolved in one place."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from ..spec.graph import Call
from ..spec.layers import Layer, pair
from ..spec.registry import lookup, normalize_name
from .answer import flat_errors

# argument spellings from Keras, papers and LLM habits -> torch's
KEYWORDS = {
    "filters": "out_channels", "out_ch": "out_channels", "in_ch": "in_channels", "channels_out": "out_channels",
    "channels_in": "in_channels", "output_channels": "out_channels", "input_channels": "in_channels",
    "kernel": "kernel_size", "k": "kernel_size", "ksize": "kernel_size", "strides": "stride", "s": "stride",
    "units": "out_features", "in_dim": "in_features", "out_dim": "out_features", "pool_size": "kernel_size",
    "rate": "p", "dropout": "p", "use_bias": "bias", "dilation_rate": "dilation", "features": "num_features",
    "channels": "num_features", "epsilon": "eps", "num_classes": "out_features", "classes": "out_features",
}
IGNORED = {"data_format", "input_shape", "kernel_initializer", "name", "device", "dtype",
           "padding_mode", "ceil_mode", "count_include_pad", "track_running_stats", "return_indices",
           "divisor_override", "center", "scale", "axis", "start_dim", "end_dim", "input_dim"}


class BuildError(ValueError):
    pass


def _padding(value: Any, kwargs: dict[str, Any]) -> Any:
    """`same` / `valid` to numbers (torch 2 accepts "same" only at stride 1; numbers work everywhere)."""
    if not isinstance(value, str) or value.lower() not in ("same", "valid"):
        return value
    if value.lower() == "valid":
        return 0
    k = kwargs.get("kernel_size", 3)
    d = kwargs.get("dilation", 1)
    if isinstance(k, str) or isinstance(d, str):
        return f"({k} - 1) * {d} // 2"
    (kh, kw), (dh, dw) = pair(k), pair(d)
    ph, pw = (kh - 1) * dh // 2, (kw - 1) * dw // 2
    return ph if ph == pw else (ph, pw)


def make_node(name: str, args: list[Any] | tuple = (), kwargs: dict[str, Any] | None = None,
              attr: str | None = None, notes: list[str] | None = None) -> Layer | Call:
    """A layer of a known kind, or a `Call` of a module the answer names (defined or not)."""
    kwargs = dict(kwargs or {})
    hit = lookup(name)
    short = re.sub(r"^.*\.", "", name)
    if hit is None:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", short):
            raise BuildError(f"{name!r} is not an operator or module name")
        if "padding" in kwargs and "kernel_size" in kwargs:
            kwargs["padding"] = _padding(kwargs["padding"], kwargs)
        try:
            return Call(module=short, args=list(args), kwargs=kwargs, name=attr)
        except ValidationError as e:
            raise BuildError(f"{name}: {flat_errors(e)}") from None
    cls, preset, positional = hit
    fields = {}
    if len(args) > len(positional):
        raise BuildError(f"{name}({', '.join(map(repr, args))}) has {len(args)} positional arguments; "
                         f"{cls.kind_name()} takes at most {len(positional)} ({', '.join(positional)})")
    fields.update(zip(positional, args))
    for key, value in kwargs.items():
        key = KEYWORDS.get(key, key)
        if key not in cls.model_fields or key in ("op", "name"):
            if notes is not None and key not in IGNORED:
                notes.append(f"{name}: ignored argument {key}={value!r}")
            continue
        fields[key] = value
    for key, value in preset.items():
        fields.setdefault(key, value)
    if "padding" in fields:
        fields["padding"] = _padding(fields["padding"], fields)
    if fields.get("stride", 0) is None and "stride" in cls.model_fields and cls.model_fields["stride"].default == 1:
        fields["stride"] = 1
    if "bias" in fields and fields["bias"] is None:
        fields["bias"] = True
    try:
        return cls(name=attr, **fields)
    except ValidationError as e:
        raise BuildError(f"{name}: {flat_errors(e)}") from None


def make_nodes(name: str, args: list[Any] | tuple = (), kwargs: dict[str, Any] | None = None,
               attr: str | None = None, notes: list[str] | None = None) -> list:
    """Like `make_node`, plus Keras habits: `activation="relu"` becomes a layer of its own after this one, and
    `Activation("relu")` is that activation."""
    kwargs = dict(kwargs or {})
    if normalize_name(name) == "activation" and args and isinstance(args[0], str):
        return make_nodes(args[0], args[1:], kwargs, attr, notes)
    activation = kwargs.pop("activation", None)
    nodes = [make_node(name, args, kwargs, attr=attr, notes=notes)]
    if isinstance(activation, str) and activation.lower() not in ("linear", "none", ""):
        if lookup(activation) is None:
            raise BuildError(f"{name}: unknown activation {activation!r}")
        nodes.append(make_node(activation))
    return nodes
