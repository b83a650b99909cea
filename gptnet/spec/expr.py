"""Integer expressions over a module's constructor parameters, e.g. `in_channels * expand_ratio`.

A composite module's layers take their sizes from the module's parameters, so a layer argument inside a module
may be such an expression. They are read with `ast` against a whitelist (names, integers, + - * //, comparisons,
and/or/not), evaluated here without `eval`, and rendered back as normalized source.
"""

from __future__ import annotations

import ast
import functools
import operator

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv,
           ast.Div: operator.truediv, ast.Mod: operator.mod}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not}


class ExprError(ValueError):
    pass


def _check(node: ast.AST) -> None:
    if isinstance(node, ast.Expression):
        return _check(node.body)
    if isinstance(node, ast.Name):
        return None
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (int, float, bool))):
        return None
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        _check(node.left)
        return _check(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
        return _check(node.operand)
    if isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
        for n in (node.left, *node.comparators):
            _check(n)
        return None
    if isinstance(node, ast.BoolOp):
        for n in node.values:
            _check(n)
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("int", "max", "min", "round"):
        for n in node.args:
            _check(n)
        return None
    raise ExprError(f"not a size expression: {ast.unparse(node)!r}")


@functools.lru_cache(maxsize=4096)
def parse_expr(text: str) -> ast.Expression:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExprError(f"not a size expression: {text!r}") from e
    _check(tree)
    return tree


def normalize(text: str) -> str:
    """Validated, canonical source of an expression."""
    return ast.unparse(parse_expr(text))


def names(text: str) -> set[str]:
    return {n.id for n in ast.walk(parse_expr(text)) if isinstance(n, ast.Name)}


def evaluate(text: str, env: dict[str, object]):
    return _eval(parse_expr(text).body, env)


_FUNCS = {"int": int, "max": max, "min": min, "round": round}


def _eval(node: ast.AST, env: dict[str, object]):
    if isinstance(node, ast.Name):
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        if node.id not in env:
            raise ExprError(f"unknown name {node.id!r}")
        return env[node.id]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        value = _BINOPS[type(node.op)](_eval(node.left, env), _eval(node.right, env))
        return int(value) if isinstance(value, float) and value.is_integer() else value
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        return -v if isinstance(node.op, ast.USub) else not v
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Call):
        return _FUNCS[node.func.id](*(_eval(a, env) for a in node.args))
    raise ExprError(f"not a size expression: {ast.unparse(node)!r}")
