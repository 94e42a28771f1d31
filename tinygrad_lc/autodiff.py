"""Gradients as values, and gradients of gradients: ``grad``, ``hvp``, ``jacobian``, ``hessian``.

:func:`grad` runs the same reverse sweep as ``backward()`` but returns the gradients instead of
adding them to ``.grad``. With ``create_graph=True`` the sweep runs every VJP on the recording
backend (``recording.TENSOR``): the gradients are Tensors with a graph of their own, recorded
in the scope "backward", and can be differentiated again, to any order.

>>> import tinygrad_lc as tg
>>> x = tg.Tensor(2.0, requires_grad=True)
>>> (dx,) = grad(x**3, x, create_graph=True)     # 3 x^2
>>> (dxx,) = grad(dx, x, create_graph=True)      # 6 x
>>> (dxxx,) = grad(dxx, x)                       # 6
>>> dx.item(), dxx.item(), dxxx.item()
(12.0, 12.0, 6.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from tinygrad_lc.core.checks import FLOAT_KINDS, check_flag
from tinygrad_lc.core.modes import enable_grad
from tinygrad_lc.core.ops import NUMPY
from tinygrad_lc.core.recording import TENSOR
from tinygrad_lc.core.tensor import (
    Tensor,
    apply_op,
    backward_sweep,
    data_array,
    make_node,
    plain_grads,
    reachable,
)

__all__ = ["grad", "hvp", "jacobian", "hessian"]


def _tensors(where: str, what: str, value) -> tuple[list, bool]:
    """(list of Tensors, whether one Tensor was passed rather than a sequence)."""
    if isinstance(value, Tensor):
        return [value], True
    if isinstance(value, Sequence) and not isinstance(value, str) and value \
            and all(isinstance(t, Tensor) for t in value):
        return list(value), False
    got = type(value).__name__ if not isinstance(value, Sequence) or isinstance(value, str) \
        else "an empty sequence" if not value else \
        "a sequence of " + ", ".join(sorted({type(t).__name__ for t in value}))
    raise TypeError(f"{where}: {what} must be a Tensor or a non-empty sequence of Tensors, "
                    f"got {got}")


def _label(what: str, k: int, t: Tensor) -> str:
    return f"{what} {k}" + (f" ('{t.name}')" if t.name else "") + f" of shape {t.shape}"


def _seed(where: str, k: int, out: Tensor, go, record: bool):
    """The upstream gradient of output ``k``: an array (plain sweep) or a Tensor (recorded)."""
    if go is None:
        if out._data.size != 1:
            raise RuntimeError(
                f"{where}: {_label('output', k, out)} is not a scalar; pass grad_outputs= "
                "(one array of that shape per output) or reduce it first (e.g. .sum())")
        ones = np.ones(out.shape, dtype=out.dtype)
        return make_node(ones, False, None, (), None, None) if record else ones
    data = go._data if isinstance(go, Tensor) else data_array(go, out.dtype, where)
    if data.shape != out.shape:
        raise ValueError(f"{where}: grad_outputs[{k}] has shape {data.shape}, expected "
                         f"{out.shape} (the shape of output {k})")
    if not record:
        return np.array(data, dtype=out.dtype, copy=True)
    if not isinstance(go, Tensor):
        return make_node(np.array(data, dtype=out.dtype), False, None, (), None, None)
    return go if go.dtype == out.dtype else apply_op("cast", (go,), {"dtype": out.dtype})


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: ArrayLike | Tensor | Sequence[ArrayLike | Tensor | None] | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Tensor, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, one Tensor per input.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensors
        What to differentiate; several outputs add their vector-Jacobian products.
    inputs : Tensor or sequence of Tensors
        Tensors that require grad (leaves or intermediates of the outputs' graph).
    grad_outputs : array, Tensor, or a sequence of them (one per output), optional
        The upstream gradient of each output, shaped like it; needed for an output of more
        than one element. A Tensor that requires grad is differentiated through too.
    create_graph : bool
        Record the gradient computation, so the results can be differentiated again (their
        ops sit in the scope "backward" of diagrams). Without it the results are constants.
    allow_unused : bool
        Give zeros for an input the outputs do not depend on, and skip an output that does
        not depend on any tensor requiring grad (a constant gradient), instead of raising.

    Returns
    -------
    tuple of Tensor
        Shaped and typed like the inputs. ``.grad`` of every tensor is left unchanged.

    Examples
    --------
    >>> import tinygrad_lc as tg
    >>> w = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> (g,) = grad((w * w).sum(), w, create_graph=True)       # 2 w
    >>> (h,) = grad(g, w, grad_outputs=np.array([1.0, 0.0]))  # first row of the Hessian 2 I
    >>> g.data, h.data, w.grad
    (array([ 2., -4.]), array([2., 0.]), None)
    """
    where = "grad"
    return _grad(where, outputs, inputs, grad_outputs,
                 check_flag(where, "create_graph", create_graph),
                 check_flag(where, "allow_unused", allow_unused))


def _grad(where: str, outputs, inputs, grad_outputs, create_graph: bool,
          allow_unused: bool) -> tuple:
    """:func:`grad`, its messages naming ``where`` (hvp and hessian call it too)."""
    outs, one_out = _tensors(where, "outputs", outputs)
    ins, _ = _tensors(where, "inputs", inputs)
    if grad_outputs is None:
        gos = [None] * len(outs)
    elif one_out:
        gos = [grad_outputs]
    elif isinstance(grad_outputs, Sequence) and len(grad_outputs) == len(outs):
        gos = list(grad_outputs)
    else:
        raise ValueError(f"{where}: grad_outputs must hold one entry per output ({len(outs)})")
    for k, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"{where}: {_label('input', k, t)} does not require grad; "
                               "create it with requires_grad=True (and not inside no_grad())")
    record = create_graph
    seeds = []
    for k, (out, go) in enumerate(zip(outs, gos)):
        seed = _seed(where, k, out, go, record)
        if out.requires_grad:
            seeds.append((out, seed))
        elif out in plain_grads:
            raise RuntimeError(
                f"{where}: {_label('output', k, out)} is a gradient taken without "
                "create_graph=True, so no graph of it was recorded; pass create_graph=True to "
                "the grad() call that made it to differentiate it again")
        elif not allow_unused:
            raise RuntimeError(
                f"{where}: {_label('output', k, out)} does not require grad: no tensor it "
                "depends on requires grad. If it is made from gradients of grad(), pass "
                "create_graph=True to that call to differentiate them again; a gradient that "
                "is constant in the inputs (as of a linear function) has derivative 0: pass "
                "allow_unused=True to get zeros")
    nodes = reachable(*(o for o, _ in seeds)) if seeds else []
    live = _leading_to(nodes, set(ins))
    unused = [k for k, t in enumerate(ins) if t not in live]
    if unused and not allow_unused:
        k = unused[0]
        raise RuntimeError(f"{where}: {_label('input', k, ins[k])} is not in the graph of the "
                           "outputs (they do not depend on it); pass allow_unused=True to get "
                           "zeros for it")
    found = dict.fromkeys(ins)
    for out, seed in seeds:
        if out in live:
            q = out._pg
            out._pg = seed if q is None else (q + seed)
    backward_sweep([t for t in nodes if t in live], TENSOR if record else NUMPY, live=live,
                   found=found)
    return tuple(_results(ins, found, record))


def _leading_to(nodes: list, wanted: set) -> set:
    """The nodes (latest first in ``nodes``) that are in ``wanted`` or have a path to one."""
    live = set()
    for t in reversed(nodes):  # creation order: a node after all of its parents
        if t in wanted:
            live.add(t)
            continue
        for p in t.parents:
            if p in live:
                live.add(t)
                break
    return live


def _results(ins: list, found: dict, record: bool) -> list:
    """One Tensor per input: its gradient (zeros if unused); plain ones own their arrays."""
    results, given = [], set()
    for t in ins:
        g = found[t]
        if g is None:
            g = np.zeros(t.shape, dtype=t.dtype)
        if record:
            results.append(g if isinstance(g, Tensor) else
                           make_node(g, False, None, (), None, None))
            continue
        if g.__class__ is not np.ndarray or g.base is not None or id(g) in given:
            g = np.array(g)  # a view, a NumPy scalar, or an input listed twice: its own array
        given.add(id(g))
        r = make_node(g, False, None, (), None, None)
        plain_grads.add(r)  # so differentiating it again can say to pass create_graph=True
        results.append(r)
    return results


# ---------------------------------------------------------------------- built on grad
def _input_list(where: str, inputs) -> tuple[list, bool]:
    """(the inputs, whether one input was passed rather than a sequence of them).

    As ``grad``'s: a Tensor is one input and a sequence of Tensors several; so is an array
    and a sequence of arrays. A number or a (nested) list of numbers is one input, its values
    (``hessian(f, [1.0, 2.0])`` is the Hessian at the point (1, 2)).
    """
    if isinstance(inputs, Tensor | np.ndarray | Real):
        return [inputs], True
    if isinstance(inputs, Sequence) and not isinstance(inputs, str) and inputs:
        kinds = [isinstance(x, Tensor | np.ndarray) for x in inputs]
        if all(kinds):
            return list(inputs), False
        if not any(kinds):
            return [inputs], True
        raise TypeError(f"{where}: inputs mixes Tensors or arrays with other items; pass one "
                        "point (a Tensor, an array or a list of numbers) or a list of Tensors "
                        "or arrays, one per argument of f")
    raise TypeError(f"{where}: inputs must be a Tensor, an array, a list of numbers or a "
                    f"non-empty sequence of Tensors or arrays, got {type(inputs).__name__}")


def _leaves(where: str, inputs) -> tuple[list, bool]:
    """Fresh leaves requiring grad that share the inputs' values (see ``_input_list``)."""
    items, one = _input_list(where, inputs)
    leaves = []
    for k, x in enumerate(items):
        data = x._data if isinstance(x, Tensor) else data_array(x, None, where)
        if data.dtype.kind not in FLOAT_KINDS:
            raise TypeError(f"{where}: input {k} must hold floats, got dtype {data.dtype}")
        leaf = make_node(data, True, None, (), None, None)
        leaf.name = x.name if isinstance(x, Tensor) else None
        leaves.append(leaf)
    return leaves, one


def _scalar_of(where: str, f: Callable, xs: list) -> Tensor:
    if not callable(f):
        raise TypeError(f"{where}: f must be callable, got {type(f).__name__}")
    with enable_grad():  # the graph is needed even inside no_grad()
        out = f(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"{where}: f must return a Tensor, got {type(out).__name__}")
    if out._data.size != 1:
        raise ValueError(f"{where}: f must return a scalar, got a Tensor of shape {out.shape}")
    return out


def _zeros_like(t: Tensor) -> Tensor:
    return make_node(np.zeros(t.shape, dtype=t.dtype), False, None, (), None, None)


def hvp(f: Callable, inputs: Tensor | ArrayLike | Sequence[Tensor | ArrayLike],
        v: ArrayLike | Tensor | Sequence[ArrayLike | Tensor],
        allow_unused: bool = False) -> tuple[Tensor, Any]:
    """The value of ``f(*inputs)`` and its Hessian-vector product ``H v``, by double backward.

    Parameters
    ----------
    f : callable
        ``f(*inputs)`` returns a scalar Tensor.
    inputs : Tensor, array, list of numbers, or a sequence of Tensors or arrays
        The point: one input (a Tensor, an array, a number or a list of numbers) or several
        (a sequence of Tensors or arrays, one per argument of f). Each is used through a
        fresh leaf sharing its values, so ``.grad`` and the graphs of the tensors passed stay
        as they are.
    v : array or Tensor, or a sequence of them (one per input)
        The direction, shaped like the inputs.
    allow_unused : bool
        As for :func:`grad`: zeros for an input f does not depend on (a constant f gives
        H v = 0) instead of an error.

    Returns
    -------
    (Tensor, Tensor or tuple of Tensors)
        ``f(*inputs)`` (detached) and ``H v``, a Tensor per input (a single one when
        ``inputs`` is a single Tensor or array).

    Examples
    --------
    >>> import tinygrad_lc as tg
    >>> value, hv = hvp(lambda w: (w**3).sum(), tg.Tensor([1.0, 2.0]), np.array([1.0, 1.0]))
    >>> value.item(), hv.data                      # the Hessian is diag(6 w)
    (9.0, array([ 6., 12.]))
    """
    where = "hvp"
    allow_unused = check_flag(where, "allow_unused", allow_unused)
    xs, one = _leaves(where, inputs)
    vs = [v] if one else v
    if isinstance(vs, str) or not isinstance(vs, Sequence) or len(vs) != len(xs):
        raise ValueError(f"{where}: v must hold one direction per input ({len(xs)})")
    dirs = []
    for k, (x, d) in enumerate(zip(xs, vs)):
        d = d._data if isinstance(d, Tensor) else data_array(d, x.dtype, where)
        if d.shape != x.shape:
            raise ValueError(f"{where}: v[{k}] has shape {d.shape}, expected {x.shape} "
                             f"(the shape of input {k})")
        dirs.append(d)
    out = _scalar_of(where, f, xs)
    _check_depends(where, out, allow_unused)
    with enable_grad():  # the graph is needed even inside no_grad()
        gs = _grad(where, out, xs, None, True, allow_unused)
        dot = None
        for g, d in zip(gs, dirs):
            term = (g * d).sum()
            dot = term if dot is None else dot + term
    hv = grad(dot, xs, allow_unused=True) if dot is not None and dot.requires_grad else \
        tuple(_zeros_like(x) for x in xs)
    return out.detach(), hv[0] if one else hv


def _check_depends(where: str, out: Tensor, allow_unused: bool) -> None:
    """A RuntimeError for an f that depends on none of its inputs, unless ``allow_unused``."""
    if not out.requires_grad and not allow_unused:
        raise RuntimeError(f"{where}: f's result does not depend on its inputs (no tensor it is "
                           "made from requires grad), so its derivatives are 0; pass "
                           "allow_unused=True to get zeros")


def jacobian(f: Callable, x: Tensor | ArrayLike | Sequence[Tensor | ArrayLike]
             ) -> Tensor | tuple[Tensor, ...]:
    """The Jacobian of ``f`` at ``x``, shaped ``f(x).shape + x.shape`` (for small inputs).

    One reverse sweep per output entry, all on the graph of a single forward pass. ``x`` takes
    the forms of :func:`hvp`'s ``inputs``: a Tensor, an array or a list of numbers is one
    input; a list of Tensors or arrays is several, ``f(*x)``, and gives a tuple, one Jacobian
    per input. Entries of f that do not depend on an input give zeros.

    >>> import tinygrad_lc as tg
    >>> jacobian(lambda x: x * x, [1.0, 3.0]).data
    array([[2., 0.],
           [0., 6.]])
    """
    where = "jacobian"
    xs, one = _leaves(where, x)
    if not callable(f):
        raise TypeError(f"{where}: f must be callable, got {type(f).__name__}")
    with enable_grad():  # the graph is needed even inside no_grad()
        y = f(*xs)
    if not isinstance(y, Tensor):
        raise TypeError(f"{where}: f must return a Tensor, got {type(y).__name__}")
    blocks = _rows(y, xs)
    return blocks[0] if one else tuple(blocks)


def _rows(y: Tensor, xs: list) -> list[Tensor]:
    """d y / d x for each x of ``xs``, row by row: one sweep per entry of y with a one-hot
    upstream gradient."""
    outs = [np.zeros(y.shape + x.shape, dtype=np.result_type(y.dtype, x.dtype)) for x in xs]
    if y.requires_grad:
        for idx in np.ndindex(y.shape):
            onehot = np.zeros(y.shape, dtype=y.dtype)
            onehot[idx] = 1
            for out, g in zip(outs, grad(y, xs, grad_outputs=onehot, allow_unused=True)):
                out[idx] = g._data
    return [make_node(out, False, None, (), None, None) for out in outs]


def hessian(f: Callable, x: Tensor | ArrayLike | Sequence[Tensor | ArrayLike],
            allow_unused: bool = False) -> Tensor | tuple[tuple[Tensor, ...], ...]:
    """The Hessian of scalar ``f`` at ``x``, shaped ``x.shape + x.shape`` (for small inputs).

    The gradient is recorded once (``create_graph=True``), then differentiated row by row.
    ``x`` takes the forms of :func:`hvp`'s ``inputs``; for several inputs, ``f(*x)``, the
    result is the tuple of blocks ``H[i][j]`` of shape ``x[i].shape + x[j].shape``.
    ``allow_unused`` as for :func:`grad`: zeros instead of an error for an f that does not
    depend on an input (a constant f).

    >>> import tinygrad_lc as tg
    >>> hessian(lambda w: 2.5 * (w * w).sum(), [1.0, -1.0]).data  # 2 reg I
    array([[5., 0.],
           [0., 5.]])
    >>> hessian(lambda w: tg.Tensor(3.0), [1.0, 2.0], allow_unused=True).data
    array([[0., 0.],
           [0., 0.]])
    """
    where = "hessian"
    allow_unused = check_flag(where, "allow_unused", allow_unused)
    xs, one = _leaves(where, x)
    out = _scalar_of(where, f, xs)
    _check_depends(where, out, allow_unused)
    with enable_grad():  # the graph is needed even inside no_grad()
        gs = _grad(where, out, xs, None, True, allow_unused) if out.requires_grad else \
            [_zeros_like(t) for t in xs]
    blocks = [tuple(_rows(g, xs)) for g in gs]
    return blocks[0][0] if one else tuple(blocks)
