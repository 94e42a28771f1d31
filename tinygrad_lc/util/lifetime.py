"""Worker processes that end with the process that started them.

A sweep's local workers are separate processes; when the sweep process dies without
cleaning up (SIGKILL, the out-of-memory killer, a crash), nothing would tell them, and
they would train on for nobody while holding the caller's pipes (stdout, stderr) open.
:func:`exit_with_parent` makes a worker end with its parent:

- on Linux the kernel does it: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks for SIGKILL when
  the parent ends (called through ``ctypes``, no dependency). The request is checked right
  after it is made: if the parent died in between, no signal will ever come, so the worker
  exits at once;
- elsewhere (or when ``prctl`` fails) a daemon thread waits for the parent to go: it polls
  ``os.getppid()`` every half second, which changes when the parent dies and the process is
  handed to another one.

Killing is right for a sweep's worker: it holds no file of its own open for writing
(the sweep process writes ``trials.jsonl``; the shared data cache is written atomically and
its leftovers removed by the next writer).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

__all__ = ["exit_with_parent"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 0.5  # how often the fallback thread looks at the parent


def _kernel_watch() -> bool:
    """Ask Linux for SIGKILL when the parent ends; False when that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(1)  # the parent is gone: nothing of this process is wanted any more


def exit_with_parent(parent: int) -> None:
    """End this process when process ``parent`` (its parent, by pid) ends.

    Call it first thing in a worker process, with the pid the parent gave it
    (``os.getpid()`` in the parent). If the parent has already ended, this process exits
    now.
    """
    if os.getppid() != parent:
        os._exit(1)
    if _kernel_watch():
        if os.getppid() != parent:  # it ended just before the request: no signal will come
            os._exit(1)
        return
    threading.Thread(target=_watch, args=(parent,), name="tinygrad_lc-exit-with-parent",
                     daemon=True).start()
