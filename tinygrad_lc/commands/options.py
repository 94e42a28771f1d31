"""Argument types shared by the sub-commands: a bad value becomes argparse's usage error.

argparse then prints ``tinygrad-lc COMMAND: error: argument --seed: ...`` and exits with
status 2, instead of NumPy failing later with a bare message or a traceback.
"""

from __future__ import annotations

import argparse
import math


def non_negative_int(text: str) -> int:
    """An integer >= 0, e.g. for ``--seed`` (NumPy's generators refuse negative seeds).

    >>> non_negative_int("3")
    3
    >>> non_negative_int("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 0, got '-1'
    """
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0, e.g. for a regularization strength (NaN or inf is refused).

    >>> non_negative_float("0.1")
    0.1
    >>> non_negative_float("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number >= 0, got 'nan'
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value
