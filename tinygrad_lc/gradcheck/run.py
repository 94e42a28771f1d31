"""How one gradient check runs, shared by ``gradcheck`` and ``gradgradcheck``.

:func:`run_check` checks the backward of ``f`` against central differences for every input that
requires grad, on float64 copies, with kinks reported and (``localize``) every node's own VJP
checked; :func:`~tinygrad_lc.gradcheck.gradcheck` and
:func:`~tinygrad_lc.gradcheck.second.gradgradcheck` (which runs it on the gradient of ``f``)
turn its :class:`GradcheckReport` into a verdict. Import the public names from
``tinygrad_lc.gradcheck``.

>>> rel_error([1.0, 2.0], [1.0, 3.0])
0.2
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_lc.core.checks import check_flag
from tinygrad_lc.core.modes import no_grad
from tinygrad_lc.core.ops import NUMPY, unbroadcast_to
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.gradcheck.probes import (
    check_callable,
    check_step,
    evaluate,
    float64_copies,
    input_label,
    kink_change,
    narrow,
    probe,
    scalar_value,
    value_array,
)
from tinygrad_lc.gradcheck.reports import GradcheckReport, InputCheck, Kink, LocalCheck

__all__ = ["GradcheckError", "GradcheckWarning", "rel_error"]


class GradcheckWarning(UserWarning):
    """A check ran, but not quite as asked (e.g. float32 data checked in float64)."""


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` on a mismatch; ``report`` holds the :class:`GradcheckReport`.

    An ``AssertionError`` so that a failed check inside a test reads as a failed assertion.
    """

    def __init__(self, report: GradcheckReport):
        super().__init__(str(report))
        self.report = report


for _public in (GradcheckWarning, GradcheckError):  # shown (and imported) as gradcheck's
    _public.__module__ = "tinygrad_lc.gradcheck"


# ---------------------------------------------------------------------- comparing
def _compare(analytic, numerical, atol, rtol, kinks, strict=False):
    """Return (mask of bad entries, worst index, relative error there) for allclose-style checks.

    An entry fails when ``|a - n| > atol + rtol * |n|`` (NaN fails). Entries in the ``kinks``
    mask are left out, or all count as bad when ``strict``. The worst entry is the one with the
    largest relative error (:func:`rel_error`, NaN ranked highest) among the failing
    entries if any fail, else among the entries that counted (off kinks; all of them when every
    entry is at a kink): the same number a summary of the check reports. Relative errors that
    print alike (3 significant digits: a factor-2 bug gives 0.333 everywhere) are told apart
    by the absolute error ``|a - n|``, not by rounding noise.
    """
    err = np.abs(analytic - numerical)
    bound = atol + rtol * np.abs(numerical)
    bad = ~(err <= bound) & ~kinks  # NaN counts as bad
    if strict:
        bad |= kinks
    if not analytic.size:
        return bad, None, 0.0
    rel = _rel_errors(analytic, numerical)
    if bad.any():
        pool = bad
    else:  # all fine: the worst entry that counted (not an excluded kink)
        pool = np.ones_like(kinks) if kinks.all() else ~kinks
    shown = np.where(pool, _significant(np.where(np.isnan(rel), np.inf, rel)), -np.inf)
    ties = np.where(shown == shown.max(), np.where(np.isnan(err), np.inf, err), -np.inf)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(ties)), analytic.shape))
    return bad, worst, float(rel[worst])


def _significant(x: np.ndarray, digits: int = 3) -> np.ndarray:
    """``x >= 0`` rounded to ``digits`` significant digits (0 and inf as they are)."""
    finite = np.isfinite(x) & (x > 0)
    scale = 10.0 ** np.floor(np.log10(np.where(finite, x, 1.0)))
    return np.where(finite, np.round(x / scale, digits - 1) * scale, x)


def _rel_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise relative error ``|a - b| / max(|a| + |b|, 1e-8)`` (see :func:`rel_error`)."""
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, counted as the worst
        return np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))


def rel_error(a: Tensor | ArrayLike, b: Tensor | ArrayLike) -> float:
    """Largest elementwise relative error ``|a - b| / max(|a| + |b|, 1e-8)``.

    The relative error every gradient check reports, entry by entry; the verdict of
    :func:`gradcheck` is the separate per-entry test ``|a - n| <= atol + rtol * |n|``.

    >>> rel_error([1.0, 2.0], [1.0, 3.0])
    0.2
    """
    a = np.asarray(a.data if isinstance(a, Tensor) else a, dtype=np.float64)
    b = np.asarray(b.data if isinstance(b, Tensor) else b, dtype=np.float64)
    try:
        err = _rel_errors(a, b)
    except ValueError:
        raise ValueError(f"rel_error: shapes {a.shape} and {b.shape} do not broadcast") from None
    return float(np.max(err)) if err.size else 0.0


rel_error.__module__ = "tinygrad_lc.gradcheck"



def checked_args(where: str, f, inputs, eps, atol, rtol) -> tuple[list, float]:
    """The inputs as a list of Tensors (some requiring grad) and the step, or a named error."""
    check_callable(where, f)
    eps = check_step(where, eps)
    for name, tol in (("atol", atol), ("rtol", rtol)):
        # finite: rtol=inf (or NaN) would pass any gradient, however wrong
        if isinstance(tol, bool | np.bool_) or not isinstance(tol, int | float | np.integer |
                                                                np.floating) \
                or not math.isfinite(tol) or tol < 0:
            raise ValueError(f"{where}: {name} must be a finite number >= 0, got {tol!r}")
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


def run_check(f, inputs, eps, atol, rtol, strict, localize, where="gradcheck") -> GradcheckReport:
    check_flag(where, "strict", strict)
    check_flag(where, "localize", localize)
    tensors, eps = checked_args(where, f, inputs, eps, atol, rtol)
    checked = [(i, t) for i, t in enumerate(tensors) if t.requires_grad]
    notes = [n for n in (narrow(where, t) for _, t in checked) if n]
    for n in notes:
        warnings.warn(n, GradcheckWarning, stacklevel=3)
    old_grads = [t.grad for t in tensors]
    call = lambda: f(*tensors)
    with float64_copies([t for _, t in checked]):
        try:
            for _, t in checked:
                t.grad = None
            out, base = evaluate(call)
            if not isinstance(out, Tensor):
                raise TypeError(f"{where}: f must return a Tensor, got {type(out).__name__}")
            u = None
            if out.size != 1:
                u = np.random.default_rng(0).standard_normal(out.shape)
                notes.append(f"f returns shape {out.shape}: checked sum(f * u), u random")
            value0 = scalar_value(where, out, u)
            if out.requires_grad:
                out.backward(u)
            else:
                notes.append("f's result does not depend on the inputs in the graph")
            grads = [np.zeros(t.shape) if t.grad is None else np.array(t.grad, np.float64)
                     for _, t in checked]
            local = _local_checks(out, eps, atol, rtol) if localize else None
            del out
            value, contract = (lambda v: scalar_value(where, v)), None
            if u is not None:  # differences entry by entry, then contracted with u
                value = lambda v: value_array(where, v)  # noqa: E731
                contract = lambda d: float(np.sum(d * u))  # noqa: E731
            results = []
            with no_grad():
                for (i, t), ana in zip(checked, grads):
                    results.append(_check_input(f"{where}: input {i}", input_label(t, i), t._data,
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
        num[idx], lp, lm = probe(where, work, idx, eps, call, value, contract)
        up, down = kink_change(base, lp), kink_change(base, lm)
        if up or down:
            side = "both" if up and down else "+eps" if up else "-eps"
            op, scope, entries = up or down  # type: ignore[misc]  # one of them is set
            kinks.append(Kink(label, idx, op, scope, entries, side, float(ana[idx]),
                              float(num[idx])))
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
            ana = unbroadcast_to(np.asarray(vjp, dtype=np.float64), p.shape)
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
