"""Where LiteRT work runs. Its converter (litert-torch) pins torch < 2.15, pydantic < 2.12 and typing-extensions < 4.13,
which the core must not be held to, so it lives in an environment of its own (scripts/litert-env.sh); a command that
needs it and finds it missing here runs itself again there, as a subprocess, with the same arguments.

The environment is the Python named by GPTNET_LITERT_PYTHON, else `.venv-litert` of the clone gptnet runs from."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from .errors import UsageError

VARIABLE = "GPTNET_LITERT_PYTHON"
CHILD = "GPTNET_LITERT_CHILD"  # set in the subprocess: it runs the command itself or fails, never hands it on again
CLONE_SETUP = "bash scripts/litert-env.sh in a clone of gptnet"
SETUP = f"{CLONE_SETUP}, or point {VARIABLE} at a Python with gptnet[train,tflite] installed"


def here(module: str) -> bool:
    """Whether this interpreter can import `module` (without importing it: the converter takes seconds to load)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses the name: as absent as not found
        return False


def python() -> Path | None:
    """The LiteRT environment's interpreter, or None when there is none."""
    named = os.environ.get(VARIABLE)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise UsageError(f"{VARIABLE} is {named}, which is not a file", f"set it to a Python executable, or unset "
                             f"it and run {CLONE_SETUP}")
        return path
    clone = Path(__file__).resolve().parents[1]
    found = clone / ".venv-litert" / "bin" / "python"
    return found if (clone / "pyproject.toml").is_file() and found.is_file() else None


def run_there(module: str, args: list[str]) -> int:
    """Run `gptnet ARGS` in the LiteRT environment, its output straight to ours; its exit code. Raises UsageError
    with the setup hint when `module` is missing here and there is no environment to go to."""
    if os.environ.get(CHILD):
        raise UsageError(f"the LiteRT environment ({sys.executable}) cannot import {module}", f"recreate it: {SETUP}")
    target = python()
    if target is None:
        raise UsageError(f"this command needs LiteRT ({module}), which runs in an environment of its own", SETUP)
    env = {**os.environ, CHILD: "1"}
    return subprocess.run([str(target), "-m", "gptnet", *args], env=env).returncode
