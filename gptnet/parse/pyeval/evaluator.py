"""Statements and expressions of the model-building subset of Python, followed over the closed domain of
values.py with the concrete arguments of each call.

Nothing is executed by Python: the evaluator walks `ast` nodes itself. Every statement and expression is a step
(MAX_EVAL_STEPS), as is every item a list operation copies, so time is linear in steps; calls nest at most
MAX_CALL_DEPTH deep and statements and expressions MAX_EVAL_NESTING deep, so no recursion runs away. A construct
outside the subset is refused naming it and its line (messages.py)."""

from __future__ import annotations

import ast
import operator
from typing import Any

from ... import limits
from . import messages
from .builtins import BUILTINS, items_of, refuse_dunder, refuse_unsafe
from .forward import Pending, tensor_binop
from .messages import NOT_READ, Refused
from .tensors import Tensor
from .values import PLAIN, Container, Dim, External, Function, check, weigh

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
           ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitAnd: operator.and_,
           ast.BitOr: operator.or_, ast.BitXor: operator.xor}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
            ast.LShift: "<<", ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.MatMult: "@"}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
           ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


def src(node: ast.AST) -> str:
    """A construct as a message quotes it: its first line, at most 60 characters."""
    text = " ".join((ast.unparse(node).splitlines() or [""])[0].split())
    return text if len(text) <= 60 else text[:57] + "..."


class Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class Break(Exception):
    """`break` (and, below, `continue`), raised to the loop; `line` says where, if none catches it."""

    def __init__(self, line: int) -> None:
        self.line = line


class Continue(Break):
    pass


class Core:
    """Statements and expressions; collections are in literals.py, calls, attributes and objects in objects.py."""

    def __init__(self) -> None:
        self.steps, self.nesting, self.calls = 0, 0, 0
        self.line: int | None = None  # of the statement or expression being followed, for a refusal made later
        self.globals: dict[str, Any] = {}

    def step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > limits.MAX_EVAL_STEPS:
            raise Refused(messages.too_many_steps())

    # -- statements
    def run(self, body: list[ast.stmt], env: dict[str, Any]) -> None:
        for st in body:
            self.statement(st, env)

    def statement(self, st: ast.stmt, env: dict[str, Any]) -> None:
        self.step()
        self.nesting += 1
        outer, self.line = self.line, st.lineno
        try:
            if self.nesting > limits.MAX_EVAL_NESTING:
                raise Refused(messages.too_nested())
            method = getattr(self, f"st_{type(st).__name__}", None)
            if method is None:
                raise Refused(NOT_READ.get(type(st).__name__, f"`{src(st)}` is not read"))
            method(st, env)
        except Refused as e:
            e.line = e.line or st.lineno
            raise
        finally:
            self.nesting, self.line = self.nesting - 1, outer

    def st_Expr(self, st: ast.Expr, env: dict) -> None:
        if isinstance(st.value, ast.Call) and isinstance(st.value.func, ast.Name) and st.value.func.id == "print" \
                and not self.shadowed("print", env):
            return  # what it prints (an f-string of a parameter count) builds nothing
        self.eval(st.value, env)

    def st_Pass(self, st: ast.Pass, env: dict) -> None:
        pass

    def st_FunctionDef(self, st: ast.FunctionDef, env: dict) -> None:
        """A helper defined inside a method (`def conv_bn(inp, oup, stride)` in MobileNet's __init__): it sees the
        method's locals, as a closure does."""
        env[st.name] = Function(st, closure=env)

    def st_Assign(self, st: ast.Assign, env: dict) -> None:
        value = self.eval(st.value, env)
        for target in st.targets:
            self.assign(target, value, env)

    def st_AnnAssign(self, st: ast.AnnAssign, env: dict) -> None:
        if st.value is not None:
            self.assign(st.target, self.eval(st.value, env), env)

    def st_AugAssign(self, st: ast.AugAssign, env: dict) -> None:
        current = self.eval(ast.Name(st.target.id, ast.Load()) if isinstance(st.target, ast.Name) else
                            type(st.target)(**{**{f: getattr(st.target, f) for f in st.target._fields},
                                               "ctx": ast.Load()}), env)
        value = self.eval(st.value, env)
        if isinstance(current, list) and isinstance(st.op, ast.Add):  # `layers += [...]` extends in place
            current.extend(self.iterate(value))
            check(current)
            return
        self.assign(st.target, self.binop(st.op, current, value), env)

    def st_If(self, st: ast.If, env: dict) -> None:
        self.run(st.body if self.truth(self.eval(st.test, env), st.test) else st.orelse, env)

    def st_For(self, st: ast.For, env: dict) -> None:
        for item in self.iterate(self.eval(st.iter, env)):
            self.assign(st.target, item, env)
            try:
                self.run(st.body, env)
            except Continue:
                continue
            except Break:
                return
        self.run(st.orelse, env)

    def st_Break(self, st: ast.Break, env: dict) -> None:
        raise Break(st.lineno)

    def st_Continue(self, st: ast.Continue, env: dict) -> None:
        raise Continue(st.lineno)

    def st_Return(self, st: ast.Return, env: dict) -> None:
        raise Return(None if st.value is None else self.eval(st.value, env))

    def st_Assert(self, st: ast.Assert, env: dict) -> None:
        if not self.truth(self.eval(st.test, env), st.test):
            raise Refused(f"`assert {src(st.test)}` fails")

    def st_Raise(self, st: ast.Raise, env: dict) -> None:
        raise Refused(f"the code raises `{src(st.exc) if st.exc else 'raise'}` for these arguments")

    def assign(self, target: ast.AST, value: Any, env: dict) -> None:
        if isinstance(target, ast.Name):
            refuse_dunder(target.id)
            env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            items = self.iterate(value)
            if len(items) != len(target.elts) or any(isinstance(t, ast.Starred) for t in target.elts):
                raise Refused(f"`{src(target)}` unpacks {len(items)} values into {len(target.elts)} names")
            for t, v in zip(target.elts, items):
                self.assign(t, v, env)
        elif isinstance(target, ast.Attribute):
            self.set_attribute(self.eval(target.value, env), target.attr, value)
        elif isinstance(target, ast.Subscript):
            owner, key = self.eval(target.value, env), self.eval(target.slice, env)
            if not (isinstance(owner, dict) and isinstance(key, PLAIN) or isinstance(owner, list)
                    and isinstance(key, int) and -len(owner) <= key < len(owner)):
                raise Refused(f"`{src(target)}` stores into other than a list item or a dict key")
            owner[key] = value
            check(owner)
        else:
            raise Refused(f"cannot assign to `{src(target)}`")

    def shadowed(self, name: str, env: dict) -> bool:
        """Whether a builtin's name is the answer's own here (a parameter, a local, a module-level name)."""
        return name in env or name in self.globals

    def truth(self, value: Any, node: ast.AST) -> bool:
        if isinstance(value, (*PLAIN, list, tuple, dict, range)):
            return bool(value)
        if isinstance(value, (Dim, Tensor, Pending)):
            raise Refused(f"`{src(node)}` depends on the input tensor, which is not known until the model runs")
        return True  # a module, a class, a function

    def iterate(self, value: Any) -> list:

        return items_of(self, value)

    # -- expressions
    def eval(self, node: ast.AST, env: dict[str, Any]) -> Any:
        self.step()
        self.nesting += 1
        outer, self.line = self.line, getattr(node, "lineno", self.line)
        try:
            if self.nesting > limits.MAX_EVAL_NESTING:
                raise Refused(messages.too_nested())
            method = getattr(self, f"ex_{type(node).__name__}", None)
            if method is None:
                raise Refused(NOT_READ.get(type(node).__name__, f"`{src(node)}` is not read"))
            return method(node, env)
        except Refused as e:
            e.line = e.line or getattr(node, "lineno", None)
            raise
        except (ArithmeticError, IndexError, KeyError, RecursionError, TypeError, ValueError) as e:
            # what Python itself would raise on these values (an unhashable key, self-nesting lists compared)
            raise Refused(f"`{src(node)}`: {type(e).__name__}: {str(e)[:80]}", getattr(node, "lineno", None)) \
                from None
        finally:
            self.nesting, self.line = self.nesting - 1, outer

    def ex_Constant(self, node: ast.Constant, env: dict) -> Any:
        if not isinstance(node.value, PLAIN):
            raise Refused(f"the constant `{src(node)}` is not read")
        return check(node.value)

    def ex_Name(self, node: ast.Name, env: dict) -> Any:
        """The answer's own names first: a parameter or local named `input` or `type` shadows the builtin, as in
        Python (its value is of the closed domain whatever its name); then the builtins gptnet re-implements
        (`setattr` among them); any other unsafe name is refused."""
        refuse_dunder(node.id)
        for scope in (env, self.globals, BUILTINS):
            if node.id in scope:
                value = scope[node.id]
                if isinstance(value, Refused):  # a module-level name whose value was refused: say why
                    raise Refused(f"`{node.id}` cannot be read ({value})")
                return value
        refuse_unsafe(node.id)
        if node.id[:1].isupper() and isinstance(node.ctx, ast.Load):
            return External(node.id)  # a module the answer uses but does not define: asked for as module:X
        raise Refused(messages.unknown_name(node.id))

    def ex_IfExp(self, node: ast.IfExp, env: dict) -> Any:
        return self.eval(node.body if self.truth(self.eval(node.test, env), node.test) else node.orelse, env)

    def ex_BoolOp(self, node: ast.BoolOp, env: dict) -> Any:
        value = None
        for v in node.values:
            value = self.eval(v, env)
            if self.truth(value, v) == isinstance(node.op, ast.Or):
                return value
        return value

    def ex_UnaryOp(self, node: ast.UnaryOp, env: dict) -> Any:
        value = self.eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not self.truth(value, node.operand)
        if not isinstance(value, (int, float)) or isinstance(node.op, ast.Invert) and not isinstance(value, int):
            raise Refused(f"`{src(node)}` of other than a number")
        return {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}[type(node.op)](value)

    def ex_BinOp(self, node: ast.BinOp, env: dict) -> Any:
        return self.binop(node.op, self.eval(node.left, env), self.eval(node.right, env))

    def binop(self, op: ast.operator, a: Any, b: Any) -> Any:
        if any(isinstance(x, (Tensor, Dim, Pending)) for x in (a, b)):
            return tensor_binop(self, op, a, b)
        numbers = all(isinstance(x, (int, float)) for x in (a, b))
        if isinstance(op, ast.Mult) and not numbers:
            seq, times = (b, a) if isinstance(a, int) else (a, b)
            if isinstance(seq, (list, tuple, str)) and isinstance(times, int):  # [1] * (n - 1): checked before it is built
                check(range(len(seq) * max(times, 0)))
                self.step(len(seq) * max(times, 0))
                return seq * times
        elif isinstance(op, ast.Add) and type(a) is type(b) and isinstance(a, (list, tuple, str)):
            check(range(len(a) + len(b)))
            self.step(len(a) + len(b))
            return a + b
        if not numbers or type(op) not in _BINOPS:
            raise Refused(f"`{_SYMBOLS.get(type(op), '?')}` of {type(a).__name__} and {type(b).__name__} is not read")
        if isinstance(op, ast.Pow) and (abs(b) > 64 or isinstance(b, int) and b < 0 and a == 0) or \
                isinstance(op, (ast.LShift, ast.RShift)) and not 0 <= b <= 62:
            raise Refused(messages.too_large(f"{a!r:.20} {_SYMBOLS[type(op)]} {b!r:.20}"))
        try:
            return check(_BINOPS[type(op)](a, b))
        except (ArithmeticError, TypeError, ValueError) as e:
            raise Refused(f"{weigh(a)!r:.20} {_SYMBOLS[type(op)]} {weigh(b)!r:.20}: {e}") from None

    def ex_Compare(self, node: ast.Compare, env: dict) -> bool:
        left = self.eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = self.eval(comp, env)
            if any(isinstance(x, (Dim, Tensor, Pending)) for x in (left, right)):
                raise Refused(f"`{src(node)}` depends on the input tensor, which is not known until the model runs")
            if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, Container):
                right = right.items
            self.step(sum(len(x) for x in (weigh(left), weigh(right)) if isinstance(x, (list, tuple, str, dict))))
            try:
                if not _CMPOPS[type(op)](left, right):
                    return False
            except TypeError:
                raise Refused(f"`{src(node)}` compares values that do not compare") from None
            left = right
        return True
