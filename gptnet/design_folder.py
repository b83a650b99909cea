"""A design's output folder. gptnet replaces only the files it wrote there and never touches anything else: a
trained model, an ONNX export, the user's notes stay. It knows its folders by a manifest, `.gptnet-design.json`,
holding the sha256 of each design file as written (folders from before the manifest: by model.py's docstring and
spec.json). A design file changed since gptnet wrote it is kept beside the new one as NAME.edited-TIMESTAMP."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from .errors import UsageError
from .output import NAME_IN_TEMP, atomic_path, cannot_write, file_in_the_way, refuse_links, umask, write_atomic
from .report import without_training
from .untrusted import one_line
from .verify import locate

MANIFEST = ".gptnet-design.json"
FORMAT = "gptnet-design/1"
SIGNATURE = ": a model designed with gptnet."  # the end of the first line of every model.py gptnet renders
HINT = "pass --out with another folder, or empty this one"
WRITE_HINT = "pass --out with a folder you can write to"
SHOWN = 8  # kept entries named in the summary line
READ = ("model.py", "spec.json", "report.md")  # what train, compare, export and profile read in a design folder


def fingerprint(name: str, data: bytes) -> str:
    """The sha256 of a design file, blind to what is not an edit: line endings (a git checkout may change them)
    and the Training section `gptnet train` adds to report.md."""
    data = data.replace(b"\r\n", b"\n")
    if name == "report.md":
        data = without_training(data.decode("utf-8", "replace")).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def manifest_json(files: dict[str, str], previous: dict[str, str] | None = None) -> str:
    """The manifest of `files`; `previous` holds the hashes of the versions they are replacing, while they are."""
    hashes = {name: fingerprint(name, text.encode("utf-8")) for name, text in files.items()}
    return json.dumps({"format": FORMAT, "files": hashes, **({"previous": previous} if previous else {})},
                      indent=2) + "\n"


def _read_manifest(path: Path) -> dict[str, set[str]]:
    """The hashes the manifest accepts as gptnet's, per file; none if it is unreadable (still gptnet's folder,
    but then no edit can be ruled out)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    accepted: dict[str, set[str]] = {}
    for key in ("files", "previous"):
        hashes = data.get(key) if isinstance(data, dict) else None
        for name, digest in (hashes.items() if isinstance(hashes, dict) else ()):
            if isinstance(digest, str):
                accepted.setdefault(name, set()).add(digest)
    return accepted


def _made_by_gptnet(folder: Path) -> bool:
    model_py, spec = folder / "model.py", folder / "spec.json"
    if not (model_py.is_file() and spec.is_file()):
        return False
    with open(model_py, encoding="utf-8", errors="replace") as f:
        return f.readline().rstrip().endswith(SIGNATURE)


def existing_design(out: Path) -> dict[str, set[str]] | None:
    """The hashes gptnet accepts as its own for each design file in `out` (none for an empty folder or one from
    before the manifest); None when `out` does not exist yet. A file, or a folder gptnet did not make, is
    refused."""
    with cannot_write(out, WRITE_HINT):
        if (blocker := file_in_the_way(out)) is not None:
            raise UsageError(f"{blocker} is a file, not a folder", "pass --out with a folder")
        if not out.is_dir():
            return None
        if (out / MANIFEST).is_file():
            return _read_manifest(out / MANIFEST)
        if not any(out.iterdir()) or _made_by_gptnet(out):
            return {}
    raise UsageError(f"{out}/ already holds files gptnet did not write", HINT)


def _current(path: Path) -> str | None:
    """The fingerprint of the design file at `path`; None for anything but a regular file (links are refused
    before)."""
    return fingerprint(path.name, path.read_bytes()) if path.is_file() else None


def _set_aside(path: Path, stamp: str) -> str:
    for n in itertools.count(1):
        backup = path.with_name(f"{path.name}.edited-{stamp}" + (f"-{n}" if n > 1 else ""))
        if not backup.exists() and not backup.is_symlink():
            path.rename(backup)
            return backup.name


def _listing(names: list[str], folder: Path) -> str:
    shown = [one_line(n) + "/" if (folder / n).is_dir() else one_line(n) for n in sorted(names)[:SHOWN]]
    return ", ".join(shown) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _create(out: Path, files: dict[str, str]) -> None:
    """A new folder appears whole or not at all: written as a hidden temporary folder, then renamed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name[:NAME_IN_TEMP]}.tmp-"))
    try:
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes it private; the output is an ordinary folder
        for name, text in files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _update(out: Path, files: dict[str, str], accepted: dict[str, set[str]], say: Callable[[str], None]) -> None:
    """Replace the design files in an existing folder, each whole; one changed since gptnet wrote it (neither
    a version gptnet recorded nor the new one) is renamed aside first."""
    for name in [MANIFEST, *files]:  # before anything is written, so that a refusal leaves the folder as it was
        refuse_links(out / name, out)
    before = set(os.listdir(out))
    current = {name: _current(out / name) for name in files if name in before}
    edited = [name for name, now in current.items()
              if now not in accepted.get(name, set()) | {fingerprint(name, files[name].encode("utf-8"))}]
    # until every file is replaced, either version of each is gptnet's: an interrupted run shows no false edit
    write_atomic(out / MANIFEST, manifest_json(files, {n: h for n, h in current.items() if n not in edited}),
                 hint=WRITE_HINT)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with ExitStack() as stack:
        # all written to temporary names first, renamed into place on leaving: the final manifest (entered
        # first) last
        tmps = {name: stack.enter_context(atomic_path(out / name, hint=WRITE_HINT)) for name in [MANIFEST, *files]}
        for name, text in {MANIFEST: manifest_json(files), **files}.items():
            tmps[name].write_text(text, encoding="utf-8")
        backups = {name: _set_aside(out / name, stamp) for name in edited}
    replaced = [name for name in files if name in before]
    if replaced:
        others = sorted(before - set(files) - {MANIFEST})
        kept = f" (kept: {_listing(others, out)})" if others else ""
        say(f"Replaced {', '.join(replaced)} in {out}/{kept}")
    for name, backup in backups.items():
        say(f"{name} had changed since gptnet wrote it: your version is kept as {out / backup}")


def locate_design(path: Path) -> tuple[Path, Path]:
    """The design folder and its model.py, from either, refusing a link among the design files read there: a folder
    someone sent could point them (and the report `gptnet train` rewrites) at files outside it. A model.py named
    directly is the user's choice."""
    folder, model_py = locate(path)
    for name in READ if Path(path).is_dir() else READ[1:]:
        refuse_links(folder / name, folder, "read")
    return folder, model_py


def write_design(out: Path, files: dict[str, str], say: Callable[[str], None] = lambda s: None) -> None:
    """Write a design's files into `out`: a new folder, an empty one, or one gptnet wrote before."""
    out = Path(out)
    accepted = existing_design(out)
    with cannot_write(out, WRITE_HINT):
        if accepted is None:
            _create(out, {**files, MANIFEST: manifest_json(files)})
        else:
            _update(out, files, accepted, say)
