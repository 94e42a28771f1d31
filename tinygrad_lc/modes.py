"""Context managers switching how the engine records: ``no_grad``, ``scope``, ``detect_anomaly``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from . import tensor as _engine


@contextmanager
def no_grad() -> Iterator[None]:
    """Record no graph inside the block (results do not require grad).

    >>> import tinygrad_lc as tg
    >>> w = tg.Tensor([1.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     (w * 2).requires_grad
    False
    """
    old = _engine._grad_enabled
    _engine._grad_enabled = False
    try:
        yield
    finally:
        _engine._grad_enabled = old


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record the graph again inside a ``no_grad()`` block."""
    old = _engine._grad_enabled
    _engine._grad_enabled = True
    try:
        yield
    finally:
        _engine._grad_enabled = old


class scope:  # lower case: used like a function, ``with tg.scope("svm_loss"):``
    """Name the ops created inside; nested scopes join with "/" (diagrams draw them as clusters).

    A small class rather than a generator: the losses open scopes on every call, and this
    costs a third of a ``contextlib`` context manager.

    >>> import tinygrad_lc as tg
    >>> with tg.scope("svm_loss"), tg.scope("margins"):
    ...     (tg.Tensor([1.0], requires_grad=True) * 2).scope
    'svm_loss/margins'
    """

    __slots__ = ("name", "_outer")

    def __init__(self, name: str):
        if not isinstance(name, str):
            raise TypeError(f"scope: name must be a str, got {type(name).__name__}")
        if not name or "/" in name:
            raise ValueError(f"scope: name must be a non-empty str without '/', got {name!r}")
        self.name = name

    def __enter__(self) -> str:
        self._outer = outer = _engine._scope
        _engine._scope = f"{outer}/{self.name}" if outer else self.name
        return _engine._scope

    def __exit__(self, *exc_info) -> None:
        _engine._scope = self._outer


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise ``AnomalyError`` at the first op whose output or gradient holds NaN or inf.

    >>> import tinygrad_lc as tg
    >>> x = tg.Tensor([0.0, 1.0], requires_grad=True)
    >>> with tg.detect_anomaly():
    ...     x.log()
    Traceback (most recent call last):
    ...
    tinygrad_lc.tensor.AnomalyError: log: forward output holds 1 inf ...
    """
    old = _engine._anomaly
    _engine._anomaly = True
    try:
        yield
    finally:
        _engine._anomaly = old
