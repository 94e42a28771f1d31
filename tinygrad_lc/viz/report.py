"""A self-contained HTML report: sections of text, tables, code and pictures in one file.

Pictures are embedded as base64 ``data:`` URIs and the style sheet is inline, so the page
shows everything when it is copied, mailed or opened offline. ``tinygrad-lc demo`` writes
its ``report.html`` with it.

The page reads on a phone as on a desktop: sections are numbered in one place (the report),
text in backticks is set as code, each table scrolls sideways inside its own box when it is
wider than the screen (numbers never break across lines), and pictures shrink to the width.
``tests/test_report_browser.py`` checks it in a real browser at 1280 and 390 px.
"""

from __future__ import annotations

import base64
import html
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinygrad_lc.util.atomic import atomic_write

__all__ = ["Report"]

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
         ".jpeg": "image/jpeg", ".gif": "image/gif"}

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?%?")  # numbers align right
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45;
       overflow-wrap: break-word; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; padding-bottom: .1em; }
code { background: #f3f3f3; padding: 0 .2em; border-radius: 3px; font-size: .92em; }
.table { overflow-x: auto; margin: .8em 0; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: left; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
caption { caption-side: bottom; color: #555; font-size: .9em; padding-top: .3em;
          text-align: left; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: .7em; overflow-x: auto; }
figure { display: inline-block; max-width: 100%; margin: .5em 1em .5em 0;
         vertical-align: top; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #555; font-size: .9em; }
.scroll { overflow-x: auto; border: 1px solid #ddd; padding: .3em; }
.scroll figure { display: block; margin: 0; max-width: none; }
.scroll figure img { max-width: none; border: 0; }
nav ol { columns: 2; }
@media (max-width: 600px) {
  body { margin: 1em auto; }
  nav ol { columns: 1; }
  figure { margin-right: 0; }
}
.note { color: #555; }
"""
_CODE = re.compile(r"`([^`\n]+)`")  # `text` in backticks is set as code


def _inline(text: str) -> str:
    """Plain text as HTML: escaped, with `spans in backticks` set as code.

    >>> _inline("run `tinygrad-lc demo` & <see>")
    'run <code>tinygrad-lc demo</code> &amp; &lt;see&gt;'
    """
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


def _slug(title: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"
    slug, k = base, 2
    while slug in taken:
        slug, k = f"{base}-{k}", k + 1
    taken.add(slug)
    return slug


class Report:
    """Collect sections and write them as one HTML page that needs no other file.

    Sections are numbered in order (the heading and the table of contents show the number;
    titles carry none). Table cells holding numbers are right-aligned, text left-aligned.

    Parameters
    ----------
    title : str
        Page title and top heading.

    Examples
    --------
    >>> r = Report("Demo")
    >>> r.section("Accuracy")
    >>> r.table(["model", "test"], [["SVM", 0.95]])
    >>> r.image(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "an empty picture", suffix=".svg")
    >>> page = r.to_html()
    >>> "<h2 id=\\"accuracy\\">1. Accuracy</h2>" in page, "data:image/svg+xml;base64," in page
    (True, True)
    """

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = []
        self._toc: list[tuple[str, str]] = []
        self._slugs: set[str] = set()

    def section(self, title: str, intro: str | None = None) -> None:
        """Start a new section: a numbered heading, listed in the table of contents."""
        slug = _slug(title, self._slugs)
        self._toc.append((slug, title))
        self._parts.append(f'<h2 id="{slug}">{len(self._toc)}. {_inline(title)}</h2>')
        if intro:
            self.paragraph(intro)

    def paragraph(self, text: str, note: bool = False) -> None:
        """Add a paragraph of plain text (escaped; `spans in backticks` become code);
        ``note=True`` sets it in grey."""
        cls = ' class="note"' if note else ""
        self._parts.append(f"<p{cls}>{_inline(text)}</p>")

    def code(self, text: str) -> None:
        """Add preformatted text, e.g. a command's output."""
        self._parts.append(f"<pre>{html.escape(text)}</pre>")

    def table(self, header: Sequence[Any], rows: Sequence[Sequence[Any]],
              caption: str | None = None, floatfmt: str = ".4g") -> None:
        """Add a table; floats are written with ``floatfmt``, everything else with ``str``."""

        def cell(v: Any) -> str:
            return html.escape(format(v, floatfmt) if isinstance(v, float) else str(v))

        def td(v: Any) -> str:
            text = cell(v)
            num = isinstance(v, int | float) or bool(_NUMBER.fullmatch(text))
            return f'<td class="num">{text}</td>' if num else f"<td>{text}</td>"

        for i, row in enumerate(rows):
            if len(row) != len(header):
                raise ValueError(f"Report.table: row {i} has {len(row)} cells, expected "
                                 f"{len(header)} (one per header)")
        head = "".join(f"<th>{cell(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(td(v) for v in row) + "</tr>" for row in rows)
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        # the box scrolls sideways when the table is wider than the page (a phone)
        self._parts.append(f'<div class="table"><table>{cap}<thead><tr>{head}</tr></thead>'
                           f"<tbody>{body}</tbody></table></div>")

    def image(self, source: str | os.PathLike[str] | bytes, alt: str,
              caption: str | None = None, suffix: str | None = None,
              width: int | None = None, scroll: bool = False) -> None:
        """Embed a picture (a file path, or raw bytes with ``suffix`` giving the type).

        ``width`` sets the displayed width in pixels; ``scroll=True`` shows the picture at
        its natural size in a box that scrolls sideways (for wide diagrams).

        Raises
        ------
        ValueError
            The type (from the file name or ``suffix``) is not PNG, SVG, JPEG or GIF.
        """
        if isinstance(source, bytes):
            data, kind = source, (suffix or "").lower()
        else:
            path = Path(source)
            data, kind = path.read_bytes(), (suffix or path.suffix).lower()
        if kind not in _MIME:
            raise ValueError(f"Report.image: cannot embed a {kind or 'typeless'} picture; "
                             f"expected one of {', '.join(sorted(_MIME))}")
        uri = f"data:{_MIME[kind]};base64,{base64.b64encode(data).decode('ascii')}"
        size = f' style="width: {int(width)}px"' if width else ""
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        figure = f'<figure><img src="{uri}" alt="{html.escape(alt)}"{size}>{cap}</figure>'
        self._parts.append(f'<div class="scroll">{figure}</div>' if scroll else figure)

    def to_html(self) -> str:
        """The whole page as a string."""
        toc = "".join(f'<li><a href="#{slug}">{_inline(t)}</a></li>' for slug, t in self._toc)
        nav = f"<nav><ol>{toc}</ol></nav>" if self._toc else ""
        title = html.escape(self.title)
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{title}</h1>\n{nav}\n" + "\n".join(self._parts) + "\n</body>\n</html>\n"
        )

    def _repr_html_(self) -> str:
        """Jupyter's view: the page in a frame of its own, so its style sheet stays inside
        (the whole page is the frame's escaped ``srcdoc``).

        >>> Report("<Demo>")._repr_html_()[:60]
        '<iframe title="report: &lt;Demo&gt;" style="width:100%;heigh'
        """
        return (f'<iframe title="report: {html.escape(self.title)}" style="width:100%;'
                f'height:600px;border:1px solid #ccc" sandbox="" '
                f'srcdoc="{html.escape(self.to_html(), quote=True)}"></iframe>')

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically (folders are created) and return the path."""
        return atomic_write(path, self.to_html())
