"""Checks run only inside ``detect_anomaly()``: find the first op producing NaN or inf."""

from __future__ import annotations

import os
import sys

import numpy as np

from .tensor import AnomalyError, Tensor

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_frame() -> str:
    """The file:line of the innermost caller outside this package (where the user built the op)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR + os.sep) and "contextlib" not in filename:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _bad_counts(a: np.ndarray) -> str | None:
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    return " and ".join(s for s in (f"{nan} NaN" if nan else "", f"{inf} inf" if inf else "") if s)


def _describe(t: Tensor) -> str:
    shapes = ", ".join(str(p.shape) for p in t.parents) or "none"
    return f"(scope '{t.scope or '<top>'}', input shapes {shapes}); created at {t._where}"


def check_forward(t: Tensor, opdef, parents: tuple) -> None:
    t._where = user_frame()
    if t.parents == () and parents:
        t.parents = parents  # keep the inputs so the message and the diagram can show them
        t._opdef = opdef
    bad = _bad_counts(t._data)
    if bad:
        t._note = f"{opdef.name}: forward output holds {bad}"
        raise AnomalyError(f"{t._note} {_describe(t)}", t)


def check_backward(t: Tensor, parent: Tensor, grad: np.ndarray) -> None:
    bad = _bad_counts(np.asarray(grad))
    if bad:
        t._note = f"{t.op}: backward gradient for an input of shape {parent.shape} holds {bad}"
        raise AnomalyError(f"{t._note} {_describe(t)}", t)
