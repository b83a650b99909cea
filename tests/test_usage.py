"""Bad usage exits 2 with one clear line; an answer that yields no model exits 1; never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, run_cli, write_cassette


def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("gptnet: error:") or "Error" in ln]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("budget", ["10Q", "-5M", "0", "ten", "1.5.2M"])
def test_bad_budget_exits_2(budget: str, tmp_path: Path) -> None:
    r = run_cli("design", "--budget", budget, "--target", "sd855", "--yes", cwd=tmp_path)
    assert r.returncode == 2
    assert "budget" in _one_error_line(r.stderr)
    assert not (tmp_path / "generated").exists()


def test_unknown_target_exits_2(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd9999", "--yes", cwd=tmp_path)
    assert r.returncode == 2
    assert "sd9999" in _one_error_line(r.stderr) and "sd855" in r.stderr


@pytest.mark.parametrize("text", [None, "{not json", '{"format": "something-else", "turns": []}',
                                  '{"format": "gptnet-conversation/1", "turns": [{"stage": "weird", "response": ""}]}',
                                  '{"format": "gptnet-conversation/1", "turns": [{"stage": "model"}]}'])
def test_missing_or_corrupt_cassette_exits_2(text: str | None, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    if text is not None:
        path.write_text(text)
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--replay", str(path), "--yes", cwd=tmp_path)
    assert r.returncode == 2
    assert "c.json" in _one_error_line(r.stderr)


@pytest.mark.parametrize("args", [["--input", "3x32"], ["--input", "axbxc"], ["--classes", "0"]])
def test_bad_task_exits_2(args: list[str], tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", *args, cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("command, threads", [
    (["train", "design"], "0"), (["compare", "design"], "0"), (["calibrate"], "-1"), (["bench", "m.tflite"], "0"),
    (["search", "--budget", "1M", "--target", "sd855"], "0"),
])
def test_threads_below_one_is_one_line_before_any_work(command: list[str], threads: str, tmp_path: Path) -> None:
    r = run_cli(*command, "--threads", threads, cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"gptnet: error: --threads must be at least 1, not {threads}",
                                     "hint: pass 1 or more, or leave --threads out for the default (see --help)"]
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("command", ["design", "search"])
@pytest.mark.parametrize("target, backend", [("sd845", "gpu"), ("sd8gen2", "dsp")])
def test_a_latency_limit_on_a_backend_without_an_estimate_exits_2(command: str, target: str, backend: str,
                                                                  tmp_path: Path) -> None:
    """Backends with no fit, calibration or published peak: the limit could never be checked, so it is refused
    before any work, by design and by search alike."""
    r = run_cli(command, "--budget", "1M", "--target", target, "--max-latency", f"2ms:{backend}",
                "--out", str(tmp_path / "out"), *(["--yes"] if command == "design" else []), cwd=tmp_path)
    assert r.returncode == 2
    assert f"no latency estimate for {target}'s {backend}" in _one_error_line(r.stderr)
    assert not (tmp_path / "out").exists()


def test_no_model_exits_1_and_debug_shows_traceback(tmp_path: Path) -> None:
    cassette = write_cassette(tmp_path / "c.json", [{"stage": "model", "response": "No idea, sorry."}])
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--replay", str(cassette), "--yes", cwd=tmp_path)
    assert r.returncode == 1
    assert "no model could be read" in _one_error_line(r.stderr)
    assert "hint:" in r.stderr
    debug = run_cli("design", "--budget", "10M", "--target", "sd855", "--replay", str(cassette), "--yes",
                    "--debug", cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


@pytest.mark.parametrize("budget", ["1.5", "2", "999"])
def test_a_budget_too_small_to_be_meant_asks_for_a_suffix(budget: str, tmp_path: Path) -> None:
    r = run_cli("design", "--budget", budget, "--target", "sd855", "--yes", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"did you mean {budget}M?" in r.stderr


def test_help_shows_defaults_in_brackets(tmp_path: Path) -> None:
    text = " ".join(run_cli("train", "--help", cwd=tmp_path).stdout.split())  # help wraps where it likes
    assert "[recipe: 240]" in text and "[150,180,210]" in text
    text = " ".join(run_cli("profile", "--help", cwd=tmp_path).stdout.split())
    assert "[the target's default]" in text


def test_a_cassette_recorded_for_other_settings_says_so(tmp_path: Path) -> None:
    cassette = json.loads((ROOT / "generated" / "cnn_gpt" / "conversation.json").read_text())
    cassette["meta"].update(budget="3M", target="sd855", classes=100)
    (tmp_path / "c.json").write_text(json.dumps(cassette))
    r = run_cli("design", "--replay", "c.json", "--budget", "10M", "--target", "rpi4", "--classes", "10", "--yes",
                "--out", "out", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "was recorded for budget 3M, target sd855, classes 100" in r.stderr
    assert "this run asks for budget 10M, target rpi4, classes 10" in r.stderr


def test_replaying_a_folder_points_at_its_conversation(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", "--replay",
                str(ROOT / "generated" / "cnn_gpt"), cwd=tmp_path)
    assert r.returncode == 2 and "is a folder, not a file" in r.stderr
    assert f"--replay {ROOT / 'generated' / 'cnn_gpt' / 'conversation.json'}" in r.stderr


def test_a_negative_channel_count_from_an_edit_is_named_as_such(tmp_path: Path) -> None:
    conversation = json.loads((ROOT / "generated" / "cnn_gpt" / "conversation.json").read_text())
    spec = json.loads((ROOT / "generated" / "cnn_gpt" / "spec.json").read_text())
    spec["layers"][0]["out_channels"] = -16
    conversation["review"] = [{"event": "edit", "diff": "(by hand)", "spec": spec}, {"event": "accept"}]
    (tmp_path / "c.json").write_text(json.dumps(conversation))
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", "--replay", "c.json", cwd=tmp_path)
    assert r.returncode == 2 and "out_channels must be 1..65,536, not -16" in r.stderr, r.stderr
    assert "collapse" not in r.stderr
