"""Spatial repairs: a pooling window larger than its feature map, and a Linear fed a feature map without a Flatten."""

from __future__ import annotations

from ..spec.layers import ACTIVATIONS, AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, Flatten, Linear, MaxPool2d, pair
from .context import Repair

_PASSIVE = set(ACTIVATIONS) | {"Flatten", "Dropout", "Identity", "Linear"}


def fix_pooling(r: Repair, i: int, shape: tuple) -> None:
    """A pool whose window exceeds the map: a global pool when only the classifier follows, else a clamped window."""
    layer = r.layers[i]
    if not isinstance(layer, (AvgPool2d, MaxPool2d)) or len(shape) != 3:
        return
    (kh, kw), (_, h, w) = pair(layer.kernel_size), shape
    if kh <= h and kw <= w:
        return
    before, where = layer.signature(), r.where(i)
    head_only = all(getattr(n, "op", None) in _PASSIVE for n in r.layers[i + 1:])
    if head_only:
        r.layers[i] = (AdaptiveAvgPool2d if isinstance(layer, AvgPool2d) else AdaptiveMaxPool2d)(output_size=1)
        why = f"its {kh}x{kw} window does not fit the {h}x{w} map that reaches it; a global pool is what it is for"
    else:
        r.layers[i] = layer.model_copy(update={"kernel_size": (min(kh, h), min(kw, w)) if kh != kw or h != w
                                               else min(kh, h), "stride": None, "padding": 0})
        why = f"its {kh}x{kw} window does not fit the {h}x{w} map that reaches it; the window is clamped to the map"
    r.add("pool-too-large", where, why, before, r.layers[i].signature())


def fix_flatten(r: Repair, i: int, shape: tuple) -> None:
    if isinstance(r.layers[i], Linear) and len(shape) == 3:
        before = r.layers[i].signature()
        where = r.where(i)
        r.layers.insert(i, Flatten())
        r.add("missing-flatten", where, f"a Linear needs a flat input but a {'x'.join(map(str, shape))} map reaches it",
              before, f"Flatten() {before}")
