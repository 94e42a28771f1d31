"""Layers: a ``Module`` is its parameters and a ``forward``; ``Linear``, ``ReLU``,
``Sequential`` and ``MLP`` are built from it.

- ``named_parameters()`` walks a module's attributes in the order they were set, children
  included (depth first, without recursion), so names and order never change between runs:
  an ``MLP([64, 100, 10])`` has ``0.W``, ``0.b``, ``2.W``, ``2.b``.
- Calling a module runs ``forward`` inside ``tg.scope(module.name)``. ``Sequential`` names
  its children after their class, numbered per class (``Linear1``, ``ReLU1``, ``Linear2``),
  so a net's diagram draws one cluster per layer, and the weights of ``Linear1`` are ``W1``
  and ``b1`` as in the cs231n two-layer net.
- ``load_state_dict`` checks every key, shape, dtype and value before it changes anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from tinygrad_lc.core.checks import check_choice, check_count, count_nonfinite
from tinygrad_lc.core.modes import scope
from tinygrad_lc.core.tensor import Tensor

__all__ = ["Module", "Linear", "ReLU", "Sequential", "MLP", "INITS", "ACTIVATIONS"]

INITS = ("he", "xavier")  # or a float: the standard deviation itself


class Module:
    """Base class of layers: parameters are attributes that are Tensors with requires_grad,
    children are attributes that are Modules. Subclasses define ``forward``.

    Attributes
    ----------
    name : str
        The scope opened while the module runs (default: the class name).

    Examples
    --------
    >>> class Affine(Module):
    ...     def __init__(self):
    ...         self.w = Tensor([2.0], requires_grad=True)
    ...         self.c = Tensor([1.0], requires_grad=True)
    ...     def forward(self, x):
    ...         return x * self.w + self.c
    >>> m = Affine()
    >>> [name for name, _ in m.named_parameters()], m(Tensor([3.0])).scope
    (['w', 'c'], 'Affine')
    """

    name: str | None = None

    if TYPE_CHECKING:  # a subclass's forward(self, x) takes what it takes
        forward: Callable[..., Any]
    else:
        def forward(self, *inputs):
            raise NotImplementedError(
                f"{type(self).__name__}: a Module subclass defines forward()")

    def __call__(self, *inputs: Any) -> Any:
        with scope(self.name or type(self).__name__):
            return self.forward(*inputs)

    def _members(self) -> Iterator[tuple[str, Tensor | Module]]:
        """Direct parameters and children, in the order the attributes were set."""
        for key, value in vars(self).items():
            if isinstance(value, Module) or (isinstance(value, Tensor) and value.requires_grad):
                yield key, value

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """(dotted name, Tensor) of every parameter, children's included, each Tensor once."""
        out: list[tuple[str, Tensor]] = []
        seen: set[int] = set()
        stack: list[tuple[str, Tensor | Module]] = [("", self)]
        while stack:  # depth first, children in attribute order
            prefix, item = stack.pop()
            if isinstance(item, Tensor):
                if id(item) not in seen:
                    seen.add(id(item))
                    out.append((prefix, item))
                continue
            if id(item) in seen:
                continue  # a module held twice (or holding itself) is walked once
            seen.add(id(item))
            dot = f"{prefix}." if prefix else ""
            stack.extend((dot + key, value) for key, value in reversed(list(item._members())))
        return out

    def parameters(self) -> list[Tensor]:
        """The parameter Tensors, in ``named_parameters()`` order (hand them to an optimizer)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None."""
        for p in self.parameters():
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values, by name."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Copy the arrays of ``d`` (a ``state_dict()``) into the parameters.

        Every key, shape, dtype and value is checked before any parameter changes: a missing
        or unexpected key, a wrong shape, data that are not real numbers, or a NaN/inf (also
        one from casting to the parameter's dtype) raises ValueError (or TypeError) naming
        the key, and the module is left as it was. Values are cast to each parameter's dtype.
        """
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(d, dict):
            raise TypeError(f"{where}: expected a dict of arrays, got {type(d).__name__}")
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in d]
        unexpected = [str(k) for k in d if k not in params]
        if missing or unexpected:
            raise ValueError(f"{where}: missing keys {missing}, unexpected keys {unexpected}; "
                             f"expected exactly {list(params)}")
        new = {}
        for key, p in params.items():
            try:
                v = d[key].data if isinstance(d[key], Tensor) else np.asarray(d[key])
            except (TypeError, ValueError):  # e.g. a ragged list
                v = np.asarray(None)
            if v.dtype.kind not in "fiu":
                raise TypeError(f"{where}: '{key}' holds {v.dtype}, expected real numbers "
                                f"(the parameter is {p.dtype})")
            if v.shape != p.shape:
                raise ValueError(f"{where}: '{key}' has shape {v.shape}, the parameter's is "
                                 f"{p.shape}")
            with np.errstate(over="ignore"):  # beyond float32's range: inf, refused below
                v = np.array(v, dtype=p.dtype)  # a copy: steps never write into d
            bad = count_nonfinite(v)
            if bad:
                raise ValueError(f"{where}: '{key}' holds {bad} NaN or infinite value(s) "
                                 f"(as {p.dtype})")
            new[key] = v
        for key, p in params.items():  # everything is valid: assign (nothing below can fail)
            p.data = new[key]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _init_std(init: str | float, fan_in: int, fan_out: int) -> float:
    """The standard deviation of a weight init: He, Xavier (Glorot) or a given number."""
    if isinstance(init, str):
        check_choice("Linear", "init", init, INITS)
        return math.sqrt(2.0 / fan_in) if init == "he" else math.sqrt(2.0 / (fan_in + fan_out))
    if isinstance(init, bool) or not isinstance(init, Real) or not 0 <= float(init) < math.inf:
        raise ValueError(f"Linear: init must be 'he', 'xavier' or a finite scale >= 0, "
                         f"got {init!r}")
    return float(init)


def _float_dtype(where: str, dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float64, np.float32):
        raise TypeError(f"{where}: dtype must be np.float64 or np.float32, got {dtype!r}")
    return dt


class Linear(Module):
    """``y = x @ W + b`` with W of shape (in_features, out_features) and b of (out_features,).

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Learn b (starts at 0); with False, ``b`` is None.
    init : {"he", "xavier"} or float
        W is normal with standard deviation ``sqrt(2 / in)`` (He, for ReLU nets),
        ``sqrt(2 / (in + out))`` (Xavier/Glorot), or the number given.
    dtype : np.float64 or np.float32
    seed : int, np.random.Generator or None
        A Generator is used as is (``MLP`` passes one down to all its layers).

    Examples
    --------
    >>> layer = Linear(3, 2, seed=0)
    >>> layer(np.ones((4, 3))).shape, layer.W.shape, layer.b.shape
    ((4, 2), (3, 2), (2,))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str | float = "he", dtype: DTypeLike = np.float64,
                 seed: int | np.random.Generator | None = None) -> None:
        self.in_features: int = check_count("Linear", "in_features", in_features, 1)
        self.out_features: int = check_count("Linear", "out_features", out_features, 1)
        if not isinstance(bias, bool | np.bool_):
            raise TypeError(f"Linear: bias must be True or False, got {bias!r}")
        std = _init_std(init, self.in_features, self.out_features)
        dtype = _float_dtype("Linear", dtype)
        rng = np.random.default_rng(seed)
        w = std * rng.standard_normal((self.in_features, self.out_features))
        self.W = Tensor(w.astype(dtype), requires_grad=True, name="W")
        self.b: Tensor | None = Tensor(np.zeros(self.out_features, dtype), requires_grad=True,
                                       name="b") if bias else None

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.in_features:
            raise ValueError(f"{self.name or 'Linear'}: input of shape {x.shape}, expected "
                             f"(N, {self.in_features}) for W of shape {self.W.shape}")
        out = x @ self.W
        return out if self.b is None else out + self.b

    def _numbered(self, k: int) -> None:
        """Called by Sequential: the k-th Linear's weights are W{k} and b{k}."""
        for p, base in ((self.W, "W"), (self.b, "b")):
            if p is not None and p.name == base:
                p.name = f"{base}{k}"

    def __repr__(self) -> str:
        return (f"Linear({self.in_features}, {self.out_features}, "
                f"bias={self.b is not None}, dtype={self.W.dtype})")


class ReLU(Module):
    """``max(0, x)`` elementwise (derivative 0 at 0). No parameters."""

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        return (x if isinstance(x, Tensor) else Tensor(x)).relu()


ACTIVATIONS = {"relu": ReLU}


def _layer(i: int, m: Module) -> str:
    """How errors name a layer: 'layer 0 (Linear1, W of shape (4, 5))'."""
    w = getattr(m, "W", None)
    shape = f", W of shape {w.shape}" if isinstance(w, Tensor) else ""
    return f"layer {i} ({m.name or type(m).__name__}{shape})"


class Sequential(Module):
    """Modules applied in order; children are named ``"0"``, ``"1"``, ... in state dicts.

    Consecutive layers must fit: a layer with ``in_features`` must follow one whose
    ``out_features`` (looking through layers without it, such as ReLU) is that number.

    Examples
    --------
    >>> net = Sequential(Linear(4, 5, seed=0), ReLU(), Linear(5, 3, seed=1))
    >>> [m.name for m in net], list(net.state_dict())
    (['Linear1', 'ReLU1', 'Linear2'], ['0.W', '0.b', '2.W', '2.b'])
    >>> Sequential(Linear(4, 5), Linear(6, 3))
    Traceback (most recent call last):
    ...
    ValueError: Sequential: layer 0 (Linear1, W of shape (4, 5)) gives 5 features per row, \
but layer 1 (Linear2, W of shape (6, 3)) expects 6
    """

    def __init__(self, *modules: Module):
        counts: dict[str, int] = {}
        last = None  # (index, module) of the latest layer that sets the width
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, "
                                "expected a Module")
            kind = type(m).__name__
            counts[kind] = counts.get(kind, 0) + 1
            if m.name is None:
                m.name = f"{kind}{counts[kind]}"
                if isinstance(m, Linear):
                    m._numbered(counts[kind])
            need = getattr(m, "in_features", None)
            gives = None if last is None else getattr(last[1], "out_features", None)
            if need is not None and last is not None and gives != need:
                raise ValueError(f"Sequential: {_layer(*last)} gives {gives} "
                                 f"features per row, but {_layer(i, m)} expects {need}")
            if getattr(m, "out_features", None) is not None:
                last = (i, m)
        self.layers: tuple[Module, ...] = tuple(modules)

    def _members(self):
        return ((str(i), m) for i, m in enumerate(self.layers))

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def forward(self, x: Tensor | ArrayLike) -> Tensor:
        h = x if isinstance(x, Tensor) else Tensor(x)
        source = "the input"
        for i, m in enumerate(self.layers):
            need = getattr(m, "in_features", None)
            if need is not None and (h.ndim == 0 or h.shape[-1] != need):
                raise ValueError(f"{self.name or type(self).__name__}: {source} has shape "
                                 f"{h.shape}, but {_layer(i, m)} expects {need} features per row")
            h = m(h)
            source = f"the output of {_layer(i, m)}"
        return h

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}) {m!r}" for i, m in enumerate(self.layers))
        return f"{type(self).__name__}({inner}\n)"


class MLP(Sequential):
    """A fully connected net: ``Linear(sizes[0], sizes[1])``, activation, ..., last Linear.

    ``MLP([3073, 100, 10])`` is the lecture's two-layer net ``s = W2 max(0, W1 x)`` (with
    biases). There is no activation after the last layer (its outputs are class scores).

    Parameters
    ----------
    sizes : sequence of int
        Input width, hidden widths, output width (at least two entries).
    activation : {"relu"}
    bias : bool
    init : {"he", "xavier"} or float
        See ``Linear``.
    seed : int, np.random.Generator or None
        One generator draws every layer's weights, first layer first.
    dtype : np.float64 or np.float32, keyword-only

    Examples
    --------
    >>> net = MLP([64, 100, 10], seed=0)
    >>> net(np.zeros((5, 64))).shape, [n for n, _ in net.named_parameters()]
    ((5, 10), ['0.W', '0.b', '2.W', '2.b'])
    """

    def __init__(self, sizes: Iterable[int], activation: str = "relu", bias: bool = True,
                 init: str | float = "he", seed: int | np.random.Generator | None = None, *,
                 dtype: DTypeLike = np.float64) -> None:
        if isinstance(sizes, str) or not isinstance(sizes, Iterable):
            raise TypeError(f"MLP: sizes must be a sequence of ints such as [3073, 100, 10], "
                            f"got {sizes!r}")
        sizes = [check_count("MLP", "each entry of sizes", s, 1) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs the input and output widths at least, got {sizes}")
        act = ACTIVATIONS[check_choice("MLP", "activation", activation, tuple(ACTIVATIONS))]
        rng = np.random.default_rng(seed)
        layers: list[Module] = []
        for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            if k:
                layers.append(act())
            layers.append(Linear(n_in, n_out, bias=bias, init=init, dtype=dtype, seed=rng))
        super().__init__(*layers)
        self.sizes: tuple[int, ...] = tuple(sizes)
