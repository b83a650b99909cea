"""Article-style layer lists: `Conv2d(3, 32, kernel_size=3) BatchNorm2d(32) ReLU() ...`, on one line or one per
line, comma-separated, numbered or bulleted, with prose around in any language. Arguments are read with
`ast.literal_eval`-style rules only."""

from __future__ import annotations

import ast
import re
from typing import Any

from ..spec import expr
from ..spec.graph import Call
from ..spec.layers import Linear
from ..spec.registry import lookup
from .answer import Candidate, ParsedAnswer, ParseError
from .build import BuildError, make_node, make_nodes

# no space before "(": "Batch Normalization (BatchNorm2d(32))" is prose around a layer, not a layer
_CALL = re.compile(r"(?<![\w.])((?:torch\.)?(?:tf\.)?(?:keras\.)?(?:nn\.|layers\.)?[A-Za-z_][A-Za-z0-9_]*)\(")
_SEPARATORS = re.compile(r"\s*(?:,|;|，|；|->|→|=>|⟶|\|)\s*")
_BULLET = re.compile(r"^\s*(?:[-*•·>→⟶]+|\(?\d+[.)、:]|#+)?\s*")
_BARE_NAMES = ("[A-Za-z][A-Za-z0-9 _-]*")
# capitalized words that open a parenthesis in prose, not layers
_PROSE = {"Step", "Note", "Input", "Output", "Figure", "Table", "Example", "Model", "Stage", "Block", "Layer",
          "See", "Total", "Params", "FLOPs", "MACs", "Top", "Accuracy", "I", "A", "The"}


def _closing(text: str, start: int) -> int:
    """Index just past the parenthesis matching the one before `start`, or -1."""
    depth = 1
    for i in range(start, len(text)):
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Name):  # padding=same, bias=False written without quotes
        return {"True": True, "False": False, "None": None}.get(node.id, node.id)
    if isinstance(node, ast.BinOp):  # Linear(64 * 8 * 8, 128): arithmetic on numbers only
        value = expr.evaluate(ast.unparse(node), {})
        if isinstance(value, (int, float)):
            return value
    return ast.literal_eval(node)


def read_args(inner: str) -> tuple[list[Any], dict[str, Any]]:
    """`3, 32, kernel_size=3` -> ([3, 32], {"kernel_size": 3}); literals only."""
    inner = inner.replace("，", ",").replace("＝", "=").replace("×", "*")
    call = ast.parse(f"f({inner})", mode="eval").body
    assert isinstance(call, ast.Call)
    return [_literal(a) for a in call.args], {k.arg: _literal(k.value) for k in call.keywords if k.arg}


def _is_layer_name(name: str) -> bool:
    short = re.sub(r"^.*\.", "", name)
    if lookup(name):
        return True
    return short[:1].isupper() and short not in _PROSE and len(short) > 2


def _bare(text: str, whole_line: bool) -> list:
    """Operator names written without parentheses: "- Global average pooling" on its own line, or "ReLU" between
    separators next to calls ("Conv2d(3, 32, 3), ReLU, MaxPool2d(2)")."""
    pieces = [text] if whole_line else _SEPARATORS.split(text)
    nodes = []
    for piece in pieces:
        bare = _BULLET.sub("", piece).strip().rstrip(".,;:；。，").strip()
        if bare and re.fullmatch(_BARE_NAMES, bare) and lookup(bare):
            nodes.append(make_node(bare))
    return nodes


def _scan_line(line: str, notes: list[str]) -> list:
    nodes = []
    pos = 0
    for m in _CALL.finditer(line):
        if m.start() < pos or not _is_layer_name(m.group(1)):
            continue
        end = _closing(line, m.end())
        if end < 0:
            continue
        nodes += _bare(line[pos:m.start()], whole_line=False)
        pos = end
        try:
            args, kwargs = read_args(line[m.end():end - 1])
            nodes += make_nodes(m.group(1), args, kwargs, notes=notes)
        except (SyntaxError, ValueError, BuildError) as e:
            notes.append(f"skipped {line[m.start():end]!r}: {e}")
    if not nodes:
        return _bare(line, whole_line=True)
    return nodes + _bare(line[pos:], whole_line=False)


def parse_layer_list(text: str) -> ParsedAnswer:
    notes: list[str] = []
    candidates: list[list] = [[]]
    for line in text.splitlines():
        for node in _scan_line(line, notes):
            current = candidates[-1]
            # a model never goes on with convolutions after its classifier: a new one starts
            if current and isinstance(current[-1], Linear) and not isinstance(node, type(current[-1])) and (
                    isinstance(node, Call) or node.channel_in in ("in_channels", "channels")):
                candidates.append([])
            candidates[-1].append(node)
    models = [Candidate(layers=c) for c in candidates if c]
    if not models:
        raise ParseError("no layers found in the answer (expected e.g. `Conv2d(3, 32, kernel_size=3) ReLU() ...`)")
    return ParsedAnswer(form="layers", models=models, notes=notes)
