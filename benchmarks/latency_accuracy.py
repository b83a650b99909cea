"""Measured against predicted latency on this machine, batch 1, for varied models: torchvision's ResNet-18,
MobileNetV2, ShuffleNetV2 and SqueezeNet, the article's model and gptnet designs at several widths.

    python benchmarks/latency_accuracy.py [--recalibrate]

It uses the `host` profile that `gptnet calibrate` writes (running it first if there is none), predicts each
model with gptnet's cost model from a torch.fx trace, times the real model (warm-up, 50 repeats, lower
quartile), and prints each error and the median and worst absolute errors. Goals: median at most 15%, worst
at most 35%."""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
from pathlib import Path

import torch
import torchvision.models as tvm

from gptnet.calibrate import calibrate, time_module
from gptnet.design import Options, design
from gptnet.latency import predict, work_from_torch
from gptnet.targets import load_target, user_dir

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "tests" / "cassettes"


def load(model_py: Path, classes: int):
    spec = importlib.util.spec_from_file_location(f"m{abs(hash(model_py))}", model_py)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_model(num_classes=classes)


def designs(tmp: Path):
    """gptnet designs at several widths, made offline from the article's conversation and test cassettes."""
    runs = [("cnn_gpt 10M", dict(budget="10M")), ("cnn_gpt fit 3M", dict(budget="3M")),
            ("cnn_gpt fit 1M", dict(budget="1M")), ("cnn_gpt fill 20M", dict(budget="20M", fill=True)),
            ("cnn_gpt 224 fit 2M", dict(budget="2M", input="3x224x224")),
            ("mini mobilenetv2", dict(budget="10M", replay=CASSETTES / "module_inverted_residual.json")),
            ("fire net", dict(budget="10M", replay=CASSETTES / "module_fire_pytorch.json")),
            ("edge net", dict(budget="10M", replay=CASSETTES / "form_pytorch_class.json"))]
    for name, kw in runs:
        opts = Options(target="sd855", classes=10, out=tmp / name.replace(" ", "_"), **kw)
        result, folder = design(opts)
        yield name, load(folder / "model.py", 10), tuple(result.spec.input)


def models(tmp: Path):
    yield "resnet18", tvm.resnet18(num_classes=1000), (3, 224, 224)
    yield "mobilenet_v2", tvm.mobilenet_v2(), (3, 224, 224)
    yield "shufflenet_v2_x1_0", tvm.shufflenet_v2_x1_0(), (3, 224, 224)
    yield "squeezenet1_0", tvm.squeezenet1_0(), (3, 224, 224)
    yield "cnn_gpt @224", load(ROOT / "generated" / "cnn_gpt" / "model.py", 100), (3, 224, 224)
    yield from designs(tmp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recalibrate", action="store_true", help="measure this machine again first")
    args = parser.parse_args()
    if args.recalibrate or not (user_dir() / "host.json").is_file():
        calibrate()
    host = load_target("host")
    torch.set_num_threads(host.backends["cpu"].threads or torch.get_num_threads())  # as it was calibrated
    errors = []
    print(f"{'model':22} {'input':>10} {'measured ms':>12} {'predicted ms':>13} {'error':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, model, shape in models(Path(tmp)):
            model.eval()
            measured = time_module(model, shape, repeats=50)
            predicted = predict(work_from_torch(model, shape), host, "cpu").total_ms
            err = (predicted - measured) / measured
            errors.append(abs(err))
            print(f"{name:22} {'x'.join(map(str, shape)):>10} {measured:12.3f} {predicted:13.3f} {100 * err:+7.1f}%")
    med, worst = statistics.median(errors), max(errors)
    print(f"{len(errors)} models: median |error| {100 * med:.1f}% (goal <= 15%), worst {100 * worst:.1f}% "
          f"(goal <= 35%); torch {torch.__version__}, {torch.get_num_threads()} threads")
    sys.exit(0)


if __name__ == "__main__":
    main()
