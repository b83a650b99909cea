"""Checkpoints with everything a run needs to continue exactly: model, optimizer, scheduler, epoch, RNG states.
Written atomically (a temp file, then a rename), so a kill mid-write leaves the previous checkpoint intact.

A checkpoint is data, never code: it holds only tensors, numbers, strings, lists, tuples and dicts, and is read
with `torch.load(weights_only=True)`, which refuses anything else instead of running it."""

from __future__ import annotations

import pickle
import random
import textwrap
import warnings
from pathlib import Path
from typing import Any, Iterable

import torch

from ..errors import GptnetError
from ..output import atomic_path

HINT = "delete it to start over, or train without --resume"


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    try:
        import numpy as np

        name, keys, pos, has_gauss, gauss = np.random.get_state()
        state["numpy"] = (name, keys.tolist(), pos, has_gauss, gauss)  # a list: weights_only refuses ndarrays
    except ImportError:
        pass
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "numpy" in state:
        import numpy as np

        name, keys, *rest = state["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: Path, payload: dict[str, Any], root: Path | None = None) -> None:
    with atomic_path(path, root=root) as tmp:
        torch.save(payload, tmp)


def load(path: Path, keys: Iterable[str]) -> dict[str, Any]:
    """The checkpoint at `path`, which must be a dict with `keys`; anything else is one GptnetError naming it."""
    with open(path, "rb") as f:  # an unreadable path is the file system's error, not the checkpoint's
        try:
            with warnings.catch_warnings():  # torch warns about pickle protocols before refusing: one line only
                warnings.simplefilter("ignore")
                state = torch.load(f, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise GptnetError(f"{path} is corrupt, or holds objects other than tensors and numbers, which gptnet "
                              "does not load (they could run code)", HINT) from None
        except Exception as e:  # torch reports an empty or cut file as EOFError, OSError, RuntimeError...
            raise GptnetError(f"{path} is empty, truncated or corrupt ({type(e).__name__})", HINT) from None
    missing = [k for k in keys if k not in state] if isinstance(state, dict) else list(keys)
    if missing:
        raise GptnetError(f"{path} is not a gptnet training checkpoint (it lacks {', '.join(missing)})", HINT)
    return state


def mismatch(path: Path, e: Exception) -> GptnetError:
    """The error for a checkpoint that loads but does not fit the run (another model, a hand-edited file)."""
    detail = textwrap.shorten(str(e), 200, placeholder=" ...")  # torch's are many lines long
    return GptnetError(f"{path} does not fit this model and recipe: {detail}", HINT)
