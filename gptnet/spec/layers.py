"""Layer kinds: one pydantic model per PyTorch operator, each with its shape rule, cost rule and renderer.

Costs follow thop's rules exactly (ultralytics-thop, batch 1), so that the spec's MACs agree with thop on the
rendered model: conv = out elements x (in/groups) x k*k; BatchNorm = 4 x elements (affine); average pools = one add
per pooled input plus one divide per output; Linear = in_features x out elements; activations, max pools, flatten,
dropout, residual add and concat = 0.

Inside a composite module a size may be an expression over the module's parameters (a `str`, see `expr.py`).
A size left `None` is one the LLM did not give; validators fill it in.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import limits
from . import expr
from .grammar import NN_MODULE_MEMBERS, RESERVED_ATTRS, check_name, check_number
from .registry import add_alias, register_layer

Shape = tuple  # (C, H, W) for feature maps, (F,) once flattened; C may be None while a channel count is unknown
Size = Union[int, str, None]
Pair = Union[int, tuple[int, int], str]


class SpecError(ValueError):
    """A layer cannot be applied as written (a shape rule failed)."""


def check_identifier(v: Any) -> Any:
    """An attribute name hint: a safe identifier (the renderer steers clear of nn.Module's members)."""
    return v if v is None else check_name(v, "attribute name", reserved=RESERVED_ATTRS - NN_MODULE_MEMBERS)


def check_value(value: Any, where: str = "") -> Any:
    """An argument value: a finite literal, or a size expression over module parameters (validated by `expr`)."""
    if isinstance(value, str):
        try:
            return expr.normalize(value)
        except expr.ExprError as e:
            raise ValueError(f"{where}: {e}") from None
    if isinstance(value, (list, tuple)):
        if len(value) > 4 or any(isinstance(v, (list, tuple)) for v in value):
            raise ValueError(f"{where}: {str(value)[:40]} is not a size or a pair of sizes")
        for v in value:
            check_value(v, where)
    elif isinstance(value, dict) or not isinstance(value, (int, float, bool, type(None))):
        raise ValueError(f"{where}: {str(value)[:40]!r} is not a size or a literal")
    return check_number(value, where)


def _ints(value: Any) -> list[int]:
    """The concrete integers in a value (a size, or a pair of sizes); expressions and None are not yet numbers."""
    values = value if isinstance(value, (list, tuple)) else (value,)
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def pair(v: Any) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _window(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """Output positions along one side, as torch computes them; with `ceil` a last, partial window counts, unless
    it would start in the right padding."""
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil:
        return span // s + 1
    out = -(-span // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def fmt(v: Any) -> str:
    """Source text of an argument value: expressions are already source, tuples print as tuples (with the comma
    of a one-element tuple, which without it would be a parenthesized value)."""
    if isinstance(v, str):
        return v
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(fmt(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


class Layer(BaseModel):
    """A single PyTorch operator."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: Union[str, None] = Field(None, description="attribute name inside a module (optional)")

    _check_name = field_validator("name")(lambda cls, v: check_identifier(v))

    @model_validator(mode="after")
    def _sizes_are_expressions(self):
        # a string size is source text that templates copy into model.py: only whitelisted expressions pass
        for key, value in self.sizes().items():
            if isinstance(value, str):
                setattr(self, key, check_value(value, key))
            else:
                check_value(value, key)
        self.check_bounds(relations=False)
        return self

    torch_name: ClassVar[str]  # the torch.nn class it renders to
    positional: ClassVar[tuple[str, ...]] = ()  # torch's positional argument order
    render_positional: ClassVar[int] = 0  # how many leading arguments are rendered positionally
    aliases: ClassVar[tuple[str, ...]] = ()
    channel_in: ClassVar[str | None] = None  # the field holding input channels/features, if any
    channel_out: ClassVar[str | None] = None
    # the range each integer field must lie in, once it is a number (torch's own rules, and gptnet's limits)
    bounds: ClassVar[dict[str, tuple[int, int]]] = {}
    choices: ClassVar[tuple[str, ...]] = ()  # fields that take one of fixed strings, never an expression

    def check_bounds(self, relations: bool = True) -> None:
        """Sizes torch would refuse, or that no design needs, are errors here rather than in a later command.
        `relations` adds the rules between fields (groups divide channels), which only hold once all are known."""
        for key, (low, high) in self.bounds.items():
            for v in _ints(getattr(self, key)):
                if not low <= v <= high:
                    raise SpecError(f"{self.signature()}: {key} must be {low}..{high:,}, not {v:,}")
        if relations:
            self._check_relations()

    def _check_relations(self) -> None:
        pass

    @classmethod
    def kind_name(cls) -> str:
        return cls.model_fields["op"].default

    # shape and cost rules; `inp` and the result are concrete shapes (channels may be None)
    def out_shape(self, inp: Shape) -> Shape:
        return inp

    def params(self) -> int:
        return 0

    def macs(self, inp: Shape, out: Shape) -> int:
        return 0

    def target_op(self) -> str:
        """The operator name target profiles use for this layer."""
        return self.kind_name()

    def args(self) -> dict[str, Any]:
        return self.model_dump(exclude={"op", "name"})

    def sizes(self) -> dict[str, Any]:
        """The arguments that may be size expressions (all but fixed choices such as Upsample's mode)."""
        return {k: v for k, v in self.args().items() if k not in self.choices}

    def signature(self) -> str:
        """Short text such as `Conv2d(3, 32, kernel_size=3, padding=1)`, used in findings and tables."""
        return self.render(prefix="")

    def render(self, prefix: str = "nn.", overrides: dict[str, str] | None = None) -> str:
        overrides = overrides or {}
        parts = []
        fields = [(n, f) for n, f in type(self).model_fields.items() if n not in ("op", "name")]
        for i, (name, field) in enumerate(fields):
            value = getattr(self, name)
            text = overrides.get(name, fmt(value))
            if i < self.render_positional:
                parts.append(text)
            elif value != field.default or name in overrides or name in self._always_shown():
                parts.append(f"{name}={text}")
        return f"{prefix}{self.torch_name}({', '.join(parts)})"

    def _always_shown(self) -> tuple[str, ...]:
        return ()


def _numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


_CHANNELS = (1, limits.MAX_CHANNELS)
_KERNEL = (1, limits.MAX_KERNEL)
_PADDING = (0, limits.MAX_PADDING)
_FEATURES = (1, limits.MAX_SIZE)


def _need_map(layer: Layer, inp: Shape) -> tuple[Any, int, int]:
    if len(inp) != 3:
        raise SpecError(f"{layer.signature()} needs a CxHxW feature map, got a flat vector of {inp[0]}")
    return inp


@register_layer
class Conv2d(Layer):
    """2-D convolution; `groups=in_channels` makes it depthwise."""

    op: Literal["Conv2d"] = "Conv2d"
    in_channels: Size = Field(None, description="input channels (inferred from the previous layer when omitted)")
    out_channels: Size = Field(None, description="output channels")
    kernel_size: Pair = Field(3, description="kernel size, an int or (h, w)")
    stride: Pair = Field(1, description="stride")
    padding: Pair = Field(0, description="zero padding on each side")
    dilation: Pair = Field(1, description="dilation")
    groups: Size = Field(1, description="channel groups; equal to in_channels for a depthwise convolution")
    bias: Union[bool, str] = Field(True, description="learnable bias")

    torch_name: ClassVar[str] = "Conv2d"
    positional: ClassVar[tuple[str, ...]] = ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                                             "dilation", "groups", "bias")
    render_positional: ClassVar[int] = 2
    aliases: ClassVar[tuple[str, ...]] = ("conv", "convolution", "convolution2d")
    channel_in: ClassVar[str] = "in_channels"
    channel_out: ClassVar[str] = "out_channels"
    bounds: ClassVar[dict[str, tuple[int, int]]] = {
        "in_channels": _CHANNELS, "out_channels": _CHANNELS, "kernel_size": _KERNEL, "stride": _KERNEL,
        "padding": _PADDING, "dilation": _KERNEL, "groups": _CHANNELS}

    def _check_relations(self) -> None:
        for key in ("in_channels", "out_channels"):
            value = getattr(self, key)
            if _ints(value) and _ints(self.groups) and value % self.groups:
                raise SpecError(f"{self.signature()}: {key} ({value}) must be divisible by groups ({self.groups})")

    def _always_shown(self) -> tuple[str, ...]:
        return ("kernel_size",)

    def out_shape(self, inp: Shape) -> Shape:
        c, h, w = _need_map(self, inp)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (pair(v) for v in (self.kernel_size, self.stride, self.padding,
                                                                     self.dilation))
        return self.out_channels, _window(h, kh, sh, ph, dh), _window(w, kw, sw, pw, dw)

    def params(self) -> int:
        kh, kw = pair(self.kernel_size)
        return self.out_channels * (self.in_channels // self.groups) * kh * kw + (self.out_channels if self.bias else 0)

    def macs(self, inp: Shape, out: Shape) -> int:
        kh, kw = pair(self.kernel_size)
        return _numel(out) * (inp[0] // self.groups) * kh * kw

    def target_op(self) -> str:
        if self.groups == 1:
            return "Conv2d"
        return "DepthwiseConv2d" if self.groups == self.in_channels else "GroupConv2d"


@register_layer
class DWConv2d(Layer):
    """Depthwise convolution (one filter per input channel, times `depth_multiplier`), rendered as a grouped Conv2d.

    Only reached by its own names; `DepthwiseConv2d` in an answer is treated as a module the LLM must define, as in
    the article, and this is its standard meaning when no definition comes."""

    op: Literal["DWConv2d"] = "DWConv2d"
    channels: Size = Field(None, description="input channels (inferred from the previous layer when omitted)")
    kernel_size: Pair = Field(3, description="kernel size")
    stride: Pair = Field(1, description="stride")
    padding: Pair = Field(0, description="zero padding on each side")
    dilation: Pair = Field(1, description="dilation")
    depth_multiplier: Size = Field(1, description="output channels per input channel")
    bias: Union[bool, str] = Field(True, description="learnable bias")

    torch_name: ClassVar[str] = "Conv2d"
    positional: ClassVar[tuple[str, ...]] = ("channels", "kernel_size", "stride", "padding", "dilation")
    aliases: ClassVar[tuple[str, ...]] = ("dwconv", "dw_conv", "dwconv2d", "depthwise")
    channel_in: ClassVar[str] = "channels"
    bounds: ClassVar[dict[str, tuple[int, int]]] = {
        "channels": _CHANNELS, "kernel_size": _KERNEL, "stride": _KERNEL, "padding": _PADDING, "dilation": _KERNEL,
        "depth_multiplier": (1, 64)}

    def as_conv(self) -> Conv2d:
        out = self.channels * self.depth_multiplier if isinstance(self.channels, int) else (
            self.channels if self.depth_multiplier == 1 else f"{self.channels} * {fmt(self.depth_multiplier)}")
        return Conv2d(in_channels=self.channels, out_channels=out, kernel_size=self.kernel_size, stride=self.stride,
                      padding=self.padding, dilation=self.dilation, groups=self.channels, bias=self.bias)

    def out_shape(self, inp: Shape) -> Shape:
        return self.as_conv().out_shape(inp)

    def params(self) -> int:
        return self.as_conv().params()

    def macs(self, inp: Shape, out: Shape) -> int:
        return self.as_conv().macs(inp, out)

    def target_op(self) -> str:
        return "DepthwiseConv2d"

    def render(self, prefix: str = "nn.", overrides: dict[str, str] | None = None) -> str:
        text = self.as_conv().render(prefix, overrides)
        return text if prefix else text.replace("Conv2d(", "DWConv2d(", 1)


@register_layer
class BatchNorm2d(Layer):
    op: Literal["BatchNorm2d"] = "BatchNorm2d"
    num_features: Size = Field(None, description="channels (inferred from the previous layer when omitted)")
    eps: float = Field(1e-5, gt=0, le=1, description="added to the variance")
    momentum: float = Field(0.1, ge=0, le=1, description="running statistics momentum")
    affine: Union[bool, str] = Field(True, description="learnable scale and shift")

    torch_name: ClassVar[str] = "BatchNorm2d"
    positional: ClassVar[tuple[str, ...]] = ("num_features", "eps", "momentum", "affine")
    render_positional: ClassVar[int] = 1
    aliases: ClassVar[tuple[str, ...]] = ("batchnorm", "bn", "batchnormalization", "bn2d", "batch_norm")
    channel_in: ClassVar[str] = "num_features"
    bounds: ClassVar[dict[str, tuple[int, int]]] = {"num_features": _CHANNELS}

    def out_shape(self, inp: Shape) -> Shape:
        _need_map(self, inp)
        return inp

    def params(self) -> int:
        return 2 * self.num_features if self.affine else 0

    def macs(self, inp: Shape, out: Shape) -> int:
        return _numel(inp) * (4 if self.affine else 2)


class _Activation(Layer):
    render_positional: ClassVar[int] = 0


def _activation(name: str, torch_name: str, aliases: tuple[str, ...] = (), **fields: Any) -> type[Layer]:
    annotations = {"op": Literal[name]}
    namespace: dict[str, Any] = {"op": name, "torch_name": torch_name, "aliases": aliases,
                                 "positional": tuple(fields),
                                 "__doc__": f"The {torch_name} activation."}
    for field, (typ, default) in fields.items():
        annotations[field] = typ
        namespace[field] = default
    namespace["__annotations__"] = annotations
    namespace["__module__"] = __name__
    return register_layer(type(name, (_Activation,), namespace))


ReLU = _activation("ReLU", "ReLU", ("relu",), inplace=(bool, False))
ReLU6 = _activation("ReLU6", "ReLU6", ("relu6",), inplace=(bool, False))
LeakyReLU = _activation("LeakyReLU", "LeakyReLU", ("leakyrelu", "leaky_relu", "lrelu"),
                        negative_slope=(float, 0.01), inplace=(bool, False))
GELU = _activation("GELU", "GELU", ("gelu",))
SiLU = _activation("SiLU", "SiLU", ("silu", "swish"), inplace=(bool, False))
Hardswish = _activation("Hardswish", "Hardswish", ("hswish", "hardswish", "h_swish", "hard_swish"),
                        inplace=(bool, False))
Hardsigmoid = _activation("Hardsigmoid", "Hardsigmoid", ("hsigmoid", "hard_sigmoid"), inplace=(bool, False))
Sigmoid = _activation("Sigmoid", "Sigmoid", ("sigmoid",))
Tanh = _activation("Tanh", "Tanh", ("tanh",))
Mish = _activation("Mish", "Mish", ("mish",), inplace=(bool, False))
ELU = _activation("ELU", "ELU", ("elu",), alpha=(float, 1.0), inplace=(bool, False))
ACTIVATIONS = ("ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "Hardswish", "Hardsigmoid", "Sigmoid", "Tanh", "Mish",
               "ELU")


class _Pool(Layer):
    kernel_size: Pair = Field(2, description="window size")
    stride: Union[Pair, None] = Field(None, description="stride (defaults to kernel_size)")
    padding: Pair = Field(0, description="implicit padding")
    ceil_mode: Union[bool, str] = Field(False, description="round the output size up: a last, partial window")

    positional: ClassVar[tuple[str, ...]] = ("kernel_size", "stride", "padding")
    bounds: ClassVar[dict[str, tuple[int, int]]] = {"kernel_size": _KERNEL, "stride": _KERNEL, "padding": _PADDING}

    def _check_relations(self) -> None:
        try:
            kernel, padding = pair(self.kernel_size), pair(self.padding)
        except ValueError:  # an expression, not yet a number
            return
        if any(p > k // 2 for p, k in zip(padding, kernel)):
            raise SpecError(f"{self.signature()}: padding must be at most half the window ({fmt(self.kernel_size)})")

    def _always_shown(self) -> tuple[str, ...]:
        return ("kernel_size",)

    def out_shape(self, inp: Shape) -> Shape:
        c, h, w = _need_map(self, inp)
        (kh, kw), (ph, pw) = pair(self.kernel_size), pair(self.padding)
        sh, sw = pair(self.stride if self.stride is not None else self.kernel_size)
        ceil = bool(self.ceil_mode)
        return c, _window(h, kh, sh, ph, ceil=ceil), _window(w, kw, sw, pw, ceil=ceil)


@register_layer
class MaxPool2d(_Pool):
    op: Literal["MaxPool2d"] = "MaxPool2d"
    torch_name: ClassVar[str] = "MaxPool2d"
    aliases: ClassVar[tuple[str, ...]] = ("maxpool", "maxpooling", "maxpooling2d", "max_pool", "maxpool2d")


@register_layer
class AvgPool2d(_Pool):
    op: Literal["AvgPool2d"] = "AvgPool2d"
    torch_name: ClassVar[str] = "AvgPool2d"
    aliases: ClassVar[tuple[str, ...]] = ("avgpool", "averagepooling", "averagepooling2d", "avg_pool", "avgpool2d",
                                          "averagepool", "averagepool2d")

    def macs(self, inp: Shape, out: Shape) -> int:
        windows = 1
        for size, n_out, k, s, p in zip(inp[1:], out[1:], pair(self.kernel_size),
                                        pair(self.stride if self.stride is not None else self.kernel_size),
                                        pair(self.padding)):
            # count_include_pad=True: windows are clipped to the padded input, as thop counts them
            windows *= sum(max(min(i * s - p + k, size + p) - max(i * s - p, -p), 0) for i in range(n_out))
        return inp[0] * windows + _numel(out)


class _AdaptivePool(Layer):
    output_size: Pair = Field(1, description="output height and width; 1 is a global pool")
    positional: ClassVar[tuple[str, ...]] = ("output_size",)
    render_positional: ClassVar[int] = 1
    bounds: ClassVar[dict[str, tuple[int, int]]] = {"output_size": (1, limits.MAX_SPATIAL)}

    def out_shape(self, inp: Shape) -> Shape:
        c, _, _ = _need_map(self, inp)
        return (c, *pair(self.output_size))


@register_layer
class AdaptiveAvgPool2d(_AdaptivePool):
    op: Literal["AdaptiveAvgPool2d"] = "AdaptiveAvgPool2d"
    torch_name: ClassVar[str] = "AdaptiveAvgPool2d"
    aliases: ClassVar[tuple[str, ...]] = ("adaptiveavgpool", "globalavgpool", "globalavgpool2d",
                                          "globalaveragepooling", "globalaveragepooling2d", "globalaveragepool",
                                          "gap", "global average pooling", "global avg pool")

    def macs(self, inp: Shape, out: Shape) -> int:
        pooled = inp[0]
        for i, o in zip(inp[1:], out[1:]):
            pooled *= i if i == o else sum(-(-(j + 1) * i // o) - j * i // o for j in range(o))
        return pooled + _numel(out)


@register_layer
class AdaptiveMaxPool2d(_AdaptivePool):
    op: Literal["AdaptiveMaxPool2d"] = "AdaptiveMaxPool2d"
    torch_name: ClassVar[str] = "AdaptiveMaxPool2d"
    aliases: ClassVar[tuple[str, ...]] = ("adaptivemaxpool", "globalmaxpool", "globalmaxpooling2d",
                                          "globalmaxpooling", "global max pooling")


@register_layer
class Flatten(Layer):
    op: Literal["Flatten"] = "Flatten"
    torch_name: ClassVar[str] = "Flatten"
    aliases: ClassVar[tuple[str, ...]] = ("flatten", "reshape", "view")

    def out_shape(self, inp: Shape) -> Shape:
        if len(inp) == 1:
            return inp
        return (None,) if inp[0] is None else (_numel(inp),)


@register_layer
class Linear(Layer):
    op: Literal["Linear"] = "Linear"
    in_features: Size = Field(None, description="input features (inferred from the previous layer when omitted)")
    out_features: Size = Field(None, description="output features; the last Linear's is the class count")
    bias: Union[bool, str] = Field(True, description="learnable bias")

    torch_name: ClassVar[str] = "Linear"
    positional: ClassVar[tuple[str, ...]] = ("in_features", "out_features", "bias")
    render_positional: ClassVar[int] = 2
    aliases: ClassVar[tuple[str, ...]] = ("fc", "fullyconnected", "dense", "classifier")
    channel_in: ClassVar[str] = "in_features"
    channel_out: ClassVar[str] = "out_features"
    bounds: ClassVar[dict[str, tuple[int, int]]] = {"in_features": _FEATURES, "out_features": _FEATURES}

    def out_shape(self, inp: Shape) -> Shape:
        if len(inp) != 1:
            raise SpecError(f"{self.signature()} needs a flat input, got a {len(inp)}-D feature map")
        return (self.out_features,)

    def params(self) -> int:
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)

    def macs(self, inp: Shape, out: Shape) -> int:
        return self.in_features * _numel(out)


@register_layer
class Dropout(Layer):
    op: Literal["Dropout"] = "Dropout"
    p: float = Field(0.5, ge=0, le=1, description="drop probability")
    inplace: bool = False

    torch_name: ClassVar[str] = "Dropout"
    positional: ClassVar[tuple[str, ...]] = ("p", "inplace")
    render_positional: ClassVar[int] = 1
    aliases: ClassVar[tuple[str, ...]] = ("dropout", "dropout2d")


class _SoftmaxBase(Layer):
    """A probability output. Parsed so that an answer ending in one reads; the head check removes it, since
    training takes logits."""

    dim: int = Field(1, ge=-4, le=3, description="the dimension normalized")
    positional: ClassVar[tuple[str, ...]] = ("dim",)

    def _always_shown(self) -> tuple[str, ...]:
        return ("dim",)  # torch warns when it is left implicit

    def macs(self, inp: Shape, out: Shape) -> int:
        full = (1, *inp)  # thop sees the batch dimension, which `dim` counts
        features = full[self.dim]
        rows = _numel(inp) // features
        return rows * (3 * features - 1) + (rows if self.op == "LogSoftmax" else 0)


@register_layer
class Softmax(_SoftmaxBase):
    op: Literal["Softmax"] = "Softmax"
    torch_name: ClassVar[str] = "Softmax"
    aliases: ClassVar[tuple[str, ...]] = ("softmax",)


@register_layer
class LogSoftmax(_SoftmaxBase):
    op: Literal["LogSoftmax"] = "LogSoftmax"
    torch_name: ClassVar[str] = "LogSoftmax"
    aliases: ClassVar[tuple[str, ...]] = ("logsoftmax", "log_softmax")


@register_layer
class Identity(Layer):
    op: Literal["Identity"] = "Identity"
    torch_name: ClassVar[str] = "Identity"
    aliases: ClassVar[tuple[str, ...]] = ("identity",)


@register_layer
class LayerNorm(Layer):
    """Listed so that answers using it parse; most mobile CNN runtimes do not accelerate it."""

    op: Literal["LayerNorm"] = "LayerNorm"
    normalized_shape: Size = Field(None, description="the normalized trailing size")
    torch_name: ClassVar[str] = "LayerNorm"
    positional: ClassVar[tuple[str, ...]] = ("normalized_shape",)
    render_positional: ClassVar[int] = 1
    aliases: ClassVar[tuple[str, ...]] = ("layernorm", "layer_norm", "layernormalization", "ln")
    bounds: ClassVar[dict[str, tuple[int, int]]] = {"normalized_shape": _FEATURES}

    def params(self) -> int:
        return 2 * self.normalized_shape

    def macs(self, inp: Shape, out: Shape) -> int:
        return 4 * _numel(inp)


@register_layer
class Upsample(Layer):
    op: Literal["Upsample"] = "Upsample"
    scale_factor: int = Field(2, ge=1, le=limits.MAX_SCALE, description="spatial scale")
    mode: Literal["nearest", "bilinear"] = Field("nearest", description="interpolation mode")
    torch_name: ClassVar[str] = "Upsample"
    choices: ClassVar[tuple[str, ...]] = ("mode",)
    aliases: ClassVar[tuple[str, ...]] = ("upsample", "upsampling2d", "upsampling")

    def _always_shown(self) -> tuple[str, ...]:
        return ("scale_factor",)  # torch's own default is None, not 2

    def out_shape(self, inp: Shape) -> Shape:
        c, h, w = _need_map(self, inp)
        return c, h * self.scale_factor, w * self.scale_factor


# Keras spellings whose first positional argument differs from torch's
add_alias("Dense", "Linear", positional=("out_features",), exact=True)
add_alias("Conv2D", "Conv2d", positional=("out_channels", "kernel_size", "stride", "padding"), exact=True)
add_alias("DepthwiseConv2D", "DWConv2d", positional=("kernel_size", "stride", "padding", "depth_multiplier"),
          exact=True)  # Keras's; the article's `DepthwiseConv2d` (small d) stays a module the LLM must define

LAYER_KINDS = (Conv2d, DWConv2d, BatchNorm2d, ReLU, ReLU6, LeakyReLU, GELU, SiLU, Hardswish, Hardsigmoid, Sigmoid,
               Tanh, Mish, ELU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, Flatten, Linear,
               Dropout, Identity, Softmax, LogSoftmax, LayerNorm, Upsample)
AnyLayer = Union[LAYER_KINDS]  # type: ignore[valid-type]
