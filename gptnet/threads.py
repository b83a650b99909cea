"""The CPU threads a command runs torch on (`--threads`). Torch's own default is one per core, which oversubscribes
a machine other work shares: threads waiting for a busy core hold up every step (on a loaded 2-core machine CNN-GPT
trained at 12 images/s on torch's 2 threads, and at 183 on one)."""

from __future__ import annotations

import os

from .errors import UsageError


def cores() -> int:
    """The cores this process may run on: its CPU affinity (a container's or taskset's share), where the OS has it."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def default_threads() -> int:
    """OMP_NUM_THREADS when it is set (torchrun sets 1 for each of its processes), else half the cores, leaving the
    rest to whatever else runs."""
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(env) if env.isdigit() and int(env) > 0 else max(1, cores() // 2)


def check_threads(threads: int | None) -> int:
    """`--threads` as given, or the default for None; fewer than one is refused."""
    if threads is None:
        return default_threads()
    if threads < 1:
        raise UsageError(f"--threads must be at least 1, not {threads}", "pass 1 or more, or leave --threads out "
                         "for the default (see --help)")
    return threads


def use_threads(threads: int | None) -> int:
    """Run this process's torch work on `threads` (checked as above) and return the count. Only the intra-op pool is
    set: the inter-op one serves TorchScript's fork, which gptnet never uses, and torch refuses to set it twice."""
    import torch

    n = check_threads(threads)
    torch.set_num_threads(n)
    return n
