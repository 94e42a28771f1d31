"""The engine's matrix products, each by the form timed fastest for its operands.

The forward ``A @ B``, the weight gradient ``A^T G`` and the input gradient ``G B^T`` are all
one 2-D product ``x @ y`` (``x = A.T`` and ``y = B.T`` are views). It has two forms:

- ``x @ y``: the plain one, a C-ordered result;
- ``(y.T @ x.T).T``: the transposed product, through the transposed view of its C-ordered
  result, so the result is F-ordered. BLAS sees other operand layouts and runs other kernels
  and blockings: on some CPUs 2.5x faster, on others slower (docs/kernels.md).

The two forms round in their own orders; which one a shape takes is decided once per key
(shapes, dtypes, operand memory orders, BLAS threads) by :class:`~.choose.Choice`. Products
smaller than :data:`SMALL` multiply-adds, and vectors, take the plain form without a look-up.

>>> import time

import numpy as np
>>> x, y = np.ones((80, 60)), np.ones((60, 40))
>>> matmul(x, y).shape, float(matmul(x, y)[0, 0])
((80, 40), 60.0)
"""

from __future__ import annotations

import time

import numpy as np

from tinygrad_lc.kernels.choose import Choice, Form, fixed
from tinygrad_lc.kernels.machine import blas_threads

__all__ = ["matmul", "matmul_into", "product_form", "product_key", "layout", "PRODUCT",
           "PLAIN", "TRANSPOSED", "SMALL"]

SMALL = 1 << 17  # m * k * n below this (a (64, 64) @ (64, 32)): the plain form, never timed


# x @ y, C-ordered
def _plain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return x @ y


def _plain_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    if out.flags.c_contiguous:
        return np.matmul(x, y, out=out)  # the very BLAS call of x @ y
    out[...] = x @ y
    return out


# (y^T x^T)^T = x y, F-ordered: an array of its own (no base), so the engine may add into it
def _transposed(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.empty((x.shape[0], y.shape[1]), np.result_type(x, y), order="F")
    np.matmul(y.T, x.T, out=out.T)
    return out


def _transposed_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    if out.flags.f_contiguous:
        np.matmul(y.T, x.T, out=out.T)  # out.T is C-ordered: the very call of the form
        return out
    out[...] = _transposed(x, y)
    return out


PLAIN = Form("x @ y", _plain, _plain_into)
TRANSPOSED = Form("(y.T @ x.T).T", _transposed, _transposed_into)
# timed in CPU time (all the process's threads): a run the shared machine's other processes
# interrupt is not charged for the wait, so one round decides even under load
PRODUCT = Choice("x @ y", [PLAIN, TRANSPOSED], timer=time.process_time)


def layout(a: np.ndarray) -> str:
    """The memory order of a 2-D array, as a product's key holds it.

    ``"C"`` or ``"F"`` contiguous; ``"c"``/``"f"``: unit steps along rows/columns but not
    contiguous (a slice of columns/rows); ``"A"``: any other steps.

    >>> a = np.zeros((4, 6))
    >>> layout(a), layout(a.T), layout(a[:, :3]), layout(a[:, ::2])
    ('C', 'F', 'c', 'A')
    """
    f = a.flags
    if f.c_contiguous:
        return "C"
    if f.f_contiguous:
        return "F"
    if a.strides[1] == a.itemsize:
        return "c"
    return "f" if a.strides[0] == a.itemsize else "A"


def product_key(x: np.ndarray, y: np.ndarray) -> tuple:
    """The key a product's choice is kept under: shapes, dtypes, layouts, BLAS threads.

    >>> product_key(np.ones((2, 3)), np.ones((3, 4), np.float32).T.T)[:6]
    ((2, 3), (3, 4), 'd', 'f', 'C', 'C')
    """
    return (x.shape, y.shape, x.dtype.char, y.dtype.char, layout(x), layout(y),
            blas_threads())


def _chosen_for(x, y) -> bool:
    """Whether ``x @ y`` is a product whose form is chosen (2-D, large enough, mode auto)."""
    if x.ndim != 2 or y.ndim != 2 or fixed():
        return False
    m, k = x.shape
    n = y.shape[1]
    return m > 1 and n > 1 and m * k * n >= SMALL


def product_form(x: np.ndarray, y: np.ndarray) -> Form:
    """The form ``x @ y`` takes for these operands (timing the forms if their key is new).

    >>> product_form(np.ones((2, 2)), np.ones((2, 2))).name  # small: the plain form
    'x @ y'
    """
    if not _chosen_for(x, y):
        return PLAIN
    return PRODUCT.form(product_key(x, y), x, y)


def matmul(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x @ y`` by the form chosen for these operands on this machine.

    The plain ``x @ y`` for vectors, small products and in the ``"fixed"`` mode; otherwise
    the form timed fastest when the key (shapes, dtypes, layouts, BLAS threads) was first
    seen. The result may be F-ordered (the transposed form).

    Parameters
    ----------
    x, y : ndarray
        Operands of ``x @ y``.

    Returns
    -------
    ndarray
        ``x @ y``, equal to it up to the rounding order of the form.

    Examples
    --------
    >>> a, b = np.arange(6.0).reshape(2, 3), np.ones((3, 2))
    >>> matmul(a, b)
    array([[ 3.,  3.],
           [12., 12.]])
    """
    if not _chosen_for(x, y):
        return x @ y
    key = product_key(x, y)
    form = PRODUCT.chosen.get(key)
    if form is None:
        return PRODUCT.decide(key, x, y)
    return form.fn(x, y)


def matmul_into(x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """:func:`matmul` written into ``out``, bit for bit the same (``tg.compile``'s buffers).

    Fastest when ``out`` has the layout the chosen form gives (the layout ``tg.compile``
    traced); any other layout gets the same values copied in.

    >>> out = np.empty((2, 2))
    >>> matmul_into(np.eye(2), np.full((2, 2), 3.0), out) is out, out[0].tolist()
    (True, [3.0, 3.0])
    """
    return product_form(x, y).into(x, y, out)  # pyright: ignore[reportOptionalCall]
