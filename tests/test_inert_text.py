"""Untrusted text is printed inert (issue 25): an answer, a cassette value, a server's error body or a class folder's
name that holds terminal escapes, bidi overrides or newlines reaches the terminal and report.md escaped, on one
line, and cut to length; a rich markup tag in it is printed as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ROOT, clean_env, run_cli
from fake_openai import FakeOpenAI, Script

# clears the screen, homes the cursor, reverses what follows, opens an isolate, a C1 CSI, a rich tag, a newline
HOSTILE = "\x1b[2J\x1b[H\u202e\u2066design accepted\x9b31m[red]x[/red]\n"
ESCAPED = r"\x1b[2J\x1b[H\u202e\u2066design accepted\x9b31m[red]x[/red]"
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # all but the newline between lines


def assert_inert(*texts: str) -> None:
    for text in texts:
        assert not RAW.search(text), repr(RAW.findall(text))


def line_with(text: str, part: str) -> str:
    """The one line of `text` that holds `part`; the hostile text's own newlines must not have split it."""
    lines = [ln for ln in text.splitlines() if part in ln]
    assert len(lines) == 1, text
    return lines[0]


def test_one_line_escapes_controls_and_bidi_and_cuts_at_the_limit() -> None:
    from gptnet.untrusted import one_line

    assert one_line(HOSTILE) == ESCAPED
    assert one_line("a\tb\r\nc\u200bd\x7f") == r"a b c\u200bd\x7f"
    assert one_line("x" * 500, 20) == "x" * 17 + "..."
    assert one_line(one_line(HOSTILE)) == one_line(HOSTILE)  # what is shown once is shown the same again


def test_a_cassette_key_and_value_are_shown_inert(tmp_path: Path) -> None:
    article = json.loads((ROOT / "gptnet/data/article.json").read_text())
    article["meta"]["budget"] = HOSTILE * 3  # said in the note that the cassette was recorded for another budget
    (tmp_path / "meta.json").write_text(json.dumps(article))
    article["turns"][0]["usage"] = {HOSTILE: "many"}  # a key quoted by the validation error
    (tmp_path / "usage.json").write_text(json.dumps(article))

    r = run_cli("design", "--replay", "meta.json", "--target", "sd855", "--budget", "10M", "--yes", "--out", "o",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout, r.stderr)
    assert ESCAPED[:40] in line_with(r.stderr, "was recorded for budget")

    r = run_cli("design", "--replay", "usage.json", "--target", "sd855", "--budget", "10M", "--yes", cwd=tmp_path)
    assert r.returncode == 2
    assert_inert(r.stdout, r.stderr)
    assert r.stderr.splitlines()[0].startswith("gptnet: error: cassette usage.json: turns.0.usage.\\x1b[2J")
    assert len(r.stderr.splitlines()) == 2  # the error and its hint


def replayed_report(cassette: dict, tmp_path: Path) -> str:
    """report.md of a design replaying `cassette`, once the run and the report are checked inert."""
    (tmp_path / "c.json").write_text(json.dumps(cassette))
    r = run_cli("design", "--replay", "c.json", "--target", "sd855", "--budget", "10M", "--yes", "--out", "o",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report = (tmp_path / "o/report.md").read_text()
    assert_inert(r.stdout, r.stderr, report)
    return report


def test_an_answer_quoted_in_report_md_is_inert(tmp_path: Path) -> None:
    cassette = json.loads((ROOT / "tests/cassettes/validator_candidates_recommended.json").read_text())
    cassette["turns"][0]["response"] = cassette["turns"][0]["response"].replace(
        "I recommend Option B", f"I recommend {HOSTILE} Option B")
    assert ESCAPED[:40] in line_with(replayed_report(cassette, tmp_path), "I recommend")


def test_a_replayed_edit_shows_gptnets_diff_not_the_cassettes(tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--yes", "--out", "first", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    cassette = json.loads((tmp_path / "first/conversation.json").read_text())
    spec = json.loads((tmp_path / "first/spec.json").read_text())
    spec["name"] += "Edited"  # a real edit, so report.md shows a diff
    cassette["review"] = [{"event": "edit", "spec": spec, "diff": HOSTILE * 3}, {"event": "accept"}]
    report = replayed_report(cassette, tmp_path)
    assert "design accepted" not in report and "+++ after the edit" in report


def test_a_servers_error_body_is_one_inert_cut_line(tmp_path: Path) -> None:
    body = (HOSTILE + "padding ") * 100  # about 4 KB over many lines
    script = Script(answers=[], faults=["400", "400"], error_message=body)  # the second: after the plain-text retry
    with FakeOpenAI(script) as server:
        r = run_cli("design", "--budget", "10M", "--target", "sd855", "--base-url", server.base_url, "--model",
                    "test-model", "--yes", "--out", "o", cwd=tmp_path, env=clean_env())
    assert r.returncode == 1
    assert_inert(r.stdout, r.stderr)
    error = line_with(r.stderr, "gptnet: error:")
    assert "rejected the request at stage ops: " + ESCAPED in error and error.endswith("...")
    assert len(error) < 400


def test_a_class_folder_name_is_shown_inert(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    from test_train_images import write_shapes

    data = write_shapes(tmp_path / "data", split=False, per_class=5)
    (data / "circle").rename(data / HOSTILE.replace("/", ""))
    r = run_cli("design", "--budget", "100K", "--target", "sd855", "--data", str(data), "--yes", "--out", "o",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert_inert(r.stdout, r.stderr)
    assert r"\x1b[2J" in line_with(r.stderr, "3 classes (")
    r = run_cli("train", "o", "--data", str(data), "--epochs", "1", "--batch-size", "4", "--device", "cpu",
                cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr
    report = (tmp_path / "o/report.md").read_text()
    assert_inert(r.stdout, r.stderr, report)
    assert r"\x1b[2J" in line_with(report, "Classes by output index")


def test_rich_markup_in_an_error_is_printed_as_written(tmp_path: Path) -> None:
    r = run_cli("design", "--replay", "[bold red]missing[/].json", "--target", "sd855", "--budget", "1M", "--yes",
                cwd=tmp_path)
    assert r.returncode == 2
    assert "[bold red]missing[/].json" in r.stderr
