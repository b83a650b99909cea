"""A whole program of an answer, built as torch would build it: the module level read (imports, constants,
helper and factory functions, classes), the model found (a module-level `model = X(...)`, a factory, or a
whole-network class that needs nothing but the class count), constructed with its concrete arguments, and every
module instance in it traced through its `forward` into a spec module. Instances that trace to the same layers
share one spec module (`BasicBlock`); others of the same class are numbered (`BasicBlock_2`) until
generalize.py folds those its constructor's arguments explain into one parametrised module."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from pydantic import ValidationError

from ... import limits
from ...spec.grammar import check_name
from ...spec.graph import Call, Concat, Gate, ModuleSpec, Residual, branches
from ...spec.layers import AdaptiveAvgPool2d, AdaptiveMaxPool2d, Flatten, Linear
from ..answer import Candidate, flat_errors
from .builtins import GLOBALS, IGNORED_IMPORTS, imported
from .evaluator import src
from .forward import TENSOR_FUNCTIONS, apply, channels
from .generalize import generalize
from .messages import Refused
from .objects import Objects
from .tensors import Chainer, Tensor
from .values import ClassRef, Container, Function, Instance, Module, describe

NUM_CLASSES = re.compile(r"^(num_?classes|n_?classes|classes|num_class|num_outputs|n_out)$")
_MOVES = {"to", "cuda", "cpu", "eval", "train", "float", "half", "double"}  # methods that build nothing
DEFAULT_CLASSES = 100  # a whole-network class whose class count has no default (validators fit the head)


class Evaluator(Objects, Chainer):
    def __init__(self, tree: ast.Module, notes: list[str], steps: int = 0) -> None:
        super().__init__()
        self.steps = steps  # one budget for every attempt at one answer
        self.notes, self.tensor_functions = notes, TENSOR_FUNCTIONS
        self.room = limits.MAX_EXPANDED  # layers the traced forwards may still apply
        # per forward being traced: the modules and names it applied, and its `x + 3`s not yet taken up (Pending)
        self.applied: list[dict[str, Any]] = []
        self.specs: dict[int, str | None] = {}  # id(instance) -> its spec module (None: it is the identity)
        self.shared: dict[str, str] = {}  # a spec module's class and layers -> its name
        self.modules: list[ModuleSpec] = []
        self.out_channels: dict[str, int | None] = {}
        self.classes: dict[str, str] = {}  # spec module -> the class it specialises, as spec modules name it
        self.params: dict[str, dict[str, Any]] = {}  # spec module -> its instance's numeric arguments
        self.globals = dict(GLOBALS)
        self.entries: list[ast.Call] = []  # module-level constructions of the model
        self.sequentials: list[tuple[str, int]] = []  # module-level `net = nn.Sequential(...)`: name, line
        self.load(tree)

    def spend(self, layers: int) -> None:
        self.room -= layers
        if self.room < 0:
            raise Refused(f"the model applies more than {limits.MAX_EXPANDED:,} layers (MAX_EXPANDED)")

    # -- the module level
    def load(self, tree: ast.Module) -> None:
        for st in tree.body:
            if isinstance(st, (ast.Import, ast.ImportFrom)):
                for a in st.names:
                    if isinstance(st, ast.Import):  # `import torch.nn` binds torch; `import torch.nn as nn`, nn
                        key, value = a.asname or a.name.split(".")[0], imported(
                            a.name if a.asname else a.name.split(".")[0], None, self.tensor_functions)
                    else:
                        key, value = a.asname or a.name, imported(st.module or "", a.name, self.tensor_functions)
                    if value is not None:
                        self.globals[key] = value
                    elif (getattr(st, "module", None) or a.name).split(".")[0] not in IGNORED_IMPORTS:
                        self.notes.append(f"line {st.lineno}: ignored `{src(st)}`")
            elif isinstance(st, ast.ClassDef):
                bases = [self.globals.get(b.id) for b in st.bases if isinstance(b, ast.Name)]
                bases = [b for b in bases if isinstance(b, ClassRef)]
                names = [src(b) for b in st.bases]
                kind = "sequential" if any(n.endswith("Sequential") for n in names) else "module" if any(
                    n.endswith("Module") for n in names) else bases[0].kind if bases else "plain"
                self.globals[st.name] = ClassRef(st, bases, kind)
            elif isinstance(st, ast.FunctionDef):
                self.globals[st.name] = Function(st)
            elif isinstance(st, (ast.Assign, ast.AnnAssign)) and st.value is not None:
                if self.constructs(st.value):
                    self.entries.append(self.construction(st.value))
                    continue
                target = st.targets[0] if isinstance(st, ast.Assign) else st.target
                if isinstance(st.value, ast.Call) and src(st.value.func).endswith("Sequential") and \
                        isinstance(target, ast.Name):
                    self.sequentials.append((target.id, st.lineno))
                try:
                    self.statement(st, self.globals)
                except Refused as e:  # refused when used, with the reason
                    for t in st.targets if isinstance(st, ast.Assign) else [st.target]:
                        if isinstance(t, ast.Name):
                            self.globals[t.id] = e
            elif isinstance(st, ast.If) and src(st.test).replace("'", '"') == '__name__ == "__main__"':
                self.entries += [self.construction(s.value) for s in st.body
                                 if isinstance(s, ast.Assign) and self.constructs(s.value)]

    @staticmethod
    def construction(value: ast.AST) -> ast.AST:
        """`Net().to(device).eval()` is `Net()` for what it builds."""
        while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in _MOVES:
            value = value.func.value
        return value

    def constructs(self, value: ast.AST) -> bool:
        """`ResNet18()`, `MobileNetV2(num_classes=10)`: a call of a module class or of a function of the answer."""
        value = self.construction(value)
        func = self.globals.get(value.func.id) if isinstance(value, ast.Call) and \
            isinstance(value.func, ast.Name) else None
        return isinstance(func, Function) or isinstance(func, ClassRef) and func.kind != "plain"

    # -- spec modules
    def module_spec(self, instance: Instance) -> str | None:
        """The spec module an instance specialises to, traced through its forward once."""
        if id(instance) not in self.specs:
            if len(self.applied) > limits.MAX_NESTING:
                raise Refused(f"modules nest more than {limits.MAX_NESTING} deep (MAX_NESTING)")
            nodes, out = self.trace(instance)
            if not nodes:
                self.specs[id(instance)] = None
                return None
            body = [n.model_dump(mode="json") for n in nodes]
            base = instance.cls.name.lstrip("_")  # a private class (`_InvertedResidual`) is named without the _
            key = json.dumps([base, body], sort_keys=True)
            if key not in self.shared:
                if len(self.modules) >= limits.MAX_SPECIALISATIONS:
                    raise Refused(f"the model's classes are built in more than {limits.MAX_SPECIALISATIONS} "
                                  "different ways (MAX_SPECIALISATIONS)")
                same = sum(1 for k in self.shared if json.loads(k)[0] == base)
                name = base if not same else f"{base}_{same + 1}"
                try:
                    check_name(name, "module name")
                except ValueError as e:
                    raise Refused(f"class {instance.cls.name}: {e}") from None
                self.shared[key] = name
                doc = (ast.get_docstring(instance.cls.node) or "").strip().splitlines()
                lead = doc[0].rstrip(".") + ", as" if doc else "As the answer builds it:"
                doc = f"{lead} {instance.built[:200]}."
                try:
                    self.modules.append(ModuleSpec(name=name, body=nodes, doc=doc))
                except ValidationError as e:
                    raise Refused(f"class {instance.cls.name}: {flat_errors(e)}") from None
                self.out_channels[name] = channels(self, out)
                self.classes[name], self.params[name] = base, instance.params
            self.specs[id(instance)] = self.shared[key]
        return self.specs[id(instance)]

    def trace(self, module: Module) -> tuple[list, Tensor]:
        """The layers a module applies, in order, with residual adds, gates and concats; and its output."""
        name = module.cls.name if isinstance(module, Instance) else "the model"
        forward = module.cls.method("forward") if isinstance(module, Instance) else None
        self.applied.append({"modules": set(), "names": set(), "pending": []})
        try:
            nodes, out = self.follow(module, forward, name)
        except Refused as e:
            if e.line is None and not e.message.startswith(name):
                e.message = f"{name}.forward: {e.message}"
            e.line = e.line or (forward.node.lineno if forward is not None else None)
            raise
        finally:
            applied = self.applied.pop()
        if isinstance(module, Instance) and forward is not None:
            for attr, value in module.attrs.items():
                if isinstance(value, Module) and id(value) not in applied["modules"] and not (
                        isinstance(value, Container) and all(id(m) in applied["modules"] for m in value.items)):
                    self.notes.append(f"{name}: self.{attr} is built in __init__ but never used in forward; left out")
        return nodes, out

    def follow(self, module: Module, forward: Function | None, name: str) -> tuple[list, Tensor]:
        """`trace` of one module, in its own entry of `applied`. An `x + 3` no hard sigmoid took up is refused as
        it was, rather than whatever it led to (forward.Pending)."""
        inp, pending = Tensor("in"), self.applied[-1]["pending"]
        try:
            if forward is not None:
                out = self.function(forward, [module, inp], {})
            elif isinstance(module, Instance) and module.seq is not None:
                out = apply(self, module.seq, [inp], {})
            elif isinstance(module, Container):
                out = apply(self, module, [inp], {})
            else:
                raise Refused(f"{name} has no forward")
            if not isinstance(out, Tensor):
                raise Refused(f"{name}.forward returns {describe(out)}, not one tensor")
            nodes = self.chain(out, inp)
        except Refused:
            if pending:
                raise pending[0].refusal from None
            raise
        if pending:
            raise pending[0].refusal
        return nodes, out


def lift_graph(owner: str, nodes: list, generated: list[ModuleSpec], notes: list[str]) -> list:
    """A model's top-level add, concat or gate as a generated module of its own (`ResNetTinyBlock1`), so that the
    model stays one chain of layers and calls."""
    out = []
    for node in nodes:
        if isinstance(node, (Residual, Concat, Gate)):
            block = f"{owner}Block{len(generated) + 1}"
            generated.append(ModuleSpec(name=block, body=[node], doc=f"the {node.op} in {owner}.forward"))
            notes.append(f"{owner}: the top-level {node.op} in forward is the generated module {block}")
            node = Call(module=block, name=block.lower())
        out.append(node)
    return out


def has_head(nodes: list, modules: list[ModuleSpec]) -> bool:
    """Whether a chain ends as a classifier does, somewhere: a Linear, a Flatten or a global pool (what a model
    has and a block constructed to try it has not)."""
    bodies = {m.name: m.body for m in modules}
    todo, seen = list(nodes), set()
    while todo:
        node = todo.pop()
        if isinstance(node, (Linear, Flatten, AdaptiveAvgPool2d, AdaptiveMaxPool2d)):
            return True
        if isinstance(node, Call) and node.module in bodies and node.module not in seen:
            seen.add(node.module)
            todo += bodies[node.module]
        todo += [n for b in branches(node) for n in b]
    return False


def _candidate(ev: Evaluator, model: Any, name: str) -> Candidate:
    if not isinstance(model, Module):
        raise Refused(f"{name} makes {describe(model)}, not a model")
    nodes, _ = ev.trace(model)
    if not nodes:
        raise Refused(f"{name} applies no layer")
    owner = model.cls.name if isinstance(model, Instance) else name
    doc = ast.get_docstring(model.cls.node) if isinstance(model, Instance) else None
    try:
        return Candidate(name=name, layers=lift_graph(owner, nodes, ev.modules, ev.notes), context=doc or "")
    except ValidationError as e:
        raise Refused(f"{name}: {flat_errors(e)}") from None


def _named(ev: Evaluator, tree: ast.Module) -> set[str]:
    """The names the program's classes and factories use (a training loop's `model = ResNet8()` does not make
    ResNet8 a block): a class or function none of them names is a top-level one."""
    named: set[str] = set()
    for st in tree.body:
        if isinstance(fn := ev.globals.get(getattr(st, "name", None)), Function) and not _returns_model(fn):
            continue
        named.update(n.id for n in ast.walk(st) if isinstance(n, ast.Name) and not (
            isinstance(st, (ast.ClassDef, ast.FunctionDef)) and n.id == st.name))
    return named


def _networks(ev: Evaluator, named: set[str]) -> list[ClassRef]:
    """Module classes nothing else names, with a forward (or an nn.Sequential's own)."""
    return [v for v in list(ev.globals.values()) if isinstance(v, ClassRef) and v.kind != "plain" and
            v.name not in named and (v.method("forward") is not None or v.kind == "sequential")]


def _whole_networks(ev: Evaluator, tree: ast.Module) -> list[tuple[str, ast.Call]]:
    """Module classes nothing else names, whose constructor needs at most the class count: each one a model."""
    out = []
    for value in _networks(ev, _named(ev, tree)):
        init = value.method("__init__")
        a = init.node.args if init else None
        positional = [x.arg for x in a.posonlyargs + a.args][1:] if a else []
        required = positional[:len(positional) - len(a.defaults)] if a else []
        if all(map(NUM_CLASSES.match, required)):
            call = ast.Call(func=ast.Name(value.name, ast.Load()), args=[],
                            keywords=[ast.keyword(arg=r, value=ast.Constant(DEFAULT_CLASSES)) for r in required])
            out.append((value.name, ast.fix_missing_locations(ast.copy_location(call, value.node))))
    return out


def unbuilt(tree: ast.Module) -> list[str]:
    """The models a program defines but leaves unbuilt with a choice open, as signatures to ask the LLM about
    (`MNASNet(alpha, num_classes=1000, dropout=0.2)`): the module classes and factory functions nothing else names
    that take a parameter besides the class count, when the program constructs no model itself (at the module
    level or with a factory that takes nothing)."""
    probe = Evaluator(tree, [])
    if probe.entries:
        return []
    named = _named(probe, tree)
    factories = [v for v in list(probe.globals.values()) if isinstance(v, Function) and v.name not in named
                 and _returns_model(v)]
    if any(not _parameters(f.node) for f in factories):
        return []
    builders = [(c.name, init.node) for c in _networks(probe, named) if (init := c.method("__init__"))] + \
        [(f.name, f.node) for f in factories]
    return [_signature(name, node) for name, node in builders if _parameters(node)]


def _parameters(fn: ast.FunctionDef) -> list[str]:
    """A builder's parameters but `self` and the class count (which the task sets)."""
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs] + \
        [f"*{x.arg}" for x in (a.vararg,) if x] + [f"**{x.arg}" for x in (a.kwarg,) if x]
    return [n for n in names if n != "self" and not NUM_CLASSES.match(n)]


def _signature(name: str, fn: ast.FunctionDef) -> str:
    """`MNASNet(alpha, num_classes=1000, dropout=0.2)`, each default cut short."""
    shown = ast.unparse(fn.args)
    shown = re.sub(r"^self(, |$)", "", shown)
    return f"{name}({shown if len(shown) <= 160 else shown[:157] + '...'})"


def read_program(tree: ast.Module, notes: list[str], implicit: bool) -> tuple[list[Candidate], list[ModuleSpec]]:
    """The models an answer's program builds and the spec modules they use; ([], []) when it builds none that
    gptnet finds: the model it constructs (a module-level `model = X(...)`), else the first factory function that
    needs no argument and builds a model (`def ResNet18(): ...`; a `main()` that trains is passed over), else with
    `implicit` (or when the training function the program calls, `model = train()`, is refused) a module-level
    nn.Sequential or each whole-network class. Refused, naming the line, when building one is refused (a factory's
    or a training function's refusal only when nothing else builds)."""
    probe = Evaluator(tree, [])
    failure, steps = None, probe.steps
    if probe.entries:
        ev = Evaluator(tree, [], steps)
        try:
            return _build(ev, notes, [(src(c.func), c) for c in probe.entries])
        except Refused as e:  # a training script around the model (`model = train()`): its model class may build
            if not all(isinstance(f := probe.globals.get(src(c.func)), Function) and not _factory(f)
                       for c in probe.entries):
                raise
            failure, steps = e, ev.steps
    for fn in (v for v in list(probe.globals.values()) if isinstance(v, Function) and _factory(v)):
        call = ast.Call(func=ast.Name(fn.name, ast.Load()), args=[], keywords=[], lineno=fn.node.lineno)
        ev = Evaluator(tree, [], steps)
        try:
            return _build(ev, notes, [(fn.name, call)])
        except Refused as e:
            failure, steps = failure or e, ev.steps
    if not implicit and not probe.entries:
        return [], []
    entries = [(name, ast.Name(name, ast.Load(), lineno=line)) for name, line in probe.sequentials] or \
        _whole_networks(probe, tree)
    if not entries and failure:
        raise failure
    return _build(Evaluator(tree, [], steps), notes, entries) if entries else ([], [])


def _factory(fn: Function) -> bool:
    """`def ResNet18(): return ResNet(BasicBlock, [2, 2, 2, 2])`: a function that returns a model (`_returns_model`)
    and needs no argument."""
    return _returns_model(fn) and not _required(fn) and fn.node.args.vararg is None


def _returns_model(fn: Function) -> bool:
    """Returns a call, or a name it assigns a class's call to (`model = CifarSEResNet(...)`; `return model`)."""
    made = {t.id for s in fn.node.body if isinstance(s, ast.Assign) and isinstance(s.value, ast.Call)
            and isinstance(s.value.func, ast.Name) for t in s.targets if isinstance(t, ast.Name)}
    return any(isinstance(s, ast.Return) and (isinstance(s.value, ast.Call) or isinstance(s.value, ast.Name)
                                              and s.value.id in made) for s in fn.node.body)


def _build(ev: Evaluator, notes: list[str], entries: list[tuple[str, ast.AST]]
           ) -> tuple[list[Candidate], list[ModuleSpec]]:
    """The models the entries construct, each traced, in a fresh evaluator; its notes added to `notes`."""
    models, seen = [], set()
    for name, call in entries:
        if ast.dump(call) in seen:
            continue
        seen.add(ast.dump(call))
        try:
            models.append(_candidate(ev, ev.eval(call, {}), name))
        except Refused as e:
            e.line = e.line or getattr(call, "lineno", None)
            raise
    try:
        modules, chains = generalize(ev.modules, ev.classes, ev.params, [m.layers for m in models])
        models = [Candidate.model_validate({**m.model_dump(), "layers": c}) for m, c in zip(models, chains)]
    except (ValueError, ValidationError) as e:  # the folds are for reading; the specialisations are exact
        ev.notes.append(f"the modules are left one per construction ({str(e)[:80]})")
        modules = ev.modules
    notes += ev.notes
    return models, modules


def _required(fn: Function) -> list[str]:
    a = fn.node.args
    positional = [x.arg for x in a.posonlyargs + a.args]
    return positional[:len(positional) - len(a.defaults)] + [x.arg for x, d in zip(a.kwonlyargs, a.kw_defaults)
                                                              if d is None]
