"""Tests for tinygrad_lc.core.anomaly: ``detect_anomaly()`` names the first op making NaN or inf."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.core import anomaly

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's divide-by-zero notes

HERE = os.path.abspath(__file__)


def _line(marker: str) -> int:
    """The line of this file holding ``# <marker>`` (the line a test expects in the message)."""
    with open(HERE, encoding="utf-8") as f:
        hits = [i for i, line in enumerate(f, 1) if line.rstrip().endswith(f"# {marker}")]
    assert len(hits) == 1, marker
    return hits[0]


def _raised(fn) -> tg.AnomalyError:
    with pytest.raises(tg.AnomalyError) as info:
        with tg.detect_anomaly():
            fn()
    return info.value


def _assert_at(err: tg.AnomalyError, marker: str) -> None:
    msg = str(err)
    path, _, line = msg.rsplit("created at ", 1)[1].rpartition(":")
    assert os.path.abspath(path) == HERE, msg
    assert int(line) == _line(marker), msg


# ---------------------------------------------------------------- forward
def test_forward_log_of_zero_names_op_scope_shapes_and_user_line():
    x = Tensor(np.array([[1.0, 0.0, 2.0]]), requires_grad=True)

    def f():
        with tg.scope("outer"), tg.scope("inner"):
            x.log()  # MARK-log

    err = _raised(f)
    msg = str(err)
    assert msg.startswith("log: forward output holds 1 inf"), msg
    assert "scope 'outer/inner'" in msg and "input shapes (1, 3)" in msg, msg
    _assert_at(err, "MARK-log")
    assert err.tensor.op == "log" and err.tensor.parents[0] is x
    assert np.isneginf(err.tensor.data[0, 1])
    assert err.tensor._note.startswith("log: forward output holds 1 inf")


def test_forward_zero_over_zero_gives_nan_error_at_div():
    a = Tensor([0.0, 1.0], requires_grad=True)
    b = Tensor([0.0, 2.0])
    err = _raised(lambda: a / b)  # MARK-div
    assert str(err).startswith("div: forward output holds 1 NaN"), str(err)
    assert "scope '<top>'" in str(err) and "input shapes (2,), (2,)" in str(err)
    _assert_at(err, "MARK-div")


def test_forward_counts_nan_and_inf_together():
    a = Tensor([0.0, 1.0, -1.0], requires_grad=True)
    err = _raised(lambda: a / Tensor([0.0, 0.0, 0.0]))
    assert "1 NaN and 2 inf" in str(err)


def test_forward_overflow_in_float32_is_caught():
    x = Tensor(np.array([10.0, 100.0], dtype=np.float32), requires_grad=True)
    err = _raised(lambda: x.exp())
    assert str(err).startswith("exp: forward output holds 1 inf")
    assert err.tensor.dtype == np.float32


def test_forward_line_is_the_users_even_through_module_functions():
    x = Tensor([0.0, 1.0], requires_grad=True)
    err = _raised(lambda: tg.log(x))  # MARK-tglog
    _assert_at(err, "MARK-tglog")


def test_forward_is_checked_under_no_grad_too():
    x = Tensor([0.0])
    with pytest.raises(tg.AnomalyError, match="log: forward output holds 1 inf"):
        with tg.detect_anomaly(), tg.no_grad():
            x.log()


def test_forward_names_an_input_that_already_held_nan():
    x = Tensor([np.nan, 1.0], requires_grad=True, name="x")
    err = _raised(lambda: x * 2.0)
    msg = str(err)
    assert msg.startswith("mul: forward output holds 1 NaN"), msg
    assert "input 0 'x' (shape (2,)) already held 1 NaN" in msg, msg


def test_only_the_first_bad_op_raises():
    x = Tensor([0.0, 1.0], requires_grad=True)
    seen = []

    def f():
        y = x.log()  # raises here: nothing after it runs
        seen.append(y)

    err = _raised(f)
    assert err.tensor.op == "log" and seen == []


# ---------------------------------------------------------------- backward
def test_backward_sqrt_at_zero_gives_inf_gradient_error():
    x = Tensor([4.0, 0.0], requires_grad=True, name="x")

    def f():
        with tg.scope("root"):
            y = x.sqrt()  # MARK-sqrt
        y.sum().backward()

    err = _raised(f)
    msg = str(err)
    assert msg.startswith("sqrt: backward gradient for input 0 'x' (shape (2,)) holds 1 inf"), msg
    assert "scope 'root'" in msg, msg
    _assert_at(err, "MARK-sqrt")
    assert err.tensor.op == "sqrt" and "backward" in err.tensor._note


def test_user_visible_nan_gradient_is_silent_without_and_named_with_anomaly_mode():
    x = Tensor([0.0, 1.0], requires_grad=True)
    (x.sqrt() * 0.0).sum().backward()  # 0 * inf: the NaN the user would see
    assert np.isnan(x.grad[0]) and x.grad[1] == 0.0

    x = Tensor([0.0, 1.0], requires_grad=True)

    def f():
        y = x.sqrt()  # MARK-nan
        (y * 0.0).sum().backward()

    err = _raised(f)
    assert str(err).startswith("sqrt: backward gradient for input 0 (shape (2,)) holds 1 NaN")
    _assert_at(err, "MARK-nan")


def test_backward_reports_the_first_op_in_backward_order():
    # sqrt(x*x) at 0: sqrt's VJP makes inf first; mul's VJP would then make NaN
    x = Tensor([0.0, 2.0], requires_grad=True)

    def f():
        (x * x).sqrt().sum().backward()

    err = _raised(f)
    assert err.tensor.op == "sqrt"
    assert x.grad is None  # the walk stopped before reaching x


def test_backward_of_a_forward_recorded_outside_still_names_op_and_scope():
    x = Tensor([0.0, 1.0], requires_grad=True)
    with tg.scope("loss"):
        y = x.sqrt().sum()
    err = _raised(y.backward)
    msg = str(err)
    assert msg.startswith("sqrt: backward gradient") and "scope 'loss'" in msg, msg
    assert "outside detect_anomaly()" in msg, msg


def test_backward_with_a_nan_upstream_gradient_is_caught():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    err = _raised(lambda: y.backward(np.array([np.nan, 1.0])))
    assert err.tensor is y and "1 NaN" in str(err)


def test_finite_graphs_are_unchanged_by_anomaly_mode():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(4, 3))

    def grads():
        w = Tensor(data, requires_grad=True)
        loss = (w.exp() @ Tensor(np.ones(3))).logsumexp() + w.abs().max()
        loss.backward()
        return loss.item(), w.grad

    plain = grads()
    with tg.detect_anomaly():
        checked = grads()
    assert plain[0] == checked[0]
    np.testing.assert_array_equal(plain[1], checked[1])


# ---------------------------------------------------------------- off by default
def test_without_the_context_manager_nothing_is_checked(monkeypatch):
    def boom(*args, **kw):
        raise AssertionError("anomaly check ran outside detect_anomaly()")

    monkeypatch.setattr(anomaly, "check_forward", boom)
    monkeypatch.setattr(anomaly, "check_backward", boom)
    x = Tensor([0.0, 1.0], requires_grad=True)
    y = x.log()
    assert np.isneginf(y.data[0]) and y._note is None and y._where is None
    x.sqrt().sum().backward()
    assert np.isinf(x.grad[0])


def test_mode_is_restored_after_an_error_and_when_nested():
    assert tg.is_anomaly_enabled() is False
    with pytest.raises(tg.AnomalyError):
        with tg.detect_anomaly():
            with tg.detect_anomaly():
                pass
            assert tg.is_anomaly_enabled() is True  # the inner block restored the outer state
            Tensor([0.0]).log()
    assert tg.is_anomaly_enabled() is False


def test_anomaly_error_is_a_runtime_error_carrying_the_tensor():
    assert issubclass(tg.AnomalyError, RuntimeError)
    err = _raised(lambda: Tensor([-np.inf]) + Tensor([np.inf]))
    assert isinstance(err.tensor, Tensor) and err.tensor.op == "add"


# ---------------------------------------------------------------- with the rest of the package
def test_op_inside_a_loss_reports_the_callers_line_and_the_loss_scope():
    from tinygrad_lc.losses import svm_loss

    scores = Tensor([[1e308, -1e308]], requires_grad=True)
    err = _raised(lambda: svm_loss(scores, np.array([1])))  # MARK-svm
    msg = str(err)
    assert msg.startswith("sub: forward output holds 1 inf"), msg
    assert "scope 'svm_loss/margins'" in msg, msg
    _assert_at(err, "MARK-svm")


def test_overflow_inside_a_regularizer_names_the_nested_scope_and_callers_line():
    from tinygrad_lc.regularizers import l2

    w = Tensor([1e200, 1.0], requires_grad=True)

    def f():
        with tg.scope("model"):
            penalty = l2(w)  # MARK-l2
        penalty.backward()

    err = _raised(f)
    assert "forward output holds 1 inf (scope 'model/l2'" in str(err), str(err)
    _assert_at(err, "MARK-l2")


def test_draw_graph_colours_the_flagged_node():
    from tinygrad_lc.viz import draw_graph

    x = Tensor([0.0, 1.0], requires_grad=True, name="x")
    err = _raised(lambda: (x * 2.0).log())
    source = draw_graph(err.tensor).source
    assert "log: forward output holds 1 inf" in source
    assert err.tensor._note in source


def test_unrecorded_results_stay_leaves_and_only_the_flagged_one_keeps_inputs():
    w = Tensor([1.0, 2.0], requires_grad=True)
    with tg.detect_anomaly(), tg.no_grad():
        y = w * 2
    assert y.parents == () and y.op is None and y.is_leaf and not y.requires_grad
    c = Tensor([0.0, 1.0])
    err = _raised(lambda: c.log())
    assert err.tensor.parents == (c,) and err.tensor.op == "log"
    assert not err.tensor.requires_grad


def test_log_of_a_negative_inside_detect_anomaly_is_an_anomaly_error():
    x = tg.Tensor([-1.0, 1.0], requires_grad=True)
    with pytest.warns(RuntimeWarning), pytest.raises(tg.AnomalyError, match="log: forward output"):
        with tg.detect_anomaly():
            x.log()
    with pytest.raises(ValueError, match="log: input has 1 negative"):  # outside: refused
        x.log()


def test_backward_anomaly_of_a_forward_made_outside_names_the_backward_call():
    x = tg.Tensor([1.0, 0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        y = x.sqrt().sum()
        with pytest.raises(tg.AnomalyError, match=r"backward\(\) was called at .*test_anomaly.py"):
            with tg.detect_anomaly():
                y.backward()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("p", [0.5, -1.5, np.float32(0.25)])
def test_a_fractional_power_of_a_negative_inside_detect_anomaly_is_an_anomaly_error(p):
    # as for log and sqrt: outside, a ValueError; inside, the NaN itself is reported
    x = Tensor([4.0, -4.0], requires_grad=True)
    with pytest.raises(ValueError, match="pow: input has 1 negative entry"):
        x**p
    with pytest.raises(tg.AnomalyError, match=r"pow: forward output holds 1 NaN"), \
            tg.detect_anomaly():
        x**p
