"""Tensors in a traced `forward` and the spec graph they make: shared by both readers of PyTorch source (the
symbolic class reader in `pysource.py` and the evaluator of whole programs in this folder).

A tensor is the input, layers applied to a tensor, a sum, a product, a concat or an `if` of two; `Chainer.chain`
rebuilds the layers between two tensors as a chain with residual adds, gates and concats."""

from __future__ import annotations

from ... import limits
from ...spec import expr
from ...spec.graph import Concat, Gate, Residual
from ...spec.layers import ACTIVATIONS, AdaptiveAvgPool2d, AdaptiveMaxPool2d, Conv2d, Flatten, Linear
from .messages import Refused


class Tensor:
    """A tensor in forward: "in" (the input), "apply" (`nodes` applied to parts[0]), "add", "cat", or "if" (parts
    [yes, no] under `when`). Its parent is the tensor it is computed from, for an add, cat or if the one where its
    parts fork; found when it is made, from parts that already know theirs, so nothing recurses."""

    def __init__(self, kind: str, parts: list[Tensor] = (), nodes: list = (), when: str | None = None) -> None:
        self.kind, self.parts, self.nodes, self.when = kind, list(parts), list(nodes), when
        self.parent = None if kind == "in" else self.parts[0] if kind == "apply" else fork(self.parts)
        self.depth = 0 if self.parent is None else self.parent.depth + 1


def fork(parts: list[Tensor]) -> Tensor:
    """The latest tensor every part is computed from: where the branches split (by identity)."""
    fork = parts[0]
    for part in parts[1:]:
        while fork is not part:
            if fork is None or part is None:
                raise Refused("forward combines tensors that do not come from one input")
            if fork.depth >= part.depth:
                fork = fork.parent
            else:
                part = part.parent
    return fork


class Chainer:
    """The chain between two tensors; a reader using it gives `spend(layers)` (its layer budget) and `notes`."""

    notes: list[str]

    def spend(self, layers: int) -> None:
        raise NotImplementedError

    def gate(self, nodes: list) -> list:
        """A gate's branch as the spec keeps it. Squeeze-excite written with Linear layers (pool, flatten, Linear,
        ReLU, Linear, sigmoid, view back to Cx1x1) becomes the 1x1 convolutions those Linears equal on the pooled
        map (the same weights and MACs), so the gate stays Cx1x1 and multiplies the map as torch broadcasts it."""
        cut = next((k for k, n in enumerate(nodes) if isinstance(n, Flatten)), None)
        if cut is None:
            return nodes
        pool, tail = nodes[cut - 1] if cut else None, nodes[cut:]
        if not isinstance(pool, (AdaptiveAvgPool2d, AdaptiveMaxPool2d)) or pool.output_size not in (1, (1, 1)) or \
                not all(isinstance(n, (Flatten, Linear)) or getattr(n, "op", None) in ACTIVATIONS for n in tail):
            raise Refused("a gate that flattens must pool to 1x1 first and then apply only Linear layers and "
                           "activations, so that its output scales the map channel by channel")
        self.notes.append("the gate's Linear layers on its pooled vector are written as the 1x1 convolutions they "
                          "equal")
        return nodes[:cut] + [Conv2d(in_channels=n.in_features, out_channels=n.out_features, kernel_size=1,
                                     bias=n.bias, name=n.name) if isinstance(n, Linear) else n
                              for n in tail if not isinstance(n, Flatten)]

    def chain(self, v: Tensor, base: Tensor, nesting: int = 0) -> list:
        """The nodes turning `base` into `v`."""
        if nesting > limits.MAX_NESTING:
            raise Refused(f"forward nests adds, concats and ifs more than {limits.MAX_NESTING} deep (MAX_NESTING)")
        pieces: list[list] = []  # from v back to base
        while v is not base:
            if v.kind == "in":
                raise Refused("forward uses a tensor that does not come from its input")
            if v.kind == "apply":
                self.spend(len(v.nodes))
                pieces.append([n.model_copy(deep=True) for n in v.nodes])
                v = v.parts[0]
                continue
            branches = [self.chain(p, v.parent, nesting + 1) for p in v.parts]
            if v.kind == "mul":  # x * gate(x): one factor is the input itself
                gate = [b for b in branches if b]
                if len(gate) != 1:
                    raise Refused("forward multiplies two computed tensors (or one by itself); gptnet reads a gate, "
                                   "x * gate(x)")
                pieces.append([Gate(gate=self.gate(gate[0]))])
            elif v.kind == "add":
                body, short = sorted(branches, key=len, reverse=True)  # the longer branch is the body
                if not body:
                    raise Refused("forward adds a tensor to itself")
                pieces.append([Residual(body=body, shortcut=short)])
            elif v.kind == "cat":
                pieces.append([Concat(branches=branches)])
            else:  # `if c: return x + f(x) else: return f(x)`: a residual whose shortcut applies when c holds
                for yes, no, when in ((*branches, v.when), (*branches[::-1], f"not ({v.when})")):
                    if yes and isinstance(yes[-1], Residual) and \
                            [n.model_dump() for n in yes[:-1] + yes[-1].body] == [n.model_dump() for n in no]:
                        pieces.append(yes[:-1] + [yes[-1].model_copy(update={"when": expr.normalize(when)})])
                        break
                else:
                    raise Refused(f"`if {v.when}` in forward does more than switch a residual add on and off")
            v = v.parent
        return [n for piece in reversed(pieces) for n in piece]
