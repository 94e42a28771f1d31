"""Context managers switching how the engine records: ``no_grad``, ``scope``, ``detect_anomaly``.

The modes belong to the running thread and ``contextvars`` context (as PyTorch's grad mode is
per thread): entering ``no_grad()`` in one thread leaves every other thread recording. Each
switch sets a new immutable ``Modes`` and leaving the block restores exactly the one
that was current when it was entered, so nesting, re-entering one ``scope`` object and errors
inside a block all come back to the outer state. A new thread starts from the defaults (grad
on, no scope, no anomaly checks); an asyncio task starts from the modes of the code that
created it, and what it switches stays inside the task.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import NoReturn

__all__ = ["Modes", "no_grad", "enable_grad", "scope", "detect_anomaly", "is_grad_enabled",
           "is_anomaly_enabled", "current_scope"]


class Modes:
    """How the engine records in one thread or context: never changed, replaced whole.

    Compared and hashed by identity: ``scope`` finds the token of an entry by the Modes
    object that entry made current.

    >>> Modes(True, "svm_loss", False)
    Modes(grad_enabled=True, scope='svm_loss', anomaly=False)
    """

    __slots__ = ("grad_enabled", "scope", "anomaly")
    grad_enabled: bool
    scope: str
    anomaly: bool

    def __init__(self, grad_enabled: bool, scope: str, anomaly: bool) -> None:
        set_ = object.__setattr__
        set_(self, "grad_enabled", grad_enabled)
        set_(self, "scope", scope)
        set_(self, "anomaly", anomaly)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Modes: immutable; switch modes with no_grad(), scope(), ...")

    def __repr__(self) -> str:
        return (f"Modes(grad_enabled={self.grad_enabled}, scope={self.scope!r}, "
                f"anomaly={self.anomaly})")


# The recording modes of the running thread/context, switched by the context managers below
# and read by the engine (``tensor.py``) once per op. A new thread starts from the defaults;
# an asyncio task from its creator's modes.
MODES: contextvars.ContextVar[Modes] = contextvars.ContextVar(
    "tinygrad_lc.core.modes", default=Modes(True, "", False))  # noqa: B039 (Modes is immutable)
_modes = MODES.get


def is_grad_enabled() -> bool:
    """Whether ops record a graph in this thread/context (False inside ``no_grad()``).

    >>> import tinygrad_lc as tg
    >>> with tg.no_grad():
    ...     tg.is_grad_enabled()
    False
    """
    return _modes().grad_enabled


def is_anomaly_enabled() -> bool:
    """Whether ``detect_anomaly()`` is on in this thread/context."""
    return _modes().anomaly


def current_scope() -> str:
    """The scope path new ops get in this thread/context ("" outside every scope).

    >>> import tinygrad_lc as tg
    >>> with tg.scope("svm_loss"), tg.scope("margins"):
    ...     tg.current_scope()
    'svm_loss/margins'
    """
    return _modes().scope


@contextmanager
def _switched(grad_enabled: bool | None = None, anomaly: bool | None = None) -> Iterator[None]:
    m = _modes()
    token = MODES.set(Modes(m.grad_enabled if grad_enabled is None else grad_enabled,
                             m.scope, m.anomaly if anomaly is None else anomaly))
    try:
        yield
    finally:
        MODES.reset(token)


def no_grad() -> AbstractContextManager[None]:
    """Record no graph inside the block (results do not require grad), in this thread only.

    >>> import tinygrad_lc as tg
    >>> w = tg.Tensor([1.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     (w * 2).requires_grad
    False
    """
    return _switched(grad_enabled=False)


def enable_grad() -> AbstractContextManager[None]:
    """Record the graph again inside a ``no_grad()`` block."""
    return _switched(grad_enabled=True)


class scope:  # lower case: used like a function, ``with tg.scope("svm_loss"):``
    """Name the ops created inside; nested scopes join with "/" (diagrams draw them as clusters).

    A small class rather than a generator: the losses open scopes on every call, and this
    costs a third of a ``contextlib`` context manager. One object may be entered again while
    it is open, and from several threads: each entry keeps its own token, found on exit by the
    state it made current in that thread or context.

    >>> import tinygrad_lc as tg
    >>> with tg.scope("svm_loss"), tg.scope("margins"):
    ...     (tg.Tensor([1.0], requires_grad=True) * 2).scope
    'svm_loss/margins'
    >>> s = tg.scope("a")
    >>> with s:
    ...     with s:
    ...         tg.current_scope()
    'a/a'
    >>> tg.current_scope()
    ''
    """

    __slots__ = ("name", "_tokens")
    name: str

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"scope: name must be a str, got {type(name).__name__}")
        if not name or "/" in name:
            raise ValueError(f"scope: name must be a non-empty str without '/', got {name!r}")
        self.name = name
        self._tokens: dict = {}  # the Modes each open entry made current -> its reset token

    def __enter__(self) -> str:
        m = _modes()
        path = f"{m.scope}/{self.name}" if m.scope else self.name
        new = Modes(m.grad_enabled, path, m.anomaly)
        self._tokens[new] = MODES.set(new)  # Modes hash by identity
        return path

    def __exit__(self, *exc_info: object) -> None:
        token = self._tokens.pop(_modes(), None)
        if token is None:
            raise RuntimeError(
                f"scope: leaving scope {self.name!r}, which is not the innermost mode block "
                "open in this thread (blocks must be left in the reverse order of entering)"
            )
        MODES.reset(token)


def detect_anomaly() -> AbstractContextManager[None]:
    """Raise ``AnomalyError`` at the first op whose output or gradient holds NaN or inf, and at
    a backward reading an array that was changed in place after the forward saved it.

    >>> import tinygrad_lc as tg
    >>> x = tg.Tensor([0.0, 1.0], requires_grad=True)
    >>> with tg.detect_anomaly():
    ...     x.log()
    Traceback (most recent call last):
    ...
    tinygrad_lc.core.anomaly.AnomalyError: log: forward output holds 1 inf ...
    """
    return _switched(anomaly=True)
