"""The answer to stage build: the line that builds the model a program defines but never builds
(`model = MNASNet(0.5, num_classes=10)`), read with `ast` as the program is, never run.

The LLM may answer with a fenced block, a bare line, or the line quoted in a sentence; its assignments and
constructions are added to the program's module level, where the evaluator builds them as it builds a program's
own `model = X(...)`. Anything else in the reply (a print, a training loop) is left out."""

from __future__ import annotations

import ast
import re
import textwrap

from .answer import ParseError, check_answer
from .source import read_source

_FENCED = re.compile(r"```[^\n`]*(?:\n|\Z)(.*?)(?:```|\Z)", re.S)  # linear: no backtick run scans ahead
_QUOTED = re.compile(r"`([^`\n]+)`")
_KEPT = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign)


def construction(reply: str, program: ast.Module, builders: list[str]) -> list[ast.stmt]:
    """The statements of `reply` that build one of `builders` (names the program defines), with what they need
    (imports, constants), numbered after the program's last line; a ParseError when it builds none of them."""
    check_answer(reply)
    wanted, why = set(builders), ""
    for text in _pieces(reply):
        try:
            tree = read_source(textwrap.dedent(text))
        except (SyntaxError, ParseError) as e:  # code that names a builder but does not read: say why
            why = why or (f" ({getattr(e, 'msg', None) or e})" if any(w in text for w in wanted) else "")
            continue
        kept = [_assigned(st) for st in tree.body if isinstance(st, _KEPT) or _builds(st, wanted)]
        if any(_builds(st, wanted) for st in kept):
            end = max((getattr(n, "end_lineno", 0) or 0 for n in program.body), default=0)
            for st in kept:
                ast.increment_lineno(st, end)
            return kept
    raise ParseError(f"the answer to stage build calls none of {', '.join(sorted(wanted))}{why}: it should be the "
                     f"one line that builds the model, e.g. `model = {builders[0]}(...)`")


def _pieces(reply: str) -> list[str]:
    """Where the line may be: fenced blocks, the whole reply, each quoted span, each line."""
    return [m.group(1) for m in _FENCED.finditer(reply)] + [reply] + _QUOTED.findall(reply) + reply.splitlines()


def _builds(st: ast.stmt, wanted: set[str]) -> bool:
    """`model = X(...)`, `X(...)` or `X(...).to(device)` for a builder X."""
    value = getattr(st, "value", None)
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        value = value.func.value
    return isinstance(st, (ast.Assign, ast.AnnAssign, ast.Expr)) and isinstance(value, ast.Call) and \
        isinstance(value.func, ast.Name) and value.func.id in wanted


def _assigned(st: ast.stmt) -> ast.stmt:
    """A bare `X(...)` as `model = X(...)`, the form a program's own construction takes."""
    if isinstance(st, ast.Expr):
        return ast.copy_location(ast.Assign(targets=[ast.Name("model", ast.Store())], value=st.value), st)
    return st
