"""Published latencies on the real chip: the sd855 profile's cpu and gpu rates come from `gptnet calibrate
--from-published sd855` over the measurements it lists, and its estimates for held-out networks beat the roofline."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from conftest import clean_env, run_cli

from gptnet.published import compare
from gptnet.targets import load_target

PACKAGED = Path(__file__).resolve().parents[1] / "gptnet" / "targets" / "sd855.json"


def test_the_packaged_calibration_is_what_the_command_fits(tmp_path: Path) -> None:
    out = tmp_path / "sd855.json"
    r = run_cli("calibrate", "--from-published", "sd855", "--out", str(out), cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "10 published latencies" in r.stderr and f"Wrote {out}" in r.stderr
    fitted, packaged = json.loads(out.read_text()), json.loads(PACKAGED.read_text())
    for backend in ("cpu", "gpu"):
        assert fitted["backends"][backend]["calibration"] == packaged["backends"][backend]["calibration"]
    assert "calibration" not in fitted["backends"]["dsp"]  # nothing published to fit it to
    assert fitted["measurements"] == packaged["measurements"]


def test_held_out_networks_are_estimated_closer_than_the_roofline() -> None:
    rows = [r for r in compare(load_target("sd855")) if r.role == "held-out"]
    held = {(m, b) for m in ("mobilenet_v2", "resnet18") for b in ("cpu", "gpu")}
    assert {(r.model, r.backend) for r in rows} == held
    for r in rows:
        assert r.calibrated and r.estimate_ms is not None and r.roofline_ms is not None
        assert abs(math.log(r.ratio)) < abs(math.log(r.roofline_ms / r.adjusted_ms)), r


def test_targets_show_lists_each_measurement_with_its_source(tmp_path: Path) -> None:
    r = run_cli("targets", "show", "sd855", cwd=tmp_path)
    lines = [line for line in r.stdout.splitlines() if re.match(r"\s+\w+ on (cpu|gpu|dsp): [\d.]+ ms", line)]
    assert len(lines) == len(load_target("sd855").measurements)
    cited = dict(re.findall(r"^\s+(\[\d+\]) (.*)$", r.stdout, re.M))  # each source once, at the end
    sources = [cited[re.search(r"\[\d+\]$", line).group()] for line in lines]
    assert all(s.startswith(("Tencent/ncnn", "PaddlePaddle/Paddle-Lite")) for s in sources)
    assert len(set(cited.values())) == len(cited)
    assert "latency: gptnet calibrate --from-published sd855" in r.stdout


def test_a_target_without_published_latencies_cannot_be_fitted(tmp_path: Path) -> None:
    r = run_cli("calibrate", "--from-published", "sd8gen2", cwd=tmp_path)
    assert r.returncode == 2 and "sd8gen2 lists no published measurements" in r.stderr


def test_a_measurement_of_an_unknown_network_is_a_clear_error(tmp_path: Path) -> None:
    profile = json.loads(PACKAGED.read_text())
    profile["measurements"][0]["model"] = "resnet1000"
    (tmp_path / "home" / "targets").mkdir(parents=True)
    (tmp_path / "home" / "targets" / "sd855.json").write_text(json.dumps(profile))
    r = run_cli("targets", "show", "sd855", cwd=tmp_path, env=clean_env(GPTNET_HOME=str(tmp_path / "home")))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "is invalid: measurements.0.model: Value error, unknown reference model 'resnet1000'" in r.stderr


def test_a_missing_extra_is_named_with_the_install_command(tmp_path: Path) -> None:
    # torchvision made unimportable, as in an install without the [train] extra
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torchvision':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n")
    r = run_cli("calibrate", "--from-published", "sd855", "--out", "x.json", cwd=tmp_path,
                env=clean_env(PYTHONPATH=str(tmp_path)))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "this command needs torchvision, which is not installed" in r.stderr
    assert 'pip install -e ".[train]"' in r.stderr and not (tmp_path / "x.json").exists()
