"""ONNX export: opset 17 or newer, outputs equal to PyTorch's within 1e-4 by onnxruntime, a verdict per operator; and
the export requests that are usage errors, ONNX or LiteRT (tests/test_litert.py exports LiteRT)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import onnx

from conftest import CASSETTES, ROOT, clean_env, run_cli


def test_article_model_exports_and_matches(tmp_path: Path) -> None:
    design = Path(shutil.copytree(ROOT / "generated" / "cnn_gpt", tmp_path / "cnn_gpt"))
    r = run_cli("export", str(design), "--format", "onnx", "--target", "sd855", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    model = onnx.load(str(design / "model.onnx"))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert "onnxruntime matches PyTorch" in r.stdout
    assert "Conv x5 (DepthwiseConv2d): cpu: yes; cpu4: yes; cpu4int8: yes; gpu: yes; dsp: yes; ncnn-cpu4: yes; " \
           "ncnn-gpu: yes" in r.stdout
    assert "Gemm x1 (Linear)" in r.stdout


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
