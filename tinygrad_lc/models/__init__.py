"""The lecture's linear classifier ``s = x W + b``, trained by minibatch SGD, and its baselines.

The public face of ``tinygrad_lc.models``; the code is in ``linear.py``.
"""

from tinygrad_lc.models.linear import (  # noqa: F401  (re-exported)
    SGD,
    LinearClassifier,
    MLPClassifier,
    NonFiniteScores,
    ScoringMixin,
    Tensor,
    batch_accuracy,
    check_choice,
    check_count,
    check_finite_scores,
    check_flag,
    check_labels,
    check_loss,
    check_real,
    compile_fn,
    count_nonfinite,
    diverged,
    losses,
    no_grad,
    random_search,
    regularizers,
)

__all__ = ['LinearClassifier', 'random_search']
