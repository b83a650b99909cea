"""Integer expressions over a module's constructor parameters, e.g. `in_channels * expand_ratio`.

A composite module's layers take their sizes from the module's parameters, so a layer argument inside a module
may be such an expression. They are read with `ast` against a closed grammar (names, finite numbers, + - * / //
%, comparisons, and/or/not, and the functions int, max, min and round, which no identifier may shadow), bounded
in length, size and depth, evaluated here without `eval`, and rendered back as normalized source. Which names an
expression may use (the module's own parameters) is checked where the parameters are known (`graph.py`)."""

from __future__ import annotations

import ast
import functools
import math
import operator
import warnings

from .. import limits
from .grammar import EXPR_FUNCS, check_name

BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
           ast.Div: operator.truediv, ast.Mod: operator.mod}
CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not}
_FUNCS = {"int": int, "max": max, "min": min, "round": round}
_ARITY = {"int": (1, 1), "round": (1, 1), "max": (2, 4), "min": (2, 4)}
_NAMED_CONSTANTS = {"True": True, "False": False, "None": None}


class ExprError(ValueError):
    pass


def _check(node: ast.AST, depth: int = 0) -> None:
    if depth > limits.MAX_EXPR_DEPTH:
        raise ExprError(f"a size expression nested more than {limits.MAX_EXPR_DEPTH} deep")
    if isinstance(node, ast.Expression):
        return _check(node.body, depth)
    if isinstance(node, ast.Name):
        if node.id not in _NAMED_CONSTANTS:
            try:
                check_name(node.id, "a size expression's name")
            except ValueError as e:
                raise ExprError(str(e)) from None
        return None
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (int, float, bool))):
        if isinstance(node.value, float) and not math.isfinite(node.value) or \
                isinstance(node.value, (int, float)) and abs(node.value) > limits.MAX_SIZE:
            raise ExprError(f"{node.value} in a size expression is out of range")
        return None
    if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
        _check(node.left, depth + 1)
        return _check(node.right, depth + 1)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        return _check(node.operand, depth + 1)
    if isinstance(node, ast.Compare) and all(type(o) in CMPOPS for o in node.ops):
        # `is` only against None: `x is 1` is a SyntaxWarning in the generated file
        if any(isinstance(o, (ast.Is, ast.IsNot)) and not (isinstance(c, ast.Constant) and c.value is None)
               for o, c in zip(node.ops, node.comparators)):
            raise ExprError(f"`is` compares only with None: {ast.unparse(node)!r}")
        for n in (node.left, *node.comparators):
            _check(n, depth + 1)
        return None
    if isinstance(node, ast.BoolOp):
        for n in node.values:
            _check(n, depth + 1)
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in EXPR_FUNCS \
            and not node.keywords:
        low, high = _ARITY[node.func.id]
        if not low <= len(node.args) <= high or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExprError(f"{node.func.id}() takes {low}-{high} arguments: {ast.unparse(node)!r}")
        for n in node.args:
            _check(n, depth + 1)
        return None
    raise ExprError(f"not a size expression: {ast.unparse(node)[:80]!r}")


@functools.lru_cache(maxsize=4096)
def parse_expr(text: str) -> ast.Expression:
    text = text.strip()
    if len(text) > limits.MAX_EXPR_CHARS:
        raise ExprError(f"a size expression longer than {limits.MAX_EXPR_CHARS} characters")
    try:
        with warnings.catch_warnings():  # an answer's "\}" would print a DeprecationWarning to the user
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExprError(f"not a size expression: {text[:80]!r}") from None
    if sum(1 for _ in ast.walk(tree)) > limits.MAX_EXPR_NODES:
        raise ExprError(f"a size expression with more than {limits.MAX_EXPR_NODES} parts")
    _check(tree)
    return tree


def normalize(text: str) -> str:
    """Validated, canonical source of an expression."""
    return ast.unparse(parse_expr(text))


def names(text: str) -> set[str]:
    """The parameters an expression uses (not the functions it calls, nor True/False/None)."""
    tree = parse_expr(text)
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in funcs
            and n.id not in _NAMED_CONSTANTS}


def evaluate(text: str, env: dict[str, object]):
    try:
        return _eval(parse_expr(text).body, env)
    except (ArithmeticError, TypeError, ValueError) as e:  # 1 // 0, None * 2, round() of a huge float
        if isinstance(e, ExprError):
            raise
        raise ExprError(f"{text}: {e}") from None


def _eval(node: ast.AST, env: dict[str, object]):
    if isinstance(node, ast.Name):
        if node.id in _NAMED_CONSTANTS:
            return _NAMED_CONSTANTS[node.id]
        if node.id not in env:
            raise ExprError(f"unknown name {node.id!r}")
        return env[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        value = BINOPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))
        if isinstance(value, float) and not math.isfinite(value):
            raise ExprError(f"{ast.unparse(node)} is not a finite number")
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else +v if isinstance(node.op, ast.UAdd) else not v
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            if not CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Call):
        return _FUNCS[node.func.id](*(_eval(a, env) for a in node.args))
    raise ExprError(f"not a size expression: {ast.unparse(node)!r}")
