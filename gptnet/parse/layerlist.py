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


_TIMES = r"[x×X*]"
# after a closing bracket: "] x 3", "]×3", ") (x3)", "] * 3"
_SUFFIX = re.compile(rf"\s*(?:{_TIMES}\s*(\d+)\b|\(\s*{_TIMES}\s*(\d+)\s*\))")
# before a group or a call: "3 x [", "3× Conv2d("
_PREFIX = re.compile(rf"(?<![\w.])(\d+)\s*{_TIMES}\s*(?=[\[({{]|[A-Za-z_][\w.]*\()")
# prose that repeats the layers on its line: "Repeat 3 times: ...", "(repeated 2x)", "重复3次"
_PROSE_TIMES = re.compile(r"(?i)\brepeat(?:ed)?\s+(?:(?:this|these|it|them|the\s+block)\s+)?(\d+)\s*(?:times|x)\b"
                          r"|重复\s*(\d+)\s*次")
MAX_REPEAT = 64


def _depths(line: str) -> list[int]:
    depth, out = 0, []
    for ch in line:
        if ch in ")]}":
            depth -= 1
        out.append(depth)
        if ch in "([{":
            depth += 1
    return out


def _unit_before(line: str, close: int) -> tuple[int, str]:
    """The repeated unit that ends with the bracket at `close`: a call with its name, or a bracketed group's
    contents. Returns where it starts and its text."""
    depth = 0
    for i in range(close, -1, -1):
        depth += line[i] in ")]}"
        depth -= line[i] in "([{"
        if depth == 0:
            name = re.search(r"[A-Za-z_][\w.]*$", line[:i])
            if line[i] == "(" and name:
                return name.start(), line[name.start():close + 1]
            return i, line[i + 1:close]
    return -1, ""


def _expand_repeats(line: str, notes: list[str]) -> str:
    """Write out repetitions: `[Conv2d(..), ReLU()] x 3`, `3 x [..]`, `Conv2d(..) x 2`, `2× Conv2d(..)`."""
    for _ in range(MAX_REPEAT):  # one repetition per pass, innermost text first
        depth = _depths(line)
        found = None
        for i, ch in enumerate(line):
            m = _SUFFIX.match(line, i + 1) if ch in ")]}" and depth[i] == 0 else None
            if m:
                start, unit = _unit_before(line, i)
                if start >= 0:
                    found = (start, m.end(), unit, int(m.group(1) or m.group(2)))
                    break
        if not found:
            m = next((m for m in _PREFIX.finditer(line) if depth[m.start()] == 0), None)
            if m:
                bracket = line[m.end()] in "[({"  # a group; else a call, repeated with its name
                close = _closing(line, (m.end() if bracket else line.index("(", m.end())) + 1) - 1
                if close >= 0:
                    unit = line[m.end() + 1:close] if bracket else line[m.end():close + 1]
                    found = (m.start(), close + 1, unit, int(m.group(1)))
        if not found:
            return line
        start, end, unit, times = found
        if not 1 <= times <= MAX_REPEAT:
            notes.append(f"left {line[start:end]!r} as written: {times} repetitions is not a plausible count")
            return line
        notes.append(f"repeated {unit.strip()!r} {times} times, as the answer says")
        line = line[:start] + ", ".join([unit] * times) + line[end:]
    return line


def _scan_line(line: str, notes: list[str]) -> list:
    line = _expand_repeats(line, notes)
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
    nodes += _bare(line[pos:], whole_line=False)
    prose = _PROSE_TIMES.search(line)
    if prose:
        times = int(next(g for g in prose.groups() if g))
        if 1 < times <= MAX_REPEAT:
            notes.append(f"repeated the {len(nodes)} layers of {line.strip()[:60]!r} {times} times, as it says")
            nodes = [n.model_copy(deep=True) for _ in range(times) for n in nodes]
    return nodes


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
