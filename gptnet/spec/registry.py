"""The one registry of layer kinds (after timm's `_registry.py`): a decorator fills it, `get_layer` looks up a name
in any case, with or without `nn.` / `torch.nn.` / `layers.`, and through aliases (Keras `Dense`, `BatchNorm`,
"global average pooling" ...)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .layers import Layer

_KINDS: dict[str, type[Layer]] = {}
# normalized alias -> (kind name, preset arguments, positional order for this spelling or None)
_ALIASES: dict[str, tuple[str, dict[str, Any], tuple[str, ...] | None]] = {}
# spellings whose case matters: Keras `Conv2D(32, 3)` takes filters first, torch `Conv2d(3, 32, 3)` does not
_EXACT: dict[str, tuple[str, dict[str, Any], tuple[str, ...] | None]] = {}


def normalize_name(name: str) -> str:
    """`torch.nn.BatchNorm2d` -> `batchnorm2d`; `Global Average Pooling` -> `globalaveragepooling`."""
    name = re.sub(r"^(torch\.)?(nn\.|tf\.keras\.layers\.|keras\.layers\.|layers\.)", "", name.strip())
    return re.sub(r"[\s_\-.]", "", name).lower()


def register_layer(cls: type[Layer]) -> type[Layer]:
    kind = cls.kind_name()
    if kind in _KINDS:
        raise ValueError(f"layer kind {kind!r} registered twice")
    _KINDS[kind] = cls
    for alias in (kind, *cls.aliases):
        add_alias(alias, kind)
    return cls


def add_alias(alias: str, kind: str, preset: dict[str, Any] | None = None,
              positional: tuple[str, ...] | None = None, exact: bool = False) -> None:
    if exact:
        _EXACT[alias] = (kind, dict(preset or {}), positional)
        return
    key = normalize_name(alias)
    if key in _ALIASES and _ALIASES[key][0] != kind:
        raise ValueError(f"alias {alias!r} already names {_ALIASES[key][0]}")
    _ALIASES[key] = (kind, dict(preset or {}), positional)


def lookup(name: str) -> tuple[type[Layer], dict[str, Any], tuple[str, ...]] | None:
    """The kind a name means, the arguments the name implies, and its positional argument order; None if unknown."""
    short = re.sub(r"^.*\.", "", name.strip())
    hit = _EXACT.get(short) or _ALIASES.get(normalize_name(name))
    if hit is None:
        return None
    kind, preset, positional = hit
    cls = _KINDS[kind]
    return cls, preset, positional or cls.positional


def get_layer(name: str) -> type[Layer]:
    hit = lookup(name)
    if hit is None:
        raise KeyError(name)
    return hit[0]


def kinds() -> dict[str, type[Layer]]:
    return dict(_KINDS)
