"""Trial functions for the sweep tests that misbehave on purpose, importable by the spawned
worker processes (they import this module by name, as the tests do)."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

from tinygrad_lc.sweep.trial import run_trial

MARKS = "TINYGRAD_LC_TEST_MARKS"  # a folder: one file per trial whose worker died once


def die(task):
    """Kill the worker process (SIGKILL, as the OOM killer would) whenever trial 1 starts."""
    if task.index == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_trial(task)


def die_once(task):
    """Kill the worker process the first time trial 1 starts; run it normally afterwards."""
    mark = Path(os.environ[MARKS]) / f"died-{task.index}"
    if task.index == 1 and not mark.exists():
        mark.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return run_trial(task)


def fail_in_training(task):
    """Trial 0 trains with a batch size the trainer refuses (past the sweep's checks, as a
    setting they do not know would be): the trial records the error, the sweep goes on."""
    if task.index == 0:
        task = dataclasses.replace(task, config={**task.config, "batch_size": 0})
    return run_trial(task)


def hold_first_start(task):
    """The first start of trial 1 writes ``started-1`` (this process's pid) in the marks
    folder, then waits until a file ``release`` appears there (the test kills its worker in
    the meantime); every other start runs the trial at once."""
    marks = Path(os.environ[MARKS])
    mark = marks / f"started-{task.index}"
    if task.index == 1 and not mark.exists():
        part = marks / f"started-{task.index}.part"
        part.write_text(str(os.getpid()))
        part.replace(mark)  # whole when the test sees it
        while not (marks / "release").exists():
            time.sleep(0.05)  # polls for the file; a killed worker never gets past here
    return run_trial(task)
