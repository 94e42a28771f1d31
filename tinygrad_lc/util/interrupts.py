"""Stop a long run on SIGINT (Ctrl-C) or SIGTERM, but never half-way through writing a file.

``stop_on_signals()`` turns both signals into :class:`Interrupted`, a ``KeyboardInterrupt``
(so every ``finally`` and ``except BaseException`` clean-up runs as for Ctrl-C) that knows
which signal came. ``deferred()`` marks a block, such as writing a checkpoint, that a first
signal must not cut: the signal takes effect as soon as the block ends (a second one at once).
Outside ``stop_on_signals()``, and in threads other than the main one (where Python runs
signal handlers), ``deferred()`` does nothing and Python's usual KeyboardInterrupt applies.

Python runs a signal's handler at whatever line the main thread is on, also inside a
finalizer (a ``__del__``, such as the one of each compiled training step, run when the step's
graph is freed), where an exception cannot propagate: Python prints "Exception ignored in"
and drops it, so the run would go on as if the signal had never come. Inside
``stop_on_signals()`` such a dropped :class:`Interrupted` is not printed; it takes effect at
the next call or return in the main thread (outside the finalizer).

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
import functools
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

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


def _redeliver_dropped(previous_hook: Any) -> Any:
    """A ``sys.unraisablehook`` for an :class:`Interrupted` that Python dropped: raised by
    :func:`_handler` inside a finalizer. The signal is handled again at the main thread's next
    call or return (a one-time profile function; not while a profiler is on), where the
    exception can propagate; anything else goes on to ``previous_hook``.

    (Sending the signal again with ``_thread.interrupt_main`` would not do: Python runs the
    handler right after that call, still in this hook, where the exception is dropped too.)
    """

    def hook(unraisable: Any) -> None:
        exc = unraisable.exc_value
        if (isinstance(exc, Interrupted) and _state.installed and _in_main_thread()
                and sys.getprofile() is None):
            sys.setprofile(functools.partial(_handle_again, exc.signum, hook.__code__))
            return
        previous_hook(unraisable)

    return hook


def _handle_again(signum: int, hook_code: Any, frame: Any, event: str, arg: Any) -> None:
    if frame.f_code is hook_code:  # the hook's own return
        return
    sys.setprofile(None)
    if _state.installed:  # else the block is over: its work is done, nothing to stop
        _handler(signum, frame)  # raises here, or holds the signal in a deferred() block


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise :class:`Interrupted` on SIGINT and SIGTERM inside the block (main thread only),
    also for a signal whose handler ran inside a finalizer; the previous signal handlers and
    ``sys.unraisablehook`` are restored after it."""
    if not _in_main_thread() or _state.installed:
        yield
        return
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _redeliver_dropped(previous_hook)
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    _state.installed = True
    try:
        yield
    finally:
        _state.installed, _state.pending = False, None
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.unraisablehook = previous_hook


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
