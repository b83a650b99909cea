"""Published latencies on the real chip: the sd855 profile's fitted backends are what `gptnet calibrate
--from-published sd855` makes of the measurements it lists; networks left out of a fit are estimated within the
README's bounds; and every published figure carries its source."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from conftest import ROOT, clean_env, run_cli

from gptnet.published import loo_ratios, spearman, summary
from gptnet.targets import load_target

PACKAGED = Path(__file__).resolve().parents[1] / "gptnet" / "targets" / "sd855.json"


def test_the_packaged_fits_are_what_the_command_fits(tmp_path: Path) -> None:
    out = tmp_path / "sd855.json"
    r = run_cli("calibrate", "--from-published", "sd855", "--out", str(out), cwd=tmp_path, timeout=900,
                env=clean_env(GPTNET_PROGRESS_SECONDS="0"))  # a progress line every tenth, however fast
    assert r.returncode == 0, r.stderr
    fit = [m for m in load_target("sd855").measurements if m.role == "fit"]
    networks = len({(m.model, m.input) for m in fit})
    assert f"Tracing the {networks} networks of {len(fit)} published latencies, once each..." in r.stderr
    progress = [line for line in r.stderr.splitlines() if line.startswith("tracing the published networks: ")]
    assert len(progress) >= 5 and all(f" networks), ETA " in line for line in progress), r.stderr
    assert "sd855 cpu: gptnet calibrate --from-published sd855: fitted to 17 published latencies" in r.stderr
    assert f"Wrote {out}" in r.stderr
    fitted, packaged = json.loads(out.read_text()), json.loads(PACKAGED.read_text())
    for name, backend in packaged["backends"].items():
        assert fitted["backends"][name].get("fit") == backend.get("fit"), name
        assert fitted["backends"][name].get("derived") == backend.get("derived"), name
    assert "fit" not in fitted["backends"]["dsp"]  # one published point: nothing to fit
    assert fitted["measurements"] == packaged["measurements"]


def test_networks_left_out_of_a_fit_are_estimated_within_bounds() -> None:
    """The goal the README states: against latencies a fit did not see, median error within 25%, Spearman 0.95."""
    target = load_target("sd855")
    for backend in ("cpu", "gpu", "cpu4"):
        pairs = loo_ratios(target, backend)
        median, _ = summary([r for _, r in pairs])
        rho = spearman([m.adjusted_ms() * r for m, r in pairs], [m.adjusted_ms() for m, _ in pairs])
        assert median <= 0.25 and rho >= 0.95, (backend, median, rho)
    assert target.backends["cpu"].fit.loo_median <= 0.25  # the figures the profile states are those


def test_every_backend_names_its_runtime_and_how_it_is_estimated() -> None:
    for name in ("sd855", "sd865", "sd8gen2"):
        for key, b in load_target(name).backends.items():
            assert b.runtime and b.processor and b.precision in ("fp32", "fp16", "int8"), (name, key)
            assert (b.threads is None) == (key in ("gpu", "dsp", "ncnn-gpu")), (name, key)
            how = b.estimated_by()
            assert how.startswith(("fitted to", "sd855/", "roofline")), how


def test_targets_show_lists_each_measurement_with_its_source(tmp_path: Path) -> None:
    r = run_cli("targets", "show", "sd855", cwd=tmp_path)
    lines = [line for line in r.stdout.splitlines() if re.match(r"\s+\w+( at \d+x\d+)? on [\w-]+: [\d.]+ ms", line)]
    assert len(lines) == len(load_target("sd855").measurements)
    cited = dict(re.findall(r"^\s+(\[\d+\]) (.*)$", r.stdout, re.M))  # each source once, at the end
    sources = [cited[re.search(r"\[\d+\]$", line).group()] for line in lines]
    assert all(s.startswith(("microsoft/nn-Meter", "tensorflow/", "Tencent/ncnn", "PaddlePaddle/Paddle-Lite"))
               for s in sources)
    assert len(set(cited.values())) == len(cited)
    assert "latency: fitted to 17 published latencies" in r.stdout
    assert "predicted; TFLite 2.1 CPU, 1 thread, fp32 (XNNPACK off); Google Pixel 4 (Snapdragon 855)" in r.stdout


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
                env=clean_env(PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)])))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "this command needs torchvision, which is not installed" in r.stderr
    assert 'pip install -e ".[train]"' in r.stderr and not (tmp_path / "x.json").exists()


def test_families_group_the_designs_that_share_kernels() -> None:
    from gptnet.reference_models import FAMILIES, INPUTS, family

    assert {family(n) for n in ("resnet18", "resnet34", "resnet50")} == {"resnet"}
    assert {family(n) for n in ("mobilenet", "mobilenet_v2", "mobilenet_v3_small")} == {"mobilenet"}
    assert family("googlenet") == family("inception_v3") == "inception"
    assert family("regnety_400m") == "regnet" and family("efficientnet_lite3") == family("efficientnet_b0")
    assert {family(n) for n in INPUTS} <= set(FAMILIES.values())  # every network has a named family


def test_leave_one_family_out_sees_no_sibling_of_the_network_it_predicts() -> None:
    """Short form of the benchmark's table, on cpu4's stored measurements (MobileNetV1 and EfficientNet-Lite0-4):
    an EfficientNet-Lite is predicted from MobileNetV1's speedup alone, never from another Lite."""
    from benchmarks.published_latency import family_table
    from gptnet.published import _speedups, accuracy

    target = load_target("sd855")
    a = accuracy(target, "cpu4")
    assert (a.left_out, a.networks, a.families, a.method) == ("family", 6, 2, "measured")
    assert 0 <= a.median <= a.worst and 0 <= a.within_10 <= a.within_25 <= 1 and -1 <= a.spearman <= 1
    points = [m for m in target.measurements if m.backend == "cpu4" and m.role == "fit"]
    speedup = dict(zip((m.model for m in points), _speedups(target, "cpu4", points)))
    by_family = dict((m.model, r) for m, r in loo_ratios(target, "cpu4", by_family=True))
    assert by_family["efficientnet_lite2"] == pytest.approx(speedup["efficientnet_lite2"] / speedup["mobilenet"])
    assert accuracy(target, "dsp") is None  # nothing fitted: nothing to hold out
    table = family_table(target.model_copy(update={"measurements": points}))
    assert "| cpu4 | TFLite CPU (Pixel 4 tables, 2019-20), 4 threads, fp32 on " in table and "| 6 (2) |" in table
