"""Checkpoints with everything a run needs to continue exactly: model, optimizer, scheduler, epoch, RNG states.
Written atomically (a temp file, then a rename), so a kill mid-write leaves the previous checkpoint intact."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from ..output import atomic_path


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    try:
        import numpy as np

        state["numpy"] = np.random.get_state()
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

        np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load(path: Path) -> dict[str, Any]:
    # our own files, holding RNG states and config dicts as well as tensors
    return torch.load(path, map_location="cpu", weights_only=False)
