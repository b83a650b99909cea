"""Latency estimates per layer and backend, from one cost model fed by two extractors: a spec (no torch needed,
used by `design`) or a torch module traced with torch.fx (used by `profile` and the published-latency fit).

Each layer is reduced to a kind (the target's operator name), its arithmetic (FLOPs) and its memory traffic
(bytes of input, output and weights). A backend is predicted one of four ways, best first:

- fitted to published latencies of real networks on the chip (`fit`, by `gptnet calibrate --from-published`): the
  kernels the runtime launches, priced per launch, per MFLOP of each kernel shape (kxk, 1x1 and Linear, grouped,
  depthwise) and per MB moved;
  BatchNorm and ReLU/ReLU6 after a conv, Linear or Add are folded into that kernel, as phone runtimes do;
- scaled from such a fit on a sibling chip with the same runtime (`derived`), by a sourced speedup;
- calibrated on this machine (`calibration`, by `gptnet calibrate`): a fitted line per kind, ms = c0 + c1 x MFLOP
  + c2 x MB;
- a roofline: the longer of the arithmetic at the backend's peak times an efficiency for the kind (depthwise convs
  run far from peak) and the traffic at the chip's bandwidth, plus a fixed dispatch cost."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from .spec.graph import Concat, Gate, ModelSpec, Residual
from .spec.layers import ACTIVATIONS, Layer, pair
from .spec.walk import Step, totals, walk
from .targets import Backend, Target, load_target

# share of peak arithmetic each kind reaches without calibration (ShuffleNet V2's guideline G2: grouped and
# depthwise convs are memory bound; element-wise layers are pure traffic)
EFFICIENCY = {"Conv2d": 0.35, "Conv1x1": 0.35, "DepthwiseConv2d": 0.06, "GroupConv2d": 0.12, "Linear": 0.25}
BYTES = {"fp32": 4, "fp16": 2, "int8": 1}
DISPATCH_MS = 0.01  # per layer: kernel launch and scheduling
POOLS = {"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"}
FREE = {"Flatten", "Identity", "Dropout", "View"}
FOLDED = {"BatchNorm2d", "ReLU", "ReLU6", "Hardtanh"}  # what phone runtimes fold into the conv, Linear or Add before


def cost_kind(op: str, kernel: tuple[int, int] | None = None) -> str:
    """The kinds calibration measures: convs by flavour (pointwise convs run differently from kxk ones), Linear,
    BatchNorm2d, activations, pools, Add, Concat, Copy (a transpose made contiguous) and Free (views)."""
    if op == "Conv2d" and tuple(kernel or ()) == (1, 1):
        return "Conv1x1"
    if op in ACTIVATIONS or op in ("Softmax", "LogSoftmax", "Mul"):
        return "Activation"
    if op in POOLS:
        return "Pool"
    if op in FREE:
        return "Free"
    return op


class Work(BaseModel):
    index: str
    layer: str
    kind: str
    mflops: float
    mbytes: float = Field(description="fp32 traffic: input, output and weights, in MB")
    fuses: bool = Field(False, description="a BatchNorm or a clamp (ReLU, ReLU6) that phone runtimes fold into the "
                                           "kernel before it")


class LayerLatency(BaseModel):
    index: str
    layer: str
    ms: float


class Estimate(BaseModel):
    backend: str
    title: str
    runtime: str = Field(description="the inference engine, e.g. TFLite CPU")
    processor: str
    threads: int | None
    precision: str
    estimated_by: str = Field(description="how the figure was obtained: fitted to which measurements, scaled from "
                                          "which fit, or a roofline and its uncertainty")
    calibrated: bool = Field(False, description="fitted to measurements (published ones, or this machine's)")
    total_ms: float | None = Field(description="None when the backend has no peak to estimate with")
    layers: list[LayerLatency] = Field(default_factory=list)


# how phone runtimes launch each kind of layer: the class of kernel whose rate per MFLOP prices it (kxk convs run
# as im2col or Winograd, 1x1 convs and Linear as plain GEMMs, depthwise convs memory-bound, grouped convs as one
# small GEMM per group, far slower per FLOP than a dense conv; "memory": priced by the bytes it moves only); kinds
# not listed launch nothing (views, dropout)
KERNELS = {"Conv2d": "conv", "Conv1x1": "conv1x1", "GroupConv2d": "grouped", "Linear": "conv1x1",
           "DepthwiseConv2d": "depthwise", "BatchNorm2d": "memory", "Activation": "memory", "Add": "memory",
           "Concat": "memory", "Pool": "memory", "Copy": "memory"}
# the class priced in its place by a fit that lacks its rate (too few of the fit's networks run it to fit one)
PARENT = {"grouped": "conv"}
FOLD_INTO = {"Conv2d", "Conv1x1", "GroupConv2d", "DepthwiseConv2d", "Linear", "Add"}


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def work_from_spec(model: ModelSpec, input: tuple | None = None) -> list[Work]:
    out: list[Work] = []

    def visit(steps: list[Step], prefix: str) -> None:
        for i, s in enumerate(steps):
            index = f"{prefix}{i}"
            if isinstance(s.node, Layer):
                kernel = pair(s.node.kernel_size) if hasattr(s.node, "kernel_size") else None
                op = s.node.target_op()
                out.append(Work(index=index, layer=s.node.signature(), kind=cost_kind(op, kernel),
                                mflops=2 * s.macs / 1e6, mbytes=4 * (_numel(s.inp) + _numel(s.out) + s.params) / 1e6,
                                fuses=op in FOLDED))
                continue
            visit(s.children, f"{index}.")
            if isinstance(s.node, Residual) and s.node.when != "False":
                out.append(Work(index=f"{index}+", layer="add", kind="Add", mflops=_numel(s.out) / 1e6,
                                mbytes=12 * _numel(s.out) / 1e6))
            elif isinstance(s.node, Concat):
                out.append(Work(index=f"{index}+", layer="cat", kind="Concat", mflops=0.0,
                                mbytes=8 * _numel(s.out) / 1e6))
            elif isinstance(s.node, Gate):  # the product, costed as work_from_torch costs a traced mul
                scale = s.children[-1].out
                out.append(Work(index=f"{index}*", layer="mul", kind=cost_kind("Mul"), mflops=_numel(s.out) / 1e6,
                                mbytes=4 * (_numel(s.inp) + _numel(scale) + _numel(s.out)) / 1e6))

    visit(walk(model, input), "")
    return out


def work_from_torch(module, input_shape: tuple[int, ...]) -> list[Work]:
    """The layers a torch module runs at batch 1, functional ones included (residual adds, concats, shuffles)."""
    import torch
    import torch.fx as fx
    from torch import nn
    from torch.fx.passes.shape_prop import ShapeProp

    if type(module).__module__.startswith("torch.nn"):  # a lone built-in layer: trace it as a one-layer model
        module = nn.Sequential(module)
    graph = fx.symbolic_trace(module)
    ShapeProp(graph).propagate(torch.randn(1, *input_shape))
    out: list[Work] = []

    def numel(node) -> int:
        meta = node.meta.get("tensor_meta") if hasattr(node, "meta") else None
        return _numel(meta.shape) if meta is not None and hasattr(meta, "shape") else 0

    for i, node in enumerate(graph.graph.nodes):
        if node.op not in ("call_module", "call_function", "call_method"):
            continue
        inputs = [a for a in node.all_input_nodes]
        n_in, n_out = sum(numel(a) for a in inputs), numel(node)
        params, mflops, fuses = 0, 0.0, False
        # a module by its path in the model (features.0.0); a function or method by its name (flatten, add), not
        # the repr of the function object
        name = node.target if node.op == "call_module" else getattr(node.target, "__name__", str(node.target))
        if node.op == "call_module":
            m = graph.get_submodule(node.target)
            params = sum(p.numel() for p in m.parameters(recurse=False))
            if isinstance(m, nn.Conv2d):
                kind = cost_kind("Conv2d" if m.groups == 1 else "DepthwiseConv2d" if m.groups == m.in_channels
                                 else "GroupConv2d", m.kernel_size)
                mflops = 2 * n_out * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1] / 1e6
            elif isinstance(m, nn.Linear):
                kind, mflops = "Linear", 2 * n_out * m.in_features / 1e6
            elif isinstance(m, nn.BatchNorm2d):
                kind, mflops, fuses = "BatchNorm2d", 4 * n_in / 1e6, True
            elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                kind, mflops = "Pool", n_in / 1e6
            elif isinstance(m, (nn.Flatten, nn.Identity, nn.Dropout)):
                kind = "Free"
            else:
                kind, mflops = "Activation", n_out / 1e6
                fuses = type(m).__name__ in FOLDED
        else:
            if name in ("add", "iadd", "__add__", "__iadd__"):
                kind, mflops = "Add", n_out / 1e6
            elif name in ("cat", "concat"):
                kind = "Concat"
            elif name == "contiguous":
                kind = "Copy"
            elif name in ("mean", "adaptive_avg_pool2d", "avg_pool2d", "max_pool2d"):
                kind, mflops = "Pool", n_in / 1e6
            elif name in ("relu", "relu_", "relu6", "hardtanh", "hardtanh_", "sigmoid", "mul", "hardswish", "silu"):
                kind, mflops = "Activation", n_out / 1e6
                fuses = name.rstrip("_") in ("relu", "relu6", "hardtanh")
            elif n_out == 0:
                continue  # size(), getitem of shapes, arithmetic on ints
            else:
                kind = "Free"  # view, reshape, flatten, transpose, chunk: no data moved until a copy
        out.append(Work(index=str(i), layer=name, kind=kind, mflops=mflops,
                        mbytes=4 * (n_in + n_out + params) / 1e6, fuses=fuses))
    return out


def works_for(spec_json: Path, net, input_shape: tuple[int, ...]) -> list[Work]:
    """A design's layers as the design table numbers and names them (from its spec.json), when that spec is the
    model built here (same parameter count); otherwise as torch.fx traces them."""
    try:
        spec = ModelSpec.model_validate_json(spec_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no spec beside the model, or one that does not read: trace the model
        spec = None
    if spec is not None and totals(walk(spec))[0] == sum(p.numel() for p in net.parameters()):
        return work_from_spec(spec, input_shape)
    return work_from_torch(net, input_shape)


def kernels(works: list[Work]) -> list[str | None]:
    """For each layer, the class of kernel a phone runtime launches for it (KERNELS), or None: nothing launched (a
    view) or folded into the kernel before it (a BatchNorm or ReLU right after a conv, Linear or Add, in order)."""
    out: list[str | None] = []
    folding = False
    for w in works:
        if w.fuses and folding:
            out.append(None)
            continue
        launched = KERNELS.get(w.kind)
        out.append(launched)
        if launched is not None:
            folding = w.kind in FOLD_INTO
    return out


def _with(b: Backend, backend: str, total: float | None, rows: list[LayerLatency], calibrated: bool) -> Estimate:
    return Estimate(backend=backend, title=b.title, runtime=b.runtime, processor=b.processor, threads=b.threads,
                    precision=b.precision, estimated_by=b.estimated_by(), calibrated=calibrated,
                    total_ms=None if total is None else round(total, 4), layers=rows)


def predict(works: list[Work], target: Target, backend: str) -> Estimate:
    b: Backend = target.backends[backend]
    if b.derived:  # the sibling chip's fitted estimate, divided by the sourced speedup
        base_target, base_backend = b.derived.base.split("/")
        base = predict(works, target if base_target == target.name else load_target(base_target), base_backend)
        s = b.derived.speedup.value
        rows = [LayerLatency(index=r.index, layer=r.layer, ms=r.ms / s) for r in base.layers]
        return _with(b, backend, None if base.total_ms is None else base.total_ms / s, rows,
                     base.calibrated)
    if b.fit:
        rates = b.fit.rates
        rows = []
        for w, launched in zip(works, kernels(works)):
            rate = rates.get(launched, rates.get(PARENT.get(launched), 0.0))
            ms = 0.0 if launched is None else \
                rates.get("kernel", 0.0) + rate * w.mflops + rates.get("mb", 0.0) * w.mbytes
            rows.append(LayerLatency(index=w.index, layer=w.layer, ms=ms))
        return _with(b, backend, sum(r.ms for r in rows), rows, True)
    if b.calibration:
        # per layer: the kind's fitted line, then how layers compose in a whole model (colder caches, dispatch)
        scale, per_layer = b.calibration.get("_model", [1.0, 0.0])
        rows = []
        for w in works:
            c = b.calibration.get(w.kind) or b.calibration.get("Activation")
            ms = max(0.0, c[0] + c[1] * w.mflops + c[2] * w.mbytes)
            rows.append(LayerLatency(index=w.index, layer=w.layer, ms=scale * ms + per_layer))
        return _with(b, backend, sum(r.ms for r in rows), rows, True)
    peak, bandwidth = b.peak(), target.memory_bandwidth.value if target.memory_bandwidth else None
    if not peak or not bandwidth:
        return _with(b, backend, None, [], False)
    scale = BYTES.get(b.precision, 4) / 4
    rows = []
    for w in works:
        compute = w.mflops * 1e6 / (peak * 1e9 * EFFICIENCY.get(w.kind, 1.0))
        memory = scale * w.mbytes * 1e6 / (bandwidth * 1e9)
        rows.append(LayerLatency(index=w.index, layer=w.layer, ms=1000 * max(compute, memory) + DISPATCH_MS))
    return _with(b, backend, sum(r.ms for r in rows), rows, False)


def can_estimate(target: Target, backend: str) -> bool:
    """Whether `predict` gives the backend a figure: a fit, a calibration, a peak with the memory bandwidth, or a
    sibling chip's backend that has one. Asked of an empty model so that it cannot disagree with `predict`."""
    return predict([], target, backend).total_ms is not None


def estimate(model: ModelSpec, target: Target, backend: str) -> Estimate:
    return predict(work_from_spec(model), target, backend)


def estimates(model: ModelSpec, target: Target) -> list[Estimate]:
    works = work_from_spec(model)
    return [predict(works, target, name) for name in target.backends]
