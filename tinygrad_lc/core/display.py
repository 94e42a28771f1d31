"""How things show in Jupyter: small escaped HTML tables and bounded previews of arrays.

``Tensor._repr_html_`` is :func:`tensor_html`; the classifiers, sweep results and reports build
their ``_repr_html_`` from :func:`html_fields`, :func:`html_grid` and :func:`array_preview`,
so every output cell looks alike. Every piece of text is escaped (``html.escape``): a name
holding ``<script>`` shows as text. A preview never grows with the array: at most
:data:`PREVIEW_CHARS` characters of values, whatever the size or number of dimensions.

>>> array_preview(np.arange(100.0))
'[ 0.,  1.,  2., ..., 97., 98., 99.]'
>>> len(array_preview(np.zeros((10,) * 6))) <= PREVIEW_CHARS  # a million entries
True
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["PREVIEW_CHARS", "array_text", "array_preview", "array_summary", "html_fields",
           "html_grid", "tensor_html", "clip_text"]

PREVIEW_CHARS = 1500  # the most characters of values a preview shows
EDGE = 3  # entries shown at each end of a long axis
MAX_SHOWN = 1000  # the most entries a summary shows before it shows the flattened ends
NAME_CHARS = 200  # the most characters of a name or other text field


def clip_text(text: str, limit: int = NAME_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis and the full length when cut.

    >>> clip_text("x" * 10, 4)
    'xxxx… (10 characters)'
    """
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def array_text(a: np.ndarray, threshold: int = 2 * EDGE * 10, **options) -> str:
    """``np.array2string(a, ...)`` summarised beyond ``threshold`` entries, in bounded time.

    NumPy's summary keeps ``2 * EDGE`` entries of every long axis, which still grows with the
    number of axes (an array of shape (2,) * 20 is not summarised at all, and takes seconds
    to print): where it would show more than ``MAX_SHOWN`` entries, the flattened first and
    last entries are shown instead.

    >>> array_text(np.arange(4096.0).reshape((4,) * 6))
    '[0., 1., 2., ..., 4093., 4094., 4095.]  (flattened; shape (4, 4, 4, 4, 4, 4))'
    """
    a = np.asarray(a)
    options = {"precision": 4, "separator": ", ", **options}
    if a.size > threshold and math.prod(min(n, 2 * EDGE) for n in a.shape) > MAX_SHOWN:
        flat = a.reshape(-1)
        head = np.array2string(flat[:EDGE], **options)[:-1]
        tail = np.array2string(flat[-EDGE:], **options)[1:]
        return f"{head}, ..., {tail}  (flattened; shape {a.shape})"
    return np.array2string(a, threshold=threshold, edgeitems=EDGE, **options)


def array_preview(a: np.ndarray, limit: int = PREVIEW_CHARS) -> str:
    """The values of ``a`` as NumPy prints them, long axes cut to their first and last
    entries (:func:`array_text`), and at most ``limit`` characters."""
    return clip_text(array_text(a, max_line_width=100), limit)


def array_summary(a: np.ndarray) -> str:
    """min, mean and max of a real array with more than one entry (and its NaN/inf count);
    an empty string otherwise.

    >>> array_summary(np.array([1.0, 2.0, np.nan]))
    'min 1  mean 1.5  max 2  (1 NaN or inf)'
    """
    a = np.asarray(a)
    if a.size < 2 or a.dtype.kind not in "fiu":
        return ""
    finite = np.isfinite(a)
    bad = a.size - int(np.count_nonzero(finite))
    if bad == a.size:
        return f"({bad:,} NaN or inf)"
    ok = a[finite] if bad else a
    text = f"min {ok.min():.4g}  mean {ok.mean():.4g}  max {ok.max():.4g}"
    return text + (f"  ({bad:,} NaN or inf)" if bad else "")


def html_fields(title: str, fields: Sequence[tuple[str, str]], note: str = "") -> str:
    """A titled two-column table of (name, value) rows, all text escaped. A value holding a
    line break is set as preformatted text (array previews).

    >>> html_fields("W <b>", [("shape", "(2, 3)")])  # doctest: +ELLIPSIS
    '<div><strong>W &lt;b&gt;</strong><table><tr><th ...>shape</th><td ...>(2, 3)</td>...'
    """
    rows = []
    for key, value in fields:
        text = html.escape(value)
        if "\n" in value or value.startswith("["):
            text = f'<pre style="margin:0">{text}</pre>'
        rows.append(f'<tr><th style="text-align:left;vertical-align:top">{html.escape(key)}'
                    f'</th><td style="text-align:left">{text}</td></tr>')
    extra = f"<p>{html.escape(note)}</p>" if note else ""
    return (f"<div><strong>{html.escape(title)}</strong><table>{''.join(rows)}</table>"
            f"{extra}</div>")


def html_grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table with a header row, all text escaped.

    >>> print(html_grid(["a"], [["<1>"]]).replace("><", ">\\n<"))
    <table>
    <tr>
    <th style="text-align:left">a</th>
    </tr>
    <tr>
    <td style="text-align:left">&lt;1&gt;</td>
    </tr>
    </table>
    """
    head = "".join(f'<th style="text-align:left">{html.escape(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(f'<td style="text-align:left">{html.escape(v)}</td>'
                                    for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def tensor_html(data: np.ndarray, grad: np.ndarray | None,
                fields: Sequence[tuple[str, str]]) -> str:
    """A tensor's HTML: its ``fields`` (shape, dtype, ...), then previews of values and grad.

    Empty fields are left out; names and other text are cut to ``NAME_CHARS`` characters.
    """
    rows = [(k, clip_text(v)) for k, v in fields if v]
    rows.append(("values", array_preview(data)))
    summary = array_summary(data)
    if summary:
        rows.append(("", summary))
    rows.append(("grad", "None" if grad is None else array_preview(grad)))
    return html_fields("Tensor", rows)
