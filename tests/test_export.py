"""ONNX export: opset 17 or newer, outputs equal to PyTorch's within 1e-4 by onnxruntime, a verdict per operator; and
the export requests that are usage errors, ONNX or LiteRT (tests/test_litert.py exports LiteRT)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import onnx

from conftest import CASSETTES, ROOT, clean_env, load_model_module, run_cli


def test_article_model_exports_and_matches(tmp_path: Path) -> None:
    design = Path(shutil.copytree(ROOT / "generated" / "cnn_gpt", tmp_path / "cnn_gpt"))
    r = run_cli("export", str(design), "--format", "onnx", "--target", "sd855", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    model = onnx.load(str(design / "model.onnx"))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert "onnxruntime matches PyTorch" in r.stdout
    assert f"Wrote {design / 'model.onnx'} (opset 17; weights untrained (no train/best.pt))" in r.stdout
    assert "Conv x5 (DepthwiseConv2d): cpu: yes; cpu4: yes; cpu4int8: yes; gpu: yes; dsp: yes; ncnn-cpu4: yes; " \
           "ncnn-gpu: yes" in r.stdout
    assert "Gemm x1 (Linear)" in r.stdout


def test_a_trained_design_exports_its_trained_weights(tmp_path: Path) -> None:
    """The ONNX file of a trained design holds train/best.pt's weights, not a fresh network's, and says so: checked
    with onnxruntime against the trained network on an input of the test's own."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from gptnet.train import checkpoint

    design = Path(shutil.copytree(ROOT / "generated" / "cnn_gpt", tmp_path / "cnn_gpt"))
    torch.manual_seed(1)
    net = load_model_module(design / "model.py").build_model()
    with torch.no_grad():  # weights no fresh build_model() would have
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    checkpoint.save(design / "train" / "best.pt", {"model": net.state_dict(), "epoch": 3, "test_acc1": 50.0,
                                                   "config": {"data": "cifar100"}})
    r = run_cli("export", str(design), "--format", "onnx", "--target", "sd855", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"weights trained: {design / 'train' / 'best.pt'} (epoch 3, test acc@1 50.00%)" in r.stdout
    x = torch.randn(2, 3, 32, 32)
    got = ort.InferenceSession(str(design / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"input": x.numpy()})[0]
    with torch.no_grad():
        want = net.eval()(x).numpy()
    assert float(np.abs(got - want).max()) <= 1e-4


def test_residual_design_exports_with_add_and_clip(tmp_path: Path) -> None:
    r = run_cli("design", "--replay", str(CASSETTES / "module_inverted_residual.json"), "--budget", "10M",
                "--target", "sd855", "--classes", "10", "--yes", "--out", "mnv2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cli("export", "mnv2", "--target", "rpi4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Add x1 (Add): cpu: yes" in r.stdout and "(ReLU6): cpu: yes" in r.stdout


def test_bad_export_requests_are_usage_errors(tmp_path: Path) -> None:
    for args, words in ((["--format", "coreml"], "unknown export format"), (["--opset", "11"], "too old"),
                        (["--target", "x"], "unknown target"), (["--int8"], "--int8 quantizes LiteRT models only")):
        r = run_cli("export", str(ROOT / "generated" / "cnn_gpt"), *args, cwd=tmp_path)
        assert r.returncode == 2 and words in r.stderr, r.stderr
    assert not (ROOT / "generated" / "cnn_gpt" / "model.onnx").exists()


BLOCK_LITERT = ("import sys\n"
                "class Block:\n"
                "    def find_spec(self, name, path=None, target=None):\n"
                "        if name.split('.')[0] in ('litert_torch', 'ai_edge_litert'):\n"
                "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
                "sys.meta_path.insert(0, Block())\n")


def test_tflite_without_a_litert_environment_says_how_to_make_one(tmp_path: Path) -> None:
    # gptnet installed outside a clone (a copy of the package on PYTHONPATH) without LiteRT: nowhere to hand on to
    (tmp_path / "sitecustomize.py").write_text(BLOCK_LITERT)
    shutil.copytree(ROOT / "gptnet", tmp_path / "site" / "gptnet", ignore=shutil.ignore_patterns("__pycache__"))
    design = Path(shutil.copytree(ROOT / "generated" / "cnn_gpt", tmp_path / "cnn_gpt"))
    env = clean_env(PYTHONPATH=os.pathsep.join([str(tmp_path), str(tmp_path / "site")]))
    env.pop("GPTNET_LITERT_PYTHON", None)
    (tmp_path / "m.tflite").write_bytes(b"")
    for args in (["export", str(design), "--format", "tflite"], ["bench", str(tmp_path / "m.tflite")]):
        r = run_cli(*args, cwd=tmp_path, env=env)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert "which runs in an environment of its own" in r.stderr and "scripts/litert-env.sh" in r.stderr
        assert "GPTNET_LITERT_PYTHON" in r.stderr
    # an environment named that is not a Python, and one that lacks LiteRT too: each one line, nothing written
    for python, words in ((tmp_path / "missing" / "python", "which is not a file"),
                          (Path(sys.executable), "cannot import litert_torch")):
        env["GPTNET_LITERT_PYTHON"] = str(python)
        r = run_cli("export", str(design), "--format", "tflite", cwd=tmp_path, env=env)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (design / "model.tflite").exists()
