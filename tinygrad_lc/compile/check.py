"""``tg.compile(f, check=True)``: replay beside an eager run and name the first difference.

On every call the function is traced again (an eager run, recorded), and the cached program is
replayed on the same inputs keeping every value. Then, step by step:

- the new trace must have the same steps with the same arguments: otherwise the function's
  Python took another path on this call (control flow on values, or on state outside it);
- each constant must be the same: otherwise it was computed from the inputs outside the ops
  the tracer sees, and the program froze it;
- each value of the replay must equal, bit for bit, the eager value of the same step.

The first failure raises :class:`~tinygrad_lc.compile.trace.CompileError` naming the step,
its op and its scope. A debugging mode: it costs an eager run and a replay per call.
"""

from __future__ import annotations

import numpy as np

from tinygrad_lc.compile.plan import frozen, run
from tinygrad_lc.compile.program import Program, Step
from tinygrad_lc.compile.record import names, trace
from tinygrad_lc.compile.trace import CompileError
from tinygrad_lc.core.tensor import Tensor, current_modes

__all__ = ["compare", "same"]


def same(a, b) -> bool:
    """Whether two traced values are equal bit for bit (arrays, scalars, tuples of them)."""
    if isinstance(a, tuple | list) or isinstance(b, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, np.ndarray | np.generic) or isinstance(b, np.ndarray | np.generic):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and \
            np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()
    return type(a) is type(b) and a == b


def _same_args(a, b) -> bool:
    """Step arguments alike: the same Refs, equal arrays, equal fixed values."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same_args, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_args(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return same(a, b)
    return frozen(a) == frozen(b)


def _where(p: Program, s: Step, k: int) -> str:
    phase = "backward" if p.split is not None and k >= p.split else "forward"
    return f"{phase} step `{p.step_text(s)}`"


def _structure(name: str, old: Program, new: Program) -> None:
    """The new trace must repeat the old one: same steps, arguments and constants."""
    for k in range(max(len(old.steps), len(new.steps))):
        a = old.steps[k] if k < len(old.steps) else None
        b = new.steps[k] if k < len(new.steps) else None
        if a is None or b is None or a.name != b.name or a.out != b.out or \
                a.fn is not b.fn or not _same_args((a.args, a.kw), (b.args, b.kw)):
            was = _where(old, a, k) if a is not None else "nothing"
            now = _where(new, b, k) if b is not None else "nothing"
            raise CompileError(
                f"tg.compile(check=True): {name} traced differently on this call: at step {k} "
                f"the program has {was}, this call made {now}. Its Python depends on tensor "
                "values or on state outside the function, which a replay cannot follow")
    for va, vb in zip(old.values, new.values):
        if va.kind == "const" and (vb.kind != "const" or not same(va.const, vb.const)):
            user = next((s for s in old.steps if any(
                getattr(r, "id", None) == va.id for r in (*s.args, *s.kw.values()))), None)
            used = f" (used by `{old.step_text(user)}`)" if user is not None else ""
            raise CompileError(
                f"tg.compile(check=True): constant %{va.id}{used} differs on this call: "
                f"{name} computes it from its inputs outside the tensor ops, so the program "
                "froze the value of the first call. Compute it from tensors, or outside the "
                "function and pass it as an argument")


def compare(cf, entry, args: tuple, kwargs: dict, leaves: list) -> None:
    """Raise CompileError at the first difference between replay and eager (module docstring)."""
    new, val, _ = trace(cf.f, cf.name, args, kwargs, leaves, names(cf.f, args, kwargs),
                        current_modes().grad_enabled)
    old = entry.raw
    _structure(cf.name, old, new)
    p = entry.check_plan

    tensors = [*leaves, *(c[0] for c in entry.captured)]
    env = list(p.template)
    for slot, x in zip(entry.program.inputs, tensors):
        env[slot] = x._data if isinstance(x, Tensor) else x
    run(p.forward, env)
    if p.seed_slot is not None:
        env[p.seed_slot] = val[new.seed]
        run(p.backward, env)
    rep = entry.rep
    for k, s in enumerate(new.steps):
        if s.out is None:
            continue
        v = s.out
        while v in rep:
            v = rep[v]
        replayed = env[v] if entry.program.values[v].kind != "const" else \
            entry.program.values[v].const
        if replayed is None and v not in (st.out for st in entry.program.steps):
            continue  # a step the optimizer dropped: nothing downstream needs it
        if not same(replayed, val[s.out]):
            diff = ""
            try:
                d = np.max(np.abs(np.asarray(replayed, float) - np.asarray(val[s.out], float)))
                diff = f" (largest difference {d:.3g})"
            except (TypeError, ValueError):
                pass
            scope = f" in scope '{s.scope}'" if s.scope else ""
            raise CompileError(
                f"tg.compile(check=True): the replay of {cf.name} differs from the eager run at "
                f"{_where(old, old.steps[k], k)}{scope}: op '{s.name}'{diff}")
