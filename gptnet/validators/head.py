"""The classifier head against `--classes`: the model must map a batch to (N, classes)."""

from __future__ import annotations

from ..spec.layers import AdaptiveAvgPool2d, Conv2d, Flatten, Layer, Linear
from ..spec.walk import fmt_shape
from .context import Repair


def fix_head(r: Repair, shape: tuple) -> None:
    classes = r.task.classes
    while r.layers and getattr(r.layers[-1], "op", None) in ("Softmax", "LogSoftmax"):
        where, before = r.where(len(r.layers) - 1), r.layers.pop().signature()
        r.add("softmax-head", where, "training takes logits (cross-entropy applies the softmax itself); apply "
              "softmax to the outputs at inference", before, "(removed)")
    if len(shape) == 3:
        before = r.layers[-1].signature() if r.layers else ""
        added = ([AdaptiveAvgPool2d(output_size=1)] if shape[1:] != (1, 1) else []) + [Flatten()]
        r.layers.extend(added)
        r.add("head", len(r.layers) - 1, f"the model ends in a {fmt_shape(shape)} map; a classifier needs a flat "
              "output", before, " ".join(n.signature() for n in added))
        shape = (shape[0] * shape[1] * shape[2] if shape[1:] == (1, 1) else shape[0],)
    last = len(r.layers) - 1
    head = next((j for j in range(last, -1, -1) if isinstance(r.layers[j], Layer) and r.layers[j].channel_out), None)
    node = r.layers[head] if head is not None else None
    if isinstance(node, Linear) and head == last or isinstance(node, Conv2d) and shape[0] == node.out_channels:
        field = node.channel_out
        if getattr(node, field) != classes:
            before = node.signature()
            old = getattr(node, field)
            setattr(node, field, classes)
            r.add("head", head, f"the task has {classes} classes" + (f", not {old}" if old else ""), before,
                  node.signature())
        r.model.head = head
        return
    r.layers.append(Linear(in_features=shape[0], out_features=classes))
    r.model.head = len(r.layers) - 1
    r.add("head", r.model.head, f"the model had no classifier for {classes} classes", None,
          r.layers[-1].signature())
