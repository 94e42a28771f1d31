"""The playground's HTTP API through Starlette's TestClient: the numbers are the library's,
sessions are independent and bounded, and every bad request gets a 4xx with a one-line JSON
message, never a 5xx (Hypothesis sends the malformed ones)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("starlette", reason="pip install 'tinygrad_lc[playground]'")
from starlette.testclient import TestClient  # noqa: E402

from tinygrad_lc import Tensor  # noqa: E402
from tinygrad_lc.losses import softmax_loss, svm_loss  # noqa: E402
from tinygrad_lc.optim import SGD, Adam  # noqa: E402
from tinygrad_lc.playground import app, routes  # noqa: E402
from tinygrad_lc.playground.server import exposure_warning  # noqa: E402
from tinygrad_lc.playground.sessions import Sessions  # noqa: E402
from tinygrad_lc.playground.state import DEFAULTS  # noqa: E402
from tinygrad_lc.regularizers import l2  # noqa: E402

LOSSES = ("weston_watkins", "one_vs_all", "crammer_singer", "softmax")


@pytest.fixture
def client():
    with TestClient(app()) as c:
        yield c


def new(client) -> dict:
    answer = client.get("/api/state")
    assert answer.status_code == 200
    return answer.json()


def post(client, path: str, body) -> tuple[int, dict]:
    r = client.post(path, json=body)
    return r.status_code, r.json()


def library_losses(s: dict) -> dict:
    """The state's numbers computed here, straight from tinygrad_lc.losses and l2."""
    X, y = np.array(s["points"]), np.array(s["labels"])
    W, b = np.array(s["W"]), np.array(s["b"])
    scores = X @ W + b
    if s["loss"] == "softmax":
        per = softmax_loss(scores, y, reduction="none").data
    else:
        per = svm_loss(scores, y, delta=s["delta"], reduction="none",
                       formulation=s["loss"]).data
    reg = s["reg"] * l2(Tensor(W)).item()
    return {"scores": scores, "per": per, "data": per.mean(), "reg": reg,
            "total": per.mean() + reg}


def assert_numbers_are_the_librarys(s: dict) -> None:
    ref = library_losses(s)
    np.testing.assert_allclose([r["scores"] for r in s["rows"]], ref["scores"], rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose([r["loss"] for r in s["rows"]], ref["per"], rtol=1e-12,
                               atol=1e-12)
    for key in ("data", "reg", "total"):
        assert s["losses"][key] == pytest.approx(ref[key], rel=1e-12, abs=1e-12), key


# ---------------------------------------------------------------- the page and its files
def test_the_page_and_its_two_files_are_served_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for testid in ("plot", "loss-kind", "reg", "lr", "step", "run", "stop", "randomize-params",
                   "randomize-data", "total-loss", "data-loss", "reg-loss", "graph",
                   "gradcheck"):
        assert f'data-testid="{testid}"' in page.text, testid
    css = client.get("/static/style.css")
    js = client.get("/static/playground.js")
    assert css.headers["content-type"].startswith("text/css")
    assert js.headers["content-type"].startswith("text/javascript")
    assert 'type="module" src="static/playground.js"' in page.text
    # offline: nothing is loaded from elsewhere (the SVG namespace is a name, not a request)
    for text in (page.text, css.text, js.text):
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|@import|url\(\s*["']?https?:""",
                             text)
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_the_static_files_are_package_data():
    root = Path(__file__).resolve().parents[2]
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    section = pyproject.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    patterns = re.findall(r'"(static/[^"]+)"', section.split('"tinygrad_lc.playground"', 1)[1])
    package = root / "tinygrad_lc" / "playground"
    shipped = {p.name for pattern in patterns for p in package.glob(pattern)}
    assert shipped == {name for name, _ in routes.ASSETS.values()}


# ---------------------------------------------------------------- the numbers are the library's
def test_a_new_session_has_the_contracts_fields_and_the_librarys_numbers(client):
    s = new(client)
    assert isinstance(s["session"], str) and s["session"]
    assert s["points"] == DEFAULTS["points"] and s["labels"] == DEFAULTS["labels"]
    assert s["W"] == DEFAULTS["W"] and s["b"] == DEFAULTS["b"]
    assert (s["loss"], s["optimizer"], s["step"]) == ("weston_watkins", "sgd", 0)
    assert len(s["rows"]) == len(s["points"]) and all(len(r["scores"]) == 3 for r in s["rows"])
    assert_numbers_are_the_librarys(s)
    assert s["losses"]["data"] == pytest.approx(np.mean([r["loss"] for r in s["rows"]]))
    assert s["losses"]["reg"] == pytest.approx(s["reg"] * np.sum(np.square(s["W"])))
    assert s["history"] == [[0, s["losses"]["total"]]]


@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_its_numbers_and_its_gradient(client, loss):
    s = new(client)
    code, s = post(client, "/api/state", {"session": s["session"], "loss": loss, "delta": 0.5,
                                          "reg": 0.3})
    assert code == 200 and s["loss"] == loss
    assert_numbers_are_the_librarys(s)
    # the gradient behind the negative-gradient arrows: the library's backward of the total
    W = Tensor(np.array(s["W"]), requires_grad=True)
    b = Tensor(np.array(s["b"]), requires_grad=True)
    scores = Tensor(np.array(s["points"])) @ W + b
    y = np.array(s["labels"])
    data = softmax_loss(scores, y) if loss == "softmax" else svm_loss(
        scores, y, delta=0.5, formulation=loss)
    (data + 0.3 * l2(W)).backward()
    np.testing.assert_allclose(s["grad"]["W"], W.grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s["grad"]["b"], b.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_steps_are_the_library_optimizers_steps(client, optimizer):
    s = new(client)
    code, s = post(client, "/api/state", {"session": s["session"], "optimizer": optimizer,
                                          "loss": "softmax", "lr": 0.05})
    code, after = post(client, "/api/step", {"session": s["session"], "steps": 7})
    assert code == 200 and after["step"] == 7
    W = Tensor(np.array(DEFAULTS["W"]), requires_grad=True)
    b = Tensor(np.array(DEFAULTS["b"]), requires_grad=True)
    opt = Adam([W, b], lr=0.05) if optimizer == "adam" else SGD(
        [W, b], lr=0.05, momentum=0.9 if optimizer == "momentum" else 0.0)
    X, y = Tensor(np.array(DEFAULTS["points"])), np.array(DEFAULTS["labels"])
    for _ in range(7):
        opt.zero_grad()
        (softmax_loss(X @ W + b, y) + 0.1 * l2(W)).backward()
        opt.step()
    np.testing.assert_allclose(after["W"], W.data, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(after["b"], b.data, rtol=1e-12, atol=1e-15)
    assert_numbers_are_the_librarys(after)
    assert [h[0] for h in after["history"]] == [0, 0, 7]  # made, set, stepped


@pytest.mark.parametrize("loss", LOSSES)
def test_twenty_single_steps_lower_the_total_loss_on_the_default_data(client, loss):
    s = new(client)
    code, s = post(client, "/api/state", {"session": s["session"], "loss": loss})
    totals = [s["losses"]["total"]]
    for _ in range(20):
        code, s = post(client, "/api/step", {"session": s["session"], "steps": 1})
        assert code == 200
        totals.append(s["losses"]["total"])
    assert totals[-1] < 0.5 * totals[0]
    assert all(b <= a for a, b in zip(totals, totals[1:])), totals
    assert [h[1] for h in s["history"][-21:]] == totals


def test_a_step_that_leaves_the_range_changes_nothing_and_says_why(client):
    s = new(client)
    code, s = post(client, "/api/state", {"session": s["session"], "lr": 10.0, "reg": 10.0})
    before = s
    code, answer = post(client, "/api/step", {"session": s["session"], "steps": 50})
    assert code == 422
    assert "outside [-100, 100]" in answer["error"] and "smaller" in answer["error"]
    now = client.get(f"/api/state?session={s['session']}").json()
    assert (now["W"], now["b"], now["step"], now["history"]) == \
        (before["W"], before["b"], before["step"], before["history"])
    code, answer = post(client, "/api/state", {"session": s["session"], "lr": 0.01})
    code, answer = post(client, "/api/step", {"session": s["session"], "steps": 3})
    assert code == 200 and answer["step"] == 3  # the optimizer was put back, and works


def test_read_only_fields_sent_back_are_ignored_and_setting_resets_the_optimizer(client):
    s = new(client)
    code, stepped = post(client, "/api/step", {"session": s["session"], "steps": 2})
    echo = dict(stepped, losses={"data": 1, "reg": 2, "total": 3}, rows=[])
    code, again = post(client, "/api/state", echo)
    assert code == 200 and again["W"] == stepped["W"] and again["step"] == 2
    assert again["losses"] == stepped["losses"]


def test_randomize_data_and_params(client):
    s = new(client)
    code, a = post(client, "/api/randomize", {"session": s["session"], "what": "data",
                                              "seed": 3})
    assert code == 200 and len(a["points"]) == 12 and sorted(set(a["labels"])) == [0, 1, 2]
    assert a["points"] != s["points"] and np.max(np.abs(a["points"])) <= 5
    code, b = post(client, "/api/randomize", {"session": s["session"], "what": "params",
                                              "seed": 3})
    assert b["W"] != a["W"] and b["points"] == a["points"]
    assert_numbers_are_the_librarys(b)
    other = new(client)
    post(client, "/api/randomize", {"session": other["session"], "what": "data", "seed": 3})
    code, c = post(client, "/api/randomize", {"session": other["session"], "what": "params",
                                              "seed": 3})
    assert (c["points"], c["W"], c["b"]) == (b["points"], b["W"], b["b"])  # seeded


# ---------------------------------------------------------------- sessions
def test_two_sessions_are_independent(client):
    a, b = new(client), new(client)
    assert a["session"] != b["session"]
    post(client, "/api/state", {"session": a["session"], "loss": "softmax", "reg": 1.0,
                                "points": [[0.0, 0.0]], "labels": [2]})
    post(client, "/api/step", {"session": a["session"], "steps": 5})
    b_now = client.get(f"/api/state?session={b['session']}").json()
    assert b_now == b
    a_now = client.get(f"/api/state?session={a['session']}").json()
    assert a_now["step"] == 5 and a_now["loss"] == "softmax" and len(a_now["points"]) == 1


def test_at_most_1000_points(client):
    s = new(client)
    pts = np.random.default_rng(0).uniform(-5, 5, (1000, 2)).tolist()
    code, full = post(client, "/api/state", {"session": s["session"], "points": pts,
                                             "labels": [i % 3 for i in range(1000)]})
    assert code == 200 and len(full["rows"]) == 1000
    assert_numbers_are_the_librarys(full)
    code, answer = post(client, "/api/state", {"session": s["session"], "points": pts + [[0, 0]],
                                               "labels": [0] * 1001})
    assert code == 400 and answer["error"] == "points must hold 1 to 1000 points, got 1001"


def test_the_oldest_session_goes_when_the_cap_is_reached():
    with TestClient(app(max_sessions=2)) as client:
        first, second = new(client)["session"], new(client)["session"]
        client.get(f"/api/state?session={first}")  # first is now the most recently used
        new(client)
        assert client.get(f"/api/state?session={first}").status_code == 200
        gone = client.get(f"/api/state?session={second}")
        assert gone.status_code == 404 and "reload the page" in gone.json()["error"]


def test_idle_sessions_expire():
    now = [0.0]
    sessions = Sessions(max_sessions=10, idle_seconds=60, clock=lambda: now[0])
    a, _ = sessions.new()
    now[0] = 30.0
    b, _ = sessions.new()
    now[0] = 61.0  # a idle for 61 s, b for 31 s
    assert sessions.get(b) is not None
    with pytest.raises(ValueError, match="expired after 1 idle minutes"):
        sessions.get(a)
    assert len(sessions) == 1


# ---------------------------------------------------------------- graph and gradient check
def test_the_graph_is_the_total_loss_with_values_gradients_and_collapsible_scopes(client):
    pytest.importorskip("graphviz")
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed: `make dot`")
    s = new(client)
    code, g = post(client, "/api/graph", {"session": s["session"]})
    assert code == 200 and g["svg"].startswith("<svg")
    assert g["scopes"] == ["scores", "svm_loss", "l2"]
    assert "svm_loss" in g["svg"] and "grad:" in g["svg"] and "margins" in g["svg"]
    code, small = post(client, "/api/graph", {"session": s["session"],
                                              "collapse": ["svm_loss", "l2"]})
    assert code == 200 and "margins" not in small["svg"] and len(small["svg"]) < len(g["svg"])
    code, bad = post(client, "/api/graph", {"session": s["session"], "collapse": ["nope"]})
    assert code == 400 and "nope" in bad["error"]


def test_gradcheck_passes_and_reports_a_kink_a_point_sits_on(client):
    s = new(client)
    code, report = post(client, "/api/gradcheck", {"session": s["session"]})
    assert code == 200 and report["passed"] and report["kink_count"] == 0
    assert [r["input"] for r in report["rows"]] == ["'W' (input 0)", "'b' (input 1)"]
    assert all(r["rel"] < 1e-6 for r in report["rows"])
    # one point, W = 0 and b = (0, 1, 0) with class 1: the margin s_0 - s_1 + 1 is exactly 0
    code, s = post(client, "/api/state", {"session": s["session"], "points": [[0.0, 0.0]],
                                          "labels": [1], "W": [[0, 0, 0], [0, 0, 0]],
                                          "b": [0.0, 1.0, 0.0], "reg": 0.0})
    code, report = post(client, "/api/gradcheck", {"session": s["session"]})
    assert code == 200 and report["passed"] and report["kink_count"] >= 1
    assert "relu" in report["kinks"][0] and "svm_loss" in report["kinks"][0]


# ---------------------------------------------------------------- bad requests
BAD = [
    # (method, path, raw body or JSON, status, text in the message)
    ("POST", "/api/step", b"{not json", 400, "not valid JSON"),
    ("POST", "/api/step", b'{"session": "S", "steps": NaN}', 400, "NaN is not a number"),
    ("POST", "/api/state", b'{"session": "S", "reg": Infinity}', 400, "Infinity"),
    ("POST", "/api/state", b'{"session": "S", "reg": 1e999}', 400, "got Infinity"),
    ("POST", "/api/state", b'{"session": "S", "reg": -1e999}', 400, "got -Infinity"),
    ("POST", "/api/state", b"", 400, "body is empty"),
    ("POST", "/api/state", b"[1, 2]", 400, "must be a JSON object"),
    ("POST", "/api/state", b"\xff\xfe\x00", 400, "not valid JSON"),
    ("POST", "/api/state", b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
    ("POST", "/api/state", b'{"session": "S", "reg": ' + b"9" * 5000 + b"}", 400, "JSON"),
    ("POST", "/api/state", {"session": "S", "reg": 10**400}, 400, "with 401 digits"),
    ("POST", "/api/state", {"reg": 0.1}, 400, "needs the session id"),
    ("POST", "/api/state", {"session": 5}, 400, "session must be the id string"),
    ("POST", "/api/state", {"session": "x" * 65}, 400, "session must be the id string"),
    ("POST", "/api/state", {"session": "S", "colour": 1}, 400, 'does not take "colour"'),
    ("POST", "/api/state", {"session": "S", "W": [[1, 2, 3]]}, 400,
     "W must be 2 rows of 3 numbers, got 1 rows"),
    ("POST", "/api/state", {"session": "S", "W": [[1, 2, 3], [4, 5]]}, 400,
     "W[1] must be a list of 3 numbers, got 2 entries"),
    ("POST", "/api/state", {"session": "S", "W": [[1, 2, 3], [4, 5, 101]]}, 400,
     "W[1][2] must be a finite number in [-100, 100], got 101"),
    ("POST", "/api/state", {"session": "S", "b": [0, "1", 2]}, 400, 'b[1] must be a finite'),
    ("POST", "/api/state", {"session": "S", "b": [0, True, 2]}, 400, "got true"),
    ("POST", "/api/state", {"session": "S", "points": [[0, 6]], "labels": [0]}, 400,
     "points[0][1] must be a finite number in [-5, 5], got 6"),
    ("POST", "/api/state", {"session": "S", "points": [[0, 1, 2]], "labels": [0]}, 400,
     "points[0] must be a pair"),
    ("POST", "/api/state", {"session": "S", "points": [], "labels": []}, 400,
     "points must hold 1 to 1000 points, got 0"),
    ("POST", "/api/state", {"session": "S", "points": [[0, 0]], "labels": [0, 1]}, 400,
     "labels has 2 entries but points has 1"),
    ("POST", "/api/state", {"session": "S", "points": [[0, 0]]}, 400,
     "there would be 1 points and 12 labels; give one label per point"),
    ("POST", "/api/state", {"session": "S", "labels": [0, 1, 3]}, 400,
     "labels[2] must be an integer from 0 to 2, got 3"),
    ("POST", "/api/state", {"session": "S", "labels": [0.0]}, 400, "labels[0] must be an integer"),
    ("POST", "/api/state", {"session": "S", "loss": "hinge"}, 400,
     "loss must be one of weston_watkins, one_vs_all, crammer_singer, softmax"),
    ("POST", "/api/state", {"session": "S", "optimizer": "rmsprop"}, 400, "optimizer must be"),
    ("POST", "/api/state", {"session": "S", "delta": -0.5}, 400, "delta must be a finite"),
    ("POST", "/api/state", {"session": "S", "lr": 0}, 400, "lr must be a finite number in (0, 10]"),
    ("POST", "/api/state", {"session": "S", "reg": None}, 400, "reg must be a finite number"),
    ("POST", "/api/state", {"session": "S", "step": -1}, 400, "step must be an integer"),
    ("POST", "/api/step", {"session": "S", "steps": 0}, 400, "steps must be an integer from 1"),
    ("POST", "/api/step", {"session": "S", "steps": 101}, 400, "from 1 to 100, got 101"),
    ("POST", "/api/step", {"session": "S", "steps": 1.5}, 400, "got 1.5"),
    ("POST", "/api/randomize", {"session": "S", "what": "everything"}, 400, "what must be"),
    ("POST", "/api/randomize", {"session": "S", "what": "data", "seed": -3}, 400, "seed"),
    ("POST", "/api/graph", {"session": "S", "collapse": "l2"}, 400, "collapse must be a list"),
    ("POST", "/api/gradcheck", {"session": "S", "eps": 1}, 400, 'does not take "eps"'),
    ("POST", "/api/step", {"session": "no-such-session"}, 404, "no session 'no-such-session'"),
    ("GET", "/api/state?session=no-such-session", None, 404, "no session"),
    ("GET", "/api/state?sesion=abc", None, 400, "takes only ?session=..."),
    ("GET", "/api/step", None, 405, "GET is not allowed on /api/step"),
    ("DELETE", "/api/state", None, 405, "DELETE is not allowed"),
    ("GET", "/etc/passwd", None, 404, "no such page or API route"),
    ("GET", "/static/../pyproject.toml", None, 404, "no such page"),
    ("POST", "/api/state", b"{" + b'"a":1,' * 60_000 + b'"b":2}', 413, "more than the 262144"),
]


@pytest.mark.parametrize("method,path,body,status,text", BAD)
def test_bad_requests_get_a_4xx_and_a_one_line_message(client, method, path, body, status,
                                                       text):
    s = new(client)["session"]
    if isinstance(body, dict):
        body = {k: (s if v == "S" and k == "session" else v) for k, v in body.items()}
        body = json.dumps(body).encode()
    elif isinstance(body, bytes):
        body = body.replace(b'"S"', json.dumps(s).encode())
    r = client.request(method, path, content=body,
                       headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    message = r.json()["error"]
    assert text in message and "\n" not in message and len(message) <= 500
    assert "Traceback" not in r.text and not message.startswith("unexpected")
    # the session is as it was
    assert client.get(f"/api/state?session={s}").json()["step"] == 0


def test_a_bug_of_ours_is_still_a_one_line_4xx_and_its_traceback_goes_to_the_log(
        client, monkeypatch, caplog):
    s = new(client)

    def broken(self):
        raise KeyError("a bug")

    monkeypatch.setattr("tinygrad_lc.playground.state.State.as_json", broken)
    r = client.post("/api/step", json={"session": s["session"]})
    assert r.status_code == 400
    assert r.json() == {"error": "unexpected KeyError in /api/step: 'a bug'"}
    assert "Traceback" in caplog.text and "POST /api/step failed" in caplog.text


def test_the_refused_request_leaves_the_state_whole(client):
    s = new(client)
    # points are fine, labels are not: neither is applied
    code, answer = post(client, "/api/state", {"session": s["session"], "points": [[1, 1]] * 12,
                                               "labels": [0] * 11 + [7], "reg": 0.5})
    assert code == 400
    assert client.get(f"/api/state?session={s['session']}").json() == s


# Hypothesis: any JSON value in any field, any bytes as a body: a 4xx or a 200, never a 5xx.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=30,
)
FIELDS = ["points", "labels", "W", "b", "loss", "delta", "reg", "lr", "optimizer", "step",
          "steps", "what", "seed", "collapse", "session", "losses", "rows", "x"]


def near_valid(draw_json):
    """Values close to valid ones: right shapes with wrong entries, and the reverse."""
    number = st.one_of(st.floats(), st.integers(-10**30, 10**30), st.sampled_from(
        [0, -0.0, 5, 5.0000001, 100, 100.5, 1e308, -1e-320, True, None, "1"]))
    return st.one_of(
        draw_json,
        st.lists(st.lists(number, min_size=2, max_size=2), min_size=0, max_size=4),
        st.lists(st.lists(number, min_size=3, max_size=3), min_size=2, max_size=2),
        st.lists(number, min_size=3, max_size=3),
        st.lists(st.integers(-2, 4), max_size=4),
        st.sampled_from(["weston_watkins", "softmax", "adam", "data", "params", "l2"]),
        number,
    )


def check_answer(r) -> dict:
    assert r.status_code < 500, r.text
    answer = r.json()
    if r.status_code >= 400:
        assert set(answer) == {"error"}
        assert "\n" not in answer["error"] and not answer["error"].startswith("unexpected"), \
            answer["error"]
    return answer


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(path=st.sampled_from(["/api/state", "/api/step", "/api/randomize", "/api/graph",
                             "/api/gradcheck"]),
       fields=st.dictionaries(st.sampled_from(FIELDS), near_valid(JSON), max_size=4),
       keep_session=st.booleans())
def test_malformed_json_requests_never_get_a_5xx(client, path, fields, keep_session):
    body = dict(fields)
    if keep_session:
        body["session"] = new(client)["session"]
    r = client.post(path, content=json.dumps(body, allow_nan=True).encode())
    check_answer(r)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       path=st.sampled_from(["/api/state", "/api/step", "/api/graph", "/api/gradcheck"]))
def test_arbitrary_bodies_never_get_a_5xx(client, raw, path):
    check_answer(client.post(path, content=raw))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(query=st.dictionaries(st.text(max_size=10), st.text(max_size=70), max_size=3),
       path=st.sampled_from(["/api/state", "/", "/api/x", "/static/style.css"]))
def test_arbitrary_queries_never_get_a_5xx(client, query, path):
    r = client.get(path, params=query)
    assert r.status_code < 500
    if path.startswith("/api"):
        check_answer(r)


# ---------------------------------------------------------------- no files, only 127.0.0.1
def test_no_request_reads_or_writes_a_file(client):
    """Python's audit hook sees every open() of the process: none while the API answers
    (after one warm-up round, which may import modules)."""
    opened: list = []
    recording = [False]

    def hook(event, args):
        if recording[0] and event in ("open", "os.remove", "os.rename", "os.mkdir",
                                      "shutil.rmtree", "tempfile.mkstemp"):
            opened.append((event, args[0] if args else None))

    sys.addaudithook(hook)  # stays for the process; it records only while recording is set

    def round_of_requests():
        s = new(client)["session"]
        client.get("/")
        client.get("/static/playground.js")
        post(client, "/api/state", {"session": s, "loss": "softmax"})
        post(client, "/api/step", {"session": s, "steps": 3})
        post(client, "/api/randomize", {"session": s, "what": "data"})
        post(client, "/api/gradcheck", {"session": s})
        post(client, "/api/graph", {"session": s, "collapse": ["l2"]})
        post(client, "/api/step", {"session": s, "steps": 0})

    round_of_requests()
    recording[0] = True
    try:
        round_of_requests()
    finally:
        recording[0] = False
    # dot runs as a child process fed through pipes: opening a pipe's file descriptor (an
    # int) is no file; the child's own reads are not this process's
    paths = [o for o in opened if not isinstance(o[1], int)]
    assert paths == []
    assert any(isinstance(o[1], int) for o in opened)  # the hook did see the pipes


def test_the_default_address_is_this_machine_only():
    from tinygrad_lc.cli.playground import add_arguments
    from tinygrad_lc.playground.server import HOST, start

    assert HOST == "127.0.0.1"
    parser = __import__("argparse").ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args([]).host == "127.0.0.1" and parser.parse_args([]).port == 8231
    with start() as running:
        assert running.url.startswith("http://127.0.0.1:")
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert exposure_warning(host) is None
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.org"):
        assert "reachable from other machines" in exposure_warning(host)


def test_the_listening_socket_says_tcp_so_asyncio_turns_nagle_off():
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; with Nagle on, a
    response written as headers then body waited ~40 ms for the client's delayed ACK (a step's
    round trip measured 46 ms instead of 8 here)."""
    import socket

    from tinygrad_lc.playground.server import bind

    with bind("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
