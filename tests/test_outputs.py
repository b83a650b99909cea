"""gptnet design's output folder, attacked through the real CLI: a re-run replaces only gptnet's own design files,
a file or a folder gptnet did not make is refused untouched, a hand edit survives as a backup, new folders follow
the umask, and a path that cannot be written is one line."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

DESIGN = ("design", "--budget", "10M", "--target", "sd855", "--yes")
FILES = ["model.py", "spec.json", "conversation.json", "report.md"]
MANIFEST = ".gptnet-design.json"


def design(out: Path, cwd: Path):
    return run_cli(*DESIGN, "--out", str(out), cwd=cwd)


def errors(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("gptnet: error:")]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under `folder` and its bytes (None for a folder)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in folder.rglob("*")}


@pytest.fixture
def designed(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    r = design(out, tmp_path)
    assert r.returncode == 0, r.stderr
    return out


def test_a_rerun_replaces_only_the_design_files(designed: Path, tmp_path: Path) -> None:
    from gptnet.train.runner import add_to_report

    (designed / "train").mkdir()
    (designed / "train" / "last.pt").write_bytes(b"checkpoint")
    (designed / "model.onnx").write_bytes(b"onnx")
    (designed / "notes.md").write_text("my notes\n")
    add_to_report(designed, "## Training\n\n- 240 epochs, top-1 60.1%\n")  # what `gptnet train` adds
    theirs = {k: v for k, v in snapshot(designed).items() if k not in FILES + [MANIFEST]}
    r = design(designed, tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"Replaced model.py, spec.json, conversation.json, report.md in {designed}/ (kept: model.onnx, " \
           "notes.md, train/)" in r.stderr
    assert {k: v for k, v in snapshot(designed).items() if k in theirs} == theirs
    # no backup (the Training section is gptnet's, not an edit) and no temporary file left
    assert sorted(p.name for p in designed.iterdir()) == sorted(FILES + [MANIFEST, "model.onnx", "notes.md", "train"])


def test_a_hand_edited_design_file_is_kept_beside_the_new_one(designed: Path, tmp_path: Path) -> None:
    ours = (designed / "model.py").read_text()
    edited = ours + "# my change\n"
    (designed / "model.py").write_text(edited)
    r = design(designed, tmp_path)
    assert r.returncode == 0, r.stderr
    [backup] = designed.glob("*.edited-*")
    assert backup.name.startswith("model.py.edited-") and backup.read_text() == edited
    assert (designed / "model.py").read_text() == ours
    assert f"model.py had changed since gptnet wrote it: your version is kept as {backup}" in r.stderr
    r = design(designed, tmp_path)  # the backup is the user's now: kept, and no new one
    assert r.returncode == 0 and [backup] == list(designed.glob("*.edited-*"))
    assert f"(kept: {backup.name})" in r.stderr


def test_a_folder_from_before_the_manifest_is_recognised(designed: Path, tmp_path: Path) -> None:
    (designed / MANIFEST).unlink()
    (designed / "notes.md").write_text("my notes\n")
    r = design(designed, tmp_path)
    assert r.returncode == 0, r.stderr
    assert (designed / "notes.md").read_text() == "my notes\n" and (designed / MANIFEST).is_file()
    assert not list(designed.glob("model.py.edited-*")) and not list(designed.glob("spec.json.edited-*"))


@pytest.mark.parametrize("where", ["afile", "afile/sub"])
def test_out_naming_a_file_is_refused_and_the_file_untouched(where: str, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("my data\n")
    r = design(tmp_path / where, tmp_path)
    assert r.returncode == 2
    assert errors(r.stderr) == [f"gptnet: error: {tmp_path / 'afile'} is a file, not a folder"]
    assert "stage ops" not in r.stderr  # refused before the LLM was asked anything
    assert snapshot(tmp_path) == {"afile": b"my data\n"}


def test_a_folder_gptnet_did_not_make_is_refused_untouched(tmp_path: Path) -> None:
    theirs = tmp_path / "thesis"
    (theirs / "figures").mkdir(parents=True)
    (theirs / "model.py").write_text("# my own model\n")
    (theirs / "figures" / "plot.png").write_bytes(b"png")
    before = snapshot(tmp_path)
    r = design(theirs, tmp_path)
    assert r.returncode == 2
    assert errors(r.stderr) == [f"gptnet: error: {theirs}/ already holds files gptnet did not write"]
    assert "hint: pass --out with another folder, or empty this one" in r.stderr
    assert "stage ops" not in r.stderr
    assert snapshot(tmp_path) == before


def test_an_empty_folder_is_used(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    r = design(out, tmp_path)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES + [MANIFEST])
    assert "Replaced" not in r.stderr


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_new_folders_and_files_follow_the_umask(mask: int, tmp_path: Path) -> None:
    old = os.umask(mask)  # the CLI subprocess inherits it
    try:
        r = design(tmp_path / "made" / "out", tmp_path)
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    for folder in (tmp_path / "made", tmp_path / "made" / "out"):
        assert folder.stat().st_mode & 0o777 == 0o777 & ~mask, folder
    for name in FILES + [MANIFEST]:
        assert (tmp_path / "made" / "out" / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


def test_the_committed_reference_reruns_without_backups(tmp_path: Path) -> None:
    """The README's first command, in a fresh clone: generated/cnn_gpt/ is gptnet's, with nothing edited."""
    shutil.copytree(ROOT / "generated" / "cnn_gpt", tmp_path / "generated" / "cnn_gpt")
    r = run_cli(*DESIGN, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "generated" / "cnn_gpt"
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES + [MANIFEST])
    assert "Replaced model.py, spec.json, conversation.json, report.md in generated/cnn_gpt/\n" in r.stderr
    assert (out / "model.py").read_text() == (ROOT / "generated" / "cnn_gpt" / "model.py").read_text()


def test_a_design_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "generated").write_text("not a folder\n")  # the default --out, generated/<name>, cannot be made
    r = run_cli(*DESIGN, cwd=tmp_path)
    assert r.returncode == 2
    assert errors(r.stderr) == ["gptnet: error: generated is a file, not a folder"]
    assert snapshot(tmp_path) == {"generated": b"not a folder\n"}


def test_an_impossible_out_is_one_line_and_a_long_one_works(tmp_path: Path) -> None:
    impossible = tmp_path / ("x" * 300)  # longer than a name may be
    r = design(impossible, tmp_path)
    assert r.returncode == 2
    assert errors(r.stderr) == [f"gptnet: error: cannot write {impossible}: File name too long"]
    assert "hint: pass --out with a folder you can write to" in r.stderr
    long = tmp_path / ("y" * 250)  # its temporary name must fit too
    assert design(long, tmp_path).returncode == 0 and (long / "model.py").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [long.name]


def test_a_profile_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    from gptnet.errors import UsageError
    from gptnet.targets import load_target, save_profile

    (tmp_path / "afile").write_text("")
    with pytest.raises(UsageError) as e:
        save_profile(load_target("sd855"), tmp_path / "afile" / "sd855.json")
    assert e.value.message == f"cannot write {tmp_path / 'afile' / 'sd855.json'}: {tmp_path / 'afile'} is a file, " \
                              "not a folder"
    assert e.value.hint == "pass --out with a file in a folder you can write to"


def test_an_export_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    folder = Path(shutil.copytree(ROOT / "generated" / "cnn_gpt", tmp_path / "cnn_gpt"))
    (folder / "model.onnx").mkdir()  # where the export goes is taken
    before = snapshot(folder)
    r = run_cli("export", str(folder), cwd=tmp_path)
    assert r.returncode == 2
    assert errors(r.stderr) == [f"gptnet: error: cannot write {folder / 'model.onnx'}: Is a directory"]
    assert "hint: export a copy of the design to a folder you can write to" in r.stderr
    assert snapshot(folder) == before  # no temporary file left


def test_an_interrupted_write_leaves_every_file_whole(tmp_path: Path, monkeypatch) -> None:
    """Ctrl-C between the renames of a re-run: each file is the old or the new one, whole; no temporary file."""
    import gptnet.output
    from gptnet.design_folder import write_design

    old, new = ({name: f"{version} {name}\n" for name in FILES} for version in ("old", "new"))
    out = tmp_path / "out"
    write_design(out, old)
    real, calls = os.replace, []

    def interrupted(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(gptnet.output.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_design(out, new)
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES + [MANIFEST])
    assert all((out / n).read_text() in (old[n], new[n]) for n in FILES)
    assert {(out / n).read_text() == new[n] for n in FILES} == {True, False}  # stopped between the renames
    write_design(out, new)  # the folder is still gptnet's, with nothing edited: the next run completes it
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES + [MANIFEST])
    assert all((out / n).read_text() == new[n] for n in FILES)


def test_an_interrupted_new_folder_does_not_appear(tmp_path: Path, monkeypatch) -> None:
    from gptnet.design_folder import write_design

    def interrupted(self, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_design(tmp_path / "out", {name: name for name in FILES})
    assert list(tmp_path.iterdir()) == []
