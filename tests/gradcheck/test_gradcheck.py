"""Tests for tinygrad_lc/gradcheck.py: numerical gradients, gradcheck, kinks, localization.

The mutation tests walk the engine's op table: for every op, a deliberately wrong backward
(sign flipped, factor 2, transposed where the shapes allow) must make ``gradcheck`` fail, and
``localize=True`` must name that op. A new op without a case here fails the coverage test.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.core.ops import NUMPY, OPS
from tinygrad_lc.core.tensor import apply_op
from tinygrad_lc.gradcheck import (
    GradcheckError,
    GradcheckWarning,
    grad_check_sparse,
    gradcheck,
    gradcheck_report,
    numerical_gradient,
    rel_error,
)
from tinygrad_lc.losses import svm_loss


def _values(shape, lo=-2.0, hi=2.0, gap=0.25, seed=0):
    """Distinct values at least ``gap`` apart and away from 0, shuffled (no ties, no kinks)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    grid = np.arange(lo, hi + 1e-12, gap)
    grid = grid[np.abs(grid) >= gap]
    assert grid.size >= n, "widen the range"
    picked = rng.choice(grid, size=n, replace=False) + rng.uniform(0, gap / 4, n)
    return picked.reshape(shape)


def _t(arr, name):
    return Tensor(arr, requires_grad=True, name=name)


# ---------------------------------------------------------------------- one case per op
# name -> (function of the input Tensors returning the op's result, input arrays)
def _cases():
    pos = lambda seed: 0.5 + np.abs(_values((3, 3), seed=seed))  # for log, sqrt, pow, div
    a, b = _values((3, 3), seed=1), _values((3, 3), seed=2)
    return {
        "add": (lambda x, y: x + y, [a, _values((3,), seed=3)]),
        "sub": (lambda x, y: x - y, [a, b]),
        "mul": (lambda x, y: x * y, [a, _values((3,), seed=4)]),
        "div": (lambda x, y: x / y, [a, pos(5)]),
        "neg": (lambda x: -x, [a]),
        "pow": (lambda x: x**3, [pos(6)]),
        "rpow": (lambda x: 2.0**x, [a]),
        "exp": (lambda x: x.exp(), [a]),
        "log": (lambda x: x.log(), [pos(7)]),
        "sqrt": (lambda x: x.sqrt(), [pos(8)]),
        "abs": (lambda x: x.abs(), [a]),
        "relu": (lambda x: x.relu(), [a]),
        "maximum": (lambda x, y: tg.maximum(x, y), [a, _values((3, 3), gap=0.25, seed=9) + 0.1]),
        "sum": (lambda x: x.sum(axis=0), [a]),
        "mean": (lambda x: x.mean(axis=1), [a]),
        "max": (lambda x: x.max(axis=1), [a]),
        "logsumexp": (lambda x: x.logsumexp(axis=1), [a]),
        "log_softmax": (lambda x: x.log_softmax(axis=-1), [a]),
        "softmax": (lambda x: x.softmax(axis=-1), [a]),
        "matmul": (lambda x, y: x @ y, [a, b]),
        "reshape": (lambda x: x.reshape(9), [a]),
        "transpose": (lambda x: x.T, [a]),
        "getitem": (lambda x: x[np.arange(3), np.array([1, 2, 0])], [a]),
        "concatenate": (lambda x, y: tg.concatenate([x, y], axis=1), [a, b]),
        "stack": (lambda x, y: tg.stack([x, y], axis=0), [a, b]),
        # the ops of recorded gradients, built through the engine as the backward builds them
        "expand": (lambda x: apply_op("expand", (x,), {"shape": (3, 3), "axis": 1,
                                                     "keepdims": False}), [a[0]]),
        "scatter": (lambda x: apply_op("scatter", (x,), {"shape": (3, 3), "unique": False,
                                                       "index": np.array([0, 2, 0])}), [a]),
        "cast": (lambda x: apply_op("cast", (x,), {"dtype": np.dtype(np.float64)}), [a]),
    }


CASES = _cases()


def _inputs(name):
    f, arrays = CASES[name]
    return f, [_t(np.array(x), f"x{i}") for i, x in enumerate(arrays)]


def _vjp_shapes(name):
    """Shapes of the op's raw VJP results (before the engine sums over broadcast axes)."""
    f, xs = _inputs(name)
    out = f(*xs)
    assert out.op == name, f"case for {name!r} builds op {out.op!r}"
    datas = [x.data for x in xs]
    return [np.shape(v(NUMPY, np.ones(out.shape), out.data, *datas, **(out._kw or {})))
            for v in out._vjps]


MUTATIONS = {
    "sign": lambda v: (lambda *args, **kw: -v(*args, **kw)),
    "double": lambda v: (lambda *args, **kw: 2 * v(*args, **kw)),
    "transpose": lambda v: (lambda *args, **kw: v(*args, **kw).T),
}


def _mutation_params():
    params = []
    for name in CASES:
        for i, shape in enumerate(_vjp_shapes(name)):
            kinds = ["sign", "double"]
            if len(shape) == 2 and shape[0] == shape[1]:
                kinds.append("transpose")
            params += [pytest.param(name, i, k, id=f"{name}-input{i}-{k}") for k in kinds]
    return params


def _break(monkeypatch, name, i, kind):
    """Replace OPS[name] by a copy whose VJP for input i is wrong (undone by monkeypatch)."""
    op = OPS[name]
    vjps = list(op.vjps)
    if op.arity < 0:  # one VJP for every piece: break it for piece i only
        vjp = vjps[0]
        vjps[0] = lambda *args, k, **kw: MUTATIONS[kind](vjp)(*args, k=k, **kw) if k == i \
            else vjp(*args, k=k, **kw)
    else:
        vjps[i] = MUTATIONS[kind](vjps[i])
    monkeypatch.setitem(OPS, name, dataclasses.replace(op, vjps=tuple(vjps)))


def test_every_op_has_a_case():
    assert set(CASES) == set(OPS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_correct_ops_pass(name):
    f, xs = _inputs(name)
    report = gradcheck_report(f, xs, strict=True)
    assert report.passed, str(report)


@pytest.mark.parametrize(("name", "i", "kind"), _mutation_params())
def test_wrong_backward_fails(monkeypatch, name, i, kind):
    _break(monkeypatch, name, i, kind)
    f, xs = _inputs(name)
    with pytest.raises(GradcheckError) as err:
        gradcheck(f, xs)
    assert f"'x{i}' (input {i})" in str(err.value)
    assert err.value.report.inputs[i].bad > 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_localize_names_the_broken_op(monkeypatch, name):
    _break(monkeypatch, name, 0, "double")
    f, xs = _inputs(name)
    # correct ops around the broken one: scaling before, a weighted sum after
    w = np.random.default_rng(0).standard_normal(f(*xs).shape)
    g = lambda *ts: (f(*[t * 1.5 for t in ts]) * w).sum()
    with pytest.raises(GradcheckError) as err:
        gradcheck(g, xs, localize=True)
    bad = err.value.report.first_bad_op
    assert bad is not None and bad.op == name and bad.input == 0
    assert f"first op with a wrong local gradient: op '{name}'" in str(err.value)


def test_localize_names_scope_and_shapes(monkeypatch):
    _break(monkeypatch, "relu", 0, "sign")
    s = _t(_values((4, 3)), "scores")
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda s: svm_loss(s, np.array([0, 2, 1, 1])), s, localize=True)
    bad = err.value.report.first_bad_op
    assert (bad.op, bad.scope, bad.input_shapes, bad.output_shape) == (
        "relu", "svm_loss", [(4, 3)], (4, 3))
    assert "op 'relu' in scope 'svm_loss' (inputs (4, 3); output (4, 3))" in str(err.value)


def test_localize_passes_and_lists_every_node_on_a_correct_graph():
    W = _t(_values((5, 3), seed=3) * 0.1, "W")
    X = Tensor(_values((4, 5), lo=-3.0, hi=3.0, seed=4))
    report = gradcheck_report(lambda W: svm_loss(X @ W, np.array([0, 1, 2, 0])) + (W * W).sum(),
                              W, localize=True)
    assert report.passed and report.first_bad_op is None
    ops = [c.op for c in report.local]
    assert ops[0] == "matmul" and "relu" in ops and ops[-1] == "add"


# ---------------------------------------------------------------------- kinks
HINGE_ON_KINK = np.array([[0.5, 1.5, 1.0], [2.0, 1.0, 2.5]])  # row 0: 0.5 - 1.5 + 1 = 0
LABELS = np.array([1, 2])


def test_hinge_with_a_margin_at_zero_passes_with_a_kink_report():
    s = _t(HINGE_ON_KINK.copy(), "scores")
    report = gradcheck_report(lambda s: svm_loss(s, LABELS), s)
    assert report.passed, str(report)
    kinks = {k.index: k for k in report.kinks}
    assert set(kinks) == {(0, 0), (0, 1)}  # s_j and s_y of the margin at 0
    k = kinks[(0, 0)]
    assert (k.op, k.side, k.entries) == ("relu", "both", [(0, 0)])
    assert k.scope.startswith("svm_loss")
    # the kink matters: relu'(0) = 0 while the difference quotient straddling it is 0.5,
    # halved by the mean over the 2 rows; at s_y = (0, 1) the same straddle adds -0.25 to the
    # -0.5 of row 0's other positive margin
    assert k.analytic == 0.0 and k.numerical == pytest.approx(0.25, abs=1e-9)
    assert (kinks[(0, 1)].analytic, kinks[(0, 1)].numerical) == pytest.approx((-0.5, -0.75),
                                                                               abs=1e-9)
    assert "2 coordinate(s) at a kink, excluded from the verdict" in str(report)


def test_strict_fails_on_a_kink():
    s = _t(HINGE_ON_KINK.copy(), "scores")
    with pytest.raises(GradcheckError, match="counted as failures"):
        gradcheck(lambda s: svm_loss(s, LABELS), s, strict=True)


def test_a_step_crossing_a_nearby_kink_is_reported():
    s = HINGE_ON_KINK.copy()
    s[0, 0] += 3e-7  # the margin sits 3e-7 above 0: the -eps step crosses it
    report = gradcheck_report(lambda s: svm_loss(s, LABELS), _t(s, "scores"))
    kinks = {k.index: k.side for k in report.kinks}
    assert kinks == {(0, 0): "-eps", (0, 1): "+eps"} and report.passed


def test_maximum_hinge_on_a_kink_passes_and_strict_fails():
    s = _t(HINGE_ON_KINK.copy(), "s")
    hinge = lambda s: tg.maximum(0, s - s[np.arange(2), LABELS][:, None] + 1).sum()
    report = gradcheck_report(hinge, s)
    assert report.passed and report.kink_count == 2
    assert {k.op for k in report.kinks} == {"maximum"}
    assert not gradcheck(hinge, s, strict=True, raise_exception=False)


def test_wrong_gradient_fails_even_beside_a_kink(monkeypatch):
    _break(monkeypatch, "relu", 0, "double")
    s = _t(HINGE_ON_KINK.copy(), "scores")
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda s: svm_loss(s, LABELS), s)
    msg = str(err.value)
    worst = err.value.report.inputs[0].worst
    assert "'scores' (input 0)" in msg
    assert f"worst relative error among them at index {worst}:" in msg
    assert worst not in {(0, 0), (0, 1)}  # the kink coordinates stay out of the verdict
    assert "analytic" in msg and "numerical" in msg and "relative error" in msg


# ---------------------------------------------------------------------- gradcheck API
def test_failure_message_names_input_index_values_and_error():
    x = _t(np.array([[1.0, 2.0], [3.0, -4.0]]), "x")
    b = _t(np.array([0.5, 0.25]), None)
    f = lambda x, b: (x * Tensor(x.data)).sum() + (b * b).sum()  # .data cuts one path
    with pytest.raises(GradcheckError) as err:
        gradcheck(f, [x, b])
    msg = str(err.value)
    assert isinstance(err.value, AssertionError)
    assert "'x' (input 0), shape (2, 2): 4 of 4 entries fail; worst relative error among them " \
        "at index (1, 1): analytic -4, numerical -8" in msg
    assert "relative error 0.333" in msg and "input 1, shape (2,): ok" in msg
    assert not gradcheck(f, [x, b], raise_exception=False)


def test_passes_on_a_smooth_function_and_reports_no_kinks():
    w = _t(_values((3, 4)), "w")
    report = gradcheck_report(lambda w: (w.softmax(axis=1) * w).sum() + w.exp().mean(), w)
    assert report.passed and report.kink_count == 0
    assert rel_error(report.inputs[0].analytic, report.inputs[0].numerical) < 1e-7


def test_non_scalar_output_is_contracted_with_a_random_upstream():
    x = _t(_values((2, 3)), "x")
    report = gradcheck_report(lambda x: x * x, x)
    assert report.passed and report.upstream.shape == (2, 3)
    np.testing.assert_allclose(report.inputs[0].analytic, 2 * x.data * report.upstream)


def test_constants_among_inputs_are_not_checked():
    x, c = _t(_values((3,)), "x"), Tensor(_values((3,), seed=5))
    report = gradcheck_report(lambda x, c: (x * c).sum(), [x, c])
    assert report.passed and len(report.inputs) == 1


def test_inputs_data_and_grads_are_left_as_they_were():
    x = _t(_values((3,)), "x")
    data, old = x.data, np.array([7.0, 8.0, 9.0])
    x.grad = old
    snapshot = data.tobytes()
    assert gradcheck(lambda x: (x**3).sum(), x)
    assert x.data is data and data.tobytes() == snapshot and x.grad is old and x.version == 0


def test_float32_inputs_are_checked_in_float64_with_a_warning():
    x = Tensor(np.array([0.3, -1.7, 2.2], dtype=np.float32), requires_grad=True, name="x")
    data = x.data
    with pytest.warns(GradcheckWarning, match="'x' is float32; checked in float64"):
        report = gradcheck_report(lambda x: (x * x.exp()).sum(), x, atol=1e-9, rtol=1e-8)
    assert report.passed and report.notes
    assert x.data is data and x.dtype == np.float32


@pytest.mark.parametrize(
    ("inputs", "error", "match"),
    [
        (np.ones(3), TypeError, "inputs must be a Tensor or a list of Tensors, got ndarray"),
        ([Tensor([1.0])], ValueError, "no input requires grad"),
    ],
)
def test_bad_inputs(inputs, error, match):
    with pytest.raises(error, match=match):
        gradcheck(lambda *a: a[0].sum(), inputs)


def test_bad_settings_and_results():
    x = _t(np.ones(2), "x")
    with pytest.raises(ValueError, match="gradcheck: the step must be a positive"):
        gradcheck(lambda x: x.sum(), x, eps=0)
    with pytest.raises(ValueError, match="gradcheck: rtol must be a finite number >= 0"):
        gradcheck(lambda x: x.sum(), x, rtol=-1)
    with pytest.raises(TypeError, match="gradcheck: f must return a Tensor, got float"):
        gradcheck(lambda x: 1.0, x)
    with pytest.raises(ValueError, match="the same Tensor appears twice"):
        gradcheck(lambda a, b: (a * b).sum(), [x, x])
    with pytest.raises(TypeError, match="gradcheck: f must be callable"):
        gradcheck("f", x)


# ---------------------------------------------------------------------- numerical_gradient
def test_numerical_gradient_of_ndarray_and_tensor():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda: np.sum(np.sin(x)), x), np.cos(x),
                               rtol=1e-8)
    t = _t(x.copy(), "t")
    g = numerical_gradient(lambda: (t * t * t).sum(), t)
    np.testing.assert_allclose(g, 3 * x**2, rtol=1e-8)
    assert g.dtype == np.float64 and t.grad is None


def test_numerical_gradient_restores_bitwise_when_f_raises():
    x = np.array([1.0, -0.0, 5e-324, np.pi, -1e-300])
    before = x.tobytes()
    calls = []

    def f():
        calls.append(x.copy())
        if len(calls) == 4:  # mid-way through the second entry
            raise RuntimeError("boom")
        return float(np.sum(x))

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    assert x.tobytes() == before
    assert calls[3][1] != 0  # the failing call did see a perturbed entry


def test_numerical_gradient_restores_a_tensor_when_f_raises():
    t = _t(np.array([1.0, 2.0]), "t")
    data, before = t.data, t.data.tobytes()

    def f():
        if t.data[1] != 2.0:
            raise RuntimeError("boom")
        return t.sum()

    with pytest.raises(RuntimeError):
        numerical_gradient(f, t)
    assert t.data is data and data.tobytes() == before and t.version == 0


def test_numerical_gradient_float32_tensor_is_computed_in_float64():
    t = Tensor(np.array([0.3, 1.7], dtype=np.float32), requires_grad=True, name="t")
    data = t.data
    with pytest.warns(GradcheckWarning, match="float32; checked in float64"):
        g = numerical_gradient(lambda: (t * t * t).sum(), t)
    np.testing.assert_allclose(g, 3 * data.astype(np.float64) ** 2, rtol=1e-8)
    assert t.data is data and t.dtype == np.float32


def test_numerical_gradient_float32_ndarray_uses_the_rounded_steps():
    x = np.array([0.3, 1.7], dtype=np.float32)
    before = x.tobytes()
    with pytest.warns(GradcheckWarning, match="perturbed in place in float32"):
        g = numerical_gradient(lambda: float(np.sum(x.astype(np.float64) ** 2)), x)
    np.testing.assert_allclose(g, 2 * x.astype(np.float64), rtol=1e-5)
    assert x.tobytes() == before


def test_numerical_gradient_accepts_f_of_x():
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**2), x), 2 * x, rtol=1e-8)


@pytest.mark.parametrize(
    ("f", "x", "h", "error", "match"),
    [
        (lambda: 1.0, np.array([1, 2]), 1e-6, TypeError, "x must hold floats, got dtype int64"),
        (lambda: 1.0, [1.0, 2.0], 1e-6, TypeError, "x must be an np.ndarray or a Tensor"),
        (lambda: 1.0, np.ones(2), 0.0, ValueError, "the step must be a positive"),
        (lambda: np.ones(2), np.ones(2), 1e-6, ValueError, "f must return a scalar, got "
                                                            r"a result of shape \(2,\)"),
        (lambda: np.nan, np.ones(2), 1e-6, ValueError, "f returned nan"),
        (lambda: 1.0, np.array([1e300]), 1e-6, ValueError, "is lost to rounding"),
        (lambda: 1.0, np.broadcast_to(np.ones(1), (2,)), 1e-6, ValueError, "read-only"),
        (3, np.ones(2), 1e-6, TypeError, "f must be callable"),
    ],
)
def test_numerical_gradient_errors(f, x, h, error, match):
    with pytest.raises(error, match=f"numerical_gradient: .*{match}"):
        numerical_gradient(f, x, h=h)


# ---------------------------------------------------------------------- rel_error
def test_rel_error():
    assert rel_error(1.0, 1.0) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 3.0]) == pytest.approx(0.2)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(0.0, 1e-9) == pytest.approx(0.1)  # the floor 1e-8 in the denominator
    assert rel_error(Tensor([2.0]), np.array([1.0])) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match=r"rel_error: shapes \(2,\) and \(3,\)"):
        rel_error(np.ones(2), np.ones(3))


# ---------------------------------------------------------------------- grad_check_sparse
@pytest.fixture(scope="module")
def svm_problem():
    rng = np.random.default_rng(0)
    X = Tensor(rng.standard_normal((20, 3073)))
    y = rng.integers(0, 10, 20)
    W = _t(rng.standard_normal((3073, 10)) * 1e-4, "W")
    loss = lambda W: svm_loss(X @ W, y) + 2.5e4 * (W * W).sum()
    loss(W).backward()
    return loss, W


def test_grad_check_sparse_on_the_svm_loss_of_a_cifar_sized_w(svm_problem, capsys):
    loss, W = svm_problem
    errors = grad_check_sparse(loss, W, W.grad, num_checks=10, seed=0)
    lines = capsys.readouterr().out.splitlines()
    assert errors.shape == (10,) and errors.max() < 1e-7, errors
    assert len(lines) == 10 and all("numerical" in s and "analytic" in s for s in lines)
    assert not any("kink" in s for s in lines)


def test_grad_check_sparse_catches_a_wrong_gradient(svm_problem, capsys):
    loss, W = svm_problem
    wrong = W.grad.copy()
    wrong[:, 3] *= 1.01
    errors = grad_check_sparse(loss, W, wrong, num_checks=30, seed=1, verbose=False)
    assert errors.max() > 1e-3 and capsys.readouterr().out == ""


def test_grad_check_sparse_is_seeded_and_flags_kinks(capsys):
    s = _t(HINGE_ON_KINK.copy(), "s")
    f = lambda s: svm_loss(s, LABELS)
    f(s).backward()
    a = grad_check_sparse(f, s, s.grad, num_checks=6, seed=3)
    first = capsys.readouterr().out
    b = grad_check_sparse(f, s, s.grad, num_checks=6, seed=3)
    assert first == capsys.readouterr().out and np.array_equal(a, b)
    assert "kink: op 'relu'" in first  # 6 picks out of 6 entries include (0, 0)
    errors, kinks = grad_check_sparse(f, s, s.grad, num_checks=6, seed=3, verbose=False,
                                      return_kinks=True)
    lines = first.splitlines()
    assert np.array_equal(errors, a) and kinks.dtype == bool and kinks.any()
    assert kinks.tolist() == ["(kink:" in line for line in lines]


def test_grad_check_sparse_errors():
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"analytic_grad has shape \(2,\), expected \(2, 2\)"):
        grad_check_sparse(lambda x: x.sum(), x, np.ones(2))
    with pytest.raises(ValueError, match="num_checks must be a positive int"):
        grad_check_sparse(lambda x: x.sum(), x, x, num_checks=0)
    with pytest.raises(TypeError, match="grad_check_sparse: f must be callable"):
        grad_check_sparse(None, x, x)


# ---------------------------------------------------------------- the report in a notebook
def test_a_report_displays_as_a_table_in_jupyter():
    import html.parser

    s = Tensor([[1.0, 2.0, 1.0]], requires_grad=True, name="<scores>")
    report = gradcheck_report(lambda s: svm_loss(s, np.array([0])), s)
    page = report._repr_html_()

    class Cells(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.cells, self.inside = [], False

        def handle_starttag(self, tag, attrs):
            self.inside = tag in ("td", "th")

        def handle_data(self, data):
            if self.inside:
                self.cells.append(data)

    parser = Cells()
    parser.feed(page)
    head, row = parser.cells[:8], parser.cells[8:]
    assert head == ["input", "shape", "entries", "worst index", "analytic", "numerical",
                    "relative error", "kinks met"]
    assert row[:3] == ["'<scores>' (input 0)", "(1, 3)", "ok"] and len(row) == 8
    assert "&lt;scores&gt;" in page and "<scores>" not in page  # names are escaped
    assert "gradcheck passed" in page and "GradcheckReport(" not in page


def test_a_failing_report_shows_its_failures_and_kinks_in_the_table():
    x = Tensor([0.0, 2.0], requires_grad=True, name="x")
    report = gradcheck_report(lambda x: x.relu().sum() * 1.0, x)
    assert "kink sits on" in report._repr_html_()
    wrong = gradcheck_report(lambda x: (x * x).sum(), x)
    wrong.passed, wrong.inputs[0].bad = False, 1  # as a wrong backward would report
    page = wrong._repr_html_()
    assert "gradcheck FAILED" in page and "#c62828" in page and "1 of 2 fail" in page


def test_a_report_pretty_prints_as_its_text():
    report = gradcheck_report(lambda x: (x * x).sum(), Tensor([1.0], requires_grad=True))

    class Printer:
        def __init__(self):
            self.out = []

        def text(self, t):
            self.out.append(t)

    p = Printer()
    report._repr_pretty_(p, cycle=False)
    assert p.out == [str(report)] and p.out[0].startswith("gradcheck passed")


# ---------------------------------------------------------------------- the worst entry
def _off_by(k, m):
    """f(x) = sum(k x stop(x) + m x x) at x = 1: analytic k + 2m, numerical 2k + 2m per entry."""
    x = Tensor(np.ones(len(k)), requires_grad=True, name="x")
    k, m = np.asarray(k, dtype=np.float64), np.asarray(m, dtype=np.float64)
    return gradcheck_report(lambda x: (Tensor(k) * x * Tensor(x.data)).sum()
                            + (Tensor(m) * x * x).sum(), x)


def test_the_worst_entry_is_the_one_with_the_largest_relative_error_when_all_pass():
    # entry 0: analytic 99.99, numerical 100, |a - n| 0.01 just inside atol + rtol |n|,
    # relative error 5e-5; entry 1: analytic 1e-6, numerical 3e-6, |a - n| 2e-6 (far inside
    # atol), relative error 0.5. The largest |a - n| (and the entry nearest its tolerance) is
    # entry 0; the largest relative error, the one the summary reports, is entry 1.
    report = _off_by([0.010006, 2e-6], [50 - 0.010006, -0.5e-6])
    c = report.inputs[0]
    assert report.passed and c.bad == 0
    assert np.argmax(np.abs(c.analytic - c.numerical)) == 0
    assert c.worst == (1,)
    assert c.rel == rel_error(c.analytic, c.numerical) == pytest.approx(0.5, rel=1e-2)
    text = str(report)
    assert "worst relative error at index (1,): analytic 1e-06" in text
    assert f"relative error {c.rel:.3g}" in text


def test_the_worst_failing_entry_is_ranked_by_relative_error_too():
    # both fail: entry 0 (analytic 99, numerical 100: |a - n| 1, relative error 0.005),
    # entry 1 (analytic 0.5, numerical 1: |a - n| 0.5, relative error 0.333)
    report = _off_by([1.0, 0.5], [49.0, 0.0])
    c = report.inputs[0]
    assert not report.passed and c.bad == 2
    assert np.argmax(np.abs(c.analytic - c.numerical)) == 0
    assert c.worst == (1,) and c.rel == pytest.approx(1 / 3)
    assert "2 of 2 entries fail; worst relative error among them at index (1,): analytic 0.5, " \
        "numerical 1, relative error 0.333" in str(report)


def test_the_report_names_its_relative_error():
    report = _off_by([0.0], [1.0])
    assert "relative error = |a - n| / max(|a| + |n|, 1e-8)" in str(report)
    assert "|a - n| / max(|a| + |n|, 1e-8)" in report._repr_html_()
