"""The machine the choices are made on: the CPU, NumPy's BLAS build and its threads.

The BLAS threads are part of every choice's key, so they are read on each product large
enough to be chosen for: one ``openblas_get_num_threads``-style call through threadpoolctl's
controller, built once. threadpoolctl is imported when the first choice is made, not with
``import tinygrad_lc``.

>>> blas_threads() >= 0
True
"""

from __future__ import annotations

import os
import platform
import threading
from typing import Any

import numpy as np

__all__ = ["blas_threads", "blas_info", "cpu_model", "describe"]

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}  # "lib": threadpoolctl's controller of NumPy's BLAS (or None)


def _numpy_blas():
    """threadpoolctl's controller of the BLAS NumPy calls, or None when it finds none."""
    if "lib" not in _STATE:
        with _LOCK:
            if "lib" not in _STATE:
                # lazy: threadpoolctl scans the loaded libraries (a few ms), needed only
                # once a product is large enough to be chosen for
                from threadpoolctl import ThreadpoolController

                libs = ThreadpoolController().select(user_api="blas").lib_controllers
                ours = [c for c in libs if "numpy" in c.filepath] or libs
                _STATE["lib"] = ours[0] if ours else None
    return _STATE["lib"]


def blas_threads() -> int:
    """The threads NumPy's BLAS uses now (0 when threadpoolctl finds no BLAS).

    >>> isinstance(blas_threads(), int)
    True
    """
    lib = _STATE.get("lib", False)
    if lib is False:
        lib = _numpy_blas()
    return 0 if lib is None else int(lib.num_threads)


def blas_info() -> dict:
    """NumPy's BLAS as threadpoolctl describes it: internal_api, version, architecture
    (OpenBLAS's core type), threading layer, threads, file; empty when none is found.

    >>> isinstance(blas_info(), dict)
    True
    """
    lib = _numpy_blas()
    return {} if lib is None else dict(lib.info())


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``).

    >>> isinstance(cpu_model(), str)
    True
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def describe() -> list[tuple[str, str]]:
    """(what, value) lines: the CPU, its cores, NumPy, the BLAS build and its threads.

    >>> [k for k, _ in describe()][:3]
    ['CPU', 'cores', 'NumPy']
    """
    info = blas_info()
    core = os.environ.get("OPENBLAS_CORETYPE")
    arch = str(info.get("architecture", "?")) + (f" (OPENBLAS_CORETYPE={core})" if core else "")
    return [
        ("CPU", cpu_model()),
        ("cores", str(os.cpu_count())),
        ("NumPy", np.__version__),
        ("BLAS", f"{info.get('internal_api', 'none found')} {info.get('version', '')}".strip()),
        ("BLAS kernel", arch),
        ("BLAS threads", str(blas_threads())),
    ]
