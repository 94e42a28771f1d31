"""The planner's use of each op's buffer form: which step can write into which array (``out=``).

The forms themselves are declared where the ops are, in ``core/ops.py``: an op's ``into=``
beside its forward and VJPs, a backend primitive's beside it in ``NumpyBackend`` (the step
``B.<name>``). Each says which of the step's arguments to pass and a function taking them and
then ``out``, computing exactly what the step's own function computes. This module finds the
form of a step, fixes what holds for every call (the keyword arguments, the form a call's shapes
pick) and tells the planner which results may write over an operand.

>>> import numpy as np
>>> positions, fn = over_operand("B.accumulate", 2)
>>> out = np.empty(2)
>>> positions, fn(np.ones(2), np.ones(2), out) is out, out.tolist()
((0, 1), True, [2.0, 2.0])
"""

from __future__ import annotations

from functools import partial

from tinygrad_lc.compile.program import Step, map_refs, refs_in
from tinygrad_lc.core.ops import OPS, Into, primitive_into

__all__ = ["form_of", "into", "over_operand", "elementwise", "makes_new"]


def form_of(name: str) -> Into | None:
    """The buffer form ``ops.py`` declares for steps named ``name``, or None.

    ``B.<name>`` is a primitive of the backend VJPs are written with; any other name an op.

    >>> form_of("add").elementwise, form_of("B.outer").fn.__name__, form_of("reshape")
    (True, 'outer', None)
    """
    if name.startswith("B."):
        return primitive_into(name[2:])
    opdef = OPS.get(name)
    return None if opdef is None else opdef.into


def elementwise(name: str) -> bool:
    """Whether a step named ``name`` may write its result over an operand that dies with it."""
    form = form_of(name)
    return form is not None and form.elementwise


def makes_new(name: str) -> bool:
    """Whether a step named ``name`` always makes an array of its own with NumPy arithmetic
    (not a host helper, whose result may change dtype with the data: a tie mask)."""
    form = form_of(name)
    return form is not None and form.new


def over_operand(name: str, n_args: int) -> tuple:
    """(argument positions, function with ``out`` last) of an elementwise step of ``n_args``
    arguments, to write its result over one of its operands."""
    form = form_of(name)
    return (tuple(range(n_args)) if form.at is None else form.at), form.fn  # pyright: ignore[reportOptionalMemberAccess]


def into(s: Step, val: list):
    """(argument positions, function with ``out`` last) for a step that can reuse a buffer.

    None when the step has no buffer form, when its keyword arguments change per call, or
    when its form picks none for the traced arguments ``val``.
    """
    form = form_of(s.name)
    if form is None or refs_in(s.kw):
        return None
    if form.pick is not None:
        form = form.pick(*map_refs(s.args, lambda r: val[r.id]), **s.kw)
        if form is None:
            return None
    positions = tuple(range(len(s.args))) if form.at is None else form.at
    return positions, (partial(form.fn, **s.kw) if s.kw else form.fn)  # pyright: ignore[reportArgumentType]
