"""What ``tinygrad-lc gradcheck``'s checks return, for the linear model and the two-layer net."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinygrad_lc.gradcheck.reports import RELATIVE_ERROR

__all__ = ["RELATIVE_ERROR", "SPARSE_TOLERANCE", "CheckResult", "report_rel_error",
           "sparse_rel_error"]

SPARSE_TOLERANCE = 1e-6  # relative error a float64 central difference easily meets off kinks


@dataclass
class CheckResult:
    """One check: what was checked, whether it passed, the worst relative error, the text.

    ``rel_error`` is the largest relative error (:data:`RELATIVE_ERROR`) the text's entry
    lines show: a gradcheck's worst lines, or the largest of grad_check_sparse's entries;
    ``scope`` says which entries it ranges over ("" for all of them).
    """

    loss: str
    what: str
    passed: bool
    rel_error: float
    kinks: int
    text: str
    scope: str = ""

    @classmethod
    def of_report(cls, loss: str, what: str, report) -> CheckResult:
        """The result of one ``GradcheckReport``: its verdict, :func:`report_rel_error`, text."""
        rel, scope = report_rel_error(report)
        return cls(loss, what, report.passed, rel, report.kink_count, str(report), scope)

    @property
    def summary(self) -> str:
        """The line printed under the check's text.

        >>> CheckResult("svm", "d loss / d W", True, 6.66e-10, 2, "", "off kinks").summary
        'max relative error 6.66e-10 (off kinks)'
        """
        scope = f" ({self.scope})" if self.scope else ""
        return f"max relative error {self.rel_error:.2e}{scope}"


def report_rel_error(report) -> tuple[float, str]:
    """The largest relative error on a ``GradcheckReport``'s worst lines, and over which entries.

    Each input's worst line shows the largest relative error among its failing entries if any
    fail, else among its entries off kinks; this is the largest of those lines (NaN if any is).

    >>> import tinygrad_lc as tg
    >>> from tinygrad_lc.gradcheck.check import gradcheck_report
    >>> x = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> rel, scope = report_rel_error(gradcheck_report(lambda x: (x * x).sum(), x))
    >>> bool(rel < 1e-8), scope
    (True, '')
    """
    failing = [c for c in report.inputs if c.bad]
    shown = [c.rel for c in failing or report.inputs if c.worst is not None]
    rel = float(np.max(shown)) if shown else 0.0
    if failing:
        scope = "of the failing entries"
    elif report.kinks:
        scope = "off kinks"
    else:
        scope = ""
    return rel, scope


def sparse_rel_error(errors: np.ndarray, at_kink: np.ndarray) -> tuple[float, str]:
    """The largest of grad_check_sparse's relative errors off kinks (NaN if any is), and scope.

    >>> sparse_rel_error(np.array([1e-9, 0.5, 3e-9]), np.array([False, True, False]))
    (3e-09, 'off kinks')
    """
    off_kink = np.asarray(errors, dtype=np.float64)[~np.asarray(at_kink, dtype=bool)]
    # np.max sees a NaN error anywhere (Python's max drops NaN after the first)
    if not off_kink.size:
        return 0.0, "every entry at a kink" if len(errors) else ""
    return float(np.max(off_kink)), "off kinks" if np.any(at_kink) else ""
