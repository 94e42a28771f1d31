"""Search spaces of a hyperparameter sweep: where each ``train`` option's values come from.

A *space* maps a ``train`` option name (``"lr"``, ``"reg"``, ``"iters"``, ...) to a
``LogUniform``, ``Uniform`` or ``Choice``, or to a fixed value. ``sample`` draws random
configurations (the default: Bergstra & Bengio showed random search finds good values of
the few parameters that matter faster than a grid), ``grid`` lays out every combination,
``narrow`` shrinks the ranges around a good configuration (coarse to fine) and
``edge_warnings`` says when the best value sits at the border of its range.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_lc.sweep.limits import MAX_TRIALS

__all__ = ["Choice", "LogUniform", "Uniform", "edge_warnings", "grid", "grid_size", "narrow",
           "sample"]

EDGE = 0.10  # a best value within this fraction of its range's width from an end is "at the edge"


def _bounds(name: str, low: Any, high: Any, positive: bool) -> tuple[float, float]:
    try:
        lo, hi = float(low), float(high)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: low and high must be numbers, got {low!r} and {high!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name}: low and high must be finite, got {lo:g} and {hi:g}")
    if positive and lo <= 0:
        raise ValueError(f"{name}: a log range needs 0 < low, got low={lo:g}; "
                         "use Uniform for ranges that include 0 or negative values")
    if lo >= hi:
        raise ValueError(f"{name}: low must be below high, got low={lo:g} and high={hi:g}"
                         + (" (reversed?)" if lo > hi else "; give a fixed value instead"))
    return lo, hi


@dataclass(frozen=True)
class LogUniform:
    """Values spread evenly in log10 between ``low`` and ``high`` (``0 < low < high``).

    The right space for scale parameters such as the learning rate and the regularization
    strength, whose effect depends on their order of magnitude.

    >>> LogUniform(1e-4, 1e-2).grid(3)
    [0.0001, 0.001, 0.01]
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        lo, hi = _bounds("LogUniform", self.low, self.high, positive=True)
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    def sample(self, rng: np.random.Generator, n: int) -> list[float]:
        return (10.0 ** rng.uniform(math.log10(self.low), math.log10(self.high), n)).tolist()

    def grid(self, k: int) -> list[float]:
        if k == 1:
            return [math.sqrt(self.low * self.high)]
        # endpoints exact, so a grid holds the range's own bounds
        return [self.low, *np.geomspace(self.low, self.high, k)[1:-1].tolist(), self.high]

    def position(self, value: float) -> float:
        """Where ``value`` lies: 0 at ``low``, 1 at ``high`` (log scale)."""
        lo, hi = math.log10(self.low), math.log10(self.high)
        return (math.log10(value) - lo) / (hi - lo) if value > 0 else -math.inf

    def around(self, value: float, shrink: float) -> LogUniform:
        half = (math.log10(self.high) - math.log10(self.low)) * shrink / 2
        return LogUniform(value / 10 ** half, value * 10 ** half)

    def __str__(self) -> str:
        return f"{self.low:g}:{self.high:g} (log)"


@dataclass(frozen=True)
class Uniform:
    """Values spread evenly between ``low`` and ``high`` (e.g. momentum).

    >>> Uniform(0.0, 0.9).grid(4)
    [0.0, 0.3, 0.6, 0.9]
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        lo, hi = _bounds("Uniform", self.low, self.high, positive=False)
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    def sample(self, rng: np.random.Generator, n: int) -> list[float]:
        return rng.uniform(self.low, self.high, n).tolist()

    def grid(self, k: int) -> list[float]:
        if k == 1:
            return [(self.low + self.high) / 2]
        return [round(v, 12) for v in np.linspace(self.low, self.high, k).tolist()]

    def position(self, value: float) -> float:
        return (value - self.low) / (self.high - self.low)

    def around(self, value: float, shrink: float) -> Uniform:
        half = (self.high - self.low) * shrink / 2
        return Uniform(value - half, value + half)

    def __str__(self) -> str:
        return f"{self.low:g}:{self.high:g}"


@dataclass(frozen=True)
class Choice:
    """One of a list of values, e.g. ``Choice(["svm", "softmax"])`` or ``Choice([100, 200])``.

    >>> Choice(["l1", "l2"]).grid(5)
    ['l1', 'l2']
    """

    values: Sequence[Any]  # kept as a tuple

    def __post_init__(self) -> None:
        if isinstance(self.values, str | bytes) or not isinstance(self.values, Sequence):
            raise TypeError(f"Choice: values must be a list of values, got {self.values!r}")
        if len(self.values) == 0:
            raise ValueError("Choice: values must not be empty")
        object.__setattr__(self, "values", tuple(self.values))

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        return [self.values[i] for i in rng.integers(0, len(self.values), n)]

    def grid(self, k: int) -> list[Any]:
        return list(self.values)

    def __str__(self) -> str:
        return ",".join(str(v) for v in self.values)


SPACES = (LogUniform, Uniform, Choice)


def _check_space(where: str, space: Mapping[str, Any]) -> None:
    if not isinstance(space, Mapping):
        raise TypeError(f"{where}: space must be a dict of option name -> space or value, "
                        f"got {type(space).__name__}")
    for key in space:
        if not isinstance(key, str):
            raise TypeError(f"{where}: option names must be strings, got {key!r}")


def _check_count(where: str, name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{where}: {name} must be an integer >= 1, got {n!r}")
    if n > MAX_TRIALS:
        raise ValueError(f"{where}: {name} must be at most {MAX_TRIALS:,}, got {n:,}")
    return int(n)


def grid_size(space: Mapping[str, Any], k: int) -> int:
    """How many configurations ``grid(space, k)`` makes, counted without making them: ``k``
    per range, each ``Choice``'s number of values, 1 per fixed value.

    >>> grid_size({"lr": LogUniform(1e-3, 1e-1), "loss": Choice(["svm", "softmax"])}, 5)
    10
    """
    return math.prod(k if isinstance(v, LogUniform | Uniform) else
                     len(v.values) if isinstance(v, Choice) else 1 for v in space.values())


def sample(space: Mapping[str, Any], n: int, seed: Any = 0) -> list[dict[str, Any]]:
    """``n`` random configurations: every range drawn independently, fixed values kept.

    Parameters
    ----------
    space : dict
        ``train`` option name -> ``LogUniform`` / ``Uniform`` / ``Choice`` or a fixed value.
    n : int
        Number of configurations, from 1 to ``MAX_TRIALS`` (100,000).
    seed : int or sequence of int
        Seeds ``np.random.default_rng``; the same seed gives the same configurations.

    Examples
    --------
    >>> configs = sample({"lr": LogUniform(1e-3, 1e-1), "iters": 100}, 3, seed=0)
    >>> len(configs), configs[0]["iters"], all(1e-3 <= c["lr"] <= 1e-1 for c in configs)
    (3, 100, True)
    """
    _check_space("sample", space)
    n = _check_count("sample", "n", n)
    rng = np.random.default_rng(seed)
    columns = {k: v.sample(rng, n) if isinstance(v, SPACES) else [v] * n
               for k, v in space.items()}
    return [{k: columns[k][i] for k in space} for i in range(n)]


def grid(space: Mapping[str, Any], k: int) -> list[dict[str, Any]]:
    """Every combination of ``k`` values per range (all values of a ``Choice``).

    ``LogUniform`` gives ``k`` values evenly spaced in log10 from low to high, ``Uniform``
    evenly spaced ones; ``k = 1`` gives each range's middle. At most ``MAX_TRIALS``
    (100,000) configurations (``grid_size``), refused before any is made.

    Examples
    --------
    >>> configs = grid({"lr": LogUniform(1e-3, 1e-1), "reg": LogUniform(1e-2, 1.0)}, 2)
    >>> [(c["lr"], c["reg"]) for c in configs]
    [(0.001, 0.01), (0.001, 1.0), (0.1, 0.01), (0.1, 1.0)]
    """
    _check_space("grid", space)
    k = _check_count("grid", "k", k)
    size = grid_size(space, k)
    if size > MAX_TRIALS:
        raise ValueError(f"grid: k={k} over this space makes {size:,} configurations; at most "
                         f"{MAX_TRIALS:,}")
    axes = [v.grid(k) if isinstance(v, SPACES) else [v] for v in space.values()]
    return [dict(zip(space, values)) for values in itertools.product(*axes)]


def narrow(space: Mapping[str, Any], best: Mapping[str, Any], shrink: float = 0.5
           ) -> dict[str, Any]:
    """The space for the next, finer round: each range ``shrink`` times as wide, centred
    on the best configuration's value (it may reach past the old range: the best may lie
    near an edge). ``Choice`` and fixed values stay as they are.

    >>> narrow({"lr": LogUniform(1e-4, 1e-0), "iters": 100}, {"lr": 1e-2, "iters": 100})
    {'lr': LogUniform(low=0.001, high=0.1), 'iters': 100}
    """
    out = {}
    for key, value in space.items():
        if isinstance(value, LogUniform | Uniform) and key in best:
            out[key] = value.around(float(best[key]), shrink)
        else:
            out[key] = value
    return out


def edge_warnings(space: Mapping[str, Any], best: Mapping[str, Any], option: Any = None
                  ) -> list[str]:
    """A sentence for each range whose best value lies in its outer 10% (log scale for
    ``LogUniform``): the optimum may lie outside, so the range should be widened.

    ``option(name)`` spells an option in the message (default: the name itself).

    >>> edge_warnings({"lr": LogUniform(1e-4, 1e-0)}, {"lr": 0.8})  # doctest: +ELLIPSIS
    ['the best lr, 0.8, lies in the top 10% of its range 0.0001:1 (log scale): the best value \
may be above it; widen the range upward, e.g. lr 0.0001:10']
    """
    spell = option or (lambda name: name)
    messages = []
    for key, value in space.items():
        if not isinstance(value, LogUniform | Uniform) or key not in best:
            continue
        where = value.position(float(best[key]))
        if EDGE <= where <= 1 - EDGE:
            continue
        up = where > 1 - EDGE
        log = isinstance(value, LogUniform)
        if log:  # one decade further
            wider = (value.low, value.high * 10) if up else (value.low / 10, value.high)
        else:  # half the width further
            half = (value.high - value.low) / 2
            wider = (value.low, value.high + half) if up else (value.low - half, value.high)
        if 0 <= where <= 1:
            place = f"in the {'top' if up else 'bottom'} {EDGE:.0%} of"
        else:  # a refined round went past the range
            place = "above" if up else "below"
        messages.append(
            f"the best {key}, {float(best[key]):g}, lies {place} its range "
            f"{value.low:g}:{value.high:g}{' (log scale)' if log else ''}: the best value may be "
            f"{'above' if up else 'below'} it; widen the range {'upward' if up else 'downward'}"
            f", e.g. {spell(key)} {wider[0]:g}:{wider[1]:g}")
    return messages
