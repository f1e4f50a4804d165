"""Worker processes for the build: how many, and how they are started.

Rendering Markdown and analysing text are pure Python, so a build uses processes, not
threads, to use more than one CPU. They are started by a fork server: forking the calling
process itself is unsafe when it runs threads (a web server, a test's live server), and
starting each worker from scratch would import everything again per worker.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

# Below this many items per process, starting the processes costs more than it saves.
MIN_PER_PROCESS = 150

_Arg = TypeVar("_Arg")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(requested: int, jobs: int) -> int:
    """How many processes to use for `jobs` items: `requested` (0: one per CPU), fewer for small jobs;
    1 means do the work in this process."""
    wanted = requested if requested > 0 else available_cpus()
    return max(1, min(wanted, jobs // MIN_PER_PROCESS))


def context() -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context("forkserver")


def process_pool(processes: int, initializer: Callable[[_Arg], object], initarg: _Arg) -> ProcessPoolExecutor:
    """A pool of `processes` workers started by the fork server; each runs `initializer(initarg)` first."""
    return ProcessPoolExecutor(processes, mp_context=context(), initializer=initializer, initargs=(initarg,))
