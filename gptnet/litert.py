"""`gptnet export --format tflite` and `gptnet bench`: model.py to LiteRT (the TensorFlow Lite runtime phones run)
through litert-torch, fp32 or int8 post-training quantized from training images; the converted model run with the
LiteRT interpreter and checked against PyTorch in the same command; and the converted graph's operators placed on
the target's LiteRT backends (CPU, GPU delegate, Hexagon delegate) the way those delegates decide.

Needs the `tflite` extra (litert-torch, ai-edge-litert), which lives in the LiteRT environment (litert_env.py: the
commands hand themselves on to it); imported only by the commands that use it."""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

from pydantic import BaseModel, Field

from .errors import DesignError, UsageError
from .network import trained_network
from .output import atomic_path
from .targets import Target
from .train.progress import Progress

TOLERANCE = 1e-4  # fp32: max |difference| from PyTorch on random inputs, as for ONNX
CALIBRATION = 200  # training images whose activation ranges set the int8 scales
EVALUATION = 1000  # test images the int8 model is compared on (at most)
BENCH_WARMUP = 5

# TFLite operators LiteRT's GPU delegate takes: NewOperationParser in google-ai-edge/LiteRT
# tflite/delegates/gpu/common/model_builder.cc (commit 34ec5bad); tensors of 5 or more dimensions stay on the CPU
GPU_OPS = frozenset({
    "ABS", "ADD", "ADD_N", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CAST", "CONCATENATION", "CONV_2D", "COS", "CUMSUM",
    "DENSIFY", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DIV", "EQUAL", "ELU", "EXP", "FLOOR", "FLOOR_DIV",
    "FLOOR_MOD", "FULLY_CONNECTED", "GATHER", "GELU", "GREATER", "GREATER_EQUAL", "HARD_SWISH", "LESS", "LESS_EQUAL",
    "LOGISTIC", "LOG", "LOGICAL_AND", "LSTM", "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MIRROR_PAD", "MUL", "NEG",
    "NOT_EQUAL", "ONE_HOT", "PACK", "PAD", "PADV2", "POW", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "RELU", "RELU6",
    "RELU_0_TO_1", "RELU_N1_TO_1", "LEAKY_RELU", "PRELU", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
    "RSQRT", "SELECT", "SELECT_V2", "SIGN", "SIN", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQRT",
    "SQUARE", "SQUARED_DIFFERENCE", "STRIDED_SLICE", "SUB", "SUM", "TANH", "TILE", "TRANSPOSE", "TRANSPOSE_CONV",
    "UNPACK"})
# ... and the Hexagon delegate, for int8 models only: tensorflow/lite/delegates/hexagon/README.md (commit
# 0406598a), "Supported Ops", whose constraints are checked in `_hexagon`
HEXAGON_OPS = frozenset({
    "ADD", "ARG_MAX", "ARG_MIN", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTH_TO_SPACE",
    "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "HARD_SWISH", "L2_NORMALIZATION", "LOGISTIC", "MAXIMUM", "MAX_POOL_2D",
    "MEAN", "MINIMUM", "MIRROR_PAD", "MUL", "NEG", "PACK", "PAD", "QUANTIZE", "RELU", "RELU6", "RESHAPE",
    "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "STRIDED_SLICE",
    "SUB", "TANH", "TRANSPOSE", "TRANSPOSE_CONV"})


DELEGATES = {"gpu": "GPU delegate", "hexagon": "Hexagon delegate"}  # the CPU runs every operator


class Placement(BaseModel):
    op: str = Field(description="the TFLite operator")
    count: int
    delegates: dict[str, str] = Field(description="gpu or hexagon -> 'runs' or 'CPU: why it falls back'")


class TfliteExport(BaseModel):
    path: Path
    precision: str = Field(description="fp32 or int8")
    size_bytes: int
    weights: str = Field(description="where the weights come from: the trained checkpoint, or untrained")
    max_diff: float | None = Field(None, description="fp32: max |LiteRT - PyTorch| on random inputs")
    data: str | None = Field(None, description="int8: the data set of the calibration and test images")
    images: int | None = Field(None, description="int8: test images compared")
    agreement: float | None = Field(None, description="int8: share of test images whose top-1 class LiteRT int8 "
                                                      "and PyTorch fp32 agree on")
    accuracy_fp32: float | None = Field(None, description="test top-1 of PyTorch fp32, with a trained checkpoint")
    accuracy_int8: float | None = Field(None, description="test top-1 of LiteRT int8, with a trained checkpoint")
    operators: list[Placement] = Field(default_factory=list)


class Bench(BaseModel):
    path: Path
    threads: int
    runs: int
    median_ms: float
    min_ms: float
    input: list[int]
    dtype: str


def backends_for(target: Target, precision: str) -> list[str]:
    """The target's LiteRT backends whose latency estimates describe a converted file of this precision: an int8
    file runs on the int8 ones (CPU kernels, Hexagon); an fp32 file on the fp32 CPU ones and on the GPU delegate,
    which computes it in fp16 by default."""
    return [k for k, b in target.backends.items() if b.delegate and
            (b.precision == precision or (precision == "fp32" and b.delegate == "gpu"))]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """LiteRT and its converter log from C++ straight to the process's stdout and stderr (absl start-up lines, the
    XNNPACK banner, progress bars): point both descriptors at a scratch file for the block. A failure still
    reaches the user, as the exception the block raises."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, saved_fd in ((1, saved[0]), (2, saved[1])):
                os.dup2(saved_fd, fd)
                os.close(saved_fd)


def _litert_torch():
    with _quiet():
        import litert_torch

    litert_torch.config.show_progress = False
    return litert_torch


class Runner:
    """A .tflite model run by the LiteRT interpreter on float NCHW batches (the layout litert-torch keeps): an int8
    model's input is quantized and its output dequantized with the model's own scales."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        with _quiet():
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def one(self, x):
        """One input of the model's shape, in its dtype, run once."""
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])

    def __call__(self, batch):
        import numpy as np

        rows = []
        for x in np.asarray(batch, dtype=np.float32):
            x = x[None]
            scale, zero = self.input["quantization"]
            if self.input["dtype"] != np.float32:
                info = np.iinfo(self.input["dtype"])
                x = np.clip(np.round(x / scale + zero), info.min, info.max).astype(self.input["dtype"])
            y = self.one(x)
            scale, zero = self.output["quantization"]
            rows.append((y.astype(np.float32) - zero) * scale if self.output["dtype"] != np.float32 else y)
        return np.concatenate(rows)


def _hexagon(op: str, options, filter_shape) -> str | None:
    """Why the Hexagon delegate leaves this int8 operator to the CPU (its README's constraints), or None."""
    if op not in HEXAGON_OPS:
        return "not an operator the Hexagon delegate implements"
    if op == "DEPTHWISE_CONV_2D":
        if filter_shape and filter_shape[2] != 3:
            return f"depthwise filter {filter_shape[1]}x{filter_shape[2]}: the delegate takes width 3 only"
        if options.depthMultiplier != 1 or max(options.strideW, options.strideH) > 3:
            return "depth multiplier other than 1, or a stride over 3"
    if op in ("CONV_2D", "TRANSPOSE_CONV") and options is not None and max(options.strideW, options.strideH) > 3:
        return "stride over 3"
    return None


def placements(path: Path, target: Target) -> list[Placement]:
    """Every operator of the converted graph, and for each delegate the target's LiteRT backends use (GPU, Hexagon)
    whether it runs the operator or hands it back to the CPU."""
    from ai_edge_litert.tools import flatbuffer_utils as fb

    model = fb.read_model(str(path))
    graph = model.subgraphs[0]
    used = [d for d in DELEGATES if any(b.delegate == d for b in target.backends.values())]
    seen: Counter = Counter()
    verdicts: dict[str, dict[str, str]] = {}
    for op in graph.operators:
        name = fb.opcode_to_name(model, op.opcodeIndex) or "CUSTOM"
        tensors = [graph.tensors[i] for i in [*op.inputs, *op.outputs] if i >= 0]
        int8 = any(fb.type_to_name(t.type) in ("INT8", "UINT8") for t in tensors)
        dims = max((len(t.shape) for t in tensors if t.shape is not None), default=0)
        filter_shape = list(graph.tensors[op.inputs[1]].shape) if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
        seen[name] += 1
        row = verdicts.setdefault(name, {})
        for delegate in used:
            if delegate == "gpu":
                why = None if name in GPU_OPS else "not an operator the GPU delegate implements"
                why = why or (f"a {dims}-D tensor: the GPU delegate takes up to 4-D" if dims > 4 else None)
            else:
                why = _hexagon(name, op.builtinOptions, filter_shape) if int8 else \
                    "float: the Hexagon delegate runs int8 operators only (export with --int8)"
            if why or delegate not in row:  # one instance that falls back is enough to say so
                row[delegate] = f"CPU: {why}" if why else "runs"
    return [Placement(op=name, count=seen[name], delegates=verdicts[name]) for name in sorted(seen)]


def _sample(dataset, n: int, seed: int):
    """n images (and labels) drawn without replacement, the same ones every run."""
    import torch

    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    xs, ys = zip(*(dataset[int(i)] for i in order))
    return torch.stack(xs), torch.as_tensor(ys)


def _quantized(net, shape, calibration, say: Callable[[str], None] | None = None, terminal: bool = False) -> object:
    """The network through PT2E static int8 quantization (per-channel symmetric weights, per-tensor activations),
    its ranges observed on the calibration images, as litert-torch documents it. Observing is the slow part (a
    fraction of a second an image): `say` and `terminal` show how far it has got, as training shows an epoch."""
    import torch

    litert_torch = _litert_torch()
    x = torch.zeros(1, *shape)
    with _quiet():  # the imports log from C++ too
        from litert_torch.quantize import pt2e_quantizer as pq
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e import move_exported_model_to_eval, quantize_pt2e

        quantizer = pq.PT2EQuantizer().set_global(pq.get_symmetric_quantization_config(is_per_channel=True))
        graph = torch.export.export(net, (x,)).module()
        graph = quantize_pt2e.prepare_pt2e(graph, quantizer)
        move_exported_model_to_eval(graph)
    # outside _quiet, which would swallow the bar; observing logs nothing
    with Progress("int8 calibration", len(calibration), "images", terminal, say) as bar, torch.no_grad():
        for image in calibration:
            graph(image[None])
            bar.advance()
    if say is not None:
        say("Converting to LiteRT (int8)...")
    with _quiet():
        graph = quantize_pt2e.convert_pt2e(graph, fold_quantize=False)
        move_exported_model_to_eval(graph)
        return litert_torch.convert(graph, (x,), quant_config=QuantConfig(pt2e_quantizer=quantizer))


def export_tflite(path: Path, target: Target, int8: bool = False, data: str | None = None, data_dir: str = "data",
                  trust_edits: bool = False, say: Callable[[str], None] | None = None,
                  terminal: bool = False) -> TfliteExport:
    """`say` and `terminal` show what it is doing and how far calibration has got, as training shows an epoch."""
    import numpy as np
    import torch

    from .design_folder import locate_design
    from .train.data import load_data

    folder, model_py = locate_design(path)
    net, shape, weights, config = trained_network(folder, model_py, trust_edits)
    out = folder / ("model_int8.tflite" if int8 else "model.tflite")
    report = TfliteExport(path=out, precision="int8" if int8 else "fp32", size_bytes=0, weights=weights)
    if int8:
        name = data or (config or {}).get("data") or "mnist5k"
        sets = load_data(name, shape, (config or {}).get("data_dir", data_dir) if data is None else data_dir,
                         say=say, terminal=terminal)
        train = getattr(sets.train, "base", sets.train)  # the images as stored, without augmentation
        calibration, _ = _sample(train, min(CALIBRATION, len(train)), seed=0)
        images, labels = _sample(sets.test, min(EVALUATION, len(sets.test)), seed=1)
        if say is not None:
            say(f"Observing activation ranges on {len(calibration)} {name} training images for the int8 scales...")
        converted = _quantized(net, shape, calibration, say, terminal)
    else:
        if say is not None:
            say("Converting to LiteRT (fp32)...")
        with _quiet():
            converted = _litert_torch().convert(net, (torch.zeros(1, *shape),))
    with atomic_path(out, suffix=".tflite", hint="export a copy of the design to a folder you can write to") as tmp:
        with _quiet():
            converted.export(str(tmp))
    report.size_bytes = out.stat().st_size
    runner = Runner(out, threads=1)
    with torch.no_grad():
        if int8:
            want = net(images).numpy()
            got = runner(images.numpy())
            report.data, report.images = name, len(images)
            report.agreement = float((got.argmax(1) == want.argmax(1)).mean())
            if config is not None and want.shape[1] == sets.classes:  # trained on these labels: accuracy means something
                report.accuracy_fp32 = float((want.argmax(1) == labels.numpy()).mean())
                report.accuracy_int8 = float((got.argmax(1) == labels.numpy()).mean())
        else:
            batch = torch.randn(4, *shape, generator=torch.Generator().manual_seed(0))
            report.max_diff = float(np.abs(runner(batch.numpy()) - net(batch).numpy()).max())
            if report.max_diff > TOLERANCE:
                raise DesignError(f"the LiteRT model's outputs differ from PyTorch's by {report.max_diff:.2e} (more "
                                  f"than {TOLERANCE})", "report this: the conversion changed the model")
    report.operators = placements(out, target)
    return report


def _bench_file(path: Path) -> Path:
    """The .tflite model to run: the file given, or a design folder's model.tflite (export's fp32 output), as every
    other command takes the folder."""
    if path.is_dir():
        int8 = path / "model_int8.tflite"
        if not (path / "model.tflite").is_file():
            raise UsageError(f"no model.tflite in {path}", f"export one with gptnet export {path} --format tflite"
                             + (f", or bench {int8}" if int8.is_file() else ""))
        return path / "model.tflite"
    if not path.is_file() or path.suffix != ".tflite":
        raise UsageError(f"no .tflite model at {path}", "export one with gptnet export DIR --format tflite")
    return path


def bench(path: Path, threads: int = 1, runs: int = 50) -> Bench:
    """Median and minimum milliseconds of `runs` invocations of a .tflite model on this machine's CPU (LiteRT with
    XNNPACK), after warm-up, on a random input."""
    import numpy as np

    path = _bench_file(Path(path))
    try:
        runner = Runner(path, threads=threads)
    except ValueError as e:
        raise UsageError(f"{path} is not a LiteRT model: {str(e).splitlines()[0]}",
                         "export one with gptnet export DIR --format tflite") from None
    spec = runner.input
    rng = np.random.default_rng(0)
    x = rng.standard_normal(spec["shape"]).astype(np.float32)
    if spec["dtype"] != np.float32:
        info = np.iinfo(spec["dtype"])
        x = rng.integers(info.min, info.max + 1, spec["shape"]).astype(spec["dtype"])
    for _ in range(BENCH_WARMUP):
        runner.one(x)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        runner.one(x)
        samples.append(1000 * (time.perf_counter() - start))
    return Bench(path=path, threads=threads, runs=runs, median_ms=statistics.median(samples), min_ms=min(samples),
                 input=[int(d) for d in spec["shape"]], dtype=np.dtype(spec["dtype"]).name)
