"""The lecture's linear score function f(x, W, b) = W x + b on a 4-pixel image, with its gradients.

Three classes, four pixels: W is (3, 4), x is (4,), b is (3,). The scores come out as
[-2.85, 0.86, 0.28]. Back-propagating their sum shows what the lecture says in words: the
gradient of a score w.r.t. its row of W is the image itself, and w.r.t. its bias is 1.

Run it with ``python examples/01_linear_score.py``.
"""

from __future__ import annotations

import numpy as np

import tinygrad_lc as tg


def main() -> dict[str, tg.Tensor]:
    W = tg.Tensor(
        [[0.01, -0.05, 0.1, 0.05],
         [0.7, 0.2, 0.05, 0.16],
         [0.0, -0.45, -0.2, 0.03]],
        requires_grad=True, name="W",
    )
    x = tg.Tensor([-15.0, 22.0, -44.0, 56.0], name="x")  # the image: data, no gradient
    b = tg.Tensor([0.0, 0.2, -0.3], requires_grad=True, name="b")

    scores = W @ x + b
    print("scores:", np.array2string(scores.data, precision=2, floatmode="fixed"))
    print("predicted class:", int(np.argmax(scores.data)))

    total = scores.sum()  # one scalar, so backward() needs no upstream gradient
    total.backward()
    print("dW = d(sum of scores)/dW, each row is the image x:")
    print(np.array2string(W.grad, precision=2, floatmode="fixed"))
    print("db:", np.array2string(b.grad, precision=2, floatmode="fixed"))
    print("x.grad:", x.grad)  # x does not require grad, so it gets none
    return {"W": W, "x": x, "b": b, "scores": scores}


if __name__ == "__main__":
    main()
