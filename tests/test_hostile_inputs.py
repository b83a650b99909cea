"""Answers and cassettes as an adversary would write them. Every reader finishes on any input, at the answer cap and
one character over it, with a result or one clean ParseError line; through the CLI, each failure is one line, an exit
code and no output. Readers run in a subprocess under a generous hang guard, not a timing assertion: the quadratic
readers this replaced needed minutes on several of these inputs, the linear ones take well under a second each."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, clean_env, run_cli
from gptnet.limits import MAX_ANSWER_CHARS, MAX_CASSETTE_BYTES, MAX_JSON_DEPTH
from gptnet.parse import ParseError, parse_answer
from gptnet.parse.jsonform import parse_json
from gptnet.parse.layerlist import parse_layer_list
from gptnet.parse.ops import parse_ops
from gptnet.parse.pysource import parse_python
from gptnet.parse.table import parse_table

GUARD = 60  # seconds for all readers on one input

ARTICLE = json.loads((ROOT / "gptnet" / "data" / "article.json").read_text(encoding="utf-8"))
CLASS = "class A(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.r = nn.ReLU()\n"


def _fill(unit: str, head: str = "", tail: str = "") -> str:
    """`head`, `unit` repeated and `tail`: exactly as long as the answer cap."""
    return (head + unit * (MAX_ANSWER_CHARS // len(unit) + 1))[:MAX_ANSWER_CHARS - len(tail)] + tail


def _helpers(calls: int) -> str:
    """forward calls h1 `calls` times, h1 calls h2 as often, and so on: followed naively, calls**3 steps."""
    body = lambda callee: f"        x = self.{callee}(x)\n" * calls + "        return x\n"  # noqa: E731
    return CLASS + "".join(f"    def {name}(self, x):\n{body(callee)}" for name, callee in
                           (("forward", "h1"), ("h1", "h2"), ("h2", "h3"), ("h3", "r")))


def _shared_branches(levels: int) -> str:
    """Concats whose 15 branches each contain the previous concat: a tree of 15**levels layers if written out."""
    step = "        c = torch.cat([self.r(x)" + ", self.r(c)" * 15 + "], 1)\n"
    return CLASS + "    def forward(self, x):\n        c = x\n" + step * levels + "        return c\n"


def _nested_tuples(count: int) -> str:
    """Locals that double at each line: 2**count elements if each were substituted into the next."""
    lines = "".join(f"        a{i} = (a{i - 1}, a{i - 1})\n" for i in range(1, count))
    return CLASS + "        a0 = (1, 2)\n" + lines + "    def forward(self, x):\n        return self.r(x)\n"


HOSTILE = {  # each filled to the cap, unless it is small on purpose
    "unclosed brackets": _fill("[x"),
    "unclosed objects": _fill('{"a":'),
    "brackets nested to the limit": _fill("[" * MAX_JSON_DEPTH + "x" + "]" * MAX_JSON_DEPTH + " "),
    "comments opened in brackets": _fill("[/*"),
    "hash comments in brackets": _fill("[# ]\n"),
    "commas before comments": _fill(", // ]\n", '{"layers": [{"op": "ReLU"}'),
    "commas before blank space": _fill("," + " " * 60 + "\n", "[1"),
    "a JSON list never closed": _fill('{"op": "ReLU"}, ', '{"layers": ['),
    "quotes": _fill('"'),
    "triple quotes": _fill('"""'),
    "backslashes": _fill("\\"),
    "unclosed calls": _fill("Conv2d("),
    "parentheses": _fill("("),
    "think tags": _fill("<think>"),
    "one long word": _fill("a", "Conv2d(3, 8, 3) "),
    "one line of spaces": _fill(" ", "Conv2d(3, 8, 3)", "ReLU()"),
    "many lines": _fill("ReLU()\n"),
    "repetitions": _fill("[ReLU()] x 64, "),
    "repetitions of repetitions": _fill("[[[ReLU()] x 64] x 64] x 64\n"),
    "repetitions nested deep": _fill("[" * 10 + "ReLU()" + "] x 1" * 10 + "\n"),
    "not latin": _fill("卷积层（重复"),
    "fences": _fill("```"),
    "blank lines after a fence": _fill("\n", "```\n", "x"),
    "class headers": _fill("class A(nn.Module):\n"),
    "deep indentation": _fill("".join(" " * i + "if x:\n" for i in range(120)), "class A(nn.Module):\n"),
    "squashed ifs": _fill("if ", "class A(nn.Module): def forward(self, x): "),
    "a long sum": _fill("x+", "class A(nn.Module):\n    def forward(self, x):\n        return "),
    "residual adds": _fill("        x = x + self.r(x)\n", CLASS + "    def forward(self, x):\n", "\n        return x"),
    "helper methods calling helpers": _helpers(1000),
    "branches sharing branches": _shared_branches(8),
    "locals doubling": _nested_tuples(60),
    "table rows": _fill("| ReLU | 8 |\n", "| Layer | Out |\n|---|---|\n"),
    "a wide table": _fill("| ReLU |\n", "| a " * (MAX_ANSWER_CHARS // 8) + "|\n|---|\n"),
    "a long table cell": _fill("a", "| Layer | Out |\n|---|---|\n| ReLU | 1 |\n| ReLU | 2 |\n| ", " | 3 |"),
    "a table cell of parentheses": _fill("(", "| Layer | Out |\n|---|---|\n| ReLU | 1 |\n| ReLU | 2 |\n| ", " | 3 |"),
    "an ops list": _fill("1. Conv2d "),
}

_READ_ALL = r'''
import sys
from gptnet.parse import ParseError, parse_answer
from gptnet.parse.jsonform import parse_json
from gptnet.parse.layerlist import parse_layer_list
from gptnet.parse.ops import parse_ops
from gptnet.parse.pysource import parse_python
from gptnet.parse.table import parse_table

text = sys.stdin.read()
over = text + "x" * (200_001 - len(text))  # one character over the cap, or more
for reader in (parse_answer, parse_ops, parse_json, parse_python, parse_table, parse_layer_list):
    try:
        reader(text)
    except ParseError as e:
        assert "\n" not in str(e), (reader.__name__, str(e))
for reader in (parse_answer, parse_ops):
    try:
        reader(over)
    except ParseError as e:
        assert str(e).endswith("(200,000, MAX_ANSWER_CHARS)"), str(e)
    else:
        raise AssertionError(f"{reader.__name__} read an answer over the cap")
print("done")
'''


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_every_reader_finishes_with_a_result_or_one_line(text: str) -> None:
    assert MAX_ANSWER_CHARS == 200_000 and len(text) <= MAX_ANSWER_CHARS
    try:
        r = subprocess.run([sys.executable, "-c", _READ_ALL], input=text, capture_output=True, text=True,
                           encoding="utf-8", cwd=ROOT, env=clean_env(PYTHONIOENCODING="utf-8"), timeout=GUARD)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a reader was still running after {GUARD} s")
    assert r.returncode == 0 and r.stdout == "done\n", r.stderr


PIECES = ["[", "]", "{", "}", "(", ")", '"', "'", "\\", "/*", "*/", "//", ",", ":", " ", "\n", "    ", "|", "---", "x",
          "3", " x 3", "2× ", "Conv2d", "ReLU", "Linear(8, 10)", "nn.Sequential(", "class A(nn.Module):", "1if",
          "def forward(self, x):", "return ", "self.c", " = ", "+", "if ", "else", "```", "```json", "```python",
          '{"op": "', '"layers": [', '"call"', '"module": ', "<think>", "</think>", "Repeat 3 times:", "\\ud800",
          "import torch", "torch.cat([", "], 1)", "1.", "-", "#", "None", "lambda", "*"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=60).map("".join))
def test_any_text_of_answer_pieces_reads_or_is_one_line(text: str) -> None:
    with warnings.catch_warnings():  # nothing in an answer makes Python warn on the user's terminal either
        warnings.simplefilter("error")
        for reader in (parse_answer, parse_ops, parse_json, parse_python, parse_table, parse_layer_list):
            try:
                reader(text)
            except ParseError as e:
                assert "\n" not in str(e)


# ---- through the CLI ------------------------------------------------------------------------------------------------

def _cassette(path: Path, model: str | None = None, meta: dict | None = None, review: list | None = None) -> Path:
    """The article's conversation with its model answer replaced; JSON escapes kept, as a shared file has them."""
    turns = [dict(t, response=model) if model is not None and t["stage"] == "model" else t for t in ARTICLE["turns"]]
    data = {"format": "gptnet-conversation/1", "meta": meta or {}, "turns": turns}
    if review is not None:
        data["review"] = review
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _design(tmp_path: Path, cassette: Path) -> subprocess.CompletedProcess:
    return run_cli("design", "--budget", "10M", "--target", "sd855", "--replay", str(cassette), "--yes",
                   "--out", str(tmp_path / "out"), cwd=tmp_path, timeout=GUARD)


def _one_line_error(r: subprocess.CompletedProcess, code: int, tmp_path: Path) -> str:
    """The run failed with `code`: one error line and its hint, no traceback, nothing written; the error line."""
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.rstrip("\n").splitlines()
    assert len(lines) >= 2 and lines[-2].startswith("gptnet: error:") and lines[-1].startswith("hint:"), r.stderr
    assert sum(line.startswith("gptnet: error:") for line in lines) == 1, r.stderr
    assert not (tmp_path / "out").exists()
    return lines[-2]


@pytest.mark.parametrize(("answer", "limit"), [
    ("ReLU() " * (MAX_ANSWER_CHARS // 7 + 1), "MAX_ANSWER_CHARS"),
    ("[" * 100 + "]" * 100, "MAX_JSON_DEPTH"),
    ("class A(nn.Module):\n    def forward(self, x):\n        return " + "x + " * 2000 + "x\n", "MAX_SOURCE_DEPTH"),
    ("[[[ReLU()] x 64] x 64] x 64", "MAX_ANSWER_CHARS"),
    ("[" * 10 + "ReLU()" + "] x 2" * 10, "MAX_NESTING"),
], ids=["longer than the cap", "nested JSON", "nested Python", "repetitions writing out too much",
        "repetitions nested too deep"])
def test_an_answer_past_a_limit_is_one_line_naming_it(tmp_path: Path, answer: str, limit: str) -> None:
    line = _one_line_error(_design(tmp_path, _cassette(tmp_path / "c.json", model=answer)), 1, tmp_path)
    assert "stage revise" in line and limit in line  # unreadable: it would go back to the LLM


def _deep(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("broken", ["deep meta", "deep review spec", "too large", "not UTF-8"])
def test_a_broken_cassette_is_one_line_naming_it(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "shared.json"
    if broken == "deep meta":
        text = _cassette(path).read_text(encoding="utf-8")
        path.write_text(text.replace('"meta": {}', f'"meta": {{"note": {_deep(5000)}}}'), encoding="utf-8")
    elif broken == "deep review spec":  # the spec is the deepest part of the file, but not deep on its own
        text = _cassette(path, review=[{"event": "edit", "spec": 0}]).read_text(encoding="utf-8")
        path.write_text(text.replace('"spec": 0', f'"spec": {_deep(MAX_JSON_DEPTH)}'), encoding="utf-8")
    elif broken == "too large":
        text = _cassette(path).read_text(encoding="utf-8")
        path.write_text(text + " " * (MAX_CASSETTE_BYTES + 1 - len(text)), encoding="utf-8")
    else:
        path.write_bytes(_cassette(path).read_bytes().replace(b'"meta": {}', b'"meta": {"a": "\xff"}'))
    line = _one_line_error(_design(tmp_path, path), 2, tmp_path)
    assert f"cassette {path}" in line
    assert {"deep meta": "MAX_JSON_DEPTH", "deep review spec": "MAX_JSON_DEPTH", "too large": "MAX_CASSETTE_BYTES",
            "not UTF-8": "not UTF-8"}[broken] in line


def test_a_cassette_of_shallow_brackets_at_the_size_limit_is_read(tmp_path: Path) -> None:
    text = _cassette(tmp_path / "c.json", meta={"pad": []}).read_text(encoding="utf-8")
    pad = (MAX_CASSETTE_BYTES - len(text)) // 3
    path = tmp_path / "c.json"
    path.write_text(text.replace('"pad": []', '"pad": [' + "[]," * (pad - 1) + "[]]"), encoding="utf-8")
    assert MAX_CASSETTE_BYTES - 3 <= path.stat().st_size <= MAX_CASSETTE_BYTES
    r = _design(tmp_path, path)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(("entry", "said"), [
    ({"event": "edit", "spec": "garbage"}, "review entry 0 is not a review step: spec"),
    ({"event": "edit"}, "review entry 0 is not a review step"),
    ({"event": "edit", "spec": {"layers": [{"op": "Nope"}]}}, "review entry 0 is not a review step: layers.0"),
    ({"event": "dance"}, "review entry 0 is not a review step: event"),
    ("accept", "review.0"),
], ids=["spec not an object", "edit without a spec", "spec with an unknown layer", "unknown event", "not an object"])
def test_a_review_entry_that_is_not_a_review_step_is_one_line_naming_it(tmp_path: Path, entry: object,
                                                                       said: str) -> None:
    path = _cassette(tmp_path / "shared.json", review=[entry])
    line = _one_line_error(_design(tmp_path, path), 2, tmp_path)
    assert f"cassette {path}" in line and said in line


def test_lone_surrogates_in_a_cassette_come_out_as_replacement_characters(tmp_path: Path) -> None:
    model = next(t["response"] for t in ARTICLE["turns"] if t["stage"] == "model")
    path = _cassette(tmp_path / "c.json", model=model + "\n\ud800 \udc00", meta={"model": "gpt\ud83d"})
    assert "\\ud800" in path.read_text(encoding="utf-8")  # as a shared file carries it: a JSON escape
    r = _design(tmp_path, path)
    assert r.returncode == 0, r.stderr
    written = json.loads((tmp_path / "out" / "conversation.json").read_text(encoding="utf-8"))
    assert written["meta"]["model"] == "gpt\ufffd"
    assert written["turns"][1]["response"].endswith("\ufffd \ufffd")
