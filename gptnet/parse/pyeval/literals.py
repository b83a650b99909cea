"""Expressions that build or take apart collections: list, tuple and dict displays (with `*` and `**`),
subscripts and slices (of a tensor, handed to forward.py), f-strings and `str.format` (gptnet's own reading of a
safe part of the format language) and comprehensions. Each item copied, and each character formatted, is a step
(evaluator.py)."""

from __future__ import annotations

import ast
import re
import string
from typing import Any

from . import messages
from .evaluator import Core, src
from .forward import tensor_index
from .messages import Refused
from .tensors import Tensor
from .values import PLAIN, Container, Dim, check, describe, weigh

_FORMATTER = string.Formatter()
_NAME = re.compile(r"|[0-9]{1,2}|[A-Za-z_][A-Za-z0-9_]*")  # a field names an argument: by number or by keyword
_SPEC = re.compile(r"0?[1-9]?d?")  # a width, with zeros, and `d` (`02d`): nothing that grows a string far
_MISSING = object()


def formatted(value: Any, spec: str, field: str) -> str:
    """One field's text: a number, a string, a bool or None, with at most a width and `d` (`02d`)."""
    if not isinstance(value, PLAIN) or not _SPEC.fullmatch(spec) or spec.endswith("d") and not isinstance(value, int):
        raise Refused(messages.format_field(field) if isinstance(value, PLAIN) else
                      f"`{field}` formats {describe(value)}, not a number or a string")
    return format(value, spec)


class Literals(Core):
    def ex_List(self, node: ast.List, env: dict) -> list:
        out = []
        for e in node.elts:
            if isinstance(e, ast.Starred):
                out += self.iterate(self.eval(e.value, env))
            else:
                out.append(self.eval(e, env))
        return check(out)

    def ex_Tuple(self, node: ast.Tuple, env: dict) -> tuple:
        return tuple(self.ex_List(node, env))

    def ex_Dict(self, node: ast.Dict, env: dict) -> dict:
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                value = self.eval(v, env)
                if not isinstance(value, dict):
                    raise Refused(f"`**{src(v)}` is not a dict")
                out.update(value)
                continue
            key = weigh(self.eval(k, env))
            if not isinstance(key, (*PLAIN, tuple)):
                raise Refused(f"the dict key `{src(k)}` is not a number or a string")
            out[key] = self.eval(v, env)
        return check(out)

    def ex_Subscript(self, node: ast.Subscript, env: dict) -> Any:
        owner, key = self.eval(node.value, env), self.eval(node.slice, env)
        if isinstance(owner, Tensor):
            return tensor_index(self, owner, key, node)
        if isinstance(owner, Container):
            return Container(owner.items[key], owner.kind) if isinstance(key, slice) else \
                self.index(owner.items, key, node)
        if isinstance(owner, dict):
            if not isinstance(key, (*PLAIN, tuple)) or weigh(key) not in owner:
                raise Refused(f"`{src(node)}`: no such key")
            return owner[key]
        if not isinstance(owner, (list, tuple, str, range)):
            raise Refused(f"`{src(node)}` indexes {type(owner).__name__}")
        if isinstance(key, slice):
            self.step(len(owner))
            return owner[key]
        return self.index(owner, key, node)

    @staticmethod
    def index(items: Any, key: Any, node: ast.AST) -> Any:
        if not isinstance(key, int) or isinstance(key, bool) or not -len(items) <= key < len(items):
            raise Refused(f"`{src(node)}`: index {describe(key)} is not within its {len(items)} items")
        return items[key]

    def ex_Slice(self, node: ast.Slice, env: dict) -> slice:
        parts = [None if p is None else self.eval(p, env) for p in (node.lower, node.upper, node.step)]
        if not all(p is None or isinstance(p, (int, Dim)) for p in parts) or parts[2] == 0:
            raise Refused(f"the slice `{src(node)}` is not of numbers")
        return slice(*parts)

    def ex_JoinedStr(self, node: ast.JoinedStr, env: dict) -> str:
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(self.spent(str(part.value)))
                continue
            spec = part.format_spec.values if part.format_spec is not None else []
            if part.conversion != -1 or not all(isinstance(v, ast.Constant) for v in spec):
                raise Refused(messages.format_field(src(part)))
            value = self.eval(part.value, env)
            out.append(self.spent(formatted(value, "".join(str(v.value) for v in spec), src(part))))
        return check("".join(out))

    def format_string(self, template: str, args: tuple, kwargs: dict) -> str:
        """`"stage{}".format(i + 1)`, `"{0}_{name}".format(...)`: the template split by Python's parser (which only
        splits), its fields read by gptnet, of plain values only: Python's `format` would follow `{0.__class__}` and
        `{0[key]}` into the objects it formats."""
        out, numbering, count = [], set(), 0
        try:
            pieces = list(_FORMATTER.parse(template))
        except ValueError as e:  # an unpaired brace
            raise Refused(f"the format string {template[:40]!r}: {e}") from None
        self.step(len(pieces))
        for text, name, spec, conversion in pieces:
            out.append(self.spent(text))
            if name is None:
                continue
            field = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            if conversion or not _NAME.fullmatch(name):
                raise Refused(messages.format_field(field))
            if name == "" or name.isdigit():  # `{}` counts on, `{0}` does not; Python refuses both in one string
                numbering.add(name == "")
                if name == "":
                    name, count = str(count), count + 1
            if len(numbering) > 1:
                raise Refused(f"the format string {template[:40]!r} numbers its fields both by hand and "
                              "automatically")
            value = args[int(name)] if name.isdigit() and int(name) < len(args) else kwargs.get(name, _MISSING)
            if value is _MISSING:
                raise Refused(f"`{field}` names no argument of the .format call")
            out.append(self.spent(formatted(value, spec, field)))
        return check("".join(out))

    def spent(self, text: str) -> str:
        """A piece of a string being built: a step per character, so that no format builds one past the budget."""
        self.step(len(text))
        return text

    def ex_ListComp(self, node: ast.ListComp, env: dict) -> list:
        out: list = []
        self.comprehension(node.generators, 0, dict(env), lambda scope: out.append(self.eval(node.elt, scope)))
        return check(out)

    ex_GeneratorExp = ex_ListComp

    def ex_DictComp(self, node: ast.DictComp, env: dict) -> dict:
        out: dict = {}
        self.comprehension(node.generators, 0, dict(env),
                           lambda scope: out.__setitem__(weigh(self.eval(node.key, scope)), self.eval(node.value, scope)))
        return check(out)

    def comprehension(self, gens: list[ast.comprehension], k: int, scope: dict, emit) -> None:
        if k == len(gens):
            return emit(scope)
        for item in self.iterate(self.eval(gens[k].iter, scope)):
            self.assign(gens[k].target, item, scope)
            if all(self.truth(self.eval(c, scope), c) for c in gens[k].ifs):
                self.comprehension(gens, k + 1, scope, emit)
        return None
