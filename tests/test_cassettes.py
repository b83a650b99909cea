"""Every cassette in tests/cassettes is a user's run: replayed through the real CLI, it must end as its meta says
(exit code, the repairs gptnet reports, the message on failure), and a model it writes must import, run and agree
with thop."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import CASSETTES, assert_replays_to_same_model, load_model_module, run_cli, thop_counts

EXPECT = Path(__file__).parent / "expect"

CASES = sorted(CASSETTES.glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_cassette(path: Path, tmp_path: Path) -> None:
    import torch

    expect = json.loads(path.read_text(encoding="utf-8"))["meta"]["expect"]
    args = list(expect["args"])
    if "--budget" not in args:
        args += ["--budget", "10M"]
    if "--classes" not in args:
        args += ["--classes", "100"]
    out = tmp_path / "out"
    result = run_cli("design", "--replay", str(path), "--target", "sd855", "--yes", "--json", "--out", str(out),
                     *args, cwd=tmp_path)
    assert result.returncode == expect["exit"], result.stderr
    assert "Traceback" not in result.stderr
    if expect["exit"] != 0:
        assert expect["stderr"] in result.stderr
        assert "gptnet: error:" in result.stderr
        assert not out.exists()
        return
    design = json.loads(result.stdout)
    kinds = {f["kind"] for f in design["findings"]}
    assert set(expect["kinds"]) <= kinds, design["findings"]
    if not expect["kinds"]:
        assert not [f for f in design["findings"] if f["severity"] == "repair"], design["findings"]
    assert design["revisions"] == expect.get("revisions", 0)
    assert {p.name for p in out.iterdir()} == {"model.py", "spec.json", "conversation.json", "report.md",
                                               ".gptnet-design.json"}

    classes = int(args[args.index("--classes") + 1])
    shape = tuple(int(d) for d in (args[args.index("--input") + 1] if "--input" in args else "3x32x32").split("x"))
    net = load_model_module(out / "model.py").build_model()
    net.eval()
    with torch.no_grad():
        y = net(torch.randn(2, *shape))
    assert y.shape == (2, classes)
    assert torch.isfinite(y).all()
    params, macs = thop_counts(net, shape)
    assert (params, macs) == (design["profile"]["params"], design["profile"]["macs"])
    budget = args[args.index("--budget") + 1]
    assert params <= {"10M": 10_000_000, "20K": 20_000}[budget]
    first = (out / "model.py").read_text()
    assert_replays_to_same_model(out, tmp_path, *args)
    if expect.get("golden"):  # reference specs: the rendered file itself is checked (torchvision test/expect)
        golden = EXPECT / f"{path.stem}.py"
        text = first.replace(str(tmp_path), "<tmp>")
        if os.environ.get("GPTNET_ACCEPT"):
            golden.write_text(text)
        refresh = f"GPTNET_ACCEPT=1 python -m pytest tests/test_cassettes.py -k {path.stem}"
        assert golden.is_file(), f"missing {golden}; create it with: {refresh}"
        assert text == golden.read_text(), f"model.py of {path.stem} changed; if intended, refresh with: {refresh}"
    if "folder" in expect:
        assert json.loads((out / "spec.json").read_text())["name"]
        default = run_cli("design", "--replay", str(path), "--target", "sd855", "--yes", *args, cwd=tmp_path)
        assert default.returncode == 0, default.stderr
        assert (tmp_path / "generated" / expect["folder"] / "model.py").is_file()
