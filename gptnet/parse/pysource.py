"""PyTorch source in an answer (`class X(nn.Module)` with `__init__`/`forward`, or `nn.Sequential(...)`), read with
`ast` only: never executed, imported or evaluated.

`__init__` gives the layers (`self.conv = nn.Conv2d(...)`, `nn.Sequential(...)`, another class); sizes that use
constructor parameters or locals become size expressions (`spec/expr.py` whitelists them). `forward` is traced
symbolically: each value is the input, a layer applied to a value, a sum or a concatenation, and the graph is
rebuilt as a chain with residual adds and concats. A statement in `__init__` that is not a layer (e.g.
`os.system(...)`) is ignored and noted; one in `forward` that cannot be understood refuses the class."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from ..spec import expr
from ..spec.graph import Concat, ModuleSpec, Residual
from ..spec.walk import concrete
from .answer import Candidate, ParsedAnswer, ParseError
from .build import BuildError, make_node

_LOOKS = re.compile(r"class\s+\w+\s*\(\s*(?:torch\.)?(?:nn\.)?Module\s*\)|nn\.Sequential\s*\(")
_FENCE = re.compile(r"```(?:python|py|python3)?\s*\n(.*?)```", re.DOTALL)
_UNSAFE = {"system", "popen", "__import__", "open", "eval", "exec", "compile", "run", "call", "check_output",
           "remove", "rmtree", "unlink", "getattr", "setattr", "globals", "locals", "input", "breakpoint"}
# functional forms in forward -> (layer name, the positional order of their extra arguments)
_FUNCTIONAL = {"relu": "ReLU", "relu6": "ReLU6", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU",
               "silu": "SiLU", "hardswish": "Hardswish", "leaky_relu": "LeakyReLU", "max_pool2d": "MaxPool2d",
               "avg_pool2d": "AvgPool2d", "adaptive_avg_pool2d": "AdaptiveAvgPool2d",
               "adaptive_max_pool2d": "AdaptiveMaxPool2d", "dropout": "Dropout"}
_FLATTEN = {"flatten", "view", "reshape"}


class _Refused(Exception):
    pass


def looks_like_python(text: str) -> bool:
    return bool(_LOOKS.search(text))


def _reflow(code: str) -> str:
    """Code squashed onto one line (as the article's answer is): statements split at paren depth 0, re-indented."""
    starts = re.compile(r"(import |from |class |def |super\(|if |else:|return |for |@|[A-Za-z_][\w.]*\s*\+?= )")
    pieces, depth, last, i = [], 0, 0, 0
    while i < len(code):
        ch = code[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in "'\"":
            end = code.find(ch, i + 1)
            i = end if end > 0 else i
        elif depth == 0 and (i == 0 or code[i - 1] == " ") and starts.match(code, i):
            prev = code[last:i].strip()
            # `if groups is None: groups = in_channels` stays one line: a compound header keeps its body
            if prev and not (prev.startswith(("if ", "else", "for ")) and prev.endswith(":")):
                pieces.append(prev)
                last = i
        i += 1
    pieces.append(code[last:].strip())
    lines, in_class = [], False
    for p in pieces:
        if p.startswith(("class ", "@")):
            in_class, indent = True, 0
        elif p.startswith("def "):
            indent = 4 if in_class else 0
        elif p.startswith(("import ", "from ")) and not lines:
            indent = 0
        else:
            indent = 8 if in_class else 4
        lines.append(" " * indent + p)
    return "\n".join(lines)


def _code(text: str) -> ast.Module:
    blocks = _FENCE.findall(text)
    if blocks:
        code = "\n".join(blocks)
    else:
        m = re.search(r"^\s*(?:import |from |class |\w+\s*=\s*nn\.Sequential)|(?:import |class )\w", text, re.M)
        code = text[m.start():] if m else text
    for attempt in (code, _reflow(code.replace("\n", " "))):
        try:
            return ast.parse(attempt)
        except SyntaxError:
            continue
    raise ParseError("the PyTorch source in the answer does not parse as Python")


def _call_name(node: ast.AST) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


class _Subst(ast.NodeTransformer):
    """Replaces locals and `self.flag` by their expressions so sizes are in terms of constructor parameters."""

    def __init__(self, env: dict[str, str], flags: dict[str, str]) -> None:
        self.env, self.flags = env, flags

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.parse(self.env[node.id], mode="eval").body if node.id in self.env else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr in self.flags:
            return ast.parse(self.flags[node.attr], mode="eval").body
        return self.generic_visit(node)


@dataclass
class _Value:
    """A tensor in forward: the input, `nodes` applied to `src`, or a sum / concat of `parts`."""

    kind: str
    src: "_Value | None" = None
    nodes: list = field(default_factory=list)
    parts: list["_Value"] = field(default_factory=list)

    def spine(self) -> list["_Value"]:
        out, v = [], self
        while v is not None:
            out.append(v)
            v = v.src if v.kind == "apply" else _fork(v.parts) if v.parts else None
        return out


def _fork(parts: list[_Value]) -> _Value:
    others = [{id(x) for x in p.spine()} for p in parts[1:]]
    for v in parts[0].spine():
        if all(id(v) in o for o in others):
            return v
    raise _Refused("branches that do not start from a common tensor")


def _chain(v: _Value, base: _Value) -> list:
    if v is base:
        return []
    if v.kind == "apply":
        return _chain(v.src, base) + v.nodes
    if v.kind in ("add", "cat"):
        fork = _fork(v.parts)
        branches = [_chain(p, fork) for p in v.parts]
        if v.kind == "add":
            if len(branches) != 2:
                raise _Refused("a sum of more than two tensors")
            body, short = sorted(branches, key=len, reverse=True)
            node = Residual(body=body, shortcut=short)
        else:
            node = Concat(branches=branches)
        return _chain(fork, base) + [node]
    raise _Refused("a tensor that does not come from the input")


class _ClassReader:
    def __init__(self, cls: ast.ClassDef, notes: list[str]) -> None:
        self.cls, self.notes = cls, notes
        self.params: list[str] = []
        self.defaults: dict[str, Any] = {}
        self.derived: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.flags: dict[str, str] = {}
        self.attrs: dict[str, list] = {}
        self.lists: dict[str, list] = {}
        self.calls: set[str] = set()

    # ---- __init__
    def arg(self, node: ast.AST) -> Any:
        try:
            return ast.literal_eval(node)
        except ValueError:
            pass
        text = ast.unparse(_Subst(self.env, self.flags).visit(ast.parse(ast.unparse(node), mode="eval")))
        try:
            return expr.normalize(text)
        except expr.ExprError as e:
            raise _Refused(str(e)) from None

    def layer(self, call: ast.AST, attr: str | None) -> list:
        if isinstance(call, ast.Starred) and isinstance(call.value, ast.Name) and call.value.id in self.lists:
            return list(self.lists[call.value.id])
        if isinstance(call, ast.Name) and call.id in self.lists:
            return list(self.lists[call.id])
        if not isinstance(call, ast.Call):
            raise _Refused(f"not a layer: {ast.unparse(call)}")
        name = _call_name(call)
        if name in ("Sequential", "ModuleList"):
            return [n for a in call.args for n in self.layer(a, None)]
        if name in _UNSAFE:
            raise _Refused(f"unsafe call {ast.unparse(call)[:60]}")
        args = [self.arg(a) for a in call.args]
        kwargs = {k.arg: self.arg(k.value) for k in call.keywords if k.arg}
        try:
            node = make_node(name, args, kwargs, attr=attr, notes=self.notes)
        except (BuildError, ValueError) as e:
            raise _Refused(str(e)) from None
        if getattr(node, "op", None) == "call":
            self.calls.add(node.module)
        return [node]

    def read_init(self, fn: ast.FunctionDef) -> None:
        a = fn.args
        self.params = [x.arg for x in a.args[1:] + a.kwonlyargs]
        positional_defaults = dict(zip([x.arg for x in a.args[1:]][::-1], a.defaults[::-1]))
        kw_defaults = {x.arg: d for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None}
        given = {**positional_defaults, **kw_defaults}
        for p, d in sorted(given.items(), key=lambda item: self.params.index(item[0])):
            try:
                self.defaults[p] = ast.literal_eval(d)
            except ValueError:
                self.notes.append(f"{self.cls.name}: default of {p} is not a literal; treated as required")
        for stmt in fn.body:
            try:
                self.init_statement(stmt)
            except _Refused as e:
                self.notes.append(f"{self.cls.name}.__init__: ignored {ast.unparse(stmt)[:80]!r}: {e}")

    def init_statement(self, stmt: ast.stmt) -> None:
        text = ast.unparse(stmt)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return  # docstring
        if isinstance(stmt, ast.Expr) and "__init__" in text and "super" in text:
            return
        if isinstance(stmt, ast.If) and isinstance(stmt.test, ast.Compare) and len(stmt.body) == 1 \
                and not stmt.orelse and isinstance(stmt.test.ops[0], ast.Is) \
                and isinstance(stmt.test.left, ast.Name) and stmt.test.left.id in self.params \
                and isinstance(stmt.body[0], ast.Assign):
            param = stmt.test.left.id  # `if groups is None: groups = in_channels`: a derived default
            self.derived[param] = expr.normalize(ast.unparse(stmt.body[0].value))
            self.defaults.setdefault(param, None)
            return
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
                if isinstance(value, (ast.Call, ast.Starred)) and _call_name(value) not in ("int", "round", "max",
                                                                                          "min"):
                    self.attrs[target.attr] = self.layer(value, target.attr)
                else:
                    self.flags[target.attr] = self.arg(value) if not isinstance(value, ast.Constant) \
                        else repr(value.value)
                return
            if isinstance(target, ast.Name):
                if isinstance(value, ast.List):
                    self.lists[target.id] = [n for e in value.elts for n in self.layer(e, None)]
                else:
                    value_text = self.arg(value)
                    self.env[target.id] = value_text if isinstance(value_text, str) else repr(value_text)
                return
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func,
                                                                                         ast.Attribute) \
                and isinstance(stmt.value.func.value, ast.Name) and stmt.value.func.value.id in self.lists \
                and stmt.value.func.attr in ("append", "extend"):
            items = stmt.value.args[0]
            elts = items.elts if isinstance(items, (ast.List, ast.Tuple)) else [items]
            self.lists[stmt.value.func.value.id] += [n for e in elts for n in self.layer(e, None)]
            return
        unsafe = [n for n in ast.walk(stmt) if isinstance(n, ast.Call) and _call_name(n) in _UNSAFE]
        raise _Refused(f"unsafe call {ast.unparse(unsafe[0])[:60]}" if unsafe else "not a layer")

    # ---- forward
    def read_forward(self, fn: ast.FunctionDef) -> list:
        base = _Value("input")
        values = {fn.args.args[1].arg: base} if len(fn.args.args) > 1 else {}
        result = self.trace(fn.body, values)
        return _chain(result, base)

    def trace(self, body: list[ast.stmt], values: dict[str, _Value]) -> _Value:
        for stmt in body:
            if isinstance(stmt, ast.Return):
                return self.value(stmt.value, values)
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                values[stmt.targets[0].id] = self.value(stmt.value, values)
            elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.Add) and isinstance(stmt.target,
                                                                                              ast.Name):
                values[stmt.target.id] = _Value("add", parts=[values[stmt.target.id], self.value(stmt.value, values)])
            elif isinstance(stmt, ast.If) and stmt.orelse:
                return self.conditional(stmt, values)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue
            else:
                raise _Refused(f"forward statement {ast.unparse(stmt)[:80]!r}")
        raise _Refused("forward returns nothing")

    def conditional(self, stmt: ast.If, values: dict[str, _Value]) -> _Value:
        """`if self.use_res_connect: return x + self.conv(x) else: return self.conv(x)`: a residual with `when`."""
        base = next(iter(values.values()))
        yes, no = self.trace(stmt.body, dict(values)), self.trace(stmt.orelse, dict(values))
        with_res, without = _chain(yes, base), _chain(no, base)
        if len(with_res) == 1 and isinstance(with_res[0], Residual) and with_res[0].body == without \
                and not with_res[0].shortcut:
            when = self.arg(stmt.test)
            return _Value("apply", src=base, nodes=[with_res[0].model_copy(update={"when": str(when)})])
        raise _Refused(f"a condition in forward other than an optional residual: {ast.unparse(stmt.test)[:60]}")

    def value(self, node: ast.AST, values: dict[str, _Value]) -> _Value:
        if isinstance(node, ast.Name) and node.id in values:
            return values[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return _Value("add", parts=[self.value(node.left, values), self.value(node.right, values)])
        if not isinstance(node, ast.Call):
            raise _Refused(f"cannot follow {ast.unparse(node)[:60]!r}")
        func, name = node.func, _call_name(node)
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            if func.attr not in self.attrs:
                raise _Refused(f"self.{func.attr} is used but not defined in __init__")
            self.used.add(func.attr)
            return _Value("apply", src=self.value(node.args[0], values), nodes=list(self.attrs[func.attr]))
        if name == "cat":
            seq = node.args[0]
            return _Value("cat", parts=[self.value(e, values) for e in seq.elts])
        if name == "add" and len(node.args) == 2:
            return _Value("add", parts=[self.value(a, values) for a in node.args])
        if name in _FLATTEN:
            src = func.value if isinstance(func, ast.Attribute) and name != "flatten" or (
                name == "flatten" and isinstance(func, ast.Attribute) and not node.args) or (
                name == "flatten" and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in values) else node.args[0]
            return _Value("apply", src=self.value(src, values), nodes=[make_node("Flatten")])
        if name in _FUNCTIONAL and node.args:
            extra = [self.arg(a) for a in node.args[1:]]
            kwargs = {k.arg: self.arg(k.value) for k in node.keywords if k.arg not in ("inplace", "training")}
            return _Value("apply", src=self.value(node.args[0], values),
                          nodes=[make_node(_FUNCTIONAL[name], extra, kwargs)])
        raise _Refused(f"cannot follow the call {ast.unparse(node)[:60]!r}")

    def read(self) -> list:
        self.used: set[str] = set()
        methods = {f.name: f for f in self.cls.body if isinstance(f, ast.FunctionDef)}
        if "__init__" in methods:
            self.read_init(methods["__init__"])
        if "forward" in methods:
            nodes = self.read_forward(methods["forward"])
            for attr in self.attrs.keys() - self.used:
                self.notes.append(f"{self.cls.name}: self.{attr} is defined but never used in forward; left out")
            return nodes
        return [n for chain in self.attrs.values() for n in chain]


def _is_module_class(cls: ast.ClassDef) -> bool:
    return any(ast.unparse(b).split(".")[-1] == "Module" for b in cls.bases)


def parse_python(text: str) -> ParsedAnswer:
    tree = _code(text)
    notes: list[str] = []
    answer = ParsedAnswer(form="python")
    readers: list[tuple[_ClassReader, list]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef) and _is_module_class(stmt):
            reader = _ClassReader(stmt, notes)
            try:
                readers.append((reader, reader.read()))
            except _Refused as e:
                notes.append(f"class {stmt.name} refused: {e}")
        elif isinstance(stmt, (ast.Assign, ast.Expr)) and isinstance(stmt.value, ast.Call) \
                and _call_name(stmt.value) == "Sequential":
            name = stmt.targets[0].id if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) \
                else None
            reader = _ClassReader(ast.ClassDef(name=name or "model", bases=[], keywords=[], body=[],
                                               decorator_list=[]), notes)
            try:
                answer.models.append(Candidate(name=name if name not in (None, "model", "net") else None,
                                               layers=reader.layer(stmt.value, None)))
            except _Refused as e:
                notes.append(f"nn.Sequential refused: {e}")
    used = {c for reader, _ in readers for c in reader.calls}
    for reader, nodes in readers:
        required = [p for p in reader.params if p not in reader.defaults]
        if reader.cls.name not in used and not required:  # a whole network: nothing calls it, nothing required
            env = {p: reader.defaults.get(p) for p in reader.params}
            answer.models.append(Candidate(name=reader.cls.name, layers=concrete(nodes, env)))
        else:
            try:
                answer.modules.append(ModuleSpec(name=reader.cls.name, params=reader.params,
                                                 defaults=reader.defaults, derived=reader.derived, body=nodes,
                                                 doc=ast.get_docstring(reader.cls)))
            except ValueError as e:
                notes.append(f"class {reader.cls.name} refused: {e}")
    if not answer.models and not answer.modules:
        raise ParseError("no readable PyTorch module in the answer" + (f" ({notes[-1]})" if notes else ""))
    answer.notes = notes
    return answer
