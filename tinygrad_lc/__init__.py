"""tinygrad_lc: reverse-mode autodiff on NumPy for the lecture "Loss Functions, SVM, Softmax".

>>> import numpy as np
>>> import tinygrad_lc as tg
>>> W = tg.Tensor(np.ones((4, 3)), requires_grad=True, name="W")
>>> loss = (tg.Tensor(np.ones((2, 4))) @ W).sum()
>>> loss.backward()
>>> W.grad.shape
(4, 3)
"""

from tinygrad_lc import (  # noqa: F401  (the public modules: tg.losses, tg.autodiff, ...)
    autodiff,
    cs231n,
    data,
    gradcheck,
    losses,
    models,
    nn,
    optim,
    regularizers,
    viz,
)
from tinygrad_lc.autodiff import grad
from tinygrad_lc.compile import CompileError, compile  # noqa: A004  (tg.compile, as in the API)
from tinygrad_lc.core import numpy_protocol  # noqa: F401  (np.exp(t), np.sum(t): see there)
from tinygrad_lc.core.functional import concatenate, exp, log, matmul, maximum, stack
from tinygrad_lc.core.modes import (
    current_scope,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    scope,
)
from tinygrad_lc.core.tensor import AnomalyError, Tensor

__version__ = "0.1.0"

__all__ = [
    "Tensor", "AnomalyError", "grad", "no_grad", "enable_grad", "scope", "detect_anomaly",
    "is_grad_enabled", "is_anomaly_enabled", "current_scope",
    "maximum", "exp", "log", "matmul", "concatenate", "stack", "compile", "CompileError",
]
