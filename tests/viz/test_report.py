"""Tests for tinygrad_lc.viz.report: one self-contained, well-formed HTML page."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest

from tinygrad_lc.viz.report import Report

# Smallest valid PNG: a 1x1 transparent pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
SVG = (b"<svg xmlns='http://www.w3.org/2000/svg' width='4' height='4'>"
       b"<rect width='4' height='4'/></svg>")


class _Collector(HTMLParser):
    """Collects tags, heading ids, image sources and external references."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.ids: list[str] = []
        self.srcs: list[str] = []
        self.hrefs: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.srcs.append(attrs["src"])
        if "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def _parse(page: str) -> _Collector:
    c = _Collector()
    c.feed(page)
    c.close()
    assert not c.errors and not c.stack, (c.errors, c.stack)
    return c


def test_page_is_balanced_and_self_contained(tmp_path):
    (tmp_path / "curve.png").write_bytes(PNG)
    r = Report("Demo <report>")
    r.section("Loss table", "The lecture's three examples.")
    r.table(["image", "SVM", "softmax"], [["cat", 2.9, 2.0401], ["car", 0.0, 0.0]],
            caption="per-example losses")
    r.section("Pictures")
    r.image(tmp_path / "curve.png", "loss curve", caption="SGD")
    r.image(SVG, "a diagram", suffix=".svg", width=300)
    r.code("x < y & z")
    r.paragraph("done", note=True)
    page = r.write(tmp_path / "sub" / "report.html").read_text(encoding="utf-8")
    c = _parse(page)
    assert c.ids == ["loss-table", "pictures"]
    assert c.hrefs == ["#loss-table", "#pictures"]  # only links inside the page
    kinds = [s.split(",")[0] for s in c.srcs]
    assert kinds == ["data:image/png;base64", "data:image/svg+xml;base64"]
    assert base64.b64decode(c.srcs[0].split(",", 1)[1]) == PNG
    assert base64.b64decode(c.srcs[1].split(",", 1)[1]) == SVG
    assert "<title>Demo &lt;report&gt;</title>" in page and "x &lt; y &amp; z" in page
    assert '<td>cat</td><td class="num">2.9</td><td class="num">2.04</td>' in page
    assert "per-example losses" in page
    assert not re.search(r"""(src|href)=["'](https?:|file:|/)""", page)


def test_repeated_titles_get_distinct_anchors():
    r = Report("t")
    for _ in range(3):
        r.section("Same!")
    assert _parse(r.to_html()).ids == ["same", "same-2", "same-3"]


def test_sections_are_numbered_once_by_the_report():
    r = Report("t")
    r.section("Losses")
    r.section("Graphs")
    page = r.to_html()
    assert '<h2 id="losses">1. Losses</h2>' in page and '<h2 id="graphs">2. Graphs</h2>' in page
    assert '<li><a href="#losses">Losses</a></li>' in page  # the <ol> numbers the contents


def test_backticks_become_code_and_everything_else_is_escaped():
    r = Report("t")
    r.section("About `x`", "made by `tinygrad-lc demo` <b>")
    r.paragraph("a `<tag>` and a lone ` stays", note=True)
    page = r.to_html()
    assert "made by <code>tinygrad-lc demo</code> &lt;b&gt;" in page
    assert "a <code>&lt;tag&gt;</code> and a lone ` stays" in page
    assert '1. About <code>x</code></h2>' in page


def test_tables_scroll_in_their_own_box_and_numbers_do_not_wrap():
    r = Report("t")
    r.table(["a"], [[1.5]])
    page = r.to_html()
    assert '<div class="table"><table>' in page
    assert re.search(r"\.table \{[^}]*overflow-x: auto", page)
    assert re.search(r"td\.num \{[^}]*white-space: nowrap", page)


def test_numbers_align_right_and_text_left():
    r = Report("t")
    r.table(["a", "b", "c", "d", "e"], [["1.3, 4.9", "6.66e-10", 3, "-0.5", "12%"]])
    page = r.to_html()
    assert ('<td>1.3, 4.9</td><td class="num">6.66e-10</td><td class="num">3</td>'
            '<td class="num">-0.5</td><td class="num">12%</td>') in page


def test_table_row_length_is_checked():
    with pytest.raises(ValueError, match="row 1 has 1 cells, expected 2"):
        Report("t").table(["a", "b"], [[1, 2], [3]])


def test_unknown_picture_type_is_refused(tmp_path):
    (tmp_path / "x.bmp").write_bytes(b"BM")
    with pytest.raises(ValueError, match=r"cannot embed a \.bmp picture"):
        Report("t").image(tmp_path / "x.bmp", "x")
    with pytest.raises(ValueError, match="typeless"):
        Report("t").image(b"...", "x")


def test_write_is_atomic_and_readable_by_others(tmp_path, monkeypatch):
    import os

    path = tmp_path / "report.html"
    old = os.umask(0o022)
    try:
        Report("first").write(path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    before = path.read_text(encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="simulated"):
        Report("second").write(path)
    monkeypatch.undo()
    assert path.read_text(encoding="utf-8") == before  # not half of the new page
    assert os.listdir(tmp_path) == ["report.html"]
