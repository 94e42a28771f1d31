"""Tests of tinygrad_lc/interrupts.py: SIGINT/SIGTERM as Interrupted, held back during saves.

The signals are real (``signal.raise_signal`` in this process); the command-line behaviour
(a subprocess stopped by SIGINT or SIGTERM) is tested in tests/cli/test_cli.py.
"""

from __future__ import annotations

import signal
import sys
import threading

import numpy as np
import pytest

from tinygrad_lc.models import training
from tinygrad_lc.models.training import TrainConfig, Trainer
from tinygrad_lc.util import interrupts
from tinygrad_lc.util.checkpoint import load_checkpoint
from tinygrad_lc.util.interrupts import Interrupted, deferred, stop_on_signals


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_block_at_once(signum, code, session_start_state):
    before = {s: session_start_state[f"{s.name} handler"] for s in interrupts.SIGNALS}
    reached = []
    with pytest.raises(Interrupted) as info, stop_on_signals():
        signal.raise_signal(signum)
        reached.append("after the signal")
    assert reached == [] and info.value.signum == signum and info.value.exit_code == code
    assert isinstance(info.value, KeyboardInterrupt)  # every Ctrl-C clean-up applies
    assert {s: signal.getsignal(s) for s in interrupts.SIGNALS} == before  # restored


def test_a_first_signal_in_a_deferred_block_waits_for_its_end():
    done = []
    with pytest.raises(Interrupted) as info, stop_on_signals():
        with deferred():
            signal.raise_signal(signal.SIGTERM)
            done.append("the block finished")
        done.append("not reached")
    assert done == ["the block finished"] and info.value.signum == signal.SIGTERM


def test_a_second_signal_in_a_deferred_block_stops_it_at_once():
    done = []
    with pytest.raises(Interrupted), stop_on_signals(), deferred():
        signal.raise_signal(signal.SIGINT)
        done.append("held back")
        signal.raise_signal(signal.SIGINT)
        done.append("not reached")
    assert done == ["held back"]


def test_outside_the_main_thread_both_are_no_ops():
    errors = []

    def work():
        try:
            with stop_on_signals(), deferred():
                pass
        except Exception as exc:  # e.g. signal.signal refusing to run in a thread
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []


def test_a_signal_during_a_checkpoint_save_lets_it_finish(tmp_path, monkeypatch):
    real_save = training.save_checkpoint

    def save_and_get_stopped(path, state):
        signal.raise_signal(signal.SIGTERM)  # arrives while the file is being written
        return real_save(path, state)

    monkeypatch.setattr(training, "save_checkpoint", save_and_get_stopped)
    data = training.load_dataset("blobs")
    trainer = Trainer(TrainConfig.for_dataset("blobs", iters=30), 3, 3)
    with pytest.raises(Interrupted), stop_on_signals():
        trainer.train(data.X_train, data.y_train, checkpoint=tmp_path / "c.npz", save_every=10,
                      progress=False)
    # the first save completed, then the run stopped
    assert trainer.step == 10 and trainer.saved_step == 10
    saved = load_checkpoint(tmp_path / "c.npz")
    assert saved["model"]["step_count"] == 10
    np.testing.assert_array_equal(saved["model"]["W"], trainer.model.W.data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]  # no temporary file


class _FreedWhileSignalled:
    """An object whose finalizer gets the signal: Python runs the handler inside ``__del__``,
    as it does for the ``__del__`` of every compiled training step, and there it can only
    print the exception ("Exception ignored in") and drop it."""

    def __init__(self, signum):
        self.signum = signum

    def __del__(self):
        signal.raise_signal(self.signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_handled_inside_a_finalizer_still_stops_the_block(signum, capsys):
    hook = sys.unraisablehook
    reached = []
    with pytest.raises(Interrupted) as info, stop_on_signals():
        _FreedWhileSignalled(signum)  # freed at once: the handler runs in its __del__
        reached.append("went on after the signal")
    assert reached == [] and info.value.signum == signum
    assert capsys.readouterr().err == ""  # no "Exception ignored in ..." traceback
    assert sys.unraisablehook is hook and sys.getprofile() is None  # both restored


def test_a_signal_handled_inside_a_finalizer_in_a_deferred_block_waits_for_its_end():
    done = []
    with pytest.raises(Interrupted) as info, stop_on_signals():
        with deferred():
            _FreedWhileSignalled(signal.SIGTERM)
            done.append("the block finished")
        done.append("not reached")
    assert done == ["the block finished"] and info.value.signum == signal.SIGTERM


def test_other_exceptions_in_finalizers_still_reach_the_previous_hook(monkeypatch):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(type(u.exc_value)))

    class Failing:
        def __del__(self):
            raise ValueError("in a finalizer")

    with stop_on_signals():
        Failing()
    assert seen == [ValueError]
