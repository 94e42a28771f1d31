"""Adding two arrays of different memory orders: into the F-ordered one, or a new sum.

A gradient in the transposed form's layout (F-ordered ``A^T G``) meets a C-ordered one (an L2
term) when the engine accumulates them. NumPy can write the sum over the F-ordered array (no
new memory) or into a new C-ordered array; which is faster depends on the machine (on one CPU
the new array was 1.8x faster). The values are the same either way, bit for bit (one
addition per entry, commutative), so only speed and memory differ.

:func:`add_into_f_ordered` says which, for a shape and dtype, timed once per key on scratch
arrays like :mod:`~.products` times its forms. Small arrays (under :data:`SMALL`
entries) and the ``"fixed"`` mode take the new array without timing.

>>> add_into_f_ordered((3, 4), np.float64)  # small: a new sum
False
"""

from __future__ import annotations

import math
import time

import numpy as np

from tinygrad_lc.kernels.choose import Choice, Form, fixed

__all__ = ["add_into_f_ordered", "MIXED_ADD", "NEW", "INTO", "SMALL"]

SMALL = 1 << 14  # entries: below this, the new array without timing


def _new(f: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.add(f, c)


def _into(f: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.add(f, c, out=f)


NEW = Form("f + c (new array)", _new)
INTO = Form("f += c (into f)", _into)
MIXED_ADD = Choice("f + c", [NEW, INTO], timer=time.process_time)


def add_into_f_ordered(shape: tuple, dtype) -> bool:
    """Whether an F-ordered array of ``shape`` and ``dtype`` plus a C-ordered one is written
    over the F-ordered one (True) or into a new array (False) on this machine.

    Parameters
    ----------
    shape : tuple of int
    dtype : dtype-like

    Returns
    -------
    bool
        The faster, as timed the first time the key is seen (on zeros of their own).

    Examples
    --------
    >>> isinstance(add_into_f_ordered((200, 100), np.float32), bool)
    True
    """
    if fixed() or math.prod(shape) < SMALL:
        return False
    key = (tuple(shape), np.dtype(dtype).char)
    form = MIXED_ADD.chosen.get(key)
    if form is None:
        scratch = np.zeros(shape, dtype, order="F"), np.zeros(shape, dtype)
        form = MIXED_ADD.form(key, *scratch)
    return form is INTO
