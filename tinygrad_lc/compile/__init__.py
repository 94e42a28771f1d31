"""``tg.compile``: trace a loss once per input signature, then replay it without per-op Python.

The public face of ``tinygrad_lc.compile``; the code is in ``compiled.py`` (the cache and the
replay), ``trace.py`` and ``record.py`` (tracing), ``plan.py``, ``buffers.py`` and
``codegen.py`` (planning), ``check.py`` (``check=True``) and ``drawing.py``.
"""

from tinygrad_lc.compile.compiled import CompiledFunction, CompileError, compile

__all__ = [
    "compile", "CompiledFunction", "CompileError"
]
