"""The playground in a real browser: headless Chromium (Debian's ``chromium`` package;
``make test`` installs it with apt-get, no browser download) driven by Playwright, against a
playground served by uvicorn on a thread, on a free port of 127.0.0.1.

Each test opens a fresh page (a fresh session). The page marks its body with
``data-busy="0"`` when no request is queued or running, and ``data-step`` with the server's
step count: the tests wait for those (never for a clock). Screenshots at 1280 and 390 px go
to ``out/playground/`` for people to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import quantiles, report

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")
pytest.importorskip("starlette", reason="pip install 'tinygrad_lc[playground]'")
httpx = pytest.importorskip("httpx")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip("Chromium is not installed: `make chromium` (apt-get install chromium)",
                allow_module_level=True)

from tinygrad_lc import Tensor  # noqa: E402
from tinygrad_lc.losses import softmax_loss, svm_loss  # noqa: E402
from tinygrad_lc.playground import start  # noqa: E402
from tinygrad_lc.regularizers import l2  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "playground"
LOSSES = ("weston_watkins", "one_vs_all", "crammer_singer", "softmax")
IDLE = 'body[data-busy="0"][data-session]'


@pytest.fixture(scope="module")
def served():
    with start() as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


class Visit:
    """A fresh page (and session) at one width, with everything that went wrong on it."""

    def __init__(self, browser, url: str, width: int = 1280):
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
        self.idle()

    def idle(self, step: int | None = None) -> None:
        """Wait until no request is queued or running (at ``step``, if given)."""
        extra = "" if step is None else f'[data-step="{step}"]'
        self.page.wait_for_selector(IDLE + extra, state="attached")

    def value(self, testid: str) -> float:
        return float(self.page.get_attribute(f'[data-testid="{testid}"]', "data-value"))

    @property
    def session(self) -> str:
        return self.page.get_attribute("body", "data-session")

    def server_state(self, served) -> dict:
        return httpx.get(served.url + "api/state", params={"session": self.session}).json()

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def visit(browser, served):
    v = Visit(browser, served.url)
    yield v
    v.close()


def library(s: dict) -> dict:
    """The numbers of a state, computed here from its points, labels, W and b."""
    X, y = np.array(s["points"]), np.array(s["labels"])
    W, b = Tensor(np.array(s["W"]), requires_grad=True), Tensor(np.array(s["b"]),
                                                                 requires_grad=True)
    scores = Tensor(X) @ W + b
    per = softmax_loss(scores, y, reduction="none") if s["loss"] == "softmax" else svm_loss(
        scores, y, delta=s["delta"], reduction="none", formulation=s["loss"])
    data = per.mean()
    reg = s["reg"] * l2(W)
    (data + reg).backward()
    return {"scores": scores.data, "per": per.data, "data": data.item(), "reg": reg.item(),
            "total": data.item() + reg.item(), "gW": W.grad, "gb": b.grad}


def page_numbers(v: Visit) -> dict:
    """Every number the page shows, as the full values it keeps in data-value."""
    return v.page.evaluate("""() => {
        const val = (el) => Number(el.dataset.value);
        const rows = Array.from(document.querySelectorAll('#rows tbody tr')).map(
            (tr) => Array.from(tr.cells).slice(1, 8).map(val));
        const params = Array.from(document.querySelectorAll('#params tbody tr')).map(
            (tr) => [...Array.from(tr.querySelectorAll('input')).map(val),
                     ...Array.from(tr.cells).slice(4, 7).map(val)]);
        const get = (id) => val(document.querySelector(`[data-testid="${id}"]`));
        return {total: get('total-loss'), data: get('data-loss'), reg: get('reg-loss'),
                step: get('step-count'), rows, params};
    }""")


def assert_page_is_the_library(v: Visit, served) -> dict:
    s = v.server_state(served)
    ref = library(s)
    shown = page_numbers(v)
    tol = {"rtol": 1e-9, "atol": 1e-9}
    for key in ("total", "data", "reg"):
        np.testing.assert_allclose(shown[key], ref[key], **tol)
        assert shown[key] == s["losses"][key]  # the very number the server sent
    assert shown["step"] == s["step"]
    rows = np.array(shown["rows"])
    np.testing.assert_array_equal(rows[:, :2], s["points"])
    np.testing.assert_array_equal(rows[:, 2], s["labels"])
    np.testing.assert_allclose(rows[:, 3:6], ref["scores"], **tol)
    np.testing.assert_allclose(rows[:, 6], ref["per"], **tol)
    params = np.array(shown["params"])  # per class: W[0,c], W[1,c], b[c], -grads
    np.testing.assert_array_equal(params[:, :2].T, s["W"])
    np.testing.assert_array_equal(params[:, 2], s["b"])
    np.testing.assert_allclose(-params[:, 3:5].T, ref["gW"], **tol)
    np.testing.assert_allclose(-params[:, 5], ref["gb"], **tol)
    # and the text shown is that number, rounded
    assert v.page.text_content('[data-testid="total-loss"]') == f"{s['losses']['total']:.4f}"
    return s


def center(v: Visit, selector: str) -> tuple[float, float]:
    box = v.page.locator(selector).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(v: Visit, selector: str, dx: float, dy: float) -> None:
    x, y = center(v, selector)
    v.page.mouse.move(x, y)
    v.page.mouse.down()
    v.page.mouse.move(x + dx, y + dy, steps=6)
    v.page.mouse.up()


# ---------------------------------------------------------------- the tests
def test_twenty_single_steps_lower_the_total_loss_for_each_loss(visit, served):
    step = 0
    for loss in LOSSES:
        visit.page.select_option('[data-testid="loss-kind"]', loss)
        visit.idle()
        before = visit.value("total-loss")
        visit.page.click('[data-testid="step"]', click_count=20)  # 20 clicks of the mouse
        step += 20
        visit.idle(step)
        after = visit.value("total-loss")
        assert after < before, (loss, before, after)
        s = assert_page_is_the_library(visit, served)
        assert s["loss"] == loss
        # the chart drew the history the server keeps
        assert visit.page.locator("#chart polyline").count() == 1
    assert visit.problems == []
    # the browser's own timing of its 80 step requests (reported, not asserted)
    ms = visit.page.evaluate("""performance.getEntriesByType('resource')
        .filter((e) => e.name.endsWith('/api/step')).map((e) => e.duration)""")
    assert len(ms) == 80
    report(SHOTS / "load.json", "browser fetch of /api/step, 80 clicks", quantiles(ms))


def test_page_numbers_equal_the_librarys_after_changes(visit, served):
    visit.page.select_option('[data-testid="loss-kind"]', "one_vs_all")
    visit.page.fill('[data-testid="reg"]', "0.25")
    visit.page.press('[data-testid="reg"]', "Enter")
    visit.page.fill('[data-testid="delta"]', "0.5")
    visit.page.press('[data-testid="delta"]', "Enter")
    visit.page.select_option('[data-testid="optimizer"]', "adam")
    visit.page.click('[data-testid="step"]')
    visit.idle(1)
    s = assert_page_is_the_library(visit, served)
    assert (s["loss"], s["reg"], s["delta"], s["optimizer"]) == ("one_vs_all", 0.25, 0.5, "adam")
    visit.page.fill('[data-testid="W-1-2"]', "-0.75")
    visit.page.press('[data-testid="W-1-2"]', "Enter")
    visit.idle()
    s = assert_page_is_the_library(visit, served)
    assert s["W"][1][2] == -0.75
    assert visit.problems == []


def test_dragging_a_point_changes_its_row_and_the_loss(visit, served):
    before = visit.server_state(served)
    row_before = page_numbers(visit)["rows"][8]
    drag(visit, '[data-testid="point-8"]', 60, -90)  # class 2's first point, up and right
    visit.idle()
    after = assert_page_is_the_library(visit, served)
    row_after = page_numbers(visit)["rows"][8]
    assert row_after[0] > row_before[0] + 0.5 and row_after[1] > row_before[1] + 0.5
    assert after["points"][8] == row_after[:2]
    assert [p for i, p in enumerate(after["points"]) if i != 8] == \
        [p for i, p in enumerate(before["points"]) if i != 8]
    assert after["losses"]["total"] != before["losses"]["total"]
    assert visit.problems == []


def test_dragging_a_line_and_its_arrow_changes_b_and_w(visit, served):
    before = visit.server_state(served)
    drag(visit, '[data-testid="base-0"]', 40, 40)  # shift class 0's line: b changes, W not
    visit.idle()
    shifted = visit.server_state(served)
    assert shifted["W"] == before["W"] and shifted["b"][0] != before["b"][0]
    drag(visit, '[data-testid="head-1"]', 50, 0)  # turn and stretch class 1's weights
    visit.idle()
    turned = assert_page_is_the_library(visit, served)
    assert [turned["W"][0][1], turned["W"][1][1]] != [shifted["W"][0][1], shifted["W"][1][1]]
    assert turned["W"][0][1] > shifted["W"][0][1]  # dragged right: w_x grew
    assert visit.problems == []


def test_adding_and_removing_points(visit, served):
    visit.page.check('[data-testid="add-class-2"]')
    box = visit.page.locator('[data-testid="plot"]').bounding_box()
    visit.page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.9)
    visit.idle()
    s = visit.server_state(served)
    assert len(s["points"]) == 13 and s["labels"][-1] == 2
    assert s["points"][-1][0] > 3 and s["points"][-1][1] < -3  # the lower right corner
    visit.page.click('[data-testid="remove-0"]')
    visit.idle()
    s = assert_page_is_the_library(visit, served)
    assert len(s["points"]) == 12 and s["labels"][:3] == [0, 0, 0]
    visit.page.dblclick('[data-testid="point-0"]')
    visit.idle()
    assert len(visit.server_state(served)["points"]) == 11
    assert visit.problems == []


def test_randomize_and_run_and_stop(visit, served):
    before = visit.server_state(served)
    visit.page.click('[data-testid="randomize-data"]')
    visit.idle()
    visit.page.click('[data-testid="randomize-params"]')
    visit.idle()
    s = visit.server_state(served)
    assert s["points"] != before["points"] and s["W"] != before["W"]
    visit.page.click('[data-testid="run"]')
    while int(visit.page.get_attribute("body", "data-step")) < 5:  # ~10 steps a second
        visit.page.wait_for_timeout(20)  # the page's own clock: the steps come from it
    visit.page.click('[data-testid="stop"]')
    visit.idle()
    stopped = visit.server_state(served)["step"]
    assert stopped >= 5
    visit.page.click('[data-testid="step"]')  # nothing else is still running
    visit.idle(stopped + 1)
    assert_page_is_the_library(visit, served)
    assert visit.problems == []


def test_check_gradient_shows_a_passing_table(visit, served):
    visit.page.click('[data-testid="gradcheck"]')
    visit.idle()
    summary = visit.page.text_content('[data-testid="gradcheck-summary"]')
    assert summary.startswith("gradcheck passed (eps=1e-06")
    rows = visit.page.evaluate("""Array.from(document.querySelectorAll(
        '[data-testid="gradcheck-table"] tbody tr')).map((tr) => Array.from(tr.cells).map(
        (td) => td.dataset.value ?? td.textContent))""")
    assert [r[0] for r in rows] == ["'W' (input 0)", "'b' (input 1)"]
    assert [r[2] for r in rows] == ["ok", "ok"]
    assert all(float(r[6]) < 1e-6 for r in rows)  # relative errors
    assert visit.problems == []


def test_the_graph_toggle_draws_the_loss_and_collapses_scopes(visit):
    visit.page.check('[data-testid="graph"]')
    visit.idle()
    svg = visit.page.inner_html('[data-testid="graph-view"]')
    assert "<svg" in svg and "svm_loss" in svg and "margins" in svg and "grad:" in svg
    visit.page.check('[data-testid="collapse-svm_loss"]')
    visit.idle()
    collapsed = visit.page.inner_html('[data-testid="graph-view"]')
    assert "svm_loss" in collapsed and "margins" not in collapsed
    visit.page.click('[data-testid="step"]')  # redrawn after each change
    visit.idle(1)
    assert visit.page.inner_html('[data-testid="graph-view"]') != collapsed
    assert visit.problems == []


def test_the_address_restores_the_whole_state(browser, served, visit):
    visit.page.select_option('[data-testid="loss-kind"]', "crammer_singer")
    visit.page.fill('[data-testid="lr"]', "0.05")
    visit.page.press('[data-testid="lr"]', "Enter")
    visit.page.select_option('[data-testid="optimizer"]', "momentum")
    visit.page.click('[data-testid="randomize-data"]')
    for _ in range(3):
        visit.page.click('[data-testid="step"]')
    visit.idle(3)
    shared = visit.server_state(served)
    other = Visit(browser, visit.page.url)
    try:
        restored = other.server_state(served)
        assert other.session != visit.session
        for key in ("points", "labels", "W", "b", "loss", "delta", "reg", "lr", "optimizer"):
            assert restored[key] == shared[key], key
        assert restored["losses"] == shared["losses"]
        assert_page_is_the_library(other, served)
    finally:
        other.close()
    assert other.problems == [] and visit.problems == []


def test_a_dropped_session_is_started_again_from_the_page_state(visit, served):
    """64 other tabs push this one's session out (the least recently used goes): the next
    step gets a 404, and the page starts a new session from the state it last drew."""
    visit.page.select_option('[data-testid="loss-kind"]', "softmax")
    visit.page.click('[data-testid="step"]')
    visit.idle(1)
    old_session, old = visit.session, visit.server_state(served)
    with httpx.Client(base_url=served.url) as other_tabs:
        for _ in range(64):
            other_tabs.get("api/state")
        assert other_tabs.get("api/state", params={"session": old_session}).status_code == 404
    visit.page.click('[data-testid="step"]')
    visit.idle(2)
    assert visit.session != old_session
    now = assert_page_is_the_library(visit, served)
    assert (now["loss"], now["points"], now["step"]) == ("softmax", old["points"], 2)
    assert visit.page.locator('[data-testid="error"]').is_hidden()
    assert [p for p in visit.problems if "404" not in p] == []  # the browser logs the 404


def test_a_refused_value_shows_the_servers_one_line_message(visit, served):
    visit.page.fill('[data-testid="lr"]', "20")
    visit.page.press('[data-testid="lr"]', "Enter")
    visit.idle()
    error = visit.page.locator('[data-testid="error"]')
    assert error.is_visible()
    assert error.text_content() == "lr must be a finite number in (0, 10], got 20"
    assert visit.server_state(served)["lr"] == 0.1  # unchanged
    # the browser reports the 400; nothing else went wrong
    assert all("400" in p for p in visit.problems) and visit.problems


@pytest.mark.parametrize("width", [1280, 390])
def test_the_page_loads_without_errors_fits_the_screen_and_is_photographed(browser, served,
                                                                         width):
    v = Visit(browser, served.url, width)
    try:
        assert v.page.locator("#points circle").count() == 12
        assert v.page.locator("#rows tbody tr").count() == 12
        for _ in range(5):
            v.page.click('[data-testid="step"]')
        v.idle(5)
        v.page.click('[data-testid="gradcheck"]')
        v.idle()
        assert v.page.evaluate("document.documentElement.scrollWidth") <= width
        SHOTS.mkdir(parents=True, exist_ok=True)
        v.page.screenshot(path=str(SHOTS / f"playground-{width}.png"), full_page=True)
        if width == 1280:
            v.page.check('[data-testid="graph"]')
            v.idle()
            v.page.screenshot(path=str(SHOTS / "playground-1280-graph.png"), full_page=True)
            v.page.uncheck('[data-testid="graph"]')
            # the README's picture (docs/img/playground.png): the first screen at 1100 px,
            # which GitHub's ~900 px column shows at 82 %, text still readable
            v.page.set_viewport_size({"width": 1100, "height": 820})
            v.page.evaluate("window.scrollTo(0, 0)")
            v.page.screenshot(path=str(SHOTS / "playground-readme.png"))
    finally:
        v.close()
    data = (SHOTS / f"playground-{width}.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(data[16:20], "big") == width  # the page is as wide as the screen
    assert v.problems == []
