"""Second derivatives of every primitive in ``tinygrad_lc.core.ops.OPS``, driven by the table of
``tests/core/test_ops.py`` (same cases: inputs away from kinks and ties by construction).

For a drawn use ``f`` of an op, a random upstream ``g`` and random directions ``w_i``, the
second-order VJP ``d/dx_j sum_i <grad_i (g . f), w_i>`` (``tg.grad`` with
``create_graph=True``, then ``tg.grad`` again) must match (a) float64 central differences of
the plain first-order backward and (b) HIPS autograd's gradient of its own VJP; ``tg.autodiff.hvp``
must match it and ``autograd.hessian_vector_product``. Linear and piecewise-linear ops have a
zero second derivative (their masks are constants); a VJP whose saved values are cut from the
graph is caught.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd import make_vjp
from helpers import detached
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_ops import CASES, OP_NAMES

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.autodiff import hvp
from tinygrad_lc.core.ops import OPS

H = 1e-6
AG_TOL = {"rtol": 1e-9, "atol": 1e-11}  # same math, different order of rounding
FD_RTOL, FD_ATOL = 1e-5, 1e-7  # differences of a first derivative: h^2 f'''' and eps/h
# ops whose second derivative is zero away from kinks: linear, or piecewise linear through a
# constant mask (relu, abs, max, maximum)
FLAT = {"add", "sub", "neg", "sum", "mean", "reshape", "transpose", "getitem", "concatenate",
        "stack", "expand", "scatter", "cast", "abs", "relu", "maximum", "max"}
CURVED = {"mul", "div", "pow", "rpow", "exp", "log", "sqrt", "logsumexp", "log_softmax",
          "softmax", "matmul"}
# autograd warns when a derivative is identically zero (the flat ops' second derivatives)
pytestmark = pytest.mark.filterwarnings("ignore:Output seems independent of input")


def _dot(values, directions):
    """sum_i <values_i, w_i> as a Tensor (a constant 0 when nothing depends on the inputs)."""
    total = Tensor(0.0)
    for v, w in zip(values, directions):
        total = total + (v * w).sum()
    return total


def second_order(case, g, ws, dtypes=None):
    """(first-order grads, second-order VJPs) of ``case`` by recorded double backward."""
    xs = case.inputs if dtypes is None else [x.astype(d) for x, d in zip(case.inputs, dtypes)]
    ts = [Tensor(x, requires_grad=True) for x in xs]
    out = case.run(*ts)
    gs = tg.grad(out, ts, grad_outputs=np.asarray(g).astype(out.dtype), create_graph=True)
    dot = _dot(gs, ws)
    hs = tg.grad(dot, ts, allow_unused=True)
    return out, gs, hs


def first_dot_plain(case, g, ws, arrays) -> float:
    """sum_i <grad_i (g . f), w_i> by the plain backward (what central differences step)."""
    ts = [Tensor(x, requires_grad=True) for x in arrays]
    case.run(*ts).backward(g)
    return float(sum(np.sum(t.grad * w) for t, w in zip(ts, ws)))


def first_dot_autograd(case, g, ws):
    def f(*xs):
        total = 0.0
        for i in range(len(xs)):
            total = total + anp.sum(make_vjp(case.ref, i)(*xs)[0](g) * ws[i])
        return total

    return f


def central_differences(case, g, ws, j) -> np.ndarray:
    x = case.inputs[j]
    num = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        vals = []
        for step in (H, -H):
            moved = [np.array(v) for v in case.inputs]
            moved[j][k] += step
            vals.append(first_dot_plain(case, g, ws, moved))
        num[k] = (vals[0] - vals[1]) / (2 * H)
    return num


def check_second_order(name: str, case, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ts = [Tensor(x, requires_grad=True) for x in case.inputs]
    shape = case.run(*ts).shape
    g = np.asarray(rng.standard_normal(shape))
    ws = [rng.standard_normal(x.shape) for x in case.inputs]
    out, gs, hs = second_order(case, g, ws)
    assert out.op == name, f"{case.label} built op {out.op!r}, not {name!r}"
    # the recorded first-order gradients are the plain backward's
    plain = [Tensor(x, requires_grad=True) for x in case.inputs]
    case.run(*plain).backward(g)
    for i, (a, p) in enumerate(zip(gs, plain)):
        np.testing.assert_allclose(a.data, p.grad, rtol=1e-12, atol=1e-14,
                                   err_msg=f"{case.label}: recorded first order, input {i}")
    ref = first_dot_autograd(case, g, ws)
    want = [np.asarray(autograd.grad(ref, j)(*case.inputs)) for j in range(len(ts))]
    _, hv = hvp(lambda *xs: (case.run(*xs) * g).sum(), list(case.inputs), ws)
    for j, (h, w, x) in enumerate(zip(hs, want, case.inputs)):
        assert h.shape == x.shape and h.dtype == np.float64, case.label
        w = np.broadcast_to(w, x.shape)
        np.testing.assert_allclose(h.data, w, **AG_TOL,
                                   err_msg=f"{case.label}: d/dx{j} vs autograd")
        np.testing.assert_allclose(hv[j].data, w, **AG_TOL, err_msg=f"{case.label}: hvp x{j}")
        num = central_differences(case, g, ws, j)
        scale = max(1.0, float(np.abs(num).max(initial=0.0)))
        np.testing.assert_allclose(h.data, num, rtol=FD_RTOL, atol=FD_ATOL * scale,
                                   err_msg=f"{case.label}: d/dx{j} vs central differences")
        if name in FLAT:
            np.testing.assert_array_equal(h.data, 0.0, err_msg=f"{case.label}: not flat")
    if len(case.inputs) == 1:
        loss = lambda v: anp.sum(case.ref(v) * g)
        theirs = autograd.hessian_vector_product(loss)(case.inputs[0], ws[0])
        np.testing.assert_allclose(hv[0].data, theirs, **AG_TOL,
                                   err_msg=f"{case.label}: vs autograd.hessian_vector_product")


def test_every_op_is_flat_or_curved():
    assert FLAT | CURVED == set(OPS) and not FLAT & CURVED


@pytest.mark.parametrize("name", OP_NAMES)
@given(data=st.data())
def test_second_order_matches_central_differences_and_autograd(name, data):
    case = data.draw(CASES[name], label="case")
    check_second_order(name, case, data.draw(st.integers(0, 2**32 - 1), label="seed"))


@pytest.mark.parametrize("name", OP_NAMES)
@given(data=st.data())
def test_second_order_keeps_each_inputs_dtype(name, data):
    """float32 and float64 inputs in any mix: every gradient, of either order, has its input's
    dtype (the recorded backward casts through the cast op), and values agree with float64."""
    case = data.draw(CASES[name], label="case")
    dtypes = data.draw(st.lists(st.sampled_from([np.float32, np.float64]),
                                min_size=len(case.inputs), max_size=len(case.inputs)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    shape = case.run(*[Tensor(x) for x in case.inputs]).shape
    g = np.asarray(rng.standard_normal(shape))
    ws = [rng.standard_normal(x.shape) for x in case.inputs]
    _, gs, hs = second_order(case, g, ws, dtypes)
    _, gs64, hs64 = second_order(case, g, ws)
    for i, dt in enumerate(dtypes):
        assert gs[i].dtype == dt and hs[i].dtype == dt, (case.label, dtypes)
        for low, wide in ((gs[i], gs64[i]), (hs[i], hs64[i])):
            scale = max(1.0, float(np.abs(wide.data).max(initial=0.0)))
            np.testing.assert_allclose(low.data, wide.data, rtol=1e-3, atol=1e-4 * scale,
                                       err_msg=case.label)




@pytest.mark.parametrize("name", sorted(CURVED))
def test_a_vjp_cut_from_the_graph_is_caught(name, monkeypatch):
    monkeypatch.setitem(OPS, name, detached(OPS[name]))

    @settings(max_examples=200, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    @given(data=st.data())
    def run(data):
        check_second_order(name, data.draw(CASES[name]), data.draw(st.integers(0, 2**32 - 1)))

    with pytest.raises(AssertionError, match="vs autograd"):
        run()
