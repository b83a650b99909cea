"""Writing outputs all at once: a file is written beside its destination under a temporary name, which then
replaces it, so a crash or Ctrl-C never leaves a half-written file. Files and folders get the user's umask, and a
path that cannot be written is one line naming it (a UsageError), not a traceback."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import UsageError

HINT = "choose a path in a folder you can write to"
NAME_IN_TEMP = 100  # characters of a name kept in its temporary name, which must fit in 255 too


def umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def file_in_the_way(path: Path) -> Path | None:
    """The file standing where `path` or one of its folders should be, if any (os.path's tests never raise, not
    even for a name too long)."""
    return next((p for p in (path, *path.parents) if os.path.exists(p) and not os.path.isdir(p)), None)


@contextmanager
def cannot_write(path: Path, hint: str = HINT) -> Iterator[None]:
    """Turn a file-system error in the block into one line naming `path` and what to do."""
    try:
        yield
    except OSError as e:
        blocker = file_in_the_way(path.parent)
        reason = f"{blocker} is a file, not a folder" if blocker else e.strerror or str(e)
        raise UsageError(f"cannot write {path}: {reason}", hint) from None


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp", hint: str = HINT) -> Iterator[Path]:
    """A temporary path beside `path` for the block to write; it replaces `path` only if the block succeeds.
    `suffix` keeps the extension for writers that read it (matplotlib); `hint` says what to do if `path` cannot
    be written."""
    with cannot_write(path, hint):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:NAME_IN_TEMP]}.", suffix=suffix)
        os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with cannot_write(path, hint):
            os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes it private; outputs are ordinary files
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str, hint: str = HINT) -> None:
    with atomic_path(path, hint=hint) as tmp:
        tmp.write_text(text, encoding="utf-8")


def check_writable(folder: Path) -> None:
    """Make `folder` and create (and drop) an unnamed file in it, so that a long command stops before its work, not
    after, when its output cannot be written: a read-only folder, or a path through a file."""
    if file_in_the_way(folder) is not None:
        raise UsageError(f"cannot write to {folder}: it, or a folder above it, is a file", "choose another --out")
    with cannot_write(folder, "choose another --out, or fix the folder's permissions"):
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
