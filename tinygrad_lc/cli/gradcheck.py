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

import numpy as np

from tinygrad_lc.cli.check_results import SPARSE_TOLERANCE, CheckResult, sparse_rel_error
from tinygrad_lc.cli.gradcheck_mlp import check_mlp
from tinygrad_lc.cli.lecture import LECTURE_LABELS, LECTURE_SCORES
from tinygrad_lc.cli.options import ELASTIC_BETA, add_regularizer_options, non_negative_int
from tinygrad_lc.losses import LOSSES


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--loss", choices=(*LOSSES, "both"), default="both",
                   help="which data loss to check (default: both)")
    add_regularizer_options(p, 0.1, "in the full loss; default: 0.1")
    p.add_argument("--num-checks", type=int, default=10,
                   help="random entries for grad_check_sparse (default: 10)")
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
    from tinygrad_lc.core.tensor import Tensor
    from tinygrad_lc.gradcheck.check import grad_check_sparse, gradcheck_report
    from tinygrad_lc.losses import data_loss
    from tinygrad_lc.regularizers import penalty

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
    if args.num_checks < 1:
        print(f"tinygrad-lc gradcheck: error: --num-checks must be at least 1, "
              f"got {args.num_checks}", file=sys.stderr)
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
