"""``tg.compile``: trace a loss once per input signature, then replay it without per-op Python.

The public face of ``tinygrad_lc.compile``; the code is in ``compiled.py``.
"""

from tinygrad_lc.compile.compiled import (  # noqa: F401  (re-exported)
    NUMPY,
    CompiledFunction,
    CompileError,
    Op,
    Plan,
    Program,
    Tensor,
    compile,
    engine,
    names,
    optimize,
    plan,
    trace,
)

__all__ = ['compile', 'CompiledFunction', 'CompileError']
