"""Index normalisation for ``Tensor.__getitem__``: what NumPy accepts, checked and explained.

The backward of indexing scatters the gradient back. Plain assignment is right when no position
is picked twice; ``np.add.at`` (much slower) is needed only when an index repeats, so the
uniqueness of the picked positions is decided here, once, in the forward.
"""

from __future__ import annotations

import reprlib

import numpy as np


def _component(x, where: str = "getitem"):
    """One entry of an index tuple, with Tensors and lists turned into integer/bool arrays."""
    if x.__class__ is np.ndarray and x.dtype.kind in "iub":
        return x  # the common case first
    if x is None or x is Ellipsis or isinstance(x, slice | int | np.integer):
        return x
    if isinstance(x, np.bool_):
        return bool(x)  # a boolean scalar adds an axis of length 1 (True) or 0 (False)
    if not isinstance(x, list | np.ndarray) and hasattr(x, "__array__"):
        x = np.asarray(x)  # a Tensor (its data, through Tensor.__array__) or another array
    if isinstance(x, list):
        try:
            x = np.asarray(x)
        except ValueError:  # NumPy: "inhomogeneous shape"
            raise IndexError(
                f"{where}: the index list {reprlib.repr(x)} is ragged (its entries are not all "
                "numbers or not all lists of one length); index arrays must be rectangular"
            ) from None
        if x.size == 0:
            x = x.astype(np.intp)
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "iub":
            raise IndexError(
                f"{where}: index arrays must hold integers or booleans, got dtype {x.dtype} "
                "(make label tensors with dtype=np.int64)"
            )
        return x
    raise IndexError(
        f"{where}: unsupported index of type {type(x).__name__}; use ints, slices, None, "
        "Ellipsis, integer arrays or boolean masks"
    )


def increasing(p: np.ndarray) -> bool:
    """Whether integer array ``p`` is ``arange``-like: at most one axis longer than 1, along
    which it increases strictly from >= 0 (``np.arange(N)`` or its column ``[:, None]``).

    >>> increasing(np.arange(3)[:, None]), increasing(np.array([0, 2, 2]))
    (True, False)
    """
    if p.dtype == bool or sum(d > 1 for d in p.shape) > 1:
        return False
    p = p.reshape(-1)
    return p.size < 2 or (p[0] >= 0 and bool(np.all(p[1:] > p[:-1])))


def prepare_index(index, shape: tuple) -> tuple[object, bool]:
    """Return ``(index, unique)``: the normalised index and whether it picks no position twice.

    >>> prepare_index((np.arange(3), np.array([0, 2, 2])), (3, 4))[1]
    True
    >>> prepare_index(np.array([1, 1]), (3,))[1]
    False
    """
    parts = index if isinstance(index, tuple) else (index,)
    parts = tuple(_component(x) for x in parts)
    norm = parts if isinstance(index, tuple) else parts[0]
    arrays = [x for x in parts if isinstance(x, np.ndarray)]
    if not arrays:
        return norm, True  # basic indexing never picks a position twice
    if len(arrays) == 1 and arrays[0].dtype == bool:
        return norm, True
    consumed = sum(
        x.ndim if isinstance(x, np.ndarray) and x.dtype == bool
        else (x is not None and x is not Ellipsis)
        for x in parts
    )
    dim, picks, sizes = 0, [], []
    for x in parts:
        if x is None:
            continue
        if x is Ellipsis:
            dim += len(shape) - consumed
        elif isinstance(x, np.ndarray) and x.dtype == bool:
            picks.extend(np.nonzero(x))
            sizes.extend(shape[dim : dim + x.ndim])
            dim += x.ndim
        elif isinstance(x, np.ndarray):
            picks.append(x)
            sizes.append(shape[dim] if dim < len(shape) else 1)
            dim += 1
        else:
            dim += 1
    if len({p.shape for p in picks}) > 1:
        try:
            picks = np.broadcast_arrays(*picks)
        except ValueError:
            return norm, False  # let the forward raise its own error; add.at is always correct
    if any(increasing(p) for p in picks):
        # one component strictly increasing from >= 0 (the np.arange(N) of scores[arange, y])
        # already makes every picked position distinct: no sort needed
        return norm, True
    flat = np.ravel_multi_index(picks, sizes, mode="wrap").ravel()
    return norm, bool(np.unique(flat).size == flat.size)
