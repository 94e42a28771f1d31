"""A planned phase as one generated Python function: the replay without a loop.

:func:`compile_plan.run` calls one small closure per step, and each closure reads and writes
the list ``env``. That costs about 100 ns a step on top of NumPy's own dispatch, as much as a
tiny ufunc itself. :func:`phase_function` writes the phase out instead as straight-line
source, one line per step, with every value in a local variable::

    def forward(env):
        v1 = env[1]; v0 = env[0]
        v3 = f0(v1, v0)
        f1(v3, c0, v21)            # a step writing into its buffer (out=)
        ...
        env[3] = v3                # what the other phase or the caller reads

and compiles it once with ``compile``/``exec``, as ``dataclasses`` and ``namedtuple`` build
their methods. The functions and constants are names in the function's globals. The steps
called are the planner's (the same NumPy calls, so the same bits); only the glue is gone.

>>> import numpy as np
>>> fn = phase_function([Call(np.add, 2, [0, 1], {}), Call(np.negative, 3, [2], {})], "demo")
>>> env = [np.ones(2), np.ones(2), None, None]
>>> fn(env); env[3].tolist()
[-2.0, -2.0]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinygrad_lc.compile.program import Ref, refs_in

__all__ = ["Call", "Const", "Drop", "direct_call", "phase_function"]


@dataclass
class Const:
    """An argument that is the same on every call: a name in the function's globals."""

    value: object


@dataclass
class Call:
    """``env[out] = fn(*env[slots], **kw)``; with ``store=False`` the result is not kept (the
    step wrote into the array in its last slot). ``kw`` maps names to slots too; a slot may
    be a :class:`Const` instead."""

    fn: object
    out: int
    slots: list
    kw: dict = field(default_factory=dict)
    store: bool = True


@dataclass
class Drop:
    """``env[slot] = None``: a large value nobody reads after this point."""

    slot: int


def direct_call(fn, args: tuple, kw: dict, slot_of) -> Call | None:
    """``fn(*args, **kw)`` as a :class:`Call`: Refs read their slots (``slot_of``), other
    arguments are constants; None when a container argument holds a Ref (a tuple index
    with a traced part), which only the planner's bound call can rebuild."""
    def arg(a):
        if isinstance(a, Ref):
            return slot_of(a)
        if isinstance(a, tuple | list | dict) and refs_in(a):
            raise LookupError
        return Const(a)

    try:
        return Call(fn, -1, [arg(a) for a in args], {k: arg(v) for k, v in kw.items()})
    except LookupError:
        return None


def phase_function(specs: list, name: str):
    """One function ``f(env)`` running ``specs`` (Calls and Drops) in order (module docstring)."""
    names: dict = {}  # id(fn) -> its global name
    glob: dict = {}
    read: dict = {}  # slots read before this phase writes them (loaded at the start), in order
    written: dict = {}  # slot -> True once written in this phase
    lines = []

    def fname(fn) -> str:
        key = id(fn)
        if key not in names:
            names[key] = f"f{len(names)}"
            glob[names[key]] = fn
        return names[key]

    def use(slot) -> str:
        if isinstance(slot, Const):
            key = f"k{len(glob)}"  # a new name: glob grows with every name given
            glob[key] = slot.value
            return key
        if slot not in written and slot not in read:
            read[slot] = True
        return f"v{slot}"

    for s in specs:
        if isinstance(s, Drop):
            lines.append(f"v{s.slot} = None")
            written[s.slot] = True
            continue
        args = [use(k) for k in s.slots] + [f"{k}={use(v)}" for k, v in s.kw.items()]
        call = f"{fname(s.fn)}({', '.join(args)})"
        if s.store:
            lines.append(f"v{s.out} = {call}")
            written[s.out] = True
        else:
            lines.append(call)
    body = [f"v{k} = env[{k}]" for k in read] + lines + [f"env[{k}] = v{k}" for k in written]
    src = f"def {name}(env):\n" + "".join(f"    {line}\n" for line in body or ["pass"])
    exec(compile(src, f"<tg.compile {name}>", "exec"), glob)  # noqa: S102 (our own source)
    fn = glob[name]
    fn.source = src  # for debugging: print(plan.run_forward.source)
    return fn
