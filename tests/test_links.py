"""Symbolic links in folders someone sent: gptnet writes no file through one and reads no data through one below
the folder the user named, through the real CLI. Each writer (report.md, compare.md, metrics and checkpoints, the
design files, the ONNX export, a search's leaderboard, state, candidates and winner) refuses a linked file or folder
in one line and leaves what it points to untouched; an image folder's linked class folders and images are skipped
and counted. A link the user named themselves (--out, --data) is followed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CASSETTES, clean_env, run_cli
from test_train import copy_design, metrics, one_error, one_thread, tiny, train  # noqa: F401
from test_train_images import write_shapes

OUTSIDE = "my own notes\n"
SEARCH = ["--budget", "1M", "--target", "sd855", "--data", "digits", "--steps", "20", "--subset", "256", "--trials",
          "2", "--per-round", "2", "--seed", "1", "--workers", "1"]


def outside_file(tmp_path: Path) -> Path:
    path = tmp_path / "outside.md"
    path.write_text(OUTSIDE)
    return path


def link(path: Path, to: Path) -> None:
    """Replace `path` (a file or a folder, if any) with a symbolic link to `to`."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(to)


def refused(r: subprocess.CompletedProcess, verb: str, path: Path, where: Path | None = None) -> None:
    """The run failed with one line saying it does not `verb` `path` through the link at `where` (`path`)."""
    line = one_error(r, 2)
    assert line == f"gptnet: error: cannot {verb} {path}: {where or 'it'} is a symbolic link (gptnet does not " \
                   f"{verb} through links)", r.stderr


# ---- the one writer

def test_the_writer_refuses_a_linked_file_or_folder_below_the_named_one(tmp_path: Path) -> None:
    from gptnet.errors import UsageError
    from gptnet.output import write_atomic

    real = tmp_path / "real"
    real.mkdir()
    named = tmp_path / "named"
    named.symlink_to(real)  # the folder the user named is a link: their choice, followed
    write_atomic(named / "leaderboard.md", "ok\n", root=named)
    assert (real / "leaderboard.md").read_text() == "ok\n"
    notes, elsewhere = outside_file(tmp_path), tmp_path / "elsewhere"
    elsewhere.mkdir()
    link(named / "report.md", notes)
    link(named / "candidates" / "0123456789ab", elsewhere)  # a candidate's folder: its hash is predictable
    with pytest.raises(UsageError, match="^" + re.escape(f"cannot write {named}/report.md: it is a symbolic link")):
        write_atomic(named / "report.md", "new\n", root=named)
    candidate = named / "candidates" / "0123456789ab"
    with pytest.raises(UsageError, match="^" + re.escape(f"cannot write {candidate}/model.py: {candidate} is a "
                                                         "symbolic link")):
        write_atomic(candidate / "model.py", "new\n", root=named)
    assert notes.read_text() == OUTSIDE and list(elsewhere.iterdir()) == []
    assert (named / "report.md").is_symlink() and list(real.glob(".*.tmp")) == []


# ---- train and compare: the design folder read, report.md, metrics and checkpoints, compare.md

def test_train_refuses_a_linked_report_and_leaves_its_target(tiny: Path, tmp_path: Path) -> None:
    from gptnet.errors import UsageError
    from gptnet.train.runner import add_to_report

    design, notes = copy_design(tiny, tmp_path), outside_file(tmp_path)
    link(design / "report.md", notes)
    r = train(design, "--data", "digits", "--epochs", "1", cwd=tmp_path)
    refused(r, "read", design / "report.md")
    assert notes.read_text() == OUTSIDE and not (design / "train").exists()  # refused before training
    with pytest.raises(UsageError, match="gptnet does not write through links"):  # the writer itself refuses too
        add_to_report(design, "## Training\n")
    assert notes.read_text() == OUTSIDE


@pytest.mark.parametrize("linked", ["train", "train/last.pt", "train/metrics.jsonl"])
def test_train_refuses_a_linked_output_folder_or_file(linked: str, tiny: Path, tmp_path: Path) -> None:
    design = copy_design(tiny, tmp_path)
    (design / "train").mkdir(exist_ok=True)
    target = tmp_path / "elsewhere" if linked == "train" else outside_file(tmp_path)
    if linked == "train":
        target.mkdir()
    link(design / linked, target)
    r = train(design, "--data", "digits", "--epochs", "1", cwd=tmp_path)
    refused(r, "write", design / linked)
    assert (list(target.iterdir()) == [] if target.is_dir() else target.read_text() == OUTSIDE)


def test_train_resume_refuses_a_linked_checkpoint(tiny: Path, tmp_path: Path) -> None:
    design = copy_design(tiny, tmp_path)
    assert train(design, "--data", "digits", "--epochs", "1", cwd=tmp_path).returncode == 0
    theirs = tmp_path / "theirs.pt"
    shutil.move(design / "train" / "last.pt", theirs)
    link(design / "train" / "last.pt", theirs)
    r = train(design, "--data", "digits", "--epochs", "2", "--resume", cwd=tmp_path)
    refused(r, "read", design / "train" / "last.pt")
    assert [m["epoch"] for m in metrics(design / "train")] == [1]


def test_compare_refuses_a_linked_table_before_training(tiny: Path, tmp_path: Path) -> None:
    design, notes = copy_design(tiny, tmp_path), outside_file(tmp_path)
    link(design / "compare-resnet18" / "compare.md", notes)
    r = run_cli("compare", str(design), "--data", "digits", "--epochs", "1", "--device", "cpu", cwd=tmp_path,
                env=one_thread())
    refused(r, "write", design / "compare-resnet18" / "compare.md")
    assert "Training on" not in r.stderr and notes.read_text() == OUTSIDE


# ---- the design folder: design's own files, what export reads and writes

@pytest.mark.parametrize("linked, verb", [("model.onnx", "write"), ("spec.json", "read"), ("model.py", "read")])
def test_export_refuses_a_linked_design_file(linked: str, verb: str, tiny: Path, tmp_path: Path) -> None:
    design, outside = copy_design(tiny, tmp_path), tmp_path / f"outside-{linked}"
    shutil.copy(tiny / linked, outside) if (tiny / linked).is_file() else outside.write_text(OUTSIDE)
    before = outside.read_bytes()
    link(design / linked, outside)
    r = run_cli("export", str(design), "--format", "onnx", "--target", "sd855", cwd=tmp_path)
    refused(r, verb, design / linked)
    assert outside.read_bytes() == before


def test_design_refuses_to_replace_a_linked_design_file(tiny: Path, tmp_path: Path) -> None:
    design, notes = copy_design(tiny, tmp_path), outside_file(tmp_path)
    link(design / "model.py", notes)
    before = {p.name: p.read_bytes() for p in design.iterdir() if p.is_file() and not p.is_symlink()}
    r = run_cli("design", "--replay", str(CASSETTES / "form_layers_one_line.json"), "--budget", "10M", "--target",
                "sd855", "--classes", "10", "--yes", "--out", str(design), cwd=tmp_path)
    refused(r, "write", design / "model.py")
    assert notes.read_text() == OUTSIDE  # and nothing in the folder changed, not even the manifest
    assert {p.name: p.read_bytes() for p in design.iterdir() if p.is_file() and not p.is_symlink()} == before


# ---- search --resume: leaderboard, state, candidates, winner

@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    """A finished tiny search (2 candidates, 20 steps on digits)."""
    cwd = tmp_path_factory.mktemp("search")
    r = run_cli("search", *SEARCH, "--out", "s", cwd=cwd, timeout=600)
    assert r.returncode == 0, r.stderr
    return cwd / "s"


@pytest.mark.parametrize("linked", ["leaderboard.md", "state.json", "candidates/<hash>", "winner"])
def test_search_resume_refuses_a_linked_file_or_folder(linked: str, searched: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(searched, tmp_path / "s"))
    linked = linked.replace("<hash>", sorted(p.name for p in (folder / "candidates").iterdir())[0])
    original = folder / linked
    target = tmp_path / "elsewhere"
    shutil.move(original, target)  # what the link points to: a copy of gptnet's own, outside the folder
    before = sorted(p.name for p in target.iterdir()) if target.is_dir() else target.read_bytes()
    link(original, target)
    r = run_cli("search", *SEARCH, "--out", str(folder), "--resume", cwd=tmp_path, env=clean_env())
    refused(r, "read", original)
    assert (sorted(p.name for p in target.iterdir()) if target.is_dir() else target.read_bytes()) == before


def test_a_search_folder_without_links_resumes(searched: Path, tmp_path: Path) -> None:
    """The check walks the folder and finds nothing to refuse in one gptnet wrote."""
    folder = Path(shutil.copytree(searched, tmp_path / "s"))
    r = run_cli("search", *SEARCH, "--out", str(folder), "--resume", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


# ---- image folders: linked class folders and images are skipped and counted

def test_linked_class_folders_and_images_are_skipped_and_counted(tmp_path: Path) -> None:
    shapes = write_shapes(tmp_path / "shapes", split=False)
    private = write_shapes(tmp_path / "private", split=False, per_class=2)
    (shapes / "dog").symlink_to(private / "circle")  # a class folder that is a link: not a class
    (shapes / "circle" / "photo.png").symlink_to(private / "square" / "0.png")  # an image that is a link
    (shapes / "square" / "more").symlink_to(private / "triangle")  # a folder inside a class folder
    r = run_cli("design", "--replay", str(CASSETTES / "form_layers_one_line.json"), "--budget", "10M", "--target",
                "sd855", "--data", str(shapes), "--yes", "--out", "d", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"From {shapes}: 3 classes (circle, square, triangle), input 3x16x16 (36 of its 36 images are 16x16; " \
           "skipped 3 symbolic links (gptnet does not read through links))." in r.stderr
    r = train(tmp_path / "d", "--data", str(shapes), "--epochs", "1", "--batch-size", "8", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    start = next(line for line in r.stderr.splitlines() if line.startswith("Training on"))
    assert "; skipped 3 symbolic links (gptnet does not read through links)): 30 train / 6 test images" in start


def test_a_linked_train_or_val_folder_is_refused(tmp_path: Path) -> None:
    from gptnet.errors import UsageError
    from gptnet.train.imagefolder import scan

    data = write_shapes(tmp_path / "tv", split=True)
    shutil.move(data / "train", tmp_path / "their-train")
    (data / "train").symlink_to(tmp_path / "their-train")
    with pytest.raises(UsageError, match="^" + re.escape(f"cannot read {data}/train: it is a symbolic link")):
        scan(data)
    named = tmp_path / "named"
    named.symlink_to(write_shapes(tmp_path / "plain", split=False))  # --data naming a link: followed
    assert len(scan(named).files) == 36
