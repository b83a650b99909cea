"""Article-style layer lists: `Conv2d(3, 32, kernel_size=3) BatchNorm2d(32) ReLU() ...`, on one line or one per
line, comma-separated, numbered or bulleted, with prose around in any language. Arguments are read with
`ast.literal_eval`-style rules only."""

from __future__ import annotations

import ast
import re
from typing import Any

from .. import limits
from ..spec import expr
from ..spec.graph import Call
from ..spec.layers import Layer, Linear
from ..spec.registry import lookup
from ..untrusted import one_line
from .answer import Candidate, ParsedAnswer, ParseError
from .build import BuildError, make_node, make_nodes
from .options import is_label
from .source import read_source

# no space before "(": "Batch Normalization (BatchNorm2d(32))" is prose around a layer, not a layer
_CALL = re.compile(r"(?<![\w.])((?:torch\.)?(?:tf\.)?(?:keras\.)?(?:nn\.|layers\.)?[A-Za-z_][A-Za-z0-9_]*)\(")
_SEPARATORS = re.compile(r",|;|，|；|->|→|=>|⟶|\|")  # the pieces are stripped
_BULLET = re.compile(r"^\s*(?:[-*•·>→⟶]+|\(?\d+[.)、:]|#+)?\s*")
_BARE_NAMES = ("[A-Za-z][A-Za-z0-9 _-]*")
# capitalized words that open a parenthesis in prose, not layers
_PROSE = {"Step", "Note", "Input", "Output", "Figure", "Table", "Example", "Model", "Stage", "Block", "Layer",
          "See", "Total", "Params", "FLOPs", "MACs", "Top", "Accuracy", "I", "A", "The"}


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
    call = read_source(f"f({inner})", mode="eval").body
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
_NAME = re.compile(r"[A-Za-z_][\w.]*")
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
          "ten": 10, "twice": 2, "thrice": 3, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_N = r"(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|两|二|三|四|五|六)"
# prose that repeats layers: "Repeat 3 times: ...", "(repeated 2x)", "repeat the following twice", "(×3)",
# "Block x2:", "3 times the following", "重复3次" / "重复以下三次"
_PROSE_TIMES = re.compile(rf"(?i)\brepeat(?:ed|s)?\b[^:：\n]{{0,40}}?(?:\b{_N}[ \t]{{0,2}}(?:times|x|×)(?!\w)|"
                          rf"\b(twice|thrice)\b)|重复[^\n]{{0,6}}?{_N}[ \t]{{0,2}}[次遍]|[(（][ \t]?[x×][ \t]?(\d{{1,3}})"
                          rf"[ \t]?[)）]|(?<![\w.])[x×][ \t]?(\d{{1,3}})[ \t]{{0,2}}[:：][ \t]*$|\b{_N}[ \t]{{0,2}}"
                          rf"(?:times|×|x)[ \t]{{1,3}}(?:the[ \t]{{1,3}})?(?:following|below)")
# a line without layers that repeats what comes after it: it ends in a colon or says so
_FORWARD = re.compile(r"(?i)[:：][ \t*]*$|\b(?:following|below|next)\b|以下|下面|[(（][ \t]?[x×][ \t]?\d")
_BRACKET = re.compile(r"[()\[\]{}]")
MAX_REPEAT = 64


def _partners(line: str) -> dict[int, int]:
    """Each bracket of the line that has a partner -> the partner's index, in one pass: a closer of any kind closes
    the latest opener, and one with none open is prose."""
    partner: dict[int, int] = {}
    opened: list[int] = []
    for m in _BRACKET.finditer(line):
        if m.group() in "([{":
            opened.append(m.start())
        elif opened:
            start = opened.pop()
            partner[start], partner[m.start()] = m.start(), start
    return partner


class _Room:
    """What an answer may grow by as its repetitions are written out: to no more than an answer may be."""

    def __init__(self, text: str) -> None:
        self.left = limits.MAX_ANSWER_CHARS - len(text)

    def take(self, chars: int) -> None:
        self.left -= chars
        if self.left < 0:
            raise ParseError(f"the answer's repetitions write out to more than {limits.MAX_ANSWER_CHARS:,} "
                             "characters (MAX_ANSWER_CHARS)")


class _Line:
    """One line of an answer, with its repetitions written out: `[Conv2d(..), ReLU()] x 3`, `3 x [..]`,
    `Conv2d(..) x 2`, `2× Conv2d(..)`. Brackets are matched once, so this is linear in the line and what it
    writes out."""

    def __init__(self, line: str, room: _Room, notes: list[str]) -> None:
        self.line, self.room, self.notes = line, room, notes
        self.partner = _partners(line)
        self.prefix: dict[int, re.Match] = {}  # an opening bracket -> the "3 x" before its group or call
        for m in _PREFIX.finditer(line):
            bracket = m.end() if line[m.end()] in "[({" else _NAME.match(line, m.end()).end()
            self.prefix[bracket] = m

    def _name_start(self, bracket: int, floor: int) -> int | None:
        """Where the name of a call opening at `bracket` starts (`[A-Za-z_][\\w.]*` just before it), or None."""
        i = bracket
        while i > floor and (self.line[i - 1].isalnum() or self.line[i - 1] in "_."):
            i -= 1
        name = _NAME.search(self.line, i, bracket)
        return name.start() if name else None

    def written_out(self, lo: int = 0, hi: int | None = None, nesting: int = 0) -> str:
        """line[lo:hi] with the repetitions at its top level written out; a repeated group's contents are written
        out the same way, the inside of any other group is left as written."""
        line, hi = self.line, len(self.line) if hi is None else hi
        if nesting > limits.MAX_NESTING:
            raise ParseError(f"the answer nests repetitions more than {limits.MAX_NESTING} deep (MAX_NESTING)")
        out, done, i = [], lo, lo  # line[lo:done] is in out
        while m := _BRACKET.search(line, i, hi):
            bracket, close = m.start(), self.partner.get(m.start(), -1)
            i = close + 1 if close > bracket else bracket + 1  # past a group, or a bracket that is prose
            if close < bracket:
                continue
            suffix, prefix = _SUFFIX.match(line, close + 1, hi), self.prefix.get(bracket)
            if suffix:
                name = self._name_start(bracket, done) if line[bracket] == "(" else None
                first = start = bracket if name is None else name  # where the repeated unit starts
                end, times = suffix.end(), int(suffix.group(1) or suffix.group(2))
            elif prefix and prefix.start() >= done:
                first, start, end, times = prefix.end(), prefix.start(), close + 1, int(prefix.group(1))
            else:
                continue
            i = end
            if not 1 <= times <= MAX_REPEAT:
                self.notes.append(f"left {one_line(line[start:end], 80)!r} as written: {times} repetitions is not a "
                                  "plausible count")
                continue
            # a call is repeated as written; a group's contents are, with their own repetitions written out
            source = line[first:close + 1] if first < bracket else line[bracket + 1:close]
            self.notes.append(f"repeated {one_line(source, 80)!r} {times} times, as the answer says")
            unit = source if first < bracket else self.written_out(bracket + 1, close, nesting + 1)
            self.room.take((times - 1) * (len(unit) + 2))
            out += [line[done:start], ", ".join([unit] * times)]
            done = end
        return "".join(out) + line[done:hi]


def _times(line: str) -> int | None:
    """The repetition count the line's prose gives, if any."""
    m = _PROSE_TIMES.search(line)
    if m is None:
        return None
    count = next(g for g in m.groups() if g).lower()
    return int(count) if count.isdigit() else _WORDS[count]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _write_out_blocks(scanned: list[tuple[str, list]], notes: list[str], room: _Room) -> list[tuple[str, list]]:
    """Lines without layers that repeat the block after them ("Repeat the following 3 times:"), written out: the
    block is the lines indented under it, else the run of layer lines up to a blank or prose line."""
    out, i = [], 0
    while i < len(scanned):
        line, nodes = scanned[i]
        out.append(scanned[i])
        i += 1
        times = _times(line) if not nodes and _FORWARD.search(line) else None
        if not times:
            continue
        start = next((j for j in range(i, len(scanned)) if scanned[j][0].strip()), len(scanned))
        if start == len(scanned) or not scanned[start][1]:
            continue
        nested = _indent(scanned[start][0]) > _indent(line)
        end = start
        while end < len(scanned) and scanned[end][1] and (not nested or _indent(scanned[end][0]) > _indent(line)):
            end += 1
        block, i = scanned[start:end], end
        if not 1 < times <= MAX_REPEAT:
            notes.append(f"left the block after {one_line(line, 80)!r} as written: {times} repetitions is not a "
                         "plausible count")
            out += block
            continue
        notes.append(f"repeated the {sum(len(n) for _, n in block)} layers after {one_line(line, 80)!r} {times} "
                     "times, as it says")
        room.take((times - 1) * sum(len(text) for text, _ in block))
        out += [(text, [n.model_copy(deep=True) for n in nodes]) for _ in range(times) for text, nodes in block]
    return out


def _scan_line(line: str, notes: list[str], room: _Room) -> list:
    line = _Line(line, room, notes).written_out()
    partner = _partners(line)
    nodes = []
    pos = 0
    for m in _CALL.finditer(line):
        end = partner.get(m.end() - 1, -1) + 1  # past the call's closing bracket
        if m.start() < pos or not end or not _is_layer_name(m.group(1)):
            continue
        nodes += _bare(line[pos:m.start()], whole_line=False)
        pos = end
        try:
            args, kwargs = read_args(line[m.end():end - 1])
            nodes += make_nodes(m.group(1), args, kwargs, notes=notes)
        except (SyntaxError, ValueError, BuildError) as e:
            notes.append(f"skipped {one_line(line[m.start():end], 80)!r}: {e}")
    if not nodes:
        return _bare(line, whole_line=True)
    nodes += _bare(line[pos:], whole_line=False)
    times = _times(line)
    if times:
        if 1 < times <= MAX_REPEAT:
            notes.append(f"repeated the {len(nodes)} layers of {one_line(line, 80)!r} {times} times, as it says")
            room.take((times - 1) * len(line))
            nodes = [n.model_copy(deep=True) for _ in range(times) for n in nodes]
    return nodes


INTRO_LINES, INTRO_CHARS = 6, 300  # of the prose before a candidate kept as its introduction


def _starts_another(current: list, node, labelled: bool) -> bool:
    """A model never goes on with convolutions after its classifier; nor does it take the input's channels again
    after a label line ("Option B:", a heading): either way a new one starts."""
    if isinstance(current[-1], Linear) and not isinstance(node, Linear) and (
            isinstance(node, Call) or node.channel_in in ("in_channels", "channels")):
        return True
    first = current[0]
    stated = getattr(first, first.channel_in) if isinstance(first, Layer) and first.channel_in else None
    return labelled and isinstance(node, Layer) and isinstance(stated, int) and node.channel_in == first.channel_in \
        and getattr(node, node.channel_in) == stated


def parse_layer_list(text: str) -> ParsedAnswer:
    notes: list[str] = []
    room = _Room(text)
    candidates: list[Candidate] = []
    prose: list[str] = []  # the lines without layers since the last line with some
    scanned = _write_out_blocks([(line, _scan_line(line, notes, room)) for line in text.splitlines()], notes, room)
    for line, nodes in scanned:
        if not nodes:
            if line.strip():
                prose = [*prose, line.strip()[:INTRO_CHARS]][-INTRO_LINES:]
            continue
        first = _CALL.search(line)  # the words on the line before its layers ("Option B (recommended):")
        intro = "\n".join([*prose, line[:first.start() if first else None].strip()[:INTRO_CHARS]])
        labelled = any(map(is_label, prose)) or is_label(line)
        for k, node in enumerate(nodes):
            if not candidates or _starts_another(candidates[-1].layers, node, labelled and k == 0):
                candidates.append(Candidate(layers=[], context=intro))
            candidates[-1].layers.append(node)
        prose = []
    if not candidates:
        raise ParseError("no layers found in the answer (expected e.g. `Conv2d(3, 32, kernel_size=3) ReLU() ...`)")
    return ParsedAnswer(form="layers", models=candidates, notes=notes)
