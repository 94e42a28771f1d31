"""Where a compiled function finds the Tensors it reads from outside, checked on every call.

A Tensor the function reads from outside (a global ``W``, a closure's cell, ``self.W`` of a
bound method, an attribute of an argument) is an input of the program bound by *identity*:
each replay reads the data of that Tensor object, so in-place updates (an optimizer's step,
``W.data = ...``) are seen. Rebinding the name to a new Tensor (``W = Tensor(new)``) is not a
change of that object, and a replay would go on reading the old one: a wrong loss, and
gradients handed to a tensor nobody uses any more.

So after each trace :func:`find_paths` looks for where the function finds each captured
Tensor: a breadth-first search, from the roots the function can reach, for a shortest path
of dict items, list items, instance attributes and closure cells that ends at it. The roots
are the globals named in the function's code (and in the code nested in it), its closure
cells and defaults, the object of a bound method (or of a callable object) and its
arguments that are not Tensors or arrays. All paths of the shortest length are kept. On each
call the function :func:`watcher` wrote for them follows them again and compares
identities: one attribute or item access per step, a shared prefix followed once (under a
microsecond for a model's parameters; measured in docs/compile.md). A path that now ends
elsewhere means a new trace.

Not watched: a Tensor that the search does not reach within ``MAX_DEPTH`` steps or
``MAX_OBJECTS`` objects (one read in another module's function, or through a property or a
module attribute); ``check=True`` catches those, as it catches any other state read from
outside. Modules, classes, functions, Tensors and arrays are not searched through.

>>> import numpy as np
>>> from tinygrad_lc import Tensor
>>> W = Tensor(np.ones(2), requires_grad=True)
>>> f = lambda x: (W * x).sum()
>>> paths = find_paths(f, (), {}, [W])
>>> still_bound(paths, (), {})
True
>>> W = Tensor(np.zeros(2), requires_grad=True)   # rebound: the program must trace again
>>> still_bound(paths, (), {})
False
"""

from __future__ import annotations

import functools
import keyword
import types
from collections.abc import Callable

import numpy as np

from tinygrad_lc.core.tensor import Tensor

__all__ = ["find_paths", "still_bound", "watcher"]

MAX_DEPTH = 5  # steps from a root: model.net.layers[0].W is 4 from the bound model
MAX_OBJECTS = 20_000  # objects looked at per search (once per trace)

_ITEM, _ATTR, _CELL = 0, 1, 2  # x[key], vars(x)[key], x.cell_contents
_FIXED, _ARGS, _KWARGS = 0, 1, 2  # a root object, the call's args tuple, its kwargs dict
_OPAQUE = (Tensor, np.ndarray, np.generic, str, bytes, bytearray, int, float, complex, bool,
           type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
           types.MethodType, types.CodeType)


def _code_names(code: types.CodeType) -> set:
    """The global (and attribute) names read by ``code`` and the code objects inside it."""
    names, stack = set(), [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    return names


def _roots(f: Callable, args: tuple, kwargs: dict) -> list:
    """(root kind, root object, first steps) for everything ``f`` can read from outside."""
    roots: list = [(_ARGS, None, ((_ITEM, i),), a) for i, a in enumerate(args)]
    roots += [(_KWARGS, None, ((_ITEM, k),), v) for k, v in kwargs.items()]
    seen: set = set()
    stack = [f]
    while stack:  # a partial's function, a bound method's function: each looked into once
        g = stack.pop()
        if id(g) in seen:
            continue
        seen.add(id(g))
        if isinstance(g, types.MethodType):
            roots.append((_FIXED, g.__self__, (), g.__self__))
            stack.append(g.__func__)
        elif isinstance(g, types.FunctionType):
            names = _code_names(g.__code__)
            roots += [(_FIXED, g.__globals__, ((_ITEM, n),), g.__globals__[n])
                      for n in sorted(names) if n in g.__globals__]
            for cell in g.__closure__ or ():
                try:
                    roots.append((_FIXED, cell, ((_CELL, None),), cell.cell_contents))
                except ValueError:  # an empty cell
                    continue
            for i, d in enumerate(g.__defaults__ or ()):
                roots.append((_FIXED, g.__defaults__, ((_ITEM, i),), d))
            for k, d in (g.__kwdefaults__ or {}).items():
                roots.append((_FIXED, g.__kwdefaults__, ((_ITEM, k),), d))
        elif isinstance(g, functools.partial):
            roots += [(_FIXED, g.args, ((_ITEM, i),), a) for i, a in enumerate(g.args)]
            roots += [(_FIXED, g.keywords, ((_ITEM, k),), v) for k, v in g.keywords.items()]
            stack.append(g.func)
        elif callable(g) and not isinstance(g, _OPAQUE):  # an object: attributes, __call__
            roots.append((_FIXED, g, (), g))
            stack.append(type(g).__call__)
    return roots


def _children(x):
    """(step, child) for the things inside ``x`` that a path may go through."""
    if isinstance(x, dict):
        return [((_ITEM, k), v) for k, v in list(x.items()) if isinstance(k, str | int)]
    if isinstance(x, list | tuple):
        return [((_ITEM, i), v) for i, v in enumerate(x)]
    if isinstance(x, types.CellType):
        try:
            return [((_CELL, None), x.cell_contents)]
        except ValueError:
            return []
    if isinstance(x, _OPAQUE):
        return []
    d = getattr(x, "__dict__", None)
    if isinstance(d, dict):
        return [((_ATTR, k), v) for k, v in list(d.items()) if isinstance(k, str)]
    return []


def find_paths(f: Callable, args: tuple, kwargs: dict, captured: list) -> list:
    """Per captured tensor, every shortest path to it from ``f``'s roots (see the module
    docstring): a list of (root kind, root object, steps, tensor)."""
    if not captured:
        return []
    wanted = {id(t): t for t in captured}
    found: dict = {}  # id(tensor) -> (length of its shortest paths, those paths)
    level = _roots(f, args, kwargs)
    seen: set = set()
    for depth in range(MAX_DEPTH + 1):
        nxt = []
        for kind, root, steps, obj in level:
            t = wanted.get(id(obj))
            if t is not None and obj is t:
                length, paths = found.setdefault(id(t), (len(steps), []))
                if length == len(steps):
                    paths.append((kind, root, steps, t))
                continue
            if depth == MAX_DEPTH or id(obj) in seen or len(seen) >= MAX_OBJECTS:
                continue
            seen.add(id(obj))
            nxt += [(kind, root, (*steps, step), child) for step, child in _children(obj)]
        if len(found) == len(wanted) or not nxt:
            break
        level = nxt
    return [p for _, paths in found.values() for p in paths]


def watcher(paths: list) -> Callable[[tuple, dict], bool]:
    """``check(args, kwargs)``: whether every path still ends at the tensor it ended at when
    traced (by identity).

    Written out as one straight-line function, as ``codegen.py`` writes a planned phase: a
    prefix shared by several paths (``self.net.layers``) is followed once, into a local, and
    each step is one attribute or item access (an attribute is read as ``x.name``: the name
    was found in the object's ``__dict__``). Anything that fails on the way (a key that is
    gone) means "rebound".
    """
    env: dict = {}
    lines, local = [], {}  # local: the expression of a prefix -> its variable

    def const(obj, prefix: str) -> str:
        name = f"{prefix}{len(env)}"
        env[name] = obj
        return name

    roots: dict = {}
    for kind, root, steps, t in paths:
        if kind == _ARGS:
            expr = "args"
        elif kind == _KWARGS:
            expr = "kwargs"
        else:
            expr = roots.get(id(root)) or roots.setdefault(id(root), const(root, "r"))
        for how, key in steps:
            if how == _ITEM:
                step = f"{expr}[{key!r}]"
            elif how == _ATTR:
                step = f"{expr}.{key}" if key.isidentifier() and not keyword.iskeyword(key) \
                    else f"{expr}.__dict__[{key!r}]"
            else:
                step = f"{expr}.cell_contents"
            if step not in local:
                local[step] = f"v{len(local)}"
                lines.append(f"        {local[step]} = {step}")
            expr = local[step]
        lines.append(f"        if {expr} is not {const(t, 't')}:")
        lines.append("            return False")
    source = "\n".join(["def check(args, kwargs):", "    try:", *lines,
                        "    except Exception:", "        return False", "    return True"])
    namespace = dict(env)
    exec(compile(source, "<tg.compile watch>", "exec"), namespace)  # noqa: S102 (our source)
    check = namespace["check"]
    check.source = source
    return check


def still_bound(paths: list, args: tuple, kwargs: dict) -> bool:
    """``watcher(paths)(args, kwargs)``, for a one-off check."""
    return watcher(paths)(args, kwargs)
