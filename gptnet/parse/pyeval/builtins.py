"""The functions and names the evaluator allows: a few builtins, `math`, the torch.nn layer classes, `nn.init`
(a no-op: weights are not read) and the imports that name them. Each takes the evaluator, the positional and the
keyword arguments, and returns a value of the closed domain (values.py); nothing here calls into the answer.

Everything else an answer names (`exec`, `__import__`, `open`, `os` ...) is refused by name; `getattr` and `setattr`
only of an instance of the answer's class, with a usable attribute name."""

from __future__ import annotations

import ast
import math
from typing import Any

from ...spec.grammar import RESERVED_ATTRS, check_name
from ...spec.registry import lookup
from . import messages
from .messages import Refused
from .values import PLAIN, Builtin, ClassRef, Container, Instance, Layer, LayerCtor, Namespace, check, weigh

UNSAFE = frozenset({"os", "sys", "subprocess", "shutil", "socket", "importlib", "pickle", "requests", "urllib",
                    "builtins", "eval", "exec", "compile", "open", "__import__", "getattr", "setattr", "delattr",
                    "globals", "locals", "vars", "input", "breakpoint", "exit", "quit", "type", "object",
                    "memoryview", "help", "dir", "id", "hash", "iter", "next", "classmethod",
                    "staticmethod", "property"})
CONTAINERS = {"Sequential", "ModuleList", "Identity"}  # torch.nn classes that are not layers of the registry
_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "list": list, "tuple": tuple, "dict": dict}


def _ints(name: str, args: tuple) -> tuple:
    if not all(isinstance(a, int) for a in args):
        raise Refused(f"{name}() of {', '.join(type(a).__name__ for a in args)}: gptnet reads it of numbers")
    return args


def _number(name: str, x: Any) -> Any:
    if not isinstance(x, (int, float)):
        raise Refused(f"{name}() of a {type(x).__name__}: gptnet reads it of numbers")
    return x


def items_of(ev, value: Any) -> list:
    """What a for loop, list() or zip() goes through (each item a step, so nothing long runs unbounded)."""
    if isinstance(value, Container):
        value = value.items
    if isinstance(value, dict):
        value = list(value)
    if not isinstance(value, (list, tuple, range, str)):
        raise Refused(f"cannot loop over {type(value).__name__ if isinstance(value, PLAIN) else 'it'}")
    check(value)
    ev.step(len(value))
    return list(value)


def _range(ev, *args):
    if not 1 <= len(args) <= 3:
        raise Refused("range() takes one to three numbers")
    return check(range(*_ints("range", args)))


def _round(ev, x, n=None):
    return check(round(_number("round", x)) if n is None else round(_number("round", x), _ints("round", (n,))[0]))


def _minmax(f):
    def run(ev, *args, key=None, default=None):
        if key is not None:
            raise Refused(f"{f.__name__}(key=...) is not read")
        items = items_of(ev, args[0]) if len(args) == 1 else list(args)
        if not items:
            return default
        try:
            return f(items)
        except TypeError:
            raise Refused(f"{f.__name__}() of values that do not compare") from None
    return run


def _sum(ev, items, start=0):
    total = start
    for x in items_of(ev, items):
        total = check(total + _number("sum", x))
    return total


def _isinstance(ev, value, types):
    for t in types if isinstance(types, tuple) else (types,):
        if isinstance(t, Builtin) and t.name in _TYPES and isinstance(value, _TYPES[t.name]):
            return True
        if isinstance(t, LayerCtor) and (
                isinstance(value, Container) and value.kind == t.name or isinstance(value, Layer)
                and lookup(t.name) is not None and isinstance(value.node, lookup(t.name)[0])):
            return True
        if isinstance(t, ClassRef) and isinstance(value, Instance) and t in value.cls.mro():
            return True
    return False


def _convert(name: str):
    def run(ev, *args):
        if not args:
            return _TYPES[name]()
        value = args[0]
        if name in ("list", "tuple"):
            return _TYPES[name](items_of(ev, value))
        if name == "dict":
            return dict(value) if isinstance(value, dict) else dict(weigh(items_of(ev, value)))
        if not isinstance(value, PLAIN):
            raise Refused(f"{name}() of {type(value).__name__} is not read")
        if name == "str" and isinstance(value, str) is False and not isinstance(value, (int, float, bool)):
            raise Refused("str() of that is not read")
        try:
            return check(_TYPES[name](value))
        except (ValueError, OverflowError):
            raise Refused(f"{name}({value!r:.40}) is not a number") from None
    return run


def _sequence(name: str):
    def run(ev, *args):
        if name == "zip":
            return list(zip(*[items_of(ev, a) for a in args]))
        if name == "enumerate":
            return list(enumerate(items_of(ev, args[0]), *_ints("enumerate", args[1:])))
        if name == "reversed":
            return items_of(ev, args[0])[::-1]
        if name == "sorted":
            return sorted(weigh(items_of(ev, args[0])))
        return {"any": any, "all": all}[name](items_of(ev, args[0]))
    return run


def _len(ev, value):
    if isinstance(value, Container):
        return len(value.items)
    if not isinstance(value, (list, tuple, dict, str, range)):
        raise Refused("len() of that is not read")
    return len(value)


def _divmod(ev, a, b):
    if b == 0:
        raise Refused("division by zero")
    return divmod(_number("divmod", a), _number("divmod", b))


def _math(f):
    def run(ev, *args):
        try:
            return check(f(*(_number(f.__name__, a) for a in args)))
        except (ValueError, OverflowError):
            raise Refused(f"math.{f.__name__} of {args!r:.40} is not a number") from None
    return run


def _ordered(ev, items=(), **kwargs):
    return {**(dict(items) if isinstance(items, dict) else dict(items_of(ev, items))), **kwargs}


def _partial(ev, func, *bound, **named):
    """functools.partial(nn.BatchNorm2d, eps=0.001): a call with these arguments first."""
    return Builtin("partial", lambda ev2, *args, **kwargs: ev2.call(func, [*bound, *args], {**named, **kwargs},
                                                                    ast.Name("partial")))


def _hasattr(ev, owner, name):
    """hasattr(self, "shortcut"): of an instance of the answer's class only, with a name given as a string."""
    if not isinstance(owner, Instance) or not isinstance(name, str):
        raise Refused("hasattr() is read only of an instance of the answer's class, with a string")
    try:
        ev.attribute(owner, name)
    except Refused:
        return False
    return True


def _attribute_name(owner, name, what: str) -> str:
    """The attribute setattr() or getattr() names: of an instance of the answer's class, a usable identifier
    (never a dunder, a keyword or an nn.Module member such as `forward`)."""
    if not isinstance(owner, Instance):
        raise Refused(f"{what}() is read only of an instance of the answer's class")
    try:
        return check_name(name, "attribute name", reserved=RESERVED_ATTRS)
    except ValueError as e:
        raise Refused(f"{what}(): {e}") from None


def _setattr(ev, owner, name, value):
    """setattr(self, f"stage{i}", nn.Sequential(*seq)): self.stage2 = ..., with the name known at build time."""
    ev.set_attribute(owner, _attribute_name(owner, name, "setattr"), value)


def _getattr(ev, owner, name, *default):
    """getattr(self, f"layer{i}") in forward: self.layer1 ..., the default when it has no such attribute."""
    name = _attribute_name(owner, name, "getattr")
    if len(default) > 1:
        raise Refused("getattr() takes an instance, a name and at most a default")
    try:
        return ev.attribute(owner, name)
    except Refused:
        if not default:
            raise
        return default[0]


def _nothing(ev, *args, **kwargs):
    return None  # print(), nn.init.*: nothing the model's structure depends on


def _init(name: str):
    def run(ev, *args, **kwargs):
        ev.notes.append(f"ignored {name}(...): gptnet reads the layers, not their initial weights")
    return run


_FUNCS = {
    "range": _range, "len": _len, "round": _round, "max": _minmax(max), "min": _minmax(min), "sum": _sum,
    "abs": lambda ev, x: abs(_number("abs", x)), "isinstance": _isinstance, "divmod": _divmod,
    **{name: _convert(name) for name in _TYPES}, **{name: _sequence(name) for name in (
        "zip", "enumerate", "reversed", "sorted", "any", "all")},
    "print": _nothing, "OrderedDict": _ordered, "partial": _partial, "hasattr": _hasattr, "setattr": _setattr,
    "getattr": _getattr,
}
BUILTINS = {name: Builtin(name, f) for name, f in _FUNCS.items()}
_MATH = {name: Builtin(f"math.{name}", _math(getattr(math, name)))
         for name in ("ceil", "floor", "sqrt", "log", "log2", "exp", "gcd", "trunc")}
_MATH_CONSTANTS = {"pi": math.pi, "e": math.e}
MODULES = {"torch": Namespace("torch"), "torch.nn": Namespace("nn"), "torch.nn.functional": Namespace("F"),
           "math": Namespace("math"), "collections": Namespace("collections"), "torch.nn.init": Namespace("nn.init"),
           "functools": Namespace("functools")}
GLOBALS = {"torch": MODULES["torch"], "nn": MODULES["torch.nn"], "F": MODULES["torch.nn.functional"],
           "math": MODULES["math"]}  # what an answer that leaves out its imports means by these names
IGNORED_IMPORTS = {"typing", "__future__", "dataclasses", "warnings", "torchvision", "numpy",
                   "torchsummary", "thop"}


def attribute(ns: Namespace, name: str, tensor_functions: dict[str, Builtin]) -> Any:
    """`nn.Conv2d`, `F.relu`, `math.ceil`, `torch.nn`, `nn.init.kaiming_normal_` ..."""
    full = {"torch": "torch", "nn": "torch.nn", "F": "torch.nn.functional", "math": "math",
            "collections": "collections", "nn.init": "torch.nn.init", "functools": "functools"}[ns.name] + "." + name
    if full in MODULES:
        return MODULES[full]
    if ns.name == "nn" and (name in CONTAINERS or lookup(name) is not None or name[:1].isupper()):
        return LayerCtor(name)  # one gptnet lacks (nn.GroupNorm) is refused where it is called, not in isinstance
    if ns.name == "nn.init":
        return Builtin(full, _init(full))
    if ns.name == "math" and name in _MATH:
        return _MATH[name]
    if ns.name == "math" and name in _MATH_CONSTANTS:
        return _MATH_CONSTANTS[name]
    if ns.name == "collections" and name == "OrderedDict" or ns.name == "functools" and name == "partial":
        return BUILTINS[name]
    if ns.name in ("torch", "F") and name in tensor_functions:
        return tensor_functions[name]
    what = "a layer gptnet knows" if ns.name == "nn" else "read"
    raise Refused(f"`{ns.name}.{name}` is not {what}")


def imported(module: str, name: str | None, tensor_functions: dict[str, Builtin]) -> Any:
    """The value an import binds: `import torch.nn as nn` (module, None), `from torch import nn` (module, name);
    None for a module gptnet has no use for (a use of the name is then refused as unknown)."""
    if name is None:
        return MODULES.get(module)
    if (module, name) == ("typing", "cast"):  # cast(int, v) is v: a hint for the type checker
        return Builtin("cast", lambda ev, _type, value: value)
    if f"{module}.{name}" in MODULES:
        return MODULES[f"{module}.{name}"]
    if module in MODULES:
        ns = MODULES[module]
        try:
            return attribute(ns, name, tensor_functions)
        except Refused:
            return None
    return None


def refuse_unsafe(name: str) -> None:
    refuse_dunder(name)
    if name in UNSAFE:
        raise Refused(messages.unsafe(name))


def refuse_dunder(name: str) -> None:
    """`__import__`, `__class__`, `__builtins__`: never a name of the answer's, even a local."""
    if name.startswith("__"):
        raise Refused(messages.unsafe(name))
