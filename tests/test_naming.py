"""A design's name: the one its answer gives (JSON, a class, a heading, a sentence), else the name it had before a
revision, else its task; the article's model stays CNN-GPT."""

from __future__ import annotations

import pytest

from conftest import ROOT, run_cli
from gptnet.agent.cassette import Cassette, Turn
from gptnet.agent.llm import ReplayLLM
from gptnet.agent.pipeline import Designer, task_name
from gptnet.parse import parse_answer
from gptnet.targets import load_target
from gptnet.validators import Task

L = "Conv2d(3, 8, 3) ReLU() AdaptiveAvgPool2d(1) Flatten() Linear(8, 10)"
TASK = Task(budget=10_000_000, classes=100, input=(3, 32, 32), target=load_target("sd855"))


@pytest.mark.parametrize(("text", "name"), [
    (f"## MobileEdgeNet\n\n{L}", "MobileEdgeNet"),
    (f"# EdgeNet-S (about 8M parameters)\n{L}", "EdgeNet-S"),
    (f"### Option B: TinyNet-S (recommended)\n{L}", "TinyNet-S"),
    (f"**SD855Net**: a compact CNN\n{L}", "SD855Net"),
    (f"## Architecture: EdgeSnapNet\n{L}", "EdgeSnapNet"),
    (f"### 1. MobileLite (recommended)\n{L}", "MobileLite"),
    (f"Let's call it `MicroNet-855`.\n{L}", "MicroNet-855"),
    (f"Here is my design. I call it PocketNet.\n{L}", "PocketNet"),
    (f"{L}\n\nThis network, called SnapCNN, keeps every layer on the DSP.", "SnapCNN"),
    (f"Model name: QuickNet\n{L}", "QuickNet"),
    (f"我设计的模型名为 DragonNet：{L}", "DragonNet"),
    ('{"name": "FastNet", "layers": ["Conv2d(3, 8, 3)"]}', "FastNet"),
    ('## QuickNet\n```json\n{"name": "ModelName", "layers": ["Conv2d(3, 8, 3)"]}\n```', "QuickNet"),
    ("```python\nclass EdgeNet(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.c = nn.Conv2d(3, 8, 3)\n    def forward(self, x):\n        return self.c(x)\n```", "EdgeNet"),
    ("## LiteNet\n```python\nmodel = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())\n```", "LiteNet"),
])
def test_the_name_an_answer_gives(text: str, name: str) -> None:
    assert parse_answer(text).models[0].name == name


@pytest.mark.parametrize("text", [
    f"Here is a design inspired by MobileNetV2 for CIFAR-100 in PyTorch:\n{L}",  # names it mentions, not its own
    f"## Model Architecture\n{L}",
    f"## Overview\n\n**Option A**\n{L}",
    f"# Block1\n{L}",
    '{"name": "ModelName", "layers": ["Conv2d(3, 8, 3)"]}',  # the prompt's placeholder, copied
    "```python\nmodel = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU())\n```",  # a variable, not a name
    "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.c = nn.Conv2d(3, 8, 3)\n"
    "    def forward(self, x):\n        return self.c(x)\n",
    "```python\n# StemNet1: the stem\nmodel = nn.Sequential(nn.Conv2d(3, 8, 3))\n```",  # a comment in code
    f"It uses a block called ConvBlock.\nConvBlock(3, 8) {L}",  # a module's name, not the model's
])
def test_no_name_where_the_answer_gives_none(text: str) -> None:
    assert parse_answer(text).models[0].name is None


def test_a_design_without_a_name_is_named_after_its_task() -> None:
    assert task_name(TASK) == "sd855-net-10m-c100"
    assert task_name(Task(budget=2_500_000, classes=10, input=(1, 28, 28), target=load_target("rpi4"))) == \
        "rpi4-net-2.5m-c10-1x28x28"


def _designer(*turns: tuple[str, str], task: Task = TASK) -> Designer:
    cassette = Cassette(turns=[Turn(stage=s, response=r) for s, r in turns])
    return Designer(task, ReplayLLM(cassette, "test"), budget_text="10M")


def test_names_through_the_pipeline() -> None:
    assert _designer(("model", L)).start().spec.name == "sd855-net-10m-c100"
    assert _designer(("model", f"## PocketNet\n{L}")).start().spec.name == "PocketNet"


def test_a_revision_that_names_nothing_keeps_the_name() -> None:
    over = f"## PocketNet\n{L.replace('Conv2d(3, 8, 3)', 'Conv2d(3, 8, 3) Conv2d(8, 4096, 3)')}"
    task = Task(budget=20_000, classes=100, input=(3, 32, 32), target=load_target("sd855"), fit=False)
    design = _designer(("model", over), ("revise", L), task=task).start()
    assert design.revisions == 1 and design.spec.name == "PocketNet"


def test_the_article_stays_cnn_gpt_from_its_own_conversation(tmp_path) -> None:
    """The article's answer names no model; the article calls it CNN-GPT, and so does every replay of it."""
    reference = ROOT / "generated" / "cnn_gpt"
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--classes", "100", "--input", "3x32x32",
                "--replay", str(reference / "conversation.json"), "--yes", "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "model.py").read_text() == (reference / "model.py").read_text()
    assert (tmp_path / "out" / "report.md").read_text().startswith("# CNN-GPT\n")
