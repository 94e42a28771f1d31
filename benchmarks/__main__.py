"""Run every benchmark section: ``python -m benchmarks [section ...]``."""

from __future__ import annotations

import importlib
import platform
import sys

import numpy as np

from .common import one_blas_thread

SECTIONS = ["engine", "losses", "training"]


def main(argv: list[str]) -> int:
    wanted = argv or SECTIONS
    print(f"# tinygrad_lc benchmarks (Python {platform.python_version()}, NumPy {np.__version__}, "
          "BLAS pinned to 1 thread)")
    with one_blas_thread():
        for name in wanted:
            try:
                module = importlib.import_module(f"benchmarks.{name}")
            except ModuleNotFoundError as exc:
                print(f"\n## {name}: skipped ({exc})")
                continue
            print(module.run(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
