"""A spec's structure, canonically: the hash that tells two candidates apart, and the one-line summary the LLM
and the leaderboard read.

Two specs that build the same network hash alike, however they are written: module calls are expanded (a module's
name and its parameter names are spelling), sizes are evaluated, a `DWConv2d` is the grouped `Conv2d` it renders
to, arguments at their defaults are left out, and the model's name does not count. What does count: every layer
with its arguments, residual adds, concats and gates, and the task's input and class count."""

from __future__ import annotations

import hashlib
import json

from ..spec.graph import Call, Concat, Gate, ModelSpec, Residual
from ..spec.layers import Conv2d, DWConv2d, Layer, pair
from ..spec.walk import concrete, expand

HASH_CHARS = 12  # 48 bits: no two of a search's few hundred candidates collide


def _canonical(nodes: list, modules: dict) -> list:
    out: list = []
    for node in nodes:
        if isinstance(node, Layer):
            out.append(node.render("nn."))  # as model.py has it: a DWConv2d is an nn.Conv2d(groups=...)
        elif isinstance(node, Call):
            out.extend(_canonical(expand(node, modules), modules))  # a module is a grouping, not a structure
        elif isinstance(node, Residual):
            body = _canonical(node.body, modules)
            if node.when == "False":  # a shortcut its parameters switch off is no shortcut
                out.extend(body)
            else:
                out.append({"add": [body, _canonical(node.shortcut, modules)]})
        elif isinstance(node, Concat):
            out.append({"cat": [_canonical(b, modules) for b in node.branches]})
        elif isinstance(node, Gate):
            out.append({"mul": _canonical(node.gate, modules)})
    return out


def canonical(spec: ModelSpec) -> dict:
    """The network `spec` builds, as plain data; equal for specs that build the same network."""
    modules = {m.name: m for m in spec.modules}
    return {"input": list(spec.input), "classes": spec.num_classes,
            "layers": _canonical(concrete(spec.layers, {}), modules)}


def structure_hash(spec: ModelSpec) -> str:
    text = json.dumps(canonical(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def _conv_word(conv: Conv2d) -> str:
    (kh, kw), (sh, _) = pair(conv.kernel_size), pair(conv.stride)
    kernel = f"{kh}x{kw}"
    stride = f"/{sh}" if sh != 1 else ""
    if conv.groups == conv.in_channels and conv.groups != 1:
        return f"dw{kernel}{stride} {conv.in_channels}"
    return f"conv{kernel}{stride} {conv.in_channels}->{conv.out_channels}"


def _words(nodes: list, modules: dict) -> list[str]:
    words: list[str] = []
    for node in nodes:
        if isinstance(node, DWConv2d):
            words.append(_conv_word(node.as_conv()))
        elif isinstance(node, Conv2d):
            words.append(_conv_word(node))
        elif isinstance(node, Layer) and node.op == "Linear":
            words.append(f"fc {node.in_features}->{node.out_features}")
        elif isinstance(node, Layer) and node.op in ("MaxPool2d", "AvgPool2d"):
            words.append(node.op[:3].lower() + "pool")
        elif isinstance(node, Layer) and node.op in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
            words.append("gap" if node.op == "AdaptiveAvgPool2d" else "gmp")
        elif isinstance(node, Call):
            words.append(" + ".join(_words(expand(node, modules), modules)))
        elif isinstance(node, Residual):
            inner = _words(node.body, modules)
            words.append(f"res[{' + '.join(inner)}]" if node.when != "False" else " + ".join(inner))
        elif isinstance(node, Concat):
            words.append("cat[" + " | ".join(" + ".join(_words(b, modules)) for b in node.branches) + "]")
        elif isinstance(node, Gate):  # squeeze-excite: x * sigmoid(...(gap(x)))
            words.append(f"gate[{' + '.join(_words(node.gate, modules))}]")
    return [w for w in words if w]


def summary(spec: ModelSpec) -> str:
    """`conv3x3 3->16, dw3x3 16 + conv1x1 16->16, conv3x3/2 16->24, ..., gap, fc 392->10`: the weighted layers and
    pools in order (BatchNorm and activations left out), a module call's layers joined by +."""
    modules = {m.name: m for m in spec.modules}
    return ", ".join(_words(concrete(spec.layers, {}), modules))
