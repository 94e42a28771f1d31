"""Stochastic gradient descent with momentum, Nesterov momentum, weight decay and max-norm.

The update follows PyTorch's formulation. For each parameter p with gradient g:

    g = g + weight_decay * p                 (when weight_decay > 0)
    v = momentum * v + g                     (v starts as g on a parameter's first update)
    p = p - lr * (g + momentum * v)          (nesterov=True)
    p = p - lr * v                           (otherwise; v = g when momentum = 0)

then, with ``max_norm``, every 2-D parameter's columns are rescaled to norm <= max_norm
(``regularizers.max_norm_`` with axis 0: one column per class for W of shape (D, C)).

Updates write into each parameter's existing array, then bump its version, so references to
``p.data`` stay valid and a backward through the old value refuses to run.
"""

from __future__ import annotations

import numpy as np

from tinygrad_lc.core.checks import check_real, count_nonfinite
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.optim_adaptive import Adagrad, Adam, RMSprop  # noqa: F401  (re-exported)
from tinygrad_lc.optim_checks import check_grads, check_params, writeable_data
from tinygrad_lc.regularizers import max_norm_

__all__ = ["SGD"]

_KEYS = ("lr", "momentum", "nesterov", "weight_decay", "max_norm", "velocity")


class SGD:
    """Minibatch SGD over a list of parameter Tensors (PyTorch's momentum formulation).

    Parameters
    ----------
    params : list of Tensor
        Leaf tensors with ``requires_grad=True``; each appears once.
    lr : float
        Learning rate (> 0). May be changed between steps (e.g. a decay schedule).
    momentum : float
        In [0, 1); 0 is plain SGD.
    nesterov : bool
        Nesterov momentum (needs momentum > 0).
    weight_decay : float
        Adds ``weight_decay * p`` to each gradient (>= 0), i.e. an L2 penalty of
        ``weight_decay / 2 * sum p**2``.
    max_norm : float or None
        After each step, rescale each column of every 2-D parameter to L2 norm <= max_norm.

    Notes
    -----
    Parameters whose ``grad`` is None are skipped (their velocity is kept as it was). Every
    other ``grad`` must be a real NumPy array of its parameter's exact shape (a hand-set one is
    never broadcast) without NaN or inf; otherwise ``step()`` raises TypeError or ValueError,
    naming the parameter's index and shape, before changing any parameter.
    ``state_dict()`` returns plain numbers and arrays only:

    - ``"lr"``, ``"momentum"``, ``"weight_decay"``: float; ``"nesterov"``: bool;
    - ``"max_norm"``: float or None;
    - ``"velocity"``: list, one entry per parameter in ``params`` order: a copy of its
      velocity array, or None before its first momentum update (or when momentum is 0).

    Examples
    --------
    >>> w = Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> w.data
    array([ 0.46, -0.92])
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        max_norm: float | None = None,
    ):
        params = check_params("SGD", params)
        self.params: list[Tensor] = params
        self.lr = lr
        self.momentum = check_real("SGD", "momentum", momentum, hi=1.0)
        if not isinstance(nesterov, bool | np.bool_):
            raise TypeError(f"SGD: nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0, got momentum=0.0")
        self.weight_decay = check_real("SGD", "weight_decay", weight_decay)
        self.max_norm = None if max_norm is None else check_real("SGD", "max_norm", max_norm,
                                                                 lo_open=True)
        self.velocity: list[np.ndarray | None] = [None] * len(params)

    @property
    def lr(self) -> float:
        """The learning rate; assigning it (e.g. ``opt.lr *= 0.95``) validates the new value."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_real("SGD", "lr", value, lo_open=True)

    def _set_scheduled_lr(self, value: float) -> None:
        """Set a rate computed by a schedule from a validated one (e.g. ``lr * decay``).

        Not user input, so not held to ``lr > 0``: a long decay underflows to 0.0, which is a
        valid rate (steps stop moving) and must not end the run. Only NaN, inf and negative
        values, which no schedule of positive factors produces, are refused.
        """
        self._lr = check_real("SGD", "scheduled lr", value)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None (the next backward starts afresh)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place (see the module docstring)."""
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        self._check_grads()
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            data = writeable_data(p)
            if wd:
                g = g + wd * data
            if mu:
                v = self.velocity[i]
                if v is None:
                    v = self.velocity[i] = np.array(g, dtype=data.dtype, copy=True)
                else:
                    v *= mu
                    v += g
                g = g + mu * v if self.nesterov else v
            # write into the existing array so outside references to p.data see the update
            data -= lr * g
            p._bump_version()
            if self.max_norm is not None and data.ndim == 2:
                max_norm_(p, self.max_norm, axis=0)

    def _check_grads(self) -> None:
        """Refuse, before changing anything, gradients that are not real arrays of their
        parameter's shape or that hold NaN/inf (``optim_checks.check_grads``)."""
        check_grads("SGD.step", self.params)

    def state_dict(self) -> dict:
        """The hyperparameters and velocities as plain numbers and array copies (keys above)."""
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "max_norm": self.max_norm,
            "velocity": [None if v is None else v.copy() for v in self.velocity],
        }

    def load_state_dict(self, d: dict) -> None:
        """Restore a ``state_dict()``; the next ``step()`` continues exactly where it left off.

        Raises ValueError (nothing changed) when keys are missing or unknown, a value is out of
        range, or the velocities do not match the parameters in number or shape or hold NaN or
        inf. ``lr`` may be 0: a decay schedule can bring it there (see ``fit``'s ``lr_decay``).
        """
        if not isinstance(d, dict):
            raise TypeError(f"SGD.load_state_dict: expected a dict, got {type(d).__name__}")
        missing = [k for k in _KEYS if k not in d]
        unknown = sorted(str(k) for k in d if k not in _KEYS)
        if missing or unknown:
            raise ValueError(
                f"SGD.load_state_dict: missing keys {missing}, unknown keys {unknown}; "
                f"expected exactly {list(_KEYS)}"
            )
        where = "SGD.load_state_dict"
        lr = check_real(where, "lr", d["lr"])  # >= 0: a decayed rate may have reached 0.0
        mu = check_real(where, "momentum", d["momentum"], hi=1.0)
        nesterov = d["nesterov"]
        if isinstance(nesterov, np.ndarray) and nesterov.ndim == 0:
            nesterov = nesterov.item()
        if not isinstance(nesterov, bool | np.bool_):
            raise ValueError(f"SGD.load_state_dict: nesterov must be a bool, got {nesterov!r}")
        if nesterov and mu == 0:
            raise ValueError("SGD.load_state_dict: nesterov=True needs momentum > 0")
        wd = check_real(where, "weight_decay", d["weight_decay"])
        mn = d["max_norm"]
        mn = None if mn is None else check_real(where, "max_norm", mn, lo_open=True)
        vel = d["velocity"]
        if not isinstance(vel, list | tuple) or len(vel) != len(self.params):
            got = len(vel) if isinstance(vel, list | tuple) else type(vel).__name__
            raise ValueError(
                f"SGD.load_state_dict: velocity must be a list of {len(self.params)} entries "
                f"(one per parameter), got {got}"
            )
        new_vel = []
        for i, (v, p) in enumerate(zip(vel, self.params)):
            if v is not None:
                try:
                    v = np.asarray(v)
                except (TypeError, ValueError):  # e.g. a ragged list
                    v = np.asarray(None)
                if v.shape != p.shape or v.dtype.kind != "f":
                    raise ValueError(
                        f"SGD.load_state_dict: velocity[{i}] has shape {v.shape} and dtype "
                        f"{v.dtype}, expected floats of shape {p.shape} like params[{i}]"
                    )
                with np.errstate(over="ignore"):  # float64 beyond float32's range: inf, refused
                    v = np.array(v, dtype=p.dtype, copy=True)
                bad = count_nonfinite(v)
                if bad:
                    raise ValueError(
                        f"SGD.load_state_dict: velocity[{i}] (shape {v.shape}) holds {bad} NaN "
                        f"or infinite value(s) (in {p.dtype}); a saved velocity is always finite"
                    )
            new_vel.append(v)
        # everything is valid: assign (nothing below can fail)
        self._lr, self.momentum, self.nesterov = lr, mu, bool(nesterov)
        self.weight_decay, self.max_norm, self.velocity = wd, mn, new_vel
