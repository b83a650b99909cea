"""Operators against the target profile. Repair comes before refusal: an unsupported activation becomes an exact
rewrite in operators the target runs when there is one (SiLU is x * sigmoid(x)), else the target's activation; the
function that scales in a gate becomes the other gate function the target runs (a hard sigmoid is the sigmoid's
piecewise-linear stand-in, MobileNetV3's h-sigmoid), never a ReLU, which would not scale. Each change is recorded;
anything else unsupported is an error the re-ask names, for the LLM or the user. Support is judged on the concrete
layers a module call expands to, since a conv inside a module is depthwise or not only once its arguments are
known."""

from __future__ import annotations

from ..spec.graph import Concat, Gate, Residual
from ..spec.layers import ACTIVATIONS, Layer
from ..spec.registry import get_layer
from ..spec.walk import Step, walk
from .context import Repair


# activation -> the operators it can be written in instead, the formula, and that same function as a node
_EXACT = {"SiLU": (("Sigmoid", "Mul"), "x * sigmoid(x)", lambda: Gate(gate=[get_layer("Sigmoid")()]))}
_GATE_FUNCTIONS = ("Sigmoid", "Hardsigmoid")


def _replace(r: Repair, nodes: list, j: int, new, place: str, why: str) -> None:
    before = nodes[j].signature()
    nodes[j] = new
    r.add("unsupported-operator", place, why, before,
          new.signature() if isinstance(new, Layer) else f"x * {' '.join(n.signature() for n in new.gate)}")


def _swap_activations(r: Repair, nodes: list, where: str, stop: int | None = None) -> None:
    """Swap the unsupported activations among nodes[:stop] (and in their branches), in place."""
    target = r.task.target
    for j, node in enumerate(nodes[:stop]):
        place = f"{where}layer {j}"
        if isinstance(node, Layer) and node.op in ACTIVATIONS and not target.supports(node.op):
            ops, formula, rewrite = _EXACT.get(node.op, ((), "", None))
            if rewrite and all(map(target.supports, ops)):
                _replace(r, nodes, j, rewrite(), f"{place} ({node.op})", f"{target.name} does not run {node.op} "
                         f"well; {node.op} is {formula}, and it runs {' and '.join(ops)}")
            elif target.supports(target.activation):
                _replace(r, nodes, j, get_layer(target.activation)(name=node.name), f"{place} ({node.op})",
                         f"{target.name} does not run {node.op} well; {target.activation} is the activation it "
                         f"supports")
        elif isinstance(node, Residual):
            _swap_activations(r, node.body, f"{place} residual ")
            _swap_activations(r, node.shortcut, f"{place} shortcut ")
        elif isinstance(node, Concat):
            for b, branch in enumerate(node.branches):
                _swap_activations(r, branch, f"{place} branch {b} ")
        elif isinstance(node, Gate):
            _swap_gate(r, node.gate, f"{place} gate ")


def _swap_gate(r: Repair, gate: list, where: str) -> None:
    """The gate's own layers as any others', and its last, the function that scales, for one that still scales."""
    target, last = r.task.target, gate[-1]
    _swap_activations(r, gate, where, stop=-1)
    if isinstance(last, Layer) and last.op in _GATE_FUNCTIONS and not target.supports(last.op):
        other = next((op for op in _GATE_FUNCTIONS if op != last.op and target.supports(op)), None)
        if other:
            _replace(r, gate, len(gate) - 1, get_layer(other)(name=last.name), f"{where}layer {len(gate) - 1} "
                     f"({last.op})", f"{target.name} does not run {last.op} well; in a gate {other} does its job "
                     f"(scaling by 0 to 1) and {target.name} runs it")


def _unsupported(steps: list[Step], target, seen: dict[str, str], where: str) -> None:
    for j, step in enumerate(steps):
        node = step.node
        op = node.target_op() if isinstance(node, Layer) else (
            "Add" if isinstance(node, Residual) and node.when != "False" else
            "Concat" if isinstance(node, Concat) else "Mul" if isinstance(node, Gate) else None)
        if op and not target.supports(op) and op not in seen:
            seen[op] = f"{where}layer {j}" + (f" ({node.signature()})" if isinstance(node, Layer) else "")
        _unsupported(step.children, target, seen, f"{where}layer {j} > ")


def check_target(r: Repair) -> None:
    target = r.task.target
    _swap_activations(r, r.layers, "")
    for module in r.model.modules:
        _swap_activations(r, module.body, f"module {module.name} ")
    seen: dict[str, str] = {}
    _unsupported(walk(r.model, costs=False), target, seen, "")
    for op, where in seen.items():
        r.add("unsupported-operator", where, f"{target.name} does not support {op} well (it runs: "
              f"{', '.join(target.operators)})", severity="error")
