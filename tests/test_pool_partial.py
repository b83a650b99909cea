"""A pool whose windows fit the map but leave part of it unread: the last pool before the classifier, reduced to
one position, becomes the global pool it was meant as; elsewhere a warning says what is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli, write_cassette
from gptnet.parse import parse_answer
from gptnet.spec.graph import ModelSpec
from gptnet.targets import load_target
from gptnet.validators import Task, errors, validate

STEM = "Conv2d(3, 16, 3, padding=1) ReLU() "
HEAD = " Flatten() Linear(16, 10)"


def findings_of(text: str, side: int) -> list:
    task = Task(budget=10_000_000, classes=10, input=(3, side, side), target=load_target("sd855"))
    model, findings = validate(ModelSpec(layers=parse_answer(text).models[0].layers), task)
    assert not errors(findings), findings
    return [f for f in findings if f.kind == "pool-partial"]


def test_the_articles_pool_at_224_becomes_the_global_pool(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd845", "--input", "3x224x224", "--yes", "--out",
                str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert ("[pool-partial] layer 33 (AvgPool2d): AvgPool2d(kernel_size=4) -> AdaptiveAvgPool2d(1) (its 4x4 windows "
            "at stride 4x4 read 4x4 of the 7x7 map that reaches it and drop the rest") in r.stdout
    assert "nn.AdaptiveAvgPool2d(1)" in (tmp_path / "out" / "model.py").read_text()


def test_a_pool_inside_the_network_that_drops_a_border_is_a_warning_once() -> None:
    [f] = findings_of(STEM + "MaxPool2d(2) Conv2d(16, 16, 3) ReLU() AdaptiveAvgPool2d(1)" + HEAD, 15)
    assert f.severity == "warning" and f.where == "layer 2 (MaxPool2d)" and f.after is None
    assert "read 14x14 of the 15x15 map" in f.why and "the last 1 row and 1 column (29 of 225 positions)" in f.why


def test_a_head_pool_that_keeps_several_positions_is_a_warning_not_a_repair() -> None:
    [f] = findings_of(STEM + "AvgPool2d(2)" + HEAD.replace("16, 10", "64, 10"), 9)  # 4x4 of 9x9 positions kept
    assert f.severity == "warning" and "the last 1 row and 1 column" in f.why


def test_a_stride_past_the_window_says_the_gaps_are_between_windows() -> None:
    [f] = findings_of(STEM + "MaxPool2d(1, stride=2) Conv2d(16, 16, 3) ReLU() AdaptiveAvgPool2d(1)" + HEAD, 8)
    assert "between its windows, 4 rows and 4 columns (48 of 64 positions)" in f.why


@pytest.mark.parametrize("pool", ["MaxPool2d(3, stride=2, padding=1)", "MaxPool2d(2, ceil_mode=True)",
                                  "AvgPool2d(7)"])
def test_pools_that_read_the_whole_map_say_nothing(pool: str) -> None:
    assert findings_of(STEM + pool + " AdaptiveAvgPool2d(1)" + HEAD, 7) == []


def test_warnings_reach_the_screen_and_report(tmp_path: Path) -> None:
    model = STEM + "MaxPool2d(2) Conv2d(16, 16, 3) ReLU() AdaptiveAvgPool2d(1)" + HEAD
    cassette = write_cassette(tmp_path / "c.json", [{"stage": "ops", "prompt": "", "response": "Conv2d, ReLU"},
                                                   {"stage": "model", "prompt": "", "response": model}])
    r = run_cli("design", "--budget", "1M", "--target", "sd855", "--input", "3x15x15", "--replay", str(cassette),
                "--yes", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Warnings (left as written): 1\n  - [pool-partial] layer 2 (MaxPool2d): MaxPool2d(kernel_size=2)" in r.stdout
    assert "## Warnings" in (tmp_path / "out" / "report.md").read_text()
