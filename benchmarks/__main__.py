"""Run every benchmark section: ``python -m benchmarks [section ...]``."""

from __future__ import annotations

import importlib
import sys

from .common import main

SECTIONS = ["engine", "losses", "training", "nn", "hvp", "compile"]


def _runs(wanted: list[str]):
    for name in wanted:
        if name not in SECTIONS:
            raise SystemExit(f"python -m benchmarks: unknown section {name!r}; "
                             f"expected some of {SECTIONS}")
        yield importlib.import_module(f"benchmarks.{name}").run


if __name__ == "__main__":
    sys.exit(main(*_runs(sys.argv[1:] or SECTIONS)))
