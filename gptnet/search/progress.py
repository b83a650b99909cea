"""A search's progress: in a terminal a bar with the best candidate so far and an ETA; otherwise (a log, CI) one
plain line per measured candidate with the same figures."""

from __future__ import annotations

import time
from typing import Callable

from ..limits import SHOWN_LINE
from ..train.progress import duration
from ..units import format_count
from ..untrusted import one_line
from .leaderboard import Candidate


def describe(c: Candidate, backend: str) -> str:
    if c.accuracy is None:
        return f"{c.hash} {c.origin}: {c.dropped}"
    return (f"{c.hash} {c.origin}: acc {c.accuracy:.2f}%, {backend} {c.latency_ms:.3f} ms, "
            f"{format_count(c.params)} params, {c.train_seconds:.1f} s")


class Progress:
    def __init__(self, total: int, backend: str, bar: bool, say: Callable[[str], None]) -> None:
        self.total, self.backend, self.say = total, backend, say
        self.done = self.trained = 0
        self.started = time.monotonic()
        self.bar = None
        if bar:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TimeRemainingColumn

            self.bar = Bar("search", BarColumn(), MofNCompleteColumn(), "{task.description}",
                           "ETA", TimeRemainingColumn(), transient=True, console=Console(stderr=True))
            self.task = self.bar.add_task("", total=total)
            self.bar.start()

    def measured(self, c: Candidate, best: Candidate | None, cached: bool) -> None:
        """One candidate measured (or taken from the state of an interrupted run)."""
        self.done += 1
        self.trained += not cached
        top = f"best {best.accuracy:.2f}% ({best.hash}, {best.latency_ms:.3f} ms)" if best else "best: none yet"
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done, description=top)
            if cached:
                return
            self.bar.console.print(f"[{self.done}/{self.total}] {describe(c, self.backend)}", markup=False,
                                   highlight=False)
            return
        left = self.total - self.done
        per = (time.monotonic() - self.started) / self.trained if self.trained else 0.0
        eta = f"; ETA {duration(per * left)}" if self.trained and left else ""
        self.say(f"[{self.done}/{self.total}] {describe(c, self.backend)}{' (measured before)' if cached else ''}; "
                 f"{top}{eta}")

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(one_line(text, SHOWN_LINE), markup=False, highlight=False)
        else:
            self.say(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
