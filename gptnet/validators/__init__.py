"""Validators: diagnose and repair a model spec against the task. Each finding is a record (kind, where, before,
after, why). Per-layer rules run in one forward pass, in the order below, so each sees the shapes that the
repairs before it produced; whole-model checks follow."""

from __future__ import annotations

from ..spec.graph import ModelSpec, calls
from ..spec.layers import SpecError
from ..spec.walk import MissingArgs, run_node, signature, walk
from .budget import check_budget
from .channels import fix_channels
from .context import Repair
from .findings import Finding, Task
from .head import fix_head
from .shapes import fix_fixed_map, fix_flatten, fix_pooling
from .target import check_target

LAYER_RULES = (fix_pooling, fix_flatten, fix_fixed_map, fix_channels)
MODEL_CHECKS = (check_target, check_budget)


def undefined_modules(model: ModelSpec) -> list[str]:
    defined = {m.name for m in model.modules}
    names = [*calls(model.layers), *(n for m in model.modules for n in calls(m.body))]
    return [n for n in dict.fromkeys(names) if n not in defined]


def _layer_pass(r: Repair) -> tuple | None:
    """Repair layer by layer; the final shape, or None when a layer cannot be applied (an error finding says why)."""
    shape = tuple(r.task.input)
    i = 0
    while i < len(r.layers):
        try:  # a rule reads the layer too (binding a module call): what it cannot apply is the same error
            for rule in LAYER_RULES:
                rule(r, i, shape)
            if any(f.severity == "error" for f in r.findings):
                return None
            shape = run_node(r.layers[i], shape, r.modules, costs=False).out
        except MissingArgs as e:
            r.add("missing-argument", i, str(e), signature(r.layers[i]), severity="error")
            return None
        except TypeError:  # a size left as a name or expression where a number belongs
            r.add("invalid-layer", i, "a size of this layer is not a number", signature(r.layers[i]),
                  severity="error")
            return None
        except (SpecError, ValueError) as e:
            kind = "spatial-collapse" if "collapses" in str(e) else "invalid-layer"
            r.add(kind, i, str(e), signature(r.layers[i]), severity="error")
            return None
        i += 1
    return shape


def _costs(r: Repair) -> bool:
    """Whether every layer, inside modules too, can be costed: each size a number within its bounds."""
    try:
        walk(r.model)
    except SpecError as e:
        r.add("invalid-layer", "model", str(e), severity="error")
        return False
    return True


def validate(model: ModelSpec, task: Task) -> tuple[ModelSpec, list[Finding]]:
    """The repaired model and every finding. Errors among the findings mean the model is not usable yet."""
    model = model.model_copy(deep=True, update={"input": task.input, "num_classes": task.classes})
    r = Repair(model, task)
    for name in undefined_modules(model):
        r.add("undefined-module", name, f"{name} is used but not defined", severity="error")
    if not r.findings:
        if not model.layers:
            r.add("empty-model", "model", "the answer has no layers", severity="error")
        elif (shape := _layer_pass(r)) is not None:
            fix_head(r, shape)
            # again: what the head changed flows on (a conv head's BatchNorm follows its new width)
            if _layer_pass(r) is not None and _costs(r):
                for check in MODEL_CHECKS:
                    if any(f.severity == "error" for f in r.findings):
                        break
                    check(r)
    return r.model, r.findings


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


__all__ = ["Finding", "Task", "errors", "undefined_modules", "validate"]
