"""`gptnet export`: model.py to ONNX (opset 17 or newer), every ONNX operator judged against the target's backends,
and the ONNX outputs checked against PyTorch's with onnxruntime."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DesignError, UsageError
from .output import atomic_path
from .targets import Target

TOLERANCE = 1e-4


@dataclass
class OpVerdict:
    onnx_op: str
    count: int
    target_op: str | None  # the profile's name for it; None when the profile has no such operator
    backends: dict[str, str] = field(default_factory=dict)  # backend -> "yes", "slow: why" or "no"


def _target_op(node, initializers: dict) -> str | None:
    """The profile's operator name for an ONNX node (a Conv is depthwise when its groups equal its channels)."""
    op = node.op_type
    if op == "Conv":
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if group == 1:
            return "Conv2d"
        weight = initializers.get(node.input[1])
        channels = weight.dims[0] if weight is not None else None
        return "DepthwiseConv2d" if channels is not None and group == channels else "GroupConv2d"
    return {"Relu": "ReLU", "Clip": "ReLU6", "MaxPool": "MaxPool2d", "AveragePool": "AvgPool2d",
            "GlobalAveragePool": "AdaptiveAvgPool2d", "GlobalMaxPool": "AdaptiveMaxPool2d",
            "BatchNormalization": "BatchNorm2d", "Flatten": "Flatten", "Reshape": "Flatten", "Gemm": "Linear",
            "MatMul": "Linear", "Add": "Add", "Concat": "Concat", "Sigmoid": "Sigmoid", "Tanh": "Tanh",
            "HardSwish": "Hardswish", "HardSigmoid": "Hardsigmoid", "LeakyRelu": "LeakyReLU", "Gelu": "GELU",
            "Softmax": "Softmax", "Identity": "Identity", "Dropout": "Dropout", "Resize": "Upsample",
            "LayerNormalization": "LayerNorm", "Mul": "Mul", "Elu": "ELU", "Mish": "Mish"}.get(op)


def verdicts(model_onnx, target: Target) -> list[OpVerdict]:
    initializers = {t.name: t for t in model_onnx.graph.initializer}
    counted: Counter = Counter()
    for node in model_onnx.graph.node:
        key = (node.op_type, _target_op(node, initializers))
        counted[key] += 1
    out = []
    for (op, target_op), count in sorted(counted.items(), key=lambda kv: str(kv[0])):
        v = OpVerdict(op, count, target_op)
        for name, b in target.backends.items():
            if target_op in b.slow:
                v.backends[name] = f"slow: {b.slow[target_op]}"
            else:
                v.backends[name] = "yes" if target_op in b.operators else "no"
        out.append(v)
    return out


def export_onnx(path: Path, target: Target, opset: int = 17, out: Path | None = None, trust_edits: bool = False,
                ) -> tuple[Path, list[OpVerdict], float, str]:
    """Write the design (with its trained weights, if any) as ONNX and check it with onnxruntime: (the file, a verdict
    per operator, the largest difference from PyTorch, which weights it holds)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    from .design_folder import locate_design
    from .network import trained_network

    if opset < 17:
        raise UsageError(f"opset {opset} is too old", "use --opset 17 or newer")
    folder, model_py = locate_design(path)
    net, shape, weights, _ = trained_network(folder, model_py, trust_edits)
    out = Path(out) if out else folder / "model.onnx"
    x = torch.randn(1, *shape)
    with atomic_path(out, hint="export a copy of the design to a folder you can write to") as tmp:
        torch.onnx.export(net, (x,), str(tmp), opset_version=opset, dynamo=False, input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    model_onnx = onnx.load(str(out))
    onnx.checker.check_model(model_onnx)
    batch = torch.randn(4, *shape)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": batch.numpy()})[0]
    with torch.no_grad():
        want = net(batch).numpy()
    diff = float(np.abs(got - want).max())
    if diff > TOLERANCE:
        raise DesignError(f"the ONNX model's outputs differ from PyTorch's by {diff:.2e} (more than {TOLERANCE})",
                          "report this: the export changed the model")
    return out, verdicts(model_onnx, target), diff, weights
