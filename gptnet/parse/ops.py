"""The answer to stage "ops": which operators the LLM says the target runs well, as target-profile names."""

from __future__ import annotations

import re

from ..spec.registry import lookup, normalize_name
from .answer import check_answer

_ITEM = re.compile(r"(?:^|\s)(?:\d+[.)、:]|[-*•])\s*|[,，;；\n]")


def parse_ops(text: str) -> list[str]:
    """`1. Conv2d 2. Depthwise Conv2d 3. Maxpool2d` -> ['Conv2d', 'DepthwiseConv2d', 'MaxPool2d']."""
    check_answer(text)
    found: list[str] = []
    for item in _ITEM.split(text):
        item = re.sub(r"[(（].*$|[:：].*$", "", item).strip(" .。`*")
        if not item or len(item) > 40:
            continue
        key = normalize_name(item)
        if "depthwise" in key or key in ("dwconv", "dwconv2d"):
            name = "DepthwiseConv2d"
        elif "separable" in key:
            name = "DepthwiseConv2d"
        else:
            hit = lookup(item)
            if hit is None:
                continue
            name = hit[0].kind_name()
        if name not in found:
            found.append(name)
    return found
