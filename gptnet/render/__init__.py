"""Spec to `model.py` through Jinja templates: standalone PyTorch (imports only torch) that reads like
torchvision's resnet.py: one plain class per composite module, the model class, and `build_model`.

Everything that reaches the file is either template text, an identifier of the closed grammar (`spec/grammar.py`),
a validated size expression (`spec/expr.py`), a literal written by `grammar.literal`, or text made inert by
`grammar.clean_text`; nothing from an LLM answer is copied verbatim. `verify.py` then re-reads the result."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, StrictUndefined

from ..errors import DesignError
from ..spec import expr
from ..spec.grammar import RESERVED_ATTRS, clean_text, literal
from ..spec.graph import Call, Concat, Gate, ModelSpec, ModuleSpec, Residual, branches, calls, expressions
from ..spec.layers import ACTIVATIONS, Layer, fmt

_PREFIX = {"Conv2d": "conv", "DWConv2d": "dwconv", "BatchNorm2d": "bn", "Linear": "fc", "MaxPool2d": "pool",
           "AvgPool2d": "pool", "AdaptiveAvgPool2d": "pool", "AdaptiveMaxPool2d": "pool", "Flatten": "flatten",
           "Dropout": "dropout", "Identity": "identity", "LayerNorm": "norm", "Upsample": "upsample"}


class RenderError(ValueError):
    pass


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def node_source(node, overrides: dict[str, str] | None = None) -> str:
    if isinstance(node, Layer):
        return node.render("nn.", overrides)
    if isinstance(node, Call):
        parts = [fmt(a) for a in node.args] + [f"{k}={fmt(v)}" for k, v in node.kwargs.items()]
        return f"{node.module}({', '.join(parts)})"
    raise RenderError(f"a {type(node).__name__} cannot sit inside a branch here; define it as a module of its own")


@dataclass
class ModuleCode:
    """The lines of one rendered class: constructor parameters, __init__ body and forward body."""

    name: str
    signature: str
    doc: str
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)


class _Namer:
    def __init__(self) -> None:
        self.used: set[str] = set()

    def __call__(self, node, hint: str | None = None) -> str:
        base = hint or getattr(node, "name", None)
        if not base:
            if isinstance(node, Call):
                base = snake(node.module)
            elif isinstance(node, Layer):
                base = node.op.lower() if node.op in ACTIVATIONS else _PREFIX.get(node.op, node.op.lower())
            else:
                base = "block"
        name, n = base, 1
        while name in self.used or name in RESERVED_ATTRS:  # `self.forward = ...` would replace the method
            n += 1
            name = f"{base}{n}"
        self.used.add(name)
        return name


def _branch(nodes: list, code: ModuleCode, namer: _Namer, hint: str) -> str | None:
    """Assign a branch to one attribute (a layer, or an nn.Sequential); its name, or None for the identity."""
    if not nodes:
        return None
    attr = namer(nodes[0] if len(nodes) == 1 else None, None if len(nodes) == 1 else hint)
    if len(nodes) == 1:
        code.init.append(f"self.{attr} = {node_source(nodes[0])}")
    else:
        code.init.append(f"self.{attr} = nn.Sequential(")
        code.init += [f"    {node_source(n)}," for n in nodes]
        code.init.append(")")
    return attr


def _module_code(module: ModuleSpec) -> ModuleCode:
    sig = []
    for p in module.params:
        if p in module.derived:
            sig.append(f"{p}=None")
        elif p in module.defaults:
            sig.append(f"{p}={literal(module.defaults[p])}")
        else:
            sig.append(p)
    code = ModuleCode(module.name, ", ".join(["self", *sig]), clean_text(module.doc or f"The {module.name} block."))
    for p, text in module.derived.items():
        code.init += [f"if {p} is None:", f"    {p} = {text}"]
    namer = _Namer()
    for node in module.body:
        if isinstance(node, (Layer, Call)):
            attr = namer(node)
            code.init.append(f"self.{attr} = {node_source(node)}")
            code.forward.append(f"x = self.{attr}(x)")
        elif isinstance(node, Residual):
            body = _branch(node.body, code, namer, "conv" if not node.shortcut else "residual")
            short = _branch(node.shortcut, code, namer, "shortcut")
            body_x = f"self.{body}(x)" if body else "x"
            short_x = f"self.{short}(x)" if short else "x"
            if node.when:
                flag = namer(None, "use_residual")
                code.init.append(f"self.{flag} = {node.when}")
                code.forward += [f"if self.{flag}:", f"    x = {body_x} + {short_x}", "else:", f"    x = {body_x}"]
            else:
                code.forward.append(f"x = {body_x} + {short_x}")
        elif isinstance(node, Concat):
            attrs = [_branch(b, code, namer, f"branch{k + 1}") for k, b in enumerate(node.branches)]
            parts = ", ".join(f"self.{a}(x)" if a else "x" for a in attrs)
            code.forward.append(f"x = torch.cat([{parts}], 1)")
        elif isinstance(node, Gate):
            code.forward.append(f"x = x * self.{_branch(node.gate, code, namer, 'gate')}(x)")
    code.forward.append("return x")
    return code


_GRAPH = (Residual, Concat, Gate)


def _lift_blocks(model: ModelSpec) -> ModelSpec:
    """A residual, concat or gate becomes a module of its own where it cannot be written inline: at the top level,
    so the model stays one Sequential, and inside another one's branch, so every branch is layers and calls. A
    module lifted from inside another takes, by name, the parameters its sizes use."""
    modules = list(model.modules)
    taken = {m.name for m in modules}

    def lift(node) -> Call:
        kind, n = "Gate" if isinstance(node, Gate) else "Block", 1
        while f"{kind}{n}" in taken:
            n += 1
        name = f"{kind}{n}"
        taken.add(name)
        used = sorted({p for text in expressions([node]) for p in expr.names(text)})
        modules.append(ModuleSpec(name=name, params=used, body=[node]))
        return Call(module=name, kwargs={p: p for p in used})

    def flat(node):
        """The node with each graph node in its branches lifted."""
        lifted = [[lift(n) if isinstance(n, _GRAPH) else n for n in b] for b in branches(node)]
        if isinstance(node, Residual):
            return node.model_copy(update={"body": lifted[0], "shortcut": lifted[1]})
        if isinstance(node, Concat):
            return node.model_copy(update={"branches": lifted})
        return node.model_copy(update={"gate": lifted[0]}) if isinstance(node, Gate) else node

    layers = [lift(node) if isinstance(node, _GRAPH) else node for node in model.layers]
    i = 0
    while i < len(modules):  # modules lifted on the way are visited in turn
        modules[i] = modules[i].model_copy(update={"body": [flat(n) for n in modules[i].body]})
        i += 1
    return model.model_copy(update={"layers": layers, "modules": modules})


def _used_modules(model: ModelSpec) -> list[ModuleSpec]:
    """Modules the model uses, each after the modules it calls (so the file reads top-down)."""
    by_name = {m.name: m for m in model.modules}
    order: list[ModuleSpec] = []

    def visit(name: str) -> None:  # the spec refuses modules that call themselves, so this ends
        if name in by_name and by_name[name] not in order:
            for inner in calls(by_name[name].body):
                visit(inner)
            order.append(by_name[name])

    for name in calls(model.layers):
        visit(name)
    return order


_ENV = Environment(loader=PackageLoader("gptnet.render", "templates"), undefined=StrictUndefined,
                   keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def render_checked(model: ModelSpec, header: dict[str, str], what: str, report_with: str) -> str:
    """`render_model`, refused if gptnet's own verifier would refuse the file: the grammar should make that
    impossible, and nothing gptnet writes may fail its own check. `what` names the file, `report_with` the
    file that reproduces it."""
    from ..verify import check_source

    source = render_model(model, header)
    if problem := check_source(source.encode("utf-8")):
        raise DesignError(f"{what} fails gptnet's own check ({problem})", f"please report it with {report_with}")
    return source


def render_model(model: ModelSpec, header: dict[str, str] | None = None) -> str:
    """The source of `model.py` for a validated model."""
    model = _lift_blocks(model)
    layers, follows_head = [], False
    for i, node in enumerate(model.layers):
        overrides = {}
        if i == model.head and isinstance(node, Layer) and node.channel_out:
            overrides, follows_head = {node.channel_out: "num_classes"}, True
        elif follows_head and isinstance(node, Layer) and not node.channel_out:
            # a conv head's BatchNorm takes the class count too, so build_model(num_classes=...) stays consistent
            if node.channel_in and getattr(node, node.channel_in) == model.num_classes:
                overrides = {node.channel_in: "num_classes"}
        else:
            follows_head = False
        layers.append(node_source(node, overrides))
    return _ENV.get_template("model.py.j2").render(
        title=clean_text(model.name), class_name=model.class_name,
        modules=[_module_code(m) for m in _used_modules(model)], layers=layers, num_classes=model.num_classes,
        input=model.input, header=[clean_text(line, 1000) for line in (header or {}).values()])
