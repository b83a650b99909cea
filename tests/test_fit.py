"""Budget fitting: a design over its binding budget (params or MACs) has its channel widths scaled, in multiples of
8, to use 90-100% of it before the LLM is asked again; --fill scales a design far under budget up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import load_model_module, run_cli, thop_counts


def design(tmp_path: Path, *args: str) -> tuple[dict, Path]:
    out = tmp_path / "out"
    r = run_cli("design", "--target", "sd855", "--yes", "--json", "--out", str(out), *args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), out


@pytest.mark.parametrize(("args", "budget", "index"), [
    (["--budget", "3M"], 3_000_000, 0),
    (["--budget", "500K"], 500_000, 0),
    (["--budget", "10M", "--max-macs", "12M"], 12_000_000, 1),
    (["--budget", "10M", "--fill"], 10_000_000, 0),
    (["--budget", "2M", "--classes", "10", "--input", "3x64x64"], 2_000_000, 0),
])
def test_article_design_is_fitted_to_its_binding_budget(args: list[str], budget: int, index: int,
                                                        tmp_path: Path) -> None:
    result, out = design(tmp_path, *args)
    fits = [f for f in result["findings"] if f["kind"] == "fit"]
    assert len(fits) == 1 and "multiples of 8" in fits[0]["why"]
    used = (result["profile"]["params"], result["profile"]["macs"])[index]
    assert 0.9 * budget <= used <= budget
    assert "| fit | model |" in (out / "report.md").read_text()
    shape = tuple(json.loads((out / "spec.json").read_text())["input"])
    net = load_model_module(out / "model.py").build_model()
    assert thop_counts(net, shape) == (result["profile"]["params"], result["profile"]["macs"])
    widths = [m.out_channels for m in net.modules() if hasattr(m, "out_channels")]
    assert all(w % 8 == 0 for w in widths)


def test_a_budget_no_width_meets_is_an_error_naming_it(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "2K", "--target", "sd855", "--yes", cwd=tmp_path)
    assert r.returncode == 1
    assert "exceed the budget of 2K; no scaling of the channel widths fits it" in r.stderr


def test_no_fit_leaves_the_widths_to_the_llm(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "3M", "--no-fit", "--target", "sd855", "--yes", cwd=tmp_path)
    assert r.returncode == 1 and "revise" in r.stderr


@pytest.mark.parametrize(("suffix", "backend"), [("", "cpu"), (":gpu", "gpu")])
def test_latency_budget_on_a_named_or_default_backend(suffix: str, backend: str, tmp_path: Path) -> None:
    (tmp_path / "free").mkdir()
    free, _ = design(tmp_path / "free", "--budget", "10M")
    ms = round(0.9 * free["latency_ms"][backend], 3)  # binding, whatever the profile's calibration
    result, _ = design(tmp_path, "--budget", "10M", "--max-latency", f"{ms}ms{suffix}")
    assert 0.9 * ms <= result["latency_ms"][backend] <= ms
    assert [f["kind"] for f in result["findings"]].count("fit") == 1


def test_the_start_line_states_every_budget(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--max-macs", "1G", "--max-latency", "50ms:gpu", "--target", "sd855",
                "--yes", "--out", "o", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Designing for Qualcomm Snapdragon 855: budget 10M params, at most 1G MACs, at most 50 ms on gpu, " \
           "100 classes" in r.stderr


def test_a_latency_below_the_per_layer_floor_is_an_error(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", "--max-latency", "0.05ms", cwd=tmp_path)
    assert r.returncode == 1
    assert "exceeds the budget of 0.05 ms; no scaling of the channel widths fits it" in r.stderr


@pytest.mark.parametrize(("limit", "words"), [("fast", "invalid --max-latency"), ("1ms:npu", "no backend 'npu'"),
                                              ("5:gpu", "invalid --max-latency '5:gpu'"),  # ms or s? 1000x apart
                                              ("5", "its unit, ms or s")])
def test_bad_latency_budgets_are_usage_errors(limit: str, words: str, tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", "--max-latency", limit, cwd=tmp_path)
    assert r.returncode == 2 and words in r.stderr
