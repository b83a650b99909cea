"""PyTorch source in an answer (`class X(nn.Module)` with `__init__`/`forward`, or `nn.Sequential(...)`), read with
`ast` only: never executed, imported or evaluated.

`__init__` gives the layers (`self.conv = nn.Conv2d(...)`, `nn.Sequential(...)`, a list built with append/extend,
another class); sizes that use constructor parameters or locals become size expressions (`spec/expr.py`
whitelists them). `forward` is traced symbolically: each value is the input, layers applied to a value, a sum, a
concat or an `if` of two values, and the graph is rebuilt as a chain with residual adds and concats. A statement in
`__init__` that is not a layer (e.g. `os.system(...)`) is ignored and noted; layers built under a condition or in a
loop, or a forward statement that cannot be understood, refuse the class."""

from __future__ import annotations

import ast
import copy
import re
import textwrap
from typing import Any

from ..spec import expr
from ..spec.graph import Call, Concat, ModuleSpec, Residual
from ..spec.layers import Flatten, Linear
from ..spec.registry import lookup
from .answer import Candidate, ParsedAnswer, ParseError
from .build import KEYWORDS, BuildError, make_node

_LOOKS = re.compile(r"\bclass\s+\w+\s*\(\s*[\w.]*(?:Module|Sequential)\s*\)|\bnn\.Sequential\s*\(|"
                    r"\bdef\s+forward\s*\(\s*self\b")
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|$)", re.S)
_START = re.compile(r"(?m)^[ \t]*(?:import|from|class)\b|(?<![\w.])(?:import\s+torch|from\s+torch|class\s+\w+\s*\()"
                    r"|^.*\bnn\.Sequential\s*\(")
_UNSAFE = {"os", "sys", "subprocess", "shutil", "socket", "importlib", "pickle", "requests", "urllib", "builtins",
           "eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr", "globals", "locals",
           "vars", "input", "breakpoint", "exit", "quit"}
# functional forms and tensor methods in forward -> layer kind
_FUNCTIONAL = {"relu": "ReLU", "relu6": "ReLU6", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU",
               "silu": "SiLU", "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid", "leaky_relu": "LeakyReLU",
               "max_pool2d": "MaxPool2d", "avg_pool2d": "AvgPool2d", "adaptive_avg_pool2d": "AdaptiveAvgPool2d",
               "adaptive_max_pool2d": "AdaptiveMaxPool2d", "dropout": "Dropout", "flatten": "Flatten"}
_RESHAPES = {"view", "reshape", "flatten", "squeeze"}
_NUM_CLASSES = re.compile(r"^(num_?classes|n_?classes|classes|num_class|num_outputs|n_out)$")


class _Refused(Exception):
    """What makes a class unreadable; the message names the statement."""


def looks_like_python(text: str) -> bool:
    return bool(_LOOKS.search(text))


# ---- getting code out of the answer -------------------------------------------------------------------------------

_TOKEN = re.compile(r"""(?P<s>[rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'))"""
                    r"|(?P<c>#[^\n]*)|(?P<w>\s+)|(?P<n>[^\W\d]\w*)|(?P<d>\d[\w.]*(?:(?<=[eE])[-+]\d+)?)"
                    r"|(?P<o>\*\*=?|//=?|->|<<=?|>>=?|\.\.\.|[-+*/%&|^<>!=:]=|\S)")
_HEADERS = {"class", "def", "if", "elif", "else", "for", "while", "with", "try", "except", "finally"}
_STMT_KW = _HEADERS | {"return", "pass", "break", "continue", "raise", "assert", "del", "import", "from", "global",
                       "nonlocal"}
_OP_KW = _STMT_KW | {"and", "or", "not", "in", "is", "as", "lambda", "await", "yield"}


def _ends_atom(tok: tuple[str, str] | None) -> bool:
    return tok is not None and (tok[0] in "sd" or (tok[0] == "n" and tok[1] not in _OP_KW) or tok[1] in ")]}")


def _reflow(code: str) -> list[str]:
    """Code squashed onto one line (the article's answer is): split into statements at paren depth 0 where a keyword
    starts one, a block header's colon ends, or two operands meet with no operator between; then re-indent
    (methods inside the last class, a block header's body is the one statement after it)."""
    toks = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(code) if m.lastgroup not in "wc"]
    stmts: list[list[str]] = []
    depth, prev, header_open, colon_seen = 0, None, False, False
    for i, (kind, val) in enumerate(toks):
        new = not stmts
        if depth == 0 and stmts:
            first = stmts[-1][0]
            if header_open or prev == (("o", ";")):
                new = True
            elif kind == "n" and val in _STMT_KW:
                new = not ((val == "import" and first == "from") or (val == "from" and first in ("raise", "yield")))
                if val == "if":  # `a if b else c` is an expression; `if b: ...` a statement
                    d, j = 0, i + 1
                    while j < len(toks) and not (d == 0 and toks[j][1] in (":", "else")):
                        d += (toks[j][1] in "([{") - (toks[j][1] in ")]}")
                        j += 1
                    new = j < len(toks) and toks[j][1] == ":"
                elif val == "else":
                    new = i + 1 < len(toks) and toks[i + 1][1] == ":"
            elif kind in "nds" and not (kind == "n" and val in _OP_KW) and _ends_atom(prev):
                new = not (kind == "s" and prev[0] == "s")  # "a" "b" is one string
        if new:
            stmts.append([])
            header_open = colon_seen = False
        if val == ";" and depth == 0:
            prev = (kind, val)
            continue
        stmts[-1].append(val)
        depth = max(depth + (val in "([{") - (val in ")]}"), 0)
        if depth == 0 and val == ":" and not colon_seen:  # the first colon at depth 0 ends a block header
            header_open = colon_seen = stmts[-1][0] in _HEADERS
        prev = (kind, val)
    lines, level, base, in_class, after_header, headers = [], 0, 0, False, False, []
    for words in stmts:
        kw = words[0]
        if kw == "class":
            lvl, level, base, in_class, headers = 0, 1, 1, True, []
        elif kw == "def":
            lvl = 1 if in_class else 0
            level = base = lvl + 1
            headers = []
        elif kw in ("import", "from"):
            lvl = level = base = 0
            in_class = False
        elif kw in ("else", "elif", "except", "finally"):
            lvl = headers[-1] if headers else level
            level, after_header = lvl + 1, True
        elif kw in _HEADERS:
            lvl = level
            headers.append(lvl)
            level, after_header = lvl + 1, True
        else:
            lvl = level
            if after_header:
                level, after_header = base, False
        lines.append("    " * lvl + " ".join(words))
    return lines


def _parse_code(code: str, notes: list[str]) -> ast.Module:
    """The code as a module; trailing prose is cut off, a squashed one-liner re-flowed."""
    code = textwrap.dedent(code.replace("\t", "    ")).strip("\n")
    error: SyntaxError | None = None
    for lines in (code.splitlines(), _reflow(code)):
        for cut in range(len(lines), max(len(lines) - 12, 0), -1):
            try:
                tree = ast.parse("\n".join(lines[:cut]))
            except SyntaxError as e:
                error = error or e
                continue
            if cut < len(lines):
                notes.append(f"ignored {len(lines) - cut} trailing line(s) that are not Python")
            return tree
    raise ParseError(f"the PyTorch source in the answer does not parse as Python ({error.msg}, line {error.lineno})")


def _code(text: str, notes: list[str]) -> ast.Module:
    blocks = [b for lang, b in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "python3", "pytorch")]
    blocks = [b for b in blocks if looks_like_python(b) or re.search(r"^\s*(import|from|class)\b", b, re.M)]
    if not blocks:
        try:  # an answer that is nothing but code
            return ast.parse(textwrap.dedent(text))
        except SyntaxError:
            pass
        m = _START.search(text)
        if m is None:
            raise ParseError("no PyTorch source in the answer (expected a class X(nn.Module) or nn.Sequential(...))")
        blocks = [text[m.start():]]
    body = [st for b in blocks for st in _parse_code(b, notes).body]
    return ast.Module(body=body, type_ignores=[])


# ---- small ast helpers ----------------------------------------------------------------------------------------------

def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _src(node: ast.AST) -> str:
    text = " ".join((ast.unparse(node).splitlines() or [""])[0].split())
    return text if len(text) <= 70 else text[:67] + "..."


def _unsafe(node: ast.AST) -> str | None:
    for n in ast.walk(node):
        name = _dotted(n.func) if isinstance(n, ast.Call) else None
        if name and name.split(".")[0] in _UNSAFE:
            return name
    return None


def _ignored(st: ast.stmt) -> str:
    bad = _unsafe(st)
    return f"ignored unsafe call {bad}(...)" if bad else f"ignored `{_src(st)}`"


def _is_doc(st: ast.stmt) -> bool:
    return isinstance(st, ast.Pass) or isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)


def _is_super_init(call: ast.Call) -> bool:
    f = call.func
    return isinstance(f, ast.Attribute) and f.attr == "__init__" and isinstance(f.value, ast.Call) \
        and _dotted(f.value.func) == "super"


class _Subst(ast.NodeTransformer):
    """Locals and `self.x` size attributes replaced by their expressions, so sizes use constructor parameters."""

    def __init__(self, env: dict[str, ast.expr]) -> None:
        self.env = env

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return copy.deepcopy(self.env[node.id]) if node.id in self.env else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        key = _dotted(node)
        return copy.deepcopy(self.env[key]) if key in self.env else self.generic_visit(node)


# ---- forward values -------------------------------------------------------------------------------------------------

class _V:
    """A tensor in forward: "in" (the input), "apply" (`nodes` applied to parts[0]), "add", "cat", or "if" (parts
    [yes, no] under `when`)."""

    def __init__(self, kind: str, parts: list[_V] = (), nodes: list = (), when: str | None = None) -> None:
        self.kind, self.parts, self.nodes, self.when = kind, list(parts), list(nodes), when
        self._parent: Any = self

    def parent(self) -> _V | None:
        if self._parent is self:  # memoized: a fork search walks the spines below it
            self._parent = None if self.kind == "in" else self.parts[0] if self.kind == "apply" else _fork(self.parts)
        return self._parent


def _spine(v: _V | None) -> list[_V]:
    out = []
    while v is not None:
        out.append(v)
        v = v.parent()
    return out


def _fork(parts: list[_V]) -> _V:
    """The latest tensor every part is computed from: where the branches split."""
    others = [{id(x) for x in _spine(p)} for p in parts[1:]]
    for v in _spine(parts[0]):
        if all(id(v) in o for o in others):
            return v
    raise _Refused("forward combines tensors that do not come from one input")


def _dump(nodes: list) -> list:
    return [n.model_dump() for n in nodes]


def _chain(v: _V, base: _V) -> list:
    """The nodes turning `base` into `v`."""
    out: list = []
    while v is not base:
        if v.kind == "in":
            raise _Refused("forward uses a tensor that does not come from its input")
        if v.kind == "apply":
            out[:0] = [n.model_copy(deep=True) for n in v.nodes]
            v = v.parts[0]
            continue
        fork = _fork(v.parts)
        branches = [_chain(p, fork) for p in v.parts]
        if v.kind == "add":
            body, short = sorted(branches, key=len, reverse=True)  # the longer branch is the body
            if not body:
                raise _Refused("forward adds a tensor to itself")
            out[:0] = [Residual(body=body, shortcut=short)]
        elif v.kind == "cat":
            out[:0] = [Concat(branches=branches)]
        else:  # `if c: return x + f(x) else: return f(x)`: a residual whose shortcut applies when c holds
            for (yes, no), when in (((branches[0], branches[1]), v.when), ((branches[1], branches[0]),
                                                                            f"not ({v.when})")):
                if yes and isinstance(yes[-1], Residual) and _dump(yes[:-1] + yes[-1].body) == _dump(no):
                    out[:0] = yes[:-1] + [yes[-1].model_copy(update={"when": expr.normalize(when)})]
                    break
            else:
                raise _Refused(f"`if {v.when}` in forward does more than switch a residual add on and off")
        v = fork
    return out


# ---- reading classes ------------------------------------------------------------------------------------------------

class _Scope:
    """What __init__ (or the module level) has defined so far."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.params: list[str] = []
        self.defaults: dict[str, Any] = {}
        self.derived: dict[str, str] = {}
        self.env: dict[str, ast.expr] = {}  # locals and `self.x` sizes/flags, as expressions over parameters
        self.lists: dict[str, list] = {}  # python lists of layers being built
        self.attrs: dict[str, list] = {}  # layer attributes -> their nodes
        self.other: dict[str, str] = {}  # attributes that are not layers -> their source
        self.seq: list | None = None  # an nn.Sequential subclass: the layers passed to super().__init__
        self.doc: str | None = None
        self.methods: dict[str, ast.FunctionDef] = {}
        self.used: set[str] = set()


class _Reader:
    def __init__(self, tree: ast.Module, notes: list[str]) -> None:
        self.notes = notes
        self.classes = {c.name for c in tree.body if isinstance(c, ast.ClassDef)}
        self.nn_roots, self.f_roots, self.bare = {"nn", "torch.nn"}, {"F", "torch", "nn.functional",
                                                                      "torch.nn.functional", "functional"}, set()
        for st in tree.body:  # aliases: `import torch.nn as tnn`, `from torch.nn import functional as F, Conv2d`
            if isinstance(st, (ast.Import, ast.ImportFrom)):
                for a in st.names:
                    full = f"{st.module}.{a.name}" if isinstance(st, ast.ImportFrom) else a.name
                    alias = a.asname or a.name
                    if full == "torch.nn":
                        self.nn_roots.add(alias)
                    elif full == "torch.nn.functional":
                        self.f_roots.add(alias)
                    elif isinstance(st, ast.ImportFrom) and st.module in ("torch.nn", "torch"):
                        self.bare.add(alias)

    # -- sizes and layers
    def value(self, node: ast.AST, scope: _Scope) -> Any:
        """A literal, or a size expression over the constructor's parameters (locals substituted)."""
        node = _Subst(scope.env).visit(copy.deepcopy(node))
        try:
            v = ast.literal_eval(node)
            return tuple(v) if isinstance(v, list) else v
        except (ValueError, TypeError, SyntaxError, RecursionError):
            pass
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self.value(e, scope) for e in node.elts)
        try:
            text = expr.normalize(ast.unparse(node))
            unknown = expr.names(text) - set(scope.params) - {"True", "False", "None", "int", "round", "min", "max"}
            if not expr.names(text):
                return expr.evaluate(text, {})
        except (ValueError, ArithmeticError, TypeError):
            raise _Refused(f"`{_src(node)}` is not a literal or a size expression") from None
        if unknown:
            raise _Refused(f"`{_src(node)}` uses {', '.join(sorted(unknown))}, not a constructor parameter")
        return text

    def ctor(self, func: ast.AST) -> str | None:
        """The layer or module a constructor call makes; None when the call constructs neither."""
        name = _dotted(func)
        if name is None:
            return None
        root, _, last = name.rpartition(".")
        if root in self.nn_roots:
            if last != "Sequential" and lookup(last) is None:
                raise _Refused(f"{name} is not a layer gptnet knows")
            return last
        if root or name in _UNSAFE:
            return None
        return name if name in self.classes or name in self.bare or name[:1].isupper() else None

    def layers(self, node: ast.AST, scope: _Scope, attr: str | None = None) -> list | None:
        """The layers an expression builds, or None when it builds none."""
        name = self.ctor(node.func) if isinstance(node, ast.Call) else None
        if name is None:
            return None
        if name == "Sequential":
            return self.items(node.args, scope)
        args = [self.value(a, scope) for a in node.args]
        kwargs, hit = {}, lookup(name)
        for k in node.keywords:
            if k.arg is None:
                raise _Refused(f"`{_src(node)}` passes **kwargs")
            try:
                kwargs[k.arg] = self.value(k.value, scope)
            except _Refused:
                if hit is None or KEYWORDS.get(k.arg, k.arg) in hit[0].model_fields:
                    raise
                kwargs[k.arg] = _src(k.value)  # an argument the layer does not have: make_node notes and drops it
        try:
            return [make_node(name, args, kwargs, attr=attr, notes=self.notes)]
        except BuildError as e:
            raise _Refused(str(e)) from None

    def need(self, node: ast.AST, scope: _Scope, attr: str | None = None) -> list:
        found = self.layers(node, scope, attr)
        if found is None:
            raise _Refused(f"`{_src(node)}` is not a layer")
        return found

    def items(self, args: list[ast.AST], scope: _Scope) -> list:
        """nn.Sequential's arguments: layers, `*layers`, nested Sequentials, an OrderedDict of named layers."""
        out = []
        for a in args:
            if isinstance(a, ast.Starred) and isinstance(a.value, ast.Name) and a.value.id in scope.lists:
                out += [n.model_copy(deep=True) for n in scope.lists[a.value.id]]
            elif isinstance(a, ast.Call) and (_dotted(a.func) or "").endswith("OrderedDict") and a.args \
                    and isinstance(a.args[0], (ast.List, ast.Tuple)):
                for item in a.args[0].elts:
                    if not (isinstance(item, ast.Tuple) and len(item.elts) == 2
                            and isinstance(item.elts[0], ast.Constant)):
                        raise _Refused(f"`{_src(item)}` is not a (name, layer) pair")
                    out += self.need(item.elts[1], scope, str(item.elts[0].value))
            else:
                out += self.need(a, scope)
        return out

    # -- __init__
    def read_init(self, scope: _Scope, fn: ast.FunctionDef) -> None:
        a = fn.args
        pos = a.posonlyargs + a.args
        scope.params = [x.arg for x in pos[1:] + a.kwonlyargs]
        given = dict(zip([x.arg for x in pos][len(pos) - len(a.defaults):], a.defaults))
        given.update({x.arg: d for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
        for p in scope.params:
            if p in given:
                try:
                    v = ast.literal_eval(given[p])
                    scope.defaults[p] = tuple(v) if isinstance(v, list) else v
                except (ValueError, TypeError, SyntaxError):
                    scope.defaults[p] = None
                    self.notes.append(f"{scope.name}: the default of {p} (`{_src(given[p])}`) is not a literal; "
                                      "taken as None")
        if a.vararg or a.kwarg:
            self.notes.append(f"{scope.name}.__init__: ignored *args/**kwargs")
        for st in fn.body:
            self.init_statement(scope, st)

    def init_statement(self, scope: _Scope, st: ast.stmt) -> None:
        where = f"{scope.name}.__init__"
        call = st.value if isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) else None
        if _is_doc(st):
            return
        if call is not None and _is_super_init(call):
            if call.args:  # class X(nn.Sequential): super().__init__(layer, layer, ...)
                scope.seq = self.items(call.args, scope)
            return
        if call is not None and isinstance(call.func, ast.Attribute) and len(call.args) == 1 \
                and _dotted(call.func.value) in scope.lists and call.func.attr in ("append", "extend"):
            items = call.args[0]
            scope.lists[call.func.value.id] += self.need(items, scope) if call.func.attr == "append" else \
                self.items(items.elts, scope) if isinstance(items, (ast.List, ast.Tuple)) else self.need(items, scope)
            return
        if call is not None and _dotted(call.func) == "self.add_module" and len(call.args) == 2 \
                and isinstance(call.args[0], ast.Constant):
            scope.attrs[str(call.args[0].value)] = self.need(call.args[1], scope, str(call.args[0].value))
            return
        if isinstance(st, ast.If) and self.derived(scope, st):
            return
        target = st.targets[0] if isinstance(st, ast.Assign) and len(st.targets) == 1 else \
            st.target if isinstance(st, ast.AnnAssign) and st.value is not None else None
        if isinstance(target, ast.Name):
            if isinstance(st.value, ast.List) and (not st.value.elts or isinstance(st.value.elts[0], ast.Call)):
                scope.lists[target.id] = self.items(st.value.elts, scope)
                return
            try:
                self.value(st.value, scope)
                scope.env[target.id] = _Subst(scope.env).visit(copy.deepcopy(st.value))
            except _Refused:
                scope.env.pop(target.id, None)  # a later size that uses it is refused as an unknown name
                self.notes.append(f"{where}: {_ignored(st)}")
            return
        if isinstance(target, ast.Attribute) and _dotted(target.value) == "self":
            try:
                found = self.layers(st.value, scope, attr=target.attr)
            except _Refused as e:  # e.g. self.loss = nn.CrossEntropyLoss(): refused only if forward calls it
                call = _dotted(st.value.func) if isinstance(st.value, ast.Call) else None
                root, _, last = (call or "").rpartition(".")
                if root not in self.nn_roots or lookup(last) or last == "Sequential":
                    raise
                scope.other[target.attr] = _src(st.value)
                self.notes.append(f"{where}: ignored `{_src(st)}`: {e}")
                return
            if found is not None:
                scope.attrs[target.attr] = found
                scope.env.pop(f"self.{target.attr}", None)
                return
            try:
                self.value(st.value, scope)
                scope.env[f"self.{target.attr}"] = _Subst(scope.env).visit(copy.deepcopy(st.value))
            except _Refused:
                scope.other[target.attr] = _src(st.value)
                self.notes.append(f"{where}: {_ignored(st)}")
            return
        if isinstance(st, ast.AugAssign) and isinstance(st.op, ast.Add) and isinstance(st.target, ast.Name) \
                and st.target.id in scope.lists and isinstance(st.value, (ast.List, ast.Tuple)):
            scope.lists[st.target.id] += self.items(st.value.elts, scope)
            return
        if isinstance(st, (ast.If, ast.For, ast.While, ast.With, ast.Try)) and any(
                isinstance(n, ast.Attribute) and _dotted(n.value) == "self" and isinstance(n.ctx, ast.Store)
                or isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                and n.func.attr in ("append", "extend", "add_module", "insert") for n in ast.walk(st)):
            raise _Refused(f"__init__ builds layers under `{_src(st)}`; a spec has no conditional or looped layers "
                           "(write each layer out, in one nn.Sequential)")
        self.notes.append(f"{where}: {_ignored(st)}")

    def derived(self, scope: _Scope, st: ast.If) -> bool:
        """`if groups is None: groups = in_channels`: a parameter computed at bind time, never substituted."""
        t, body = st.test, st.body
        if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], (ast.Is, ast.Eq))
                and isinstance(t.left, ast.Name) and t.left.id in scope.params
                and isinstance(t.comparators[0], ast.Constant) and t.comparators[0].value is None
                and not st.orelse and len(body) == 1 and isinstance(body[0], ast.Assign)
                and [_dotted(x) for x in body[0].targets] == [t.left.id]):
            return False
        v = self.value(body[0].value, scope)
        scope.derived[t.left.id] = v if isinstance(v, str) else repr(v)
        scope.defaults.setdefault(t.left.id, None)
        return True

    # -- forward
    def trace(self, scope: _Scope, fn: ast.FunctionDef, inputs: list[_V], depth: int = 0) -> _V:
        names = [a.arg for a in fn.args.args[1:]]
        if len(names) != len(inputs) or fn.args.vararg:
            raise _Refused(f"{fn.name} takes {len(names)} tensors; gptnet follows one input")
        out = self.block(scope, fn.body, dict(zip(names, inputs)), depth)
        if out is None:
            raise _Refused(f"{fn.name} returns nothing")
        return out

    def block(self, scope: _Scope, body: list[ast.stmt], env: dict[str, _V], depth: int) -> _V | None:
        for i, st in enumerate(body):
            if _is_doc(st):
                continue
            if isinstance(st, ast.Return) and st.value is not None:
                return self.eval(scope, st.value, env, depth)
            if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
                env[st.targets[0].id] = self.eval(scope, st.value, env, depth)
            elif isinstance(st, ast.AugAssign) and isinstance(st.op, ast.Add) and isinstance(st.target, ast.Name) \
                    and st.target.id in env:
                env[st.target.id] = _V("add", [env[st.target.id], self.eval(scope, st.value, env, depth)])
            elif isinstance(st, ast.If) and not _unsafe(st.test):
                when = self.value(st.test, scope)  # a flag over constructor parameters, e.g. self.use_res_connect
                when = when if isinstance(when, str) else repr(when)
                yes_env, no_env = dict(env), dict(env)
                yes, no = self.block(scope, st.body, yes_env, depth), self.block(scope, st.orelse, no_env, depth)
                if yes is None and no is None:  # `if c: out = out + x`: each changed name becomes an if-value
                    for k in yes_env.keys() | no_env.keys():
                        a, b = yes_env.get(k), no_env.get(k)
                        env[k] = _V("if", [a, b], when=when) if a is not None and b is not None and a is not b \
                            else a or b
                    continue
                yes = yes or self.block(scope, body[i + 1:], yes_env, depth)  # `if c: return a` then `return b`
                no = no or self.block(scope, body[i + 1:], no_env, depth)
                if yes is None or no is None:
                    raise _Refused(f"only one branch of `{_src(st)}` returns")
                return _V("if", [yes, no], when=when)
            else:
                raise _Refused(f"forward statement `{_src(st)}` is not a layer call, add or concat")
        return None

    def eval(self, scope: _Scope, node: ast.AST, env: dict[str, _V], depth: int) -> _V:
        if isinstance(node, ast.Name) and node.id in env:
            return env[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return _V("add", [self.eval(scope, node.left, env, depth), self.eval(scope, node.right, env, depth)])
        if not isinstance(node, ast.Call) or _unsafe(node):
            raise _Refused(f"forward cannot follow `{_src(node)}`")
        f, args = node.func, node.args
        name = _dotted(f) or ""
        root, _, last = name.rpartition(".")

        def one() -> _V:  # the single tensor argument of a layer call
            if len(args) != 1 or node.keywords:
                raise _Refused(f"forward calls `{_src(node)}` with other than one tensor")
            return self.eval(scope, args[0], env, depth)

        if root == "self":
            if last in scope.attrs:
                scope.used.add(last)
                return _V("apply", [one()], scope.attrs[last])
            if last in scope.methods and last not in ("__init__", "forward") and depth < 4:  # a forward helper
                return self.trace(scope, scope.methods[last], [self.eval(scope, a, env, depth) for a in args],
                                  depth + 1)
            built = f" (it is `{scope.other[last]}`)" if last in scope.other else ""
            raise _Refused(f"forward calls self.{last}, which __init__ does not build as a layer{built}")
        if name in ("torch.cat", "torch.concat"):
            dim = args[1] if len(args) > 1 else next((k.value for k in node.keywords if k.arg in ("dim", "axis")), None)
            if not args or not isinstance(args[0], (ast.List, ast.Tuple)) or dim is None or _src(dim) not in ("1", "-3"):
                raise _Refused(f"`{_src(node)}` is not a channel concat (torch.cat([...], 1))")
            return _V("cat", [self.eval(scope, e, env, depth) for e in args[0].elts])
        if name == "torch.add" and len(args) == 2:
            return _V("add", [self.eval(scope, a, env, depth) for a in args])
        if root in self.f_roots and last in _FUNCTIONAL and args:
            data, rest = self.eval(scope, args[0], env, depth), args[1:]
            kwargs = {k.arg: k.value for k in node.keywords if k.arg not in ("training", "input", None)}
            kind = _FUNCTIONAL[last]
            if kind == "Flatten":
                rest, kwargs = [], {}
            elif kind in ("AvgPool2d", "MaxPool2d") and any(isinstance(n, ast.Name) and n.id in env
                                                            for a in rest for n in ast.walk(a)):
                kind, rest, kwargs = f"Adaptive{kind}", [], {}  # a window as large as the map: a global pool
            elif kind == "Dropout":
                rest = rest[:1]
            layer = self.make(kind, [self.value(a, scope) for a in rest],
                              {k: self.value(v, scope) for k, v in kwargs.items()})
            return _V("apply", [data], [layer])
        if isinstance(f, ast.Attribute) and (f.attr in _RESHAPES or f.attr == "contiguous" or f.attr in _FUNCTIONAL):
            src = self.eval(scope, f.value, env, depth)  # a tensor method: x.view(x.size(0), -1), x.relu()
            if f.attr == "contiguous":
                return src
            return _V("apply", [src], [Flatten() if f.attr in _RESHAPES else self.make(_FUNCTIONAL[f.attr], [], {})])
        raise _Refused(f"forward cannot follow `{_src(node)}`")

    def make(self, kind: str, args: list, kwargs: dict) -> Any:
        try:
            return make_node(kind, args, kwargs, notes=self.notes)
        except BuildError as e:
            raise _Refused(str(e)) from None

    def read_class(self, node: ast.ClassDef) -> tuple[_Scope, list]:
        scope = _Scope(node.name)
        scope.doc = ast.get_docstring(node)
        scope.methods = {f.name: f for f in node.body if isinstance(f, ast.FunctionDef)}
        if "__init__" in scope.methods:
            self.read_init(scope, scope.methods["__init__"])
        forward = scope.methods.get("forward")
        if scope.seq is not None:  # an nn.Sequential subclass runs its layers in order
            return scope, scope.seq
        if forward is None:  # no forward: the layers in the order __init__ builds them
            if not scope.attrs:
                raise _Refused("it builds no layers")
            return scope, [n.model_copy(deep=True) for nodes in scope.attrs.values() for n in nodes]
        inp = _V("in")
        chain = _chain(self.trace(scope, forward, [inp]), inp)
        if not chain:
            raise _Refused("forward applies no layer")
        for attr in scope.attrs.keys() - scope.used:
            self.notes.append(f"{scope.name}: self.{attr} is built in __init__ but never used in forward; left out")
        return scope, chain


# ---- assembling the answer ------------------------------------------------------------------------------------------

def _calls(nodes: list) -> set[str]:
    out = set()
    for n in nodes:
        if isinstance(n, Call):
            out.add(n.module)
        elif isinstance(n, Residual):
            out |= _calls(n.body) | _calls(n.shortcut)
        elif isinstance(n, Concat):
            out |= {m for b in n.branches for m in _calls(b)}
    return out


def _concrete(nodes: list, env: dict[str, Any], where: str, notes: list[str]) -> list:
    """A model's nodes with its constructor defaults put in; a size needing a required parameter is left None."""
    def val(v: Any) -> Any:
        if isinstance(v, tuple):
            return tuple(val(x) for x in v)
        if not isinstance(v, str):
            return v
        try:
            return expr.evaluate(v, env)
        except expr.ExprError:
            return v
        except Exception:  # None from a required parameter in arithmetic
            notes.append(f"{where}: `{v}` needs a parameter without a default; left for the validators")
            return None

    out = []
    for n in nodes:
        if isinstance(n, Residual):
            when = None if n.when is None else bool(val(n.when))
            if when is False:
                out += _concrete(n.body, env, where, notes)
                continue
            out.append(n.model_copy(update={"body": _concrete(n.body, env, where, notes), "when": None,
                                            "shortcut": _concrete(n.shortcut, env, where, notes)}))
        elif isinstance(n, Concat):
            out.append(n.model_copy(update={"branches": [_concrete(b, env, where, notes) for b in n.branches]}))
        elif isinstance(n, Call):
            out.append(n.model_copy(update={"args": [val(a) for a in n.args],
                                            "kwargs": {k: val(v) for k, v in n.kwargs.items()}}))
        else:
            out.append(n.model_copy(update={k: val(v) for k, v in n.args().items()}))
    return out


def parse_python(text: str) -> ParsedAnswer:
    notes: list[str] = []
    tree = _code(text, notes)
    reader = _Reader(tree, notes)
    top = _Scope("module level")
    items: list[tuple[str, Any, list]] = []  # ("class", scope, chain) / ("seq", variable name, layers), in order
    errors: list[str] = []
    for st in tree.body:
        if isinstance(st, ast.ClassDef) and any((_dotted(b) or "").endswith(("Module", "Sequential"))
                                                for b in st.bases):
            try:
                items.append(("class", *reader.read_class(st)))
            except _Refused as e:
                errors.append(f"class {st.name} refused: {e}")
        elif isinstance(st, (ast.Assign, ast.Expr)) and isinstance(st.value, ast.Call):
            name = _dotted(st.targets[0]) if isinstance(st, ast.Assign) and len(st.targets) == 1 else None
            try:
                if (_dotted(st.value.func) or "").rpartition(".")[2] == "Sequential":
                    items.append(("seq", name, reader.need(st.value, top)))
                elif _unsafe(st):
                    notes.append(f"module level: {_ignored(st)}")
            except _Refused as e:
                errors.append(f"nn.Sequential {name or ''} refused: {e}".replace("  ", " "))
        elif isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            try:  # module-level constants (NUM_CLASSES = 10) used by a module-level nn.Sequential
                top.env[st.targets[0].id] = ast.Constant(reader.value(st.value, _Scope("")))
            except (_Refused, TypeError):
                pass
        elif not isinstance(st, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) and _unsafe(st):
            notes.append(f"module level: {_ignored(st)}")
    notes += errors
    used = {m for kind, owner, chain in items for m in _calls(chain) - ({owner.name} if kind == "class" else set())}
    answer = ParsedAnswer(form="python", notes=notes)
    generated: list[ModuleSpec] = []
    for kind, owner, chain in items:
        if kind == "seq":
            answer.models.append(Candidate(name=owner, layers=chain))
            continue
        required = [p for p in owner.params if p not in owner.defaults and p not in owner.derived]
        whole = all(_NUM_CLASSES.match(p) for p in required) or bool(chain) and isinstance(chain[-1], Linear)
        if owner.name in used or not whole or not chain:
            answer.modules.append(ModuleSpec(name=owner.name, params=owner.params, defaults=owner.defaults,
                                             derived=owner.derived, body=chain, doc=owner.doc))
            continue
        env = {p: owner.defaults.get(p) for p in owner.params}
        for p, text in owner.derived.items():
            try:
                env[p] = expr.evaluate(text, env) if env.get(p) is None else env[p]
            except Exception:  # it needs a required parameter
                env[p] = None
        layers = []
        for node in _concrete(chain, env, owner.name, notes):
            if isinstance(node, (Residual, Concat)):  # a top-level add/concat becomes a generated module
                block = f"{owner.name}Block{len(generated) + 1}"
                generated.append(ModuleSpec(name=block, body=[node], doc=f"the {node.op} in {owner.name}.forward"))
                notes.append(f"{owner.name}: the top-level {node.op} in forward is module {block}")
                node = Call(module=block, name=block.lower())
            layers.append(node)
        answer.models.append(Candidate(name=owner.name, layers=layers))
    answer.modules += generated
    if not answer.models and not answer.modules:
        raise ParseError("; ".join(errors) or "no nn.Module class or nn.Sequential model in the PyTorch source")
    return answer
