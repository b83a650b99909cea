"""Stage build: a program that defines its model but never builds it (`class WideNet: def __init__(self, width,
...)` and no `WideNet(...)`, the prose saying "at width 24") is asked for the line that builds it, through the real
CLI, replayed and live; the reply is read as the program is, never run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import clean_env, load_model_module, run_cli, write_cassette
from fake_openai import FakeOpenAI, Script
from gptnet.parse import ParseError, parse_answer

PROGRAM = """At width 24 this small residual network is about 20K parameters:

```python
import torch.nn as nn
import torch.nn.functional as F


class WideNet(nn.Module):
    def __init__(self, width, num_classes=10, depth=2):
        super().__init__()
        self.stem = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.convs = nn.Sequential(*[nn.Conv2d(width, width, 3, padding=1) for _ in range(depth)])
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = F.relu(self.convs(x))
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(x.view(x.size(0), -1))
```
"""
DEFAULTED = PROGRAM.replace("def __init__(self, width, ", "def __init__(self, width=96, ")


def params(width: int, depth: int = 2, classes: int = 10) -> int:
    return 27 * width + 2 * width + depth * (9 * width * width + width) + width * classes + classes


def replay(tmp_path: Path, turns: list[dict], *args: str, out: str = "out"):
    cassette = write_cassette(tmp_path / f"{out}.json", turns)
    return run_cli("design", "--replay", str(cassette), "--target", "sd855", "--classes", "10", "--yes", "--json",
                   "--no-fit", "--out", str(tmp_path / out), *args, cwd=tmp_path), tmp_path / out


def turns_of(out: Path) -> list[dict]:
    return json.loads((out / "conversation.json").read_text(encoding="utf-8"))["turns"]


@pytest.mark.parametrize("reply", [
    "model = WideNet(24, num_classes=10)",
    "```python\nmodel = WideNet(width=24, num_classes=10).to(device)\n```",
    "Build it with `WideNet(24)` for the 10 classes.",
    "```python\nWIDTH = 24\nnet = WideNet(WIDTH, depth=2)\nprint(net)\n```",
], ids=["line", "fenced-to-device", "quoted", "constant"])
def test_the_build_answer_builds_the_model_the_prose_describes(reply: str, tmp_path: Path) -> None:
    r, out = replay(tmp_path, [{"stage": "model", "response": PROGRAM}, {"stage": "build", "response": reply}],
                    "--budget", "50K")
    assert r.returncode == 0, r.stderr
    net = load_model_module(out / "model.py").build_model()
    assert sum(p.numel() for p in net.parameters()) == params(24) == json.loads(r.stdout)["profile"]["params"]
    build = [t for t in turns_of(out) if t["stage"] == "build"]
    assert len(build) == 1
    question = build[0]["request"]["messages"][-1]["content"]
    assert "WideNet(width, num_classes=10, depth=2)" in question and "never builds" in question
    # the design folder's conversation replays to the same model
    r2, out2 = replay(tmp_path, turns_of(out), "--budget", "50K", out="again")
    assert r2.returncode == 0, r2.stderr
    assert (out2 / "model.py").read_text() == (out / "model.py").read_text()


def test_without_a_build_answer_the_refusal_names_the_signature(tmp_path: Path) -> None:
    r, out = replay(tmp_path, [{"stage": "model", "response": PROGRAM}], "--budget", "50K")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and not out.exists()
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("gptnet: error:")]
    assert "defines WideNet(width, num_classes=10, depth=2) but never builds it" in line and "stage build" in line


def test_defaults_within_budget_ask_nothing(tmp_path: Path) -> None:
    r, out = replay(tmp_path, [{"stage": "model", "response": DEFAULTED}], "--budget", "200K")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["profile"]["params"] == params(96)
    assert [t["stage"] for t in turns_of(out)] == ["model"]


def test_defaults_over_budget_ask_with_the_reason_and_the_answer_fits(tmp_path: Path) -> None:
    r, out = replay(tmp_path, [{"stage": "model", "response": DEFAULTED},
                               {"stage": "build", "response": "model = WideNet(width=24)"}], "--budget", "50K")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["profile"]["params"] == params(24)
    question = [t for t in turns_of(out) if t["stage"] == "build"][0]["request"]["messages"][-1]["content"]
    assert "built with its defaults it cannot be used" in question and "budget of 50K" in question


def test_defaults_over_budget_without_a_build_answer_go_to_revise(tmp_path: Path) -> None:
    r, _ = replay(tmp_path, [{"stage": "model", "response": DEFAULTED}], "--budget", "50K")
    assert r.returncode == 1
    assert "stage build: no answer; the model is built with its defaults" in r.stderr
    assert "budget of 50K" in r.stderr


@pytest.mark.parametrize(("reply", "message"), [
    ("model = OtherNet(24)", r"^the answer to stage build calls none of WideNet: .* `model = WideNet\(...\)`"),
    ("I think a width of 24 works best.", r"^the answer to stage build calls none of WideNet"),
    ('model = WideNet(__import__("os").system("touch PWNED"))', r"line 18: `__import__` is not read"),
    ("model = WideNet(width=-3)", r"line 8: Conv2d: .*out_channels must be 1..65,536, not -3"),
], ids=["other-name", "prose", "payload", "negative"])
def test_a_build_answer_that_builds_nothing_usable_is_refused_and_never_run(reply: str, message: str,
                                                                           tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParseError, match=message):
        parse_answer(PROGRAM, build=reply)
    assert not (tmp_path / "PWNED").exists()


def test_the_live_build_question_is_plain_text_and_its_answer_is_read(tmp_path: Path) -> None:
    script = Script(answers=["Conv2d, ReLU, BatchNorm2d", PROGRAM, "```python\nmodel = WideNet(16)\n```"])
    with FakeOpenAI(script) as server:
        r = run_cli("design", "--budget", "50K", "--no-fit", "--target", "sd855", "--classes", "10", "--base-url",
                    server.base_url, "--model", "test-model", "--yes", "--json", "--out", str(tmp_path / "out"),
                    cwd=tmp_path, env=clean_env())
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["profile"]["params"] == params(16)
    build = script.requests[2]
    assert "response_format" not in build
    assert "WideNet(width, num_classes=10, depth=2)" in build["messages"][-1]["content"]
    assert [t["stage"] for t in turns_of(tmp_path / "out")] == ["ops", "model", "build"]
