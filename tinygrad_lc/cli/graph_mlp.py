"""`tinygrad-lc graph --model mlp`: the two-layer net's full loss as a diagram.

The lecture's 3 images of 4 pixels (scaled to [0, 1]) go through ``MLP([4, 5, 3])``:
``Linear1`` (W1 4x5, b1), ``ReLU1``, ``Linear2`` (W2 5x3, b2); each layer is a cluster inside
the ``MLP`` cluster, beside the loss's and the regularizer's.
"""

from __future__ import annotations

import numpy as np

from tinygrad_lc.cli.lecture import LECTURE_X, LECTURE_Y
from tinygrad_lc.cli.options import ELASTIC_BETA
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.losses import data_loss
from tinygrad_lc.nn import MLP, Linear
from tinygrad_lc.regularizers import penalty

HIDDEN = 5


def mlp_loss(loss: str = "svm", regularizer: str = "l2", reg: float = 0.1,
             beta: float = ELASTIC_BETA, seed: int = 0) -> Tensor:
    """``loss(net(X), y) + reg * R(W1, W2)`` for the two-layer net on the lecture's
    3 images of 4 pixels (divided by 255); the names are ``tinygrad-lc train``'s options.

    Examples
    --------
    >>> from tinygrad_lc.viz.diagram import draw_graph
    >>> source = draw_graph(mlp_loss("softmax")).source
    >>> [f"<B>{name}</B>" in source for name in ("MLP", "Linear1", "ReLU1", "Linear2")]
    [True, True, True, True]
    """
    X = Tensor(np.array(LECTURE_X) / 255.0, name="X")
    net = MLP([X.shape[1], HIDDEN, len(LECTURE_Y)], seed=seed)
    weights = [m.W for m in net if isinstance(m, Linear)]
    return data_loss(loss, net(X), np.array(LECTURE_Y)) + reg * penalty(
        regularizer, weights, beta=beta)
