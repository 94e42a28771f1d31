"""Hyperparameter search as the lecture teaches it: choose on validation, test once.

The public face of ``tinygrad_lc.sweep``; the code is in ``selection.py``.
"""

from tinygrad_lc.sweep.selection import (
    SWEEP_DEFAULTS,
    Choice,
    LogUniform,
    SweepError,
    SweepFileError,
    SweepResult,
    Uniform,
    default_space,
    grid,
    retrain,
    run_sweep,
    sample,
    search,
)

__all__ = [
    "SWEEP_DEFAULTS", "Choice", "LogUniform", "SweepError", "SweepFileError", "SweepResult",
    "Uniform", "default_space", "grid", "retrain", "run_sweep", "sample", "search"
]
