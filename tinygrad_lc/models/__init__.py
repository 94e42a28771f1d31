"""The lecture's classifiers: the linear classifier ``s = x W + b`` with its random-search
baseline, and the two-layer net.

The public face of ``tinygrad_lc.models``; the code is in ``linear.py``, ``mlp.py`` and
``base.py`` (what both share), and ``training.py`` holds the command line's training runs.
"""

from tinygrad_lc.models.linear import LinearClassifier, random_search
from tinygrad_lc.models.mlp import MLPClassifier

__all__ = [
    "LinearClassifier", "MLPClassifier", "random_search"
]
