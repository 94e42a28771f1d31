"""Test configuration: Hypothesis profiles `dev` (25 examples) and `ci` (100, print_blob),
chosen by $HYPOTHESIS_PROFILE (default dev); see tinygrad_lc.testing.register_profiles.

Process state every test must leave as it found it, compared after each test with the values
saved here when the session starts (not with values read after earlier tests, which may
already have leaked): the SIGINT and SIGTERM handlers, ``sys.unraisablehook`` and the
engine's modes (grad recording, anomaly mode, scope)."""

from __future__ import annotations

import signal
import sys

import pytest

import tinygrad_lc as tg
from tinygrad_lc import kernels
from tinygrad_lc.testing import register_profiles

register_profiles()

# Started in the background by a shell without job control (`make test &` in a script, nohup),
# the process begins with SIGINT ignored, and so does every process it starts: Ctrl-C tests of
# child processes could not pass, and a test that restores Python's own handler would look
# like a leak. Python started in a terminal installs its handler; do the same here.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def process_state() -> dict:
    """What a test may change for a while but must restore."""
    return {
        "SIGINT handler": signal.getsignal(signal.SIGINT),
        "SIGTERM handler": signal.getsignal(signal.SIGTERM),
        "sys.unraisablehook": sys.unraisablehook,
        "grad enabled": tg.is_grad_enabled(),
        "anomaly mode": tg.is_anomaly_enabled(),
        "scope": tg.current_scope(),
        "kernel mode": kernels.get_mode(),
    }


@pytest.fixture(scope="session")
def session_start_state() -> dict:
    """The process state as the session started, once pytest's own plugins are in place
    (see ``process_state``)."""
    return process_state()


@pytest.fixture(autouse=True)
def _restores_process_state(session_start_state):
    yield
    changed = {k: (session_start_state[k], v) for k, v in process_state().items()
               if v != session_start_state[k]}
    assert not changed, f"the test left process state changed (session start, now): {changed}"
