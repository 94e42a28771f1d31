"""Gradient checking: central differences against the engine's backward, kinks told apart.

A finite-difference step that crosses a kink of ``max``, ``maximum``, ``abs`` or ``relu`` gives
a difference quotient that is no derivative at all. The engine logs which side of each kink
every evaluated op is on (``tensor.kink_log``), so :func:`gradcheck` compares those states at
``x``, ``x + eps`` and ``x - eps`` and reports a coordinate whose step changed them as a kink,
not as a wrong gradient. With ``localize=True`` it also checks every node's own VJP at the
values of the forward pass and names the first op whose local derivative is wrong.

>>> import numpy as np
>>> import tinygrad_lc as tg
>>> w = tg.Tensor([0.5, -1.5, 2.0], requires_grad=True, name="w")
>>> gradcheck(lambda w: (w * w.exp()).sum(), w)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_lc.core.checks import check_flag
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.gradcheck.probes import (
    caller,
    check_callable,
    check_step,
    evaluate,
    kink_change,
    narrow,
    perturbable,
    probe,
    scalar_value,
    value_array,
)
from tinygrad_lc.gradcheck.reports import GradcheckReport
from tinygrad_lc.gradcheck.run import GradcheckError, GradcheckWarning, rel_error, run_check
from tinygrad_lc.gradcheck.second import gradgradcheck, gradgradcheck_report

__all__ = [
    "numerical_gradient", "rel_error", "grad_check_sparse", "gradcheck", "gradcheck_report",
    "gradgradcheck", "gradgradcheck_report", "GradcheckError", "GradcheckReport",
    "GradcheckWarning",
]


# ---------------------------------------------------------------------- public functions
def numerical_gradient(f: Callable, x: Tensor | np.ndarray, h: float = 1e-6,
                       upstream: ArrayLike | None = None) -> np.ndarray:
    """Central differences ``(f(x + h e_i) - f(x - h e_i)) / 2h`` of a scalar ``f`` for every entry.

    Parameters
    ----------
    f : callable
        ``f()`` (or ``f(x)`` if it takes an argument) returning a scalar: float, 0-d/1-element
        array or 1-element Tensor.
    x : np.ndarray or Tensor
        Perturbed in place one entry at a time and restored bitwise, even if f raises. A Tensor
        gets a temporary float64 copy of its data (its array object comes back afterwards) and
        f runs under ``no_grad()``; a float32 Tensor is so checked in float64, with a
        :class:`GradcheckWarning`. A float32 ndarray can only be perturbed in float32 (warned).
    h : float
        The step. The difference is divided by the step really taken after rounding.
    upstream : array_like, optional
        For an ``f`` returning an array: the gradient of ``sum(f(x) * upstream)`` (a
        vector-Jacobian product), ``upstream`` shaped like f's result. The two results of
        each step are subtracted entry by entry before the sum.

    Returns
    -------
    np.ndarray
        float64, shaped like x.

    Examples
    --------
    >>> x = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda: np.sum(x ** 3), x).round(6)
    array([ 3., 12.])
    >>> numerical_gradient(lambda x: x ** 2, x, upstream=[1.0, 10.0]).round(6)
    array([ 2., 40.])
    """
    where = "numerical_gradient"
    check_callable(where, f)
    h = check_step(where, h)
    note = narrow(where, x)
    if note:
        warnings.warn(note, GradcheckWarning, stacklevel=2)
    call = caller(f, x)
    contract = None
    value: Callable[[object], float | np.ndarray]
    if upstream is None:
        value = lambda v: scalar_value(where, v)
    else:
        u = np.asarray(upstream.data if isinstance(upstream, Tensor) else upstream)
        if u.dtype.kind not in "fiub":
            raise TypeError(f"{where}: upstream must hold real numbers, got dtype {u.dtype}")
        u = u.astype(np.float64)

        def array_value(v: object) -> np.ndarray:
            arr = value_array(where, v)
            if arr.shape != u.shape:
                raise ValueError(f"{where}: f returned shape {arr.shape}, but upstream has "
                                 f"shape {u.shape}; they must match")
            return arr

        value = array_value
        contract = lambda d: float(np.sum(d * u))  # noqa: E731
    with perturbable(where, x) as work:
        grad = np.zeros(work.shape)
        for idx in np.ndindex(work.shape):
            grad[idx] = probe(where, work, idx, h, call, value, contract)[0]
    return grad


MAX_CHECKS = 100_000  # entries grad_check_sparse checks at most


@overload
def grad_check_sparse(f: Callable, x: Tensor | np.ndarray, analytic_grad: ArrayLike,
                      num_checks: int = 10, h: float = 1e-5,
                      seed: int | np.random.Generator | None = None, verbose: bool = True, *,
                      return_kinks: Literal[False] = False) -> np.ndarray: ...
@overload
def grad_check_sparse(f: Callable, x: Tensor | np.ndarray, analytic_grad: ArrayLike,
                      num_checks: int = 10, h: float = 1e-5,
                      seed: int | np.random.Generator | None = None, verbose: bool = True, *,
                      return_kinks: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...
def grad_check_sparse(f: Callable, x: Tensor | np.ndarray, analytic_grad: ArrayLike,
                      num_checks: int = 10, h: float = 1e-5,
                      seed: int | np.random.Generator | None = None, verbose: bool = True, *,
                      return_kinks: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Compare ``analytic_grad`` with central differences at ``num_checks`` random entries of x.

    Prints one line per entry: index, numerical and analytic values, relative error, and
    whether the step met a kink. ``f`` is called as ``f(x)`` (like the classic assignment
    tool) or ``f()`` if it takes no argument; x is perturbed as in :func:`numerical_gradient`.

    Returns
    -------
    np.ndarray
        The relative errors, one per checked entry; with ``return_kinks=True`` the pair
        ``(errors, kinks)``, ``kinks[k]`` True where entry k's step met a kink.

    Examples
    --------
    >>> W = np.arange(6.0).reshape(3, 2)
    >>> errs = grad_check_sparse(lambda W: np.sum(W ** 2), W, 2 * W, num_checks=2, seed=0)
    (2, 0): numerical  8.000000e+00  analytic  8.000000e+00  relative error ...
    (1, 1): numerical  6.000000e+00  analytic  6.000000e+00  relative error ...
    >>> bool(errs.max() < 1e-8)
    True
    """
    where = "grad_check_sparse"
    check_callable(where, f)
    h = check_step(where, h)
    if isinstance(num_checks, bool) or not isinstance(num_checks, int | np.integer) \
            or num_checks < 1:
        raise ValueError(f"{where}: num_checks must be a positive int, got {num_checks!r}")
    if num_checks > MAX_CHECKS:  # before the picks are drawn: one int64 each
        raise ValueError(f"{where}: num_checks must be at most {MAX_CHECKS:,} (each one "
                         f"evaluates f twice), got {num_checks:,}")
    shape = (x._data if isinstance(x, Tensor) else np.asarray(x)).shape
    ana = np.asarray(analytic_grad.data if isinstance(analytic_grad, Tensor) else analytic_grad,
                     dtype=np.float64)
    if ana.shape != shape:
        raise ValueError(f"{where}: analytic_grad has shape {ana.shape}, expected {shape} (x)")
    note = narrow(where, x)
    if note:
        warnings.warn(note, GradcheckWarning, stacklevel=2)
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    picks = rng.choice(size, size=num_checks, replace=num_checks > size) if size else []
    call = caller(f, x)
    value = lambda v: scalar_value(where, v)
    errors = np.zeros(len(picks))
    kinks = np.zeros(len(picks), dtype=bool)
    with perturbable(where, x) as work:
        base = evaluate(call)[1]
        for k, flat in enumerate(picks):
            idx = tuple(int(i) for i in np.unravel_index(int(flat), shape))
            num, lp, lm = probe(where, work, idx, h, call, value)
            errors[k] = rel_error(num, ana[idx])
            kink = kink_change(base, lp) or kink_change(base, lm)
            kinks[k] = bool(kink)
            if verbose:
                flag = f"  (kink: op '{kink[0]}' changed side)" if kink else ""
                print(f"{idx}: numerical {num: .6e}  analytic {ana[idx]: .6e}  "
                      f"relative error {errors[k]:.3e}{flag}")
    return (errors, kinks) if return_kinks else errors


def gradcheck(f: Callable, inputs: Tensor | np.ndarray | Sequence[Tensor | np.ndarray],
              eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
              raise_exception: bool = True, strict: bool = False, localize: bool = False) -> bool:
    """Check ``f``'s backward against central differences for every input that requires grad.

    Parameters
    ----------
    f : callable
        Called as ``f(*inputs)``; returns a Tensor. A non-scalar result is contracted with a
        fixed random upstream gradient ``u`` (the check then covers ``sum(f * u)``).
    inputs : Tensor or sequence of Tensors
        Those with ``requires_grad=True`` are checked, the others are constants. They are
        checked in float64 on temporary copies (float32 ones with a warning); their data
        and ``.grad`` are as before afterwards.
    eps, atol, rtol : float
        Step, and the test ``|analytic - numerical| <= atol + rtol * |numerical|`` per entry.
    raise_exception : bool
        Raise :class:`GradcheckError` (an AssertionError carrying ``.report``) on failure
        instead of returning False.
    strict : bool
        Count coordinates whose step crossed (or sat on) a kink as failures; by default
        they are reported and excluded from the verdict.
    localize : bool
        Also check every node's VJP locally and name the first op whose own derivative is
        wrong (costs about as much as the global check).

    Examples
    --------
    >>> import tinygrad_lc as tg
    >>> s = tg.Tensor([[0.5, 1.5], [2.0, 1.0]], requires_grad=True)
    >>> hinge = lambda s: tg.maximum(0, s - s[[0, 1], [1, 0]][:, None] + 1).sum()
    >>> gradcheck(hinge, s)  # s[0,0] - s[0,1] + 1 = 0: the kink is reported, not failed
    True
    >>> gradcheck(hinge, s, strict=True)
    Traceback (most recent call last):
    ...
    tinygrad_lc.gradcheck.GradcheckError: gradcheck FAILED (eps=1e-06, ..., strict)
    ...
    """
    check_flag("gradcheck", "raise_exception", raise_exception)
    report = run_check(f, inputs, eps, atol, rtol, strict, localize)
    if not report.passed and raise_exception:
        raise GradcheckError(report)
    return report.passed


def gradcheck_report(f: Callable, inputs: Tensor | np.ndarray | Sequence[Tensor | np.ndarray],
                     eps: float = 1e-6, atol: float = 1e-5,
                     rtol: float = 1e-4, strict: bool = False,
                     localize: bool = False) -> GradcheckReport:
    """Run :func:`gradcheck` and return its :class:`GradcheckReport` instead of a verdict.

    >>> x = Tensor([1.0, -2.0], requires_grad=True, name="x")
    >>> print(gradcheck_report(lambda x: x.abs().sum(), x))
    gradcheck passed (eps=1e-06, atol=1e-05, rtol=0.0001)
      'x' (input 0), shape (2,): ok; worst relative error at index (...): analytic ...,
        numerical ..., relative error ...
      relative error = |a - n| / max(|a| + |n|, 1e-8) for analytic a and numerical n;
        an entry fails when |a - n| > atol + rtol * |n|

    The worst entry of each input is the one with the largest relative error: among the
    failing entries if any fail, else among the entries off kinks (the same maximum
    ``tinygrad-lc gradcheck`` prints as its "max relative error").
    """
    return run_check(f, inputs, eps, atol, rtol, strict, localize)


