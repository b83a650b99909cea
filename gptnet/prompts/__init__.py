"""The questions gptnet asks, one Jinja template per stage; rendered text goes to the LLM and into the cassette."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..spec.layers import LAYER_KINDS

# read when an answer gives them, not offered: the question keeps to what a design needs (and to the article's words)
_UNASKED = {"ceil_mode"}

_ENV = Environment(loader=PackageLoader("gptnet.prompts", "."), undefined=StrictUndefined, trim_blocks=True,
                   lstrip_blocks=True, keep_trailing_newline=False)


def layer_catalog(target) -> list[dict[str, str]]:
    """Each layer kind the target supports, with its fields and their descriptions (from the pydantic models)."""
    out = []
    for cls in LAYER_KINDS:
        probe_ops = {cls.kind_name(), "DepthwiseConv2d" if cls.kind_name() == "DWConv2d" else ""}
        if not any(target.supports(op) for op in probe_ops if op):
            continue
        fields = [f"{n} ({f.description})" if f.description else n for n, f in cls.model_fields.items()
                  if n not in ("op", "name") and n not in _UNASKED]
        out.append({"name": cls.kind_name(), "fields": "; ".join(fields) or "no fields"})
    return out


def render_prompt(template: str, **context: Any) -> str:
    if template == "model":
        context.setdefault("kinds", layer_catalog(context["target"]))
    return _ENV.get_template(f"{template}.j2").render(**context).strip()
