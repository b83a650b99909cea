"""PyTorch source in an answer (`class X(nn.Module)` with `__init__`/`forward`, or `nn.Sequential(...)`), read with
`ast` only: never executed, imported or evaluated.

`__init__` gives the layers (`self.conv = nn.Conv2d(...)`, `nn.Sequential(...)` of layers or of an OrderedDict of
named ones, `add_module`, nn.ModuleList, a list built with append/extend, another class); loops over literal ranges
and lists, comprehensions over them and conditions on numbers are written out, as torch would run them. Sizes that
use constructor parameters or locals become size expressions (`spec/expr.py` whitelists them). `forward` is traced
symbolically: a value is the input, layers applied to a value, a sum, a concat or an `if` of two values (a loop
over a layer container or a literal range written out), and the graph is rebuilt as a chain with residual adds and
concats. A statement in `__init__` that is not a layer (e.g. `os.system(...)`) is ignored and noted; layers built
under another condition or loop (`range(n)` of a parameter), or a forward statement that cannot be followed,
refuse the class with the reason.

This symbolic reader keeps a module's constructor parameters, which stage module:X wants. A whole program (one
that constructs its model, or whose classes this reader refuses) is built instead by the evaluator in `pyeval/`,
with the concrete arguments of each call; `parse_python` chooses."""

from __future__ import annotations

import ast
import copy
import re
import textwrap
from typing import Any

from .. import limits
from ..spec import expr
from ..spec.graph import Call, Concat, Gate, ModuleSpec, Residual, branches
from ..spec.layers import AdaptiveAvgPool2d, Flatten, Linear, check_identifier
from ..spec.registry import lookup
from .answer import Candidate, ParsedAnswer, ParseError
from .construction import construction
from .build import KEYWORDS, BuildError, make_node
from .pyeval.builtins import UNSAFE
from .pyeval.forward import FUNCTIONAL
from .pyeval.messages import Refused as _Refused
from .pyeval.program import NUM_CLASSES, has_head, lift_graph, read_program, unbuilt
from .pyeval.tensors import Chainer
from .pyeval.tensors import Tensor as _V
from .source import read_source

_LOOKS = re.compile(r"\bclass\s+\w+\s*\(\s*[\w.]*(?:Module|Sequential)\s*\)|\bnn\.Sequential\s*\(|"
                    r"\bdef\s+forward\s*\(\s*self\b")
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*(?:\n|\Z)(.*?)(?:```|\Z)", re.S)
_START = re.compile(r"(?m)^[ \t]*(?:import|from|class)\b|(?<![\w.])(?:import\s+torch|from\s+torch|class\s+\w+\s*\()"
                    r"|^.*\bnn\.Sequential\s*\(")
_RESHAPES = {"view", "reshape", "flatten", "squeeze"}
_SAME = {"contiguous", "expand_as"}  # tensor methods that leave the values as they are (a gate broadcasts anyway)
_EXPR_FUNCS = {"True", "False", "None", "int", "round", "min", "max"}


def looks_like_python(text: str) -> bool:
    return bool(_LOOKS.search(text))


# ---- getting code out of the answer ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"""(?P<s>[rRbBuUfF]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"(?:\\.|[^"\\\n])*"|"""
                    r"""'(?:\\.|[^'\\\n])*'))|(?P<c>#[^\n]*)|(?P<w>\s+)|(?P<n>[^\W\d]\w*)"""
                    r"|(?P<d>\d[\w.]*(?:(?<=[eE])[-+]\d+)?)|(?P<o>\*\*=?|//=?|->|<<=?|>>=?|\.\.\.|[-+*/%&|^<>!=:]=|\S)")
_HEADERS = {"class", "def", "if", "elif", "else", "for", "while", "with", "try", "except", "finally"}
_STMT_KW = _HEADERS | {"return", "pass", "break", "continue", "raise", "assert", "del", "import", "from", "global"}
_OP_KW = _STMT_KW | {"and", "or", "not", "in", "is", "as", "lambda", "await", "yield"}


def _if_statements(toks: list[tuple[str, str]]) -> set[int]:
    """The `if` tokens that open a statement: `a if b else c` is an expression, `if b: ...` a statement, told apart
    by which comes first at the `if`'s bracket depth, `:` or `else`. One pass from the right, not a scan per `if`."""
    depth, levels = 0, []
    for _, v in toks:
        levels.append(depth)
        depth += (v in "([{") - (v in ")]}")
    found, nearest = set(), {}  # bracket depth -> the nearest `:` or `else` at it, right of the current token
    for i in range(len(toks) - 1, -1, -1):
        v = toks[i][1]
        if v == "if" and nearest.get(levels[i]) == ":":
            found.add(i)
        if v in (":", "else"):
            nearest[levels[i]] = v
    return found


def _starts(toks: list[tuple[str, str]], i: int, stmt: list[str], prev: tuple[str, str], ifs: set[int]) -> bool:
    """Does token i (at paren depth 0) start a new statement of squashed code?"""
    kind, val = toks[i]
    if val == "if":
        return i in ifs
    if val == "else":
        return i + 1 < len(toks) and toks[i + 1][1] == ":"
    if kind == "n" and val in _STMT_KW:
        return not (val == "import" and stmt[0] == "from")
    ends_operand = prev[0] in "sd" or (prev[0] == "n" and prev[1] not in _OP_KW) or prev[1] in ")]}"
    return kind in "nds" and val not in _OP_KW and ends_operand and not (kind == prev[0] == "s")


def _reflow(code: str) -> list[str]:
    """Code squashed onto one line (the article's answer is): statements split at paren depth 0 (a keyword, the end
    of a block header, two operands with no operator between), then re-indented: methods inside the last class, the
    body of an `if`/`for` inside a method is the one statement after it."""
    toks = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(code) if m.lastgroup not in "wc"]
    ifs = _if_statements(toks)
    stmts: list[list[str]] = []
    depth, prev, header_end, colon = 0, ("o", ";"), False, False
    for i, (kind, val) in enumerate(toks):
        if not stmts or depth == 0 and (header_end or prev[1] == ";" or _starts(toks, i, stmts[-1], prev, ifs)):
            stmts.append([])
            colon = False
        prev = (kind, val)
        if val != ";":
            stmts[-1].append(val)
        depth = max(depth + (val in "([{") - (val in ")]}"), 0)
        # the first colon at depth 0 of a class/def/if/... ends its header: the body starts a new statement
        header_end = depth == 0 and val == ":" and not colon and stmts[-1][0] in _HEADERS
        colon = colon or depth == 0 and val == ":"
    lines, level, base, in_class, single, headers = [], 0, 0, False, False, []
    for words in filter(None, stmts):  # a `;` alone makes an empty statement
        kw, lvl = words[0], level
        if kw == "class":
            lvl, level, base, in_class = 0, 1, 1, True
        elif kw == "def":
            lvl = int(in_class)
            level = base = lvl + 1
        elif kw in ("import", "from"):
            lvl = level = base = 0
            in_class = False
        elif kw in _HEADERS:
            lvl = headers[-1] if kw in ("else", "elif", "except", "finally") and headers else level
            headers.append(lvl)
            level, single = lvl + 1, True
        elif single:
            level, single = base, False
        lines.append("    " * lvl + " ".join(words))
    return lines


def _parse_code(code: str, notes: list[str]) -> tuple[ast.Module, list[str]]:
    """The code as a module, as written, else with trailing prose cut off, else re-flowed from one line; and the
    lines it was read from."""
    code = textwrap.dedent(code.replace("\t", "    ")).strip("\n")
    error: SyntaxError | None = None
    for lines in (code.splitlines(), _reflow(code)):
        cut, shortest = len(lines), max(len(lines) - 12, 0)
        while cut > shortest:
            try:
                tree = read_source("\n".join(lines[:cut]))
            except SyntaxError as e:
                error = error or e
                cut = min(cut, e.lineno or cut) - 1  # any longer cut keeps the line that fails
                continue
            if cut < len(lines):
                notes.append(f"ignored {len(lines) - cut} trailing line(s) that are not Python")
            return tree, lines
    raise ParseError(f"the PyTorch source in the answer does not parse as Python ({error.msg}, line {error.lineno})")


INTRO_CHARS = 600  # of the prose and comments before a statement kept as its introduction


def _intros(tree: ast.Module, lines: list[str], before: str) -> list[str]:
    """Per top-level statement, the words that introduce it: the comments above it, and for a block's first
    statement the prose before the block ("Option B (recommended):")."""
    out, end = [], 0
    for st in tree.body:
        comments = "\n".join(line.strip() for line in lines[end:st.lineno - 1] if line.strip().startswith("#"))
        out.append((before + "\n" if end == 0 else "") + comments[-INTRO_CHARS:])
        end = st.end_lineno or st.lineno
    return out


def _code(text: str, notes: list[str]) -> tuple[ast.Module, list[str]]:
    """Fenced Python blocks; else the whole answer if it is code; else the text from the first import/class. With
    each statement's introduction (`_intros`)."""
    blocks, end = [], 0  # (the prose since the block before, the code)
    for m in _FENCE.finditer(text):
        if m.group(1).lower() in ("", "python", "py", "python3", "pytorch") and (
                looks_like_python(m.group(2)) or re.search(r"^[ \t]*(import|from|class)\b", m.group(2), re.M)):
            blocks.append((text[max(end, m.start() - INTRO_CHARS):m.start()], m.group(2)))
        end = m.end()
    if not blocks:
        try:
            tree = read_source(textwrap.dedent(text))
            return tree, [""] * len(tree.body)
        except SyntaxError:
            pass
        m = _START.search(text)
        if m is None:
            raise ParseError("no PyTorch source in the answer (expected a class X(nn.Module) or nn.Sequential(...))")
        blocks = [(text[max(0, m.start() - INTRO_CHARS):m.start()], text[m.start():])]
    body, intros = [], []
    for before, code in blocks:
        tree, lines = _parse_code(code, notes)
        body += tree.body
        intros += _intros(tree, lines, before)
    return ast.Module(body=body, type_ignores=[]), intros


# ---- small ast helpers ----------------------------------------------------------------------------------------------

def _dotted(node: ast.AST) -> str:
    """`torch.nn.Conv2d` for an attribute chain on a name, "" for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


def _src(node: ast.AST) -> str:
    text = " ".join((ast.unparse(node).splitlines() or [""])[0].split())
    return text if len(text) <= 70 else text[:67] + "..."


def _unsafe(node: ast.AST) -> str | None:
    calls = [_dotted(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)]
    return next((c for c in calls if c.split(".")[0] in UNSAFE), None)


def _ignored(st: ast.stmt) -> str:
    bad = _unsafe(st)
    return f"ignored unsafe call {bad}(...)" if bad else f"ignored `{_src(st)}`"


def _is_doc(st: ast.stmt) -> bool:
    return isinstance(st, ast.Pass) or isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant)


def _small(node: ast.AST) -> bool:
    """Small enough to keep for substitution (each use copies it): as large as a size expression may be."""
    return sum(1 for _ in ast.walk(node)) <= limits.MAX_EXPR_NODES


def _attr(key: Any) -> str | None:
    """A layer's name from the answer (an OrderedDict key, an add_module name) when it is one gptnet may use;
    otherwise the renderer names it."""
    try:
        return check_identifier(key) if isinstance(key, str) and key.isidentifier() else None
    except ValueError:
        return None


def _constant(value: Any) -> ast.expr:
    """A literal value as an expression to substitute (a loop variable's value)."""
    if isinstance(value, tuple):
        return ast.Tuple(elts=[_constant(v) for v in value], ctx=ast.Load())
    return ast.Constant(value)


def _literal(node: ast.AST) -> Any:
    v = ast.literal_eval(node)  # raises ValueError (or TypeError, SyntaxError) on anything but a literal
    return tuple(v) if isinstance(v, list) else v


class _Subst(ast.NodeTransformer):
    """Locals and `self.x` size attributes replaced by their expressions, so sizes use constructor parameters."""

    def __init__(self, env: dict[str, ast.expr]) -> None:
        self.env = env

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return copy.deepcopy(self.env.get(node.id, node))

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        key = _dotted(node)
        return copy.deepcopy(self.env[key]) if key in self.env else self.generic_visit(node)


# ---- forward: values and the chain they make ------------------------------------------------------------------------

class _Item:
    """A loop variable bound to one item of a layer container in forward: `for block in self.blocks`."""

    def __init__(self, nodes: list) -> None:
        self.nodes = nodes


# ---- reading classes ------------------------------------------------------------------------------------------------

class _Scope:
    """What a class's __init__ (or the module level) defines."""

    def __init__(self, name: str, node: ast.ClassDef | None = None) -> None:
        self.name, self.params, self.defaults, self.derived = name, [], {}, {}
        self.env: dict[str, ast.expr] = {}  # locals and `self.x` sizes/flags, as expressions over parameters
        self.lists: dict[str, list[list]] = {}  # python lists of layers being built: the nodes of each item
        self.attrs: dict[str, list] = {}  # layer attributes -> their nodes
        self.groups: dict[str, list[list]] = {}  # the attributes a forward loop may iterate -> the nodes per item
        self.other: dict[str, str] = {}  # attributes that are not layers -> their source
        self.seq: list | None = None  # an nn.Sequential subclass: the layers given to super().__init__
        self.used: set[str] = set()
        self.doc = ast.get_docstring(node) if node else None
        self.methods = {f.name: f for f in node.body if isinstance(f, ast.FunctionDef)} if node else {}


class _Reader(Chainer):
    def __init__(self, tree: ast.Module, notes: list[str]) -> None:
        self.notes = notes
        self.room = limits.MAX_EXPANDED  # layers the source may still build or copy
        self.iterations = 0  # of loops written out
        self.steps = 0  # of following the forward being traced
        self.classes = {c.name for c in tree.body if isinstance(c, ast.ClassDef)}
        self.functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}  # helpers: conv_bn(...)
        self.inlining = 0  # helpers being followed, inside one another
        self.nn, self.functional, self.bare = {"nn", "torch.nn"}, {"F", "torch", "nn.functional",
                                                                    "torch.nn.functional"}, set()
        for st in tree.body:  # aliases: `import torch.nn as tnn`, `from torch.nn import functional as F, Conv2d`
            for a in st.names if isinstance(st, (ast.Import, ast.ImportFrom)) else []:
                full = f"{st.module}.{a.name}" if isinstance(st, ast.ImportFrom) else a.name
                (self.nn if full == "torch.nn" else self.functional if full == "torch.nn.functional" else
                 self.bare if isinstance(st, ast.ImportFrom) and st.module in ("torch", "torch.nn") else set()
                 ).add(a.asname or a.name)

    def spend(self, layers: int) -> None:
        """Every layer built or copied counts, so that a list used in many places or branches that share layers
        cannot multiply past MAX_EXPANDED."""
        self.room -= layers
        if self.room < 0:
            raise ParseError(f"the PyTorch source builds more than {limits.MAX_EXPANDED:,} layers, copies "
                             "included (MAX_EXPANDED)")

    # -- sizes and layers
    def value(self, node: ast.AST, scope: _Scope) -> Any:
        """A literal, or a size expression over the constructor's parameters (locals substituted; a conditional
        on numbers, `2 if i > 0 else 1` in a loop, decided; an item of a literal list taken)."""
        node = _Subst(scope.env).visit(copy.deepcopy(node))
        if isinstance(node, ast.IfExp) and not isinstance(when := self.value(node.test, scope), str):
            return self.value(node.body if when else node.orelse, scope)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)) and \
                any(isinstance(n, (ast.List, ast.Tuple)) for n in (node.left, node.right)):  # [s] + [1] * (n - 1)
            left, right = self.value(node.left, scope), self.value(node.right, scope)
            if isinstance(node.op, ast.Add) and isinstance(left, tuple) and isinstance(right, tuple):
                return left + right
            times, items = (right, left) if isinstance(left, tuple) else (left, right)
            if isinstance(node.op, ast.Mult) and isinstance(items, tuple) and isinstance(times, int) and \
                    len(items) * max(times, 0) <= limits.MAX_EXPANDED:
                return items * times
        if isinstance(node, ast.Subscript):  # widths[0] of a literal list
            items, index = self.value(node.value, scope), self.value(node.slice, scope)
            if isinstance(items, tuple) and isinstance(index, int) and -len(items) <= index < len(items):
                return items[index]
        try:
            return _literal(node)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            if isinstance(node, (ast.Tuple, ast.List)):
                return tuple(self.value(e, scope) for e in node.elts)
        try:
            text = expr.normalize(ast.unparse(node))
            unknown = expr.names(text) - set(scope.params) - _EXPR_FUNCS
            if not expr.names(text) - _EXPR_FUNCS:
                return expr.evaluate(text, {})
        except (ValueError, ArithmeticError, TypeError):
            raise _Refused(f"`{_src(node)}` is not a literal or a size expression") from None
        if unknown:
            why = "; ".join(f"{n} = `{scope.other[n]}` is not a size expression" for n in unknown & scope.other.keys())
            raise _Refused(f"`{_src(node)}` uses {', '.join(sorted(unknown))}: "
                           + (why or "not a constructor parameter"))
        return text

    def ctor(self, func: ast.AST) -> str | None:
        """The layer or module a constructor call makes; None when the call constructs neither."""
        root, _, last = _dotted(func).rpartition(".")
        if root in self.nn:
            if last not in ("Sequential", "ModuleList") and lookup(last) is None:
                raise _Refused(f"{root}.{last} is not a layer gptnet knows")
            return last
        if root or not last or last in UNSAFE:
            return None
        return last if last in self.classes or last in self.bare or last[:1].isupper() else None

    def layers(self, node: ast.AST, scope: _Scope, attr: str | None = None, need: bool = True) -> list | None:
        """The layers an expression builds, in order; None, or refused if `need`, when it builds none."""
        groups = self.groups(node, scope, attr, need)
        return None if groups is None else [n for g in groups for n in g]

    def groups(self, node: ast.AST, scope: _Scope, attr: str | None = None, need: bool = True) -> list[list] | None:
        """The layers an expression builds, as the items a forward loop would iterate: a layer or module call is
        one; an nn.Sequential or nn.ModuleList one per argument or item, a list built before, a list or a
        comprehension over a literal range one per item. None, or refused if `need`, when it builds none."""
        if isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[0], ast.Constant):
            return self.groups(node.elts[1], scope, _attr(node.elts[0].value), need)  # ("conv1", nn.Conv2d(...))
        if isinstance(node, ast.Starred):
            return self.groups(node.value, scope, attr, need)
        if isinstance(node, ast.Name) and node.id in scope.lists:
            return self.copies(scope.lists[node.id])
        if isinstance(node, (ast.List, ast.ListComp, ast.GeneratorExp)):
            found = [self.layers(e, scope, need=need) for e in self.elements(node, scope)]
            return None if None in found else found
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                isinstance(scope.env.get(node.func.id), ast.Name):  # block(c, c) with block = BasicBlock passed in
            node = ast.Call(func=scope.env[node.func.id], args=node.args, keywords=node.keywords)
        helper = self.helper(node, scope) if isinstance(node, ast.Call) else None
        if helper is not None:
            return self.inline(*helper, node, scope)
        name = self.ctor(node.func) if isinstance(node, ast.Call) else None
        if name is None and need:
            raise _Refused(f"`{_src(node)}` is not a layer")
        if name is None:
            return None
        if name == "Sequential":
            return self.items(node.args, scope)
        if name == "ModuleList":
            if len(node.args) > 1 or node.keywords:
                raise _Refused(f"`{_src(node)}` is not nn.ModuleList(<list of layers>)")
            return self.groups(node.args[0], scope) if node.args else []
        args, kwargs, hit = [self.value(a, scope) for a in node.args], {}, lookup(name)
        for k in node.keywords:
            if k.arg is None:
                raise _Refused(f"`{_src(node)}` passes **kwargs")
            try:
                kwargs[k.arg] = self.value(k.value, scope)
            except _Refused:  # an argument the layer does not have (norm_layer=...): make_node notes and drops it
                if hit is None or KEYWORDS.get(k.arg, k.arg) in hit[0].model_fields:
                    raise
                kwargs[k.arg] = _src(k.value)
        return [[self.make(name, args, kwargs, attr)]]

    def helper(self, call: ast.Call, scope: _Scope) -> tuple[ast.FunctionDef, bool] | None:
        """The function a call runs to build layers, and whether it is a method: `self._make_layer(...)`, or a
        module-level `conv_bn(...)` (MobileNet's style)."""
        name = _dotted(call.func)
        if name.startswith("self.") and name[5:] in scope.methods and name[5:] not in ("__init__", "forward"):
            return scope.methods[name[5:]], True
        return (self.functions[name], False) if name in self.functions else None

    def inline(self, fn: ast.FunctionDef, method: bool, call: ast.Call, scope: _Scope) -> list[list]:
        """What a helper returns, its statements run as __init__'s are, with its parameters bound to the call's
        arguments: the layers, written out. What it sets on self stays; its locals do not."""
        a = fn.args
        names = [x.arg for x in a.posonlyargs + a.args][int(method):]
        if self.inlining >= limits.MAX_NESTING or a.vararg or a.kwarg or len(call.args) > len(names):
            raise _Refused(f"`{_src(call)}` calls {fn.name} in a way gptnet does not follow (*args, **kwargs, or "
                           f"helpers more than {limits.MAX_NESTING} deep)")
        given = {**dict(zip(names, call.args)), **{k.arg: k.value for k in call.keywords if k.arg}}
        given = {**dict(zip(names[len(names) - len(a.defaults):], a.defaults)), **given}
        if set(names) - given.keys() or given.keys() - set(names):
            raise _Refused(f"`{_src(call)}` does not match {fn.name}({', '.join(names)})")
        bound = {n: _Subst(scope.env).visit(copy.deepcopy(v)) for n, v in given.items()}
        if not all(map(_small, bound.values())):
            raise _Refused(f"`{_src(call)}` passes an argument larger than a size expression may be")
        saved, scope.env, scope.lists = (scope.env, scope.lists), {**scope.env, **bound}, {}
        self.inlining += 1
        try:
            for st in fn.body:
                self.iterate()
                if isinstance(st, ast.Return):
                    return self.groups(st.value, scope) if st.value is not None else []
                self.init_statement(scope, st)
            raise _Refused(f"{fn.name} returns no layers")
        finally:
            self.inlining -= 1
            scope.env = {**saved[0], **{k: v for k, v in scope.env.items() if k.startswith("self.")}}
            scope.lists = saved[1]

    def copies(self, groups: list[list]) -> list[list]:
        self.spend(sum(map(len, groups)))
        return [[n.model_copy(deep=True) for n in g] for g in groups]

    def items(self, args: list[ast.AST], scope: _Scope) -> list[list]:
        """nn.Sequential's arguments: layers, nested Sequentials, `*layers` of a list built in __init__ or of a
        comprehension, or one OrderedDict of named layers; one item each."""
        out = []
        for a in args:
            if isinstance(a, ast.Call) and _dotted(a.func) in ("OrderedDict", "collections.OrderedDict"):
                out += self.ordered(a, scope)
            elif isinstance(a, ast.Starred):
                out += self.groups(a.value, scope)
            else:
                out.append(self.layers(a, scope))
        return out

    def ordered(self, call: ast.Call, scope: _Scope) -> list[list]:
        """`OrderedDict([("conv1", nn.Conv2d(...)), ...])`, `OrderedDict({"conv1": ...})`, `OrderedDict(conv1=...)`
        or `OrderedDict(pairs)` of a list built before: the layers in order, each named by its key."""
        entries = call.args[0] if len(call.args) == 1 else None
        if isinstance(entries, ast.Dict):
            out = [self.layers(ast.Tuple(elts=[k, v]) if k is not None else v, scope)
                   for k, v in zip(entries.keys, entries.values)]
        elif entries is None or isinstance(entries, (ast.List, ast.Tuple, ast.Name, ast.ListComp)):
            out = self.groups(entries, scope) if entries is not None else []
        else:
            raise _Refused(f"`{_src(call)}` is not an OrderedDict of named layers")
        return out + [self.layers(k.value, scope, _attr(k.arg)) for k in call.keywords]

    # -- loops over what the answer spells out, written out (a spec has no loops)
    def iterate(self) -> None:
        """Every iteration unrolled counts, so that loops that build nothing cannot run long either."""
        self.iterations += 1
        if self.iterations > limits.MAX_EXPANDED:
            raise _Refused(f"its loops run more than {limits.MAX_EXPANDED:,} times in all (MAX_EXPANDED)")

    def iteration(self, node: ast.AST, scope: _Scope) -> list:
        """The values a loop or comprehension goes through: `range(...)` of numbers, a literal list or tuple (or a
        local holding one), `enumerate`, `zip` or `reversed` of those; refused, saying why, for anything else."""
        name = _dotted(node.func) if isinstance(node, ast.Call) and not node.keywords else ""
        args = node.args if name else []
        if name == "range" and 1 <= len(args) <= 3:
            bounds = [self.value(a, scope) for a in args]
            if all(isinstance(b, int) and not isinstance(b, bool) for b in bounds):
                values = range(*bounds) if bounds[2:] != [0] else range(0)
                if len(values) > limits.MAX_EXPANDED:
                    raise _Refused(f"`{_src(node)}` runs more than {limits.MAX_EXPANDED:,} times (MAX_EXPANDED)")
                return list(values)
        elif name == "enumerate" and len(args) in (1, 2):
            start = self.value(args[1], scope) if len(args) == 2 else 0
            if isinstance(start, int):
                return list(enumerate(self.iteration(args[0], scope), start))
        elif name == "zip" and args:
            return list(zip(*[self.iteration(a, scope) for a in args]))
        elif name == "reversed" and len(args) == 1:
            return self.iteration(args[0], scope)[::-1]
        elif not name:
            value = self.value(node, scope)
            if isinstance(value, tuple) and all(not isinstance(v, str) for v in value):
                if len(value) > limits.MAX_EXPANDED:
                    raise _Refused(f"`{_src(node)}` has more than {limits.MAX_EXPANDED:,} items (MAX_EXPANDED)")
                return list(value)
        params = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & set(scope.params))
        raise _Refused(f"it loops over `{_src(node)}`, which is not a literal range or list"
                       + (f" ({', '.join(params)}: a constructor parameter)" if params else "")
                       + "; gptnet writes loops out only over numbers the answer gives (a spec has no loops: write "
                       "the count as a number)")

    def bind(self, target: ast.AST, value: Any) -> dict[str, ast.expr]:
        """A loop target bound to one value, as expressions to substitute (`for c_in, c_out in ...` unpacks)."""
        if isinstance(target, ast.Name):
            bound = _constant(value)
            if not _small(bound):  # each use copies it, as any substituted size
                raise _Refused(f"`{_src(target)}` takes an item larger than a size expression may be")
            return {target.id: bound}
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, tuple) and len(value) == len(target.elts):
            return {k: v for t, x in zip(target.elts, value) for k, v in self.bind(t, x).items()}
        raise _Refused(f"cannot bind `{_src(target)}` to {str(value)[:40]}")

    def elements(self, node: ast.AST, scope: _Scope) -> list[ast.AST]:
        """The items of a list, or of a comprehension written out: `[Block(c, c) for c in (32, 64)]`."""
        if isinstance(node, ast.List):
            return node.elts
        if len(node.generators) != 1 or node.generators[0].is_async:
            raise _Refused(f"`{_src(node)}` has more than one `for`; write the layers out")
        gen, out = node.generators[0], []
        for value in self.iteration(gen.iter, scope):
            self.iterate()
            bound = _Subst(self.bind(gen.target, value))
            if all(self.truth(bound.visit(copy.deepcopy(c)), scope) for c in gen.ifs):
                out.append(bound.visit(copy.deepcopy(node.elt)))
        return out

    def truth(self, test: ast.AST, scope: _Scope) -> bool:
        value = self.value(test, scope)
        if isinstance(value, str):
            raise _Refused(f"the condition `{_src(test)}` is not known until the class is built")
        return bool(value)

    def make(self, name: str, args: list, kwargs: dict, attr: str | None = None) -> Any:
        self.spend(1)
        try:
            return make_node(name, args, kwargs, attr=attr, notes=self.notes)
        except BuildError as e:
            raise _Refused(str(e)) from None

    # -- __init__
    def read_init(self, scope: _Scope, fn: ast.FunctionDef) -> None:
        a = fn.args
        pos = a.posonlyargs + a.args
        scope.params = [x.arg for x in pos[1:] + a.kwonlyargs]
        given = dict(zip([x.arg for x in pos][len(pos) - len(a.defaults):], a.defaults))
        given.update({x.arg: d for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
        for p in (p for p in scope.params if p in given):
            try:
                scope.defaults[p] = _literal(given[p])
            except (ValueError, TypeError, SyntaxError):
                scope.defaults[p] = None
                self.notes.append(f"{scope.name}: the default of {p} (`{_src(given[p])}`) is not a literal; "
                                  "taken as None")
        for st in fn.body:
            self.init_statement(scope, st)

    def init_statement(self, scope: _Scope, st: ast.stmt) -> None:
        call = st.value if isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) else None
        owner, _, method = (_dotted(call.func) if call else "").rpartition(".")
        if _is_doc(st) or call and isinstance(call.func, ast.Attribute) and call.func.attr == "__init__" \
                and _src(call.func).startswith("super("):
            if call and call.args:  # class X(nn.Sequential): super().__init__(layer, layer, ...)
                scope.seq = [n for g in self.items(call.args, scope) for n in g]
            return
        if method in ("append", "extend", "add_module") and self.add_to(scope, owner, method, call):
            return
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Tuple) and \
                isinstance(st.value, ast.Tuple) and len(st.targets[0].elts) == len(st.value.elts):
            for t, v in zip(st.targets[0].elts, st.value.elts):  # layers, in_c = [], 3
                self.init_statement(scope, ast.Assign(targets=[t], value=v))
            return
        if isinstance(st, ast.If) and self.derived(scope, st):
            return
        target = st.targets[0] if isinstance(st, ast.Assign) and len(st.targets) == 1 else \
            st.target if isinstance(st, (ast.AnnAssign, ast.AugAssign)) and st.value is not None else None
        name = _dotted(target) if target is not None else ""
        key = name[5:] if name.startswith("self.") else name  # the attribute, or the local
        if isinstance(st, ast.AugAssign):
            if name in scope.lists and isinstance(st.value, (ast.List, ast.Tuple, ast.ListComp, ast.Name)):
                value = ast.List(elts=st.value.elts) if isinstance(st.value, ast.Tuple) else st.value
                scope.lists[name] += self.groups(value, scope)  # layers += [...]
                return
        elif isinstance(target, ast.Name) and isinstance(st.value, (ast.List, ast.ListComp)) and \
                (found := self.groups(st.value, scope, need=False)) is not None:  # layers = [] / [nn.Conv2d(...)]
            scope.lists[name] = found
            return
        elif isinstance(target, ast.Name) and isinstance(st.value, ast.Call) and \
                _dotted(st.value.func).endswith(("Sequential", "ModuleList")):  # seq = nn.Sequential(); seq.add_...
            scope.lists[name] = self.groups(st.value, scope)
            return
        elif key.isidentifier():  # self.conv = nn.Conv2d(...), hidden = inp * t, self.use_res = stride == 1
            found = self.groups(st.value, scope, attr=key, need=False) if key != name else None
            size = None
            if found is None:
                try:
                    self.value(st.value, scope)  # checked with the locals as they were before this line
                    expanded = _Subst(scope.env).visit(copy.deepcopy(st.value))
                    if not _small(expanded):
                        raise _Refused("too large to substitute")
                    size = expanded
                except _Refused:  # a later size or forward call that uses it is refused, by name
                    scope.other[key] = _src(st.value)
                    self.notes.append(f"{scope.name}.__init__: {_ignored(st)}")
            scope.env.pop(name, None)
            if found is not None:
                scope.attrs[key], scope.groups[key] = [n for g in found for n in g], found
            elif size is not None:
                scope.env[name] = size
            return
        if isinstance(st, ast.Return) or isinstance(st, (ast.For, ast.If)) and \
                any(isinstance(n, ast.Return) for n in ast.walk(st)):
            raise _Refused(f"`{_src(st)}` returns from inside a loop or condition")
        if not self.builds(st, scope):
            self.notes.append(f"{scope.name}.__init__: {_ignored(st)}")
        elif isinstance(st, ast.For) and not st.orelse and not any(
                isinstance(n, (ast.Break, ast.Continue)) for n in ast.walk(st)):
            for value in self.iteration(st.iter, scope):  # written out, the loop variable a number each time
                self.iterate()
                scope.env.update(self.bind(st.target, value))
                for inner in st.body:
                    self.init_statement(scope, inner)
        elif isinstance(st, ast.If) and not isinstance(when := self.value(st.test, scope), str):
            for inner in st.body if when else st.orelse:  # a condition on numbers: `if i == 0:` in a loop
                self.init_statement(scope, inner)
        else:
            raise _Refused(f"__init__ builds layers under `{_src(st)}`; a spec has no conditional or looped layers "
                           "(write each layer out, in one nn.Sequential)")

    def builds(self, st: ast.stmt, scope: _Scope) -> bool:
        """Whether a compound statement builds layers: sets an attribute, or adds to a list or container."""
        return isinstance(st, (ast.If, ast.For, ast.While, ast.With, ast.Try)) and any(
            isinstance(n, ast.Attribute) and _dotted(n.value) == "self" and isinstance(n.ctx, ast.Store)
            or isinstance(n, ast.Call) and _dotted(n.func).endswith((".append", ".extend", ".add_module"))
            or isinstance(n, ast.Name) and n.id in scope.lists and isinstance(n.ctx, ast.Store)
            for n in ast.walk(st))

    def add_to(self, scope: _Scope, owner: str, method: str, call: ast.Call) -> bool:
        """`layers.append(layer)`, `.extend([...])` on a list, nn.Sequential or nn.ModuleList (a local or an
        attribute), `.add_module("conv1", layer)` on one or on self: whether the call added layers."""
        attr = owner[5:] if owner.startswith("self.") else None
        if method == "add_module":
            if len(call.args) != 2 or not isinstance(call.args[0], ast.Constant):
                return False
            new = [self.layers(ast.Tuple(elts=call.args), scope)]
            if owner == "self":  # self.add_module("conv1", ...) is self.conv1
                key = _attr(call.args[0].value)
                if key:
                    scope.attrs[key], scope.groups[key] = new[0], new
                return bool(key)
        elif len(call.args) == 1 and (owner in scope.lists or attr in scope.groups):
            new = self.groups(call.args[0], scope) if method == "extend" else [self.layers(call.args[0], scope)]
        else:
            return False
        if owner in scope.lists:
            scope.lists[owner] += new
        elif attr in scope.groups:
            scope.groups[attr] += new
            scope.attrs[attr] += [n for g in new for n in g]
        else:
            return False
        return True

    def derived(self, scope: _Scope, st: ast.If) -> bool:
        """`if groups is None: groups = in_channels`: a parameter computed at bind time, never substituted."""
        t, body = st.test, st.body
        if not (isinstance(t, ast.Compare) and isinstance(t.ops[0], (ast.Is, ast.Eq)) and len(t.ops) == 1
                and _dotted(t.left) in scope.params and _src(t.comparators[0]) == "None" and not st.orelse
                and len(body) == 1 and isinstance(body[0], ast.Assign)
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
        out = self.block(scope, fn.body, dict(zip(names, inputs)), depth, 0)
        if out is None:
            raise _Refused(f"{fn.name} returns nothing")
        return out

    def block(self, scope: _Scope, body: list[ast.stmt], env: dict[str, Any], depth: int, nesting: int) -> _V | None:
        """Runs statements symbolically; the returned value, or None when the block falls through. `env` maps
        names to tensors (_V), and loop variables to numbers or container items (_Item)."""
        if nesting > limits.MAX_NESTING:
            raise _Refused(f"forward nests ifs more than {limits.MAX_NESTING} deep (MAX_NESTING)")
        for i, st in enumerate(body):
            target = st.targets[0] if isinstance(st, ast.Assign) and len(st.targets) == 1 else \
                st.target if isinstance(st, ast.AugAssign) and isinstance(st.op, ast.Add) else None
            if _is_doc(st) or isinstance(st, ast.Assign) and _sizes_of(st.value):
                continue  # b, c, _, _ = x.size(): only views use them, and a view is a flatten
            if isinstance(st, ast.Return) and st.value is not None:
                return self.eval(scope, st.value, env, depth)
            if isinstance(target, ast.Name) and (isinstance(st, ast.Assign) or target.id in env):
                value = self.eval(scope, st.value, env, depth)
                env[target.id] = value if isinstance(st, ast.Assign) else _V("add", [env[target.id], value])
            elif isinstance(st, ast.For) and not st.orelse:
                for value in self.forward_iteration(scope, st.iter, env):  # written out, one item at a time
                    self.iterate()
                    env.update(_bound(st.target, value))
                    if self.block(scope, st.body, env, depth, nesting + 1) is not None:
                        raise _Refused(f"forward returns inside `{_src(st)}`")
            elif isinstance(st, ast.If) and not _unsafe(st.test):
                numbers = {k: ast.Constant(v) for k, v in env.items() if isinstance(v, int)}
                when = self.value(_Subst(numbers).visit(copy.deepcopy(st.test)), scope)  # self.use_res_connect
                if not isinstance(when, str):  # known here (`if i == 0:` in a loop): only its branch runs
                    out = self.block(scope, st.body if when else st.orelse, env, depth, nesting + 1)
                    if out is not None:
                        return out
                    continue
                yes_env, no_env = dict(env), dict(env)
                yes = self.block(scope, st.body, yes_env, depth, nesting + 1)
                no = self.block(scope, st.orelse, no_env, depth, nesting + 1)
                if yes is None and no is None:  # `if c: out = out + x`: a name the branches set differently
                    for k in yes_env.keys() | no_env.keys():
                        a, b = yes_env.get(k), no_env.get(k)
                        env[k] = _V("if", [a, b], when=when) if isinstance(a, _V) and isinstance(b, _V) and \
                            a is not b else a if a is not None else b
                    continue
                yes = yes or self.block(scope, body[i + 1:], yes_env, depth, nesting + 1)  # `if c: return a`...
                no = no or self.block(scope, body[i + 1:], no_env, depth, nesting + 1)  # ...then `return b`
                if yes is None or no is None:
                    raise _Refused(f"only one branch of `{_src(st)}` returns")
                return _V("if", [yes, no], when=when)
            else:
                raise _Refused(f"forward statement `{_src(st)}` is not a layer call, add or concat")
        return None

    def eval(self, scope: _Scope, node: ast.AST, env: dict[str, _V], depth: int) -> _V:
        self.steps += 1  # a helper method is followed at each call: bounded, so calls of calls cannot multiply
        if self.steps > limits.MAX_LAYERS:
            raise _Refused(f"forward takes more than {limits.MAX_LAYERS:,} steps to follow (MAX_LAYERS)")
        if isinstance(node, ast.Name) and isinstance(env.get(node.id), _V):
            return env[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):  # x + f(x), x * gate(x)
            kind = "add" if isinstance(node.op, ast.Add) else "mul"
            return _V(kind, [self.eval(scope, node.left, env, depth), self.eval(scope, node.right, env, depth)])
        if not isinstance(node, ast.Call) or _unsafe(node):
            raise _Refused(f"forward cannot follow `{_src(node)}`")
        f, args, name = node.func, node.args, _dotted(node.func)
        root, _, last = name.rpartition(".")
        tensors = lambda nodes: [self.eval(scope, a, env, depth) for a in nodes]  # noqa: E731
        item = env.get(f.id) if isinstance(f, ast.Name) else self.item(scope, f, env) \
            if isinstance(f, ast.Subscript) else None
        if isinstance(item, _Item):  # block(x) in a loop over self.blocks, self.blocks[i](x)
            if len(args) != 1 or node.keywords:
                raise _Refused(f"forward calls `{_src(node)}` with other than one tensor")
            return _V("apply", tensors(args), item.nodes)
        if root == "self" and last in scope.attrs:
            if len(args) != 1 or node.keywords:
                raise _Refused(f"forward calls `{_src(node)}` with other than one tensor")
            scope.used.add(last)
            return _V("apply", tensors(args), scope.attrs[last])
        if root == "self" and last in scope.methods and last not in ("__init__", "forward") and depth < 4:
            return self.trace(scope, scope.methods[last], tensors(args), depth + 1)  # a helper: _forward_impl
        if root == "self":
            built = f" (it is `{scope.other[last]}`)" if last in scope.other else ""
            raise _Refused(f"forward calls self.{last}, which __init__ does not build as a layer{built}")
        if name in ("torch.cat", "torch.concat"):
            dim = args[1] if len(args) > 1 else next((k.value for k in node.keywords if k.arg == "dim"), None)
            if not args or not isinstance(args[0], (ast.List, ast.Tuple)) or _src(dim or args[0]) not in ("1", "-3"):
                raise _Refused(f"`{_src(node)}` is not a channel concat (torch.cat([...], 1))")
            return _V("cat", tensors(args[0].elts))
        if name in ("torch.add", "torch.mul", "torch.multiply") and len(args) == 2:
            return _V("add" if last == "add" else "mul", tensors(args))
        if isinstance(f, ast.Attribute) and f.attr in ("add", "mul") and len(args) == 1 and root not in self.functional:
            return _V(f.attr, [self.eval(scope, f.value, env, depth), *tensors(args)])  # x.mul(s)
        if last == "mean" and (root in self.functional or isinstance(f, ast.Attribute)):
            return self.mean(scope, node, env, depth)
        known = lookup(FUNCTIONAL.get(f.attr if isinstance(f, ast.Attribute) else "", "?"))  # a kind, registered
        if root in self.functional and known and args:
            rest, kind = args[1:], FUNCTIONAL[last]
            kwargs = {k.arg: k.value for k in node.keywords if k.arg not in ("training", "input", None)}
            if kind == "Flatten":
                rest, kwargs = [], {}
            elif kind in ("AvgPool2d", "MaxPool2d") and any(isinstance(n, ast.Name) and isinstance(env.get(n.id), _V)
                                                            for a in rest for n in ast.walk(a)):
                kind, rest, kwargs = f"Adaptive{kind}", [], {}  # a window as large as the map: a global pool
            layer = self.make(kind, [self.value(a, scope) for a in rest[:1 if kind == "Dropout" else None]],
                              {k: self.value(v, scope) for k, v in kwargs.items()})
            return _V("apply", tensors(args[:1]), [layer])
        if isinstance(f, ast.Attribute) and (f.attr in _RESHAPES or known or f.attr in _SAME):
            src = self.eval(scope, f.value, env, depth)  # a tensor method: x.view(x.size(0), -1), x.relu()
            layer = Flatten() if f.attr in _RESHAPES else None if f.attr in _SAME else \
                self.make(FUNCTIONAL[f.attr], [], {})
            return _V("apply", [src], [layer] if layer else [])
        raise _Refused(f"forward cannot follow `{_src(node)}`")

    def mean(self, scope: _Scope, node: ast.Call, env: dict[str, Any], depth: int) -> _V:
        """`x.mean((2, 3), keepdim=True)` or `torch.mean(x, dim=[2, 3])`: a global average pool (then a flatten
        unless keepdim)."""
        method = isinstance(node.func, ast.Attribute) and _dotted(node.func.value) not in self.functional
        tensor = node.func.value if method else node.args[0] if node.args else None
        rest = node.args if method else node.args[1:]
        kw = {k.arg: k.value for k in node.keywords}
        dims, keep = (rest[0] if rest else kw.get("dim")), kw.get("keepdim", rest[1] if len(rest) > 1 else None)
        try:
            spatial = tuple(_literal(dims)) in ((2, 3), (-2, -1), (3, 2), (-1, -2))
            keep = bool(_literal(keep)) if keep is not None else False
        except (ValueError, TypeError, SyntaxError):
            spatial = False
        if tensor is None or not spatial:
            raise _Refused(f"`{_src(node)}` is not a mean over the map (dims 2 and 3)")
        return _V("apply", [self.eval(scope, tensor, env, depth)],
                  [AdaptiveAvgPool2d(output_size=1), *([] if keep else [Flatten()])])

    def container(self, scope: _Scope, node: ast.AST) -> list[list]:
        """The items of `self.blocks` (an nn.ModuleList, nn.Sequential or list __init__ built), as forward
        iterates or indexes them."""
        name = _dotted(node)
        if not name.startswith("self.") or name[5:] not in scope.groups:
            raise _Refused(f"forward iterates `{_src(node)}`, which __init__ does not build as layers")
        scope.used.add(name[5:])
        return scope.groups[name[5:]]

    def item(self, scope: _Scope, node: ast.Subscript, env: dict[str, Any]) -> _Item:
        """`self.blocks[i]` with i a number (or a loop variable bound to one)."""
        items = self.container(scope, node.value)
        index = env.get(node.slice.id) if isinstance(node.slice, ast.Name) else \
            node.slice.value if isinstance(node.slice, ast.Constant) else None
        if not isinstance(index, int) or isinstance(index, bool) or not -len(items) <= index < len(items):
            raise _Refused(f"forward indexes `{_src(node)}` with other than a number within it")
        return _Item(items[index])

    def forward_iteration(self, scope: _Scope, node: ast.AST, env: dict[str, Any]) -> list:
        """What a loop in forward goes through: the items of a layer container (`self.blocks`), `enumerate` or
        `zip` of those, or numbers (`range(3)`, `range(len(self.blocks))`)."""
        name = _dotted(node.func) if isinstance(node, ast.Call) and not node.keywords else ""
        if name == "enumerate" and len(node.args) == 1:
            return list(enumerate(self.forward_iteration(scope, node.args[0], env)))
        if name == "zip" and node.args:
            return list(zip(*[self.forward_iteration(scope, a, env) for a in node.args]))
        if name == "range" and len(node.args) == 1 and isinstance(node.args[0], ast.Call) \
                and _dotted(node.args[0].func) == "len" and len(node.args[0].args) == 1:
            return list(range(len(self.container(scope, node.args[0].args[0]))))
        if isinstance(node, ast.Attribute):
            return [_Item(nodes) for nodes in self.container(scope, node)]
        return self.iteration(node, scope)

    def read_class(self, node: ast.ClassDef) -> tuple[_Scope, list]:
        scope = _Scope(node.name, node)
        if "__init__" in scope.methods:
            self.read_init(scope, scope.methods["__init__"])
        if scope.seq is not None:  # an nn.Sequential subclass runs its layers in order
            return scope, scope.seq
        if "forward" not in scope.methods:  # no forward: the layers in the order __init__ builds them
            self.spend(sum(map(len, scope.attrs.values())))
            chain = [n.model_copy(deep=True) for nodes in scope.attrs.values() for n in nodes]
        else:
            inp, self.steps = _V("in"), 0
            chain = self.chain(self.trace(scope, scope.methods["forward"], [inp]), inp)
            for attr in scope.attrs.keys() - scope.used:
                self.notes.append(f"{scope.name}: self.{attr} is built in __init__ but never used in forward; left out")
        if not chain:
            raise _Refused("it applies no layer")
        return scope, chain


# ---- assembling the answer ------------------------------------------------------------------------------------------

def _calls(nodes: list) -> set[str]:
    subs = [b for n in nodes for b in branches(n)]
    return {n.module for n in nodes if isinstance(n, Call)}.union(*map(_calls, subs))


def _sizes_of(node: ast.AST) -> bool:
    """`x.size()`, `x.shape`, `x.size(0)`, `x.shape[1]`: a tensor's sizes, not a tensor."""
    node = node.value if isinstance(node, ast.Subscript) else node
    return isinstance(node, ast.Attribute) and node.attr == "shape" or isinstance(node, ast.Call) and \
        isinstance(node.func, ast.Attribute) and node.func.attr == "size"


def _bound(target: ast.AST, value: Any) -> dict[str, Any]:
    """A forward loop's target bound to one value (`for i, block in enumerate(self.blocks)` unpacks)."""
    if isinstance(target, ast.Name):
        return {target.id: value}
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, tuple) and len(value) == len(target.elts):
        return {k: v for t, x in zip(target.elts, value) for k, v in _bound(t, x).items()}
    raise _Refused(f"cannot bind `{_src(target)}` in forward")


def _concrete(nodes: list, env: dict[str, Any], where: str, notes: list[str]) -> list:
    """A model's nodes with its constructor defaults put in; a size needing a required parameter is left None."""
    def val(v: Any) -> Any:
        if isinstance(v, tuple):
            return tuple(val(x) for x in v)
        try:
            return expr.evaluate(v, env) if isinstance(v, str) else v
        except expr.ExprError:
            return v  # a plain string argument, such as mode="nearest"
        except Exception:  # None (a required parameter) in arithmetic
            notes.append(f"{where}: `{v}` needs a parameter without a default; left for the validators")
            return None

    out = []
    for n in nodes:
        if isinstance(n, Residual) and n.when is not None and not val(n.when):
            out += _concrete(n.body, env, where, notes)  # the shortcut is off for these constructor arguments
        elif isinstance(n, Residual):
            out.append(n.model_copy(update={"body": _concrete(n.body, env, where, notes), "when": None,
                                            "shortcut": _concrete(n.shortcut, env, where, notes)}))
        elif isinstance(n, Concat):
            out.append(n.model_copy(update={"branches": [_concrete(b, env, where, notes) for b in n.branches]}))
        elif isinstance(n, Gate):
            out.append(n.model_copy(update={"gate": _concrete(n.gate, env, where, notes)}))
        elif isinstance(n, Call):
            out.append(n.model_copy(update={"args": [val(a) for a in n.args],
                                            "kwargs": {k: val(v) for k, v in n.kwargs.items()}}))
        else:
            out.append(n.model_copy(update={k: val(v) for k, v in n.args().items()}))
    return out


def parse_python(text: str, build: str | None = None) -> ParsedAnswer:
    """Module classes, whole-model classes and module-level nn.Sequential models in PyTorch source.

    A program that constructs its model (`model = ResNet18()`, a factory function) is built by the evaluator
    (`pyeval/`), with the concrete arguments of each call. Otherwise the classes are read symbolically here, which
    keeps a module's constructor parameters (what stage module:X asks for); a class this reader refuses sends the
    whole program to the evaluator, and if that refuses too both reasons are given.

    A program that leaves its model unbuilt with a choice open (`class MNASNet: def __init__(self, alpha, ...)`
    and no `MNASNet(...)`) says so in `unbuilt` (of the answer, or of the ParseError when reading it fails), as the
    question for stage build; `build`, that stage's answer, is then added to the program."""
    notes: list[str] = []
    tree, intros = _code(text, notes)
    if build is not None:
        added = construction(build, tree, [u.split("(")[0] for u in unbuilt(tree)] or _defined(tree))
        tree, intros = ast.Module(body=tree.body + added, type_ignores=[]), intros + [""] * len(added)
    asked = unbuilt(tree)
    try:
        answer = _parse_program(tree, intros, notes)
    except ParseError as e:
        e.unbuilt = asked
        raise
    answer.unbuilt = asked
    return answer


def _defined(tree: ast.Module) -> list[str]:
    """The classes and functions a program defines: what a build answer may call when nothing was asked."""
    return [st.name for st in tree.body if isinstance(st, (ast.ClassDef, ast.FunctionDef))]


def _parse_program(tree: ast.Module, intros: list[str], notes: list[str]) -> ParsedAnswer:
    introduced = {st.name: intro for st, intro in zip(tree.body, intros) if isinstance(st, (ast.ClassDef,
                                                                                            ast.FunctionDef))}
    built = _evaluated(tree, notes, introduced, implicit=False)
    if isinstance(built, ParsedAnswer) and any(has_head(m.layers, built.modules) for m in built.models):
        return built
    if isinstance(built, _Refused):  # the program constructs its model, and building it was refused
        raise ParseError(f"building the model the program constructs: {built}")
    try:
        answer = _read_classes(tree, intros, list(notes))
    except ParseError as e:
        answer, why = None, str(e)
    if isinstance(built, ParsedAnswer):  # it constructs a block to try it (`m = DepthwiseConv2d(32, 64)`), not a
        return answer if answer is not None and answer.modules else built  # model: its class, as stage module:X wants
    if answer is not None and answer.models and not any(" refused: " in n for n in answer.notes):
        return answer
    found = _evaluated(tree, notes, introduced, implicit=True)
    if isinstance(found, ParsedAnswer):
        return found
    if answer is None:
        raise ParseError(_both(found, why))
    # a module the models use but whose class was refused would be asked for again, its reason lost: say it now
    used = {n for c in answer.models for n in _calls(c.layers)} - {m.name for m in answer.modules}
    lost = [n for n in answer.notes if (m := re.match(r"class (\w+) refused: ", n)) and m.group(1) in used]
    if lost:
        raise ParseError(_both(found, "; ".join(lost)))
    if found:
        answer.notes.append(f"building the program: {found}")
    return answer


def _both(built: _Refused | None, classes: str) -> str:
    """Why neither reader reads the program: the evaluator's reason first, as it names the line that stops it."""
    return f"building the program: {built}; reading its classes one by one: {classes}" if built else classes


def _evaluated(tree: ast.Module, notes: list[str], intros: dict[str, str], implicit: bool
               ) -> ParsedAnswer | _Refused | None:
    """The program built by the evaluator (see `parse_python`); its refusal; or None when it builds no model."""
    mine = list(notes)
    try:
        models, modules = read_program(tree, mine, implicit)
    except _Refused as e:
        return e
    except (RecursionError, MemoryError) as e:  # bounded before either can happen; kept as a refusal if one does
        return _Refused(f"the program is too deep or too large to build ({type(e).__name__})")
    if not models:
        return None
    for m in models:
        m.context = f"{intros.get(m.name, '')}\n{m.context}".strip()
    return ParsedAnswer(form="python", models=models, modules=modules, notes=list(dict.fromkeys(mine)))


def _read_classes(tree: ast.Module, intros: list[str], notes: list[str]) -> ParsedAnswer:
    """The classes and module-level nn.Sequential models, read symbolically."""
    reader, top = _Reader(tree, notes), _Scope("module level")
    # ("class", scope, chain, intro) / ("seq", variable name, layers, intro), in order
    items: list[tuple[str, Any, list, str]] = []
    errors: list[str] = []
    for st, intro in zip(tree.body, intros):
        value = getattr(st, "value", None)
        if isinstance(st, ast.ClassDef) and any(_dotted(b).endswith(("Module", "Sequential")) for b in st.bases):
            try:
                items.append(("class", *reader.read_class(st), intro))
            except _Refused as e:
                errors.append(f"class {st.name} refused: {e}")
            except RecursionError:  # a size rewritten from itself (`c = c // 2` in a loop) nests with each pass
                errors.append(f"class {st.name} refused: its sizes nest too deeply to read as expressions")
        elif isinstance(value, ast.Call) and _dotted(value.func).endswith("Sequential"):
            name = _dotted(st.targets[0]) or None if isinstance(st, ast.Assign) else None
            try:
                items.append(("seq", name, reader.layers(value, top), intro))
            except _Refused as e:
                errors.append(f"nn.Sequential {name or 'model'} refused: {e}")
        elif isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name) and _small(value):
            try:  # module-level constants (NUM_CLASSES = 10) for a module-level nn.Sequential
                top.env[st.targets[0].id] = ast.Constant(reader.value(value, _Scope("")))
            except _Refused:
                pass
        if not isinstance(st, (ast.ClassDef, ast.FunctionDef)) and _unsafe(st):
            notes.append(f"module level: {_ignored(st)}")
    notes += errors
    used = {m for kind, owner, chain, _ in items for m in _calls(chain) - {getattr(owner, "name", None)}}
    answer, generated = ParsedAnswer(form="python", notes=notes), []
    for kind, owner, chain, intro in items:
        if kind == "seq":
            answer.models.append(Candidate(name=owner, layers=chain, context=intro))
            continue
        required = [p for p in owner.params if p not in owner.defaults and p not in owner.derived]
        # a whole network: nothing calls it, and it needs no size but the class count (or ends in a classifier)
        if owner.name in used or not (all(map(NUM_CLASSES.match, required)) or isinstance(chain[-1], Linear)):
            answer.modules.append(ModuleSpec(name=owner.name, params=owner.params, defaults=owner.defaults,
                                             derived=owner.derived, body=chain, doc=owner.doc))
            continue
        env = {p: owner.defaults.get(p) for p in owner.params}
        for p, rule in owner.derived.items():
            try:
                env[p] = expr.evaluate(rule, env) if env[p] is None else env[p]
            except Exception:  # it needs a required parameter: stays None
                pass
        layers = lift_graph(owner.name, _concrete(chain, env, owner.name, notes), generated, notes)
        answer.models.append(Candidate(name=owner.name, layers=layers, context=f"{intro}\n{owner.doc or ''}"))
    answer.modules += generated
    answer.notes = list(dict.fromkeys(answer.notes))  # a statement ignored in a loop is noted once
    if not answer.models and not answer.modules:
        raise ParseError("; ".join(errors) or "no nn.Module class or nn.Sequential model in the PyTorch source")
    return answer
