"""The lecture's worked examples, shared by ``graph``, ``gradcheck`` and ``demo``.

- the cat / car / frog scores (``LECTURE_SCORES``): three images, one row each, scored for
  the classes cat, car and frog; the correct classes are ``LECTURE_LABELS``;
- the 4-pixel images (``LECTURE_X``) and the weights of the 4-pixel cat slide
  (``LECTURE_W``, ``LECTURE_B``), from which :func:`lecture_loss` builds the full loss.
"""

from __future__ import annotations

import numpy as np

from tinygrad_lc.cli.options import ELASTIC_BETA
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.losses import LOSSES, data_loss
from tinygrad_lc.regularizers import REGULARIZERS, penalty

# The cat / car / frog example: rows are the images, columns the class scores for cat, car
# and frog (the slide draws them as columns).
LECTURE_SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LECTURE_LABELS = np.array([0, 1, 2])
LECTURE_NAMES = ("cat", "car", "frog")

# The lecture's 4-pixel images, one per row: the cat (56, 231, 24, 2), then a dog and a ship.
LECTURE_X = ((56.0, 231.0, 24.0, 2.0), (10.0, 200.0, 120.0, 30.0), (200.0, 20.0, 40.0, 250.0))
# W and b of the lecture's cat example, transposed to (D, C) so that scores = X @ W + b.
LECTURE_W = ((0.2, 1.5, 0.0), (-0.5, 1.3, 0.25), (0.1, 2.1, 0.2), (2.0, 0.0, -0.3))
LECTURE_B = (1.1, 3.2, -1.2)
LECTURE_Y = (0, 1, 2)  # cat, dog, ship


def lecture_loss(loss: str = "svm", regularizer: str = "l2", reg: float = 0.1,
                 beta: float = ELASTIC_BETA) -> Tensor:
    """The lecture's full loss on its small example: ``loss(X @ W + b, y) + reg * R(W)``.

    The names are those of ``tinygrad-lc train``'s options.

    Parameters
    ----------
    loss : {"svm", "softmax"}
    regularizer : {"l2", "l1", "elastic_net"}
        R(W).
    reg : float
        The regularization strength (lambda).
    beta : float
        Weight of the squared term of ``elastic_net``.

    Returns
    -------
    Tensor
        The scalar loss; X, W and b are named leaves of its graph (W and b require grad).

    Examples
    --------
    The cat's scores are the lecture's -96.8 (cat), 437.9 (dog), 60.75 (ship):

    >>> round(lecture_loss("svm", "l2", reg=0.0).item(), 2)  # the data loss alone
    590.32
    >>> round(lecture_loss("svm", "l2").item(), 2)  # plus 0.1 * sum(W**2) = 0.1 * 12.84
    591.6
    """
    if loss not in LOSSES:
        raise ValueError(f"lecture_loss: loss must be one of {LOSSES}, got {loss!r}")
    if regularizer not in REGULARIZERS:
        raise ValueError(f"lecture_loss: regularizer must be one of {REGULARIZERS}, "
                         f"got {regularizer!r}")
    X = Tensor(np.array(LECTURE_X), name="X")
    W = Tensor(np.array(LECTURE_W), requires_grad=True, name="W")
    b = Tensor(np.array(LECTURE_B), requires_grad=True, name="b")
    y = np.array(LECTURE_Y)
    return data_loss(loss, X @ W + b, y) + reg * penalty(regularizer, W, beta=beta)
