"""The assertions of :mod:`tinygrad_lc.testing`: gradients and second derivatives of a user's
function checked against central differences (and HIPS autograd, given a reference).

>>> import numpy as np
>>> assert_grads_match(lambda a: (a * a).sum(), np.array([1.0, 2.0]))
>>> assert_second_order_match(lambda a: (a * a * a).sum(), np.array([1.0, 2.0]))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.gradcheck.check import GradcheckError, gradcheck_report, rel_error

__all__ = ["assert_grads_match", "assert_second_order_match"]


def assert_grads_match(f: Callable, *arrays, eps: float = 1e-6, atol: float = 1e-5,
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
        A :class:`~tinygrad_lc.gradcheck.check.GradcheckError` carrying ``.report``.

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


def assert_second_order_match(f: Callable, *arrays, eps: float = 1e-6, atol: float = 1e-5,
                              rtol: float = 1e-3, strict: bool = True,
                              reference: Callable | None = None) -> None:
    """Assert that ``f``'s second derivatives match central differences of its gradient.

    The second-order twin of :func:`assert_grads_match`, built on
    :func:`~tinygrad_lc.gradcheck.check.gradgradcheck`: for random directions ``w_i`` the gradient
    of ``sum_i <grad_i f, w_i>`` (a Hessian-vector product for a scalar ``f``) is checked.
    Arguments are as in :func:`assert_grads_match`; with ``reference`` (``autograd.numpy``
    code) the second-order VJPs must also match HIPS autograd's ``grad`` of its own gradient.
    By default a step across a kink fails: draw inputs away from kinks.

    Examples
    --------
    >>> assert_second_order_match(lambda x: (x**3).sum(), np.array([1.0, -2.0]),
    ...                           reference=lambda x: (x**3).sum())
    """
    from tinygrad_lc.gradcheck.check import gradgradcheck_report

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
    import autograd
    import autograd.numpy as anp

    raw = [a.data if isinstance(a, Tensor) else a for a in args]
    pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    u = report.upstream

    def first_dot(*xs):
        def scalar(*ys):
            out = reference(*ys)
            return anp.sum(out * u) if u is not None else out

        total = 0.0
        for i, w in zip(pos, report.directions):
            total = total + anp.sum(autograd.grad(scalar, i)(*xs) * w)
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
    import autograd
    import autograd.numpy as anp

    raw = [a.data if isinstance(a, Tensor) else a for a in args]
    pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    u = report.upstream

    def scalar(*xs):
        out = reference(*xs)
        return anp.sum(out * u) if u is not None else out

    theirs = float(scalar(*raw))
    if not np.isclose(report.value, theirs, atol=atol, rtol=rtol):
        raise AssertionError(f"assert_grads_match: f gives {report.value!r}, the reference "
                             f"gives {theirs!r}")

    for k, i in enumerate(pos):

        def of_one(x, i=i):
            return scalar(*[x if j == i else r for j, r in enumerate(raw)])

        theirs = np.broadcast_to(np.asarray(autograd.grad(of_one)(raw[i]), np.float64),
                                 raw[i].shape)
        ours = report.inputs[k].analytic
        if not np.allclose(ours, theirs, atol=atol, rtol=rtol):
            raise AssertionError(
                f"assert_grads_match: the gradient for arg{i} differs from HIPS autograd's "
                f"(relative error {rel_error(ours, theirs):.3g}):\n  tinygrad_lc: {ours}\n"
                f"  autograd:    {theirs}"
            )
