"""Checks run only inside ``detect_anomaly()``: find the first op producing NaN or inf, and
values changed behind the engine's back between the forward and the backward.

The engine calls :func:`check_forward` on every op output and :func:`check_backward` on every
gradient an op's VJP hands to an input, but only while the anomaly mode of the running thread
(``modes.Modes.anomaly``) is on; outside the context manager neither is imported nor called.
The first failure raises ``AnomalyError`` with the op, its scope, the input shapes and the
user's file:line, and leaves the message on the node (``t._note``) so diagrams can colour it.

:func:`check_forward` also takes a checksum (CRC-32) of each array a recorded op saved for its
backward: the output and inputs of ops whose VJPs read values, and index arrays. ``backward()``
calls :func:`check_saved` on each such node before its VJPs run, so a write the version counter
cannot see (``w.data[0] = 100``) is an ``AnomalyError`` naming the tensor and the op instead of
a silently wrong gradient. Without such nodes alive the backward skips this entirely.

>>> import tinygrad_lc as tg
>>> x = tg.Tensor([1.0, 0.0], requires_grad=True)
>>> with tg.detect_anomaly():
...     y = x.sqrt().sum()
...     y.backward()
Traceback (most recent call last):
...
tinygrad_lc.core.anomaly.AnomalyError: sqrt: backward gradient for input 0 (shape (2,)) holds ...
"""

from __future__ import annotations

import os
import sys
import zlib
from typing import Any

import numpy as np

from tinygrad_lc.core.identity import WeakIdentityDict

Node = Any  # a Tensor: tensor.py imports this module, so this one cannot import it

# the package's folder (this file is in its core/): frames below it are the library's
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# node -> checksums of the arrays its VJPs read, taken inside detect_anomaly(); the engine's
# backward checks them while any is alive (by identity: tensors compare entry by entry)
fingerprints: WeakIdentityDict = WeakIdentityDict()


class AnomalyError(RuntimeError):
    """Raised inside ``detect_anomaly()`` by the first op producing NaN or inf (``tg.AnomalyError``;
    also importable from ``tinygrad_lc.core.tensor``). ``err.tensor`` is the node it names."""

    def __init__(self, message: str, tensor: Node | None = None):
        super().__init__(message)
        self.tensor = tensor


def user_frame() -> str:
    """The file:line of the innermost caller outside this package (where the user built the op)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        path = os.path.abspath(filename)
        if not path.startswith(_PACKAGE_DIR + os.sep) and os.path.basename(path) != "contextlib.py":
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _bad_counts(a) -> str | None:
    """'2 NaN and 1 inf' for an array holding non-finite values, None when all are finite."""
    a = np.asarray(a)
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    return " and ".join(s for s in (f"{nan} NaN" if nan else "", f"{inf} inf" if inf else "") if s)


def _label(t: Node, i: int) -> str:
    name = f" '{t.name}'" if t.name else ""
    return f"input {i}{name} (shape {t.shape})"


def _describe(t: Node) -> str:
    shapes = ", ".join(str(p.shape) for p in t.parents) or "none"
    where = t._where or (
        f"an unrecorded line (the forward ran outside detect_anomaly(); backward() was called "
        f"at {user_frame()}; run the forward inside to see where the op was made)"
    )
    return f"(scope '{t.scope or '<top>'}', input shapes {shapes}); created at {where}"


def _checksum(a: np.ndarray) -> int:
    """CRC-32 of the bytes of ``a`` (any layout, any size)."""
    return zlib.crc32(np.ascontiguousarray(a).reshape(-1).view(np.uint8).data)


def _saved_arrays(t: Node):
    """(who, array) for each array ``t``'s VJPs may read: who is -1 for the output, i for
    input i, "index" for an index array (the same set the mutation guard watches, plus those)."""
    if t._opdef.needs_values:
        yield -1, t._data
        yield from enumerate(p._data for p in t.parents)
    for value in (t._kw or {}).values():
        for part in value if isinstance(value, tuple) else (value,):
            if isinstance(part, np.ndarray):
                yield "index", part


def fingerprint(t: Node) -> None:
    """Keep a checksum of every array ``t``'s backward will read (see :func:`check_saved`)."""
    seen, saved = set(), []
    for who, arr in _saved_arrays(t):
        if id(arr) not in seen:
            seen.add(id(arr))
            saved.append((who, arr, _checksum(arr)))
    if saved:
        fingerprints[t] = tuple(saved)


def check_saved(t: Node) -> None:
    """Raise if an array op ``t`` saved for backward changed since its checksum was taken."""
    for who, arr, crc in fingerprints.get(t, ()):
        if _checksum(arr) != crc:
            if who == -1:
                what = f"its output{f' {t.name!r}' if t.name else ''} (shape {t.shape})"
            elif who == "index":
                what = f"an index array (shape {arr.shape})"
            else:
                what = _label(t.parents[who], who)
            t._note = f"{t.op}: {what} was changed in place after the forward saved it"
            raise AnomalyError(
                f"{t._note} for backward (a write the version counter cannot see, such as "
                "t.data[i] = v); the gradient would be computed from the new values. Recompute "
                "the forward pass after changing it (assign_() changes values so that the "
                f"engine sees it) {_describe(t)}", t)


def check_forward(t: Node, opdef, parents: tuple) -> None:
    """Record where ``t`` was made; raise if its value holds NaN or inf; fingerprint what a
    recorded op saved for backward."""
    t._where = user_frame()
    bad = _bad_counts(t._data)
    if bad:
        if t.parents == () and parents:
            # an unrecorded result (no_grad, constants): only the flagged node keeps its inputs,
            # so the message and the diagram can show them
            t.parents = parents
            t._opdef = opdef
        t._note = f"{opdef.name}: forward output holds {bad}"
        # a non-finite input means the bad values came from outside this op
        inherited = [f"{_label(p, i)} already held {b}"
                     for i, p in enumerate(parents) if (b := _bad_counts(p._data))]
        extra = f"; {', '.join(inherited)}" if inherited else ""
        raise AnomalyError(f"{t._note}{extra} {_describe(t)}", t)
    if t._opdef is not None:
        fingerprint(t)


def check_backward(t: Node, parent: Node, grad) -> None:
    """Raise if the gradient op ``t`` sends to ``parent`` holds NaN or inf."""
    bad = _bad_counts(grad)
    if bad:
        i = next(k for k, p in enumerate(t.parents) if p is parent)
        t._note = f"{t.op}: backward gradient for {_label(parent, i)} holds {bad}"
        raise AnomalyError(f"{t._note} {_describe(t)}", t)
