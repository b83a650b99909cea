"""The worker processes `gptnet search` trains and scores its candidates in, one task per worker at a time.

Each worker is spawned (not forked: it starts clean, with its own single torch thread) and has a pipe of its own, so
the search knows which task each one runs. A worker that dies (the OOM killer, which a hostile proposal can provoke,
or a crash inside torch) takes only its own task: the search sees its pipe close, reports that task lost, starts a
new worker when there is work for it, and goes on. Every worker ends when the search does, from its first
instruction: Linux's parent-death signal (elsewhere a thread that watches the parent), set before the worker imports
anything heavier than this module (gptnet's search and torch take seconds), so this module imports only the
standard library and the set-up function comes down the pipe after."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator

DIED = "its worker process died (killed, e.g. out of memory)"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _end_with(parent: int) -> None:
    """End this process when `parent` does, even one killed with SIGKILL; at once if it already has. (Linux sends
    the signal when the thread that started the worker ends: Workers.map starts them in the search's own thread.)"""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    if os.getppid() != parent:  # it ended before the signal was set
        os._exit(1)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _serve(conn: Connection, parent: int) -> None:
    """A worker: end with the search and leave Ctrl-C to it, before anything else; then the set-up the search sends,
    and each task it sends until it closes the pipe."""
    _end_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        conn.recv()()  # the set-up
        while True:
            fn, task = conn.recv()
            try:
                reply = (True, fn(task))
            except Exception as e:  # noqa: BLE001 - raised again in the search, as a pool does
                reply = (False, e)
            conn.send(reply)
    except EOFError:  # the search closed the pipe
        return


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection


class Workers:
    """Up to `count` worker processes, each set up by `setup` (a module-level function), started when a task needs
    one and kept for the next."""

    def __init__(self, count: int, setup: Callable[[], None]) -> None:
        self.count, self.setup = count, setup
        self.started: list[_Worker] = []
        self.idle: list[_Worker] = []

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """(task, fn(task)) for each task as it finishes, at most `count` at once; (task, None) for a task whose
        worker died, as DIED says. What fn raises is raised here."""
        todo, running = list(tasks), {}
        while todo or running:
            while todo and len(running) < self.count:
                task = todo.pop(0)
                running[self._send(fn, task)] = task
            ready = wait([h for w in running for h in (w.conn, w.process.sentinel)])
            for worker in [w for w in running if w.conn in ready or w.process.sentinel in ready]:
                task = running.pop(worker)
                try:
                    ok, value = worker.conn.recv()
                except (EOFError, OSError):  # its pipe closed with no reply: the worker died
                    self._drop(worker)
                    yield task, None
                    continue
                self.idle.append(worker)
                if not ok:
                    raise value
                yield task, value

    def _send(self, fn: Callable[[Any], Any], task: Any) -> _Worker:
        """The worker now running `task`: an idle one, or a new one."""
        while self.idle:
            worker = self.idle.pop()
            try:
                worker.conn.send((fn, task))
                return worker
            except OSError:  # it died while idle
                self._drop(worker)
        worker = self._start()
        worker.conn.send((fn, task))
        return worker

    def _start(self) -> _Worker:
        """A new worker, sent its set-up."""
        context = multiprocessing.get_context("spawn")
        conn, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, os.getpid()), daemon=True)
        process.start()
        child.close()  # the worker's end, so the search sees the pipe close when the worker dies
        self.started.append(_Worker(process, conn))
        conn.send(self.setup)
        return self.started[-1]

    def _drop(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join()
        worker.conn.close()
        self.started.remove(worker)

    def close(self, interrupted: bool = False) -> None:
        """End every worker: an idle one when its pipe closes, a busy one (interrupted) at once."""
        for worker in self.started:
            if interrupted:
                worker.process.kill()
            worker.conn.close()
            worker.process.join()
        self.started, self.idle = [], []
