"""The locked versions gptnet is tested with, and the check that they still match pyproject.toml.

    pip install uv && python scripts/lock.py            # relock both files after changing a dependency
    python scripts/lock.py --check                      # exit 1, with the line above, when a lock is stale

Two locks, because LiteRT's converter pins what the core must not be held to (pyproject.toml's `tflite` extra):
requirements/test.txt serves the main environment (`pip install -c requirements/test.txt -e ".[test]"`, and the
plain `-e .` install, which takes the subset it needs), requirements/litert.txt the LiteRT one
(scripts/litert-env.sh). Both are resolved by uv for every platform and Python gptnet supports (`--universal`), and
each records a hash of the dependency tables it was made from: `--check` needs no network."""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# torch and torchvision: the releases this project's reference machine holds on disk (pip takes them from there in a
# minute), pinned so that installing from the lock never downloads a torch. backports.strenum (ai-edge-litert's):
# 1.3 declares Python < 3.11, an upper bound uv's universal resolution does not split on
PINS = ["torch==2.14.1", "torchvision==0.29.1", "backports.strenum<1.3"]
LOCKS = {"requirements/test.txt": ["test"], "requirements/litert.txt": ["train", "tflite"]}
RELOCK = "pip install uv && python scripts/lock.py"


def fingerprint(root: Path) -> str:
    """sha256 of what a lock is resolved from: requires-python, the dependencies, the extras, and PINS."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    tables = {k: project.get(k) for k in ("requires-python", "dependencies", "optional-dependencies")}
    return hashlib.sha256(json.dumps([tables, PINS], sort_keys=True).encode()).hexdigest()[:16]


def header(extras: list[str], digest: str) -> str:
    return (f"# Locked by `{RELOCK}` (uv pip compile --universal) from pyproject.toml's dependencies and extras\n"
            f"# {', '.join(extras)}: do not edit. Use it as pip constraints: pip install -c THIS_FILE ...\n"
            f"# pyproject fingerprint: {digest}\n")


def stale(root: Path) -> list[str]:
    """The locks that are missing or were made from other dependency tables than pyproject.toml's."""
    digest, out = fingerprint(root), []
    for name in LOCKS:
        path = root / name
        if not path.is_file() or f"# pyproject fingerprint: {digest}\n" not in path.read_text(encoding="utf-8"):
            out.append(name)
    return out


def lock(root: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        sys.exit(f"lock: uv is not installed; run: {RELOCK}")
    digest = fingerprint(root)
    pins = root / "requirements" / "pins.txt"
    pins.parent.mkdir(exist_ok=True)
    pins.write_text("\n".join(PINS) + "\n")
    try:
        for name, extras in LOCKS.items():
            body = subprocess.run(
                [uv, "pip", "compile", "pyproject.toml", *[f"--extra={e}" for e in extras], "-c", str(pins),
                 "--universal", "--python-version", "3.10", "--no-header", "--quiet"],
                cwd=root, check=True, capture_output=True, text=True).stdout
            (root / name).write_text(header(extras, digest) + body, encoding="utf-8")
            print(f"wrote {name}")
    finally:
        pins.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only say whether the locks match pyproject.toml")
    ap.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.check:
        lock(args.root)
        return
    bad = stale(args.root)
    if bad:
        sys.exit(f"lock: {', '.join(bad)} out of date with pyproject.toml's dependencies; relock: {RELOCK}")
    print(f"lock: {', '.join(LOCKS)} match pyproject.toml")


if __name__ == "__main__":
    main()
