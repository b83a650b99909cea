"""Defence in depth: a `model.py` is re-read with `ast` and checked against an allow-list before anything imports it.

What gptnet renders has one shape (`render/templates/model.py.j2`): a docstring, `import torch`, `from torch import
nn`, classes deriving from `nn.Module` with `__init__` and `forward`, and `build_model`. Inside them only
assignments to `self.<attribute>`, `if`, `return` and `super().__init__()`; calls only to `nn.<layer>`, the file's
own classes, `torch.cat`, `self.<layer>` and int/max/min/round; names only parameters, `self`, `x`, `torch`, `nn`
and the file's classes; literals only numbers, booleans, None and a few fixed strings. Anything else (an import,
a call to `exec`, a dunder, a subscript, an f-string, a decorator, a loop) is named with its line.

The grammar bounds the file's syntax, not the work it describes: a module calling its child twice, nested 60 deep,
makes 2^60 calls in a forward pass, and `self.me = self` sends torch round a cycle. So the work is counted too,
through the classes with multiplicity (`_Work`), and a file past limits.MAX_CALLS_PER_FORWARD or MAX_MODULES_BUILT,
or with a class that reaches itself, is refused with a line naming the class.

`load_model` imports the file from the bytes it verified (compiled here, so no stale or planted `__pycache__`
and no change between check and use)."""

from __future__ import annotations

import ast
import graphlib
import math
import re
import types
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .limits import MAX_CALLS_PER_FORWARD, MAX_MODULES_BUILT
from .spec.expr import BINOPS, CMPOPS
from .spec.grammar import ALLOWED_STRINGS, EXPR_FUNCS, NN_MODULE_MEMBERS, RESERVED, RESERVED_ATTRS, check_name
from .spec.registry import kinds

MAX_BYTES = 2_000_000
NN_NAMES = frozenset(cls.torch_name for cls in kinds().values()) | {"Sequential", "Module"}
TORCH_NAMES = frozenset({"cat", "Tensor"})
_BINOPS, _CMPOPS = tuple(BINOPS), tuple(CMPOPS)  # what size expressions may use, as isinstance wants them
_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


@dataclass
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class _Refuse(Exception):
    def __init__(self, node: ast.AST | None, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(getattr(node, "lineno", 1), message)


def _is_doc(st: ast.stmt) -> bool:
    return isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str)


def _body(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """The statements after a docstring."""
    return stmts[1:] if stmts and _is_doc(stmts[0]) else stmts


def _name(node: ast.AST) -> str:
    return ast.unparse(node)[:60]


class _Checker:
    """One pass over the module; the first thing outside the allow-list raises _Refuse."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.classes: set[str] = set()

    def run(self) -> None:
        body = _body(self.tree.body)
        for st in body:
            if isinstance(st, ast.ClassDef):
                self._safe(st, st.name, "class name")
                if st.name in self.classes:
                    raise _Refuse(st, f"class {st.name} is defined twice")
                self.classes.add(st.name)
        for st in body:
            if isinstance(st, ast.Import):
                if [(a.name, a.asname) for a in st.names] != [("torch", None)]:
                    raise _Refuse(st, f"import {', '.join(a.name for a in st.names)}: only `import torch` is allowed")
            elif isinstance(st, ast.ImportFrom):
                if st.level or st.module != "torch" or [(a.name, a.asname) for a in st.names] != [("nn", None)]:
                    raise _Refuse(st, "only `from torch import nn` may be imported from")
            elif isinstance(st, ast.ClassDef):
                self._class(st)
            elif isinstance(st, ast.FunctionDef) and st.name == "build_model":
                self._function(st, params_from=0, allowed=())
            else:
                raise _Refuse(st, f"`{_name(st)}` at module level: only imports, classes and build_model are allowed")

    def _safe(self, node: ast.AST, name: str, what: str, reserved: frozenset[str] = RESERVED) -> None:
        try:
            check_name(name, what, reserved)
        except ValueError as e:
            raise _Refuse(node, str(e)) from None

    def _class(self, node: ast.ClassDef) -> None:
        if node.decorator_list or node.keywords or [ast.unparse(b) for b in node.bases] != ["nn.Module"]:
            raise _Refuse(node, f"class {node.name} must derive from nn.Module alone, with no decorator or keyword")
        seen = set()
        for st in _body(node.body):
            if not isinstance(st, ast.FunctionDef) or st.name not in ("__init__", "forward") or st.name in seen:
                raise _Refuse(st, f"class {node.name} may hold only a docstring, __init__ and forward")
            seen.add(st.name)
            self._function(st, params_from=1, allowed=("x",) if st.name == "forward" else ())

    def _function(self, fn: ast.FunctionDef, params_from: int, allowed: tuple[str, ...]) -> None:
        a = fn.args
        if fn.decorator_list or a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg:
            raise _Refuse(fn, f"def {fn.name}: no decorators, *args, **kwargs or keyword-only parameters")
        names = [p.arg for p in a.args]
        if params_from and names[:1] != ["self"]:
            raise _Refuse(fn, f"def {fn.name}: the first parameter must be self")
        if fn.name == "forward" and names != ["self", "x"]:
            raise _Refuse(fn, "def forward must take (self, x)")
        for p in a.args[params_from:]:
            if p.arg not in allowed:
                self._safe(p, p.arg, "parameter")
            if p.annotation is not None:
                self._annotation(p.annotation)
        if fn.returns is not None:
            self._annotation(fn.returns)
        for d in a.defaults:
            self._literal(d)
        scope = set(names)
        for st in _body(fn.body):
            self._statement(st, fn.name, scope)

    def _annotation(self, node: ast.AST) -> None:
        text = ast.unparse(node)
        if text not in ("int", "None", "torch.Tensor") and text not in self.classes:
            raise _Refuse(node, f"annotation `{text[:40]}` is not one gptnet writes")

    def _literal(self, node: ast.AST) -> None:
        if isinstance(node, ast.Tuple):
            for e in node.elts:
                self._literal(e)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            self._constant(node.operand)
        elif isinstance(node, ast.Constant):
            self._constant(node)
        else:
            raise _Refuse(node, f"default `{_name(node)}` is not a literal")

    def _constant(self, node: ast.Constant) -> None:
        v = node.value
        if v is None or isinstance(v, bool) or isinstance(v, int) or isinstance(v, float) and math.isfinite(v):
            return
        if isinstance(v, str) and v in ALLOWED_STRINGS:
            return
        raise _Refuse(node, f"the constant {repr(v)[:40]} is not one gptnet writes")

    def _statement(self, st: ast.stmt, where: str, scope: set[str]) -> None:
        if isinstance(st, ast.Expr) and where == "__init__" and ast.unparse(st) == "super().__init__()":
            return
        if isinstance(st, ast.Assign) and len(st.targets) == 1:
            t = st.targets[0]
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self" \
                    and where == "__init__":
                if t.attr in NN_MODULE_MEMBERS:
                    raise _Refuse(t, f"self.{t.attr} would replace a member of nn.Module")
                self._safe(t, t.attr, "attribute", RESERVED_ATTRS)
            elif not (isinstance(t, ast.Name) and t.id in scope and t.id != "self"):
                raise _Refuse(st, f"assignment to `{_name(t)}`: only self.<attribute> and parameters are assigned")
            return self._expr(st.value, scope)
        if isinstance(st, ast.If):
            self._expr(st.test, scope)
            for s in (*st.body, *st.orelse):
                self._statement(s, where, scope)
            return None
        if isinstance(st, ast.Return) and st.value is not None:
            return self._expr(st.value, scope)
        raise _Refuse(st, f"`{_name(st)}`: only assignments, if and return are allowed in {where}")

    def _expr(self, node: ast.AST, scope: set[str]) -> None:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            if node.id in scope or node.id in ("torch", "nn") or node.id in self.classes:
                return None
            raise _Refuse(node, f"name `{node.id}` is not a parameter, torch, nn or a class of this file")
        if isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else None
            if owner == "self" and not node.attr.startswith("_") and node.attr not in NN_MODULE_MEMBERS \
                    or owner == "nn" and node.attr in NN_NAMES \
                    or owner == "torch" and node.attr in TORCH_NAMES:
                return None
            raise _Refuse(node, f"`{_name(node)}` is not an attribute gptnet writes")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id not in EXPR_FUNCS and func.id not in self.classes:
                raise _Refuse(node, f"call to `{func.id}`: only layers, this file's classes and int/max/min/round")
            if not isinstance(func, (ast.Name, ast.Attribute)):
                raise _Refuse(node, f"call of `{_name(func)}`")
            if not isinstance(func, ast.Name):
                self._expr(func, scope)
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    raise _Refuse(arg, "*arguments are not allowed")
                self._expr(arg, scope)
            for kw in node.keywords:
                if kw.arg is None:
                    raise _Refuse(kw.value, "**arguments are not allowed")
                self._expr(kw.value, scope)
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, _BINOPS):
            self._expr(node.left, scope)
            return self._expr(node.right, scope)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            return self._expr(node.operand, scope)
        if isinstance(node, ast.Compare) and all(isinstance(o, _CMPOPS) for o in node.ops):
            for n in (node.left, *node.comparators):
                self._expr(n, scope)
            return None
        if isinstance(node, (ast.BoolOp, ast.Tuple, ast.List)):
            for n in getattr(node, "values", None) or getattr(node, "elts", []):
                self._expr(n, scope)
            return None
        raise _Refuse(node, f"`{_name(node)}` ({type(node).__name__}) is not an expression gptnet writes")


def _self_attr(node: ast.AST) -> str | None:
    """`attr` for `self.attr`, else None."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    return None


def _is_self(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _parts(node: ast.AST):
    """`node` and the nodes under it, as ast.walk, with `self.attr` whole (its `self` is no value)."""
    todo = [node]
    while todo:
        node = todo.pop()
        yield node
        if _self_attr(node) is None:
            todo.extend(ast.iter_child_nodes(node))


class _Work:
    """What a file that passed _Checker makes torch do, bounded before anything runs it: the modules that building
    each class (and build_model) makes, and the module calls of one call of each, counted with multiplicity through
    the classes; and no class that reaches itself (builds or holds itself, directly or through others), which torch
    would follow until the stack runs out. A module is a value only where gptnet writes one (assigned to
    self.<attribute> or listed in nn.Sequential in __init__, called in forward, returned by build_model), so one
    class reaches another only by building it, and the counts are sums: an if counts its costlier branch in forward
    and both in __init__, where either may set the attribute."""

    def __init__(self, body: list[ast.stmt]) -> None:
        self.classes = {st.name: st for st in body if isinstance(st, ast.ClassDef)}
        self.functions = [st for st in body if isinstance(st, ast.FunctionDef)]  # build_model
        self.inits = {name: next((fn for fn in _body(cls.body) if fn.name == "__init__"), None)
                      for name, cls in self.classes.items()}
        self.builds = {name: self._calls_to_build(fn) for name, fn in self.inits.items()}
        self.built: dict[str, int] = {}  # modules that building each class makes, itself included
        self.calls: dict[str, int] = {}  # module calls of one call of each class, itself included

    def run(self) -> None:
        for name in self._order():
            cls, init = self.classes[name], self.inits[name]
            forward = next((fn for fn in _body(cls.body) if fn.name == "forward"), None)
            self.built[name] = _bound(cls, f"building {name}", 1 + self._built_by(self.builds[name]),
                                      MAX_MODULES_BUILT, "modules")
            held = self._holds(init.body if init else [], name, {})
            self.calls[name] = _bound(cls, f"one call of {name}", 1 + self._forward(forward, held) if forward else 1,
                                      MAX_CALLS_PER_FORWARD, "module calls")
        for fn in self.functions:
            _bound(fn, fn.name, self._built_by(self._calls_to_build(fn)), MAX_MODULES_BUILT, "modules")
            self._holds(fn.body, fn.name, {})

    def _built(self, node: ast.AST) -> str | None:
        """What a call builds: one of the file's classes or `nn.<layer>`; None for any other node."""
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in self.classes:
                return node.func.id
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id == "nn":
                return f"nn.{node.func.attr}"
        return None

    def _calls_to_build(self, fn: ast.FunctionDef | None) -> list[tuple[str, ast.Call]]:
        """(what it builds, call) for each call in `fn` that builds a module."""
        return [(kind, n) for n in _parts(fn) if (kind := self._built(n))] if fn else []

    def _built_by(self, builds: list[tuple[str, ast.Call]]) -> int:
        return sum(self.built.get(kind, 1) for kind, _ in builds)

    def _order(self) -> list[str]:
        """The classes, each after the classes its __init__ builds; a class that builds itself is refused."""
        uses = {name: {kind: call for kind, call in reversed(builds) if kind in self.classes}
                for name, builds in self.builds.items()}  # reversed: the first call to each class stays
        try:
            return list(graphlib.TopologicalSorter(uses).static_order())
        except graphlib.CycleError as e:
            cycle = e.args[1][::-1]  # each class builds the next
            steps = [self._holder(a, uses[a][b]) for a, b in zip(cycle, cycle[1:])]
            raise _cycle(uses[cycle[0]][cycle[1]], cycle[0], steps) from None

    def _holder(self, name: str, call: ast.Call) -> str:
        """`name.attribute` for the attribute of class `name` that holds what `call` builds, else `name.__init__`."""
        return next((f"{name}.{_self_attr(st.targets[0])}" for st in ast.walk(self.inits[name])
                     if isinstance(st, ast.Assign) and _self_attr(st.targets[0])
                     and any(n is call for n in ast.walk(st.value))), f"{name}.__init__")

    def _holds(self, body: list[ast.stmt], owner: str, held: dict[str, int]) -> dict[str, int]:
        """The module calls of one call of each module `body` holds, by attribute (what build_model returns, as
        "return"); a module anywhere else is refused."""
        for st in body:
            if isinstance(st, ast.If):
                self._plain(st.test, held)
                self._holds(st.body + st.orelse, owner, held)
                continue
            attr = _self_attr(st.targets[0]) if isinstance(st, ast.Assign) else \
                "return" if isinstance(st, ast.Return) and owner not in self.classes else None
            calls = self._module(st.value, owner, attr, held) if attr else self._plain(st, held)
            if calls is not None:
                where = f"{owner}.{attr}" if attr != "return" else f"the model {owner} returns"
                held[attr] = max(held.get(attr, 0), _bound(st, f"one call of {where}", calls, MAX_CALLS_PER_FORWARD,
                                                           "module calls"))
        return held

    def _module(self, node: ast.AST, owner: str, attr: str, held: dict[str, int]) -> int | None:
        """The module calls of one call of the module `node` is, held as `attr`; None when it is not a module."""
        if _is_self(node):
            raise _cycle(node, owner, [f"{owner}.{attr}"])
        if _self_attr(node) is not None:
            return held.get(_self_attr(node))
        kind = self._built(node)
        if kind is None:
            return self._plain(node, held)
        for kw in node.keywords:
            self._plain(kw.value, held)
        if kind == "nn.Sequential":
            return 1 + sum(self._module(a, owner, attr, held) or 0 for a in node.args)
        for a in node.args:
            self._plain(a, held)
        return self.calls.get(kind, 1)

    def _plain(self, node: ast.AST, held: dict[str, int]) -> None:
        """Refuse a module anywhere in `node`: as an argument, an operand, a local, a condition."""
        for n in _parts(node):
            self._not_module(n, held)

    def _not_module(self, node: ast.AST, held: dict[str, int]) -> None:
        if _is_self(node) or _self_attr(node) in held or self._built(node):
            raise _Refuse(node, f"`{_name(node)}` is a module used as a value: gptnet assigns a module to "
                                "self.<attribute> or lists it in nn.Sequential in __init__, and calls it in forward")

    def _forward(self, node: ast.AST, held: dict[str, int]) -> int:
        """Module calls of one run of `node`, a part of forward."""
        if isinstance(node, ast.If):
            return self._forward(node.test, held) + max(sum(self._forward(st, held) for st in branch)
                                                        for branch in (node.body, node.orelse))
        if isinstance(node, ast.Call) and _self_attr(node.func) is not None:  # an attribute that is no module: 1
            return held.get(_self_attr(node.func), 1) + sum(self._forward(n, held)
                                                           for n in (*node.args, *node.keywords))
        self._not_module(node, held)
        return 0 if _self_attr(node) else sum(self._forward(n, held) for n in ast.iter_child_nodes(node))


def _bound(node: ast.AST, what: str, count: int, limit: int, unit: str) -> int:
    if count > limit:
        raise _Refuse(node, f"{what} makes {count:,} {unit}, more than the {limit:,} gptnet allows")
    return count


def _cycle(node: ast.AST, name: str, steps: list[str]) -> _Refuse:
    return _Refuse(node, f"{name} reaches itself through {' -> '.join(steps)}; gptnet refuses a model whose modules "
                         "form a cycle")


def check_source(data: bytes) -> Problem | None:
    """The first thing in a model.py's bytes outside the allow-list, or None when it passes."""
    if len(data) > MAX_BYTES:
        return Problem(1, f"the file is larger than {MAX_BYTES:,} bytes")
    for i, line in enumerate(data.splitlines()[:2]):
        m = _COOKIE.match(line)
        if m and m.group(1).lower().replace(b"_", b"-") not in (b"utf-8", b"utf8"):
            return Problem(i + 1, f"the encoding declaration {m.group(1).decode('ascii', 'replace')!r}: only UTF-8")
    try:
        tree = ast.parse(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        return Problem(data[:e.start].count(b"\n") + 1, "the file is not UTF-8")
    except SyntaxError as e:
        return Problem(e.lineno or 1, f"not valid Python: {e.msg}")
    except (ValueError, RecursionError, MemoryError):
        return Problem(1, "not valid Python, or nested too deeply")
    try:
        _Checker(tree).run()
        _Work(_body(tree.body)).run()
    except _Refuse as e:
        return e.problem
    except RecursionError:
        return Problem(1, "expressions nested too deeply")
    return None


def locate(path: Path) -> tuple[Path, Path]:
    """The design folder and its model.py, from either."""
    path = Path(path)
    model_py = path / "model.py" if path.is_dir() else path
    if not model_py.is_file() or model_py.suffix != ".py":
        raise UsageError(f"no model.py at {path}", "give a folder written by `gptnet design`, or a model.py")
    return model_py.parent, model_py


def verify_file(path: Path) -> bytes:
    """The file's bytes, once they pass; a UsageError naming the offending line when they do not."""
    data = Path(path).read_bytes()
    problem = check_source(data)
    if problem:
        raise UsageError(f"{path} {problem}", trust_hint(path, problem))
    return data


def trust_hint(path: Path, problem: Problem) -> str:
    """What to do about a file that fails the check: read the line, check again, regenerate. --trust-edits comes
    last and only for an edit of one's own: it runs the file's code as it is, so a folder someone else sent must not
    be run with it."""
    return (f"read line {problem.line} of {path} and run `gptnet verify {path}` again, or regenerate it with gptnet "
            "design; only if you wrote that line yourself, --trust-edits runs the file's code as it is, unchecked")


def load_model(path: Path, trust_edits: bool = False) -> types.ModuleType:
    """Import a model.py from the bytes just checked (or, with `trust_edits`, just read)."""
    path = Path(path)
    data = path.read_bytes() if trust_edits else verify_file(path)
    module = types.ModuleType(f"gptnet_model_{uuid.uuid4().hex}")
    module.__file__ = str(path)
    try:
        exec(compile(data, str(path), "exec"), module.__dict__)  # noqa: S102 - verified (or trusted) source
    except Exception as e:  # a hand-edited file: say what broke it
        raise UsageError(f"{path} does not import: {type(e).__name__}: {e}", "regenerate it with gptnet design") \
            from None
    return module
