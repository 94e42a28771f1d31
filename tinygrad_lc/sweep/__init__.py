"""Hyperparameter search as the lecture teaches it: choose on validation, test once.

The public face of ``tinygrad_lc.sweep``; the code is in ``search.py``.
"""

from tinygrad_lc.sweep.search import (  # noqa: F401  (re-exported)
    SWEEP_DEFAULTS,
    Choice,
    LogUniform,
    Runner,
    SweepError,
    SweepFileError,
    SweepResult,
    Task,
    Uniform,
    check_space,
    default_space,
    edge_warnings,
    grid,
    narrow,
    normalize_config,
    retrain,
    rounded,
    run_sweep,
    sample,
    search,
)

__all__ = ['SWEEP_DEFAULTS', 'Choice', 'LogUniform', 'SweepError', 'SweepFileError', 'SweepResult', 'Uniform', 'default_space', 'grid', 'retrain', 'run_sweep', 'sample', 'search']
