"""A roofline-style latency estimate per layer and backend: each layer takes the longer of its arithmetic at the
backend's peak times an efficiency for its kind (depthwise convs run far from peak) and its memory traffic at the
chip's bandwidth, plus a fixed dispatch cost. Uncalibrated: the efficiencies are rules of thumb until a
calibration on real hardware replaces them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .spec.graph import ModelSpec
from .spec.layers import Layer
from .spec.walk import Step, walk
from .targets import Backend, Target

# share of peak arithmetic each kind reaches (ShuffleNet V2's guideline G2: grouped and depthwise convs are memory
# bound; element-wise layers are pure traffic)
EFFICIENCY = {"Conv2d": 0.35, "DepthwiseConv2d": 0.06, "GroupConv2d": 0.12, "Linear": 0.25}
BYTES = {"fp32": 4, "fp16": 2, "int8": 1}
DISPATCH_MS = 0.01  # per layer: kernel launch and scheduling


class LayerLatency(BaseModel):
    index: str
    layer: str
    ms: float
    bound: str = Field(description="compute or memory")


class Estimate(BaseModel):
    backend: str
    title: str
    total_ms: float | None = Field(description="None when the backend has no published peak to estimate with")
    layers: list[LayerLatency] = Field(default_factory=list)


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _leaves(steps: list[Step], prefix: str = ""):
    for i, s in enumerate(steps):
        if isinstance(s.node, Layer):
            yield f"{prefix}{i}", s
        else:
            yield from _leaves(s.children, f"{prefix}{i}.")


def estimate(model: ModelSpec, target: Target, backend: str) -> Estimate:
    b: Backend = target.backends[backend]
    peak, bandwidth = b.peak(), target.memory_bandwidth.value if target.memory_bandwidth else None
    if not peak or not bandwidth:
        return Estimate(backend=backend, title=b.title, total_ms=None)
    size = BYTES.get(b.precision, 4)
    rows = []
    for index, step in _leaves(walk(model)):
        op = step.node.target_op()
        flops = 2 * step.macs
        compute = flops / (peak * 1e9 * EFFICIENCY.get(op, 1.0)) if flops else 0.0
        traffic = size * (_numel(step.inp) + _numel(step.out) + step.params)
        memory = traffic / (bandwidth * 1e9)
        ms = 1000 * max(compute, memory) + DISPATCH_MS
        rows.append(LayerLatency(index=index, layer=step.node.signature(), ms=round(ms, 4),
                                 bound="compute" if compute >= memory else "memory"))
    return Estimate(backend=backend, title=b.title, total_ms=round(sum(r.ms for r in rows), 3), layers=rows)


def estimates(model: ModelSpec, target: Target) -> list[Estimate]:
    return [estimate(model, target, name) for name in target.backends]
