"""The classifier head against `--classes`: the model must map a batch to (N, classes) logits, and nothing but
pooling, flattening or dropout may come between the classifier and the output (never an activation on the logits:
logits after a ReLU lose every negative score)."""

from __future__ import annotations

from ..spec.layers import ACTIVATIONS, AdaptiveAvgPool2d, Conv2d, Flatten, Layer, Linear
from ..spec.walk import fmt_shape
from .context import Repair

_POOLS = {"AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "MaxPool2d"}
_RESHAPING = _POOLS | {"Flatten", "Dropout", "Identity"}
# class counts an answer may assume (CIFAR-10, CIFAR-100, ImageNet): a layer of that width before only pooling and
# activations is a classifier with the wrong count or a stray activation, not a feature layer
_CLASS_COUNTS = {10, 100, 1000}


def _is_classifier(r: Repair, node, tail: list, shape: tuple) -> bool:
    """Whether `node`, the last layer that sets a width, is the classifier: only pooling, flattening, dropout and
    activations follow it (a BatchNorm makes it a feature layer), its width is what reaches the output, and it is
    a Linear alone at the end or has the width of a class count."""
    if not all(getattr(n, "op", None) in _RESHAPING or getattr(n, "op", None) in ACTIVATIONS for n in tail):
        return False
    width = getattr(node, node.channel_out) if isinstance(node, (Linear, Conv2d)) else None
    counts = _CLASS_COUNTS | {r.task.classes}
    if isinstance(node, Linear):
        return not any(n.op in ACTIVATIONS for n in tail) or width in counts
    return isinstance(node, Conv2d) and shape[0] == width and width in counts


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
    if node is not None and _is_classifier(r, node, r.layers[head + 1:], shape):
        # only an activation on the logits themselves: one before the global pool (torchvision's SqueezeNet runs
        # its classifier conv through a ReLU, then pools) is the answer's model, and its pooled scores still rank
        pooled = [j for j in range(head + 1, last + 1) if r.layers[j].op in _POOLS]
        for j in range(last, max(pooled, default=head), -1):
            if r.layers[j].op in ACTIVATIONS:
                where, before = r.where(j), r.layers.pop(j).signature()
                r.add("head", where, f"an activation after the classifier {node.signature()} would change its "
                      "logits (a ReLU zeroes every negative score); the logits are the classifier's output as it is",
                      before, "(removed)")
        field = node.channel_out
        if getattr(node, field) != classes:
            before = node.signature()
            old = getattr(node, field)
            setattr(node, field, classes)
            r.add("head", head, f"the task has {classes} classes" + (f", not {old}" if old else ""), before,
                  node.signature())
        r.model.head = head
        return
    before = r.layers[-1].signature() if r.layers else None
    r.layers.append(Linear(in_features=shape[0], out_features=classes))
    r.model.head = len(r.layers) - 1
    why = f"the model had no classifier for {classes} classes"
    if node is not None:
        after = ", ".join(dict.fromkeys(op for n in r.layers[head + 1:-1] if (op := getattr(n, "op", "?"))
                                        not in _RESHAPING))
        why += (f": its last layer with a width, {node.signature()}, is a feature layer" +
                (f" ({after} follow it)" if after else "") + f"; a Linear maps the {shape[0]} features that reach "
                "the output to the class scores")
    r.add("head", r.model.head, why, before, " ".join(filter(None, (before, r.layers[-1].signature()))))
