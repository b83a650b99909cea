"""Writing outputs all at once: a file is written beside its destination under a temporary name, which then
replaces it, so a crash or Ctrl-C never leaves a half-written file. Files and folders get the user's umask, and a
path that cannot be written is one line naming it (a UsageError), not a traceback.

Nothing is written or read through a symbolic link below the folder the user named (`root`): a folder someone
sent (a design folder, a search to resume) could otherwise make gptnet rewrite or read files outside it. A link
the user named themselves (`--out ~/runs/x` being a link) is their choice and is followed."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import UsageError

HINT = "choose a path in a folder you can write to"
LINK_HINTS = {"write": "remove the link, or choose another folder",
              "read": "remove the link, or put a copy of what it points to in its place"}
NAME_IN_TEMP = 100  # characters of a name kept in its temporary name, which must fit in 255 too


def umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask


def file_in_the_way(path: Path) -> Path | None:
    """The file standing where `path` or one of its folders should be, if any (os.path's tests never raise, not
    even for a name too long)."""
    return next((p for p in (path, *path.parents) if os.path.exists(p) and not os.path.isdir(p)), None)


def refuse_links(path: Path, root: Path | None = None, verb: str = "write") -> None:
    """Refuse (one line) `path` if it, or a folder between `root` and it, is a symbolic link; `root` itself is not
    looked at (None: `path`'s folder, so only the file is)."""
    root = path.parent if root is None else root
    step = root
    for part in path.relative_to(root).parts:
        step = step / part
        if os.path.islink(step):
            where = "it" if step == path else str(step)
            raise UsageError(f"cannot {verb} {path}: {where} is a symbolic link (gptnet does not {verb} through "
                             "links)", LINK_HINTS[verb])


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
def atomic_path(path: Path, suffix: str = ".tmp", hint: str = HINT, root: Path | None = None) -> Iterator[Path]:
    """A temporary path beside `path` for the block to write; it replaces `path` only if the block succeeds.
    `suffix` keeps the extension for writers that read it (matplotlib); `hint` says what to do if `path` cannot
    be written; `root` is the folder the user named, below which no link is written through (see refuse_links)."""
    refuse_links(path, root)
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


def write_atomic(path: Path, text: str, hint: str = HINT, root: Path | None = None) -> None:
    with atomic_path(path, hint=hint, root=root) as tmp:
        tmp.write_text(text, encoding="utf-8")


def check_writable(folder: Path, root: Path | None = None, files: tuple[str, ...] = ()) -> None:
    """Make `folder` and create (and drop) an unnamed file in it, so that a long command stops before its work, not
    after, when its output cannot be written: a read-only folder, a path through a file, or a link between `root`
    (the folder the user named; None: `folder` is) and `folder` or one of the `files` the command writes last."""
    for path in (folder, *(folder / name for name in files)):
        refuse_links(path, folder if root is None else root)
    if file_in_the_way(folder) is not None:
        raise UsageError(f"cannot write to {folder}: it, or a folder above it, is a file", "choose another --out")
    with cannot_write(folder, "choose another --out, or fix the folder's permissions"):
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
