"""LLM answers are data: a module answer that tries to run code never runs it. Each payload would create a marker
file if executed, imported or evaluated; the module is read from its safe layers or refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import load_model_module, run_cli, write_cassette

MODEL = "Conv2d(3, 16, 3, padding=1) ReLU() SafeBlock(16, 32) AdaptiveAvgPool2d(1) Flatten() Linear(32, 10)"

PAYLOADS = {
    "os_system": 'os.system("touch {marker}")',
    "dunder_import": '__import__("os").system("touch {marker}")',
    "open": 'open("{marker}", "w").write("pwned")',
    "eval": 'eval(compile("open(\'{marker}\', \'w\')", "x", "exec"))',
    "exec": 'exec("open(\'{marker}\', \'w\')")',
    "subprocess": 'subprocess.run(["touch", "{marker}"])',
}


def _module_answer(payload: str, where: str) -> str:
    init_extra = f"        {payload}\n" if where == "init" else ""
    forward_extra = f"        {payload}\n" if where == "forward" else ""
    return ("```python\nimport os\nimport subprocess\nimport torch.nn as nn\n\n"
            "class SafeBlock(nn.Module):\n"
            "    def __init__(self, in_channels, out_channels):\n"
            "        super().__init__()\n" + init_extra +
            "        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)\n"
            "        self.bn = nn.BatchNorm2d(out_channels)\n"
            "        self.act = nn.ReLU()\n\n"
            "    def forward(self, x):\n" + forward_extra +
            "        return self.act(self.bn(self.conv(x)))\n```")


def _design(tmp_path: Path, name: str, where: str):
    """Replay a SafeBlock definition carrying payload `name` in `where`; the marker it would create, and the run."""
    marker = tmp_path / f"MARKER_{name}"
    cassette = write_cassette(tmp_path / "c.json", [
        {"stage": "model", "response": MODEL},
        {"stage": "module:SafeBlock", "response": _module_answer(PAYLOADS[name].format(marker=marker), where)}])
    return marker, run_cli("design", "--budget", "10M", "--target", "sd855", "--classes", "10", "--replay",
                           str(cassette), "--yes", "--json", "--out", str(tmp_path / "out"), cwd=tmp_path)


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_unsafe_statement_in_init_is_ignored_and_never_runs(name: str, tmp_path: Path) -> None:
    marker, r = _design(tmp_path, name, "init")
    assert r.returncode == 0, r.stderr
    notes = [f for f in json.loads(r.stdout)["findings"] if f["kind"] == "ignored-code"]
    assert notes and "ignored" in notes[0]["why"]
    model_py = (tmp_path / "out" / "model.py").read_text()
    assert "system" not in model_py and "open(" not in model_py and "eval" not in model_py
    load_model_module(tmp_path / "out" / "model.py").build_model()  # importing our output runs nothing either
    assert not marker.exists()


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_unsafe_statement_in_forward_refuses_the_module(name: str, tmp_path: Path) -> None:
    marker, r = _design(tmp_path, name, "forward")
    assert r.returncode == 1
    assert "SafeBlock" in r.stderr and "refused" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists()
    assert not marker.exists()


def test_code_injection_through_json_sizes_and_names_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER_json"
    evil = f"__import__('os').system('touch {marker}')"
    for layer in ({"op": "Conv2d", "in_channels": 3, "out_channels": evil},
                  {"op": "Conv2d", "in_channels": 3, "out_channels": 8, "name": "x = 1; import os #"}):
        cassette = write_cassette(tmp_path / "c.json", [{"stage": "model", "response": json.dumps(
            {"name": 'Evil"""; import os', "layers": [layer, {"op": "Flatten"}, {"op": "Linear", "out_features": 10}]})}])
        r = run_cli("design", "--budget", "10M", "--target", "sd855", "--replay", str(cassette), "--yes",
                    "--out", str(tmp_path / "out"), cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        assert "Traceback" not in r.stderr
    assert not marker.exists()
