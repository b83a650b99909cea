"""Training on the user's own images (`--data PATH`, a folder of class subfolders) and designing for them
(`design --data PATH`), through the CLI in subprocesses, on small folders the tests write with Pillow."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from conftest import CASSETTES, clean_env, run_cli
from test_train import copy_design, metrics, one_error, one_thread, tiny, train, without_timing  # noqa: F401

CLASSES = ("circle", "square", "triangle")


def write_shapes(root: Path, split: bool, per_class: int = 12) -> Path:
    """16x16 coloured shapes on noise, PNG and JPEG alternately, one of them grayscale; with `split`, the last 3 of
    each class in val/. Beside them, files that must not be read: notes, a hidden macOS resource file."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        for i in range(per_class):
            folder = root / ("val" if i >= per_class - 3 else "train") / name if split else root / name
            folder.mkdir(parents=True, exist_ok=True)
            im = Image.fromarray(rng.integers(0, 60, (16, 16, 3), dtype=np.uint8))
            draw, colour = ImageDraw.Draw(im), tuple(int(v) for v in rng.integers(100, 256, 3))
            if name == "circle":
                draw.ellipse((3, 3, 12, 12), fill=colour)
            elif name == "square":
                draw.rectangle((3, 3, 12, 12), fill=colour)
            else:
                draw.polygon([(3, 12), (12, 12), (8, 3)], fill=colour)
            if k == i == 0:
                im = im.convert("L")
            im.save(folder / f"{i}.{'jpg' if i % 2 else 'png'}")
        (folder / "notes.txt").write_text("not an image")
        (folder / "._0.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble, not a JPEG")
    return root


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    return write_shapes(tmp_path_factory.mktemp("data") / "shapes", split=False)


@pytest.fixture(scope="module")
def shapes_tv(tmp_path_factory) -> Path:
    return write_shapes(tmp_path_factory.mktemp("data") / "shapes_tv", split=True)


@pytest.fixture(scope="module")
def designed(tmp_path_factory, shapes: Path) -> tuple[Path, str]:
    """A small design made with `design --data` on the shapes folder, and what design printed."""
    cwd = tmp_path_factory.mktemp("designed")
    r = run_cli("design", "--replay", str(CASSETTES / "form_layers_one_line.json"), "--budget", "10M", "--target",
                "sd855", "--data", str(shapes), "--yes", "--out", "design", cwd=cwd)
    assert r.returncode == 0, r.stderr
    return cwd / "design", r.stderr


def test_design_takes_classes_and_input_from_the_folder(designed: tuple[Path, str], shapes: Path) -> None:
    design, stderr = designed
    spec = json.loads((design / "spec.json").read_text())
    assert spec["num_classes"] == 3 and spec["input"] == [3, 16, 16]  # one grayscale image of 36: still RGB
    assert f"From {shapes}: 3 classes (circle, square, triangle), input 3x16x16 (36 of its 36 images are 16x16)." \
        in stderr
    assert "--classes 3 --input 3x16x16" in (design / "report.md").read_text()  # replays without the folder


def test_design_given_classes_and_input_win_and_say_so(shapes: Path, tmp_path: Path) -> None:
    r = run_cli("design", "--replay", str(CASSETTES / "form_layers_one_line.json"), "--budget", "10M", "--target",
                "sd855", "--data", str(shapes), "--classes", "10", "--input", "3x32x32", "--yes", "--out", "d",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    spec = json.loads((tmp_path / "d" / "spec.json").read_text())
    assert spec["num_classes"] == 10 and spec["input"] == [3, 32, 32]
    assert "--classes 10 wins over the folder's 3 (training on it will need --rebuild-head)." in r.stderr
    assert "--input 3x32x32 wins over the folder's 3x16x16" in r.stderr


def test_design_for_large_grayscale_images_is_one_channel_and_capped(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / "big" / name).mkdir(parents=True)
        for i in range(2):
            Image.new("L", (450, 300), 40 * i).save(tmp_path / "big" / name / f"{i}.png")
    r = run_cli("design", "--replay", str(CASSETTES / "form_layers_one_line.json"), "--budget", "10M", "--target",
                "sd855", "--data", "big", "--yes", "--out", "d", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "input 1x149x224 (4 of its 4 images are 300x450, scaled down; all grayscale)" in r.stderr
    assert json.loads((tmp_path / "d" / "spec.json").read_text())["input"] == [1, 149, 224]


@pytest.mark.parametrize("layout", ["train/ and val/", "split here"])
def test_train_on_an_image_folder(layout: str, designed: tuple[Path, str], shapes: Path, shapes_tv: Path,
                                  tmp_path: Path) -> None:
    design = copy_design(designed[0], tmp_path)
    data = shapes_tv if layout == "train/ and val/" else shapes
    r = train(design, "--data", str(data), "--epochs", "2", "--batch-size", "8", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    counts, about = (("27 train / 9 test", "its train/ and val/ sets") if layout == "train/ and val/" else
                     ("30 train / 6 test", "a fixed stratified 80/20 split of each class"))
    start = next(line for line in r.stderr.splitlines() if line.startswith("Training on"))
    assert f"Training on {data} (image folder: {about}; classes circle, square, triangle; scaled and " \
           f"centre-cropped to 16x16, random crop (padding 2) and horizontal flip): {counts} images, 3 classes" in start
    assert [m["epoch"] for m in metrics(design / "train")] == [1, 2]
    report = (design / "report.md").read_text()
    assert f"- Data: {data} (image folder: {about};" in report
    assert "- Classes by output index (all of them in `train/best.pt`): 0: circle, 1: square, 2: triangle." in report
    assert "Classifier" not in report  # the design was made for this folder
    assert torch.load(design / "train" / "best.pt", weights_only=True)["classes"] == list(CLASSES)


def test_a_last_batch_of_one_image_is_left_out_not_a_crash(tmp_path: Path) -> None:
    data = write_shapes(tmp_path / "small", split=False, per_class=4)  # 9 training images: batches of 4, 4 and 1
    # the article's model has a BatchNorm after a global pool, which one image cannot normalize
    r = run_cli("design", "--budget", "100K", "--target", "sd855", "--data", str(data), "--yes", "--out", "d",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = train(tmp_path / "d", "--data", str(data), "--epochs", "1", "--batch-size", "4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "9 train / 3 test images" in r.stderr


def test_folder_images_are_normalized_and_no_flip_turns_flips_off(shapes: Path) -> None:
    from gptnet.train.data import load_data

    for flip in (True, False):
        data = load_data(str(shapes), (3, 16, 16), flip=flip)
        assert data.train.flip is flip and data.about.endswith(" and horizontal flip" if flip else ", no flip")
    train = torch.stack([data.train.base[i][0] for i in range(len(data.train))])  # before augmentation
    assert tuple(train.shape) == (30, 3, 16, 16) and data.labels == CLASSES
    # normalized per channel with the training set's own mean and std
    assert torch.allclose(train.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(train.std((0, 2, 3), correction=0), torch.ones(3), atol=1e-4)


def test_resume_on_an_image_folder_equals_an_uninterrupted_run(designed: tuple[Path, str], shapes: Path,
                                                              tmp_path: Path) -> None:
    args = ["--data", str(shapes), "--batch-size", "8", "--lr-decay-stages", "2"]
    whole = copy_design(designed[0], tmp_path / "a")
    assert train(whole, *args, "--epochs", "3", cwd=tmp_path).returncode == 0
    resumed = copy_design(designed[0], tmp_path / "b")
    assert train(resumed, *args, "--epochs", "1", cwd=tmp_path).returncode == 0
    r = train(resumed, *args, "--epochs", "3", "--resume", cwd=tmp_path)
    assert r.returncode == 0 and "Resuming after epoch 1" in r.stderr, r.stderr
    assert without_timing(metrics(resumed / "train")) == without_timing(metrics(whole / "train"))


def test_another_class_count_is_refused_unless_rebuild_head(tiny: Path, shapes: Path, tmp_path: Path) -> None:
    design = copy_design(tiny, tmp_path)
    r = train(design, "--data", str(shapes), "--epochs", "1", cwd=tmp_path)
    assert one_error(r, 2) == f"gptnet: error: the design has 10 classes, {shapes} has 3"
    assert "pass --rebuild-head to train it with a 3-class classifier, or design for --classes 3" in r.stderr
    assert not (design / "train" / "metrics.jsonl").exists()
    r = train(design, "--data", str(shapes), "--epochs", "1", "--rebuild-head", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    note = (f"the design has 10 classes, {shapes} has 3: training build_model(num_classes=3), whose classifier has 3 "
            "outputs (--rebuild-head)")
    assert f"Note: {note}." in r.stderr and f"- Classifier: {note}." in (design / "report.md").read_text()
    head = torch.load(design / "train" / "best.pt", weights_only=True)["model"]
    assert [tuple(v.shape) for k, v in head.items() if k.endswith("weight")][-1] == (3, 32)  # Linear(32, 3)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` pixels in a few bytes: what a decompression bomb looks like."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda kind, data: (struct.pack(">I", len(data)) + kind + data  # noqa: E731
                                + struct.pack(">I", zlib.crc32(kind + data)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _break(root: Path, case: str) -> tuple[Path, str]:
    """Spoil a copy of the shapes folder at `root` as `case` says: the --data value and the error expected."""
    first = root / "circle" / "0.png"
    if case == "missing":
        return root / "nothing", f"{root / 'nothing'} does not exist"
    if case == "no class subfolders":
        for d in CLASSES:
            shutil.rmtree(root / d)
        (root / "readme.txt").write_text("")
        return root, f"{root} has no class subfolders"
    if case == "one class":
        shutil.rmtree(root / "square")
        shutil.rmtree(root / "triangle")
        return root, f"{root} has one class folder (circle); a classifier needs at least 2"
    if case == "a class without images":
        for p in (root / "square").glob("*.*g"):
            p.unlink()
        return root, f"{root / 'square'} has no images (.jpg, .jpeg, .png,"
    if case == "train and val differ":
        (root / "train").mkdir()
        for d in CLASSES:
            shutil.move(root / d, root / "train" / d)
        shutil.copytree(root / "train" / "circle", root / "val" / "circle")
        shutil.copytree(root / "train" / "square", root / "val" / "squares")
        return root, f"{root}: train/ and val/ have different classes (only in train/: square, triangle; only in " \
                     "val/: squares)"
    if case == "not an image":
        first.write_bytes(np.random.default_rng(0).bytes(300))
        detail = "UnidentifiedImageError"
    elif case == "truncated":  # its header reads; its pixels do not
        first = root / "circle" / "1.jpg"
        data = first.read_bytes()
        first.write_bytes(data[:data.index(b"\xff\xda") + 20])  # the header, and the scan's first bytes
        detail = "OSError: image file is truncated"
    elif case == "postscript named .png":  # Pillow alone opens it as EPS, which runs Ghostscript to decode
        first.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n0 0 moveto showpage\n")
        detail = "UnidentifiedImageError"
    elif case == "decompression bomb":  # 100M pixels: over Pillow's limit, where Pillow alone only warns
        first.write_bytes(_png_header(10_000, 10_000))
        detail = "DecompressionBombWarning"
    return root, f"{first} is not a readable image ({detail}"


@pytest.mark.parametrize("case", ["missing", "no class subfolders", "one class", "a class without images",
                                  "not an image", "truncated", "postscript named .png", "decompression bomb",
                                  "train and val differ"])
def test_a_bad_image_folder_is_one_line(case: str, designed: tuple[Path, str], shapes: Path, tmp_path: Path) -> None:
    data, expected = _break(Path(shutil.copytree(shapes, tmp_path / "shapes")), case)
    r = train(copy_design(designed[0], tmp_path), "--data", str(data), "--epochs", "1", cwd=tmp_path)
    assert one_error(r, 2).startswith(f"gptnet: error: {expected}"), r.stderr
    assert "Training on" not in r.stderr


def test_built_in_names_win_over_folders_and_a_path_means_a_folder(tiny: Path, shapes: Path, tmp_path: Path) -> None:
    shutil.copytree(shapes, tmp_path / "digits")
    design = copy_design(tiny, tmp_path)
    r = train(design, "--data", "digits", "--epochs", "1", cwd=tmp_path)
    assert r.returncode == 0 and "Training on digits: 1437 train / 360 test images, 10 classes" in r.stderr, r.stderr
    assert "note: --data digits is the built-in data set; write ./digits for the folder of that name" in r.stderr
    r = train(design, "--data", "./digits", "--epochs", "1", "--rebuild-head", cwd=tmp_path)
    assert r.returncode == 0 and "Training on ./digits (image folder:" in r.stderr, r.stderr


def test_without_a_terminal_an_epoch_prints_progress_lines(designed: tuple[Path, str], shapes: Path,
                                                          tmp_path: Path) -> None:
    design = copy_design(designed[0], tmp_path)
    r = train(design, "--data", str(shapes), "--epochs", "1", "--batch-size", "3", cwd=tmp_path,
              env=one_thread(GPTNET_PROGRESS_SECONDS="0"))  # every tenth of a phase, however fast it runs
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("epoch 1/1 train: ")]
    assert len(lines) == 9 and lines[0].startswith("epoch 1/1 train: 10% (1/10 batches), "), r.stderr
    assert all(" images/s, ETA " in line for line in lines)
    assert f"reading {shapes}: 11% (4/36 images)" in r.stderr


def test_progress_lines_come_every_tenth_and_30_s_and_at_least_every_5_minutes(monkeypatch) -> None:
    from gptnet.errors import UsageError
    from gptnet.train import progress

    clock = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])

    def lines(step_seconds: float, env: str | None) -> list[str]:
        if env is None:
            monkeypatch.delenv(progress.ENV, raising=False)
        else:
            monkeypatch.setenv(progress.ENV, env)
        said: list[str] = []
        with progress.Progress("epoch 1/1 train", 100, "batches", terminal=False, say=said.append) as bar:
            for _ in range(100):
                clock[0] += step_seconds
                bar.advance(64)
        return said

    assert [s.split(": ")[1].split(" (")[0] for s in lines(1, None)] == ["30%", "60%", "90%"]  # 30 s apart
    assert len(lines(1, "0")) == 9  # a tenth apart
    assert len(lines(0.01, None)) == 0  # a fast phase: its end line is enough
    slow = lines(400, None)  # a batch longer than five minutes: a line after each
    assert len(slow) == 99 and slow[0] == "epoch 1/1 train: 1% (1/100 batches), 0 images/s, ETA 11h00m"
    with pytest.raises(UsageError, match="GPTNET_PROGRESS_SECONDS must be a number of seconds"):
        lines(1, "soon")


def test_compare_names_the_design_row_after_its_model(designed: tuple[Path, str], shapes: Path,
                                                      tmp_path: Path) -> None:
    design = copy_design(designed[0], tmp_path)
    r = run_cli("compare", str(design), "--data", str(shapes), "--epochs", "1", "--device", "cpu", cwd=tmp_path,
                env=one_thread(), timeout=600)
    assert r.returncode == 0, r.stderr
    rows = [line.split(" | ")[0] for line in r.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    name = json.loads((design / "spec.json").read_text())["name"]
    assert rows == ["| model", f"| {name}", "| resnet18"] and name != design.name  # the model's name, not the folder's
    assert (design / "compare-resnet18" / "design" / "metrics.jsonl").is_file()


def test_design_data_errors_are_one_line_and_need_no_torch(shapes: Path, tmp_path: Path) -> None:
    r = run_cli("design", "--budget", "10M", "--target", "sd855", "--data", "nothing", "--yes", cwd=tmp_path)
    assert one_error(r, 2) == "gptnet: error: nothing does not exist"
    code = ("import sys; from pathlib import Path; from gptnet.design import Options, design; "
            f"design(Options(budget='10M', target='sd855', data=Path({str(shapes)!r}), out=Path('d'))); "
            "assert 'torch' not in sys.modules, 'design imported torch'")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "d" / "spec.json").read_text())["num_classes"] == 3


def test_a_photo_stored_sideways_is_read_upright(tmp_path: Path) -> None:
    """Phones store photos as the sensor saw them and an EXIF orientation saying how to turn them."""
    from gptnet.train.imagefolder import decode, proposed_input, scan

    stored = np.zeros((16, 32), dtype=np.uint8)
    stored[:, :16] = 255  # left half white: shown turned 90 degrees clockwise (orientation 6), the top half
    exif = Image.Exif()
    exif[0x0112] = 6
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        Image.fromarray(stored).save(tmp_path / name / "photo.jpg", exif=exif)
    assert proposed_input(scan(tmp_path)) == ((1, 32, 16), (32, 16), 2)
    upright = decode(tmp_path / "a" / "photo.jpg", 1, (32, 16)).astype(int)
    assert upright[:14].min() > 200 and upright[18:].max() < 50
