"""The spec as a person edits it: JSON with one layer per line (so diffs read line by line), and back."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from ..untrusted import TooDeep, load_json
from .graph import ModelSpec


class EditError(ValueError):
    """An edited spec that does not read; the message has one `where: what` line per problem."""


def _dump(value: Any) -> Any:
    """Fields that differ from their defaults, recursively; every node keeps its `op`, which names its kind."""
    if isinstance(value, BaseModel):
        keep = set(value.model_dump(exclude_defaults=True)) | set(getattr(value, "_always_shown", tuple)())
        data = {k: _dump(getattr(value, k)) for k in type(value).model_fields if k in keep}
        return {"op": value.op, **data} if "op" in type(value).model_fields else data
    if isinstance(value, (list, tuple)):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def to_text(spec: ModelSpec) -> str:
    lines = ["{", f'  "name": {json.dumps(spec.name)},', '  "layers": [']
    layers = [json.dumps(_dump(n), ensure_ascii=False) for n in spec.layers]
    lines += [f"    {text}{',' if i < len(layers) - 1 else ''}" for i, text in enumerate(layers)]
    modules = [json.dumps(_dump(m), ensure_ascii=False) for m in spec.modules]
    lines += ["  ],", '  "modules": [']
    lines += [f"    {text}{',' if i < len(modules) - 1 else ''}" for i, text in enumerate(modules)]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def from_text(text: str, like: ModelSpec) -> ModelSpec:
    """The edited spec; the task fields (input, classes) stay those of `like`."""
    try:
        data = load_json(text)
    except TooDeep as e:
        raise EditError(f"the spec is {e}") from None
    except json.JSONDecodeError as e:
        bad = text.splitlines()[e.lineno - 1].strip() if e.lineno <= len(text.splitlines()) else ""
        raise EditError(f"line {e.lineno}, column {e.colno}: {e.msg}: {bad[:100]}") from None
    if not isinstance(data, dict):
        raise EditError("top level: expected an object with \"name\", \"layers\" and \"modules\"")
    data = {**data, "input": like.input, "num_classes": like.num_classes, "head": None}
    try:
        return ModelSpec.model_validate(data)
    except ValidationError as e:
        raise EditError("\n".join(f"{'.'.join(map(str, err['loc'])) or 'spec'}: {err['msg']}"
                                  for err in e.errors()[:8])) from None
