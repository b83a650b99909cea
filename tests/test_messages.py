"""What gptnet says, read as a user reads it: each line says a thing once, names things by their names, and a hint
points at what this run can do."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import ROOT, clean_env, run_cli
from gptnet.targets import load_target


def test_totals_at_a_224_input_give_the_macs_once(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--input", "3x224x224", "--yes", "--out", "out",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    [totals] = [line for line in r.stdout.splitlines() if line.startswith("Totals:")]
    assert totals.endswith("MACs at 3x224x224") and "at 224x224" not in totals
    assert re.search(r"MACs: [\d,]+ at 3x224x224\.\n", (tmp_path / "out" / "model.py").read_text())


def test_a_search_says_its_limits_as_a_design_does(tmp_path: Path) -> None:
    r = run_cli("search", "--budget", "1M", "--target", "sd855", "--data", "digits", "--steps", "1", "--subset", "10",
                "--trials", "1", "--per-round", "1", "--workers", "1", "--max-macs", "1G", "--max-latency", "50ms",
                "--out", "s", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Searching for Qualcomm Snapdragon 855 (cpu): budget 1M params, at most 1G MACs, at most 50 ms on cpu, " \
           "10 classes" in r.stderr


def test_traced_functions_are_named_by_their_names() -> None:
    from gptnet.latency import work_from_torch
    from gptnet.reference_models import build

    layers = [w.layer for w in work_from_torch(*build("mobilenet_v2"))]
    assert {"features.0.0", "add", "adaptive_avg_pool2d", "flatten", "classifier.1"} <= set(layers)
    assert not [name for name in layers if "<" in name or " at 0x" in name]


def test_targets_show_lists_an_operator_as_running_well_or_slow_never_both(tmp_path: Path) -> None:
    r = run_cli("targets", "show", "sd855", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    blocks = [b for b in re.split(r"\n  (?=\S)", r.stdout) if "runs well: " in b]  # one per backend
    assert len(blocks) == len(load_target("sd855").backends)
    for block in blocks:
        fast = set(re.search(r"runs well: (.*)", block).group(1).split(", "))
        assert not fast & set(re.findall(r"slow: (\w+):", block)), block


def test_a_profile_that_lists_an_operator_as_both_is_refused_in_one_line(tmp_path: Path) -> None:
    profile = load_target("sd855").model_dump(mode="json")
    profile["name"] = "both"
    profile["backends"]["gpu"]["slow"]["Conv2d"] = "said to be slow too"
    (tmp_path / "home" / "targets").mkdir(parents=True)
    (tmp_path / "home" / "targets" / "both.json").write_text(json.dumps(profile))
    r = run_cli("targets", "show", "both", cwd=tmp_path, env=clean_env(GPTNET_HOME=str(tmp_path / "home")))
    assert r.returncode == 2
    assert "backends.gpu: Value error, Conv2d both run well and are slow; keep each in one of operators and slow" \
        in r.stderr and "Traceback" not in r.stderr


def test_a_budget_the_bundled_answers_cannot_meet_hints_at_the_run_not_a_cassette(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "1K", "--target", "sd855", "--yes", cwd=tmp_path)
    assert r.returncode == 1 and "exceed the budget of 1K" in r.stderr
    assert "hint: the bundled article's answers have no revision: raise the budget the error names, or run against " \
           "a live LLM" in r.stderr and "cassette" not in r.stderr.splitlines()[-1]
    # a cassette of the user's own can take the turn
    (tmp_path / "mine.json").write_text((ROOT / "gptnet" / "data" / "article.json").read_text())
    r = run_cli("design", "--budget", "1K", "--target", "sd855", "--yes", "--replay", "mine.json", cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.splitlines()[-1] == \
        'hint: add a "revise" turn to the cassette, or run against a live LLM'


def test_training_curves_tick_whole_epochs() -> None:
    import matplotlib.pyplot as plt

    from gptnet.train.plots import curves_figure
    from gptnet.train.trainer import EpochMetrics

    history = [EpochMetrics(epoch=e, lr=0.1, train_loss=2.0 / e, train_acc1=10.0 * e, train_acc5=20.0 * e,
                            test_loss=2.1 / e, test_acc1=9.0 * e, test_acc5=19.0 * e, seconds=1.0, images_per_s=100.0)
               for e in (1, 2, 3)]
    fig = curves_figure(history)
    fig.canvas.draw()
    for ax in fig.axes:
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    plt.close(fig)
