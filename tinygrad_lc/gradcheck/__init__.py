"""Gradient checking: central differences against the engine's backward, kinks told apart.

The public face of ``tinygrad_lc.gradcheck``; the code is in ``check.py``.
"""

from tinygrad_lc.gradcheck.check import (
    GradcheckError,
    GradcheckReport,
    GradcheckWarning,
    grad_check_sparse,
    gradcheck,
    gradcheck_report,
    gradgradcheck,
    gradgradcheck_report,
    numerical_gradient,
    rel_error,
)

__all__ = [
    "numerical_gradient", "rel_error", "grad_check_sparse", "gradcheck", "gradcheck_report",
    "gradgradcheck", "gradgradcheck_report", "GradcheckError", "GradcheckReport",
    "GradcheckWarning"
]
