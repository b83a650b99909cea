"""The offline default reproduces the article end to end: `gptnet design --budget 10M --target sd855` replays the
bundled conversation, repairs the LLM's bugs itself and writes the article's final model."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, load_model_module, run_cli, thop_counts

REFERENCE = ROOT / "generated" / "cnn_gpt"
REFRESH = "GPTNET_ACCEPT=1 python -m pytest tests/test_article.py"


@pytest.fixture(scope="module")
def article_run(tmp_path_factory) -> tuple[Path, str]:
    cwd = tmp_path_factory.mktemp("article")
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert "replaying the article's conversation" in r.stderr
    return cwd / "generated" / "cnn_gpt", r.stdout


def test_writes_the_four_files(article_run) -> None:
    out, stdout = article_run
    assert {p.name for p in out.iterdir()} == {"model.py", "spec.json", "conversation.json", "report.md",
                                               ".gptnet-design.json"}
    assert "6.76M params" in stdout and "1.51G MACs at 224x224" in stdout
    assert "Repairs gptnet made: 8" in stdout


def test_article_numbers_by_thop(article_run) -> None:
    import torch

    module = load_model_module(article_run[0] / "model.py")
    # the article's table: 6.66M params and 1.51 GMACs with the 10-class head, at 1x3x224x224
    params, macs = thop_counts(module.build_model(num_classes=10), (3, 224, 224))
    assert (round(params / 1e6, 2), round(macs / 1e9, 2)) == (6.66, 1.51)
    net = module.build_model()
    params100, _ = thop_counts(net, (3, 32, 32))
    assert round(params100 / 1e6, 2) == 6.76
    with torch.no_grad():
        assert net.eval()(torch.randn(4, 3, 32, 32)).shape == (4, 100)


def test_spec_counts_equal_thop(article_run) -> None:
    design = json.loads((article_run[0] / "spec.json").read_text())
    from gptnet.profile import profile_spec
    from gptnet.spec import ModelSpec

    profile = profile_spec(ModelSpec.model_validate(design))
    net = load_model_module(article_run[0] / "model.py").build_model()
    assert thop_counts(net, (3, 32, 32)) == (profile.params, profile.macs)
    assert thop_counts(net, (3, 224, 224)) == (profile.params, profile.macs_224)


def test_report_lists_the_repairs_gptnet_made(article_run) -> None:
    report = (article_run[0] / "report.md").read_text()
    repairs = report.split("## Repairs gptnet made")[1].split("## ")[0]
    assert "undefined-module" in repairs and "DepthwiseConv2d used 5 times but never defined" in repairs
    assert repairs.count("missing-argument") == 5 and "`DepthwiseConv2d(32, 32, kernel_size=3" in repairs
    assert "`Linear(1024, 10)` | `Linear(1024, 100)`" in repairs
    assert "`AvgPool2d(kernel_size=4)` | `AdaptiveAvgPool2d(1)`" in repairs
    assert "1x1 map" in repairs


def test_output_matches_the_committed_reference(article_run) -> None:
    """generated/cnn_gpt/ is the golden copy of the article's output, byte for byte: the README's command changes
    no tracked file (a replay keeps the conversation's date)."""
    if os.environ.get("GPTNET_ACCEPT"):  # the whole folder, so its manifest matches its files
        shutil.copytree(article_run[0], REFERENCE, dirs_exist_ok=True)
    for name in ("model.py", "spec.json", "report.md", "conversation.json", ".gptnet-design.json"):
        text = (article_run[0] / name).read_text()
        assert (REFERENCE / name).is_file(), f"missing generated/cnn_gpt/{name}; create it with: {REFRESH}"
        assert text == (REFERENCE / name).read_text(), f"{name} changed; if intended, refresh with: {REFRESH}"


def test_bundled_cassette_holds_the_questions_the_pipeline_asks(article_run) -> None:
    bundled = json.loads((ROOT / "gptnet" / "data" / "article.json").read_text())
    produced = json.loads((article_run[0] / "conversation.json").read_text())
    assert [t["stage"] for t in bundled["turns"]] == ["ops", "model", "module:DepthwiseConv2d"]
    for b, p in zip(bundled["turns"], produced["turns"], strict=True):
        assert (b["stage"], b["response"]) == (p["stage"], p["response"])
        assert b.get("request", {}).get("messages") == p["request"]["messages"], (
            "the prompts changed; refresh gptnet/data/article.json's requests from a new run's conversation.json")
