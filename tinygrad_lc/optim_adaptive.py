"""Adaptive optimizers: Adam, RMSprop and Adagrad, with PyTorch's update rules and defaults.

For each parameter p with gradient g, at its t-th update (t counts the steps in which p had
a gradient, as PyTorch's per-parameter ``step``):

    g = g + weight_decay * p                                    (when weight_decay > 0)
    Adam:    m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
             p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    RMSprop: v = alpha v + (1 - alpha) g^2,  p = p - lr * g / (sqrt(v) + eps)
    Adagrad: s = s + g^2,  p = p - lr * g / (sqrt(s) + eps)

with m, v and s starting at 0 (PyTorch's ``amsgrad``, ``momentum``, ``centered`` and
``lr_decay`` options are not offered). As ``SGD``, a step writes into each parameter's
array and bumps its version, skips parameters whose ``grad`` is None, and refuses
gradients of the wrong shape or holding NaN/inf before changing anything.
"""

from __future__ import annotations

import math

import numpy as np

from tinygrad_lc.core.checks import check_count, check_real, count_nonfinite
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.optim_checks import check_grads, check_params, writeable_data

__all__ = ["Adam", "RMSprop", "Adagrad"]


class _Adaptive:
    """What the three share: parameters, lr, per-parameter step counts and state arrays,
    the checks, ``step``'s loop, ``state_dict`` and ``load_state_dict``.

    A subclass lists its hyperparameters in ``_HYPER`` and its state arrays in ``_SLOTS``
    (those in ``_SQUARES`` hold sums of squares, never negative), validates its
    hyperparameters in ``_checked`` and updates one parameter in ``_update``.
    """

    _HYPER: tuple[str, ...] = ()  # the constructor's hyperparameters, state_dict keys too
    _SLOTS: tuple[str, ...] = ()
    _SQUARES: tuple[str, ...] = ()

    def __init__(self, params, **hyper):
        where = type(self).__name__
        self.params: list[Tensor] = check_params(where, params)
        for key, value in self._checked(where, **hyper).items():
            setattr(self, key, value)
        n = len(self.params)
        self.steps: list[int] = [0] * n
        self.state: dict[str, list[np.ndarray | None]] = {k: [None] * n for k in self._SLOTS}

    @property
    def lr(self) -> float:
        """The learning rate; assigning it (e.g. ``opt.lr *= 0.95``) validates the new value."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_real(type(self).__name__, "lr", value, lo_open=True)

    def _set_scheduled_lr(self, value: float) -> None:
        """Set a rate computed by a schedule (``lr * decay``), as ``SGD`` does: it may
        underflow to 0.0 (steps stop moving; the run goes on); NaN, inf and negatives are
        refused."""
        self._lr = check_real(type(self).__name__, "scheduled lr", value)

    def _checked(self, where: str, *, loading: bool = False, **hyper) -> dict:  # pragma: no cover
        raise NotImplementedError  # each subclass validates its own hyperparameters

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None (the next backward starts afresh)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place (see the module docstring)."""
        check_grads(f"{type(self).__name__}.step", self.params)
        wd = self.weight_decay
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            data = writeable_data(p)
            if wd:
                g = g + wd * data
            if self.steps[i] == 0:
                for k in self._SLOTS:
                    self.state[k][i] = np.zeros_like(data)
            self.steps[i] += 1
            self._update(data, g, self.steps[i], *(self.state[k][i] for k in self._SLOTS))
            p._bump_version()

    def state_dict(self) -> dict:
        """Hyperparameters, per-parameter step counts and state arrays (copies), plain data.

        Keys: the constructor's hyperparameters, ``"step"`` (a list of ints, one per
        parameter) and one list per state array (``None`` before a parameter's first update).
        """
        return {**{k: getattr(self, k) for k in self._HYPER}, "step": list(self.steps),
                **{k: [None if a is None else a.copy() for a in self.state[k]]
                   for k in self._SLOTS}}

    def load_state_dict(self, d: dict) -> None:
        """Restore a ``state_dict()``; the next ``step()`` continues exactly where it left off.

        Everything is checked before anything changes: unknown or missing keys, bad
        hyperparameters, step counts, or state arrays that do not fit the parameters (wrong
        number, shape or dtype, NaN/inf, negative sums of squares) raise ValueError or
        TypeError naming the key, and the optimizer keeps its state.
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if not isinstance(d, dict):
            raise TypeError(f"{where}: expected a dict, got {type(d).__name__}")
        keys = (*self._HYPER, "step", *self._SLOTS)
        missing = [k for k in keys if k not in d]
        unknown = sorted(str(k) for k in d if k not in keys)
        if missing or unknown:
            raise ValueError(f"{where}: missing keys {missing}, unknown keys {unknown}; "
                             f"expected exactly {list(keys)}")
        hyper = self._checked(where, loading=True, **{k: d[k] for k in self._HYPER})
        n = len(self.params)
        steps = self._list(where, "step", d["step"], n)
        steps = [check_count(where, f"step[{i}]", s.item() if isinstance(s, np.ndarray) else s,
                             0) for i, s in enumerate(steps)]
        state = {}
        for k in self._SLOTS:
            arrays = []
            for i, (v, p) in enumerate(zip(self._list(where, k, d[k], n), self.params)):
                if (v is None) != (steps[i] == 0):
                    raise ValueError(f"{where}: {k}[{i}] is {'None' if v is None else 'an array'}"
                                     f" but step[{i}] is {steps[i]}; a parameter has state "
                                     "exactly when it has been updated")
                if v is not None:
                    v = self._array(where, f"{k}[{i}]", v, p, k in self._SQUARES)
                arrays.append(v)
            state[k] = arrays
        # everything is valid: assign (nothing below can fail)
        self._lr = hyper.pop("lr")
        for key, value in hyper.items():
            setattr(self, key, value)
        self.steps, self.state = steps, state

    @staticmethod
    def _list(where: str, key: str, value, n: int) -> list:
        if not isinstance(value, list | tuple) or len(value) != n:
            got = f"{len(value)} entries" if isinstance(value, list | tuple) else \
                type(value).__name__
            raise ValueError(f"{where}: {key} must be a list of {n} entries (one per "
                             f"parameter), got {got}")
        return list(value)

    @staticmethod
    def _array(where: str, key: str, v, p: Tensor, squares: bool) -> np.ndarray:
        try:
            v = np.asarray(v)
        except (TypeError, ValueError):  # e.g. a ragged list
            v = np.asarray(None)
        if v.shape != p.shape or v.dtype.kind != "f":
            raise ValueError(f"{where}: {key} has shape {v.shape} and dtype {v.dtype}, "
                             f"expected floats of shape {p.shape} like the parameter")
        with np.errstate(over="ignore"):  # float64 beyond float32's range: inf, refused below
            v = np.array(v, dtype=p.dtype, copy=True)
        bad = count_nonfinite(v)
        if bad:
            raise ValueError(f"{where}: {key} holds {bad} NaN or infinite value(s) (in "
                             f"{p.dtype}); saved optimizer state is always finite")
        if squares and v.size and v.min() < 0:
            raise ValueError(f"{where}: {key} holds negative values (min {v.min():.4g}); "
                             "it is a running sum of squares")
        return v


def _common(where: str, lr, eps, weight_decay, loading: bool) -> dict:
    # a loaded lr may be 0.0: a decay schedule can bring it there (see MLPClassifier.fit)
    return {"lr": check_real(where, "lr", lr, lo_open=not loading),
            "eps": check_real(where, "eps", eps, lo_open=True),
            "weight_decay": check_real(where, "weight_decay", weight_decay)}


class Adam(_Adaptive):
    """Adam (Kingma and Ba, 2015) with PyTorch's update and defaults; see the module docstring.

    Parameters
    ----------
    params : list of Tensor
        Leaf tensors with ``requires_grad=True`` (e.g. ``net.parameters()``).
    lr : float
        Step size (> 0); may be changed between steps (``opt.lr *= 0.95``).
    betas : (float, float)
        Decay rates of the running mean of g and of g^2, each in [0, 1).
    eps : float
        Added to the denominator (> 0).
    weight_decay : float
        Adds ``weight_decay * p`` to the gradient (an L2 penalty of weight_decay / 2 * sum p^2).

    Examples
    --------
    The first step moves every entry by lr, whatever the gradient's size:

    >>> w = Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data
    array([ 0.9, -1.9])
    """

    _SLOTS = ("exp_avg", "exp_avg_sq")
    _SQUARES = ("exp_avg_sq",)
    _HYPER = ("lr", "betas", "eps", "weight_decay")

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def _checked(self, where, lr, betas, eps, weight_decay, loading=False) -> dict:
        if isinstance(betas, np.ndarray):
            betas = betas.tolist()
        if not isinstance(betas, list | tuple) or len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), each in [0, 1), "
                             f"got {betas!r}")
        betas = tuple(check_real(where, f"betas[{i}]", b, hi=1.0) for i, b in enumerate(betas))
        return {**_common(where, lr, eps, weight_decay, loading), "betas": betas}

    def _update(self, p, g, t, m, v) -> None:
        b1, b2 = self.betas
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        denom = np.sqrt(v)
        denom /= math.sqrt(1 - b2**t)
        denom += self.eps
        step = np.divide(m, denom, out=denom)
        step *= self.lr / (1 - b1**t)
        p -= step


class RMSprop(_Adaptive):
    """RMSprop (Hinton's lecture 6e) with PyTorch's update and defaults; see the module
    docstring. ``alpha`` (in [0, 1)) is the decay rate of the running mean of g^2.

    Examples
    --------
    >>> w = Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()  # v = 0.01 g^2, so each entry moves by lr / sqrt(0.01) = 0.1
    >>> w.data
    array([ 0.9, -1.9])
    """

    _SLOTS = ("square_avg",)
    _SQUARES = ("square_avg",)
    _HYPER = ("lr", "alpha", "eps", "weight_decay")

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)

    def _checked(self, where, lr, alpha, eps, weight_decay, loading=False) -> dict:
        return {**_common(where, lr, eps, weight_decay, loading),
                "alpha": check_real(where, "alpha", alpha, hi=1.0)}

    def _update(self, p, g, t, v) -> None:
        v *= self.alpha
        v += (1 - self.alpha) * (g * g)
        denom = np.sqrt(v)
        denom += self.eps
        step = np.divide(g, denom, out=denom)
        step *= self.lr
        p -= step


class Adagrad(_Adaptive):
    """Adagrad (Duchi et al., 2011) with PyTorch's update and defaults; see the module
    docstring. The sum of squared gradients only grows, so steps shrink over time.

    Examples
    --------
    >>> w = Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()  # s = g^2: each entry moves by lr
    >>> w.data
    array([ 0.9, -1.9])
    """

    _SLOTS = ("sum",)
    _SQUARES = ("sum",)
    _HYPER = ("lr", "eps", "weight_decay")

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, eps=eps, weight_decay=weight_decay)

    def _checked(self, where, lr, eps, weight_decay, loading=False) -> dict:
        return _common(where, lr, eps, weight_decay, loading)

    def _update(self, p, g, t, s) -> None:
        s += g * g
        denom = np.sqrt(s)
        denom += self.eps
        step = np.divide(g, denom, out=denom)
        step *= self.lr
        p -= step
