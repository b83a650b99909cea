"""Writing outputs all at once: a file or a design's folder is written beside its destination under a temporary
name, which then replaces the old one, so a crash or Ctrl-C never leaves a half-written file or folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import UsageError


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside `path` for the block to write; it replaces `path` only if the block succeeds.
    `suffix` keeps the extension for writers that read it (matplotlib)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def check_writable(folder: Path) -> None:
    """Make `folder` and create (and drop) an unnamed file in it, so that a long command stops before its work, not
    after, when its output cannot be written: a read-only folder, or a path through a file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except (FileExistsError, NotADirectoryError):  # what mkdir says when a file is where a folder must be
        raise UsageError(f"cannot write to {folder}: it, or a folder above it, is a file",
                         "choose another --out") from None
    except OSError as e:
        raise UsageError(f"cannot write to {folder}: {e.strerror or e}",
                         "choose another --out, or fix the folder's permissions") from None


def write_folder(out: Path, files: dict[str, str]) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
