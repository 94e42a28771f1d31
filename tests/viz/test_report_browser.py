"""The demo's report and the docs' pictures in a real browser: headless Chromium (Debian's
``chromium`` package; ``make test`` installs it with apt-get, no browser download) driven by
Playwright.

The report is built once, small (20 random-search tries, 30 SGD steps), and opened at 1280 px
(a laptop) and 390 px (a phone). Screenshots of both go to ``out/browser/`` for people to
look at; they are not compared with anything.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="make setup installs playwright")
pytest.importorskip("matplotlib")  # the pictures
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Chromium is not installed: `make chromium` (apt-get install chromium)",
                allow_module_level=True)
if shutil.which("dot") is None:
    pytest.skip("Graphviz's dot is not installed: `make dot`", allow_module_level=True)

from tinygrad_lc import cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "browser"
WIDTHS = (1280, 390)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert cli.main(["demo", "--out", str(out), "--search-tries", "20", "--iters", "30",
                     "--quiet"]) == 0
    return out / "report.html"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


class Visit:
    """A page opened at one width, with everything that went wrong while it loaded."""

    def __init__(self, browser, url: str, width: int):
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(
            f"request failed: {r.url[:80]} ({r.failure})"))
        self.page.on("response", lambda r: self.problems.append(
            f"HTTP {r.status}: {r.url[:80]}") if r.status >= 400 else None)
        self.page.goto(url, wait_until="load")

    def js(self, code: str):
        return self.page.evaluate(code)


@pytest.fixture(scope="module")
def visits(browser, report):
    pages = {w: Visit(browser, report.as_uri(), w) for w in WIDTHS}
    yield pages
    for v in pages.values():
        v.page.close()


# ---------------------------------------------------------------- the report
@pytest.mark.parametrize("width", WIDTHS)
def test_no_console_errors_and_no_failed_requests(visits, width):
    assert visits[width].problems == []


@pytest.mark.parametrize("width", WIDTHS)
def test_every_image_loads(visits, width):
    images = visits[width].js(
        "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
    assert len(images) >= 6  # two diagrams, the loss curves, three template rows
    assert [alt for alt, done, w in images if not (done and w > 0)] == []


def test_every_table_of_contents_link_hits_its_numbered_heading(visits):
    page = visits[1280].page
    links = page.evaluate("""Array.from(document.querySelectorAll('nav a')).map(a => {
        const id = a.getAttribute('href').slice(1), h = document.getElementById(id);
        return [a.textContent, id, h ? h.tagName : null, h ? h.textContent : null]; })""")
    assert len(links) >= 6
    for k, (text, anchor, tag, heading) in enumerate(links, start=1):
        assert tag == "H2", f"the link {text!r} points at #{anchor}, which is no heading"
        assert not re.match(r"\d+\.", text), f"the contents number {text!r} twice"
        assert heading == f"{k}. {text}"
    # following a link scrolls its heading to the top
    last_text, last_anchor = links[-1][0], links[-1][1]
    page.click(f"nav a[href='#{last_anchor}']")
    assert page.evaluate("location.hash") == f"#{last_anchor}"
    top = page.evaluate(f"document.getElementById('{last_anchor}').getBoundingClientRect().top")
    assert abs(top) < 5 or page.evaluate(
        "window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1"), \
        last_text


@pytest.mark.parametrize("width", WIDTHS)
def test_no_literal_backticks_in_the_text(visits, width):
    said = visits[width].js(
        "Array.from(document.querySelectorAll('p, h1, h2, li, figcaption, caption'))"
        ".map(e => e.innerText).filter(t => t.includes('`'))")
    assert said == []
    assert visits[width].js("document.querySelectorAll('p code').length") >= 1


def test_nothing_overflows_a_phone_and_tables_scroll_in_their_own_box(visits):
    v = visits[390]
    assert v.js("document.documentElement.scrollWidth") <= 390
    tables = v.js("""Array.from(document.querySelectorAll('table')).map(t => {
        const box = t.parentElement, s = getComputedStyle(box);
        return [box.className, s.overflowX, box.getBoundingClientRect().right,
                t.scrollWidth > box.clientWidth]; })""")
    assert tables and all(cls == "table" and ox == "auto" and right <= 390
                          for cls, ox, right, _ in tables), tables
    assert any(wide for *_, wide in tables)  # some table is wider than a phone: it scrolls


@pytest.mark.parametrize("width", WIDTHS)
def test_numbers_stay_on_one_line(visits, width):
    broken = visits[width].js("""Array.from(document.querySelectorAll('td.num')).filter(td => {
        const r = document.createRange(); r.selectNodeContents(td);
        return new Set(Array.from(r.getClientRects()).map(c => Math.round(c.top))).size > 1;
    }).map(td => td.textContent)""")
    assert broken == []
    assert visits[width].js("document.querySelectorAll('td.num').length") > 20


@pytest.mark.parametrize("width", WIDTHS)
def test_screenshots_for_people_to_look_at(visits, width):
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"test-report-{width}.png"  # the test's cut-down demo, not make demo's
    visits[width].page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == width  # the page is as wide as the screen


# ---------------------------------------------------------------- the README's and docs' images
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COLUMN = 980  # GitHub's text column at 1280 px, about; docs sites are narrower still


def doc_images() -> list[tuple[str, Path]]:
    found = []
    for page in DOC_PAGES:
        for alt, src in re.findall(r"!\[([^\]]*)\]\(([^)\s]+)\)", page.read_text("utf-8")):
            if not re.match(r"[a-z]+:", src):
                found.append((f"{page.name}: {alt}", (page.parent / src).resolve()))
    return found


def test_readme_and_docs_images_fit_a_1280_px_page_and_stay_readable(browser, tmp_path):
    images = doc_images()
    assert any("README.md" in where for where, _ in images)
    body = "".join(f'<figure><img src="{path.as_uri()}" alt="{where}"></figure>'
                   for where, path in images)
    page_file = tmp_path / "docs_images.html"
    page_file.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
        f"article {{ max-width: {COLUMN}px; margin: 0 auto; }} img {{ max-width: 100%; }}"
        f"</style></head><body><article>{body}</article></body></html>", encoding="utf-8")
    v = Visit(browser, page_file.as_uri(), 1280)
    try:
        shown = v.js("Array.from(document.images).map(i => [i.alt, i.naturalWidth, i.width])")
        page_width = v.js("document.documentElement.scrollWidth")
        SHOTS.mkdir(parents=True, exist_ok=True)
        v.page.screenshot(path=str(SHOTS / "docs-images-1280.png"), full_page=True)
    finally:
        v.page.close()
    assert v.problems == []
    for where, natural, width in shown:
        assert natural > 0, f"{where} does not load"
        # shrunk to the column, the text of a diagram must stay readable (>= 75 % of its size)
        assert width / natural >= 0.75, (
            f"{where}: {natural} px wide, shown at {width} px ({width / natural:.0%}) in a "
            f"{COLUMN} px column")
    assert page_width <= 1280
