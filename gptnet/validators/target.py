"""Operators against the target profile: an unsupported activation is swapped for the target's (recorded), except in
a gate, where the sigmoid is what scales (swapped, it would not); anything else unsupported is an error that needs
the LLM or the user. Support is judged on the concrete layers a module call expands to, since a conv inside a
module is depthwise or not only once its arguments are known."""

from __future__ import annotations

from ..spec.graph import Concat, Gate, Residual
from ..spec.layers import ACTIVATIONS, Layer
from ..spec.registry import get_layer
from ..spec.walk import Step, walk
from .context import Repair


def _swap_activations(r: Repair, nodes: list, where: str) -> None:
    target = r.task.target
    for j, node in enumerate(nodes):
        place = f"{where}layer {j}"
        if isinstance(node, Layer) and node.op in ACTIVATIONS and not target.supports(node.op):
            before = node.signature()
            nodes[j] = get_layer(target.activation)(name=node.name)
            r.add("unsupported-operator", f"{place} ({node.op})", f"{target.name} does not run {node.op} well; "
                  f"{target.activation} is the activation it supports", before, nodes[j].signature())
        elif isinstance(node, Residual):
            _swap_activations(r, node.body, f"{place} residual ")
            _swap_activations(r, node.shortcut, f"{place} shortcut ")
        elif isinstance(node, Concat):
            for b, branch in enumerate(node.branches):
                _swap_activations(r, branch, f"{place} branch {b} ")


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
    if target.supports(target.activation):
        _swap_activations(r, r.layers, "")
        for module in r.model.modules:
            _swap_activations(r, module.body, f"module {module.name} ")
    seen: dict[str, str] = {}
    _unsupported(walk(r.model, costs=False), target, seen, "")
    for op, where in seen.items():
        r.add("unsupported-operator", where, f"{target.name} does not support {op} well (it runs: "
              f"{', '.join(target.operators)})", severity="error")
