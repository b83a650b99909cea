"""Shared test helpers: run the real CLI in a subprocess, write cassettes, import a generated model.py."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = Path(__file__).parent / "cassettes"

# profiles the user wrote (`gptnet calibrate` to ~/.gptnet) must not change what the tests see; a test that needs
# a home of its own passes GPTNET_HOME explicitly
os.environ["GPTNET_HOME"] = tempfile.mkdtemp(prefix="gptnet-test-home-")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any LLM configuration, so runs are offline unless a test says otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120,
            ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gptnet", *args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def assert_replays_to_same_model(out: Path, cwd: Path, *args: str) -> None:
    """Replaying a run's own conversation.json into its folder gives the same model.py (header aside: it names
    the cassette it replays)."""
    first = (out / "model.py").read_text()
    replay = cwd / "replayed-conversation.json"
    replay.write_text((out / "conversation.json").read_text())
    r = run_cli("design", "--replay", str(replay), "--target", "sd855", "--yes", "--out", str(out), *args, cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert (out / "model.py").read_text().replace(str(replay), str(out / "conversation.json")) == first


def write_cassette(path: Path, turns: list[dict], meta: dict | None = None) -> Path:
    path.write_text(json.dumps({"format": "gptnet-conversation/1", "meta": meta or {}, "turns": turns},
                               ensure_ascii=False), encoding="utf-8")
    return path


def load_model_module(path: Path):
    """Import a generated model.py (our own template's output) under a unique name."""
    spec = importlib.util.spec_from_file_location(f"generated_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def thop_counts(model, shape) -> tuple[int, int]:
    import thop
    import torch

    macs, params = thop.profile(model, inputs=(torch.randn(1, *shape),), verbose=False)
    return int(params), int(macs)


@pytest.fixture
def article_text() -> dict[str, str]:
    data = json.loads((ROOT / "gptnet" / "data" / "article.json").read_text(encoding="utf-8"))
    return {t["stage"]: t["response"] for t in data["turns"]}
