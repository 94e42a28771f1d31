"""`tinygrad-lc gradcheck`: check the lecture losses' gradients against central differences.

Three checks per loss, all in float64:

1. ``gradcheck`` of the data loss with respect to the scores of the lecture's worked example
   (the cat, car and frog images), every entry;
2. ``gradcheck`` of the full loss ``loss(X @ W, y) + reg * R(W)`` with respect to W on a
   small random problem, every entry (steps that cross a hinge are reported as kinks);
3. ``grad_check_sparse`` of the same full loss on a digits-sized problem (W of 65 x 10),
   at ``--num-checks`` random entries, as in the classic assignment.

``--model mlp`` checks the two-layer net instead (see ``gradcheck_mlp``). The exit status
is 0 when every check passes and 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from dataclasses import dataclass

import numpy as np

from tinygrad_lc.cli.lecture import LECTURE_LABELS, LECTURE_SCORES
from tinygrad_lc.cli.options import ELASTIC_BETA, add_regularizer_options, non_negative_int
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.gradcheck.check import MAX_CHECKS, grad_check_sparse, gradcheck_report
from tinygrad_lc.losses import LOSSES, data_loss
from tinygrad_lc.nn import MLP, Linear
from tinygrad_lc.regularizers import penalty

# -------------------- What ``tinygrad-lc gradcheck``'s checks return, for the linear model and the
SPARSE_TOLERANCE = 1e-6  # relative error a float64 central difference easily meets off kinks


@dataclass
class CheckResult:
    """One check: what was checked, whether it passed, the worst relative error, the text.

    ``rel_error`` is the largest relative error (:data:`RELATIVE_ERROR`) the text's entry
    lines show: a gradcheck's worst lines, or the largest of grad_check_sparse's entries;
    ``scope`` says which entries it ranges over ("" for all of them).
    """

    loss: str
    what: str
    passed: bool
    rel_error: float
    kinks: int
    text: str
    scope: str = ""

    @classmethod
    def of_report(cls, loss: str, what: str, report) -> CheckResult:
        """The result of one ``GradcheckReport``: its verdict, :func:`report_rel_error`, text."""
        rel, scope = report_rel_error(report)
        return cls(loss, what, report.passed, rel, report.kink_count, str(report), scope)

    @property
    def summary(self) -> str:
        """The line printed under the check's text.

        >>> CheckResult("svm", "d loss / d W", True, 6.66e-10, 2, "", "off kinks").summary
        'max relative error 6.66e-10 (off kinks)'
        """
        scope = f" ({self.scope})" if self.scope else ""
        return f"max relative error {self.rel_error:.2e}{scope}"


def report_rel_error(report) -> tuple[float, str]:
    """The largest relative error on a ``GradcheckReport``'s worst lines, and over which entries.

    Each input's worst line shows the largest relative error among its failing entries if any
    fail, else among its entries off kinks; this is the largest of those lines (NaN if any is).

    >>> import tinygrad_lc as tg
    >>> from tinygrad_lc.gradcheck import gradcheck_report
    >>> x = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> rel, scope = report_rel_error(gradcheck_report(lambda x: (x * x).sum(), x))
    >>> bool(rel < 1e-8), scope
    (True, '')
    """
    failing = [c for c in report.inputs if c.bad]
    shown = [c.rel for c in failing or report.inputs if c.worst is not None]
    rel = float(np.max(shown)) if shown else 0.0
    if failing:
        scope = "of the failing entries"
    elif report.kinks:
        scope = "off kinks"
    else:
        scope = ""
    return rel, scope


def sparse_rel_error(errors: np.ndarray, at_kink: np.ndarray) -> tuple[float, str]:
    """The largest of grad_check_sparse's relative errors off kinks (NaN if any is), and scope.

    >>> sparse_rel_error(np.array([1e-9, 0.5, 3e-9]), np.array([False, True, False]))
    (3e-09, 'off kinks')
    """
    off_kink = np.asarray(errors, dtype=np.float64)[~np.asarray(at_kink, dtype=bool)]
    # np.max sees a NaN error anywhere (Python's max drops NaN after the first)
    if not off_kink.size:
        return 0.0, "every entry at a kink" if len(errors) else ""
    return float(np.max(off_kink)), "off kinks" if np.any(at_kink) else ""


# -------------------- `tinygrad-lc gradcheck --model mlp`: the two-layer net's full loss against ce
def _full_loss(net, X, y, loss: str, regularizer: str, reg: float, beta: float):
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

    rng = np.random.default_rng(seed)
    results = []

    X, y = rng.standard_normal((8, 5)), rng.integers(0, 4, 8)
    net = MLP([5, 6, 4], seed=rng)
    for p in net.parameters():  # nonzero biases, so that every parameter is exercised
        p.data = p.data + 0.1 * rng.standard_normal(p.shape)
    first = net[0]
    assert isinstance(first, Linear) and first.b is not None
    b1 = first.b
    b1.data = b1.data + (1e-7 - (X[0] @ first.W.data + b1.data)[0]) * np.eye(6)[0]
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
        assert isinstance(layer, Linear) and layer.W.grad is not None
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


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--loss", choices=(*LOSSES, "both"), default="both",
                   help="which data loss to check (default: both)")
    add_regularizer_options(p, 0.1, "in the full loss; default: 0.1")
    p.add_argument("--num-checks", type=int, default=10,
                   help=f"random entries for grad_check_sparse (default: 10; at most "
                        f"{MAX_CHECKS:,})")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the random problems")
    p.add_argument("--model", choices=("linear", "mlp"), default="linear",
                   help="linear (X @ W) or mlp (the two-layer net, every parameter; its ReLU "
                        "kinks are reported) (default: linear)")
    p.add_argument("--localize", action="store_true",
                   help="also check every op's own derivative and name the first wrong one")


def check_loss(loss: str, regularizer_name: str = "l2", reg: float = 0.1, num_checks: int = 10,
               seed: int = 0, localize: bool = False, beta: float = ELASTIC_BETA
               ) -> list[CheckResult]:
    """Run the three checks of this command for one loss and return their results.

    Examples
    --------
    >>> results = check_loss("softmax", num_checks=3)
    >>> [r.passed for r in results], all(r.rel_error < 1e-6 for r in results)
    ([True, True, True], True)
    """

    f = lambda scores, y: data_loss(loss, scores, y)
    R = lambda W: penalty(regularizer_name, W, beta=beta)
    rng = np.random.default_rng(seed)
    results = []

    scores = Tensor(LECTURE_SCORES.copy(), requires_grad=True, name="scores")
    report = gradcheck_report(lambda s: f(s, LECTURE_LABELS), scores, localize=localize)
    results.append(CheckResult.of_report(loss, "d loss / d scores, lecture example (3 x 3)",
                                         report))

    X, y = rng.standard_normal((8, 5)), rng.integers(0, 4, 8)
    W = Tensor(rng.standard_normal((5, 4)), requires_grad=True, name="W")
    full = lambda W: f(Tensor(X) @ W, y) + reg * R(W)
    report = gradcheck_report(full, W, localize=localize)
    results.append(CheckResult.of_report(loss, f"d full loss / d W, random X (8 x 5), W (5 x 4), "
                                         f"{reg:g} * {regularizer_name}", report))

    # digits-sized: 100 mean-subtracted "images" of 64 pixels plus the bias column
    Xd = np.hstack([rng.normal(0.0, 5.0, (100, 64)), np.ones((100, 1))])
    yd = rng.integers(0, 10, 100)
    Wd = Tensor(rng.normal(0.0, 1e-2, (65, 10)), requires_grad=True, name="W")
    big = lambda W: f(Tensor(Xd) @ W, yd) + reg * R(W)
    big(Wd).backward()
    assert Wd.grad is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        errors, at_kink = grad_check_sparse(big, Wd, Wd.grad, num_checks=num_checks,
                                            seed=seed, return_kinks=True)
    lines = out.getvalue().splitlines()
    off_kink = np.asarray(errors, dtype=np.float64)[~at_kink]
    worst, scope = sparse_rel_error(errors, at_kink)
    passed = bool(np.all(off_kink < SPARSE_TOLERANCE))  # np.all: a NaN error fails
    verdict = "passed" if passed else "FAILED"
    text = "\n".join([f"grad_check_sparse {verdict} (tolerance {SPARSE_TOLERANCE:g} off kinks)",
                      *[f"  {line}" for line in lines]])
    results.append(CheckResult(loss, f"d full loss / d W, {num_checks} random entries of a "
                               "digits-sized W (65 x 10)", passed, worst,
                               int(at_kink.sum()), text, scope))
    return results


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.num_checks <= MAX_CHECKS:
        print(f"tinygrad-lc gradcheck: error: --num-checks must be at least 1 and at most "
              f"{MAX_CHECKS:,}, got {args.num_checks}", file=sys.stderr)
        return 2
    names = LOSSES if args.loss == "both" else (args.loss,)
    ok = True
    for loss in names:
        print(f"== {loss} loss ==")
        checks = check_mlp if args.model == "mlp" else check_loss
        for r in checks(loss, args.regularizer, args.reg, args.num_checks, args.seed,
                        args.localize, args.beta):
            print(f"-- {r.what}")
            print(r.text)
            print(f"   {r.summary}")
            ok &= r.passed
        print()
    print("all gradient checks passed" if ok else "SOME GRADIENT CHECKS FAILED")
    return 0 if ok else 1
