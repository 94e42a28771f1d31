"""Turning a traced :class:`Program` into something fast to run, and running it.

:func:`optimize` rewrites the program, changing no result bit: a step whose inputs are all
constants becomes a constant (folding); two steps calling the same function on the same values
become one (common subexpressions); ``B.own`` copies, which the eager engine makes so that it
may add into gradients in place, become aliases (the replay never adds in place); steps no
output needs are dropped.

:func:`plan` then fixes where each value lives. Every value gets a slot in the runner's list
``env``; constants are stored in it once. A step whose NumPy function can write into a given
array (``out=``: ufuncs, ``np.sum``, ``np.matmul``, and the spreads and scatters of the
backward) gets a buffer, allocated once and reused on every call, as soon as every value that
lived in it (views included) is dead. Outputs never live in buffers: they are handed to the
caller, who may keep them. Large values without a buffer are dropped after their last use.

:func:`run` is the whole runner: one loop calling each planned step on ``env``.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from tinygrad_lc.compile.buffers import elementwise, makes_new, over_operand
from tinygrad_lc.compile.buffers import into as writes_into
from tinygrad_lc.compile.codegen import Call, Drop, direct_call, phase_function
from tinygrad_lc.compile.program import Program, Ref, Step, map_refs, refs_in
from tinygrad_lc.kernels import add_into_f_ordered

__all__ = ["optimize", "plan", "Plan", "run", "DROP_BYTES"]

DROP_BYTES = 16384  # values at least this large are dropped right after their last use


def run(steps: list, env: list) -> None:
    """Run planned steps in order; each does ``env[out] = function(*env[slots])``."""
    for step in steps:
        step(env)


def runner_step(fn, out: int, slots: list, store: bool = True):
    """One step of ``run``: a small function ``env[out] = fn(env[a], env[b], ...)``.

    A closure per step rather than a tuple interpreted by ``run``: the call passes the
    values without building a tuple, so a replay allocates nothing the cycle collector tracks.
    With ``store=False`` the result is not stored: it is the array in the last slot (``out=``).
    """
    if not store and len(slots) in (2, 3, 4):
        step = _into_step(fn, slots)
    elif not slots:
        def step(env):
            env[out] = fn()
    elif len(slots) == 1:
        (a,) = slots

        def step(env):
            env[out] = fn(env[a])
    elif len(slots) == 2:
        a, b = slots

        def step(env):
            env[out] = fn(env[a], env[b])
    elif len(slots) == 3:
        a, b, c = slots

        def step(env):
            env[out] = fn(env[a], env[b], env[c])
    else:
        get = operator.itemgetter(*slots)

        def step(env):
            env[out] = fn(*get(env))
    step.fn, step.out, step.slots = fn, out, tuple(slots)  # for tests and debugging  # pyright: ignore[reportFunctionMemberAccess]
    return step


def _into_step(fn, slots: list):
    if len(slots) == 2:
        a, b = slots

        def step(env):
            fn(env[a], env[b])
    elif len(slots) == 3:
        a, b, c = slots

        def step(env):
            fn(env[a], env[b], env[c])
    else:
        a, b, c, d = slots

        def step(env):
            fn(env[a], env[b], env[c], env[d])
    return step


def _drop_step(out: int):
    def step(env):
        env[out] = None  # a large value nobody reads after this step

    return step


# ---------------------------------------------------------------------- optimization
def frozen(x):
    """A hashable key for a step argument (arrays and functions by identity)."""
    if isinstance(x, Ref):
        return ("ref", x.id)
    if isinstance(x, tuple | list):
        return (type(x).__name__, *map(frozen, x))
    if isinstance(x, dict):
        return ("dict", *sorted((k, frozen(v)) for k, v in x.items()))
    if isinstance(x, slice):
        return ("slice", frozen(x.start), frozen(x.stop), frozen(x.step))
    if isinstance(x, np.dtype):
        return ("dtype", x.str)
    if isinstance(x, bool | int | float | complex | str | np.generic) or x is None \
            or x is Ellipsis:
        return (type(x).__name__, x)
    return ("id", id(x))


def _overlapping(val: list, s: Step) -> list:
    """The arguments of a traced step whose memory its result may share: an array result what
    it overlaps (a view), a tuple (a prepared index) everything it holds."""
    if s.out is None:
        return []
    o = val[s.out]
    if not isinstance(o, np.ndarray | np.generic):
        return refs_in((s.args, s.kw))
    if not isinstance(o, np.ndarray):
        return []
    return [r for r in refs_in((s.args, s.kw))
            if isinstance(val[r], np.ndarray) and np.may_share_memory(o, val[r])]


def optimize(p: Program, val: list) -> tuple[Program, dict]:
    """Fold constants, merge repeated steps, elide copies, drop dead steps (module docstring).

    ``val`` holds each value as traced (the folded constants come from it). Returns the new
    Program (value ids stay those of the trace) and the map from each value replaced by
    another (a merged step, an elided copy) to that other value.
    """
    p_values = [replace(v) for v in p.values]
    rep: dict = {}
    seen: dict = {}
    steps = []
    split = None
    sub = lambda r: Ref(rep.get(r.id, r.id))  # noqa: E731
    for i, s in enumerate(p.steps):
        if i == p.split:
            split = len(steps)
        # the values the result may be a view of, found on the traced arrays before any
        # substitution (an elided copy makes a view of the copy a view of the original)
        views = tuple(rep.get(r, r) for r in _overlapping(val, s))
        args, kw = map_refs(s.args, sub), map_refs(s.kw, sub)
        refs = refs_in((args, kw))
        if s.name == "B.own":  # the replay never adds in place: the copy is not needed
            rep[s.out] = refs[0]
            continue
        if s.out is not None and not any(p_values[r].dynamic for r in refs):
            v = p_values[s.out]
            v.kind, v.const, v.dynamic = "const", val[s.out], False
            continue
        if s.out is not None:
            key = (id(s.fn), s.name, frozen(args), frozen(kw))
            prior = seen.get(key)
            if prior is not None:
                rep[s.out] = prior
                continue
            seen[key] = s.out
        steps.append(Step(s.name, s.fn, s.out, args, kw, s.scope, views))  # pyright: ignore[reportArgumentType]
    outputs = {"loss": rep.get(p.outputs["loss"], p.outputs["loss"]),
               "aux": [rep.get(a, a) for a in p.outputs["aux"]],
               "grads": [rep.get(g, g) for g in p.outputs["grads"]]}
    # dead steps: nothing downstream reads them (checks, which have no output, always stay)
    needed = {v for v in (outputs["loss"], *outputs["aux"], *outputs["grads"]) if v is not None}
    kept = []
    for k in range(len(steps) - 1, -1, -1):
        s = steps[k]
        if s.out is None or s.out in needed:
            needed.update(refs_in((s.args, s.kw)))
            kept.append((k, s))
    kept.reverse()
    new_split = None if split is None and p.split is None else \
        sum(1 for k, _ in kept if k < (split if split is not None else len(steps)))
    return Program(values=p_values, steps=[s for _, s in kept], inputs=list(p.inputs),
                   grad_inputs=list(p.grad_inputs), outputs=outputs, split=new_split,
                   seed=p.seed, name=p.name, returns_tuple=p.returns_tuple), rep


# ---------------------------------------------------------------------- planning
@dataclass
class Plan:
    """A program ready to run: the runner steps of each phase and the slots of everything."""

    program: Program
    forward: list
    backward: list
    template: list  # env before a call: constants and buffers set, the rest None
    buffer_slots: list  # env slots holding buffers (replaced by new ones for a second pool)
    seed_slot: int | None
    loss_slot: int | None
    aux_slots: list
    grad_slots: list
    run_forward: object = None  # the phases as generated functions (compile_codegen): the
    run_backward: object = None  # fast runner; ``forward``/``backward`` are the same steps

    def fresh_template(self) -> list:
        """A template with buffers of its own (for a call while the first pool is in use)."""
        env = list(self.template)
        for slot in self.buffer_slots:
            env[slot] = np.empty_like(env[slot])
        return env


def _bind(fn, args: tuple, kw: dict, slot_of):
    """(callable of positional values, slots to read) for ``fn(*args, **kw)``."""
    if not any(isinstance(a, tuple | list | dict) and refs_in(a) for a in args) \
            and not refs_in(kw):
        return (partial(fn, **kw) if kw else fn), [slot_of(a) for a in args]
    order: list = []
    map_refs((args, kw), lambda r: order.append(r) or r)

    def call(*vals):
        it = iter(vals)
        a, k = map_refs((args, kw), lambda r: next(it))
        return fn(*a, **k)  # pyright: ignore[reportCallIssue]

    return call, [slot_of(r) for r in order]


def _key(o: np.ndarray) -> tuple:
    return o.shape, o.dtype.str, "C" if o.flags.c_contiguous else "F"


def _c_ordered(val: list, a) -> bool:
    return isinstance(a, Ref) and isinstance(val[a.id], np.ndarray) and \
        val[a.id].flags.c_contiguous


def _storage(p: Program, val: list, outs: set, inplace_ok: bool) -> tuple:
    """Where each value's memory comes from, and which steps write over an operand.

    Returns (storage, inplace): ``storage[v]`` is the set of *owners* (results of steps that
    made new arrays) whose memory ``v`` may use: itself when fresh, its base's owners when it
    is a view (found by ``np.may_share_memory`` on the traced arrays), its operand's owner when
    an elementwise step wrote over that operand; ``inplace[i]`` is that operand's position.
    """
    last: dict = {}
    for i, s in enumerate(p.steps):
        for r in refs_in((s.args, s.kw)):
            last[r] = i
    storage: dict = {}
    # values that are all of their owner's array, in its layout, made by NumPy arithmetic
    # (not host helpers, whose result may change dtype with the data: a tie mask)
    whole: set = set()
    until: dict = {}  # owner -> the last step reading a value that uses its memory, so far
    inplace: dict = {}
    for i, s in enumerate(p.steps):
        if s.out is None:
            continue
        o, mine = val[s.out], {s.out}
        for r in s.views:
            mine |= storage.get(r, {r})
        fresh = mine == {s.out} and isinstance(o, np.ndarray) and o.ndim > 0
        if fresh and inplace_ok and elementwise(s.name):
            # over an F-ordered operand next to a C-ordered one only if kernels timed that
            # faster here than a new C-ordered result (an F-ordered A^T G plus an L2 term)
            same = [a for a in s.args if isinstance(a, Ref) and isinstance(val[a.id], np.ndarray)
                    and val[a.id].shape == o.shape]
            mixed = any(_c_ordered(val, a) for a in same) and \
                not all(_c_ordered(val, a) for a in same) and \
                not add_into_f_ordered(o.shape, o.dtype)
            for k, a in enumerate(s.args):
                if not isinstance(a, Ref) or a.id not in whole or a.id in outs or (
                        mixed and not _c_ordered(val, a)):
                    continue
                (owner,) = storage[a.id]
                if until[owner] > i:
                    continue  # its memory is read later
                x = val[a.id]
                if x.shape != o.shape or x.dtype != o.dtype or (
                        _key(x) != _key(o) and last.get(s.out) is not None):
                    continue  # another layout would change what later steps compute
                inplace[i], mine = k, {owner}
                break
        storage[s.out] = mine
        if fresh and makes_new(s.name):
            whole.add(s.out)
        for owner in mine:
            until[owner] = max(until.get(owner, -1), last.get(s.out, -1))
    return storage, inplace, last


def plan(p: Program, val: list, keep_all: bool = False) -> Plan:
    """Slots, buffers and runner steps for an optimized program (see the module docstring).

    ``val`` holds each value as traced (shapes, layouts, aliasing). ``keep_all`` gives no
    buffers and drops nothing, so every value can be read after a call (the check mode).
    """
    values = p.values
    env: list = [v.const if v.kind == "const" else None for v in values]  # slot k: value k

    def static_slot(x) -> int:
        env.append(x)
        return len(env) - 1

    home: dict = {}  # value -> its slot when not its own: the buffer or operand it lives in
    slot_of = lambda a: home.get(a.id, a.id) if isinstance(a, Ref) else static_slot(a)  # noqa
    scratch = static_slot(None)  # where checks (steps without a result) write their None
    out_ids = [v for v in (p.outputs["loss"], *p.outputs["aux"], *p.outputs["grads"])
               if v is not None]
    storage, inplace, last = _storage(p, val, set(out_ids), not keep_all)
    escaping = set().union(*(storage.get(v, {v}) for v in out_ids))
    members: dict = {}
    for v, owners in storage.items():
        for owner in owners:
            members.setdefault(owner, []).append(v)
    ends: dict = {}  # step -> owners whose memory is not read after it
    for owner, vs in members.items():
        at = max((last.get(v, -1) for v in vs), default=-1)
        if at >= 0 and owner not in escaping:
            ends.setdefault(at, []).append(owner)
    free: dict = {}  # (shape, dtype, order) -> buffer slots free for reuse
    owned: dict = {}  # owner -> the buffer slot it lives in
    buffer_slots: list = []
    p.buffers, p.inplace, p.buffer_bytes = {}, {}, 0
    phases: tuple = ([], [])
    specs: tuple = ([], [])  # the same steps for the generated runner
    ref_slot = lambda r: home.get(r.id, r.id)  # noqa: E731
    for i, s in enumerate(p.steps):
        phase = p.split is not None and i >= p.split
        target = phases[phase]
        o = val[s.out] if s.out is not None else None
        into = None
        if i in inplace:  # the result overwrites its operand, which dies here
            into = over_operand(s.name, len(s.args)), s.args[inplace[i]].id
        elif not keep_all and s.out is not None and s.out not in escaping \
                and storage[s.out] == {s.out} and isinstance(o, np.ndarray) and o.size \
                and (o.flags.c_contiguous or o.flags.f_contiguous):
            how = writes_into(s, val)
            if how is not None:
                pool = free.get(_key(o))
                if pool:
                    slot = pool.pop()
                else:
                    slot = static_slot(np.empty_like(o))
                    buffer_slots.append(slot)
                    p.buffer_bytes += o.nbytes
                owned[s.out] = slot
                into = how, slot
        if into is not None:
            assert s.out is not None  # a step that writes into an array has a result
            (positions, fn), where = into
            call, slots = _bind(fn, tuple(s.args[k] for k in positions), {}, slot_of)
            where = home.get(where, where) if i in inplace else where
            slots.append(where)
            spec = direct_call(fn, (*(s.args[k] for k in positions), Ref(where)), {},
                               lambda r, w=where: w if r.id == w else ref_slot(r))
            home[s.out] = where  # the result is that array: nothing to store
            owner = next(iter(storage[s.out]))
            if owner in owned:
                p.buffers[s.out] = buffer_slots.index(owned[owner])
            else:  # written over its operand, an array of this call
                p.inplace[s.out] = where
        else:
            call, slots = _bind(s.fn, s.args, s.kw, slot_of)
            spec = direct_call(s.fn, s.args, s.kw, ref_slot)
            if isinstance(o, np.ndarray) and o.ndim == 0:
                # a 0-d array where NumPy hands back a scalar (the engine wraps op results):
                # later steps must see the same type (scalar ** p is other code than array ** p)
                call = partial(_as_array, call)
                if spec is not None:
                    spec.fn = partial(_as_array, spec.fn)
        out = scratch if s.out is None else home.get(s.out, s.out)
        target.append(runner_step(call, out, slots, store=into is None))
        if spec is None:  # an argument holds values inside a tuple: the bound call
            spec = Call(call, out, list(slots))
        spec.out, spec.store = out, into is None
        specs[phase].append(spec)
        for owner in ends.get(i, ()):  # dead after this step: reuse its buffer, drop the large
            if owner in owned:
                free.setdefault(_key(val[owner]), []).append(owned.pop(owner))
            elif values[owner].kind == "step" and isinstance(val[owner], np.ndarray) \
                    and val[owner].nbytes >= DROP_BYTES and not keep_all:
                target.extend(_drop_step(home.get(m, m)) for m in members[owner])
                specs[phase].extend(Drop(home.get(m, m)) for m in members[owner])
    # outputs: arrays of their own, which the caller may keep (aliases and constants copied)
    handed: set = set()
    slots_of: dict = {}
    fwd_outs = [o for o in (p.outputs["loss"], *p.outputs["aux"]) if o is not None]
    for phase, spec, ids in zip(phases, specs, (fwd_outs, p.outputs["grads"])):
        for v in ids:
            owners = storage.get(v, {v})
            if values[v].kind == "step" and len(owners) == 1 and v not in handed and \
                    not any(u in handed or (u != v and u in out_ids)
                            for u in members.get(next(iter(owners)), ())):
                slots_of.setdefault(v, []).append(home.get(v, v))
            else:
                slot = static_slot(None)
                phase.append(runner_step(np.array, slot, [home.get(v, v)]))
                spec.append(Call(np.array, slot, [home.get(v, v)]))
                slots_of.setdefault(v, []).append(slot)
            handed.add(v)
    pick = lambda v: slots_of[v].pop(0)  # noqa: E731
    return Plan(p, phases[0], phases[1], env, buffer_slots, p.seed,
                None if p.outputs["loss"] is None else pick(p.outputs["loss"]),
                [pick(a) for a in p.outputs["aux"]], [pick(g) for g in p.outputs["grads"]],
                phase_function(specs[0], "forward"), phase_function(specs[1], "backward"))


def _as_array(fn, *args, **kw):
    return np.asarray(fn(*args, **kw))


