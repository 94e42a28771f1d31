"""`tinygrad-lc gradcheck --model mlp`: the two-layer net's full loss against central differences.

Two checks per loss, in float64:

1. ``gradcheck`` of ``loss(net(X), y) + reg * R(W1, W2)`` with respect to every parameter
   (W1, b1, W2, b2) of a small net (5 inputs, 6 hidden units, 4 classes, 8 examples), every
   entry. One hidden unit of the first example is placed 1e-7 from its ReLU's kink (closer
   than the step of 1e-6), so the report shows how a step across a kink is flagged as such
   instead of being counted as a wrong gradient;
2. ``grad_check_sparse`` of the same loss for W1 and W2 of a digits-sized net (65 inputs,
   100 hidden units, 10 classes, 100 examples), at ``--num-checks`` random entries each.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from tinygrad_lc.cli.check_results import SPARSE_TOLERANCE, CheckResult, sparse_rel_error
from tinygrad_lc.cli.options import ELASTIC_BETA


def _full_loss(net, X, y, loss: str, regularizer: str, reg: float, beta: float):
    from tinygrad_lc.core.tensor import Tensor
    from tinygrad_lc.losses import data_loss
    from tinygrad_lc.nn import Linear
    from tinygrad_lc.regularizers import penalty

    weights = [m.W for m in net if isinstance(m, Linear)]
    return data_loss(loss, net(Tensor(X, name="X")), y) + reg * penalty(
        regularizer, weights, beta=beta)


def check_mlp(loss: str, regularizer_name: str = "l2", reg: float = 0.1, num_checks: int = 10,
              seed: int = 0, localize: bool = False, beta: float = ELASTIC_BETA
              ) -> list[CheckResult]:
    """Run this command's two checks of the two-layer net for one data loss.

    Examples
    --------
    >>> results = check_mlp("softmax", num_checks=3)
    >>> [r.passed for r in results], results[0].kinks > 0
    ([True, True], True)
    """
    from tinygrad_lc.gradcheck.check import grad_check_sparse, gradcheck_report
    from tinygrad_lc.nn import MLP

    rng = np.random.default_rng(seed)
    results = []

    X, y = rng.standard_normal((8, 5)), rng.integers(0, 4, 8)
    net = MLP([5, 6, 4], seed=rng)
    for p in net.parameters():  # nonzero biases, so that every parameter is exercised
        p.data = p.data + 0.1 * rng.standard_normal(p.shape)
    b1 = net[0].b
    b1.data = b1.data + (1e-7 - (X[0] @ net[0].W.data + b1.data)[0]) * np.eye(6)[0]
    f = lambda *params: _full_loss(net, X, y, loss, regularizer_name, reg, beta)
    report = gradcheck_report(f, net.parameters(), localize=localize)
    results.append(CheckResult.of_report(
        loss, f"d full loss / d (W1, b1, W2, b2), X (8 x 5), MLP 5-6-4, {reg:g} * "
        f"{regularizer_name}(W1, W2); hidden unit 0 of example 0 sits 1e-7 from its ReLU's kink",
        report))

    Xd = np.hstack([rng.normal(0.0, 1.0, (100, 64)), np.ones((100, 1))])
    yd = rng.integers(0, 10, 100)
    big = MLP([65, 100, 10], seed=rng)
    _full_loss(big, Xd, yd, loss, regularizer_name, reg, beta).backward()
    errors, kinks, lines = [], [], []
    for layer, name in ((big[0], "W1"), (big[2], "W2")):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            e, k = grad_check_sparse(lambda W: _full_loss(big, Xd, yd, loss, regularizer_name,
                                                          reg, beta),
                                     layer.W, layer.W.grad, num_checks=num_checks, seed=seed,
                                     return_kinks=True)
        errors.append(e)
        kinks.append(k)
        lines += [f"  {name} {line}" for line in out.getvalue().splitlines()]
    errors, kinks = np.concatenate(errors), np.concatenate(kinks)
    off_kink = errors[~kinks]
    worst, scope = sparse_rel_error(errors, kinks)
    passed = bool(np.all(off_kink < SPARSE_TOLERANCE))
    text = "\n".join([f"grad_check_sparse {'passed' if passed else 'FAILED'} (tolerance "
                      f"{SPARSE_TOLERANCE:g} off kinks)", *lines])
    results.append(CheckResult(
        loss, f"d full loss / d W1 and W2, {num_checks} random entries each of a digits-sized "
        "MLP 65-100-10", passed, worst, int(kinks.sum()), text, scope))
    return results
