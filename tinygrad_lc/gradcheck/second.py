"""Second-order gradient checks: ``gradgradcheck`` (re-exported by ``tinygrad_lc.gradcheck``).

The first-order gradient of ``f`` is itself a function of the inputs (and, for a non-scalar
``f``, of its upstream gradient ``u``): ``F(x, u) = grad_x (u . f)(x)``, all inputs' gradients
in one vector. ``gradgradcheck`` checks *its* gradient with
:func:`~tinygrad_lc.gradcheck.gradcheck`, which contracts ``F`` with fixed random directions
``w``: the second-order VJP (the backward of ``<F, w>`` through the gradient recorded with
``create_graph=True``) is compared with central differences of ``F`` (each a plain first-order
backward), taken entry by entry and then contracted with ``w``. Kinks of ``f`` are reported as
in ``gradcheck``: a step whose kink states differ is a kink, not a mismatch.

>>> import tinygrad_lc as tg
>>> w = tg.Tensor([0.5, -1.5, 2.0], requires_grad=True, name="w")
>>> gradgradcheck(lambda w: (w * w.exp()).sum(), w)
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_lc.autodiff import grad
from tinygrad_lc.core.checks import check_flag
from tinygrad_lc.core.functional import concatenate
from tinygrad_lc.core.modes import enable_grad, is_grad_enabled, no_grad
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.gradcheck.reports import GradcheckReport
from tinygrad_lc.gradcheck.run import GradcheckError, checked_args, run_check

__all__ = ["gradgradcheck", "gradgradcheck_report"]


def gradgradcheck(f: Callable, inputs: Tensor | np.ndarray | Sequence[Tensor | np.ndarray],
                  grad_outputs: ArrayLike | Sequence[ArrayLike] | None = None,
                  eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check ``f``'s second-order VJPs against central differences of its first-order ones.

    Parameters
    ----------
    f : callable
        Called as ``f(*inputs)``; returns a Tensor.
    inputs : Tensor or sequence of Tensors
        Those with ``requires_grad=True`` are checked (in float64, on temporary copies).
    grad_outputs : array, optional
        The upstream gradient ``u`` of a non-scalar ``f`` (random when not given). It is
        checked as one more input, named 'grad_outputs': the gradient is linear in it.
    eps, atol, rtol : float
        Step and tolerances, per entry ``|analytic - numerical| <= atol + rtol * |numerical|``.
    raise_exception : bool
        Raise :class:`~tinygrad_lc.gradcheck.GradcheckError` (with ``.report``) on failure.

    Examples
    --------
    >>> import tinygrad_lc as tg
    >>> s = tg.Tensor([[0.5, 1.5], [2.0, 1.0]], requires_grad=True, name="s")
    >>> gradgradcheck(lambda s: s.softmax(axis=1), s)
    True
    """
    check_flag("gradgradcheck", "raise_exception", raise_exception)
    report = gradgradcheck_report(f, inputs, grad_outputs, eps, atol, rtol)
    if not report.passed and raise_exception:
        raise GradcheckError(report)
    return report.passed


def gradgradcheck_report(f: Callable,
                         inputs: Tensor | np.ndarray | Sequence[Tensor | np.ndarray],
                         grad_outputs: ArrayLike | Sequence[ArrayLike] | None = None,
                         eps: float = 1e-6,
                         atol: float = 1e-5, rtol: float = 1e-3) -> GradcheckReport:
    """Run :func:`gradgradcheck` and return its report; ``report.directions`` holds the w_i.

    >>> import tinygrad_lc as tg
    >>> x = tg.Tensor([1.0, -2.0], requires_grad=True, name="x")
    >>> print(gradgradcheck_report(lambda x: (x**3).sum(), x))
    gradgradcheck passed (eps=1e-06, atol=1e-05, rtol=0.001)
      'x' (input 0), shape (2,): ok; worst relative error at index (...): analytic ...,
        numerical ..., relative error ...
      relative error = |a - n| / max(|a| + |n|, 1e-8) for analytic a and numerical n;
        an entry fails when |a - n| > atol + rtol * |n|
      note: checked d/dx of sum_i <grad_i f, w_i> for random w_i (second-order VJP)
    """
    where = "gradgradcheck"
    tensors, eps = checked_args(where, f, inputs, eps, atol, rtol)
    with no_grad():
        probe = f(*tensors)
    if not isinstance(probe, Tensor):
        raise TypeError(f"{where}: f must return a Tensor, got {type(probe).__name__}")
    upstream = None
    if grad_outputs is not None or probe.size != 1:
        data = np.random.default_rng(0).standard_normal(probe.shape) if grad_outputs is None \
            else np.array(grad_outputs.data if isinstance(grad_outputs, Tensor) else grad_outputs,
                          dtype=np.float64)
        if data.shape != probe.shape:
            raise ValueError(f"{where}: grad_outputs has shape {data.shape}, expected "
                             f"{probe.shape} (the shape of f's result)")
        upstream = Tensor(data, requires_grad=True, name="grad_outputs")
    checked = [i for i, t in enumerate(tensors) if t.requires_grad]
    F = _first_order(where, f, len(tensors), checked, upstream is not None)
    extra = [upstream] if upstream is not None else []
    report = run_check(F, [*tensors, *extra], eps, atol, rtol,
                  False, False, where=where)
    w = np.ones(1) if report.upstream is None else report.upstream  # gradcheck's random u
    ends = np.cumsum([tensors[i].size for i in checked])[:-1]
    report.directions = [part.reshape(tensors[i].shape)
                         for i, part in zip(checked, np.split(w, ends))]
    report.upstream = None if upstream is None else upstream.data
    report.notes = [n.replace("f's result does not", "f's gradient does not")
                    for n in report.notes if not n.startswith("f returns shape")]
    report.notes.append("checked d/dx of sum_i <grad_i f, w_i> for random w_i (second-order VJP)")
    return report


def _first_order(where, f, n, checked, has_upstream) -> Callable:
    """F(*inputs[, u]): the gradients of ``u . f`` in one vector, recorded when the graph is."""

    def F(*args):
        xs, u = args[:n], (args[n] if has_upstream else None)
        recorded = is_grad_enabled()  # gradcheck's probes run F under no_grad()
        with enable_grad():
            out = f(*xs)
        if not isinstance(out, Tensor):
            raise TypeError(f"{where}: f must return a Tensor, got {type(out).__name__}")
        if not out.requires_grad:
            return Tensor(np.zeros(sum(xs[i].size for i in checked)))
        gs = grad(out, [xs[i] for i in checked], grad_outputs=u, create_graph=recorded,
                  allow_unused=True)
        return concatenate([g.reshape(-1) for g in gs])

    return F
