"""The lecture's loss numbers, recomputed with tinygrad_lc and printed beside the slides' values.

Run: ``python examples/02_lecture_losses.py``. Every value comes from ``tinygrad_lc.losses`` and
``tinygrad_lc.regularizers``; the "slide" column is what the lecture shows. Where they differ,
the note says why (the slides' cross-entropy values are base-10 logarithms).
"""

from __future__ import annotations

import math

import numpy as np

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.losses import softmax_loss, svm_loss
from tinygrad_lc.regularizers import l1, l2

# one row per image (cat, car, frog); columns are the classes cat, car, frog
SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LABELS = np.array([0, 1, 2])
# the 4-pixel image: W is (classes, pixels) as on the slide, so scores = W x + b
W4 = np.array([[0.01, -0.05, 0.1, 0.05], [0.7, 0.2, 0.05, 0.16], [0.0, -0.45, -0.2, 0.03]])
X4 = np.array([-15.0, 22.0, -44.0, 56.0])
B4 = np.array([0.0, 0.2, -0.3])


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    values = np.atleast_1d(np.asarray(value, dtype=float)) + 0.0  # + 0.0 turns -0.0 into 0.0
    return ", ".join(f"{v:.2f}" if abs(v) >= 0.01 or v == 0 else f"{v:.2g}" for v in values)


def _section(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}")
    print(f"  {'quantity':<42} {'tinygrad_lc':<22} {'slide':<18} note")
    for label, ours, slide, note in rows:
        print(f"  {label:<42} {_fmt(ours):<22} {_fmt(slide):<18} {note}")


def svm_rows() -> list[tuple]:
    per = svm_loss(SCORES, LABELS, reduction="none").data
    doubled = svm_loss(2 * SCORES, LABELS, reduction="none").data
    return [
        ("hinge loss per image (cat car frog)", per, "2.9, 0, 12.9", "delta = 1"),
        ("mean over the 3 images", svm_loss(SCORES, LABELS).item(), "5.27", ""),
        ("car's loss with W doubled", doubled[1], "0", "scores x2: margins stay > 1"),
        ("sum over all j (incl. j = y_i)", svm_loss(SCORES, LABELS, include_correct=True).item(),
         "6.27", "adds delta per image"),
        ("squared hinge per image", svm_loss(SCORES, LABELS, squared=True, reduction="none").data,
         "-", "2.9^2, 0, 6.3^2+6.6^2"),
        ("mean over classes per image",
         svm_loss(SCORES, LABELS, class_reduction="mean", reduction="none").data, "-",
         "divides by C - 1 = 2"),
    ]


def softmax_rows() -> list[tuple]:
    cat = SCORES[:1]
    probs = Tensor(cat).softmax(axis=1).data[0]
    loss = softmax_loss(cat, [0]).item()
    return [
        ("unnormalized probabilities exp(s)", np.exp(cat[0]), "24.5, 164.0, 0.18", ""),
        ("probabilities", probs, "0.13, 0.87, 0.00", ""),
        ("cross-entropy -ln(0.13)", loss, "0.89", f"slide = -log10(0.13) = "
                                                  f"{loss / math.log(10):.2f} (base-10 log)"),
    ]


def four_pixel_rows() -> list[tuple]:
    scores = (Tensor(X4) @ Tensor(W4).T + Tensor(B4)).reshape(1, 3)
    ce = softmax_loss(scores, [2]).item()
    return [
        ("scores W x + b (classes 0, 1, 2)", scores.data[0], "-2.85, 0.86, 0.28", ""),
        ("hinge loss (correct class y = 2)", svm_loss(scores, [2]).item(), "1.58", ""),
        ("cross-entropy", ce, "0.452", f"natural log; slide = base-10: {ce / math.log(10):.3f}"),
    ]


def regularizer_rows() -> list[tuple]:
    x = np.ones(4)
    w1, w2 = Tensor([1.0, 0.0, 0.0, 0.0]), Tensor([0.25, 0.25, 0.25, 0.25])
    return [
        ("w1 . x and w2 . x", [w1.data @ x, w2.data @ x], "1, 1", "same scores"),
        ("L2: R(w1), R(w2)", [l2(w1).item(), l2(w2).item()], "1, 0.25", "L2 prefers spread-out w2"),
        ("L1: R(w1), R(w2)", [l1(w1).item(), l1(w2).item()], "1, 1", "L1 ties them"),
    ]


def sanity_rows() -> list[tuple]:
    zeros, y = np.zeros((5, 10)), np.arange(5)
    s = np.array([[10.0, -2.0, 3.0], [10.0, 9.0, 9.0], [10.0, -100.0, -100.0]])
    y0 = np.zeros(3, dtype=np.int64)
    soft = softmax_loss(s, y0, reduction="none").data
    return [
        ("SVM, all scores 0, C = 10", svm_loss(zeros, y).item(), "9", "(C - 1) * delta"),
        ("softmax, all scores 0, C = 10", f"{softmax_loss(zeros, y).item():.4f}", "2.3026",
         "ln C"),
        ("SVM on [10,-2,3] [10,9,9] [10,-100,-100]", svm_loss(s, y0, reduction="none").data,
         "0, 0, 0", "y = 0: every margin <= 0"),
        ("softmax on the same three rows",
         f"{soft[0]:.2g}, {soft[1]:.4f}, {soft[2] + 0.0:.2g}", "> 0", "never exactly 0 in "
         "theory (row 3: 2e^-110 rounds away)"),
    ]


def main() -> dict:
    """Print every table; return the rows (label -> value) for tests and notebooks."""
    sections = {
        "Multiclass SVM loss on the cat / car / frog scores": svm_rows(),
        "Softmax classifier on the cat image (natural log)": softmax_rows(),
        "The 4-pixel image, one linear score": four_pixel_rows(),
        "Regularization: x = [1, 1, 1, 1]": regularizer_rows(),
        "Sanity checks": sanity_rows(),
    }
    for title, rows in sections.items():
        _section(title, rows)
    print(f"\n(tinygrad_lc {tg.__version__}; cross-entropy everywhere in natural log: the slides' "
          "0.89 and 0.452 are base-10 logarithms)")
    return {label: ours for rows in sections.values() for label, ours, _, _ in rows}


if __name__ == "__main__":
    main()
