"""How big a sweep may be: every size a user can type has a limit, checked before anything
is allocated, and a line of ``trials.jsonl`` has one too, checked before it is parsed.

The limits are generous for real use: the CIFAR-10 sweeps of docs/sweeps.md run 24 trials
in 2 rounds on 2 workers; a line of ``trials.jsonl`` is about 500 bytes.
"""

from __future__ import annotations

__all__ = ["MAX_DEPTH", "MAX_LINE", "MAX_REFINE", "MAX_TRIALS", "MAX_WORKERS"]

# trials of one sweep, all rounds together; also the most configurations sample() or grid()
# make (a grid's is the product of the values per range)
MAX_TRIALS = 100_000
# finer rounds: each halves the ranges' width (log scale), so 20 rounds leave a millionth
MAX_REFINE = 20
# local worker processes (each is a Python process of about 100 MB)
MAX_WORKERS = 1024
# bytes in one line of trials.jsonl (a record is about 500; the writer shortens a trial's
# error and warnings so that a line stays far below this)
MAX_LINE = 1 << 20
# brackets nested in one line of trials.jsonl (a trial record nests 3 deep)
MAX_DEPTH = 16
