"""The closed domain of values the evaluator computes with.

Besides Python's ints, floats, bools, strings, None, tuples, lists, dicts and ranges (bounded by `check`), a value
is one of the classes here: a function or class of the answer, a layer constructor of torch.nn, a module built
from one (a layer, an instance of the answer's class, an nn.Sequential / nn.ModuleList, a module the answer uses
but does not define), a namespace (`nn`, `F`, `torch`, `math`), a builtin, or in forward a tensor or one of its
sizes. Nothing here refers to a Python object the answer could reach beyond these."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from ... import limits
from . import messages
from .messages import Refused

PLAIN = (bool, int, float, str, type(None))


def check(value: Any) -> Any:
    """A computed value within bounds: numbers within MAX_NUMBER and finite, collections within MAX_COLLECTION."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) > limits.MAX_NUMBER:
            raise Refused(messages.too_large("a number"))
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > limits.MAX_NUMBER:
            raise Refused(messages.too_large(f"{value}"))
    elif isinstance(value, (str, list, tuple, dict, range)) and len(value) > limits.MAX_COLLECTION:
        raise Refused(messages.too_large("a list, tuple, string or range"))
    return value


def weigh(value: Any) -> Any:
    """`value`, once the items it holds unfolded (a tuple holding another twice counts it twice) are within
    MAX_COLLECTION: what comparing, hashing, sorting or printing it walks. A value built of shared parts
    (`a = (a, a)` forty times) is short to build and 2**40 items to walk: refused here, before any such walk."""
    total, todo = 0, [value]
    while todo:
        v = todo.pop()
        if isinstance(v, (list, tuple, dict, str)):
            total += len(v)
            if total > limits.MAX_COLLECTION:
                raise Refused(messages.too_large("a value nested of shared parts"))
            if not isinstance(v, str):
                todo.extend([*v.keys(), *v.values()] if isinstance(v, dict) else v)
    return value


@dataclass(eq=False)
class Function:
    """A `def` of the answer (module level, or a method when `owner` is its class), or a lambda with the locals
    it was written among (`closure`)."""

    node: ast.FunctionDef | ast.Lambda
    owner: ClassRef | None = None
    closure: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return getattr(self.node, "name", "lambda")

    @property
    def static(self) -> bool:
        return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in getattr(self.node, "decorator_list", []))


@dataclass(eq=False)
class ClassRef:
    """A `class` of the answer: its methods, its class attributes (`expansion = 4`, read when first used) and
    the answer's classes it derives from."""

    node: ast.ClassDef
    bases: list[ClassRef]
    kind: str  # "module" (derives from nn.Module), "sequential" (from nn.Sequential) or "plain"
    attrs: dict[str, Any] | None = None
    made: list = field(default_factory=list)  # a record's __init__, once made

    @property
    def name(self) -> str:
        return self.node.name

    def method(self, name: str) -> Function | None:
        for cls in self.mro():
            for st in cls.node.body:
                if isinstance(st, ast.FunctionDef) and st.name == name:
                    return Function(st, cls)
            if name == "__init__" and cls.record:  # a record's own, as Python makes it, before any base's
                return cls.record_init()
        return None

    @property
    def record(self) -> bool:
        """A @dataclass or a typing.NamedTuple (read from the names alone, never a whole expression)."""
        def last(node: ast.AST) -> str:
            node = node.func if isinstance(node, ast.Call) else node
            return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
        return any(last(d) == "dataclass" for d in self.node.decorator_list) or \
            any(last(b) == "NamedTuple" for b in self.node.bases)

    def record_init(self) -> Function | None:
        """A record's `__init__` as Python makes it, `self.<field> = <field>` for each annotated field in order,
        with its default: the config records (`StageCfg(64, 2, 2)`) answers use. Made once per class. A record
        whose fields come partly from a base class, or that changes them in `__post_init__`, is refused rather
        than read another way than Python builds it."""
        if self.made:
            return self.made[0]
        if any(isinstance(st, ast.FunctionDef) and st.name == "__post_init__" for st in self.node.body) or \
                any(b.record for b in self.bases):
            raise Refused(f"the record {self.name} is not read: its fields are set in __post_init__ or come from a "
                          "base class too (write its fields in one class)", self.node.lineno)
        fields = [st for st in self.node.body if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name)
                  and not {"ClassVar", "InitVar", "KW_ONLY"} & {getattr(n, "id", getattr(n, "attr", None))
                                                                for n in ast.walk(st.annotation)}]
        args = ast.arguments(posonlyargs=[], args=[ast.arg("self")] + [ast.arg(f.target.id) for f in fields],
                             vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                             defaults=[f.value for f in fields if f.value is not None])
        init = None
        if all(f.value is not None for f in fields[len(fields) - len(args.defaults):]):  # else Python refuses it
            body = [ast.Assign(targets=[ast.Attribute(ast.Name("self", ast.Load()), f.target.id, ast.Store())],
                               value=ast.Name(f.target.id, ast.Load())) for f in fields] or [ast.Pass()]
            node = ast.FunctionDef(name="__init__", args=args, body=body, decorator_list=[], returns=None,
                                   type_params=[])
            init = Function(ast.fix_missing_locations(ast.copy_location(node, self.node)), self)
        self.made.append(init)
        return init

    def mro(self) -> list[ClassRef]:
        out, todo = [], [self]
        while todo and len(out) < limits.MAX_NESTING:
            cls = todo.pop(0)
            out.append(cls)
            todo += cls.bases
        return out


@dataclass(eq=False)
class LayerCtor:
    """A torch.nn layer class (`nn.Conv2d`, or `nn.ReLU` passed as `act_layer`); calling it makes a Layer."""

    name: str


@dataclass(eq=False)
class External:
    """A module the answer uses but does not define (`DepthwiseConv2d(...)`): a call kept for stage module:X."""

    name: str


class Module:
    """A built module. `attr` is the attribute it was first stored in, a name for the generated code."""

    attr: str | None = None


@dataclass(eq=False)
class Layer(Module):
    node: Any  # a spec layer, or a spec Call of an External module


@dataclass(eq=False)
class Container(Module):
    """nn.Sequential (runs its items in order) or nn.ModuleList (forward iterates or indexes it)."""

    items: list[Module]
    kind: str = "Sequential"


@dataclass(eq=False)
class Instance(Module):
    """An instance of the answer's class: what its __init__ set on self, in order."""

    cls: ClassRef
    attrs: dict[str, Any] = field(default_factory=dict)
    built: str = ""  # how the answer constructed it, for the spec module's doc: `BasicBlock(64, 128, 2)`
    params: dict[str, Any] = field(default_factory=dict)  # its constructor's numeric arguments, by parameter
    seq: Container | None = None  # an nn.Sequential subclass: what it passed to super().__init__


@dataclass(eq=False)
class Namespace:
    """`nn`, `F`, `torch`, `math`, `nn.init` ...: its attributes are layer constructors or builtins."""

    name: str


@dataclass(eq=False)
class Builtin:
    """A function of the allowed set (builtins.py); `run(evaluator, args, kwargs)` gives its value."""

    name: str
    run: Callable[..., Any]
    receiver: Any = None  # the object of a bound method: `layers.append`


@dataclass(eq=False)
class Bound:
    """A method of an instance of the answer's class, bound to it."""

    function: Function
    instance: Instance


@dataclass(eq=False)
class Super:
    """`super()` inside a method: only its `__init__` is called."""

    instance: Instance
    cls: ClassRef


@dataclass(eq=False)
class Weights:
    """A layer's `weight` or `bias` in a weight-init loop (`m.weight.data.normal_(0, 0.01)`): whatever is done
    to it builds nothing."""


@dataclass(eq=False)
class Dim:
    """A size of a tensor in forward (`x.size(0)`, `x.shape[2]`): known only when the model runs."""

    what: str


def describe(value: Any) -> str:
    """A value as a message names it."""
    if isinstance(value, PLAIN):
        return repr(value)[:40]
    if isinstance(value, (list, tuple, dict, range)):
        return f"a {type(value).__name__}"
    return {Instance: lambda v: f"a {v.cls.name}", ClassRef: lambda v: f"class {v.name}",
            Function: lambda v: f"function {v.name}", LayerCtor: lambda v: f"nn.{v.name}",
            Layer: lambda v: f"a {getattr(v.node, 'op', 'layer')} layer", Container: lambda v: f"an nn.{v.kind}",
            Namespace: lambda v: v.name, Builtin: lambda v: v.name, Dim: lambda v: "a tensor size",
            Weights: lambda v: "a layer's weights",
            }.get(type(value), lambda v: "a tensor")(value)
