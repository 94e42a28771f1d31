"""The text inside the diagram's boxes: HTML-like labels, value grids, numbers, NaN notes.

:func:`tinygrad_lc.viz.draw_graph` labels each tensor box with its name and, as asked, its
shape, values and gradient; op ellipses with the op and its options; collapsed scopes with
their op count. Small arrays show as a grid of rounded entries (up to ``SMALL`` entries),
larger ones as min and max. NaN/inf in data or grad and anomaly notes are written in red.

>>> import numpy as np
>>> _number(25000.0), _number(1e-05), _number(2 / 3)
('25000.0', '1e-05', '0.6667')
>>> _values(np.array([[1.0, -0.5], [10.0, 2.0]]), with_shape=True)  # one line per row
['   1  -0.5', '  10     2']
>>> _values(np.arange(20.0), with_shape=True)
['(20,): min 0.0, max 19.0']
"""

from __future__ import annotations

import html
import re
import textwrap

import numpy as np

from tinygrad_lc.core.tensor import Tensor

SMALL = 12  # tensors with at most this many entries show their values, larger ones min/max

_MONO = "Menlo,Consolas,DejaVu Sans Mono,monospace"
_GREY = "#5f6368"
_GRAD = "#9a4d00"
RED = "#c62828"
_LEFT = ' ALIGN="LEFT" BALIGN="LEFT"'  # value grids line up on the left edge


def node_kind(t: Tensor) -> str:
    if not t.is_leaf:
        return "value"
    if t.requires_grad:
        return "param"
    return "const" if t.name is None and t.size == 1 else "input"


# What XML 1.0 forbids in text, which dot's label parser rejects (and a lone surrogate cannot
# even be written as UTF-8): C0 controls other than tab; surrogates; U+FFFE/F. Newline and CR
# are legal XML, but a label holding nothing else is a syntax error to dot, and a line break
# belongs in <BR/> anyway, so they are shown as symbols too.
_NOT_XML = re.compile("[\x00-\x1f\ud800-\udfff\ufffe\uffff]")  # a tab too: dot refused "<B>\t</B>"


def _visible(match: re.Match) -> str:
    """A control character as its Control Pictures symbol (ESC -> U+241B), the rest U+FFFD."""
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else "\ufffd"


def esc(text: str) -> str:
    """Any text as it goes into a label: XML-escaped, with the characters XML forbids made
    visible. Every name, scope, op and note in a diagram passes through here. ``]`` becomes
    ``&#93;``: dot's HTML-label lexer fails on a ``]`` right after a tag (``<B>]</B>``).

    >>> esc("a<b\\x1b\\ud800") == "a&lt;b\\u241b\\ufffd"  # ESC shows as U+241B
    True
    >>> esc("x[0]")
    'x[0&#93;'
    """
    return html.escape(_NOT_XML.sub(_visible, str(text)), quote=False).replace("]", "&#93;")


def _font(lines: list[str], color: str, face: str | None = None) -> str:
    """Escaped lines in a 10 pt font of one colour (monospace for value grids)."""
    face_attr = f' FACE="{face}"' if face else ""
    body = "<BR/>".join(esc(line) for line in lines)
    return f'<FONT POINT-SIZE="10" COLOR="{color}"{face_attr}>{body}</FONT>'


def small_note(text: str, color: str = _GREY) -> str:
    return _font([text], color)


def _mono(lines: list[str], color: str = "#202124") -> str:
    # no-break spaces: SVG viewers drop leading and repeated plain spaces, which aligns the grid
    return _font([line.replace(" ", "\u00a0") for line in lines], color, _MONO)


def html_rows(rows: list[tuple[str, str]]) -> str:
    """An HTML-like label: one table row per (content, extra TD attributes)."""
    cells = "".join(f"<TR><TD{attrs}>{content}</TD></TR>" for content, attrs in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>>'


def _number(v) -> str:
    """A value compactly, to 4 significant digits: 1.0, 0.1, 25000.0, 1e-05, nan."""
    v = float(v)
    return repr(v) if not np.isfinite(v) else repr(float(f"{v:.4g}"))


def _values(a: np.ndarray, with_shape: bool) -> list[str]:
    """Small arrays as a grid of rounded entries, one line per row; large ones as min and max."""
    if a.ndim == 0:
        return [_number(a)]
    if a.size <= SMALL:
        if a.ndim > 2:
            return np.array2string(a, precision=3, separator=", ", suppress_small=True,
                                   floatmode="maxprec_equal").splitlines()
        finite = np.abs(a[np.isfinite(a)])
        # rounding noise such as 5.6e-15 next to entries of size 100 reads as 0
        a = np.where(np.abs(a) < 1e-12 * (finite.max() if finite.size else 0), 0.0, a)
        cells = [[f"{v:.4g}" for v in row] for row in np.atleast_2d(a)]
        width = max((len(c) for row in cells for c in row), default=0)
        return ["  ".join(c.rjust(width) for c in row) for row in cells] or ["(empty)"]
    finite = a[np.isfinite(a)]
    span = "no finite entries" if finite.size == 0 else (
        f"min {_number(finite.min())}, max {_number(finite.max())}")
    return [f"{a.shape}: {span}" if with_shape else span]


def _nonfinite(a: np.ndarray | None) -> str | None:
    """'2 NaN, 1 inf' when the array holds any, else None."""
    if a is None or a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    nan, inf = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    return ", ".join(s for s in (f"{nan} NaN" if nan else "", f"{inf} inf" if inf else "") if s)


def problems(t: Tensor) -> list[str]:
    """Notes that make a tensor red: NaN/inf in its data or grad, or an anomaly note."""
    notes = []
    bad = _nonfinite(t.data)
    if bad:
        notes.append(f"holds {bad}")
    bad_grad = _nonfinite(t.grad)
    if bad_grad:
        notes.append(f"grad holds {bad_grad}")
    if t._note:
        notes.append(t._note)
    return notes


def _tensor_rows(t: Tensor, show: frozenset) -> list[tuple[str, str]]:
    """Shape, data and grad rows of a tensor box (everything but its name)."""
    rows = []
    if "shape" in show:
        rows.append((small_note(f"{t.shape} {t.dtype}"), ""))
    if "data" in show:
        rows.append((_mono(_values(t.data, "shape" not in show)), _LEFT))
    if "grad" in show and t.requires_grad:
        if t.grad is None:
            rows.append((small_note("grad: not computed", _GRAD), ""))
        else:
            lines = _values(t.grad, "shape" not in show)
            if len(lines) == 1:
                rows.append((_mono([f"grad: {lines[0]}"], _GRAD), _LEFT))
            else:
                rows.append((_mono(["grad:", *lines], _GRAD), _LEFT))
    return rows


def _note_rows(notes: list[str]) -> list[tuple[str, str]]:
    lines = [line for note in notes for line in textwrap.wrap(note, 36)]
    return [(_font(lines, RED), "")] if lines else []


def tensor_label(t: Tensor, show: frozenset) -> str:
    notes = _note_rows(problems(t))
    if node_kind(t) == "const":
        return html_rows([(esc(_number(t.data.reshape(()))), ""), *notes])
    rows = [(f"<B>{esc(t.name)}</B>", "")] if t.name else []
    rows += _tensor_rows(t, show) + notes
    return html_rows(rows or [(" ", "")])


def op_label(t: Tensor) -> str:
    kw = t._kw or {}
    details = [f"axis={kw['axis']}"] if kw.get("axis") is not None else []
    details += ["keepdims"] if kw.get("keepdims") else []
    details += [f"{k}={kw[k] if isinstance(kw[k], int) else _number(kw[k])}"
                for k in ("p", "base") if k in kw]
    rows = [(esc(t.op or ""), "")] + ([(small_note(", ".join(details)), "")] if details else [])
    return html_rows(rows)


def group_label(group: str, members: list[Tensor], output: Tensor, show: frozenset) -> str:
    """A collapsed scope's box: its name (the last part of ``group``), its op count, its
    ``output`` tensor's rows, and the first problem among its ``members``."""
    ops = sum(m.op is not None for m in members)
    name = group.rpartition("/")[2]
    rows = [(f"<B>{esc(name)}</B>", ""), (small_note(f"{ops} op{'s' * (ops != 1)}"), "")]
    rows += _tensor_rows(output, show)
    bad = sorted((m for m in members if problems(m)), key=lambda m: m._seq)
    if bad:  # the earliest tensor with a problem is where it started
        rows += _note_rows([f"{bad[0].op or 'input'}: {problems(bad[0])[0]}"])
    return html_rows(rows)
