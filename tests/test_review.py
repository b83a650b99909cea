"""The review loop as a person uses it: the real CLI in a pseudo-terminal, one key per choice."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pexpect
import pytest

from conftest import ROOT, assert_replays_to_same_model, clean_env, load_model_module, run_cli
from fake_openai import FakeOpenAI, Script

PROMPT = r"\[a\]ccept  \[e\]dit  \[f\]eedback  \[d\]iff  \[q\]uit > "
EDITOR = f"{sys.executable} {ROOT / 'tests' / 'editors' / 'widen.py'}"
ARTICLE = [t["response"] for t in json.loads((ROOT / "gptnet/data/article.json").read_text())["turns"]]
SMALLER = ARTICLE[1].replace("Conv2d(512, 1024, kernel_size=3, stride=2, padding=1) BatchNorm2d(1024) ReLU() "
                             "Avgpool2d(kernel_size=4) Flatten() Linear(1024, 10)",
                             "AdaptiveAvgPool2d(1) Flatten() Linear(512, 10)")


def spawn(tmp_path: Path, *args: str, **env: str) -> pexpect.spawn:
    child = pexpect.spawn(sys.executable, ["-m", "gptnet", "design", "--budget", "10M", "--target", "sd855",
                                           "--out", str(tmp_path / "out"), *args],
                          cwd=str(tmp_path), env=clean_env(COLUMNS="120", **env), encoding="utf-8", timeout=60,
                          dimensions=(50, 120))
    child.expect(PROMPT)
    return child


def finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_the_review_screen_shows_everything_then_accept_writes(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    screen = child.before
    for text in ("CNN-GPT for sd855", "AdaptiveAvgPool2d(1)", "Totals: 6.76M params", "of the 10M budget",
                 "Target: sd855: every operator", "Repairs gptnet made: 8", "[undefined-module] DepthwiseConv2d"):
        assert text in screen
    child.send("a")
    child.expect("Wrote ")
    assert finish(child) == 0
    review = json.loads((tmp_path / "out" / "conversation.json").read_text())["review"]
    assert review == [{"event": "accept"}]
    assert "accepted by the reviewer" in (tmp_path / "out" / "report.md").read_text()


def test_edit_widens_a_layer_and_the_output_reflects_it(tmp_path: Path) -> None:
    child = spawn(tmp_path, EDITOR=EDITOR)
    child.send("e")
    child.expect(PROMPT)
    assert "Conv2d(512, 1280" in child.before and "Linear(1280, 100)" in child.before
    child.send("a")
    assert finish(child) == 0
    out = tmp_path / "out"
    net = load_model_module(out / "model.py").build_model()
    assert net.model[30].out_channels == 1280 and net.model[35].in_features == 1280
    report = (out / "report.md").read_text()
    assert '-    {"op": "Conv2d", "in_channels": 512, "out_channels": 1024' in report
    assert "edit: layer 31 (BatchNorm2d)" in report  # gptnet's repairs that followed the edit
    assert [e["event"] for e in json.loads((out / "conversation.json").read_text())["review"]] == ["edit", "accept"]
    assert_replays_to_same_model(out, tmp_path, "--budget", "10M")


def test_widening_the_stem_carries_through_the_depthwise_conv_gptnet_filled_in(tmp_path: Path) -> None:
    """The depthwise call's out_channels was filled in by gptnet; widening the conv before it must not strand it."""
    child = spawn(tmp_path, EDITOR=EDITOR, GPTNET_TEST_WIDEN="3,32,48")
    child.send("e")
    child.expect(PROMPT)
    screen = child.before
    assert "cannot be used" not in screen
    for text in ("Conv2d(3, 48", "DepthwiseConv2d(48, 48", "Conv2d(48, 64"):
        assert text in screen
    child.send("a")
    assert finish(child) == 0
    net = load_model_module(tmp_path / "out" / "model.py").build_model()
    assert net.model[3].depthwise_conv.out_channels == 48 and net.model[6].in_channels == 48


def test_a_broken_edit_is_explained_and_offered_back(tmp_path: Path) -> None:
    flag = tmp_path / "broke"
    child = spawn(tmp_path, EDITOR=EDITOR, GPTNET_TEST_BREAK_FIRST=str(flag))
    child.send("e")
    child.expect(r"\[e\]dit again  \[k\]eep the previous spec > ")
    assert "The edited spec cannot be used" in child.before and "line 3, column 49" in child.before
    child.send("e")  # the editor opens on the broken text; this time it makes the good edit
    child.expect(PROMPT)
    child.send("a")
    assert finish(child) == 0 and flag.exists()
    assert "nn.Conv2d(512, 1280" in (tmp_path / "out" / "model.py").read_text()


def test_keep_the_previous_spec_after_a_broken_edit(tmp_path: Path) -> None:
    flag = tmp_path / "broke"
    child = spawn(tmp_path, EDITOR=EDITOR, GPTNET_TEST_BREAK_FIRST=str(flag))
    child.send("e")
    child.expect(r"\[k\]eep the previous spec > ")
    child.send("k")
    child.expect(PROMPT)
    child.send("d")
    child.expect(PROMPT)
    assert '+    {"op": "Linear", "in_features": 1024, "out_features": 100}' in child.before
    child.send("a")
    assert finish(child) == 0
    assert "nn.Conv2d(512, 1024" in (tmp_path / "out" / "model.py").read_text()


def test_other_keys_after_a_broken_edit_say_what_to_press(tmp_path: Path) -> None:
    flag = tmp_path / "broke"
    child = spawn(tmp_path, EDITOR=EDITOR, GPTNET_TEST_BREAK_FIRST=str(flag))
    child.send("e")
    child.expect(r"\[k\]eep the previous spec > ")
    child.send("a")
    child.expect(r"\[k\]eep the previous spec > ")
    assert "Press e to edit the spec again or k to keep the previous one." in child.before
    child.send("k")
    child.expect(PROMPT)
    child.send("q")
    assert finish(child) == 1


def test_feedback_goes_to_the_llm_and_comes_back_for_review(tmp_path: Path) -> None:
    script = Script(answers=[*ARTICLE, SMALLER])
    with FakeOpenAI(script) as server:
        child = spawn(tmp_path, "--base-url", server.base_url, "--model", "test-model")
        child.send("f")
        child.expect("Feedback for the LLM: ")
        child.sendline("drop the last stage, it is too big for the phone")
        child.expect(PROMPT)
        assert "Linear(512, 100)" in child.before and "review: feedback" in child.before
        child.send("a")
        assert finish(child) == 0
    assert "drop the last stage" in script.requests[-1]["messages"][-1]["content"]
    out = tmp_path / "out"
    cassette = json.loads((out / "conversation.json").read_text())
    assert [t["stage"] for t in cassette["turns"]][-1] == "revise"
    assert [e["event"] for e in cassette["review"]] == ["feedback", "accept"]
    assert "drop the last stage" in (out / "report.md").read_text()
    assert_replays_to_same_model(out, tmp_path, "--budget", "10M")


def test_quit_writes_nothing(tmp_path: Path) -> None:
    child = spawn(tmp_path)
    child.send("q")
    child.expect("nothing was written")
    assert "error" not in child.before + child.after  # the user's choice, said plainly, though no model was made
    assert finish(child) == 1
    assert not (tmp_path / "out").exists()


def test_no_terminal_and_no_yes_stops_at_once(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", cwd=tmp_path)
    assert r.returncode == 2
    assert re.search(r"pass --yes", r.stderr) and "stage" not in r.stderr


@pytest.mark.parametrize("key", ["x", "?"])
def test_other_keys_say_what_to_press(key: str, tmp_path: Path) -> None:
    child = spawn(tmp_path)
    child.send(key)
    child.expect(PROMPT)
    assert "Press a, e, f, d or q." in child.before
    child.send("q")
    assert finish(child) == 1


def test_feedback_without_an_llm_to_answer_returns_to_the_menu(tmp_path: Path) -> None:
    """Replaying the article, there is no revise turn: the feedback is not lost silently, nor is the design."""
    child = spawn(tmp_path)
    child.send("f")
    child.expect("Feedback for the LLM: ")
    child.sendline("make it smaller")
    child.expect(PROMPT)
    assert "The feedback was not used" in child.before and "Feedback needs a live LLM" in child.before
    child.send("a")
    assert finish(child) == 0
    review = json.loads((tmp_path / "out" / "conversation.json").read_text())["review"]
    assert review == [{"event": "accept"}]


def test_candidates_lists_the_answers_models_and_switches(tmp_path: Path) -> None:
    several = r"\[a\]ccept  \[e\]dit  \[f\]eedback  \[c\]andidates  \[d\]iff  \[q\]uit > "
    child = pexpect.spawn(sys.executable, ["-m", "gptnet", "design", "--budget", "10M", "--target", "sd855", "--out",
                                           str(tmp_path / "out"), "--replay",
                                           str(ROOT / "tests" / "cassettes" / "validator_candidates_recommended.json")],
                          cwd=str(tmp_path), env=clean_env(COLUMNS="120"), encoding="utf-8", timeout=60,
                          dimensions=(50, 120))
    child.expect(several)
    assert "took 2 (Option B): the answer recommends it" in child.before
    child.send("c")
    child.expect(r"Switch to \(1-2, Enter keeps \*\): ")
    assert "* 2. Option B: 6.16M params, fits the budget as given; the answer says:" in child.before
    assert "  1. Option A: 24.4M params, over budget as given" in child.before
    child.sendline("7")
    child.expect(several)
    assert "No model '7': the design stays." in child.before
    child.send("c")
    child.expect(r"Switch to ")
    child.sendline("1")
    child.expect(several)
    assert "took 1 (Option A): the reviewer chose it" in child.before and "[fit] model" in child.before
    child.send("a")
    assert finish(child) == 0
    out = tmp_path / "out"
    review = json.loads((out / "conversation.json").read_text())["review"]
    assert review == [{"event": "candidate", "text": "Option A", "candidate": 1}, {"event": "accept"}]
    assert_replays_to_same_model(out, tmp_path, "--budget", "10M")
