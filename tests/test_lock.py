"""The locked versions: requirements/*.txt match pyproject.toml (a bound changed without relocking fails, naming the
command that relocks), and the environment the suite runs in is the one the lock describes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from conftest import ROOT

pytest.importorskip("tomllib", reason="scripts/lock.py reads pyproject.toml with tomllib (Python 3.11+)")


def check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "lock.py"), "--check", "--root", str(root)],
                          capture_output=True, text=True, timeout=60)


def test_the_locks_match_pyproject() -> None:
    r = check(ROOT)
    assert r.returncode == 0, r.stderr
    assert "requirements/test.txt, requirements/litert.txt match pyproject.toml" in r.stdout


def test_a_bound_changed_without_relocking_fails_with_the_relock_command(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    pyproject = (ROOT / "pyproject.toml").read_text()
    changed = re.sub(r'"openai>=([\d.]+),<4"', r'"openai>=\1,<3"', pyproject)
    assert changed != pyproject
    (tmp_path / "pyproject.toml").write_text(changed)
    r = check(tmp_path)
    assert r.returncode == 1
    assert "requirements/test.txt, requirements/litert.txt out of date with pyproject.toml's dependencies; " \
           "relock: pip install uv && python scripts/lock.py" in r.stderr
    (tmp_path / "pyproject.toml").write_text(pyproject)  # the same tables again: current
    assert check(tmp_path).returncode == 0
    (tmp_path / "requirements" / "litert.txt").unlink()
    assert "requirements/litert.txt out of date" in check(tmp_path).stderr


def test_the_suite_runs_on_the_locked_versions() -> None:
    # every locked package that applies to this Python and is installed here has the locked version: CI and the
    # README install with `-c requirements/test.txt`
    pins = [Requirement(line.split(" #")[0]) for line in (ROOT / "requirements" / "test.txt").read_text().splitlines()
            if line and not line.startswith((" ", "#"))]
    checked, off = 0, []
    for pin in pins:
        if pin.marker is not None and not pin.marker.evaluate():
            continue
        try:
            have = metadata.version(pin.name)
        except metadata.PackageNotFoundError:
            continue
        checked += 1
        if not pin.specifier.contains(have.split("+")[0], prereleases=True):
            off.append(f"{pin.name} {have} (locked {pin.specifier})")
    assert checked > 50 and not off, off
