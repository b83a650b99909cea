"""The search benchmarks in a short form (digits, a tiny budget, a few steps): they run end to end and print what the
README quotes. Their figures at full length are in the README, with the commands."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, clean_env

SHORT = ("--workers", "1", "--data", "digits", "--steps", "6", "--subset", "120", "--long-steps", "15")


def bench(script: str, *args: str) -> str:
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
                       env=clean_env(), timeout=600, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.slow
def test_search_gain_then_proxy_rank_over_its_search(tmp_path: Path) -> None:
    out = bench("search_gain.py", "--budget", "30K", "--correlate", "8", "--hold-latency", "--prefer", "accuracy",
                "--out", str(tmp_path), *SHORT)
    held = float(re.search(r"the search is held to ([\d.]+) ms on the cpu backend", out).group(1))
    board = json.loads((tmp_path / "search" / "leaderboard.json").read_text())
    measured = [c for c in board["candidates"] if c["accuracy"] is not None]
    assert len(measured) >= 8  # the correlation's candidates, found by resuming a search shorter than that
    assert all(c["latency_ms"] <= held for c in measured)  # held to the one-shot design's latency, itself included
    start = next(c for c in measured if c["origin"] == "design")
    best = next(c for c in measured if c["hash"] == board["winner"])
    assert best["accuracy"] == max(c["accuracy"] for c in measured if not c["dropped"])  # --prefer accuracy
    assert f"| one-shot design | {start['accuracy']:.2f}% | {start['latency_ms']:.3f} ms | {start['params']:,} |" in out
    assert f"| search winner {best['hash']} ({best['origin']}) | {best['accuracy']:.2f}% |" in out
    gain = best["accuracy"] - start["accuracy"]
    met = gain >= 1.0 or (gain >= -0.5 and best["latency_ms"] <= 0.6 * start["latency_ms"])
    assert f"winner vs one-shot: {gain:+.2f} points" in out and f"goal {'met' if met else 'not met'}" in out
    assert re.search(r"over (\d+) candidates: Spearman", out) and int(re.search(r"over (\d+) candidates", out)[1]) >= 8
    assert "(the ceiling on this data set): Spearman" in out

    ranked = bench("proxy_rank.py", "--search", str(tmp_path / "search"), "--budgets", "30K,20K,10K", "--out",
                   str(tmp_path / "ladder"), *SHORT)
    rows = [line for line in ranked.splitlines() if line.startswith("| ") and not line.startswith(("| model", "| ---"))]
    assert len(rows) == len([c for c in measured if not c["dropped"]]) + 2  # 30K is the search's start: counted once
    assert sum("| both |" in row for row in rows) == 1 and sum("| ladder |" in row for row in rows) == 2
    assert all(len(row.split("|")[3].split("/")) == 2 for row in rows)  # two proxy seeds each
    for title in ("the search's candidates", "the ladder of budgets", "both"):
        assert re.search(rf"^{re.escape(title)}, \d+ models: proxy seed 0 vs longer mean Spearman", ranked, re.M)


def test_answers_benchmark_reports_each_share_and_the_reasons() -> None:
    out = bench("answers.py", "simple_cnn_sequential", "resnet20_akamaster")
    assert "exact: 1 of 2 (50%)" in out
    assert "refused: 1 of 2 (50%)\n  resnet20_akamaster: " in out  # its channel-split shortcut
    assert "wrong: 0 of 2 (0%)" in out
    assert re.search(r"median parse time per answer: [\d.]+ ms\nmedian design time per answer: [\d.]+ ms", out)
