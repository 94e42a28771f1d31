"""Choosing among equivalent forms by timing them, once per key, on the running machine.

A :class:`Choice` is a family of forms that compute the same thing (the plain form first).
The first time a key is seen (shapes, dtypes, memory orders, BLAS threads: whatever the caller
puts in it), :meth:`Choice.decide` times the forms on the call's own arguments and keeps the
fastest for the process; later calls with that key take it from a dict.

The method, per key:

1. The plain form runs once: a warm-up, and its time ``t0`` estimates what one run costs.
2. Rounds of one run of every form (the order reversed every other round, so no form always
   runs first) follow, as many as fit in :data:`BUDGET_S` at ``t0`` per run: at least one,
   at most :data:`MAX_ROUNDS`, and no new round once the budget is spent (a loaded machine).
   A key whose one round would cost more than twice the budget is not timed: the plain form.
3. Each form's best (minimum) time stands for it (load only ever adds time; the plain form's
   warm-up counts too); the fastest wins, the plain form on a tie. The call returns the
   winner's result from its last run, which is what every later call of the key computes,
   bit for bit.

The mode (:func:`set_mode`; ``TINYGRAD_LC_KERNELS`` at import) is ``"auto"`` (the above) or
``"fixed"`` (always the plain form, nothing timed). Results of the two modes differ only by
the rounding order of the forms.

>>> c = Choice("demo", [Form("plain", lambda x: x + 1), Form("other", lambda x: 1 + x)])
>>> c.decide(("k",), 1)
2
>>> c.decision(("k",)).winner in ("plain", "other")
True
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Form", "Decision", "Choice", "set_mode", "get_mode", "fixed", "MODES", "ENV",
           "BUDGET_S", "MAX_ROUNDS", "mode_from_env"]

MODES = ("auto", "fixed")
ENV = "TINYGRAD_LC_KERNELS"
BUDGET_S = 0.01  # the time one new key may spend on timing forms (after the warm-up run)
MAX_ROUNDS = 3


def mode_from_env(environ: Mapping[str, str]) -> str:
    """The mode ``environ`` asks for: ``TINYGRAD_LC_KERNELS``, ``"auto"`` when unset or empty.

    >>> mode_from_env({"TINYGRAD_LC_KERNELS": "fixed"})
    'fixed'
    >>> mode_from_env({"TINYGRAD_LC_KERNELS": "fast"})
    Traceback (most recent call last):
    ...
    ValueError: TINYGRAD_LC_KERNELS: expected one of 'auto', 'fixed' (or unset), got 'fast'
    """
    value = environ.get(ENV, "").strip()
    if value and value not in MODES:
        raise ValueError(f"{ENV}: expected one of 'auto', 'fixed' (or unset), got {value!r}")
    return value or "auto"


# read once at import; a list so the hot path reads one item (no global statement)
_MODE = [mode_from_env(os.environ)]


def set_mode(mode: str) -> str:
    """Set how products are computed: ``"auto"`` (timed forms) or ``"fixed"`` (plain forms).

    Returns the previous mode. Choices already made are kept for when ``"auto"`` is back.

    Parameters
    ----------
    mode : {"auto", "fixed"}
        ``"fixed"`` takes the plain form of every product (``a @ b``), the same on every
        machine; ``"auto"`` the form timed fastest here. They differ by rounding order only.

    Examples
    --------
    >>> old = set_mode("fixed")
    >>> get_mode()
    'fixed'
    >>> _ = set_mode(old)
    >>> set_mode("fast")
    Traceback (most recent call last):
    ...
    ValueError: set_mode: expected one of 'auto', 'fixed', got 'fast'
    """
    if mode not in MODES:
        raise ValueError(f"set_mode: expected one of 'auto', 'fixed', got {mode!r}")
    old = _MODE[0]
    _MODE[0] = mode
    return old


def get_mode() -> str:
    """The current mode, ``"auto"`` or ``"fixed"``.

    >>> get_mode() in ("auto", "fixed")
    True
    """
    return _MODE[0]


def fixed() -> bool:
    """Whether the plain forms are taken without timing (the mode is ``"fixed"``)."""
    return _MODE[0] == "fixed"


@dataclass(frozen=True)
class Form:
    """One way of computing a choice's result.

    Attributes
    ----------
    name : str
        How tables and tests name it, e.g. ``"(y.T @ x.T).T"``.
    fn : callable
        ``fn(*args) -> result``.
    into : callable, optional
        ``into(*args, out) -> out``: the same result, bit for bit, written into ``out``.
    """

    name: str
    fn: Callable
    into: Callable | None = None


@dataclass(frozen=True)
class Decision:
    """What :meth:`Choice.decide` found for one key.

    Attributes
    ----------
    key : tuple
    winner : str
        The name of the form kept.
    times : dict
        Form name -> its best time in seconds (empty when not timed).
    rounds : int
        Timed runs of each form.
    note : str
        ``"timed"``, or why not: ``"too large to time"``.
    """

    key: tuple
    winner: str
    times: dict = field(default_factory=dict)
    rounds: int = 0
    note: str = "timed"


class Choice:
    """A family of equivalent forms and the form chosen per key, for the process; thread-safe.

    Parameters
    ----------
    name : str
    forms : sequence of Form
        The plain form first.
    timer : callable, optional
        Seconds as a float (``time.perf_counter``); tests pass a fake one.
    budget : float, optional
        Seconds of timing a new key may take after the warm-up (:data:`BUDGET_S`).

    Examples
    --------
    A fake timer: the warm-up takes 5 s, then one round, "other" 1 s and "plain" 5 s.

    >>> ticks = iter([0, 5, 0, 0, 1, 0, 5])
    >>> c = Choice("c", [Form("plain", abs), Form("other", abs)], timer=lambda: next(ticks),
    ...            budget=6.0)
    >>> c.decide(("k",), -2), c.decision(("k",)).winner
    (2, 'other')
    >>> c.decision(("k",)).times == {"plain": 5, "other": 1}
    True
    """

    def __init__(self, name: str, forms: Sequence[Form], timer: Callable[[], float] | None = None,
                 budget: float = BUDGET_S):
        if not forms:
            raise ValueError(f"Choice: expected at least one form, got none for {name!r}")
        self.name = name
        self.forms = tuple(forms)
        self.plain = self.forms[0]
        self.by_name = {f.name: f for f in self.forms}
        self.timer = timer or time.perf_counter
        self.budget = budget
        self.chosen: dict[tuple, Form] = {}  # key -> form: the hot path reads this dict
        self._decisions: dict[tuple, Decision] = {}
        self._lock = threading.Lock()

    def decision(self, key: tuple) -> Decision | None:
        """What was decided for ``key`` (None: not seen yet)."""
        return self._decisions.get(key)

    def decisions(self) -> list[Decision]:
        """Every decision so far, in the order they were made."""
        return list(self._decisions.values())

    def forget(self) -> None:
        """Drop every choice: each key is timed anew when next seen."""
        with self._lock:
            self.chosen.clear()
            self._decisions.clear()

    def form(self, key: tuple, *args: Any) -> Form:
        """The form kept for ``key``, deciding it on ``args`` if it is new."""
        form = self.chosen.get(key)
        if form is None:
            self.decide(key, *args)
            form = self.chosen[key]
        return form

    def decide(self, key: tuple, *args: Any) -> Any:
        """The result for ``args``, by the form kept for ``key``; the forms are timed on
        ``args`` first if the key is new (the module docstring says how)."""
        with self._lock:  # one key timed at a time; a second thread waits and reads it
            form = self.chosen.get(key)
            if form is not None:
                return form.fn(*args)
            clock = self.timer
            start = clock()
            result = self.plain.fn(*args)
            t0 = clock() - start
            n = len(self.forms)
            if n == 1 or t0 * n > 2 * self.budget:
                note = "only form" if n == 1 else "too large to time"
                self._keep(Decision(key, self.plain.name, {}, 0, note))
                return result
            rounds = max(1, min(MAX_ROUNDS, int(self.budget // max(t0 * n, 1e-9))))
            best: dict[str, float] = {self.plain.name: t0}  # the warm-up counts for plain
            last: dict[str, Any] = {}
            began = clock()
            done = 0
            for r in range(rounds):
                if r and clock() - began > self.budget:
                    break  # the machine is slower than the warm-up said: stop here
                for f in (self.forms if r % 2 else self.forms[::-1]):
                    s = clock()
                    last[f.name] = f.fn(*args)
                    t = clock() - s
                    best[f.name] = min(best.get(f.name, t), t)
                done += 1
            winner = min(self.forms, key=lambda f: (best[f.name], f is not self.plain))
            self._keep(Decision(key, winner.name, best, done))
            return last[winner.name]

    def _keep(self, d: Decision) -> None:
        self._decisions[d.key] = d
        self.chosen[d.key] = self.by_name[d.winner]
