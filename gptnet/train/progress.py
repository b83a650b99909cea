"""How far a long step (an epoch's train or test phase, reading an image folder, int8 calibration, tracing the
published networks) has got. In a terminal, a rich bar
on stderr. Elsewhere (a log file, CI, nohup) a line now and then, so that a slow epoch is never silent and a fast
one does not flood the log: a line once a tenth more of the step is done and `GPTNET_PROGRESS_SECONDS` (30) have
passed since the last one, and at least every five minutes, which CI systems that kill a silent job allow."""

from __future__ import annotations

import os
import time
from typing import Callable

from ..errors import UsageError

ENV = "GPTNET_PROGRESS_SECONDS"
QUIET_AT_MOST = 300.0  # seconds


def _interval() -> float:
    text = os.environ.get(ENV, "30")
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        raise UsageError(f"{ENV} must be a number of seconds, got {text!r}", f"e.g. {ENV}=30, or unset it")
    return seconds


def duration(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Progress:
    """Progress over `total` steps of `unit` (batches, images); `say` None shows nothing (ranks other than 0).
    `images` False: the steps are not images and carry none (traced networks), so no images/s is said."""

    def __init__(self, label: str, total: int, unit: str, terminal: bool, say: Callable[[str], None] | None,
                 images: bool = True) -> None:
        self.label, self.total, self.unit, self.say, self.counts_images = label, total, unit, say, images
        self.bar = None
        if say is not None and terminal:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TimeRemainingColumn

            self.bar = Bar("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                           TimeRemainingColumn(), transient=True, console=Console(stderr=True))
            self.task = self.bar.add_task(label, total=total)
        self.every = _interval() if say is not None and not terminal else None
        self.done = self.images = self.last_done = 0
        self.start = self.last = time.perf_counter()

    def __enter__(self) -> "Progress":
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, images: int = 1) -> None:
        self.done += 1
        self.images += images
        if self.bar is not None:
            self.bar.advance(self.task)
        if self.every is None or self.done >= self.total:  # the end of a step has its own line
            return
        now = time.perf_counter()
        quiet = now - self.last
        if quiet >= QUIET_AT_MOST or (quiet >= self.every and (self.done - self.last_done) * 10 >= self.total):
            self.last, self.last_done = now, self.done
            elapsed = max(now - self.start, 1e-9)
            eta = elapsed / self.done * (self.total - self.done)
            rate = f"{self.images / elapsed:.0f} images/s, " if self.counts_images else ""
            self.say(f"{self.label}: {100 * self.done // self.total}% ({self.done}/{self.total} {self.unit}), "
                     f"{rate}ETA {duration(eta)}")
