"""Gradient checking: central differences against the engine's backward, kinks told apart.

A finite-difference step that crosses a kink of ``max``, ``maximum``, ``abs`` or ``relu`` gives
a difference quotient that is no derivative at all. The engine logs which side of each kink
every evaluated op is on (``tensor._kink_log``), so :func:`gradcheck` compares those states at
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

import numpy as np

from .gradcheck_probes import (
    _caller,
    _check_callable,
    _check_step,
    _evaluate,
    _float64_copies,
    _kink_change,
    _label,
    _narrow,
    _perturbable,
    _probe,
    _scalar,
    _values,
)
from .gradcheck_reports import GradcheckReport, InputCheck, Kink, LocalCheck
from .modes import no_grad
from .ops import NUMPY, _unbroadcast
from .tensor import Tensor

__all__ = [  # noqa: F822  (gradgradcheck and its report come from module __getattr__)
    "numerical_gradient", "rel_error", "grad_check_sparse", "gradcheck", "gradcheck_report",
    "gradgradcheck", "gradgradcheck_report", "GradcheckError", "GradcheckReport",
    "GradcheckWarning",
]


def __getattr__(name: str):
    """``gradgradcheck`` and its report live in ``gradcheck_second`` (imported on first use)."""
    if name in ("gradgradcheck", "gradgradcheck_report"):
        from . import gradcheck_second

        return getattr(gradcheck_second, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class GradcheckWarning(UserWarning):
    """A check ran, but not quite as asked (e.g. float32 data checked in float64)."""


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` on a mismatch; ``report`` holds the :class:`GradcheckReport`.

    An ``AssertionError`` so that a failed check inside a test reads as a failed assertion.
    """

    def __init__(self, report: GradcheckReport):
        super().__init__(str(report))
        self.report = report


# ---------------------------------------------------------------------- comparing
def _compare(analytic, numerical, atol, rtol, kinks, strict=False):
    """Return (mask of bad entries, worst index, relative error there) for allclose-style checks.

    Entries in the ``kinks`` mask are left out, or all count as bad when ``strict``.
    """
    err = np.abs(analytic - numerical)
    bound = atol + rtol * np.abs(numerical)
    bad = ~(err <= bound) & ~kinks  # NaN counts as bad
    if strict:
        bad |= kinks
    excess = np.where(np.isnan(err), np.inf, err - bound)
    if bad.any():
        pool = np.where(bad, excess, -np.inf)
    else:  # all fine: show the worst entry that counted (not an excluded kink)
        pool = excess if kinks.all() else np.where(kinks, -np.inf, excess)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(pool)), analytic.shape)) \
        if analytic.size else None
    rel = float(rel_error(analytic[worst], numerical[worst])) if worst is not None else 0.0
    return bad, worst, rel


# ---------------------------------------------------------------------- public functions
def numerical_gradient(f: Callable, x, h: float = 1e-6) -> np.ndarray:
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

    Returns
    -------
    np.ndarray
        float64, shaped like x.

    Examples
    --------
    >>> x = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda: np.sum(x ** 3), x).round(6)
    array([ 3., 12.])
    """
    where = "numerical_gradient"
    _check_callable(where, f)
    h = _check_step(where, h)
    note = _narrow(where, x)
    if note:
        warnings.warn(note, GradcheckWarning, stacklevel=2)
    call = _caller(f, x)
    value = lambda v: _scalar(where, v)
    with _perturbable(where, x) as work:
        grad = np.zeros(work.shape)
        for idx in np.ndindex(work.shape):
            grad[idx] = _probe(where, work, idx, h, call, value)[0]
    return grad


def rel_error(a, b) -> float:
    """Largest elementwise relative error ``|a - b| / max(1e-8, |a| + |b|)``.

    >>> rel_error([1.0, 2.0], [1.0, 3.0])
    0.2
    """
    a = np.asarray(a.data if isinstance(a, Tensor) else a, dtype=np.float64)
    b = np.asarray(b.data if isinstance(b, Tensor) else b, dtype=np.float64)
    try:
        err = np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))
    except ValueError:
        raise ValueError(f"rel_error: shapes {a.shape} and {b.shape} do not broadcast") from None
    return float(np.max(err)) if err.size else 0.0


def grad_check_sparse(f: Callable, x, analytic_grad, num_checks: int = 10, h: float = 1e-5,
                      seed=None, verbose: bool = True, *, return_kinks: bool = False):
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
    _check_callable(where, f)
    h = _check_step(where, h)
    if isinstance(num_checks, bool) or not isinstance(num_checks, int | np.integer) \
            or num_checks < 1:
        raise ValueError(f"{where}: num_checks must be a positive int, got {num_checks!r}")
    shape = (x._data if isinstance(x, Tensor) else np.asarray(x)).shape
    ana = np.asarray(analytic_grad.data if isinstance(analytic_grad, Tensor) else analytic_grad,
                     dtype=np.float64)
    if ana.shape != shape:
        raise ValueError(f"{where}: analytic_grad has shape {ana.shape}, expected {shape} (x)")
    note = _narrow(where, x)
    if note:
        warnings.warn(note, GradcheckWarning, stacklevel=2)
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    picks = rng.choice(size, size=num_checks, replace=num_checks > size) if size else []
    call = _caller(f, x)
    value = lambda v: _scalar(where, v)
    errors = np.zeros(len(picks))
    kinks = np.zeros(len(picks), dtype=bool)
    with _perturbable(where, x) as work:
        base = _evaluate(call)[1]
        for k, flat in enumerate(picks):
            idx = tuple(int(i) for i in np.unravel_index(int(flat), shape))
            num, lp, lm = _probe(where, work, idx, h, call, value)
            errors[k] = rel_error(num, ana[idx])
            kink = _kink_change(base, lp) or _kink_change(base, lm)
            kinks[k] = bool(kink)
            if verbose:
                flag = f"  (kink: op '{kink[0]}' changed side)" if kink else ""
                print(f"{idx}: numerical {num: .6e}  analytic {ana[idx]: .6e}  "
                      f"relative error {errors[k]:.3e}{flag}")
    return (errors, kinks) if return_kinks else errors


def gradcheck(f: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
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
    report = _run(f, inputs, eps, atol, rtol, strict, localize)
    if not report.passed and raise_exception:
        raise GradcheckError(report)
    return report.passed


def gradcheck_report(f: Callable, inputs, eps: float = 1e-6, atol: float = 1e-5,
                     rtol: float = 1e-4, strict: bool = False,
                     localize: bool = False) -> GradcheckReport:
    """Run :func:`gradcheck` and return its :class:`GradcheckReport` instead of a verdict.

    >>> x = Tensor([1.0, -2.0], requires_grad=True, name="x")
    >>> print(gradcheck_report(lambda x: x.abs().sum(), x))
    gradcheck passed (eps=1e-06, atol=1e-05, rtol=0.0001)
      'x' (input 0), shape (2,): ok; worst at index (...): analytic ..., numerical ...
    """
    return _run(f, inputs, eps, atol, rtol, strict, localize)


def _checked_args(where: str, f, inputs, eps, atol, rtol) -> tuple[list, float]:
    """The inputs as a list of Tensors (some requiring grad) and the step, or a named error."""
    _check_callable(where, f)
    eps = _check_step(where, eps)
    for name, tol in (("atol", atol), ("rtol", rtol)):
        if not isinstance(tol, int | float | np.floating) or not tol >= 0:
            raise ValueError(f"{where}: {name} must be a number >= 0, got {tol!r}")
    tensors = [inputs] if isinstance(inputs, Tensor) else list(inputs) \
        if isinstance(inputs, Sequence) and not isinstance(inputs, str) else None
    if tensors is None or not all(isinstance(t, Tensor) for t in tensors):
        got = type(inputs).__name__ if tensors is None else ", ".join(
            type(t).__name__ for t in tensors)
        raise TypeError(f"{where}: inputs must be a Tensor or a list of Tensors, got {got}")
    if len({id(t) for t in tensors}) != len(tensors):
        raise ValueError(f"{where}: the same Tensor appears twice in inputs")
    if not any(t.requires_grad for t in tensors):
        raise ValueError(f"{where}: no input requires grad; create them with requires_grad=True")
    return tensors, eps


def _run(f, inputs, eps, atol, rtol, strict, localize, where="gradcheck") -> GradcheckReport:
    tensors, eps = _checked_args(where, f, inputs, eps, atol, rtol)
    checked = [(i, t) for i, t in enumerate(tensors) if t.requires_grad]
    notes = [n for n in (_narrow(where, t) for _, t in checked) if n]
    for n in notes:
        warnings.warn(n, GradcheckWarning, stacklevel=3)
    old_grads = [t.grad for t in tensors]
    call = lambda: f(*tensors)
    with _float64_copies([t for _, t in checked]):
        try:
            for _, t in checked:
                t.grad = None
            out, base = _evaluate(call)
            if not isinstance(out, Tensor):
                raise TypeError(f"{where}: f must return a Tensor, got {type(out).__name__}")
            u = None
            if out.size != 1:
                u = np.random.default_rng(0).standard_normal(out.shape)
                notes.append(f"f returns shape {out.shape}: checked sum(f * u), u random")
            value0 = _scalar(where, out, u)
            if out.requires_grad:
                out.backward(u)
            else:
                notes.append("f's result does not depend on the inputs in the graph")
            grads = [np.zeros(t.shape) if t.grad is None else np.array(t.grad, np.float64)
                     for _, t in checked]
            local = _local_checks(out, eps, atol, rtol) if localize else None
            del out
            value, contract = (lambda v: _scalar(where, v)), None
            if u is not None:  # differences entry by entry, then contracted with u
                value, contract = (lambda v: _values(where, v)), (lambda d: float(np.sum(d * u)))
            results = []
            with no_grad():
                for (i, t), ana in zip(checked, grads):
                    results.append(_check_input(f"{where}: input {i}", _label(t, i), t._data,
                                                ana, call, value, base, eps, atol, rtol, strict,
                                                contract))
        finally:
            for t, g in zip(tensors, old_grads):
                t.grad = g
    passed = not any(c.bad for c in results) and not (local and any(c.bad for c in local))
    return GradcheckReport(passed, results, eps, atol, rtol, strict, local, notes, value0, u,
                           title=where)


def _check_input(where, label, work, ana, call, value, base, eps, atol, rtol, strict,
                 contract=None):
    num = np.zeros(work.shape)
    kinks, at_kink = [], np.zeros(work.shape, dtype=bool)
    for idx in np.ndindex(work.shape):
        num[idx], lp, lm = _probe(where, work, idx, eps, call, value, contract)
        up, down = _kink_change(base, lp), _kink_change(base, lm)
        if up or down:
            side = "both" if up and down else "+eps" if up else "-eps"
            kinks.append(Kink(label, idx, *(up or down), side, float(ana[idx]), float(num[idx])))
            at_kink[idx] = True
    bad, worst, rel = _compare(ana, num, atol, rtol, at_kink, strict)
    return InputCheck(label, ana, num, kinks, int(bad.sum()), worst, rel)


def _local_checks(out: Tensor, eps: float, atol: float, rtol: float) -> list:
    """Check each node's recorded VJPs against differences of its op's forward, in forward order."""
    nodes, seen, stack = [], {id(out)}, [out]
    while stack:
        t = stack.pop()
        if t._opdef is not None:
            nodes.append(t)
        for p in t.parents:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    nodes.sort(key=lambda t: t._seq)
    rng = np.random.default_rng(1)
    checks = []
    for t in nodes:
        op, kw = t._opdef, t._kw or {}
        datas = [np.array(p._data, dtype=np.float64) for p in t.parents]
        u = rng.standard_normal(t.shape)
        kink0 = op.kink(*datas, **kw) if op.kink else None
        for i, p in enumerate(t.parents):
            if not p.requires_grad:
                continue
            vjp = t._vjps[i](NUMPY, u, np.asarray(op.fwd(*datas, **kw)), *datas, **kw)
            ana = _unbroadcast(np.asarray(vjp, dtype=np.float64), p.shape)
            num, skip = np.zeros(p.shape), np.zeros(p.shape, dtype=bool)
            w = datas[i]
            for idx in np.ndindex(p.shape):
                orig, outs = w[idx], []
                for step in (eps, -eps):
                    w[idx] = orig + step
                    with np.errstate(all="ignore"):  # a step out of log/sqrt's domain is skipped
                        outs.append(np.array(op.fwd(*datas, **kw), dtype=np.float64))
                    if kink0 is not None and not np.array_equal(kink0, op.kink(*datas, **kw)):
                        skip[idx] = True
                w[idx] = orig
                num[idx] = np.sum((outs[0] - outs[1]) * u) / (2 * eps)
                skip[idx] |= not np.isfinite(num[idx])
            bad, worst, rel = _compare(ana, num, atol, rtol, skip)
            pick = worst if worst is not None else ()
            checks.append(LocalCheck(
                t.op, t.scope, i, [q.shape for q in t.parents], t.shape, int(bad.sum()),
                int(skip.sum()), worst,
                float(ana[pick]) if ana.size else 0.0, float(num[pick]) if num.size else 0.0, rel))
    return checks
