"""Answers that offer several models: each form reads them as separate candidates, each labelled as the answer
labels it, the one the answer recommends marked; the pipeline takes the recommended one when it fits the budget as
given (else the first that does, else one scaled to fit) and says why; a recorded switch replays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CASSETTES, run_cli
from gptnet.agent.cassette import Cassette, Turn
from gptnet.agent.llm import ReplayLLM
from gptnet.agent.pipeline import Designer
from gptnet.parse import parse_answer
from gptnet.targets import load_target
from gptnet.validators import Task

BIG_LAYERS = ["Conv2d(3, 64, 3, padding=1)", "ReLU()", "Conv2d(64, 512, 3, padding=1)", "ReLU()",
              "AdaptiveAvgPool2d(1)", "Flatten()", "Linear(512, 10)"]  # 0.3M params
SMALL_LAYERS = ["Conv2d(3, 16, 3, padding=1)", "ReLU()", "Conv2d(16, 32, 3, padding=1)", "ReLU()",
                "AdaptiveAvgPool2d(1)", "Flatten()", "Linear(32, 10)"]  # 5K params
BIG, SMALL = " ".join(BIG_LAYERS), " ".join(SMALL_LAYERS)
NO_HEAD_BIG, NO_HEAD_SMALL = " ".join(BIG_LAYERS[:-1]), " ".join(SMALL_LAYERS[:-1])


def _json(name: str, layers: list[str], **extra) -> str:
    return json.dumps({"name": name, **extra, "layers": layers})


def _class(name: str, body: str) -> str:
    return (f"```python\nclass {name}(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            f"        self.body = nn.Sequential({body})\n    def forward(self, x):\n        return self.body(x)\n```")


TORCH_BIG = "nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)"
TORCH_SMALL = "nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)"
TABLE = "| Layer | In | Out | Kernel | Padding |\n|---|---|---|---|---|\n| Conv2d | 3 | {c} | 3 | 1 |\n" \
        "| ReLU | | | | |\n| Global Average Pooling | | | | |\n| Flatten | | | | |\n| Linear | {c} | 10 | | |"

# (answer, titles, the recommended one's index or None)
PHRASINGS = {
    "headings, recommended in its own heading":
        (f"Two options.\n\n### Option A (larger, ~25M params)\n{BIG}\n\n### Option B (recommended, ~8M)\n{SMALL}",
         ["Option A", "Option B"], 1),
    "labels on the layer lines, recommended in a closing sentence":
        (f"Option 1: {BIG}\nOption 2: {SMALL}\nOption 1 is more accurate, but I recommend Option 2 for the phone.",
         ["Option 1", "Option 2"], 1),
    "bold names, no Linear in either (split at the label and the input's channels)":
        (f"**EdgeNet-L**\n{NO_HEAD_BIG}\n\n**EdgeNet-S** (my pick for 10M)\n{NO_HEAD_SMALL}",
         ["EdgeNet-L", "EdgeNet-S"], 1),
    "Chinese labels":
        (f"方案一：{BIG}\n方案二：{SMALL}\n推荐方案二，参数更少。", ["方案 1", "方案 2"], 1),
    "headings without option labels, recommended by name in a closing sentence":
        (f"Three variants:\n\n**Small** (~2K params)\n{SMALL}\n\n**Medium** (~0.3M params)\n{BIG}\n\n"
         f"### Large - 1M\n{BIG.replace('512', '2048')}\n\nFor a 1M budget, the Medium variant is the best choice.",
         ["Small", "Medium", "Large"], 1),
    "recommended by its place":
        (f"First design:\n{BIG}\nSecond design:\n{SMALL}\nI'd go with the second one for the phone.",
         ["model 1", "model 2"], 1),
    "none recommended, one explicitly not":
        (f"Model A (not recommended for phones):\n{BIG}\n\nModel B:\n{SMALL}", ["Model A", "Model B"], None),
    "JSON models list with a recommended flag":
        ('{"models": [' + _json("WideNet", BIG_LAYERS, params="25M") + ", "
         + _json("SlimNet", SMALL_LAYERS, recommended=True) + "]}", ["WideNet", "SlimNet"], 1),
    "separate JSON blocks":
        (f"Option A (bigger):\n```json\n{_json('WideNet', BIG_LAYERS)}\n```\n\nOption B, the one I suggest for your "
         f"budget:\n```json\n{_json('SlimNet', SMALL_LAYERS)}\n```", ["Option A (WideNet)", "Option B (SlimNet)"], 1),
    "PyTorch classes in separate blocks":
        (f"Option A, wider:\n{_class('WideNet', TORCH_BIG)}\n\nOption B (recommended):\n"
         f"{_class('SlimNet', TORCH_SMALL)}", ["Option A (WideNet)", "Option B (SlimNet)"], 1),
    "PyTorch, comments in one block":
        (f"```python\n# Option A: wide\nbig = nn.Sequential({TORCH_BIG})\n\n# Option B: the one I'd pick\n"
         f"small = nn.Sequential({TORCH_SMALL})\n```", ["Option A (big)", "Option B (small)"], 1),
    "two tables":
        (f"### Option A\n{TABLE.format(c=64)}\n\n### Option B — final design\n{TABLE.format(c=16)}",
         ["Option A", "Option B"], 1),
}


@pytest.mark.parametrize(("text", "titles", "recommended"), PHRASINGS.values(), ids=PHRASINGS.keys())
def test_several_models_are_told_apart_and_the_recommended_one_marked(text: str, titles: list[str],
                                                                       recommended: int | None) -> None:
    answer = parse_answer(text)
    assert [c.title(k) for k, c in enumerate(answer.models)] == titles
    assert [k for k, c in enumerate(answer.models) if c.recommended] == ([] if recommended is None else [recommended])


def test_the_recommendation_goes_to_the_option_named_nearest_it() -> None:
    answer = parse_answer(f"Option A: {BIG}\nOption B: {SMALL}\nOption A is larger; go with Option B.")
    assert [bool(c.recommended) for c in answer.models] == [False, True]


def _design(text: str, budget: int, fit: bool = True):
    task = Task(budget=budget, classes=10, input=(3, 32, 32), target=load_target("sd855"), fit=fit)
    designer = Designer(task, ReplayLLM(Cassette(turns=[Turn(stage="model", response=text)]), "test"),
                        budget_text=str(budget))
    return designer, designer.start()


def _note(design) -> str:
    (note,) = [f.why for f in design.findings if f.kind == "several-models"]
    return note


@pytest.mark.parametrize(("text", "budget", "taken", "why"), [
    # the recommended one fits: taken as given, not the first shrunk
    (f"Option A:\n{BIG}\n\nOption B (recommended):\n{SMALL}", 200_000, 1, "the answer recommends it; it fits"),
    # the recommended one is over budget, another fits as given
    (f"Option A:\n{SMALL}\n\nOption B (recommended):\n{BIG}", 200_000, 0,
     "the answer recommends Option B, but it is over the budget as given; the first that fits"),
    (f"Option A:\n{BIG}\n\nOption B:\n{SMALL}", 200_000, 1, "the answer recommends none; the first that fits"),
    (f"Option A:\n{BIG}\n\nOption B:\n{SMALL}", 1_000_000, 0, "the answer recommends none; the first that fits"),
    # none fits as given: the recommended one is scaled to fit
    (f"Option A:\n{SMALL}\n\nOption B (recommended):\n{BIG}", 3_000, 1, "none fits the budget as given, and its "
     "widths are scaled"),
])
def test_the_choice_and_why(text: str, budget: int, taken: int, why: str) -> None:
    _, design = _design(text, budget)
    assert [o.chosen for o in design.options].index(True) == taken
    assert why in _note(design)
    first_big = text.index(BIG) < text.index(SMALL)
    assert design.original.layers[0].out_channels == (64 if first_big == (taken == 0) else 16)
    assert any(f.kind == "fit" for f in design.findings) == (budget == 3_000)


def test_switching_to_another_candidate_validates_it_again() -> None:
    designer, design = _design(f"Option A:\n{BIG}\n\nOption B (recommended):\n{SMALL}", 200_000)
    switched, findings = designer.switch(0, design)  # Option A: over budget as given, so scaled to fit
    assert switched is not None and switched.options[0].chosen and "the reviewer chose it" in _note(switched)
    assert any(f.kind == "fit" for f in switched.findings) and switched.profile.params <= 200_000
    assert switched.review[-1].model_dump(exclude_none=True) == {"event": "candidate", "candidate": 1,
                                                                 "text": "Option A"}
    stuck, findings = _design(f"Option A:\n{BIG}\n\nOption B (recommended):\n{SMALL}", 200_000, fit=False)[0].switch(
        0, design)
    assert stuck is None and findings[-1].kind == "over-budget"


def test_a_recorded_switch_replays_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    cassette = json.loads((CASSETTES / "validator_candidates_recommended.json").read_text())
    cassette["review"] = [{"event": "candidate", "candidate": 1, "text": "Option A"}]
    (tmp_path / "c.json").write_text(json.dumps(cassette))
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--replay", "c.json", "--yes", "--out", "out",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report = (tmp_path / "out" / "report.md").read_text()
    assert "| 1 (taken) | Option A |" in report and "switched to model 1 of the answer (Option A)" in report
    assert "nn.Conv2d(3, 128" not in (tmp_path / "out" / "model.py").read_text()  # scaled to fit 10M
    assert [e["event"] for e in json.loads((tmp_path / "out" / "conversation.json").read_text())["review"]] == [
        "candidate", "accept"]
    cassette["review"] = [{"event": "candidate", "candidate": 3}]
    (tmp_path / "c.json").write_text(json.dumps(cassette))
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--replay", "c.json", "--yes", "--out", "out2",
                cwd=tmp_path)
    assert r.returncode == 2 and "review entry 0: no candidate 3 in the last answer" in r.stderr
    assert not (tmp_path / "out2").exists()
