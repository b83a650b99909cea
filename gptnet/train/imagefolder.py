"""The user's own images: a folder with one subfolder of images per class (torchvision's ImageFolder layout),
either split already (PATH/train/<class>/, PATH/val/<class>/) or not (PATH/<class>/, split here).

The images are untrusted input. Only files with an image extension are read, only by Pillow's decoders for those
formats (a `.png` that is really PostScript is refused, never handed to Ghostscript), with Pillow's
decompression-bomb limit kept and its warning treated as a refusal; hidden files (`.DS_Store`, macOS's `._x.jpg`)
are skipped, and so are symbolic links, to folders or files (a class folder `dog -> ~/Pictures` would train on
files outside the folder; the count of them is said). A file that does not read is one line naming it.

No torch here: `gptnet design --data` uses it, and design never imports torch."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from textwrap import shorten
from typing import Callable, Iterator

from ..errors import UsageError
from ..output import refuse_links
from ..units import plural
from ..untrusted import one_line

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")  # torchvision's
FORMATS = ("JPEG", "PNG", "BMP", "PPM", "TIFF", "WEBP")  # the Pillow decoders for them
SETS = ("train", "val")  # the subfolders of a folder split already
TEST_FRACTION = 0.2  # of each class, when the folder is not split already
MAX_SIDE = 224  # the largest input side `design --data` proposes; larger images are scaled down to it
LAYOUT_HINT = "put each class's images in a subfolder named after it (PATH/cat/1.jpg, PATH/dog/2.png), or in " \
              "PATH/train/<class>/ and PATH/val/<class>/"


@dataclass
class ImageSet:
    files: list[Path]
    labels: list[int]

    def subset(self, keep: list[bool]) -> "ImageSet":
        pairs = [(f, y) for f, y, k in zip(self.files, self.labels, keep) if k]
        return ImageSet([f for f, _ in pairs], [y for _, y in pairs])


@dataclass
class ImageFolder:
    root: Path
    classes: list[str]  # label i is classes[i]: the folder names, sorted
    train: ImageSet
    test: ImageSet | None  # None: not split already (see held_out())
    links: int = 0  # symbolic links skipped

    @property
    def skipped(self) -> str:
        """What the folder's summary line adds about the links skipped, if any."""
        return f"; skipped {plural(self.links, 'symbolic link')} (gptnet does not read through links)" \
            if self.links else ""

    @property
    def files(self) -> list[Path]:
        return self.train.files + (self.test.files if self.test else [])

    @property
    def layout(self) -> str:
        if self.test is not None:
            return f"its {SETS[0]}/ and {SETS[1]}/ sets"
        return f"a fixed stratified {100 - 100 * TEST_FRACTION:.0f}/{100 * TEST_FRACTION:.0f} split of each class"


def looks_like_path(value: str) -> bool:
    """Whether a --data value names a folder rather than a built-in data set."""
    return bool(value) and ("/" in value or os.sep in value or Path(value).is_dir())


def _visible(name: str) -> bool:
    return not name.startswith(".")


def _class_folders(folder: Path) -> tuple[list[str], int]:
    """The class folders' names, and how many links were skipped among them."""
    entries = [e for e in os.scandir(folder) if _visible(e.name)]
    return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False)), sum(e.is_symlink() for e in entries)


def _images_in(folder: Path) -> tuple[list[Path], int]:
    """The image files under one class folder, at any depth as ImageFolder reads them, in a fixed order; and how
    many links were skipped (os.walk lists links to folders without entering them)."""
    found, links = [], 0
    for top, dirs, files in os.walk(folder):
        linked = {n for n in dirs + files if _visible(n) and os.path.islink(os.path.join(top, n))}
        links += len(linked)
        dirs[:] = sorted(d for d in dirs if _visible(d) and d not in linked)
        found += [Path(top) / f for f in sorted(files) if _visible(f) and f not in linked
                  and f.lower().endswith(EXTENSIONS) and os.path.isfile(os.path.join(top, f))]
    return found, links


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Pillow's errors and warnings about one file, as one line naming it."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. palette transparency: noise, not a problem
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, DecompressionBomb*, zlib.error...
        raise UsageError(f"{path} is not a readable image ({type(e).__name__}: {e})",
                         "remove or replace it; gptnet reads JPEG, PNG, BMP, PPM/PGM, TIFF and WebP") from None


def open_image(path: Path):
    from PIL import Image

    return Image.open(path, formats=FORMATS)


def _header(path: Path) -> tuple[int, int, bool]:
    """(height, width, grayscale) from the file's header, without decoding its pixels."""
    from PIL import Image

    with _reading(path), open_image(path) as im:
        w, h = im.size
        # phones store photos sideways with an EXIF orientation; JPEG (and MPO, its multi-picture form) has it in
        # the header, other formats only after decoding, so only theirs is read here
        if im.format in ("JPEG", "MPO") and im.getexif().get(0x0112) in (5, 6, 7, 8):
            w, h = h, w
        return h, w, Image.getmodebase(im.mode) == "L"


def decode(path: Path, channels: int, size: tuple[int, int]):
    """The image upright, as `channels` (1 or 3) channels, scaled and centre-cropped to `size` (height, width):
    a uint8 array (H, W) or (H, W, 3)."""
    import numpy as np
    from PIL import Image, ImageOps

    h, w = size
    with _reading(path), open_image(path) as im:
        mode = "L" if channels == 1 else "RGB"
        side = max(w, h)  # large enough either way up, before the EXIF rotation
        im.draft(mode, (side, side))  # JPEG decodes at 1/2, 1/4 or 1/8 scale when that is still large enough
        im = ImageOps.exif_transpose(im).convert(mode)
        return np.array(ImageOps.fit(im, (w, h), Image.Resampling.BILINEAR))  # a copy torch may write to


def _read_set(folder: Path, classes: list[str]) -> tuple[ImageSet, int]:
    """The images of `classes` in `folder`, and how many links were skipped among them."""
    files, labels, links = [], [], 0
    for label, name in enumerate(classes):
        found, skipped = _images_in(folder / name)
        if not found:
            raise UsageError(f"{folder / name} has no images ({', '.join(EXTENSIONS)})",
                             "add images to it, or remove the folder")
        files += found
        labels += [label] * len(found)
        links += skipped
    return ImageSet(files, labels), links


def _classes(folder: Path) -> tuple[list[str], int]:
    classes, links = _class_folders(folder)
    if not classes:
        raise UsageError(f"{folder} has no class subfolders", LAYOUT_HINT)
    if len(classes) < 2:
        raise UsageError(f"{folder} has one class folder ({classes[0]}); a classifier needs at least 2",
                         "add a subfolder of images for each other class")
    return classes, links


def scan(root: Path) -> ImageFolder:
    """The folder's classes and image files; UsageError for what is wrong with its layout. Nothing is decoded."""
    if not root.exists():
        raise UsageError(f"{root} does not exist", f"--data takes a folder of class subfolders: {LAYOUT_HINT}")
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder", f"--data takes a folder of class subfolders: {LAYOUT_HINT}")
    train_dir, val_dir = (root / s for s in SETS)
    for d in (train_dir, val_dir):  # which layout the folder has depends on them: refused, not skipped
        refuse_links(d, root, "read")
    if not (train_dir.is_dir() and val_dir.is_dir()):
        classes, links = _classes(root)
        images, skipped = _read_set(root, classes)
        return ImageFolder(root, classes, images, None, links + skipped)
    (classes, train_links), (val_classes, val_links) = _classes(train_dir), _classes(val_dir)
    if classes != val_classes:
        only = [f"only in {d.name}/: {', '.join(sorted(set(a) - set(b)))}"
                for d, a, b in ((train_dir, classes, val_classes), (val_dir, val_classes, classes)) if set(a) - set(b)]
        raise UsageError(f"{root}: train/ and val/ have different classes ({'; '.join(only)})",
                         "give both the same class subfolders")
    (train, train_skipped), (val, val_skipped) = _read_set(train_dir, classes), _read_set(val_dir, classes)
    return ImageFolder(root, classes, train, val, train_links + val_links + train_skipped + val_skipped)


def held_out(images: int) -> int:
    """How many of a class's images the split keeps for testing: a fifth, at least one, never all."""
    return min(images - 1, max(1, round(images * TEST_FRACTION)))


def proposed_input(folder: ImageFolder) -> tuple[tuple[int, int, int], tuple[int, int], int]:
    """The input a design for this folder takes (1 channel if every image is grayscale, else 3, at the most common
    image size scaled down to MAX_SIDE when larger), that most common size and how many images have it. Reads
    every image's header."""
    headers = [_header(p) for p in folder.files]
    (h, w), count = Counter((h, w) for h, w, _ in headers).most_common(1)[0]
    scale = min(1.0, MAX_SIDE / max(h, w))
    channels = 1 if all(gray for _, _, gray in headers) else 3
    return (channels, max(1, round(h * scale)), max(1, round(w * scale))), (h, w), count


def shown_classes(classes: tuple[str, ...] | list[str], width: int) -> str:
    """Class folder names as gptnet prints and reports them: inert (they are file names someone else may have
    chosen), joined, cut to `width`."""
    return shorten(", ".join(map(one_line, classes)), width, placeholder=" ...")


def task_from_folder(root: Path, classes: int | None, input: str | None, say: Callable[[str], None],
                     ) -> tuple[int, str]:
    """`gptnet design --data`: the class count and input shape (`3x32x32`) to design for, the folder's unless
    given; says what it took, and where a given value disagrees with the folder."""
    from ..units import parse_input

    folder = scan(root)
    count = len(folder.classes)
    shape, (h, w), common = proposed_input(folder)
    proposed = "x".join(map(str, shape))
    why = f"{common} of its {len(folder.files)} images are {h}x{w}" + (", scaled down" if (h, w) != shape[1:] else "") \
        + ("; all grayscale" if shape[0] == 1 else "")
    say(f"From {root}: {count} classes ({shown_classes(folder.classes, 60)}), input "
        f"{proposed} ({why}{folder.skipped}).")
    if classes is not None and classes != count:
        say(f"--classes {classes} wins over the folder's {count} (training on it will need --rebuild-head).")
    if input is not None and parse_input(input) != shape:
        say(f"--input {input} wins over the folder's {proposed} (training scales its images to the input).")
    return (count if classes is None else classes), (proposed if input is None else input)
