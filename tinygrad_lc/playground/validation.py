"""Every request to the playground, checked before it touches a session.

A request is read as a JSON object of known fields; each field is checked for its type, its
length and its range, and every number for being finite. Anything else raises
:class:`RequestError`, whose ``status`` (a 4xx) and one-line ``message`` become the answer
``{"error": message}``. Nothing here changes a session: the checked values come back as new
NumPy arrays and plain numbers, and a session takes them all or none.

>>> fields = state_fields({"W": [[1, 2, 3], [4, 5, 6]], "reg": 0.5})
>>> fields["W"].shape, fields["reg"]
((2, 3), 0.5)
>>> state_fields({"delta": float("nan")})
Traceback (most recent call last):
...
tinygrad_lc.playground.validation.RequestError: delta must be a finite number in [0, 10], got NaN
"""

from __future__ import annotations

import json
import math
from numbers import Integral, Real

import numpy as np

from tinygrad_lc.losses import FORMULATIONS

__all__ = ["RequestError", "LIMITS", "LOSS_KINDS", "OPTIMIZERS", "STATE_FIELDS",
           "READ_ONLY_FIELDS", "read_json", "only_fields", "session_id", "state_fields",
           "step_count", "randomize_fields", "collapse_list"]

LOSS_KINDS = (*FORMULATIONS, "softmax")
OPTIMIZERS = ("sgd", "momentum", "adam")

#: The bounds of every number a request may set (also sent to the page with each state).
LIMITS = {
    "points": 1000,  # at most this many points per session
    "coordinate": 5.0,  # points lie in the plot, [-5, 5] x [-5, 5]
    "weight": 100.0,  # every entry of W and b in [-100, 100]
    "delta": 10.0,  # delta in [0, 10]
    "reg": 10.0,  # the L2 strength in [0, 10]
    "lr": 10.0,  # the step size in (0, 10]
    "steps": 100,  # updates per step request, 1 to 100
    "step": 10**9,  # the step counter
    "body": 256 * 1024,  # bytes of a request body
    "session": 64,  # characters of a session id
}

#: The fields of a state a POST /api/state may set.
STATE_FIELDS = ("points", "labels", "W", "b", "loss", "delta", "reg", "lr", "optimizer", "step")
#: The fields the server computes; a POST may send them back (a page echoing its state), and
#: they are ignored.
READ_ONLY_FIELDS = ("losses", "rows", "grad", "history", "limits")


class RequestError(ValueError):
    """A request the playground refuses: ``status`` (4xx) and a one-line ``message``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = " ".join(str(message).split())  # one line, whatever came in
        self.status = status


def _reject_constant(name: str):
    raise RequestError(f"the body is not strict JSON: {name} is not a number JSON allows")


def read_json(raw: bytes) -> dict:
    """The body as a JSON object; NaN, Infinity, bad UTF-8, deep nesting: a RequestError.

    >>> read_json(b'{"session": "x"}')
    {'session': 'x'}
    >>> read_json(b'[1, 2]')
    Traceback (most recent call last):
    ...
    tinygrad_lc.playground.validation.RequestError: the body must be a JSON object {...}, got a list
    """
    if len(raw) > LIMITS["body"]:
        raise RequestError(f"the body has {len(raw)} bytes, more than the "
                           f"{LIMITS['body']} allowed", 413)
    if not raw.strip():
        raise RequestError("the body is empty; send a JSON object such as "
                           '{"session": "..."}')
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RequestError:
        raise
    except RecursionError:
        raise RequestError("the body is nested too deeply to be a playground request") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, bad UTF-8, a 5000-digit int
        raise RequestError(f"the body is not valid JSON: {_short(exc)}") from None
    if not isinstance(body, dict):
        raise RequestError(f"the body must be a JSON object {{...}}, got {_kind(body)}")
    return body


def only_fields(body: dict, allowed: tuple, where: str) -> None:
    """Refuse fields ``where`` does not know, naming the ones it does."""
    unknown = [k for k in body if k not in allowed]
    if unknown:
        raise RequestError(f"{where} does not take {_names(unknown)}; it takes "
                           f"{', '.join(allowed)}")


def session_id(value) -> str:
    """A session id as the server made it: a short string."""
    if not isinstance(value, str) or not value or len(value) > LIMITS["session"]:
        raise RequestError(f"session must be the id string the server gave, got "
                           f"{_show(value)}")
    return value


def state_fields(body: dict) -> dict:
    """The state fields of ``body``, checked: arrays for points, labels, W and b, floats,
    strings and an int for the others. Fields absent from ``body`` are absent here."""
    out: dict = {}
    if "points" in body:
        out["points"] = _points(body["points"])
    if "labels" in body:
        out["labels"] = _labels(body["labels"])
    if "W" in body:
        out["W"] = _matrix("W", body["W"], 2, 3)
    if "b" in body:
        out["b"] = _vector("b", body["b"], 3, LIMITS["weight"])
    if "loss" in body:
        out["loss"] = _choice("loss", body["loss"], LOSS_KINDS)
    if "optimizer" in body:
        out["optimizer"] = _choice("optimizer", body["optimizer"], OPTIMIZERS)
    if "delta" in body:
        out["delta"] = _number("delta", body["delta"], 0.0, LIMITS["delta"])
    if "reg" in body:
        out["reg"] = _number("reg", body["reg"], 0.0, LIMITS["reg"])
    if "lr" in body:
        out["lr"] = _number("lr", body["lr"], 0.0, LIMITS["lr"], lo_open=True)
    if "step" in body:
        out["step"] = _integer("step", body["step"], 0, LIMITS["step"])
    if "points" in out and "labels" in out and len(out["points"]) != len(out["labels"]):
        raise RequestError(f"labels has {len(out['labels'])} entries but points has "
                           f"{len(out['points'])}; give one label per point")
    return out


def step_count(value) -> int:
    """How many updates one step request runs."""
    return _integer("steps", value, 1, LIMITS["steps"])


def randomize_fields(body: dict) -> tuple[str, int | None]:
    """``what`` ("data" or "params") and an optional ``seed`` of a randomize request."""
    what = _choice("what", body.get("what"), ("data", "params"))
    seed = body.get("seed")
    return what, None if seed is None else _integer("seed", seed, 0, 2**32 - 1)


def collapse_list(value) -> tuple[str, ...]:
    """The scope names a graph request collapses: a list of up to 20 short strings."""
    if not isinstance(value, list) or len(value) > 20 or not all(
            isinstance(v, str) and 0 < len(v) <= 64 for v in value):
        raise RequestError(f"collapse must be a list of scope names, got {_show(value)}")
    return tuple(value)


# ---------------------------------------------------------------- one field each
def _points(value) -> np.ndarray:
    lim, most = LIMITS["coordinate"], LIMITS["points"]
    if not isinstance(value, list):
        raise RequestError(f"points must be a list of [x, y] pairs, got {_kind(value)}")
    if not 1 <= len(value) <= most:
        raise RequestError(f"points must hold 1 to {most} points, got {len(value)}")
    out = np.empty((len(value), 2))
    for i, p in enumerate(value):
        if not isinstance(p, list) or len(p) != 2:
            raise RequestError(f"points[{i}] must be a pair [x, y], got {_show(p)}")
        for k in range(2):
            out[i, k] = _number(f"points[{i}][{k}]", p[k], -lim, lim)
    return out


def _labels(value) -> np.ndarray:
    if not isinstance(value, list):
        raise RequestError(f"labels must be a list of classes 0, 1 or 2, got {_kind(value)}")
    if not 1 <= len(value) <= LIMITS["points"]:
        raise RequestError(f"labels must hold 1 to {LIMITS['points']} classes, got {len(value)}")
    return np.array([_integer(f"labels[{i}]", v, 0, 2) for i, v in enumerate(value)],
                    dtype=np.int64)


def _matrix(name: str, value, rows: int, cols: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) != rows:
        got = f"{len(value)} rows" if isinstance(value, list) else _kind(value)
        raise RequestError(f"{name} must be {rows} rows of {cols} numbers, got {got}")
    return np.stack([_vector(f"{name}[{i}]", r, cols, LIMITS["weight"])
                     for i, r in enumerate(value)])


def _vector(name: str, value, n: int, lim: float) -> np.ndarray:
    if not isinstance(value, list) or len(value) != n:
        got = f"{len(value)} entries" if isinstance(value, list) else _kind(value)
        raise RequestError(f"{name} must be a list of {n} numbers, got {got}")
    return np.array([_number(f"{name}[{k}]", v, -lim, lim) for k, v in enumerate(value)])


def _number(name: str, value, lo: float, hi: float, lo_open: bool = False) -> float:
    bounds = f"({lo:g}, {hi:g}]" if lo_open else f"[{lo:g}, {hi:g}]"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise RequestError(f"{name} must be a finite number in {bounds}, got {_show(value)}")
    try:
        x = float(value)
    except OverflowError:  # an int beyond float's range
        raise RequestError(f"{name} must be a finite number in {bounds}, got a number with "
                           f"{len(str(value))} digits") from None
    if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo):
        raise RequestError(f"{name} must be a finite number in {bounds}, got {_show(value)}")
    return x


def _integer(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or not lo <= int(value) <= hi:
        raise RequestError(f"{name} must be an integer from {lo} to {hi}, got {_show(value)}")
    return int(value)


def _choice(name: str, value, allowed: tuple) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise RequestError(f"{name} must be one of {', '.join(allowed)}, got {_show(value)}")
    return value


# ---------------------------------------------------------------- words for the messages
def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            type(None): "null"}.get(type(value), "a number")


def _show(value) -> str:
    """A short, one-line picture of what came."""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else repr(value).replace("inf", "Infinity")
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**30 else f"a number with {len(str(value))} digits"
        return text
    if isinstance(value, str):
        return json.dumps(value[:40] + ("..." if len(value) > 40 else ""))
    return _kind(value)


def _names(keys: list) -> str:
    shown = ", ".join(json.dumps(k[:40]) for k in keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:160]
