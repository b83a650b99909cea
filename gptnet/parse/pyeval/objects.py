"""Calls and attributes: the answer's functions (with their arguments bound, per call), its classes (an instance
per construction, its `__init__` run with the concrete arguments), class attributes (`expansion = 4`), methods
bound to `self`, the layers of torch.nn, and the methods of lists, dicts and layer containers."""

from __future__ import annotations

import ast
from typing import Any

from ... import limits
from ...spec.grammar import ALLOWED_STRINGS
from ...spec.layers import pair
from ...spec.registry import lookup
from ..build import BuildError, make_node
from . import messages
from .builtins import CONTAINERS, attribute, refuse_unsafe
from .evaluator import Break, Return, src
from .forward import Pending, apply, tensor_attribute
from .literals import Literals
from .messages import Refused
from .tensors import Tensor
from .values import (PLAIN, Bound, Builtin, ClassRef, Container, Dim, External, Function, Instance, Layer, LayerCtor,
                     Module, Namespace, Super, Weights, check, describe, weigh)

_PAIRS = {"kernel_size", "stride", "padding", "dilation"}
_NUMERIC = {"int", "float", "round", "max", "min", "abs", "math.ceil", "math.floor"}


class Objects(Literals):
    notes: list[str]
    tensor_functions: dict[str, Builtin]

    def ex_Attribute(self, node: ast.Attribute, env: dict) -> Any:
        if node.attr.startswith("__") and node.attr != "__init__":
            raise Refused(messages.unsafe(node.attr))
        return self.attribute(self.eval(node.value, env), node.attr)

    def attribute(self, owner: Any, name: str) -> Any:
        if isinstance(owner, Namespace):
            return attribute(owner, name, self.tensor_functions)
        if isinstance(owner, Instance):
            if name in owner.attrs:
                return owner.attrs[name]
            if name == "training":
                return False  # the graph gptnet reads is the one a model runs for inference
            if name == "modules":
                return Builtin("modules", lambda ev: list(self.walk(owner)))
            if name == "add_module":  # self.add_module("conv1", layer) is self.conv1 = layer
                return Builtin(name, lambda ev, key, value: self.set_attribute(owner, key, value))
            if name == "apply":  # self.apply(self._init_weights): initial weights, nothing built
                return Builtin(name, lambda ev, fn: self.notes.append("ignored self.apply(...): gptnet reads the "
                                                                      "layers, not their initial weights"))
            try:
                found = self.class_attribute(owner.cls, name)
            except Refused:
                if name in ("weight", "bias"):
                    return Weights()  # a weight-init loop over self.modules() reaching the model itself
                raise
            return Bound(found, owner) if isinstance(found, Function) and not found.static else found
        if isinstance(owner, ClassRef):
            return self.class_attribute(owner, name)
        if isinstance(owner, Super) and name == "__init__":
            return Builtin("super().__init__", lambda ev, *args, **kwargs: self.super_init(owner, args, kwargs))
        if isinstance(owner, Module) and name in ("weight", "bias") or isinstance(owner, Weights):
            return Weights()  # passed to nn.init, or initialized in place: nothing the structure depends on
        if isinstance(owner, (list, dict, Container)):
            return self.collection_method(owner, name)
        if isinstance(owner, Layer) and name in type(owner.node).model_fields and name not in ("op", "name"):
            value = getattr(owner.node, name)  # conv.out_channels; m.kernel_size a pair, as torch keeps it
            return pair(value) if name in _PAIRS and isinstance(value, int) else value
        if isinstance(owner, str) and name in ("lower", "upper", "startswith", "endswith"):
            return Builtin(name, lambda ev, *a: check(getattr(owner, name)(*[str(weigh(x)) for x in a])))
        if isinstance(owner, str) and name == "format":
            return Builtin(name, lambda ev, *a, **k: self.format_string(owner, a, k))
        if isinstance(owner, (Tensor, Dim, Pending)):
            return tensor_attribute(self, owner, name)
        raise Refused(f"`.{name}` of {type(owner).__name__ if isinstance(owner, PLAIN) else 'that'} is not read")

    def class_attribute(self, cls: ClassRef, name: str) -> Any:
        """`block.expansion`, `self.expansion`: the class body's constants (read once), or a method."""
        for c in cls.mro():
            if c.attrs is None:
                c.attrs = {}
                for st in c.node.body:
                    if isinstance(st, (ast.Assign, ast.AnnAssign)):
                        self.statement(st, c.attrs)
            if name in c.attrs:
                return c.attrs[name]
        method = cls.method(name)
        if method is None:
            raise Refused(f"{cls.name} has no attribute `{name}` (set in __init__ or in the class body)")
        return method

    def set_attribute(self, owner: Any, name: str, value: Any) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise Refused(f"the attribute name {describe(name)} is not an identifier")
        refuse_unsafe(name)
        if not isinstance(owner, Instance):
            raise Refused(f"setting `.{name}` on other than an instance of the answer's class is not read")
        if isinstance(value, Module) and value.attr is None:
            value.attr = name
        owner.attrs[name] = value

    def collection_method(self, owner: Any, name: str) -> Builtin:
        items = owner.items if isinstance(owner, Container) else owner

        def add(ev, *args):
            self.step(len(items) if name in ("insert", "pop") else 1)  # shifting the items is linear
            if name == "append":
                items.append(args[0])
            elif name == "extend":
                items.extend(self.iterate(args[0]))
            elif name == "insert":
                items.insert(*args)
            elif name == "add_module" and isinstance(owner, Container):
                items.append(args[1])
            elif name == "pop":
                return items.pop(*args)
            check(items)
            return None
        if isinstance(owner, dict) and name in ("get", "items", "keys", "values"):
            return Builtin(name, lambda ev, *a: check(list(getattr(owner, name)()) if name != "get" else
                                                      owner.get(*a)))
        if not isinstance(owner, dict) and name in ("append", "extend", "insert", "add_module", "pop"):
            return Builtin(name, add)
        raise Refused(f"`.{name}` of a {type(owner).__name__ if not isinstance(owner, Container) else owner.kind} "
                      "is not read")

    def walk(self, module: Any):
        """self.modules(): the module and every one inside it, as torch lists them (for weight-init loops)."""
        todo = [module]
        while todo:
            m = todo.pop(0)
            self.step()
            yield m
            todo += m.items if isinstance(m, Container) else \
                [v for v in m.attrs.values() if isinstance(v, Module)] if isinstance(m, Instance) else []

    # -- calls
    def ex_Call(self, node: ast.Call, env: dict) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id == "super" and not self.shadowed("super", env):
            if "self" not in env or "__class__" not in env:
                raise Refused("super() outside a method")
            return Super(env["self"], env["__class__"])
        func = self.eval(node.func, env)
        args: list = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                args += self.iterate(self.eval(a.value, env))
            else:
                args.append(self.eval(a, env))
        kwargs: dict = {}
        for k in node.keywords:
            value = self.eval(k.value, env)
            if k.arg is None:
                if not isinstance(value, dict) or not all(isinstance(x, str) for x in value):
                    raise Refused(f"`**{src(k.value)}` is not a dict of names")
                kwargs.update(value)
            else:
                kwargs[k.arg] = value
        return self.call(func, args, kwargs, node)

    def call(self, func: Any, args: list, kwargs: dict, node: ast.AST) -> Any:
        if isinstance(func, Builtin):
            if func.name in _NUMERIC and any(isinstance(a, Dim) for a in args):
                return Dim(f"{func.name} of a tensor size")  # int(x.size(1) * 0.5): known when the model runs
            try:
                return func.run(self, *args, **kwargs)
            except TypeError as e:  # the wrong number of arguments for the builtin
                raise Refused(f"`{src(node)}`: {e}") from None
        if isinstance(func, Function):
            return self.function(func, args, kwargs)
        if isinstance(func, Bound):
            return self.function(func.function, [func.instance, *args], kwargs)
        if isinstance(func, ClassRef):
            return self.instantiate(func, args, kwargs)
        if isinstance(func, LayerCtor):
            if func.name not in CONTAINERS and lookup(func.name) is None:
                raise Refused(f"`nn.{func.name}` is not a layer gptnet knows")
            return self.layer(func.name, args, kwargs)
        if isinstance(func, External):
            return self.layer(func.name, args, kwargs)
        if isinstance(func, Weights):
            return None
        if isinstance(func, Module):
            return apply(self, func, args, kwargs)
        raise Refused(f"`{src(node)}` calls something that is not a function, a class or a layer")

    def function(self, fn: Function, args: list, kwargs: dict) -> Any:
        self.calls += 1
        try:
            if self.calls > limits.MAX_CALL_DEPTH:
                raise Refused(messages.too_deep())
            for d in getattr(fn.node, "decorator_list", []):
                if not (isinstance(d, ast.Name) and d.id == "staticmethod"):
                    raise Refused(f"the decorator @{src(d)} of {fn.name} is not read", d.lineno)
            env = {**(fn.closure or {}), **self.bind(fn, args, kwargs)}
            if fn.owner is not None:
                env["__class__"] = fn.owner
            if isinstance(fn.node, ast.Lambda):
                return self.eval(fn.node.body, env)
            try:
                self.run(fn.node.body, env)
            except Return as r:
                return r.value
            except Break as b:  # Python's compiler refuses this; ast.parse lets it through
                raise Refused(f"break or continue outside a loop in {fn.name}", b.line) from None
            return None
        finally:
            self.calls -= 1

    def bind(self, fn: Function, args: list, kwargs: dict) -> dict[str, Any]:
        """A call's arguments bound to the function's parameters, as Python binds them."""
        a, name = fn.node.args, fn.name
        positional = [x.arg for x in a.posonlyargs + a.args]
        defaults = dict(zip(positional[len(positional) - len(a.defaults):], a.defaults))
        defaults.update({x.arg: d for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None})
        env = dict(zip(positional, args))
        if len(args) > len(positional):
            if a.vararg is None:
                raise Refused(f"{name}() takes {len(positional)} arguments but {len(args)} are given")
            env[a.vararg.arg] = tuple(args[len(positional):])
        elif a.vararg is not None:
            env[a.vararg.arg] = ()
        extra = {}
        for k, v in kwargs.items():
            if k in positional[:len(args)]:
                raise Refused(f"{name}() gets {k} twice")
            if k in positional or k in (x.arg for x in a.kwonlyargs):
                env[k] = v
            elif a.kwarg is not None:
                extra[k] = v
            else:
                raise Refused(f"{name}() has no parameter {k}")
        if a.kwarg is not None:
            env[a.kwarg.arg] = extra
        for p in positional + [x.arg for x in a.kwonlyargs]:
            if p not in env:
                if p not in defaults:
                    raise Refused(f"{name}() needs {p}")
                env[p] = self.eval(defaults[p], dict(fn.closure or {}))
        return env

    def ex_Lambda(self, node: ast.Lambda, env: dict) -> Function:
        return Function(node, closure=env)

    def instantiate(self, cls: ClassRef, args: list, kwargs: dict) -> Instance:
        shown = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
        instance = Instance(cls, built=f"{cls.name}({', '.join(shown)})")
        init = cls.method("__init__")
        if init is not None:
            bound = self.bind(init, [instance, *args], kwargs)
            instance.params = {k: v for k, v in list(bound.items())[1:] if isinstance(v, (int, float, bool))}
            result = self.function(init, [instance, *args], kwargs)
            if result is not None:
                raise Refused(f"{cls.name}.__init__ returns a value")
        elif args or kwargs:
            raise Refused(f"{cls.name} takes no arguments (it has no __init__)")
        if cls.kind == "sequential" and instance.seq is None:
            instance.seq = Container([])
        return instance

    def super_init(self, sup: Super, args: tuple, kwargs: dict) -> None:
        """nn.Module's __init__ builds nothing; nn.Sequential's takes the layers; a base class of the answer's own
        runs its __init__ on the same instance."""
        if not isinstance(sup.instance, Instance):  # `super()` in a method called on something else
            raise Refused(f"super() in {sup.cls.name} is called on {describe(sup.instance)}, not an instance of it")
        base = next((b for b in sup.cls.bases), None)
        if base is not None and base.kind != "plain" and base.method("__init__") is not None:
            self.function(base.method("__init__"), [sup.instance, *args], kwargs)
        elif sup.instance.cls.kind == "sequential" and (args or kwargs):
            sup.instance.seq = self.sequential(list(args), kwargs)

    def sequential(self, args: list, kwargs: dict, kind: str = "Sequential") -> Container:
        if kwargs:
            raise Refused(f"nn.{kind} takes no keyword arguments")
        if kind == "ModuleList":
            args = self.iterate(args[0]) if args else []
        elif len(args) == 1 and isinstance(args[0], dict):  # nn.Sequential(OrderedDict([...])): named layers
            named = list(args[0].items())
            args = [m for _, m in named]
            for key, m in named:
                if isinstance(m, Module) and m.attr is None and isinstance(key, str):
                    m.attr = key
        for m in args:
            if not isinstance(m, Module):
                raise Refused(f"nn.{kind} of {type(m).__name__ if isinstance(m, PLAIN) else 'other than layers'}")
        return Container(list(args), kind)

    def layer(self, name: str, args: list, kwargs: dict) -> Module:
        if name in CONTAINERS:
            return Container([]) if name == "Identity" else self.sequential(args, kwargs, name)
        for v in [*args, *kwargs.values()]:
            for x in v if isinstance(v, tuple) else (v,):
                if not isinstance(x, PLAIN):
                    raise Refused(f"{name}(...) takes numbers, strings and flags, not a "
                                  f"{type(x).__name__ if not isinstance(x, Module) else 'module'}")
                if isinstance(x, str) and x.lower() not in ALLOWED_STRINGS:  # never a size expression: all is known
                    raise Refused(f"{name}(...) takes the string {x[:20]!r}, which is not one of its options")
        self.step()
        try:
            return Layer(make_node(name, [list(a) if isinstance(a, list) else a for a in args], kwargs,
                                   notes=self.notes))
        except BuildError as e:
            raise Refused(str(e)) from None
