"""Text tables: the one helper that lines up columns for the command line and the reports.

>>> print(text_table(["loss", "value"], [["svm", 2.9], ["softmax", 0.0123456]]))
loss     value
-------  -------
svm      2.9
softmax  0.01235
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["text_table"]


def text_table(header: Sequence[Any], rows: Sequence[Sequence[Any]], indent: str = "") -> str:
    """``rows`` under ``header``, each column padded to its widest cell, a rule of dashes
    under the header, every line starting with ``indent``.

    Cells are shown with ``str``, floats with 4 significant digits. Lines carry no trailing
    spaces.

    Parameters
    ----------
    header : sequence
        The column titles.
    rows : sequence of sequences
        One sequence of cells per row, as many as the header has titles.
    indent : str
        Put before every line.

    Returns
    -------
    str
        The table, lines joined by newlines, without a final newline.

    Examples
    --------
    >>> print(text_table(["a", "bb"], [[1, 2.0]], indent="  "))
      a  bb
      -  --
      1  2
    """
    cell = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    head = [str(h) for h in header]
    body = [[cell(v) for v in row] for row in rows]
    for i, row in enumerate(body):
        if len(row) != len(head):
            raise ValueError(f"text_table: row {i} has {len(row)} cells, expected "
                             f"{len(head)} (one per header title)")
    widths = [max(len(c) for c in col) for col in zip(head, *body)]

    def line(cells: Sequence[str]) -> str:
        return (indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths))).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, body)])
