"""Markdown tables that spell a model out one layer per row, an argument per column:

    | # | Layer     | In | Out | Kernel | Stride | Padding |
    |---|-----------|----|-----|--------|--------|---------|
    | 1 | Conv2d    | 3  | 32  | 3x3    | 1      | 1       |
    | 2 | Depthwise | 32 | 32  | 3      | 2      | 1       |

The layer column is the one whose cells name operators; the others are told apart by their headers. Tables whose
cells hold calls (`Conv2d(3, 32, 3)`) are the layer-list reader's."""

from __future__ import annotations

import re
from typing import Any, Iterator

from .. import limits
from ..spec.registry import lookup
from .answer import Candidate, ParsedAnswer, ParseError
from .build import BuildError, make_nodes

_ROW = re.compile(r"^\s*\|(.*)\|\s*$")
_RULE = re.compile(r"^[\s|:\-]+$")
_KERNEL_IN_NAME = re.compile(r"\b(\d+)\s*[x×]\s*(\d+)\b")
_EMPTY = {"", "-", "—", "–", "n/a", "na", "none", "/", "..."}
MAX_REPEAT = 64


def _role(header: str) -> str | None:
    h = re.sub(r"[^a-z0-9 ]+", " ", header.lower().replace("_", " ")).strip()
    if re.fullmatch(r"(c ?in|in|cin)|(in|input)( \w+)? (ch|chs|channels?|features?|planes|dim)", h):
        return "in"
    if re.fullmatch(r"(c ?out|out|cout|filters|units|neurons|channels|width|#? ?filters)"
                    r"|(out|output|#)( \w+)? (ch|chs|channels?|features?|planes|dim|filters)", h):
        return "out"
    if "kernel" in h or h in ("k", "filter size", "window", "pool size"):
        return "kernel"
    if "stride" in h or h == "s":
        return "stride"
    if h.startswith("pad") or h == "p":
        return "padding"
    if h.startswith("group"):
        return "groups"
    if re.fullmatch(r"repeats?|repeated|repetitions?|times|n|x|count|(num|number|no)( of)? (repeats|blocks|layers)",
                    h) or header.strip() in ("×", "×n", "x n"):
        return "repeat"
    return None


def _value(cell: str) -> Any:
    c = cell.strip().strip("`*").strip().lower()
    if c in _EMPTY:
        return None
    if re.fullmatch(r"\d+", c):
        return int(c)
    m = re.fullmatch(r"\(?\s*(\d+)\s*(?:[x×,*])\s*(\d+)\s*\)?", c)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        return a if a == b else (a, b)
    if c in ("same", "valid"):
        return c
    return None


def _cells(line: str) -> list[str] | None:
    m = _ROW.match(line)
    return [c.strip() for c in m.group(1).split("|")] if m else None


def _name(cell: str) -> tuple[str, dict[str, Any], bool]:
    """The operator a layer cell names, the arguments its words add and whether it says depthwise:
    `Conv 3x3` -> Conv2d, kernel 3; `Depthwise Conv` -> a Conv2d to group by its input channels; `Pointwise Conv`
    -> a 1x1 Conv2d."""
    text = re.sub(r"[`*_]{1,2}", "", cell).strip()
    extra: dict[str, Any] = {}
    k = _KERNEL_IN_NAME.search(text)
    if k and k.group(1) == k.group(2):
        extra["kernel_size"] = int(k.group(1))
        text = _KERNEL_IN_NAME.sub("", text)
    text = re.sub(r"\([^()]*\)", "", text).strip(" -:")
    low = text.lower()
    if "depthwise" in low or "depth-wise" in low:
        return "Conv2d", extra, True
    if "pointwise" in low or "point-wise" in low:
        return "Conv2d", {**extra, "kernel_size": 1}, False
    return text, extra, False


INTRO_LINES = 4  # prose lines before a table kept as its introduction


def _tables(text: str) -> Iterator[tuple[str, list[list[str]]]]:
    """Each markdown table of at least a header and two rows (header first, without the rule line), with the prose
    lines before it."""
    rows: list[list[str]] = []
    prose: list[str] = []
    for line in [*text.splitlines(), ""]:
        cells = _cells(line)
        if cells is None:
            if len(rows) >= 3:
                yield "\n".join(prose), rows
            if rows:
                rows, prose = [], []
            if line.strip():
                prose = [*prose, line.strip()[:300]][-INTRO_LINES:]
        elif not _RULE.match(line):
            rows.append(cells)


def find_table(text: str) -> list[list[str]] | None:
    """The rows of the first markdown table (header first), without the rule line."""
    return next((rows for _, rows in _tables(text)), None)


def parse_table(text: str) -> ParsedAnswer:
    """Every table that spells out a model is a candidate; tables of something else (metrics) are passed over."""
    answer, errors = ParsedAnswer(form="table"), []
    for intro, rows in _tables(text):
        try:
            layers = _layers(rows, answer.notes)
        except ParseError as e:
            errors.append(str(e))
            continue
        answer.models.append(Candidate(layers=layers, context=intro))
    if not answer.models:
        raise ParseError(errors[0] if errors else "no markdown table in the answer")
    return answer


def _layers(rows: list[list[str]], notes: list[str]) -> list:
    header, body = rows[0], [r for r in rows[1:] if any(c.strip() for c in r)]
    if any(re.search(r"(?<!\w)[A-Za-z_]\w*\(", c) for r in body for c in r):  # a name starts a word
        raise ParseError("the table's cells hold calls: a layer list")
    named = [0] * len(header)  # per column, the cells that name an operator: each cell read once
    for row in body:
        for i, cell in enumerate(row[:len(header)]):
            named[i] += bool(lookup(_name(cell)[0]))
    layer_col = max(range(len(header)), key=lambda i: named[i])
    if named[layer_col] < max(2, len(body) // 2):
        raise ParseError("no column of the table names layers")
    roles = {i: _role(h) for i, h in enumerate(header) if i != layer_col}
    layers: list = []
    for row in body:
        if layer_col >= len(row):
            continue
        name, extra, depthwise = _name(row[layer_col])
        values = {roles[i]: v for i, c in enumerate(row) if roles.get(i) and (v := _value(c)) is not None}
        hit = lookup(name)
        if hit is None:
            notes.append(f"skipped table row {' | '.join(row)!r}: {name!r} is not an operator")
            continue
        cls = hit[0]
        fields = cls.model_fields
        kwargs: dict[str, Any] = {}
        channels_in = values.get("in", values.get("out") if not cls.channel_out else None)
        if cls.channel_in and channels_in is not None:
            kwargs[cls.channel_in] = channels_in
        if cls.channel_out and values.get("out") is not None:
            kwargs[cls.channel_out] = values["out"]
        for role in ("kernel", "stride", "padding", "groups"):
            key = {"kernel": "kernel_size"}.get(role, role)
            if key in fields and values.get(role) is not None:
                kwargs[key] = values[role]
        if depthwise and cls.channel_in in kwargs:
            kwargs["groups"] = kwargs[cls.channel_in]
            kwargs.setdefault(cls.channel_out, kwargs[cls.channel_in])
            notes.append(f"read {row[layer_col]!r} as a Conv2d grouped by its {kwargs['groups']} input channels")
        for key, value in extra.items():
            kwargs.setdefault(key, value)
        times = values.get("repeat") if isinstance(values.get("repeat"), int) else 1
        if not 1 <= times <= MAX_REPEAT:
            notes.append(f"read table row {' | '.join(row)!r} once: {times} repetitions is not a plausible count")
            times = 1
        try:
            layers += make_nodes(name, [], kwargs, notes=notes)
            if times > 1:  # as MobileNetV2's table means n: the first takes the stride, the rest keep the width
                if cls.channel_in and cls.channel_out and kwargs.get(cls.channel_out) is not None:
                    kwargs[cls.channel_in] = kwargs[cls.channel_out]
                kwargs.update({"stride": 1} if "stride" in kwargs else {})
                layers += [n for _ in range(times - 1) for n in make_nodes(name, [], kwargs, notes=notes)]
                notes.append(f"repeated table row {' | '.join(row)!r} {times} times, the first with its stride")
        except BuildError as e:
            notes.append(f"skipped table row {' | '.join(row)!r}: {e}")
        if len(layers) > limits.MAX_LAYERS:
            raise ParseError(f"the table writes out to more than {limits.MAX_LAYERS:,} layers (MAX_LAYERS)")
    if not layers:
        raise ParseError("the table names no layers gptnet can build")
    return layers
