"""The reports of :func:`~tinygrad_lc.gradcheck.gradcheck` and their text.

:class:`GradcheckReport` holds one run: an :class:`InputCheck` per checked input (with the
:class:`Kink` coordinates it met) and, with ``localize=True``, a :class:`LocalCheck` per node
input. ``str()`` of each is the readable line(s) that
:class:`~tinygrad_lc.gradcheck.GradcheckError` carries; in Jupyter (or IPython) a report shows
as a table (``_repr_html_``) or as that text (``_repr_pretty_``), not as a dataclass dump.

Every "relative error" in a report is :data:`RELATIVE_ERROR` (what
:func:`~tinygrad_lc.gradcheck.rel_error` computes), and the entry a report calls worst is the
one with the largest relative error: among the failing entries if any fail, else among the
entries that counted (off kinks). The verdict itself is the per-entry test
``|a - n| <= atol + rtol * |n|``.

>>> import tinygrad_lc as tg
>>> from tinygrad_lc.gradcheck import gradcheck_report
>>> s = tg.Tensor([0.0, 1.5], requires_grad=True, name="s")
>>> report = gradcheck_report(lambda s: s.relu().sum(), s)
>>> report.passed, report.kink_count
(True, 1)
>>> print(report.kinks[0])
kink sits on: 's' (input 0) at index (0,): op 'relu', entries [(0,)] changed (analytic 0, ...)
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

__all__ = ["RELATIVE_ERROR", "Kink", "InputCheck", "LocalCheck", "GradcheckReport"]

#: The relative error of one entry, analytic ``a`` against numerical ``n``, as reports name it.
RELATIVE_ERROR = "|a - n| / max(|a| + |n|, 1e-8)"


@dataclass
class Kink:
    """A coordinate whose finite-difference step changed the side of a kink."""

    input: str
    index: tuple[int, ...]
    op: str
    scope: str
    # entries of that op's kink state that changed (first few), or what changed instead
    entries: list[tuple[int, ...]] | str
    side: str  # "+eps", "-eps" or "both" (both: x sits on the kink)
    analytic: float
    numerical: float

    def __str__(self) -> str:
        where = f" in scope '{self.scope}'" if self.scope else ""
        how = "sits on" if self.side == "both" else f"crossed at {self.side}"
        return (f"kink {how}: {self.input} at index {self.index}: op '{self.op}'{where}, "
                f"entries {self.entries} changed (analytic {self.analytic:.6g}, "
                f"numerical {self.numerical:.6g})")



@dataclass
class InputCheck:
    """The global check of one input: both gradients, the kinks met and the worst entry.

    ``worst`` is the index of the largest relative error (:data:`RELATIVE_ERROR`) among the
    ``bad`` entries if there are any, else among the entries off kinks; ``rel`` is that error.
    """

    label: str
    analytic: np.ndarray
    numerical: np.ndarray
    kinks: list[Kink]
    bad: int
    worst: tuple[int, ...] | None
    rel: float

    def __str__(self) -> str:
        head = f"{self.label}, shape {self.analytic.shape}: "
        kinks = f"; {len(self.kinks)} kink(s) met" if self.kinks else ""
        if self.worst is None:
            return head + "empty" + kinks
        a, n = self.analytic[self.worst], self.numerical[self.worst]
        where = (f"worst relative error{self.ranked_among} at index {self.worst}: analytic "
                 f"{a:.8g}, numerical {n:.8g}, relative error {self.rel:.3g}")
        state = f"{self.bad} of {self.analytic.size} entries fail; " if self.bad else "ok; "
        return head + state + where + kinks

    @property
    def ranked_among(self) -> str:
        """Which entries ``worst`` was picked from, as words to follow "worst relative error"."""
        if self.bad:
            return " among them"
        if self.kinks:
            return " (every entry at a kink)" if len(self.kinks) == self.analytic.size \
                else " off kinks"
        return ""


@dataclass
class LocalCheck:
    """One node's VJP for one input, checked at the values its forward pass saw."""

    op: str
    scope: str
    input: int
    input_shapes: list[tuple[int, ...]]
    output_shape: tuple[int, ...]
    bad: int
    skipped: int  # coordinates at a kink of the op or outside its domain
    # largest relative error, among the bad entries if any, off skipped ones
    worst: tuple[int, ...] | None
    analytic: float
    numerical: float
    rel: float

    def __str__(self) -> str:
        where = f" in scope '{self.scope}'" if self.scope else ""
        shapes = ", ".join(str(s) for s in self.input_shapes)
        fail = "1 entry fails" if self.bad == 1 else f"{self.bad} entries fail"
        state = f"{fail}, worst relative error among them" if self.bad \
            else "ok, worst relative error"
        return (f"op '{self.op}'{where} (inputs {shapes}; output {self.output_shape}), "
                f"gradient for input {self.input}: {state} at index {self.worst}: analytic "
                f"{self.analytic:.8g}, numerical {self.numerical:.8g}, "
                f"relative error {self.rel:.3g}")


@dataclass
class GradcheckReport:
    """Everything one :func:`gradcheck` run found; ``str(report)`` is the readable summary."""

    passed: bool
    inputs: list[InputCheck]
    eps: float
    atol: float
    rtol: float
    strict: bool
    # LocalCheck per (node, input) in forward order, if localize
    local: list[LocalCheck] | None = None
    notes: list[str] = field(default_factory=list)
    value: float = float("nan")  # f at the inputs (contracted with ``upstream`` if not scalar)
    upstream: np.ndarray | None = None  # the random u for a non-scalar f, else None
    title: str = "gradcheck"  # or "gradgradcheck"
    directions: list[np.ndarray] | None = None  # gradgradcheck: the w_i of sum_i <grad_i f, w_i>

    @property
    def kinks(self) -> list[Kink]:
        """Every input's kinks, in order."""
        return [k for c in self.inputs for k in c.kinks]

    @property
    def kink_count(self) -> int:
        return len(self.kinks)

    @property
    def first_bad_op(self) -> LocalCheck | None:
        """The first node (in forward order) whose local gradient is wrong, if any."""
        return next((c for c in self.local or () if c.bad), None)

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"{self.title} {verdict} (eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}"
                 f"{', strict' if self.strict else ''})"]
        lines += [f"  {c}" for c in self.inputs]
        lines.append(f"  relative error = {RELATIVE_ERROR} for analytic a and numerical n; "
                     "an entry fails when |a - n| > atol + rtol * |n|")
        kinks = self.kinks
        if kinks:
            rule = "counted as failures (strict)" if self.strict else "excluded from the verdict"
            lines.append(f"  {len(kinks)} coordinate(s) at a kink, {rule}:")
            lines += [f"    {k}" for k in kinks[:10]]
            lines += [f"    ... and {len(kinks) - 10} more"] if len(kinks) > 10 else []
        if self.local is not None:
            bad = self.first_bad_op
            lines.append(f"  local check of {len(self.local)} node input(s): " + (
                f"first op with a wrong local gradient: {bad}" if bad else "all agree"))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    # ------------------------------------------------------------------ notebooks
    def _repr_pretty_(self, p, cycle: bool) -> None:
        """IPython's text display: the readable summary, not the dataclass fields."""
        p.text("GradcheckReport(...)" if cycle else str(self))

    def _repr_html_(self) -> str:
        """Jupyter's display: the verdict, one table row per input, the kinks met, notes.

        >>> import tinygrad_lc as tg
        >>> from tinygrad_lc.gradcheck import gradcheck_report
        >>> s = tg.Tensor([0.0, 1.5], requires_grad=True, name="s")
        >>> page = gradcheck_report(lambda s: s.relu().sum(), s)._repr_html_()
        >>> ">relative error</th>" in page, "kink sits on" in page, "max(|a| + |n|, 1e-8)" in page
        (True, True, True)
        """
        colour = "#2e7d32" if self.passed else "#c62828"
        head = str(self).splitlines()[0]
        rows = []
        for c in self.inputs:
            if c.worst is None:
                cells = [c.label, str(c.analytic.shape), "empty", "", "", "", ""]
            else:
                cells = [c.label, str(c.analytic.shape),
                         f"{c.bad} of {c.analytic.size} fail" if c.bad else "ok",
                         str(c.worst), f"{c.analytic[c.worst]:.8g}",
                         f"{c.numerical[c.worst]:.8g}", f"{c.rel:.3g}"]
            rows.append(cells + [str(len(c.kinks))])
        header = ["input", "shape", "entries", "worst index", "analytic", "numerical",
                  "relative error", "kinks met"]
        parts = [f'<div class="gradcheck-report"><p style="color:{colour};font-weight:bold">'
                 f"{html.escape(head)}</p>", _html_table(header, rows),
                 f"<p>relative error = <code>{html.escape(RELATIVE_ERROR)}</code> for analytic a "
                 "and numerical n; the worst index is the entry with the largest one, among "
                 "the failing entries if any fail, else among those off kinks. An entry fails "
                 "when <code>|a - n| &gt; atol + rtol * |n|</code>.</p>"]
        kinks = self.kinks
        if kinks:
            rule = "counted as failures (strict)" if self.strict else "excluded from the verdict"
            items = "".join(f"<li><code>{html.escape(str(k))}</code></li>" for k in kinks[:10])
            more = f"<li>... and {len(kinks) - 10} more</li>" if len(kinks) > 10 else ""
            parts.append(f"<p>{len(kinks)} coordinate(s) at a kink, {rule}:</p>"
                         f"<ul>{items}{more}</ul>")
        if self.local is not None:
            bad = self.first_bad_op
            parts.append(f"<p>local check of {len(self.local)} node input(s): " + (
                f"first op with a wrong local gradient: <code>{html.escape(str(bad))}</code>"
                if bad else "all agree") + "</p>")
        parts += [f"<p>note: {html.escape(n)}</p>" for n in self.notes]
        return "".join(parts) + "</div>"


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain HTML table; numbers right-aligned."""
    th = "".join(f'<th style="text-align:left">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:{"right" if i >= 4 else "left"}">'
                         f"{html.escape(v)}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
