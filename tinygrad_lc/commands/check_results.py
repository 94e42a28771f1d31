"""What ``tinygrad-lc gradcheck``'s checks return, for the linear model and the two-layer net."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPARSE_TOLERANCE = 1e-6  # relative error a float64 central difference easily meets off kinks


@dataclass
class CheckResult:
    """One check: what was checked, whether it passed, the worst relative error, the text."""

    loss: str
    what: str
    passed: bool
    rel_error: float
    kinks: int
    text: str


def rel_error_off_kinks(check) -> float:
    """Largest relative error over the entries of one ``InputCheck`` whose step met no kink."""
    from ..gradcheck import rel_error

    keep = np.ones(check.analytic.shape, dtype=bool)
    for k in check.kinks:
        keep[k.index] = False
    return rel_error(check.analytic[keep], check.numerical[keep])
