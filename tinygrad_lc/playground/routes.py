"""The playground's web application: the page, and a JSON API on per-tab sessions (Starlette).

Routes (every answer JSON but the page and its two files; every error a 4xx
``{"error": "<one line>"}``, never a 5xx):

- ``GET /``, ``GET /static/style.css``, ``GET /static/playground.js``: the page, from memory
  (the files are read once, when the app is made: no request reads or writes a file);
- ``GET /api/state?session=S``: the state of session S; without S, a new session;
- ``POST /api/state`` ``{"session": S, <state fields>}``: set them, answer the state;
- ``POST /api/step`` ``{"session": S, "steps": k}``: k updates (1 to 100; default 1);
- ``POST /api/randomize`` ``{"session": S, "what": "data" | "params", "seed": n}``;
- ``POST /api/graph`` ``{"session": S, "collapse": [scope, ...]}``: ``{"svg", "scopes"}``,
  the diagram of the total loss with values and gradients;
- ``POST /api/gradcheck`` ``{"session": S}``: the gradient check's table.

The endpoints are ``async`` and run one at a time on the event loop, so a session is never
changed by two requests at once; only Graphviz's ``dot`` (tens of milliseconds) runs on a
worker thread, on a diagram that no longer refers to the session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources

import graphviz
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tinygrad_lc.playground.sessions import IDLE_SECONDS, MAX_SESSIONS, Sessions
from tinygrad_lc.playground.validation import (
    LIMITS,
    READ_ONLY_FIELDS,
    STATE_FIELDS,
    RequestError,
    collapse_list,
    only_fields,
    randomize_fields,
    read_json,
    session_id,
    state_fields,
    step_count,
)

__all__ = ["app", "ASSETS"]

log = logging.getLogger("tinygrad_lc.playground")

#: URL path -> (file in the package's static/ folder, content type)
ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
    "/static/playground.js": ("playground.js", "text/javascript; charset=utf-8"),
}
_PAGE_HEADERS = {
    # the page loads nothing from elsewhere; the diagram's SVG arrives as text
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors *",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
_API_HEADERS = {"Cache-Control": "no-store"}

Handler = Callable[[Request, Sessions], Awaitable[dict]]


def app(max_sessions: int = MAX_SESSIONS, idle_seconds: float = IDLE_SECONDS) -> Starlette:
    """The playground as an ASGI application (serve it with uvicorn).

    Parameters
    ----------
    max_sessions : int
        Sessions (browser tabs) alive at once; a new one past this drops the least recently
        used.
    idle_seconds : float
        A session unused this long is dropped.

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> client = TestClient(app())
    >>> state = client.get("/api/state").json()
    >>> state["loss"], len(state["points"]) == len(state["rows"])
    ('weston_watkins', True)
    >>> client.post("/api/step", json={"session": state["session"], "steps": 0}).json()
    {'error': 'steps must be an integer from 1 to 100, got 0'}
    """
    static = resources.files("tinygrad_lc.playground") / "static"
    files = {path: (static.joinpath(name).read_bytes(), kind)
             for path, (name, kind) in ASSETS.items()}
    sessions = Sessions(max_sessions, idle_seconds)

    def asset(request: Request) -> Response:
        body, kind = files[request.url.path]
        return Response(body, media_type=kind, headers=_PAGE_HEADERS)

    def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return JSONResponse(await handler(request, sessions), headers=_API_HEADERS)
            except RequestError as exc:
                return error(exc.message, exc.status)
            except Exception as exc:  # a bug of ours: logged in full, answered in one line
                log.exception("playground: %s %s failed", request.method, request.url.path)
                return error(f"unexpected {type(exc).__name__} in {request.url.path}: {exc}",
                             400)

        return endpoint

    routes = [Route(path, asset, methods=["GET"]) for path in files]
    routes += [
        Route("/api/state", api(get_state), methods=["GET"]),
        Route("/api/state", api(set_state), methods=["POST"]),
        Route("/api/step", api(step), methods=["POST"]),
        Route("/api/randomize", api(randomize), methods=["POST"]),
        Route("/api/graph", api(graph), methods=["POST"]),
        Route("/api/gradcheck", api(gradcheck), methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


def error(message: str, status: int) -> JSONResponse:
    """The one form of every error answer: ``{"error": "<one line>"}`` with a 4xx status."""
    return JSONResponse({"error": " ".join(message.split())[:500]}, status_code=status,
                        headers=_API_HEADERS)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route: 404, wrong method: 405) as JSON too."""
    status = getattr(exc, "status_code", 400)
    if status == 405:
        return error(f"{request.method} is not allowed on {request.url.path}", 405)
    if status == 404:
        return error(f"no such page or API route: {request.url.path[:100]}", 404)
    return error(str(getattr(exc, "detail", exc)), status if 400 <= status < 500 else 400)


# ---------------------------------------------------------------- the API
async def body_of(request: Request, allowed: tuple) -> dict:
    """The request's JSON object, read up to the size limit, with only ``allowed`` fields and
    a ``session`` among them."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > LIMITS["body"]:
        raise RequestError(f"the body has {declared} bytes, more than the {LIMITS['body']} "
                           "allowed", 413)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > LIMITS["body"]:
            raise RequestError(f"the body is longer than the {LIMITS['body']} bytes allowed",
                               413)
    body = read_json(bytes(raw))
    only_fields(body, ("session", *allowed), f"{request.method} {request.url.path}")
    if "session" not in body:
        raise RequestError(f"{request.url.path} needs the session id: "
                           '{"session": "...", ...} (GET /api/state starts one)')
    session_id(body["session"])
    return body


async def get_state(request: Request, sessions: Sessions) -> dict:
    params = request.query_params
    unknown = [k for k in params if k != "session"]
    if unknown:
        raise RequestError(f"GET /api/state takes only ?session=..., got {unknown[0][:40]!r}")
    if "session" in params:
        sid = session_id(params["session"])
        return {"session": sid, **sessions.get(sid).as_json()}
    sid, state = sessions.new()
    return {"session": sid, **state.as_json()}


async def set_state(request: Request, sessions: Sessions) -> dict:
    body = await body_of(request, STATE_FIELDS + READ_ONLY_FIELDS)
    fields = state_fields(body)
    state = sessions.get(body["session"])
    state.set(fields)
    return {"session": body["session"], **state.as_json()}


async def step(request: Request, sessions: Sessions) -> dict:
    body = await body_of(request, ("steps",))
    k = step_count(body.get("steps", 1))
    state = sessions.get(body["session"])
    state.step(k)
    return {"session": body["session"], **state.as_json()}


async def randomize(request: Request, sessions: Sessions) -> dict:
    body = await body_of(request, ("what", "seed"))
    what, seed = randomize_fields(body)
    state = sessions.get(body["session"])
    state.randomize(what, seed)
    return {"session": body["session"], **state.as_json()}


async def graph(request: Request, sessions: Sessions) -> dict:
    body = await body_of(request, ("collapse",))
    collapse = collapse_list(body.get("collapse", []))
    diagram, scopes = sessions.get(body["session"]).graph(collapse)
    try:
        svg = await run_in_threadpool(diagram.pipe, format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise RequestError("the diagram needs Graphviz's dot program, which is not installed "
                           "(apt-get install graphviz, brew install graphviz)", 422) from None
    except graphviz.CalledProcessError as exc:
        raise RequestError(f"Graphviz's dot failed: {exc}", 422) from None
    return {"session": body["session"], "svg": svg[svg.find("<svg"):], "scopes": scopes,
            "collapse": list(collapse)}


async def gradcheck(request: Request, sessions: Sessions) -> dict:
    body = await body_of(request, ())
    return {"session": body["session"], **sessions.get(body["session"]).gradcheck()}
