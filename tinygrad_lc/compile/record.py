"""One run of a function, recorded: ``trace`` installs a Tracer, calls the function with its
arrays as TracedArrays, and records the backward on the tracing backend.

>>> import numpy as np, tinygrad_lc as tg
>>> w = tg.Tensor([1.0, 2.0], requires_grad=True)
>>> p, _, _ = trace(lambda w: (w * w).sum(), "f", (w,), {}, [w], ["w"], True)
>>> [s.name for s in p.steps]
['mul', 'sum', 'B.expand', 'mul', 'mul', 'B.accumulate']
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable

import numpy as np

from tinygrad_lc.compile.backend import TraceBackend
from tinygrad_lc.compile.trace import Tracer
from tinygrad_lc.core import tensor as engine
from tinygrad_lc.core.tensor import Tensor

__all__ = ["trace", "names"]

_TRACING = threading.Lock()  # one trace at a time: "made outside" is by the creation clock


def names(f: Callable, args: tuple, kwargs: dict) -> list:
    """Names of the Tensors and arrays among the arguments, in the order of ``_signature``."""
    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names: list = []

    def walk(x, path: str) -> None:
        if isinstance(x, Tensor | np.ndarray):
            names.append(x.name if isinstance(x, Tensor) and x.name else path)
        elif isinstance(x, tuple | list):
            for i, v in enumerate(x):
                walk(v, f"{path}[{i}]")
        elif isinstance(x, dict):
            for k in sorted(x, key=repr):
                walk(x[k], f"{path}[{k!r}]")

    for i, a in enumerate(args):
        walk(a, params[i].name if i < len(params) else f"args[{i}]")
    for k in sorted(kwargs, key=repr):
        walk(kwargs[k], k)
    return names


def _rebuild(x, traced: list):
    """``x`` with its Tensors and arrays replaced, in order, by ``traced``'s items."""
    if isinstance(x, Tensor | np.ndarray):
        return traced.pop(0)
    if isinstance(x, tuple | list):
        return type(x)(_rebuild(v, traced) for v in x)
    if isinstance(x, dict):
        return {k: _rebuild(x[k], traced) for k in x}
    return x


def _check_result(name: str, out) -> tuple:
    """(loss, more tensors) of what the function returned, or a named error."""
    items = list(out) if isinstance(out, tuple | list) else [out]
    if not items or not all(isinstance(t, Tensor) for t in items):
        got = type(out).__name__ if not isinstance(out, tuple | list) else \
            "a sequence of " + ", ".join(sorted({type(t).__name__ for t in items}))
        raise TypeError(f"tg.compile: {name} must return a scalar Tensor (or a tuple of a "
                        f"scalar Tensor and more Tensors), got {got}")
    loss = items[0]
    if loss._data.size != 1:
        raise ValueError(
            f"tg.compile: {name} returned a Tensor of shape {loss.shape}; a compiled function "
            "must return a scalar loss, whose backward() needs no grad argument. Reduce it "
            "first (e.g. .sum() or .mean())")
    return loss, items[1:]


def trace(f: Callable, name: str, args: tuple, kwargs: dict, leaves: list, names: list,
          grad: bool) -> tuple:
    """Run ``f`` once, recording it: (raw Program, traced values, captured tensors)."""
    with _TRACING:
        tracer = Tracer(name)
        with engine.tracing(tracer):  # this thread's and context's ops report to it
            traced = [tracer.input(x, n) for x, n in zip(leaves, names)]
            out = f(*_rebuild(args, traced), **_rebuild(kwargs, traced))  # pyright: ignore[reportCallIssue]
            loss, aux = _check_result(name, out)
    p = tracer.program
    p.outputs["loss"] = tracer.tensor_value(loss)
    p.outputs["aux"] = [tracer.tensor_value(t) for t in aux]
    p.returns_tuple = isinstance(out, tuple | list)
    p.split = len(p.steps)
    inputs = [*leaves, *tracer.captured]  # the tensors and arrays bound to p.inputs, in order
    wanted = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if grad and loss.requires_grad and wanted:
        _trace_backward(tracer, loss, inputs, wanted)
    return p, tracer.val, tracer.captured


def _trace_backward(tracer: Tracer, loss: Tensor, inputs: list, wanted: list) -> None:
    """Record the backward: the engine's sweep from ``loss`` on the tracing backend."""
    p = tracer.program
    nodes = engine.reachable(loss)
    wanted_ids = {id(t) for t in wanted}
    live = set()
    for t in reversed(nodes):  # creation order: a node after all of its parents
        if id(t) in wanted_ids or any(q in live for q in t.parents):
            live.add(t)
    found = {t: None for t in wanted if t in live}
    if not found:
        return
    backend = TraceBackend(tracer)
    seed = np.ones(loss.shape, dtype=loss.dtype)
    p.seed = tracer._new("input", seed, "seed")
    loss._pg = backend.value(p.seed)
    engine.backward_sweep([t for t in nodes if t in live], backend, live=live, found=found)
    for k, t in enumerate(inputs):
        if isinstance(t, Tensor) and t in found and k not in p.grad_inputs:
            p.grad_inputs.append(k)
            p.outputs["grads"].append(found[t].vid)  # pyright: ignore[reportAttributeAccessIssue]
