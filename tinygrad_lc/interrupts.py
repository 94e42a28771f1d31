"""Stop a long run on SIGINT (Ctrl-C) or SIGTERM, but never half-way through writing a file.

``stop_on_signals()`` turns both signals into :class:`Interrupted`, a ``KeyboardInterrupt``
(so every ``finally`` and ``except BaseException`` clean-up runs as for Ctrl-C) that knows
which signal came. ``deferred()`` marks a block, such as writing a checkpoint, that a first
signal must not cut: the signal takes effect as soon as the block ends (a second one at once).
Outside ``stop_on_signals()``, and in threads other than the main one (where Python runs
signal handlers), ``deferred()`` does nothing and Python's usual KeyboardInterrupt applies.

>>> try:
...     with stop_on_signals(), deferred():
...         signal.raise_signal(signal.SIGTERM)  # held back until the block ends
...         print("the save finished")
... except Interrupted as exc:
...     print(f"then stopped by {exc}, exit code {exc.exit_code}")
the save finished
then stopped by SIGTERM, exit code 143
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["Interrupted", "stop_on_signals", "deferred"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``exit_code`` is the shell's 128 + its number (130, 143)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class _State:
    installed = False  # our handler is in place (set and read in the main thread only)
    depth = 0  # open deferred() blocks
    pending: int | None = None  # the signal held back by them


_state = _State()


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _handler(signum: int, frame: object) -> None:
    if _state.depth and _state.pending is None:
        _state.pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise :class:`Interrupted` on SIGINT and SIGTERM inside the block (main thread only);
    the previous handlers are restored after it."""
    if not _in_main_thread() or _state.installed:
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    _state.installed = True
    try:
        yield
    finally:
        _state.installed, _state.pending = False, None
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold back a first SIGINT or SIGTERM until the block ends, however it ends."""
    if not (_in_main_thread() and _state.installed):
        yield
        return
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if not _state.depth and _state.pending is not None:
            signum, _state.pending = _state.pending, None
            raise Interrupted(signum)
