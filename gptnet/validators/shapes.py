"""Spatial repairs: a pooling window larger than its feature map or leaving part of it unread, a Linear fed a
feature map without a Flatten, and a Linear sized for a map other than the one that reaches it."""

from __future__ import annotations

import math

from ..spec.layers import ACTIVATIONS, AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, Flatten, Linear, MaxPool2d, pair
from ..units import plural
from .context import Repair

_PASSIVE = set(ACTIVATIONS) | {"Flatten", "Dropout", "Identity", "Linear"}
_BETWEEN = {"Dropout", "Identity"}  # what may stand between a Flatten and its Linear


def _read(n: int, k: int, s: int, p: int, out: int) -> int:
    """Positions along one side of length `n` that some of the `out` windows (size k, stride s, padding p) read."""
    read = end = 0
    for o in range(out):
        start, stop = max(o * s - p, end, 0), min(o * s - p + k, n)
        if stop > start:
            read, end = read + stop - start, stop
    return read


def _global(layer: AvgPool2d | MaxPool2d) -> AdaptiveAvgPool2d | AdaptiveMaxPool2d:
    return (AdaptiveAvgPool2d if isinstance(layer, AvgPool2d) else AdaptiveMaxPool2d)(output_size=1)


def _partial_pool(r: Repair, i: int, shape: tuple, head_only: bool) -> None:
    """A pool whose windows leave part of the map unread. Reduced to one position with only the classifier after
    it, it was meant as a global pool sized for another input (the article's AvgPool2d(kernel_size=4) at 224x224
    reads 16 of 49 positions): it becomes one. Elsewhere the unread border may be deliberate: a warning says what
    is dropped."""
    layer, (_, h, w) = r.layers[i], shape
    (kh, kw), (ph, pw) = pair(layer.kernel_size), pair(layer.padding)
    sh, sw = pair(layer.stride if layer.stride is not None else layer.kernel_size)
    _, oh, ow = layer.out_shape(shape)
    rh, rw = _read(h, kh, sh, ph, oh), _read(w, kw, sw, pw, ow)
    if rh * rw == h * w:
        return
    where = r.where(i)
    reads = f"its {kh}x{kw} windows at stride {sh}x{sw} read {rh}x{rw} of the {h}x{w} map that reaches it"
    if head_only and (oh, ow) == (1, 1):
        before = layer.signature()
        r.layers[i] = _global(layer)
        r.add("pool-partial", where, f"{reads} and drop the rest; only the classifier follows, so a global pool is "
              "what it is for", before, r.layers[i].signature())
        return
    lines = " and ".join(plural(n, side) for n, side in ((h - rh, "row"), (w - rw, "column")) if n)
    which = "the last " if sh <= kh and sw <= kw else "between its windows, "  # a stride past the window skips
    r.add("pool-partial", where, f"{reads}: {which}{lines} ({h * w - rh * rw} of {h * w} positions) are never "
          "read; ceil_mode=True, padding or another window reads them", layer.signature(), severity="warning")


def fix_pooling(r: Repair, i: int, shape: tuple) -> None:
    """A pool whose window exceeds the map: a global pool when only the classifier follows, else a clamped window.
    A window that fits but leaves part of the map unread: see `_partial_pool`."""
    layer = r.layers[i]
    if not isinstance(layer, (AvgPool2d, MaxPool2d)) or len(shape) != 3:
        return
    (kh, kw), (_, h, w) = pair(layer.kernel_size), shape
    head_only = all(getattr(n, "op", None) in _PASSIVE for n in r.layers[i + 1:])
    if kh <= h and kw <= w:
        _partial_pool(r, i, shape, head_only)
        return
    before, where = layer.signature(), r.where(i)
    if head_only:
        r.layers[i] = _global(layer)
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


def fix_fixed_map(r: Repair, i: int, shape: tuple) -> None:
    """A Flatten whose Linear was sized for another map (`Linear(512 * 4 * 4, ...)` where a 512x2x2 map arrives,
    or `Linear(512, ...)` after a 512x4x4 one): the answer sized it by the channels, guessing the map, so a global
    average pool goes before the Flatten and the Linear takes the channels. The head then fits any map, whatever
    --input is; a Linear whose size is no multiple of the channels is left to the channel check."""
    if not isinstance(r.layers[i], Flatten) or len(shape) != 3 or shape[1:] == (1, 1):
        return
    j = next((j for j in range(i + 1, len(r.layers)) if getattr(r.layers[j], "op", None) not in _BETWEEN), None)
    linear = r.layers[j] if j is not None else None
    c, h, w = shape
    if not isinstance(linear, Linear) or not isinstance(linear.in_features, int) or not isinstance(c, int) \
            or linear.in_features % c or linear.in_features == c * h * w:
        return
    before = f"{r.layers[i].signature()} {linear.signature()}"
    positions, side = linear.in_features // c, math.isqrt(linear.in_features // c)
    linear.in_features = c
    r.layers.insert(i, AdaptiveAvgPool2d(output_size=1))
    sized = "a global pool" if positions == 1 else f"a {c}x{side}x{side} map" if side * side == positions else \
        f"{positions} positions of {c} channels"
    r.add("fixed-map-linear", i, f"the Linear was sized for {sized}, but a {c}x{h}x{w} map reaches the Flatten; a "
          "global average pool makes the head fit any map (and --input), and the Linear takes its "
          f"{c} channels", before, f"AdaptiveAvgPool2d(1) Flatten() {linear.signature()}")
