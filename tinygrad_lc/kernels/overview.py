"""What ``python -m tinygrad_lc.kernels`` prints: the machine and the lecture's choices.

The lecture's products are the linear classifier's (N, 3073) @ (3073, 10) and the two-layer
net's hidden layer (3073, 100), for batches of N = 200 and 1000, float32 and float64: the
forward ``X @ W``, the weight gradient ``X^T G`` and the net's input gradient ``G W2^T``.
Each is decided here exactly as the engine decides it (the same :data:`~.products.PRODUCT`
choice), so the table shows the process's own choices and the timings behind them.

>>> header, rows = choices_table(ns=(64,), dtypes=("float64",), hidden=(10,))
>>> header[:3], len(rows)
(['product', 'shapes', 'dtype'], 2)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinygrad_lc.kernels.choose import BUDGET_S, get_mode
from tinygrad_lc.kernels.machine import describe
from tinygrad_lc.kernels.products import PRODUCT, product_key
from tinygrad_lc.util.table import text_table

__all__ = ["lecture_products", "choices_table", "report"]

D = 3073  # CIFAR-10's pixels and the bias column
CLASSES = 10


def lecture_products(ns: Sequence[int] = (200, 1000),
                     dtypes: Sequence[str] = ("float32", "float64"),
                     hidden: Sequence[int] = (CLASSES, 100), seed: int = 0) -> list:
    """(name, dtype, x, y) for each product the lecture's models run, ``x @ y`` as the engine
    computes it (transposes are views, as in the backward).

    >>> [p[0] for p in lecture_products(ns=(4,), dtypes=("float64",), hidden=(10,))]
    ['X @ W', 'X^T G']
    """
    rng = np.random.default_rng(seed)
    out = []
    for dtype in dtypes:
        for n in ns:
            X = rng.standard_normal((n, D)).astype(dtype)
            for h in hidden:
                W = rng.standard_normal((D, h)).astype(dtype)
                G = rng.standard_normal((n, h)).astype(dtype)
                out += [("X @ W", dtype, X, W), ("X^T G", dtype, X.T, G)]
                if h != CLASSES:  # the net's second layer: the gradient of its input
                    W2 = rng.standard_normal((h, CLASSES)).astype(dtype)
                    G2 = rng.standard_normal((n, CLASSES)).astype(dtype)
                    out.append(("G W2^T", dtype, G2, W2.T))
    return out


def choices_table(**kw) -> tuple[list[str], list[list[str]]]:
    """(header, rows): each lecture product's chosen form and the best time of every form.

    Keyword arguments go to :func:`lecture_products`. A product seen before in the process
    shows the decision made then.

    >>> header, rows = choices_table(ns=(64,), dtypes=("float32",), hidden=(10,))
    >>> [row[0] for row in rows], rows[0][4] in ("x @ y", "(y.T @ x.T).T")
    (['X @ W', 'X^T G'], True)
    """
    names = [f.name for f in PRODUCT.forms]
    header = ["product", "shapes", "dtype", "layouts", "chosen", *(f"{n} ms" for n in names),
              "runs", "plain/chosen"]
    rows = []
    for name, dtype, x, y in lecture_products(**kw):
        key = product_key(x, y)
        PRODUCT.form(key, x, y)  # decided as the engine decides it, whatever the mode
        d = PRODUCT.decision(key)
        assert d is not None
        times = [f"{d.times[n] * 1e3:.3f}" if n in d.times else "-" for n in names]
        ratio = (f"{d.times[PRODUCT.plain.name] / d.times[d.winner]:.2f}" if d.times else "-")
        rows.append([name, f"{x.shape} @ {y.shape}", dtype, f"{key[4]} {key[5]}", d.winner,
                     *times, str(d.rounds) if d.times else d.note, ratio])
    return header, rows


def report(**kw) -> str:
    """The machine, the BLAS build and its threads, then :func:`choices_table` as text.

    >>> text = report(ns=(64,), dtypes=("float32",), hidden=(10,))
    >>> text.startswith("CPU: "), "BLAS threads: " in text
    (True, True)
    """
    lines = [f"{k}: {v}" for k, v in describe()]
    lines.append(f"mode: {get_mode()} (the table is timed in either mode; 'fixed' takes "
                 f"'{PRODUCT.plain.name}' everywhere)")
    lines.append(f"method: per key, the plain form once (warm-up), then rounds of every form "
                 f"within {BUDGET_S * 1e3:.0f} ms; best time of each; ms = best of 'runs'")
    lines.append("")
    lines.append(text_table(*choices_table(**kw)))
    return "\n".join(lines)
