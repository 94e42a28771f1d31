"""Checks every optimizer runs: on the parameter list it is given, and on the gradients
before a step (so a bad gradient is refused before any parameter changes).

Each raises a TypeError or ValueError naming the optimizer (``where``), what was expected
and what came.
"""

from __future__ import annotations

import numpy as np

from tinygrad_lc.core.checks import count_nonfinite
from tinygrad_lc.core.tensor import Tensor

__all__ = ["check_params", "check_grads", "writeable_data"]


def check_params(where: str, params) -> list[Tensor]:
    """``params`` as a non-empty list of distinct leaf Tensors that require grad.

    >>> check_params("Adam", Tensor([1.0], requires_grad=True))
    Traceback (most recent call last):
    ...
    TypeError: Adam: params must be a list of Tensors, got a single Tensor; wrap it: Adam([W], ...)
    """
    if isinstance(params, Tensor):
        raise TypeError(f"{where}: params must be a list of Tensors, got a single Tensor; "
                        f"wrap it: {where}([W], ...)")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"{where}: params must be a list of Tensors, got {type(params).__name__}"
        ) from None
    if not params:
        raise ValueError(f"{where}: params is empty; pass the Tensors to optimize, e.g. [W, b] "
                         "or net.parameters()")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: params[{i}] is a {type(p).__name__}, expected a Tensor")
        if not p.requires_grad or not p.is_leaf:
            raise ValueError(
                f"{where}: params[{i}] (shape {p.shape}) must be a leaf Tensor with "
                "requires_grad=True, the kind an optimizer can update in place"
            )
        if any(p is q for q in params[:i]):
            raise ValueError(f"{where}: params[{i}] appears twice; it would be updated twice")
    return params


def check_grads(where: str, params: list[Tensor]) -> None:
    """Refuse, before anything changes, gradients that are not real arrays of their
    parameter's shape (a hand-set one would be broadcast) or that hold NaN/inf.

    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> w.grad = np.array([0.5, np.nan])
    >>> check_grads("Adam.step", [w])
    Traceback (most recent call last):
    ...
    ValueError: Adam.step: the gradient of params[0] (shape (2,)) holds 1 NaN or infinite \
value(s); no parameter was changed (find the op with tg.detect_anomaly(), or lower the \
learning rate)
    """
    for i, p in enumerate(params):
        g = p.grad
        if g is None:
            continue
        label = f" '{p.name}'" if p.name else ""
        if not isinstance(g, np.ndarray | np.generic) or g.dtype.kind not in "fiu":
            what = (f"an array of dtype {g.dtype}" if isinstance(g, np.ndarray | np.generic)
                    else f"a {type(g).__name__}")
            hint = " (use its .data)" if isinstance(g, Tensor) else ""
            raise TypeError(
                f"{where}: the gradient of params[{i}]{label} (shape {p.shape}) is {what}"
                f"{hint}; expected None or a NumPy array of real numbers of shape "
                f"{p.shape}; no parameter was changed"
            )
        if g.shape != p.shape:
            raise ValueError(
                f"{where}: the gradient of params[{i}]{label} has shape {g.shape}, "
                f"expected the parameter's shape {p.shape} (it is not broadcast); no "
                "parameter was changed"
            )
        bad = count_nonfinite(g)
        if bad:
            raise ValueError(
                f"{where}: the gradient of params[{i}]{label} (shape {p.shape}) holds "
                f"{bad} NaN or infinite value(s); no parameter was changed (find the op "
                "with tg.detect_anomaly(), or lower the learning rate)"
            )


def writeable_data(p: Tensor) -> np.ndarray:
    """``p.data``, made writeable first when it is not (a read-only array assigned to it):
    the setter keeps a writeable copy of its own, so the in-place step is not lost."""
    if not p.data.flags.writeable:
        p.data = np.array(p.data)
    return p.data
