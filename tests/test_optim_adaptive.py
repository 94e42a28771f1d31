"""Tests of tinygrad_lc/optim.py's Adam, RMSprop and Adagrad against PyTorch's
published update equations (by hand and written out), on HIPS autograd's gradients,
state_dict round trips, bit-identical resume and refused bad input."""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad as autograd_grad
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.nn import MLP
from tinygrad_lc.optim import Adagrad, Adam, RMSprop
from tinygrad_lc.util.checkpoint import load_checkpoint, save_checkpoint

OPTIMIZERS = {"Adam": Adam, "RMSprop": RMSprop, "Adagrad": Adagrad}


# ---------------------------------------------------------------------- the equations
def reference(name, p, grads, lr, weight_decay=0.0, eps=None, betas=(0.9, 0.999), alpha=0.99):
    """PyTorch's documented update rules, written out: the parameter after each step."""
    eps = {"Adam": 1e-8, "RMSprop": 1e-8, "Adagrad": 1e-10}[name] if eps is None else eps
    p, out = np.array(p, dtype=np.float64), []
    a = np.zeros_like(p)  # Adam's m; RMSprop's and Adagrad's running squares
    b = np.zeros_like(p)  # Adam's v
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        if name == "Adam":
            a = betas[0] * a + (1 - betas[0]) * g
            b = betas[1] * b + (1 - betas[1]) * g * g
            m_hat, v_hat = a / (1 - betas[0] ** t), b / (1 - betas[1] ** t)
            p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        elif name == "RMSprop":
            a = alpha * a + (1 - alpha) * g * g
            p = p - lr * g / (np.sqrt(a) + eps)
        else:
            a = a + g * g
            p = p - lr * g / (np.sqrt(a) + eps)
        out.append(p)
    return out


def run(opt_class, p0, grads, **kw):
    p = Tensor(p0, requires_grad=True)
    opt = opt_class([p], **kw)
    out = []
    for g in grads:
        p.grad = np.array(g)
        opt.step()
        out.append(p.data.copy())
    return out


P0 = np.array([1.0, -2.0])
G1, G2 = np.array([2.0, -4.0]), np.array([1.0, 0.5])


def test_adam_first_two_steps_by_hand():
    # step 1: m = 0.1 g1 = [0.2, -0.4], v = 0.001 g1^2 = [0.004, 0.016];
    # bias-corrected m / sqrt(v) = g1 / |g1|, so each entry moves by lr * |g| / (|g| + eps)
    step1 = P0 - 0.1 * np.array([2 / (2 + 1e-8), -4 / (4 + 1e-8)])
    # step 2: m = 0.9 m + 0.1 g2 = [0.28, -0.31], v = 0.999 v + 0.001 g2^2 = [0.004996, 0.016234]
    # m_hat = m / (1 - 0.9^2) = m / 0.19, v_hat = v / (1 - 0.999^2) = v / 0.001999
    m_hat = np.array([0.28, -0.31]) / 0.19
    v_hat = np.array([0.004996, 0.016234]) / 0.001999
    step2 = step1 - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)
    got = run(Adam, P0, [G1, G2], lr=0.1)
    np.testing.assert_allclose(got[0], step1, rtol=1e-15)
    np.testing.assert_allclose(got[1], step2, rtol=1e-13)
    assert abs(got[1][0] - 0.806782) < 1e-6  # 0.9 - 0.1 * 1.473684 / 1.580902


def test_rmsprop_first_two_steps_by_hand():
    # step 1: v = 0.01 g1^2 = [0.04, 0.16], sqrt(v) = [0.2, 0.4]: p -= 0.01 * g1 / sqrt(v)
    step1 = P0 - 0.01 * np.array([2 / (0.2 + 1e-8), -4 / (0.4 + 1e-8)])
    # step 2: v = 0.99 v + 0.01 g2^2 = [0.0396 + 0.01, 0.1584 + 0.0025] = [0.0496, 0.1609]
    v = np.array([0.0496, 0.1609])
    step2 = step1 - 0.01 * G2 / (np.sqrt(v) + 1e-8)
    got = run(RMSprop, P0, [G1, G2])
    np.testing.assert_allclose(got[0], step1, rtol=1e-15)
    np.testing.assert_allclose(got[0], [0.9, -1.9], rtol=1e-7)
    np.testing.assert_allclose(got[1], step2, rtol=1e-13)


def test_adagrad_first_two_steps_by_hand():
    # step 1: s = g1^2 = [4, 16]: each entry moves by lr; step 2: s = [5, 16.25]
    step1 = P0 - 0.01 * np.array([2 / (2 + 1e-10), -4 / (4 + 1e-10)])
    step2 = step1 - 0.01 * G2 / (np.sqrt([5.0, 16.25]) + 1e-10)
    got = run(Adagrad, P0, [G1, G2])
    np.testing.assert_allclose(got[0], step1, rtol=1e-15)
    np.testing.assert_allclose(got[1], step2, rtol=1e-14)


def test_weight_decay_joins_the_gradient_by_hand():
    # Adagrad, lr 0.1, weight_decay 0.5 on p = [1, -2] with g = 0: g' = [0.5, -1], moves by lr
    got = run(Adagrad, P0, [np.zeros(2)], lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(got[0], [0.9, -1.9], rtol=1e-9)


def test_defaults_are_pytorchs():
    w = [Tensor([1.0], requires_grad=True)]
    adam, rms, ada = Adam(w), RMSprop(w), Adagrad(w)
    assert (adam.lr, adam.betas, adam.eps, adam.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    assert (rms.lr, rms.alpha, rms.eps, rms.weight_decay) == (1e-2, 0.99, 1e-8, 0.0)
    assert (ada.lr, ada.eps, ada.weight_decay) == (1e-2, 1e-10, 0.0)


def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


VECTORS = hnp.arrays(np.float64, st.integers(1, 5), elements=floats(-3, 3))
HYPER = {
    "Adam": st.fixed_dictionaries({"betas": st.tuples(st.sampled_from([0.0, 0.5, 0.9]),
                                                      st.sampled_from([0.0, 0.9, 0.999]))}),
    "RMSprop": st.fixed_dictionaries({"alpha": st.sampled_from([0.0, 0.5, 0.99])}),
    "Adagrad": st.just({}),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
@settings(max_examples=20, deadline=None)
@given(p0=VECTORS, data=st.data(), lr=floats(1e-3, 0.5),
       weight_decay=st.sampled_from([0.0, 1e-2, 0.5]))
def test_many_steps_follow_the_equations(name, p0, data, lr, weight_decay):
    # eps = 1e-3, not the default: where g + weight_decay * p nears 0 a step's size swings
    # with g's last bits by up to lr / eps, and two correct orders of rounding would part by
    # more than the tolerance; a larger eps also makes where eps enters the formula count
    kw = {**data.draw(HYPER[name]), "eps": 1e-3}
    grads = [data.draw(hnp.arrays(np.float64, p0.shape, elements=floats(-5, 5)))
             for _ in range(6)]
    want = reference(name, p0, grads, lr, weight_decay, **kw)
    got = run(OPTIMIZERS[name], p0, grads, lr=lr, weight_decay=weight_decay, **kw)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------- on a real problem
def small_problem(seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((12, 5)), rng.integers(0, 3, 12)
    net = MLP([5, 6, 3], seed=seed)
    for p in net.parameters():
        p.data = p.data + 0.1 * rng.standard_normal(p.shape)
    return X, y, net


def autograd_loss(X, y, reg=0.01):
    def f(params):
        W1, b1, W2, b2 = params
        s = anp.dot(anp.maximum(0.0, anp.dot(X, W1) + b1), W2) + b2
        m = anp.max(s, axis=1, keepdims=True)
        lse = m[:, 0] + anp.log(anp.sum(anp.exp(s - m), axis=1))
        return anp.mean(lse - s[np.arange(len(y)), y]) + reg * (anp.sum(W1**2) + anp.sum(W2**2))
    return f


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_matches_the_equations_on_hips_autograd_gradients(name):
    X, y, net = small_problem()
    f = autograd_loss(X, y)
    df = autograd_grad(f)
    # the reference: PyTorch's equations fed with HIPS autograd's gradients
    params = [p.data.copy() for p in net.parameters()]
    states = [dict(a=np.zeros_like(q), b=np.zeros_like(q)) for q in params]
    lr = 0.05
    for t in range(1, 11):
        grads = df(params)
        for q, g, s in zip(params, grads, states):
            if name == "Adam":
                s["a"] = 0.9 * s["a"] + 0.1 * g
                s["b"] = 0.999 * s["b"] + 0.001 * g * g
                q -= lr * (s["a"] / (1 - 0.9**t)) / (np.sqrt(s["b"] / (1 - 0.999**t)) + 1e-8)
            elif name == "RMSprop":
                s["a"] = 0.99 * s["a"] + 0.01 * g * g
                q -= lr * g / (np.sqrt(s["a"]) + 1e-8)
            else:
                s["a"] = s["a"] + g * g
                q -= lr * g / (np.sqrt(s["a"]) + 1e-10)
    opt = OPTIMIZERS[name](net.parameters(), lr=lr)
    first = None
    for _ in range(10):
        opt.zero_grad()
        loss = tg.losses.softmax_loss(net(X), y) + 0.01 * tg.regularizers.l2(
            [net[0].W, net[2].W])
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    for p, q in zip(net.parameters(), params):
        np.testing.assert_allclose(p.data, q, rtol=1e-9, atol=1e-12)
    assert f(params) < first  # and the loss went down


def test_a_parameter_without_a_gradient_keeps_its_own_step_count():
    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    a.grad, b.grad = np.array([1.0]), None
    opt.step()
    assert opt.steps == [1, 0] and opt.state["exp_avg"][1] is None and b.data[0] == 1.0
    a.grad, b.grad = np.array([1.0]), np.array([1.0])
    opt.step()  # b's first step: bias correction with t = 1, so it moves by lr
    assert opt.steps == [2, 1]
    np.testing.assert_allclose(b.data, [0.9], rtol=1e-7)


def test_steps_write_in_place_and_bump_the_version():
    p = Tensor([1.0, 2.0], requires_grad=True)
    view, version = p.data, p.version
    p.grad = np.ones(2)
    Adam([p]).step()
    assert p.data is view and p.version == version + 1


def test_float32_parameters_keep_float32_state():
    p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = Adam([p])
    p.grad = np.ones(3, dtype=np.float32)
    opt.step()
    assert p.dtype == np.float32
    assert {a.dtype for a in opt.state_dict()["exp_avg"] + opt.state_dict()["exp_avg_sq"]} == {
        np.dtype(np.float32)}


# ---------------------------------------------------------------------- state and resume
def train(net, opt, X, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        tg.losses.softmax_loss(net(X), y).backward()
        opt.step()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_resume_from_a_checkpoint_is_bit_identical(name, tmp_path):
    X, y, straight = small_problem()
    opt = OPTIMIZERS[name](straight.parameters(), lr=0.03, weight_decay=1e-3)
    train(straight, opt, X, y, 8)

    _, _, first = small_problem()
    opt1 = OPTIMIZERS[name](first.parameters(), lr=0.03, weight_decay=1e-3)
    train(first, opt1, X, y, 3)
    save_checkpoint(tmp_path / "run.npz", {"net": first.state_dict(), "opt": opt1.state_dict()})
    state = load_checkpoint(tmp_path / "run.npz")
    _, _, second = small_problem(seed=5)  # other weights, replaced by the checkpoint's
    second.load_state_dict(state["net"])
    opt2 = OPTIMIZERS[name](second.parameters(), lr=1.0)
    opt2.load_state_dict(state["opt"])
    train(second, opt2, X, y, 5)
    for p, q in zip(straight.parameters(), second.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert opt2.steps == opt.steps == [8] * 4


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_round_trips_as_copies(name):
    X, y, net = small_problem()
    opt = OPTIMIZERS[name](net.parameters(), lr=0.02)
    train(net, opt, X, y, 2)
    d = opt.state_dict()
    slot = opt.state_names[0]
    d[slot][0][...] = 123.0  # the state dict holds copies
    assert not (opt.state[slot][0] == 123.0).any()
    other = OPTIMIZERS[name](net.parameters())
    other.load_state_dict(opt.state_dict())
    for key, value in opt.state_dict().items():
        got = other.state_dict()[key]
        if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
            for a, b in zip(value, got):
                np.testing.assert_array_equal(a, b)
        else:
            assert got == value, key


def _bad_states(name):
    """(edit of a state_dict, expected message) pairs; each must be refused as a whole."""
    slot = {"Adam": "exp_avg_sq", "RMSprop": "square_avg", "Adagrad": "sum"}[name]
    cases = [
        (lambda d: d.pop("lr"), r"missing keys \['lr'\]"),
        (lambda d: d.update(extra=1), r"unknown keys \['extra'\]"),
        (lambda d: d.update(lr=-1.0), "lr must be a finite number >= 0"),
        (lambda d: d.update(eps=0.0), "eps must be a finite number > 0"),
        (lambda d: d.update(weight_decay=float("nan")), "weight_decay must be"),
        (lambda d: d.update(step=[2, 2, 2]), rf"^{name}.load_state_dict: step must be a list "
                                             "of 4 entries"),
        (lambda d: d.update(step=[2, 2, 2, -1]),
         rf"^{name}.load_state_dict: step\[3\] must be an integer >= 0"),
        (lambda d: d.update(step=[2, 2, 2, 0]),
         r"\w+\[3\] is an array but step\[3\] is 0; a parameter has state exactly when it has "
         "been updated$"),
        (lambda d: d[slot].__setitem__(2, np.zeros((7, 3))),
         rf"{slot}\[2\] has shape \(7, 3\) and dtype float64, expected floats of shape \(6, 3\)"),
        (lambda d: d[slot].__setitem__(1, np.full(6, np.inf)),
         rf"{slot}\[1\] \(shape \(6,\)\) holds 6 NaN or infinite value\(s\) \(in float64\); "
         "saved optimizer state is always finite$"),
        (lambda d: d[slot].__setitem__(1, -np.ones(6)),
         rf"{slot}\[1\] holds negative values \(min -1\); it is a running sum of squares$"),
        (lambda d: d[slot].__setitem__(3, None), rf"{slot}\[3\] is None but step\[3\] is 2; a "
                                                 "parameter has state exactly when"),
    ]
    if name == "Adam":
        cases += [(lambda d: d.update(betas=(0.9, 1.0)), r"betas\[1\] must be a finite number in"
                                                        r" \[0.0, 1.0\), got 1.0"),
                  (lambda d: d.update(betas=0.9), "betas must be a pair")]
    if name == "RMSprop":
        cases += [(lambda d: d.update(alpha=1.5), "alpha must be a finite number in")]
    return cases


@pytest.mark.parametrize("name, case", [(n, i) for n in OPTIMIZERS
                                        for i in range(len(_bad_states(n)))])
def test_a_failed_load_changes_nothing(name, case):
    edit, match = _bad_states(name)[case]
    X, y, net = small_problem()
    opt = OPTIMIZERS[name](net.parameters(), lr=0.02)
    train(net, opt, X, y, 1)
    donor = OPTIMIZERS[name](net.parameters(), lr=0.5)
    train(net, donor, X, y, 2)
    before = opt.state_dict()
    d = donor.state_dict()
    edit(d)
    with pytest.raises((ValueError, TypeError), match=match):
        opt.load_state_dict(d)
    after = opt.state_dict()
    assert after["lr"] == before["lr"] == 0.02 and after["step"] == before["step"] == [1] * 4
    for slot in opt.state_names:
        for a, b in zip(after[slot], before[slot]):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- bad input
W = Tensor([1.0, 2.0], requires_grad=True)


@pytest.mark.parametrize("make, error, match", [
    (lambda: Adam([W], lr=-1e-3), ValueError, "Adam: lr must be a finite number > 0"),
    (lambda: RMSprop([W], lr=0), ValueError, "RMSprop: lr must be a finite number > 0"),
    (lambda: Adagrad([W], lr=float("inf")), ValueError, "Adagrad: lr must be"),
    (lambda: Adam([W], betas=(1.0, 0.999)), ValueError,
     r"Adam: betas\[0\] must be a finite number in \[0.0, 1.0\), got 1.0"),
    (lambda: Adam([W], betas=(0.9, -0.1)), ValueError, r"betas\[1\] must be"),
    (lambda: Adam([W], betas=(0.9,)), ValueError, r"betas must be a pair"),
    (lambda: Adam([W], betas=("a", 0.9)), TypeError, r"betas\[0\] must be a real number"),
    (lambda: RMSprop([W], alpha=1.0), ValueError, "RMSprop: alpha must be a finite number in"),
    (lambda: Adam([W], eps=0.0), ValueError, "Adam: eps must be a finite number > 0"),
    (lambda: Adagrad([W], weight_decay=-1.0), ValueError, "Adagrad: weight_decay must be"),
    (lambda: Adam(W), TypeError, r"got a single Tensor; wrap it: Adam\(\[W\], ...\)"),
    (lambda: RMSprop([]), ValueError, "RMSprop: params is empty"),
    (lambda: Adagrad([W, W]), ValueError, r"params\[1\] appears twice"),
    (lambda: Adam([W * 2]), ValueError, "must be a leaf Tensor with requires_grad=True"),
    (lambda: Adam([np.ones(2)]), TypeError, r"params\[0\] is a ndarray"),
])
def test_bad_arguments_are_named_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_assigning_a_bad_lr_is_refused(name):
    opt = OPTIMIZERS[name]([Tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match=f"{name}: lr must be"):
        opt.lr = -0.5
    opt.lr *= 0.5
    assert opt.lr == {"Adam": 5e-4}.get(name, 5e-3)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_scheduled_lr_may_decay_to_zero_and_still_loads(name):
    p = Tensor([1.0, 2.0], requires_grad=True)
    opt = OPTIMIZERS[name]([p])
    opt.set_scheduled_lr(opt.lr * 1e-320 * 1e-10)  # underflows to 0.0
    assert opt.lr == 0.0
    p.grad = np.ones(2)
    opt.step()
    assert p.data.tolist() == [1.0, 2.0]
    other = OPTIMIZERS[name]([p])
    other.load_state_dict(opt.state_dict())
    assert other.lr == 0.0
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        other.lr = 0.0  # a user's rate must still be positive
    with pytest.raises(ValueError, match="scheduled lr must be a finite number >= 0"):
        other.set_scheduled_lr(float("nan"))


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("bad, error, match", [
    (np.array([1.0, np.nan]), ValueError,
     r"the gradient of params\[1\] 'b' \(shape \(2,\)\) holds 1 NaN"),
    (np.ones(3), ValueError,
     r"the gradient of params\[1\] 'b' has shape \(3,\), expected .* \(2,\)"),
    (np.ones(1), ValueError, r"has shape \(1,\), expected .* \(it is not broadcast\)"),
    (Tensor([1.0, 1.0]), TypeError, r"'b' \(shape \(2,\)\) is a Tensor \(use its .data\)"),
    (np.array(["x", "y"]), TypeError, r"is an array of dtype <U1"),
])
def test_bad_gradients_are_refused_before_any_change(name, bad, error, match):
    a = Tensor([1.0, 2.0], requires_grad=True, name="a")
    b = Tensor([3.0, 4.0], requires_grad=True, name="b")
    opt = OPTIMIZERS[name]([a, b])
    a.grad, b.grad = np.ones(2), bad
    with pytest.raises(error, match=f"{name}.step: .*" + match):
        opt.step()
    assert a.data.tolist() == [1.0, 2.0] and opt.steps == [0, 0]
    assert all(s is None for slot in opt.state_names for s in opt.state[slot])


def test_a_long_run_stays_finite_with_zero_gradients():
    p = Tensor([1.0, -1.0], requires_grad=True)
    for cls in OPTIMIZERS.values():
        opt = cls([p])
        for _ in range(3):
            p.grad = np.zeros(2)
            opt.step()
        assert np.isfinite(p.data).all() and p.data.tolist() == [1.0, -1.0]


def test_adam_is_scale_invariant_in_the_gradient():
    # a consequence of the equations: multiplying every gradient by c > 0 (eps aside)
    # changes nothing, which is why Adam needs no tuning for the loss's scale
    base = run(Adam, P0, [G1, G2, G1], lr=0.1, eps=1e-300)
    scaled = run(Adam, P0, [1e6 * G1, 1e6 * G2, 1e6 * G1], lr=0.1, eps=1e-300)
    for a, b in zip(base, scaled):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert not math.isclose(base[2][0], P0[0])


# ---------------------------------------------------------------------- overflow and eps
def _snapshot(opt, params):
    return [p.data.copy() for p in params], opt.state_dict()


def _same_snapshot(a, b) -> bool:
    (pa, sa), (pb, sb) = a, b
    if not all(np.array_equal(x, y) for x, y in zip(pa, pb)) or sa.keys() != sb.keys():
        return False
    for k in sa:
        x, y = sa[k], sb[k]
        if isinstance(x, list) and any(isinstance(v, np.ndarray) for v in x):
            if not all((u is None and v is None) or np.array_equal(u, v) for u, v in zip(x, y)):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_gradient_whose_square_overflows_is_refused_before_any_change(name):
    """float32: g = 1e20 is finite, g^2 = 1e40 is not; the running sum of squares would be
    inf, every later step 0 (the parameter stops) and the checkpoint unloadable."""
    ok = Tensor(np.ones(3, np.float32), requires_grad=True, name="b")
    w = Tensor(np.ones(3, np.float32), requires_grad=True, name="W")
    opt = OPTIMIZERS[name]([ok, w], lr=0.1)
    ok.grad, w.grad = np.ones(3, np.float32), np.ones(3, np.float32)
    opt.step()  # a state to keep
    before = _snapshot(opt, [ok, w])
    ok.grad = np.ones(3, np.float32)
    w.grad = np.array([1.0, 1e20, 0.0], np.float32)
    with pytest.raises(FloatingPointError, match=rf"{name}.step: the update of params\[1\] 'W' "
                       r"\(shape \(3,\)\) overflows in float32 \(overflow encountered in "
                       r"\w+\): its state .*No parameter and no state was changed"):
        opt.step()
    assert _same_snapshot(_snapshot(opt, [ok, w]), before)  # params[0] unchanged too
    ok2, w2 = (Tensor(t.data, requires_grad=True) for t in (ok, w))
    fresh = OPTIMIZERS[name]([ok2, w2], lr=0.1)
    fresh.load_state_dict(opt.state_dict())  # still a loadable, finite state
    for o, params in ((opt, (ok, w)), (fresh, (ok2, w2))):  # and the next steps go on
        for _ in range(2):
            for t in params:
                t.grad = np.full(3, 0.5, np.float32)
            o.step()
    assert all(np.array_equal(a.data, b.data) for a, b in ((ok, ok2), (w, w2)))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_eps_below_the_smallest_normal_of_the_dtype_is_refused(name):
    w32 = Tensor(np.ones(2, np.float32), requires_grad=True)
    tiny = float(np.finfo(np.float32).tiny)
    with pytest.raises(ValueError, match=rf"{name}: eps must be at least the smallest normal "
                       r"float32 number, 1.175e-38, got 1e-50"):
        OPTIMIZERS[name]([w32], eps=1e-50)
    opt = OPTIMIZERS[name]([w32], eps=tiny)  # the smallest allowed: a zero gradient is no NaN
    w32.grad = np.array([0.0, 1.0], np.float32)
    opt.step()
    assert np.isfinite(w32.data).all() and w32.data[0] == 1.0
    w64 = Tensor(np.ones(2), requires_grad=True)
    OPTIMIZERS[name]([w64], eps=1e-50)  # a normal float64 number
    d = opt.state_dict()
    d["eps"] = 1e-50
    with pytest.raises(ValueError, match="eps must be at least the smallest normal"):
        OPTIMIZERS[name]([w32]).load_state_dict(d)


def test_adam_float32_with_a_zero_gradient_entry_never_gives_nan():
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="eps"):
        Adam([w], eps=1e-50)  # the old way to 0/0 = NaN in that entry
    opt = Adam([w])
    for _ in range(3):
        w.grad = np.array([0.0, 1.0, -1.0], np.float32)
        opt.step()
    assert np.isfinite(w.data).all() and w.data[0] == 1.0


@pytest.mark.parametrize("name", ["Adam", "RMSprop", "Adagrad", "SGD"])
def test_the_state_of_another_optimizer_is_refused_by_name(name):
    from tinygrad_lc.optim import SGD

    classes = {**OPTIMIZERS, "SGD": SGD}
    w = Tensor(np.ones(2), requires_grad=True)
    for other, cls in classes.items():
        if other == name:
            continue
        saved = cls([w], lr=0.1).state_dict()
        with pytest.raises(ValueError, match=rf"{name}.load_state_dict: this is the state of "
                           rf"{other} .*not of {name}"):
            classes[name]([w], lr=0.1).load_state_dict(saved)


# ---------------------------------------------------------------------- found by make mutate
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_lr_zero_is_refused_when_made_though_a_loaded_state_may_hold_it(name):
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=rf"^{name}: lr must be a finite number > 0\.0, got 0\.0$"):
        OPTIMIZERS[name]([w], lr=0.0)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_saved_state_beyond_float32_is_refused_without_an_overflow_warning(name):
    import warnings

    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = OPTIMIZERS[name]([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    d = opt.state_dict()
    slot = {"Adam": "exp_avg_sq", "RMSprop": "square_avg", "Adagrad": "sum"}[name]
    d[slot] = [np.full(3, 1e300)]  # float64, inf once cast to float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "overflow encountered in cast" would raise
        with pytest.raises(ValueError, match=rf"{slot}\[0\] \(shape \(3,\)\) holds 3 NaN or "
                                             r"infinite value\(s\) \(in float32\)"):
            opt.load_state_dict(d)


def test_an_optimizer_without_update_says_what_it_must_define():
    from tinygrad_lc.optim import Optimizer

    class Bare(Optimizer):
        pass

    w = Tensor(np.ones(2), requires_grad=True)
    (w * w).sum().backward()
    with pytest.raises(NotImplementedError) as info:
        Bare([w], lr=0.1, weight_decay=0.0).step()
    assert str(info.value) == "Bare must define update(i, p, g)"


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_steps_saved_as_0d_arrays_load_as_integers(name):
    X, y, net = small_problem()
    opt = OPTIMIZERS[name](net.parameters(), lr=0.02)
    train(net, opt, X, y, 2)
    d = opt.state_dict()
    d["step"] = [np.array(s) for s in d["step"]]  # as an array file gives them back
    fresh = OPTIMIZERS[name](net.parameters(), lr=0.02)
    fresh.load_state_dict(d)
    assert fresh.steps == [2] * 4 and all(type(s) is int for s in fresh.steps)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_bad_scheduled_lr_is_refused_naming_the_optimizer(name):
    opt = OPTIMIZERS[name]([Tensor(np.ones(2), requires_grad=True)], lr=0.1)
    opt.set_scheduled_lr(0.0)  # a decay that underflowed: allowed
    with pytest.raises(ValueError, match=rf"^{name}: scheduled lr must be"):
        opt.set_scheduled_lr(float("nan"))


def test_adam_betas_saved_as_an_array_load_as_a_pair():
    w = Tensor(np.ones(3), requires_grad=True)
    d = Adam([w], lr=0.1, betas=(0.8, 0.99)).state_dict()
    d["betas"] = np.array(d["betas"])  # as an array file gives them back
    fresh = Adam([w], lr=0.1)
    fresh.load_state_dict(d)
    assert fresh.betas == (0.8, 0.99)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_eps_must_be_normal_in_the_narrowest_dtype_of_the_parameters(name):
    w64 = Tensor(np.ones(2), requires_grad=True)
    w32 = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    OPTIMIZERS[name]([w64], lr=0.1, eps=1e-40)  # a normal float64 number
    with pytest.raises(ValueError) as info:
        OPTIMIZERS[name]([w64, w32], lr=0.1, eps=1e-40)
    assert str(info.value) == (
        f"{name}: eps must be at least the smallest normal float32 number, 1.175e-38, got "
        "1e-40: added to sqrt(v) in float32, a smaller eps rounds or is flushed to 0, and an "
        "entry whose gradient is 0 would get 0/0 = NaN")


@pytest.mark.parametrize("named", [False, True])
def test_an_overflowing_step_is_named_in_full_without_numpy_warnings(named):
    import warnings

    w = Tensor(np.ones(3, np.float32), requires_grad=True, name="W" if named else None)
    opt = Adagrad([w], lr=0.1)
    w.grad = np.array([1.0, -1e20, 0.0], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "overflow encountered" would raise
        with pytest.raises(FloatingPointError) as info:
            opt.step()
    label = " 'W'" if named else ""
    assert str(info.value) == (
        f"Adagrad.step: the update of params[0]{label} (shape (3,)) overflows in float32 "
        "(overflow encountered in multiply): its state (sum) or its new value would hold inf "
        "or NaN. The largest |gradient| is 1e+20; in float32 a square overflows above "
        "1.84e+19. No parameter and no state was changed; lower the learning rate, scale the "
        "loss down, or train in float64")
    assert w.data.tolist() == [1.0, 1.0, 1.0] and opt.state["sum"] == [None] and opt.steps == [0]


def test_an_overflowing_weight_decay_is_refused_without_numpy_warnings():
    import warnings

    w = Tensor(np.full(2, 3e38, np.float32), requires_grad=True)
    opt = Adam([w], lr=0.1, weight_decay=10.0)
    w.grad = np.ones(2, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "overflow encountered" would raise
        with pytest.raises(FloatingPointError, match=r"^Adam.step: the update of params\[0\] "
                                                     r"\(shape \(2,\)\) overflows in float32"):
            opt.step()
    assert w.data.tolist() == [np.float32(3e38)] * 2 and opt.steps == [0]


def test_a_subclass_update_giving_nan_is_refused_without_numpy_warnings():
    import warnings

    from tinygrad_lc.optim import Optimizer

    class LogStep(Optimizer):  # p = p - lr log(g): NaN for a negative gradient
        def update(self, i, p, g):
            p -= self.lr * np.log(g)

    w = Tensor(np.ones(2), requires_grad=True)
    opt = LogStep([w], lr=0.1, weight_decay=0.0)
    w.grad = np.array([1.0, -1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "invalid value encountered" would raise
        with pytest.raises(FloatingPointError, match=r"^LogStep.step: the update of params\[0\]"):
            opt.step()
    assert w.data.tolist() == [1.0, 1.0]


def test_a_subclass_keeps_lr_zero_out_and_names_a_gradient_of_the_wrong_type():
    from tinygrad_lc.optim import Optimizer

    class Plain(Optimizer):  # the base's checks, not extended
        def update(self, i, p, g):
            p -= self.lr * g

    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="^Plain: lr must be a finite number > 0"):
        Plain([w], lr=0.0, weight_decay=0.0)
    opt = Plain([w], lr=0.1, weight_decay=0.0)
    w.grad = [1.0, 2.0]
    with pytest.raises(TypeError) as info:
        opt.step()
    assert str(info.value) == ("Plain.step: the gradient of params[0] (shape (2,)) is a list; "
                               "expected None or a NumPy array of real numbers of shape (2,); no "
                               "parameter was changed")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_no_parameters_is_refused_with_an_example(name):
    with pytest.raises(ValueError) as info:
        OPTIMIZERS[name]([], lr=0.1)
    assert str(info.value) == (f"{name}: params is empty; pass the Tensors to optimize, e.g. "
                               "[W, b] or net.parameters()")
    with pytest.raises(TypeError) as info:
        OPTIMIZERS[name]([np.ones(2)], lr=0.1)
    assert str(info.value) == f"{name}: params[0] is a ndarray, expected a Tensor"
