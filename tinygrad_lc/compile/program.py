"""The traced program of ``tg.compile``: plain data you can print, test and draw.

A :class:`Program` is a flat list of :class:`Step` over numbered values. A value is an input
(an argument, a tensor the function reads from outside, or the upstream gradient ``seed`` of
the backward), a constant, or the result of a step. A step names one function (an op of the
table in ``ops.py``, a primitive ``B.<name>`` of the backend VJPs are written with, or a
NumPy helper of the library marked ``host``) and its arguments: :class:`Ref` to values, or
fixed Python data (axes, shapes, numbers). Steps before ``split`` are the forward, the rest
the backward.

Once planned (``compile_plan.py``), each value also has a slot in the runner's list and,
when it is written in place through ``out=``, a buffer ``buf<k>`` reused on every call.

>>> p = Program()
>>> x = p.add_value("input", (2,), np.dtype("float64"), name="x")
>>> p.inputs.append(x)
>>> y = p.add_step("exp", np.exp, (Ref(x),), {}, "", shape=(2,), dtype=np.dtype("float64"))
>>> p.outputs["loss"] = y
>>> print(p.text())
inputs:
  %0 x  (2,) float64
forward:
  %1 = exp(%0)  (2,) float64
outputs: loss %1
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Ref", "Value", "Step", "Program", "refs_in", "map_refs"]


@dataclass(frozen=True)
class Ref:
    """A reference to value number ``id`` of the program, inside a step's arguments."""

    id: int

    def __repr__(self) -> str:
        return f"%{self.id}"


@dataclass
class Value:
    """One value: ``kind`` is "input", "const" or "step"; shape and dtype as traced."""

    id: int
    kind: str
    shape: tuple[int, ...] | None
    dtype: np.dtype | None
    name: str = ""
    const: object = None  # the constant itself (kind "const")
    dynamic: bool = True  # depends on the inputs (False for constants and what folds to them)


@dataclass
class Step:
    """``out = fn(*args, **kw)``, shown as ``name``; ``out`` is None for a check."""

    name: str
    fn: Callable[..., Any]
    out: int | None
    args: tuple[Any, ...]
    kw: dict[str, Any]
    scope: str = ""
    views: tuple[int, ...] = ()  # values whose memory the result may share (set by the optimizer)


def refs_in(x: object) -> list[int]:
    """The value ids referenced anywhere in ``x`` (nested tuples, lists and dicts)."""
    found: list[int] = []
    stack = [x]
    while stack:
        item = stack.pop()
        if isinstance(item, Ref):
            found.append(item.id)
        elif isinstance(item, tuple | list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


def map_refs(x: Any, fn: Callable[[Ref], Any]) -> Any:
    """``x`` with every Ref replaced by ``fn(ref)``, keeping tuples, lists and dicts."""
    if isinstance(x, Ref):
        return fn(x)
    if isinstance(x, tuple):
        return tuple(map_refs(i, fn) for i in x)
    if isinstance(x, list):
        return [map_refs(i, fn) for i in x]
    if isinstance(x, dict):
        return {k: map_refs(v, fn) for k, v in x.items()}
    return x


@dataclass
class Program:
    """Values, steps, which values are the inputs and outputs, and where the backward starts.

    ``outputs`` holds "loss" (a value id), "aux" (ids of the extra results) and "grads" (one
    id per input that receives a gradient, in the order of ``grad_inputs``).
    """

    values: list[Value] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)  # value ids, in binding order
    grad_inputs: list[int] = field(default_factory=list)  # positions in ``inputs`` (gradients)
    outputs: dict[str, Any] = field(default_factory=lambda: {"loss": None, "aux": [], "grads": []})
    split: int | None = None  # index of the first backward step (None: forward only)
    seed: int | None = None  # value id of the upstream gradient
    name: str = "f"
    returns_tuple: bool = False  # the function returned (loss, ...) rather than the loss
    buffers: dict[int, int] = field(default_factory=dict)  # value id -> buffer number (planned)
    inplace: dict[int, int] = field(default_factory=dict)  # value id -> the operand it overwrites
    buffer_bytes: int = 0

    def add_value(self, kind: str, shape: tuple[int, ...] | None, dtype: np.dtype | None,
                  name: str = "", const: object = None, dynamic: bool = True) -> int:
        """A new value; its id."""
        v = Value(len(self.values), kind, shape, dtype, name, const, dynamic)
        self.values.append(v)
        return v.id

    def add_step(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...],
                 kw: dict[str, Any], scope: str, shape: tuple[int, ...] | None = None,
                 dtype: np.dtype | None = None, has_out: bool = True,
                 dynamic: bool = True) -> int | None:
        """A new step (and its result's value, unless ``has_out`` is False); that value's id."""
        out = self.add_value("step", shape, dtype, dynamic=dynamic) if has_out else None
        self.steps.append(Step(name, fn, out, args, kw, scope))
        return out

    @property
    def forward(self) -> list[Step]:
        """The forward's steps."""
        return self.steps if self.split is None else self.steps[: self.split]

    @property
    def backward(self) -> list[Step]:
        """The backward's steps (none for a program without one)."""
        return [] if self.split is None else self.steps[self.split:]

    # ------------------------------------------------------------------ text
    def _describe(self, vid: int) -> str:
        v = self.values[vid]
        if v.dtype is None:
            return ""
        shape = "()" if v.shape == () else str(v.shape)
        where = f"  -> buf{self.buffers[vid]}" if vid in self.buffers else \
            f"  -> into %{self.inplace[vid]}" if vid in self.inplace else ""
        return f"  {shape} {v.dtype}{where}"

    def _arg(self, a) -> str:
        if isinstance(a, Ref):
            v = self.values[a.id]
            return _short(v.const) if v.kind == "const" and _small_const(v.const) else repr(a)
        return _short(a)

    def step_text(self, s: Step) -> str:
        """One line: ``%out = name(args, key=value)``, then shape, dtype and buffer."""
        if s.name == "prepare_index":  # (shape, is_tuple, *parts): show the index itself
            parts = s.args[2:] if s.args[1] else s.args[2]
            return f"%{s.out} = prepare_index({_tuple(self, (parts, s.args[0]))[1:-1]})" + \
                (f"  [{s.scope}]" if s.scope else "")
        args = [_short(s.args[0])] if s.name == "B.mask" else []
        rest = s.args[1:] if s.name == "B.mask" else s.args
        args += [self._arg(a) if not isinstance(a, tuple) else _tuple(self, a) for a in rest]
        args += [f"{k}={self._arg(v) if not isinstance(v, tuple) else _tuple(self, v)}"
                 for k, v in s.kw.items()]
        head = f"%{s.out} = " if s.out is not None else "check "
        where = s.scope.removeprefix("backward").removeprefix("/")  # the section says it
        scope = f"  [{where}]" if where else ""
        desc = self._describe(s.out) if s.out is not None else ""
        return f"{head}{s.name}({', '.join(args)}){desc}{scope}"

    def text(self) -> str:
        """The whole program, one step per line (see the module docstring)."""
        lines = ["inputs:"]
        for k, vid in enumerate(self.inputs):
            v = self.values[vid]
            grad = "  (gradient)" if k in self.grad_inputs else ""
            lines.append(f"  %{vid} {v.name}{self._describe(vid)}{grad}")
        if self.seed is not None:
            lines.append(f"  %{self.seed} seed{self._describe(self.seed)}  (the upstream "
                         "gradient, given by backward())")
        consts = [v for v in self.values if v.kind == "const" and not _small_const(v.const)]
        if consts:
            lines.append("constants:")
            lines += [f"  %{v.id} {_short(v.const)}" for v in consts]
        for title, steps in (("forward:", self.forward), ("backward:", self.backward)):
            if steps or title == "forward:":
                lines.append(title)
                lines += ["  " + self.step_text(s) for s in steps]
        out = self.outputs
        parts = [f"loss %{out['loss']}"] if out["loss"] is not None else []
        parts += [f"aux %{a}" for a in out["aux"]]
        parts += [f"grad {self.values[self.inputs[k]].name} %{g}"
                  for k, g in zip(self.grad_inputs, out["grads"])]
        lines.append("outputs: " + ", ".join(parts))
        if self.buffers:
            lines.append(f"buffers: {len(set(self.buffers.values()))} reused on every call, "
                         f"{self.buffer_bytes / 1e3:.1f} kB")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def _small_const(c) -> bool:
    return not isinstance(c, np.ndarray) or c.size <= 1


def _short(x) -> str:
    """A compact repr: arrays by shape and dtype, functions by name."""
    if isinstance(x, np.ndarray):
        if x.size <= 1:
            return repr(x.item()) if x.ndim == 0 else f"array({x.tolist()})"
        return f"array{x.shape}:{x.dtype}"
    if isinstance(x, np.generic):
        return repr(x.item())
    if isinstance(x, np.dtype):
        return str(x)
    if callable(x) and hasattr(x, "__name__"):
        return x.__name__
    if isinstance(x, slice):
        parts = ["" if v is None else str(v) for v in (x.start, x.stop, x.step)]
        return ":".join(parts[:2] if x.step is None else parts)
    return repr(x)


def _tuple(p: Program, t: tuple) -> str:
    inner = ", ".join(p._arg(a) if not isinstance(a, tuple) else _tuple(p, a) for a in t)
    return f"({inner}{',' if len(t) == 1 else ''})"
