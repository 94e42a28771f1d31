"""Optimizers: one ``Optimizer`` base, and SGD, Adam, RMSprop and Adagrad with PyTorch's rules.

For each parameter p with gradient g, at its t-th update (t counts the steps in which p had
a gradient, as PyTorch's per-parameter ``step``):

    g = g + weight_decay * p                                    (every optimizer, when > 0)
    SGD:     v = momentum v + g  (v = g at p's first update),   p = p - lr v
             (nesterov: p = p - lr (g + momentum v); momentum = 0: p = p - lr g)
    Adam:    m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
             p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    RMSprop: v = alpha v + (1 - alpha) g^2,  p = p - lr g / (sqrt(v) + eps)
    Adagrad: s = s + g^2,  p = p - lr g / (sqrt(s) + eps)

with m, v and s starting at 0. SGD's ``max_norm`` then rescales every 2-D parameter's columns
to norm <= max_norm (``regularizers.max_norm_`` with axis 0: one column per class for W of
shape (D, C)). PyTorch's ``amsgrad``, RMSprop's ``momentum`` and ``centered`` and Adagrad's
``lr_decay`` options are not offered.

The base does everything but the rule: it checks the parameters, holds ``lr``, refuses bad
gradients before any parameter changes, skips parameters whose ``grad`` is None, writes each
update into the parameter's existing array and bumps its version (so references to ``p.data``
stay valid and a backward through the old value refuses to run), and saves and restores the
state. A subclass names its hyperparameters and state arrays and writes ``update``. The base
keeps copies of each parameter and its state, runs it with NumPy's overflow, invalid and
divide-by-zero flags raising, and when an update raises, puts every parameter and state back
and raises a ``FloatingPointError`` naming the parameter: a step changes all or nothing. (A
finite gradient whose square overflows, |g| > 1.8e19 in float32, would otherwise make Adam's,
RMSprop's or Adagrad's running sum of squares inf, every later step 0, so the parameter
stops for good, and the next checkpoint unloadable.)

``eps`` (Adam, RMSprop, Adagrad) must be at least the smallest normal number of the
parameters' dtype (``np.finfo(dtype).tiny``: 1.2e-38 for float32, 2.2e-308 for float64). eps
is added to the denominator ``sqrt(v) + eps`` in that dtype; a smaller eps is subnormal, so it
rounds to 0 (1e-50 in float32) or is flushed to 0 by a CPU in flush-to-zero mode, and then
an entry whose gradient has always been 0 divides 0 by 0: NaN. A normal eps keeps the
denominator positive, so such an entry's step is 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_lc.core.checks import check_count, check_real, count_nonfinite
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.regularizers import max_norm_

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "Adagrad"]


def writeable_data(p: Tensor) -> np.ndarray:
    """``p.data``, made writeable first when it is not (a read-only array assigned to it):
    the setter keeps a writeable copy of its own, so the in-place step is not lost."""
    if not p.data.flags.writeable:
        p.data = np.array(p.data)
    return p.data


class Optimizer:
    """Base of the optimizers: parameters, ``lr``, the step loop, checks and saved state.

    A subclass declares its names and writes its rule:

    - ``hyperparameters``: the constructor's numbers, saved by ``state_dict`` in this order
      (``"lr"`` and ``"weight_decay"`` are the base's, every optimizer has them);
    - ``state_names``: its per-parameter arrays (``self.state[name][i]`` for ``params[i]``,
      None before the parameter's first update); ``sums_of_squares``: those never negative;
    - ``counts_steps``: keep ``self.steps[i]``, the t of ``params[i]`` (saved as ``"step"``);
      when set, the base starts a parameter's state arrays at zeros before its first update;
    - ``check_hyperparameters``: extends the base's, validating the subclass's own numbers;
    - ``update(i, p, g)``: one parameter's rule, in place on its array ``p`` and its state.

    ``step()`` is the template: check every gradient; for each parameter with one, add the
    weight decay, copy the parameter and its state (into arrays kept from step to step, so
    no step allocates) and run ``update`` in place, with NumPy's overflow, invalid and
    divide-by-zero flags raising; when any update raises, every parameter and state goes
    back to its copy and nothing has changed; else count the steps, bump the versions and
    ``project`` (a constraint after the step, e.g. SGD's ``max_norm``; none by default).

    Parameters
    ----------
    params : list of Tensor
        Leaf tensors with ``requires_grad=True`` (e.g. ``net.parameters()``), each once.
    **hyper
        The subclass's ``hyperparameters`` by name, passed on by its constructor.

    Examples
    --------
    A new optimizer is its rule (signSGD: step by lr against the gradient's sign):

    >>> class SignSGD(Optimizer):
    ...     hyperparameters = ("lr", "weight_decay")
    ...
    ...     def __init__(self, params, lr: float, weight_decay: float = 0.0):
    ...         super().__init__(params, lr=lr, weight_decay=weight_decay)
    ...
    ...     def update(self, i, p, g):
    ...         # p = p - lr sign(g)
    ...         p -= self.lr * np.sign(g)
    >>> w = Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SignSGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data, opt.steps
    (array([ 0.5, -1.5]), [1])
    >>> opt.state_dict()
    {'lr': 0.5, 'weight_decay': 0.0, 'step': [1]}

    The checks every optimizer runs, on its parameters and on the gradients before a step:

    >>> SignSGD(w, lr=0.5)
    Traceback (most recent call last):
    ...
    TypeError: SignSGD: params must be a list of Tensors, got a single Tensor; wrap it: \
SignSGD([W], ...)
    >>> w.grad = np.array([0.5, np.nan])
    >>> opt.step()
    Traceback (most recent call last):
    ...
    ValueError: SignSGD.step: the gradient of params[0] (shape (2,)) holds 1 NaN or infinite \
value(s); no parameter was changed (find the op with tg.detect_anomaly(), or lower the \
learning rate)
    """

    hyperparameters: tuple[str, ...] = ("lr", "weight_decay")
    state_names: tuple[str, ...] = ()
    sums_of_squares: tuple[str, ...] = ()
    counts_steps: bool = True

    def __init__(self, params: Iterable[Tensor], **hyper: Any) -> None:
        self.params: list[Tensor] = self.check_params(params)
        checked = self.check_hyperparameters(type(self).__name__, hyper)
        self._lr: float = checked.pop("lr")
        self.weight_decay: float = checked.pop("weight_decay")
        for key, value in checked.items():
            setattr(self, key, value)
        n = len(self.params)
        self.steps: list[int] | None = [0] * n if self.counts_steps else None
        self.state: dict[str, list[np.ndarray | None]] = {k: [None] * n
                                                          for k in self.state_names}
        self._spares: dict[tuple[int, str], np.ndarray] = {}  # step's working arrays

    # ------------------------------------------------------------------ what a subclass writes
    def check_hyperparameters(self, where: str, hyper: dict[str, Any], *,
                              loading: bool = False) -> dict[str, Any]:
        """``hyper`` validated, as a dict of plain values; raises TypeError or ValueError
        naming ``where``. The base checks ``lr`` (> 0; >= 0 when ``loading`` a saved state,
        which a decay schedule may have brought to 0.0) and ``weight_decay`` (>= 0); a
        subclass adds its own to the dict this returns."""
        return {"lr": check_real(where, "lr", hyper["lr"], lo_open=not loading),
                "weight_decay": check_real(where, "weight_decay", hyper["weight_decay"])}

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:  # pragma: no cover
        """Update ``params[i]``'s array ``p`` in place from its gradient ``g`` (weight decay
        already added), with the state in ``self.state[name][i]`` (in place, or set when it
        is None) and ``self.steps[i]``. ``step()`` puts them back when an update raises."""
        raise NotImplementedError(f"{type(self).__name__} must define update(i, p, g)")

    def project(self, param: Tensor) -> None:
        """Constrain ``param`` after its update (SGD's ``max_norm``); nothing by default."""

    # ------------------------------------------------------------------ learning rate
    @property
    def lr(self) -> float:
        """The learning rate; assigning it (e.g. ``opt.lr *= 0.95``) validates the new value."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = check_real(type(self).__name__, "lr", value, lo_open=True)

    def set_scheduled_lr(self, value: float) -> None:
        """Set a rate computed by a schedule from a validated one (``lr * lr_decay``, as the
        models' ``fit`` does every epoch).

        Not user input, so not held to ``lr > 0``: a long decay underflows to 0.0, which is a
        valid rate (steps stop moving) and must not end the run. Only NaN, inf and negative
        values, which no schedule of positive factors produces, are refused.
        """
        self._lr = check_real(type(self).__name__, "scheduled lr", value)

    # ------------------------------------------------------------------ the step
    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None (the next backward starts afresh)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place (see the module docstring).

        Raises
        ------
        TypeError, ValueError
            A gradient of the wrong kind or shape, or holding NaN/inf (``check_grads``).
        FloatingPointError
            An update overflowed (or gave NaN): no parameter and no state was changed.
        """
        self.check_grads()
        wd, steps, names = self.weight_decay, self.steps, self.state_names
        staged = []  # (i, its array, a copy of it, its state arrays, copies of them)
        i = g = None
        try:
            # each rule in place, with overflow, NaN and x/0 raising; copies to go back to
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                for i, param in enumerate(self.params):
                    g = param.grad
                    if g is None:
                        continue
                    p = writeable_data(param)
                    saved = self._spare(i, "", p)
                    np.copyto(saved, p)
                    before = {k: self.state[k][i] for k in names}
                    copies: dict = {}
                    staged.append((i, p, saved, before, copies))
                    if steps is not None:
                        steps[i] += 1
                    for k, old in before.items():
                        if old is not None:
                            copies[k] = self._spare(i, k, old)
                            np.copyto(copies[k], old)
                        elif steps is not None and steps[i] == 1:  # the first update: zeros
                            self.state[k][i] = np.zeros_like(p)
                    if wd:
                        # g = g + weight_decay * p
                        g = g + wd * p
                    self.update(i, p, g)
        except BaseException as exc:
            for k_i, p, saved, before, copies in staged:  # back to before the step
                np.copyto(p, saved)
                for k, old in before.items():
                    self.state[k][k_i] = copies.get(k, old)
                    if k in copies:
                        self._spares[(k_i, k)] = old  # changed in place: a spare now
                if steps is not None:
                    steps[k_i] -= 1
            if isinstance(exc, FloatingPointError) and i is not None and g is not None:
                raise FloatingPointError(self._overflow(i, self.params[i], g, exc)) from None
            raise
        for k_i, _, _, _, copies in staged:  # every update was clean
            for k, copy in copies.items():
                self._spares[(k_i, k)] = copy
            self.params[k_i]._bump_version()
            self.project(self.params[k_i])

    def work(self, i: int) -> np.ndarray:
        """A work array shaped like ``params[i]`` (its dtype), kept from step to step, for
        an update's intermediate values: written with ``out=``, a step allocates nothing
        (a new array of a CIFAR-10 weight's size per ufunc costs more than the ufunc)."""
        return self._spare(i, "work", self.params[i]._data)

    def _spare(self, i: int, key: str, like: np.ndarray) -> np.ndarray:
        """An array of ``like``'s shape and dtype for a copy of ``params[i]`` (key "") or of
        its state ``key``, kept from step to step so that no step allocates one."""
        a = self._spares.pop((i, key), None)
        if a is None or a.shape != like.shape or a.dtype != like.dtype:
            a = np.empty_like(like)
        if key in ("", "work"):  # a copy of p, or the work array: kept, not handed over
            self._spares[(i, key)] = a
        return a

    def _overflow(self, i: int, param: Tensor, g: np.ndarray, exc: Exception) -> str:
        """The message of a step whose update overflowed (or gave NaN) in ``params[i]``."""
        label = f" '{param.name}'" if param.name else ""
        dtype = param.dtype
        biggest = float(np.max(np.abs(g))) if g.size else 0.0
        states = f"its state ({', '.join(self.state_names)}) or " if self.state_names else ""
        return (f"{type(self).__name__}.step: the update of params[{i}]{label} (shape "
                f"{param.shape}) overflows in {dtype} ({exc}): {states}its new value would "
                f"hold inf or NaN. The largest |gradient| is {biggest:.3g}; in {dtype} a "
                f"square overflows above {math.sqrt(np.finfo(dtype).max):.3g}. No parameter "
                "and no state was changed; lower the learning rate, scale the loss down, or "
                "train in float64")

    def check_params(self, params: Iterable[Tensor]) -> list[Tensor]:
        """``params`` as a non-empty list of distinct leaf Tensors that require grad; raises
        TypeError or ValueError naming the optimizer, what was expected and what came."""
        where = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{where}: params must be a list of Tensors, got a single Tensor; "
                            f"wrap it: {where}([W], ...)")
        try:
            params = list(params)
        except TypeError:
            raise TypeError(
                f"{where}: params must be a list of Tensors, got {type(params).__name__}"
            ) from None
        if not params:
            raise ValueError(f"{where}: params is empty; pass the Tensors to optimize, e.g. "
                             "[W, b] or net.parameters()")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{where}: params[{i}] is a {type(p).__name__}, expected a "
                                "Tensor")
            if not p.requires_grad or not p.is_leaf:
                raise ValueError(
                    f"{where}: params[{i}] (shape {p.shape}) must be a leaf Tensor with "
                    "requires_grad=True, the kind an optimizer can update in place"
                )
            if any(p is q for q in params[:i]):
                raise ValueError(f"{where}: params[{i}] appears twice; it would be updated "
                                 "twice")
        return params

    def check_grads(self) -> None:
        """Refuse, before anything changes, gradients that are not real arrays of their
        parameter's shape (a hand-set one would be broadcast) or that hold NaN/inf."""
        where = f"{type(self).__name__}.step"
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            label = f" '{p.name}'" if p.name else ""
            if not isinstance(g, np.ndarray | np.generic) or g.dtype.kind not in "fiu":
                what = (f"an array of dtype {g.dtype}" if isinstance(g, np.ndarray | np.generic)
                        else f"a {type(g).__name__}")
                hint = " (use its .data)" if isinstance(g, Tensor) else ""
                raise TypeError(
                    f"{where}: the gradient of params[{i}]{label} (shape {p.shape}) is {what}"
                    f"{hint}; expected None or a NumPy array of real numbers of shape "
                    f"{p.shape}; no parameter was changed"
                )
            if g.shape != p.shape:
                raise ValueError(
                    f"{where}: the gradient of params[{i}]{label} has shape {g.shape}, "
                    f"expected the parameter's shape {p.shape} (it is not broadcast); no "
                    "parameter was changed"
                )
            bad = count_nonfinite(g)
            if bad:
                raise ValueError(
                    f"{where}: the gradient of params[{i}]{label} (shape {p.shape}) holds "
                    f"{bad} NaN or infinite value(s); no parameter was changed (find the op "
                    "with tg.detect_anomaly(), or lower the learning rate)"
                )

    # ------------------------------------------------------------------ saved state
    @classmethod
    def state_keys(cls) -> tuple[str, ...]:
        """The keys of ``state_dict()``, in order: hyperparameters, ``"step"`` (when steps
        are counted), state arrays."""
        return (*cls.hyperparameters, *(("step",) if cls.counts_steps else ()),
                *cls.state_names)

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters, step counts and state arrays as plain numbers and array copies.

        Keys (``state_keys()``): each hyperparameter; ``"step"``, a list of ints, one per
        parameter (when the optimizer counts steps); one list per state array, in ``params``
        order, holding a copy of the array or None before the parameter's first update.
        """
        d = {k: getattr(self, k) for k in self.hyperparameters}
        if self.steps is not None:
            d["step"] = list(self.steps)
        for k in self.state_names:
            d[k] = [None if a is None else a.copy() for a in self.state[k]]
        return d

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore a ``state_dict()``; the next ``step()`` continues exactly where it left off.

        Everything is checked before anything changes: a non-dict raises TypeError; missing
        or unknown keys, bad hyperparameters (``lr`` may be 0.0, where a decay schedule can
        bring it), step counts, or state arrays that do not fit the parameters (wrong number,
        shape or dtype, NaN/inf, negative sums of squares, or an array for a parameter whose
        step count is 0) raise ValueError or TypeError naming the key, and the optimizer keeps
        its state. Arrays are copied and cast to their parameter's dtype.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(d, dict):
            raise TypeError(f"{where}: expected a dict, got {type(d).__name__}")
        keys = self.state_keys()
        missing = [k for k in keys if k not in d]
        unknown = sorted(str(k) for k in d if k not in keys)
        other = _kind_of(d)
        if other is not None and other is not type(self):
            raise ValueError(f"{where}: this is the state of {other.__name__} (its keys "
                             f"{list(d)}), not of {type(self).__name__}; load it into an "
                             f"{other.__name__} optimizer")
        if missing or unknown:
            raise ValueError(f"{where}: missing keys {missing}, unknown keys {unknown}; "
                             f"expected exactly {list(keys)}")
        hyper = self.check_hyperparameters(where, {k: d[k] for k in self.hyperparameters},
                                           loading=True)
        steps = None
        if self.counts_steps:
            steps = [check_count(where, f"step[{i}]",
                                 s.item() if isinstance(s, np.ndarray) else s, 0)
                     for i, s in enumerate(self._entries(where, "step", d["step"]))]
        state = {}
        for k in self.state_names:
            arrays = []
            for i, (v, p) in enumerate(zip(self._entries(where, k, d[k]), self.params)):
                if steps is not None and (v is None) != (steps[i] == 0):
                    raise ValueError(f"{where}: {k}[{i}] is {'None' if v is None else 'an array'}"
                                     f" but step[{i}] is {steps[i]}; a parameter has state "
                                     "exactly when it has been updated")
                if v is not None:
                    v = self._array(where, k, i, v, p)
                arrays.append(v)
            state[k] = arrays
        # everything is valid: assign (nothing below can fail)
        self._lr = hyper.pop("lr")
        for key, value in hyper.items():
            setattr(self, key, value)
        self.steps, self.state = steps, state

    def _entries(self, where: str, key: str, value) -> list:
        """A saved per-parameter list, refused unless it has one entry per parameter."""
        n = len(self.params)
        if not isinstance(value, list | tuple) or len(value) != n:
            got = len(value) if isinstance(value, list | tuple) else type(value).__name__
            raise ValueError(f"{where}: {key} must be a list of {n} entries (one per "
                             f"parameter), got {got}")
        return list(value)

    def _array(self, where: str, key: str, i: int, v, p: Tensor) -> np.ndarray:
        """Saved state ``key[i]`` as a finite float copy in the dtype of ``p = params[i]``."""
        try:
            v = np.asarray(v)
        except (TypeError, ValueError):  # e.g. a ragged list
            v = np.asarray(None)
        if v.shape != p.shape or v.dtype.kind != "f":
            raise ValueError(f"{where}: {key}[{i}] has shape {v.shape} and dtype {v.dtype}, "
                             f"expected floats of shape {p.shape} like params[{i}]")
        with np.errstate(over="ignore"):  # float64 beyond float32's range: inf, refused below
            v = np.array(v, dtype=p.dtype, copy=True)
        bad = count_nonfinite(v)
        if bad:
            raise ValueError(f"{where}: {key}[{i}] (shape {v.shape}) holds {bad} NaN or "
                             f"infinite value(s) (in {p.dtype}); saved optimizer state is "
                             "always finite")
        if key in self.sums_of_squares and v.size and v.min() < 0:
            raise ValueError(f"{where}: {key}[{i}] holds negative values (min {v.min():.4g}); "
                             "it is a running sum of squares")
        return v


def _kind_of(d: dict) -> type | None:
    """The optimizer class (this module's or a subclass) whose state_dict has exactly the
    keys of ``d``, or None."""
    keys, classes, found = set(d), [Optimizer], None
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        if cls is not Optimizer and set(cls.state_keys()) == keys:
            if found is not None:
                return None  # two kinds save the same keys: the keys do not tell
            found = cls
    return found


class SGD(Optimizer):
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
    SGD counts no steps (its rule has no t). ``state_dict()`` returns plain numbers and
    arrays only:

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
    >>> list(opt.state_dict())
    ['lr', 'momentum', 'nesterov', 'weight_decay', 'max_norm', 'velocity']
    """

    hyperparameters: tuple[str, ...] = ("lr", "momentum", "nesterov", "weight_decay", "max_norm")
    momentum: float
    nesterov: bool
    max_norm: float | None
    state_names: tuple[str, ...] = ("velocity",)
    counts_steps: bool = False

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 nesterov: bool = False,
                 weight_decay: float = 0.0, max_norm: float | None = None) -> None:
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov,
                         weight_decay=weight_decay, max_norm=max_norm)

    def check_hyperparameters(self, where: str, hyper: dict[str, Any], *,
                              loading: bool = False) -> dict[str, Any]:
        checked = super().check_hyperparameters(where, hyper, loading=loading)
        mu = check_real(where, "momentum", hyper["momentum"], hi=1.0)
        nesterov = hyper["nesterov"]
        if loading and isinstance(nesterov, np.ndarray) and nesterov.ndim == 0:
            nesterov = nesterov.item()  # a bool comes back from an .npz that way
        if not isinstance(nesterov, bool | np.bool_):
            if loading:
                raise ValueError(f"{where}: nesterov must be a bool, got {nesterov!r}")
            raise TypeError(f"{where}: nesterov must be True or False, got {nesterov!r}")
        if nesterov and mu == 0:
            raise ValueError(f"{where}: nesterov=True needs momentum > 0"
                             + ("" if loading else f", got momentum={mu!r}"))
        mn = hyper["max_norm"]
        mn = None if mn is None else check_real(where, "max_norm", mn, lo_open=True)
        return {**checked, "momentum": mu, "nesterov": bool(nesterov), "max_norm": mn}

    @property
    def velocity(self) -> list[np.ndarray | None]:
        """The velocities, one per parameter (``self.state["velocity"]``)."""
        return self.state["velocity"]

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        mu = self.momentum
        if mu:
            v = self.state["velocity"][i]
            if v is None:
                # v = g  (the parameter's first momentum update; v is its own array, p's dtype)
                v = self.state["velocity"][i] = np.array(g, dtype=p.dtype, copy=True)
            else:
                # v = momentum * v + g
                v *= mu
                v += g
            # g = g + momentum * v (nesterov), else g = v
            g = g + mu * v if self.nesterov else v
        # p = p - lr * g  (into the existing array, so outside references to p see it)
        p -= np.multiply(g, self.lr, out=self.work(i))

    def project(self, param: Tensor) -> None:
        if self.max_norm is not None and param.data.ndim == 2:
            max_norm_(param, self.max_norm, axis=0)


def _eps(where: str, hyper: dict, params: list[Tensor]) -> float:
    """eps > 0, and at least the smallest normal number of the parameters' dtype (see the
    module docstring: below it, eps is 0 or flushed to 0 in ``sqrt(v) + eps``)."""
    eps = check_real(where, "eps", hyper["eps"], lo_open=True)
    dtype = max((p.dtype for p in params), key=lambda d: np.finfo(d).tiny)
    tiny = float(np.finfo(dtype).tiny)
    if eps < tiny:
        raise ValueError(
            f"{where}: eps must be at least the smallest normal {dtype} number, {tiny:.4g}, "
            f"got {eps:g}: added to sqrt(v) in {dtype}, a smaller eps rounds or is flushed "
            "to 0, and an entry whose gradient is 0 would get 0/0 = NaN")
    return eps


class Adam(Optimizer):
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

    Notes
    -----
    ``state_dict()`` keys: ``"lr"``, ``"betas"``, ``"eps"``, ``"weight_decay"``, ``"step"``
    (a list of ints, one per parameter), ``"exp_avg"`` (m) and ``"exp_avg_sq"`` (v), each a
    list of array copies (None before a parameter's first update).

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

    hyperparameters: tuple[str, ...] = ("lr", "betas", "eps", "weight_decay")
    betas: tuple[float, float]
    eps: float
    state_names: tuple[str, ...] = ("exp_avg", "exp_avg_sq")
    sums_of_squares: tuple[str, ...] = ("exp_avg_sq",)

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def check_hyperparameters(self, where: str, hyper: dict[str, Any], *,
                              loading: bool = False) -> dict[str, Any]:
        checked = super().check_hyperparameters(where, hyper, loading=loading)
        betas = hyper["betas"]
        if isinstance(betas, np.ndarray):
            betas = betas.tolist()
        if not isinstance(betas, list | tuple) or len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), each in [0, 1), "
                             f"got {betas!r}")
        betas = tuple(check_real(where, f"betas[{i}]", b, hi=1.0) for i, b in enumerate(betas))
        return {**checked, "betas": betas, "eps": _eps(where, hyper, self.params)}

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        b1, b2 = self.betas
        steps, m, v = self.steps, self.state["exp_avg"][i], self.state["exp_avg_sq"][i]
        assert steps is not None and m is not None and v is not None  # counts_steps: see step()
        t, w = steps[i], self.work(i)
        # m = b1 m + (1 - b1) g
        m *= b1
        m += np.multiply(g, 1 - b1, out=w)
        # v = b2 v + (1 - b2) g^2
        v *= b2
        np.multiply(g, g, out=w)
        w *= 1 - b2
        v += w
        # p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
        np.sqrt(v, out=w)
        w /= math.sqrt(1 - b2**t)
        w += self.eps
        np.divide(m, w, out=w)
        w *= self.lr / (1 - b1**t)
        p -= w


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e) with PyTorch's update and defaults; see the module
    docstring.

    Parameters
    ----------
    params : list of Tensor
        Leaf tensors with ``requires_grad=True``.
    lr : float
        Step size (> 0).
    alpha : float
        Decay rate of the running mean of g^2, in [0, 1).
    eps : float
        Added to the denominator (> 0).
    weight_decay : float
        Adds ``weight_decay * p`` to the gradient (>= 0).

    Notes
    -----
    ``state_dict()`` keys: ``"lr"``, ``"alpha"``, ``"eps"``, ``"weight_decay"``, ``"step"``
    and ``"square_avg"`` (v).

    Examples
    --------
    >>> w = Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()  # v = 0.01 g^2, so each entry moves by lr / sqrt(0.01) = 0.1
    >>> w.data
    array([ 0.9, -1.9])
    """

    hyperparameters: tuple[str, ...] = ("lr", "alpha", "eps", "weight_decay")
    alpha: float
    eps: float
    state_names: tuple[str, ...] = ("square_avg",)
    sums_of_squares: tuple[str, ...] = ("square_avg",)

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)

    def check_hyperparameters(self, where: str, hyper: dict[str, Any], *,
                              loading: bool = False) -> dict[str, Any]:
        checked = super().check_hyperparameters(where, hyper, loading=loading)
        return {**checked, "alpha": check_real(where, "alpha", hyper["alpha"], hi=1.0),
                "eps": _eps(where, hyper, self.params)}

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        v = self.state["square_avg"][i]
        assert v is not None  # counts_steps: step() starts it at zeros
        w = self.work(i)
        # v = alpha v + (1 - alpha) g^2
        v *= self.alpha
        np.multiply(g, g, out=w)
        w *= 1 - self.alpha
        v += w
        # p = p - lr g / (sqrt(v) + eps)
        np.sqrt(v, out=w)
        w += self.eps
        np.divide(g, w, out=w)
        w *= self.lr
        p -= w


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) with PyTorch's update and defaults; see the module
    docstring. The sum of squared gradients only grows, so steps shrink over time.

    Parameters
    ----------
    params : list of Tensor
        Leaf tensors with ``requires_grad=True``.
    lr : float
        Step size (> 0).
    eps : float
        Added to the denominator (> 0).
    weight_decay : float
        Adds ``weight_decay * p`` to the gradient (>= 0).

    Notes
    -----
    ``state_dict()`` keys: ``"lr"``, ``"eps"``, ``"weight_decay"``, ``"step"`` and ``"sum"``
    (s).

    Examples
    --------
    >>> w = Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()  # s = g^2: each entry moves by lr
    >>> w.data
    array([ 0.9, -1.9])
    """

    hyperparameters: tuple[str, ...] = ("lr", "eps", "weight_decay")
    eps: float
    state_names: tuple[str, ...] = ("sum",)
    sums_of_squares: tuple[str, ...] = ("sum",)

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, eps: float = 1e-10,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, eps=eps, weight_decay=weight_decay)

    def check_hyperparameters(self, where: str, hyper: dict[str, Any], *,
                              loading: bool = False) -> dict[str, Any]:
        checked = super().check_hyperparameters(where, hyper, loading=loading)
        return {**checked, "eps": _eps(where, hyper, self.params)}

    def update(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        s = self.state["sum"][i]
        assert s is not None  # counts_steps: step() starts it at zeros
        w = self.work(i)
        # s = s + g^2
        s += np.multiply(g, g, out=w)
        # p = p - lr g / (sqrt(s) + eps)
        np.sqrt(s, out=w)
        w += self.eps
        np.divide(g, w, out=w)
        w *= self.lr
        p -= w
