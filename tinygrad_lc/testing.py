"""Hypothesis strategies and assertions for property tests of gradients, of first and second
order.

Import it explicitly (it needs the ``test`` extra: hypothesis; ``reference=`` needs autograd).
The strategies draw inputs away from kinks and ties *by construction*: values at least a gap
apart (and away from 0), hinge margins at least a gap away from 0. A finite-difference check
on such inputs never straddles a kink, so tolerances need no loosening. The assertions
(``assert_grads_match``, ``assert_second_order_match``) live in ``testing_asserts``.

>>> from hypothesis import given
>>> import tinygrad_lc as tg
>>> @given(tensors(shape=(3, 2), min_gap=0.1))
... def test_abs(x):
...     assert_grads_match(lambda t: t.abs().sum(), x)
...     assert_second_order_match(lambda t: (t.abs() * t.exp()).sum(), x)
>>> test_abs()
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import ArrayLike, DTypeLike

from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.gradcheck.check import (
    GradcheckError,
    gradcheck_report,
    gradgradcheck_report,
    rel_error,
)


# -------------------- The assertions of :mod:`tinygrad_lc.testing`: gradients and second derivative
def assert_grads_match(f: Callable, *arrays: ArrayLike, eps: float = 1e-6, atol: float = 1e-5,
                       rtol: float = 1e-4, strict: bool = True,
                       reference: Callable | None = None) -> None:
    """Assert that ``f``'s backward matches central differences (and autograd, if given).

    Parameters
    ----------
    f : callable
        ``f(*args)`` returning a Tensor, where each float array in ``arrays`` arrives as a
        Tensor requiring grad (named ``arg0``, ``arg1``, ...) and anything else (int labels,
        numbers) arrives unchanged.
    strict : bool
        By default a step that crosses a kink fails the assertion: property tests should draw
        inputs away from kinks (``min_gap``, ``margin_gap``). ``strict=False`` only counts them.
    reference : callable, optional
        The same function written with ``autograd.numpy`` on the raw arrays; its value and
        HIPS autograd's gradients must match too.

    Raises
    ------
    AssertionError
        A :class:`~tinygrad_lc.gradcheck.GradcheckError` carrying ``.report``.

    Examples
    --------
    >>> assert_grads_match(lambda a, b: (a * b).sum(), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    """
    args, tensors, call = _wrapped("assert_grads_match", f, arrays)
    report = gradcheck_report(call, tensors, eps=eps, atol=atol, rtol=rtol, strict=strict)
    if not report.passed:
        raise GradcheckError(report)
    if reference is not None:
        _match_reference(report, args, reference, atol, rtol)


def assert_second_order_match(f: Callable, *arrays: ArrayLike, eps: float = 1e-6,
                              atol: float = 1e-5,
                              rtol: float = 1e-3, strict: bool = True,
                              reference: Callable | None = None) -> None:
    """Assert that ``f``'s second derivatives match central differences of its gradient.

    The second-order twin of :func:`assert_grads_match`, built on
    :func:`~tinygrad_lc.gradcheck.gradgradcheck`: for random directions ``w_i`` the gradient
    of ``sum_i <grad_i f, w_i>`` (a Hessian-vector product for a scalar ``f``) is checked.
    Arguments are as in :func:`assert_grads_match`; with ``reference`` (``autograd.numpy``
    code) the second-order VJPs must also match HIPS autograd's ``grad`` of its own gradient.
    By default a step across a kink fails: draw inputs away from kinks.

    Examples
    --------
    >>> assert_second_order_match(lambda x: (x**3).sum(), np.array([1.0, -2.0]),
    ...                           reference=lambda x: (x**3).sum())
    """

    args, tensors, call = _wrapped("assert_second_order_match", f, arrays)
    report = gradgradcheck_report(call, tensors, eps=eps, atol=atol, rtol=rtol)
    if strict and report.kinks:
        report.passed = False
        report.notes.append("strict: a step crossed a kink (draw inputs away from kinks)")
    if not report.passed:
        raise GradcheckError(report)
    if reference is not None:
        _match_second_order(report, args, reference, atol, rtol)


def _wrapped(where: str, f: Callable, arrays: tuple) -> tuple:
    """(arguments with float arrays as Tensors named arg0..., those Tensors, f of the Tensors)."""
    args = [Tensor(np.array(a, dtype=np.float64), requires_grad=True, name=f"arg{i}")
            if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
            for i, a in enumerate(arrays)]
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not tensors:
        raise ValueError(f"{where}: no float array among the arguments to check")

    def call(*ts):
        it = iter(ts)
        return f(*[next(it) if isinstance(a, Tensor) else a for a in args])

    return args, tensors, call


def _match_second_order(report, args, reference, atol, rtol) -> None:
    """Compare the second-order VJPs with autograd's gradient of its own <gradient, w>."""
    # HIPS autograd is optional: only for reference= checks
    import autograd
    import autograd.numpy as anp

    raw = [a.data if isinstance(a, Tensor) else a for a in args]
    pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    u = report.upstream

    def first_dot(*xs):
        def scalar(*ys):
            out = reference(*ys)
            return anp.sum(out * u) if u is not None else out  # pyright: ignore[reportAttributeAccessIssue]

        total = 0.0
        for i, w in zip(pos, report.directions):
            total = total + anp.sum(autograd.grad(scalar, i)(*xs) * w)  # pyright: ignore[reportAttributeAccessIssue]
        return total

    for k, i in enumerate(pos):
        theirs = np.broadcast_to(np.asarray(autograd.grad(first_dot, i)(*raw), np.float64),
                                 raw[i].shape)
        ours = report.inputs[k].analytic
        if not np.allclose(ours, theirs, atol=atol, rtol=rtol):
            raise AssertionError(
                f"assert_second_order_match: the second-order VJP for arg{i} differs from HIPS "
                f"autograd's (relative error {rel_error(ours, theirs):.3g}):\n"
                f"  tinygrad_lc: {ours}\n  autograd:    {theirs}")


def _match_reference(report, args, reference, atol, rtol) -> None:
    """Compare the analytic gradients with HIPS autograd's gradient of ``reference``."""
    # HIPS autograd is optional: only for reference= checks
    import autograd
    import autograd.numpy as anp

    raw = [a.data if isinstance(a, Tensor) else a for a in args]
    pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    u = report.upstream

    def scalar(*xs):
        out = reference(*xs)
        return anp.sum(out * u) if u is not None else out  # pyright: ignore[reportAttributeAccessIssue]

    theirs = float(scalar(*raw))
    if not np.isclose(report.value, theirs, atol=atol, rtol=rtol):
        raise AssertionError(f"assert_grads_match: f gives {report.value!r}, the reference "
                             f"gives {theirs!r}")

    for k, i in enumerate(pos):

        def of_one(x, i=i):
            return scalar(*[x if j == i else r for j, r in enumerate(raw)])

        slope = autograd.grad(of_one)  # pyright: ignore[reportCallIssue]  (x is passed below)
        theirs = np.broadcast_to(np.asarray(slope(raw[i]), np.float64),
                                 raw[i].shape)
        ours = report.inputs[k].analytic
        if not np.allclose(ours, theirs, atol=atol, rtol=rtol):
            raise AssertionError(
                f"assert_grads_match: the gradient for arg{i} differs from HIPS autograd's "
                f"(relative error {rel_error(ours, theirs):.3g}):\n  tinygrad_lc: {ours}\n"
                f"  autograd:    {theirs}"
            )


__all__ = ['tensors', 'labels', 'score_matrices', 'classification_batches', 'assert_grads_match',
           'assert_second_order_match', 'register_profiles']


def register_profiles(load: bool = True) -> str | None:
    """Register the Hypothesis profiles ``dev`` and ``ci``; load ``$HYPOTHESIS_PROFILE`` (dev).

    ``dev``: 25 examples, no deadline. ``ci``: 100 examples, no deadline, ``print_blob=True``
    (a failure prints the ``@reproduce_failure`` line), the too_slow health check off.

    >>> register_profiles(load=False)
    >>> settings.get_profile("ci").max_examples
    100
    """
    settings.register_profile("dev", max_examples=25, deadline=None)
    settings.register_profile(
        "ci", max_examples=100, deadline=None, print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    if not load:
        return None
    name = os.environ.get("HYPOTHESIS_PROFILE", "dev")
    settings.load_profile(name)
    return name


def _shapes(where: str, shape, min_dims: int, max_dims: int, min_side: int, max_side: int):
    """(strategy of shapes, the fixed shape or None): ``shape`` fixed, a strategy or None."""
    if shape is None:
        return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                max_side=max_side), None
    if isinstance(shape, st.SearchStrategy):
        return shape, None
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    if not all(isinstance(n, int | np.integer) and n >= 0 for n in shape):
        raise ValueError(f"{where}: shape must hold ints >= 0, got {shape!r}")
    shape = tuple(int(n) for n in shape)
    return st.just(shape), shape


def _float_bounds(where: str, lo: float, hi: float, dtype) -> tuple:
    """Bounds rounded inward to ``dtype`` (Hypothesis wants them exactly representable)."""
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(f"{where}: need finite min_value <= max_value, got {lo!r}, {hi!r}")
    lo_d, hi_d = dtype.type(lo), dtype.type(hi)
    # compare as Python floats: NumPy would compare in the (coarser) dtype and call them equal
    lo_d = lo_d if float(lo_d) >= lo else np.nextafter(lo_d, dtype.type(np.inf))
    hi_d = hi_d if float(hi_d) <= hi else np.nextafter(hi_d, dtype.type(-np.inf))
    if lo_d > hi_d:
        raise ValueError(f"{where}: no {dtype} value lies in [{lo!r}, {hi!r}]; widen the range")
    return float(lo_d), float(hi_d)


class _Cells:
    """Disjoint cells ``[2 gap k, 2 gap k + gap / 2]`` inside [lo, hi], minus those closer than
    1.25 gap to a point in ``avoid``. Points of two different cells are >= 1.5 gap apart."""

    def __init__(self, where: str, lo: float, hi: float, gap: float, avoid: tuple, dtype):
        if not (isinstance(gap, int | float | np.floating) and gap > 0 and np.isfinite(gap)):
            raise ValueError(f"{where}: the gap must be a finite number > 0, got {gap!r}")
        if gap / 2 <= 4 * np.spacing(dtype.type(max(abs(lo), abs(hi)))):
            raise ValueError(f"{where}: a gap of {gap!r} is below {dtype}'s resolution near "
                             f"{max(abs(lo), abs(hi))!r}")
        self.where, self.lo, self.hi, self.gap, self.dtype = where, lo, hi, gap, dtype
        step = 2 * gap
        self.kmin, kmax = math.ceil(lo / step), math.floor((hi - gap / 2) / step)
        self.skip = sorted({
            k for a in avoid for k in range(math.floor((a - 1.5 * gap) / step) - 1,
                                            math.ceil((a + gap) / step) + 2)
            # keep 1.25 gap (not just gap) from a, so rounding cannot eat the promise
            if self.kmin <= k <= kmax and k * step - 1.25 * gap < a < k * step + 1.75 * gap
        })
        self.count = max(kmax - self.kmin + 1 - len(self.skip), 0)

    def check(self, size: int) -> None:
        if size > self.count:
            raise ValueError(
                f"{self.where}: {size} entries at least {self.gap!r} apart (and from the "
                f"avoided points) do not fit in [{self.lo!r}, {self.hi!r}], which has room "
                f"for {self.count}; widen the range or lower the gap")

    def _build(self, parts) -> np.ndarray:
        index, jitter = parts
        k = self.kmin + index
        for s in self.skip:  # ascending, so each shift sees the already shifted k
            k = k + (k >= s)
        return np.clip(k * (2 * self.gap) + jitter, self.lo, self.hi).astype(self.dtype)

    def arrays(self, shape: tuple) -> st.SearchStrategy:
        self.check(math.prod(shape))
        index = hnp.arrays(np.int64, shape, elements=st.integers(0, max(self.count - 1, 0)),
                           unique=True)
        jitter = hnp.arrays(np.float64, shape, elements=st.floats(0.0, self.gap / 2))
        return st.tuples(index, jitter).map(self._build)


def tensors(shape: int | tuple[int, ...] | st.SearchStrategy | None = None,
            dtype: DTypeLike = np.float64, min_value: float = -10.0, max_value: float = 10.0,
            min_gap: float = 0.0, min_dims: int = 1, max_dims: int = 2, min_side: int = 1,
            max_side: int = 5) -> st.SearchStrategy:
    """Float ndarrays (wrap them in ``Tensor``) built on ``hypothesis.extra.numpy.arrays``.

    Parameters
    ----------
    shape : int, tuple, strategy or None
        Fixed shape, or None for ``array_shapes(min_dims, max_dims, min_side, max_side)``.
    dtype : np.float64 or np.float32
    min_value, max_value : float
        Every entry lies in this closed range.
    min_gap : float
        If > 0: the sorted entries are at least ``min_gap`` apart (distinct, no ties for
        max/maximum) and at least ``min_gap`` away from 0 (no kink of abs/relu).

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(tensors(shape=(4,), min_gap=0.5))
    ... def test_gaps(x):
    ...     assert np.all(np.diff(np.sort(x)) >= 0.5) and np.all(np.abs(x) >= 0.5)
    >>> test_gaps()
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"tensors: dtype must be float32 or float64, got {dtype}")
    lo, hi = _float_bounds("tensors", min_value, max_value, dtype)
    shapes, fixed = _shapes("tensors", shape, min_dims, max_dims, min_side, max_side)
    if min_gap:
        cells = _Cells("tensors", lo, hi, min_gap, (0.0,), dtype)
        if fixed is not None:
            cells.check(math.prod(fixed))
        else:
            shapes = shapes.filter(lambda s: math.prod(s) <= cells.count)
        return shapes.flatmap(cells.arrays)
    elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, width=dtype.itemsize * 8)
    return hnp.arrays(dtype, shapes, elements=elements)


def labels(n: int, num_classes: int) -> st.SearchStrategy:
    """Integer class labels: int64 arrays of shape ``(n,)`` with values in ``[0, num_classes)``.

    >>> from hypothesis import given
    >>> @given(labels(5, num_classes=3))
    ... def test_range(y):
    ...     assert y.shape == (5,) and y.min() >= 0 and y.max() < 3
    >>> test_range()
    """
    for name, v in (("n", n), ("num_classes", num_classes)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"labels: {name} must be an int >= 1, got {v!r}")
    return hnp.arrays(np.int64, (int(n),), elements=st.integers(0, int(num_classes) - 1))


def _size(where: str, name: str, v, low: int, high: int, minimum: int):
    if v is None:
        return st.integers(low, high)
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < minimum:
        raise ValueError(f"{where}: {name} must be an int >= {minimum} or None, got {v!r}")
    return st.just(int(v))


def score_matrices(n: int | None = None, num_classes: int | None = None,
                   margin_gap: float = 0.1, delta: float = 1.0, min_value: float = -10.0,
                   max_value: float = 10.0) -> st.SearchStrategy:
    """``(scores, y)`` pairs, scores (n, C) float64 and labels (n,) int64, clear of every kink.

    For each row i and class j != y_i the hinge margin ``s_j - s_{y_i} + delta`` is at least
    ``margin_gap`` away from 0, and the scores of a row are pairwise at least ``margin_gap``
    apart (no ties for max). Scores lie in ``[min_value, max_value]`` (which must hold 0).
    ``n`` and ``num_classes`` default to drawn sizes (1..6 rows, 2..6 classes).

    >>> from hypothesis import given
    >>> @given(score_matrices(n=3, num_classes=4, margin_gap=0.2))
    ... def test_margins(batch):
    ...     s, y = batch
    ...     m = s - s[np.arange(3), y][:, None] + 1.0
    ...     m[np.arange(3), y] = 1.0  # the correct class has no margin
    ...     assert np.all(np.abs(m) >= 0.2)
    >>> test_margins()
    """
    where = "score_matrices"
    if not (np.isfinite(min_value) and np.isfinite(max_value) and min_value < 0 < max_value):
        raise ValueError(f"{where}: need finite min_value < 0 < max_value, got {min_value!r}, "
                         f"{max_value!r}")
    if isinstance(delta, bool) or not isinstance(delta, int | float | np.floating) \
            or not np.isfinite(delta):
        raise ValueError(f"{where}: delta must be a finite number, got {delta!r}")
    lo, hi = min_value / 2, max_value / 2
    # the margins d_j (= s_j - s_y + delta) avoid 0; s_j - s_y = d_j - delta avoids 0 too
    cells = _Cells(where, lo + delta, hi + delta, margin_gap, (0.0, float(delta)),
                   np.dtype(np.float64))
    rows = _size(where, "n", n, 1, 6, 1)
    classes = _size(where, "num_classes", num_classes, 2, min(6, cells.count + 1), 2)
    if num_classes is not None:
        cells.check(int(num_classes) - 1)
    return _score_matrices(rows, classes, cells, float(delta), lo, hi)


@st.composite
def _score_matrices(draw, rows, classes, cells, delta, lo, hi):
    n, c = draw(rows), draw(classes)
    y = draw(labels(n, c))
    base = draw(hnp.arrays(np.float64, (n,), elements=st.floats(lo, hi)))  # the s_{y_i}
    margins = cells.arrays((c - 1,))
    scores = np.empty((n, c))
    for i in range(n):
        scores[i, np.arange(c) != y[i]] = base[i] - delta + draw(margins)
        scores[i, y[i]] = base[i]
    return np.clip(scores, 2 * lo, 2 * hi), y


def classification_batches(n: int | None = None, num_features: int | None = None,
                           num_classes: int | None = None, margin_gap: float = 0.1,
                           delta: float = 1.0) -> st.SearchStrategy:
    """``(X, y, W)`` with X (n, D), labels y (n,) and weights W (D, C), float64.

    The scores ``X @ W`` have the properties of :func:`score_matrices` (hinge margins and
    pairwise score gaps of at least ``margin_gap``): W solves ``X @ W = S`` for a drawn score
    matrix S in [-5, 5], so ``num_features >= n`` is required (default: n to n + 3 features).
    X is ``[I | 0]`` plus a drawn perturbation of spectral norm <= 0.8, well conditioned by
    construction (entries within [-1.8, 1.8]).

    >>> from hypothesis import given
    >>> @given(classification_batches(n=4, num_features=6, num_classes=3))
    ... def test_shapes(batch):
    ...     X, y, W = batch
    ...     assert X.shape == (4, 6) and y.shape == (4,) and W.shape == (6, 3)
    >>> test_shapes()
    """
    where = "classification_batches"
    _size(where, "num_features", num_features, 1, 1, 1)  # validates a given value
    if n is not None and num_features is not None and num_features < n:
        raise ValueError(f"{where}: num_features must be >= n (here {n}), got {num_features}")
    if n is None and num_features is not None:
        n_max = min(6, int(num_features))
        scores = st.integers(1, n_max).flatmap(
            lambda k: score_matrices(k, num_classes, margin_gap, delta, -5.0, 5.0))
    else:
        scores = score_matrices(n, num_classes, margin_gap, delta, -5.0, 5.0)
    return _classification_batches(scores, num_features, margin_gap, delta)


@st.composite
def _classification_batches(draw, scores, num_features, margin_gap, delta):
    scores, y = draw(scores)
    rows = scores.shape[0]
    d = draw(st.integers(rows, rows + 3)) if num_features is None else int(num_features)
    A = draw(hnp.arrays(np.float64, (rows, d), elements=st.floats(-1.0, 1.0)))
    # [I | 0] plus a perturbation of norm <= 0.8: singular values in [0.2, 1.8], so X @ W = S
    # holds to rounding and W stays moderate
    X = np.eye(rows, d) + 0.8 * A / max(1.0, np.linalg.norm(A, 2))
    W = np.linalg.lstsq(X, scores, rcond=None)[0]
    s = X @ W
    m = s - s[np.arange(rows), y][:, None] + delta
    m[np.arange(rows), y] = np.inf
    gaps = np.diff(np.sort(s, axis=1), axis=1)
    # the promise, checked: rounding in the solve is far below the 1.5 gap of the draw
    draw(st.just(None).filter(lambda _: np.abs(m).min() >= margin_gap
                              and (gaps.size == 0 or gaps.min() >= margin_gap)))
    return X, y, W
