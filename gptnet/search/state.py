"""The search folder's resumable state, `state.json`: the settings a search was started with and every measurement,
keyed by the candidate's structural hash. It is written atomically after each measured candidate, so a search
killed at any moment (even with SIGKILL) has lost at most the trainings in flight.

Resuming runs the search again from its start: the proposer proposes the same candidates (the offline one from
its seed, the LLM one from the recorded conversation), and each one measured before comes from here instead of
being trained again. So a resumed search ends with the leaderboard an uninterrupted one would have."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from ..errors import UsageError
from ..output import check_writable, file_in_the_way, refuse_links, write_atomic
from .proxy import Measured

FORMAT = "gptnet-search-state/1"
NAME = "state.json"
# settings a resumed search may change: they decide how far it goes and which candidate wins, not what is measured
FREE = {"trials", "workers", "prefer", "time_limit"}
# settings added since, with the value every search before them measured by
ADDED = {"proxy_seeds": 1, "threads": 1}


class State(BaseModel):
    format: str = FORMAT
    settings: dict[str, Any] = Field(description="what the search was started with")
    measurements: dict[str, Measured] = Field(default_factory=dict, description="by structural hash")
    finished: bool = False

    def save(self, folder: Path) -> None:
        write_atomic(folder / NAME, self.model_dump_json(indent=1) + "\n")


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = (set(old) | set(new)) - FREE
    return [f"{k} {old.get(k)} (now {new.get(k)})" for k in sorted(keys) if old.get(k) != new.get(k)]


def open_state(folder: Path, settings: dict[str, Any], resume: bool) -> State:
    """The state to continue (with `resume`) or a new one; refuses, before any work, a folder that holds something
    else, a search run with other settings, or nothing to resume."""
    path = folder / NAME
    if (blocker := file_in_the_way(folder)) is not None:
        raise UsageError(f"{blocker} is a file, not a folder", "pass --out with a folder")
    if resume:
        # a search folder is gptnet's alone: a link anywhere in one someone sent would have its state, candidates
        # or winner read from, or written to, another folder
        for top, dirs, files in os.walk(folder):  # does not follow links to folders
            for name in sorted(dirs + files):
                refuse_links(Path(top) / name, Path(top), "read")
        if not path.is_file():
            raise UsageError(f"nothing to resume: {path} does not exist", "start the search without --resume")
        try:
            state = State.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, ValidationError) as e:
            raise UsageError(f"{path} is not a search state ({type(e).__name__})",
                             "start the search again with another --out") from None
        state.settings = {**ADDED, **state.settings}
        # a setting its state lacks is one that gptnet did not have, so it measured otherwise (e.g. proxy_on: the
        # proxy measured on the test set): no option of this gptnet can resume it
        if missing := sorted(set(settings) - set(state.settings) - FREE):
            raise UsageError(f"the search in {folder} was made by an older gptnet, which measured without "
                             f"{', '.join(missing)}", "start it again with another --out")
        changed = _differences(state.settings, settings)
        if changed:
            raise UsageError(f"the search in {folder} was started with other settings: {'; '.join(changed)}",
                             "resume with the options it was started with, or start another --out")
        state.settings = settings
        return state
    if path.is_file():
        raise UsageError(f"{folder}/ holds a search already", "pass --resume to continue it, or --out with another "
                         "folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise UsageError(f"{folder}/ already holds files gptnet did not write", "pass --out with another folder")
    check_writable(folder)
    return State(settings=settings)
