"""Tests of tinygrad_lc/optim.py: SGD's updates against their formulas, max_norm, state_dict."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.optim import SGD
from tinygrad_lc.util import checkpoint


def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


SETTINGS = st.fixed_dictionaries({
    "lr": floats(1e-3, 0.5),
    "momentum": st.sampled_from([0.0, 0.5, 0.9, 0.99]),
    "nesterov": st.booleans(),
    "weight_decay": st.sampled_from([0.0, 1e-3, 0.1]),
}).map(lambda kw: {**kw, "nesterov": kw["nesterov"] and kw["momentum"] > 0})
VECTORS = hnp.arrays(np.float64, st.integers(1, 6), elements=floats(-3, 3))


def reference_steps(p, grads_of, lr, momentum, nesterov, weight_decay, steps):
    """PyTorch's SGD written out: the sequence of parameters, one NumPy array per step."""
    p, v, out = p.copy(), None, []
    for _ in range(steps):
        g = grads_of(p)
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            v = g.copy() if v is None else momentum * v + g
            g = g + momentum * v if nesterov else v
        p = p - lr * g
        out.append(p)
    return out


@given(p0=VECTORS, data=st.data(), kw=SETTINGS)
def test_updates_match_the_formulas_bitwise(p0, data, kw):
    # a quadratic 0.5 a p^2 + c p with gradient a p + c, given to the optimizer exactly
    a = data.draw(hnp.arrays(np.float64, p0.shape, elements=floats(0.1, 2)))
    c = data.draw(hnp.arrays(np.float64, p0.shape, elements=floats(-1, 1)))
    grads_of = lambda p: a * p + c
    expected = reference_steps(p0, grads_of, steps=6, **kw)
    p = Tensor(p0, requires_grad=True)
    opt = SGD([p], **kw)
    for want in expected:
        p.grad = grads_of(p.data)
        opt.step()
        np.testing.assert_array_equal(p.data, want)


@given(p0=VECTORS, kw=SETTINGS)
def test_quadratic_through_the_engine(p0, kw):
    a = np.linspace(0.5, 1.5, p0.size)
    expected = reference_steps(p0, lambda p: a * p, steps=5, **kw)
    p = Tensor(p0, requires_grad=True)
    opt = SGD([p], **kw)
    for want in expected:
        opt.zero_grad()
        (0.5 * (a * p * p).sum()).backward()
        opt.step()
        np.testing.assert_allclose(p.data, want, rtol=1e-12, atol=1e-14)


def test_momentum_converges_on_a_quadratic():
    p = Tensor([5.0, -3.0], requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    for _ in range(300):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    assert np.abs(p.data).max() < 1e-6


def test_update_is_in_place_and_bumps_the_version():
    p = Tensor(np.ones(3), requires_grad=True)
    data, version = p.data, p.version
    opt = SGD([p], lr=0.5)
    p.grad = np.ones(3)
    opt.step()
    assert p.data is data and p.version == version + 1
    np.testing.assert_array_equal(data, [0.5, 0.5, 0.5])


def test_params_without_grad_are_skipped():
    p, q = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    opt = SGD([p, q], lr=0.1, momentum=0.9)
    p.grad = np.array([1.0])
    opt.step()
    assert q.data[0] == 2.0 and q.version == 0
    assert opt.state_dict()["velocity"][1] is None


def test_zero_grad():
    p = Tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=0.1)
    (p * 2).sum().backward()
    opt.zero_grad()
    assert p.grad is None


def test_float32_stays_float32():
    p = Tensor(np.ones(3, np.float32), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01)
    for _ in range(2):
        p.grad = np.ones(3, np.float32)
        opt.step()
    assert p.dtype == np.float32 and opt.state_dict()["velocity"][0].dtype == np.float32


@given(W0=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)),
                     elements=floats(-2, 2)),
       c=floats(0.1, 2), seed=st.integers(0, 2**32 - 1), momentum=st.sampled_from([0.0, 0.9]))
def test_max_norm_holds_after_every_step(W0, c, seed, momentum):
    rng = np.random.default_rng(seed)
    W = Tensor(W0, requires_grad=True)
    b = Tensor(np.full(W0.shape[1], 10.0), requires_grad=True)  # 1-D: never rescaled
    opt = SGD([W, b], lr=0.5, momentum=momentum, max_norm=c)
    for _ in range(5):
        W.grad = rng.standard_normal(W0.shape) * 3
        b.grad = np.zeros(W0.shape[1])
        opt.step()
        assert np.all(np.linalg.norm(W.data, axis=0) <= c * (1 + 1e-12))
        np.testing.assert_array_equal(b.data, 10.0)


def _run(opt, params, grads):
    for g in grads:
        for p, gp in zip(params, g):
            p.grad = gp.copy()
        opt.step()


@given(seed=st.integers(0, 2**32 - 1), kw=SETTINGS, max_norm=st.sampled_from([None, 0.5]))
def test_state_dict_round_trip_resumes_bitwise(seed, kw, max_norm):
    rng = np.random.default_rng(seed)
    shapes = [(3, 2), (2,)]
    init = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(8)]

    params = [Tensor(x, requires_grad=True) for x in init]
    opt = SGD(params, max_norm=max_norm, **kw)
    _run(opt, params, grads[:4])
    saved = opt.state_dict()
    snapshot = [p.data.copy() for p in params]
    _run(opt, params, grads[4:])

    resumed = [Tensor(x, requires_grad=True) for x in snapshot]
    other = SGD(resumed, lr=1.0)  # hyperparameters come from the state
    other.load_state_dict(saved)
    _run(other, resumed, grads[4:])
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(p.data, q.data)
    assert other.state_dict()["lr"] == kw["lr"]


def test_state_dict_is_plain_data_and_copied():
    p = Tensor(np.ones(2), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9, max_norm=None)
    p.grad = np.ones(2)
    opt.step()
    d = opt.state_dict()
    assert set(d) == {"lr", "momentum", "nesterov", "weight_decay", "max_norm", "velocity"}
    assert isinstance(d["lr"], float) and isinstance(d["nesterov"], bool) and d["max_norm"] is None
    assert isinstance(d["velocity"], list) and isinstance(d["velocity"][0], np.ndarray)
    d["velocity"][0][:] = 99.0  # the dict holds copies
    assert np.all(opt.velocity[0] == 1.0)


def test_state_survives_a_pickle_free_checkpoint(tmp_path):
    p = Tensor(np.ones((2, 2)), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True, max_norm=3.0)
    p.grad = np.ones((2, 2))
    opt.step()
    path = checkpoint.save_checkpoint(tmp_path / "opt.npz", {"opt": opt.state_dict()})
    with np.load(path, allow_pickle=False) as npz:  # every entry is a plain array, no pickle
        assert all(npz[k].dtype != object for k in npz.files)
    other = SGD([Tensor(p.data, requires_grad=True)], lr=1.0)
    other.load_state_dict(checkpoint.load_checkpoint(path)["opt"])
    assert other.state_dict()["nesterov"] is True and other.max_norm == 3.0
    np.testing.assert_array_equal(other.velocity[0], opt.velocity[0])


def test_load_accepts_zero_d_arrays():
    p = Tensor(np.ones(2), requires_grad=True)
    opt = SGD([p], lr=0.1)
    d = {k: (np.asarray(v) if k != "velocity" and v is not None else v)
         for k, v in SGD([p], lr=0.2, momentum=0.5).state_dict().items()}
    opt.load_state_dict(d)
    assert opt.lr == 0.2 and opt.momentum == 0.5


@pytest.mark.parametrize("change,text", [
    (lambda d: d.pop("lr"), "missing keys ['lr']"),
    (lambda d: d.update(step=3), "unknown keys ['step']"),
    (lambda d: d.update(velocity=[None]), "list of 2 entries"),
    (lambda d: d.update(velocity=[np.zeros(3), None]), "velocity[0] has shape (3,)"),
    (lambda d: d.update(velocity=[np.zeros((2, 2), int), None]), "dtype int"),
    (lambda d: d.update(lr=-1.0), "lr must be a finite number >= 0.0"),
    (lambda d: d.update(momentum=1.0), "momentum must be a finite number in [0.0, 1.0)"),
    (lambda d: d.update(nesterov=True, momentum=0.0), "nesterov=True needs momentum > 0"),
    (lambda d: d.update(nesterov="yes"), "nesterov must be a bool"),
    (lambda d: d.update(max_norm=0.0), "max_norm must be a finite number > 0.0"),
])
def test_load_state_dict_validates(change, text):
    params = [Tensor(np.ones((2, 2)), requires_grad=True), Tensor(np.ones(2), requires_grad=True)]
    opt = SGD(params, lr=0.1, momentum=0.9)
    d = opt.state_dict()
    change(d)
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(d)
    assert text in str(info.value)
    assert opt.lr == 0.1 and opt.momentum == 0.9  # nothing changed


def test_lr_can_be_decayed_but_stays_valid():
    opt = SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
    opt.lr *= 0.5
    assert opt.lr == 0.05
    with pytest.raises(ValueError, match="SGD: lr"):
        opt.lr = 0.0


def _leaf():
    return Tensor([1.0], requires_grad=True)


@pytest.mark.parametrize("make,error,text", [
    (lambda: SGD([], lr=0.1), ValueError, "params is empty"),
    (lambda: SGD(_leaf(), lr=0.1), TypeError, "single Tensor"),
    (lambda: SGD(3, lr=0.1), TypeError, "got int"),
    (lambda: SGD([np.ones(2)], lr=0.1), TypeError, "params[0] is a ndarray"),
    (lambda: SGD([Tensor([1.0])], lr=0.1), ValueError, "requires_grad=True"),
    (lambda: SGD([_leaf() * 2], lr=0.1), ValueError, "leaf Tensor"),
    (lambda: (lambda t: SGD([t, t], lr=0.1))(_leaf()), ValueError, "params[1] appears twice"),
    (lambda: SGD([_leaf()], lr=0.0), ValueError, "lr must be a finite number > 0.0, got 0.0"),
    (lambda: SGD([_leaf()], lr=float("nan")), ValueError, "got nan"),
    (lambda: SGD([_leaf()], lr="0.1"), TypeError, "lr must be a real number"),
    (lambda: SGD([_leaf()], lr=0.1, momentum=1.0), ValueError, "in [0.0, 1.0), got 1.0"),
    (lambda: SGD([_leaf()], lr=0.1, momentum=-0.1), ValueError, "got -0.1"),
    (lambda: SGD([_leaf()], lr=0.1, nesterov=True), ValueError, "needs momentum > 0"),
    (lambda: SGD([_leaf()], lr=0.1, nesterov=1), TypeError, "True or False"),
    (lambda: SGD([_leaf()], lr=0.1, weight_decay=-1.0), ValueError, "weight_decay"),
    (lambda: SGD([_leaf()], lr=0.1, max_norm=-2.0), ValueError, "max_norm"),
])
def test_constructor_validates(make, error, text):
    with pytest.raises(error, match="SGD") as info:
        make()
    assert text in str(info.value)


def test_generator_of_params_is_accepted():
    W = tg.Tensor(np.ones((2, 2)), requires_grad=True)
    opt = SGD((p for p in [W]), lr=0.1)
    assert opt.params == [W]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_gradient_is_refused_before_any_change(bad):
    W, b = Tensor(np.ones((2, 2)), requires_grad=True, name="W"), Tensor(np.ones(2),
                                                                          requires_grad=True)
    opt = SGD([W, b], lr=0.1, momentum=0.9)
    W.grad, b.grad = np.ones((2, 2)), np.array([1.0, bad])
    with pytest.raises(ValueError, match=r"SGD.step: the gradient of params\[1\] \(shape "
                                         r"\(2,\)\) holds 1 NaN or infinite"):
        opt.step()
    assert np.all(W.data == 1.0) and np.all(b.data == 1.0) and W.version == 0
    assert opt.velocity == [None, None]


def test_huge_but_finite_gradients_are_accepted():
    p = Tensor(np.zeros(2), requires_grad=True)
    p.grad = np.array([1e308, 1e308])  # the sum overflows; the entries are finite
    SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(p.data, [-5e307, -5e307])


def test_read_only_param_data_gets_a_writable_copy():
    p = Tensor(np.ones(2), requires_grad=True)
    frozen = np.full(2, 3.0)
    frozen.setflags(write=False)
    p.data = frozen
    p.grad = np.ones(2)
    SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(p.data, [2.5, 2.5])
    assert np.all(frozen == 3.0) and p.data.flags.writeable


# ---------------------------------------------------------------- hand-set grads, saved state
def _two_params_with_momentum():
    a = Tensor(np.ones((2, 3)), requires_grad=True, name="W")
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="w")
    opt = SGD([a, w], lr=0.1, momentum=0.9)
    a.grad, w.grad = np.ones((2, 3)), np.ones(3)
    opt.step()  # both get a velocity
    return a, w, opt


@pytest.mark.parametrize("grad, error, words", [
    (np.array([1.0]), ValueError, "has shape (1,), expected the parameter's shape (3,)"),
    (np.ones((1, 3)), ValueError, "has shape (1, 3), expected the parameter's shape (3,)"),
    (np.ones(4), ValueError, "has shape (4,)"),
    ([1.0, 1.0, 1.0], TypeError, "is a list"),
    ("abc", TypeError, "is a str"),
    (3.0, TypeError, "is a float"),
    (Tensor([1.0, 1.0, 1.0]), TypeError, "is a Tensor (use its .data)"),
    (np.array(["a", "b", "c"]), TypeError, "an array of dtype <U1"),
    (np.ones(3, dtype=bool), TypeError, "an array of dtype bool"),
    (np.ones(3, dtype=complex), TypeError, "an array of dtype complex128"),
])
def test_step_refuses_a_hand_set_grad_of_another_shape_or_kind(grad, error, words):
    a, w, opt = _two_params_with_momentum()
    before = [a.data.copy(), w.data.copy(), [v.copy() for v in opt.velocity], a.version]
    a.grad, w.grad = np.full((2, 3), 5.0), grad  # params[0]'s grad is fine, and comes first
    with pytest.raises(error) as info:
        opt.step()
    message = str(info.value)
    assert words in message
    assert "SGD.step" in message and "params[1] 'w'" in message and "no parameter was changed" \
        in message
    if error is TypeError:
        assert "of shape (3,)" in message
    # checked before any update: params[0] and both velocities are untouched
    assert np.array_equal(a.data, before[0]) and np.array_equal(w.data, before[1])
    assert all(np.array_equal(v, old) for v, old in zip(opt.velocity, before[2]))
    assert a.version == before[3]


def test_step_takes_integer_grads_of_the_right_shape():
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    w.grad = np.array([1, 2, 3])
    SGD([w], lr=0.5).step()
    np.testing.assert_array_equal(w.data, [0.5, 1.0, 1.5])


@pytest.mark.parametrize("bad, dtype", [
    (np.nan, np.float64), (np.inf, np.float64), (-np.inf, np.float64),
    (1e300, np.float32),  # finite as float64, inf in the parameter's float32
])
def test_load_state_dict_refuses_a_nonfinite_velocity(bad, dtype):
    p = Tensor(np.ones(3, dtype=dtype), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(3, dtype=dtype)
    opt.step()
    before = opt.state_dict()
    d = opt.state_dict()
    d["velocity"] = [np.array([0.0, bad, 0.0])]
    d["lr"] = 0.5
    with pytest.raises(ValueError, match=r"velocity\[0\] \(shape \(3,\)\) holds 1 NaN or "
                                         r"infinite value"):
        opt.load_state_dict(d)
    after = opt.state_dict()
    assert after["lr"] == before["lr"] and np.array_equal(after["velocity"][0],
                                                          before["velocity"][0])


def test_load_state_dict_takes_the_zero_rate_a_decay_schedule_reaches():
    p = Tensor(np.ones(2), requires_grad=True)
    opt = SGD([p], lr=0.1)
    d = opt.state_dict()
    d["lr"] = 0.0  # e.g. 0.1 * 0.5**1065 underflows to 0.0
    opt.load_state_dict(d)
    assert opt.lr == 0.0
    p.grad = np.ones(2)
    opt.step()  # a zero rate is a valid rate: the step leaves p where it is
    np.testing.assert_array_equal(p.data, [1.0, 1.0])
    with pytest.raises(ValueError, match="SGD: lr must be a finite number > 0.0, got 0.0"):
        opt.lr = 0.0  # a rate set by hand is still user input


def _sgd_state(opt: SGD) -> tuple:
    """Everything SGD.load_state_dict could change, comparable (velocities as bytes)."""
    return (opt.lr, opt.momentum, opt.nesterov, opt.weight_decay, opt.max_norm,
            [None if v is None else (v.dtype, v.tobytes()) for v in opt.velocity])


BAD_SGD_STATES = {
    "lr NaN": lambda d: d.update(lr=float("nan")),
    "lr a string": lambda d: d.update(lr="0.1"),
    "momentum 1": lambda d: d.update(momentum=1.0),
    "nesterov without momentum": lambda d: d.update(nesterov=True, momentum=0.0),
    "weight_decay negative": lambda d: d.update(weight_decay=-1.0),
    "max_norm 0": lambda d: d.update(max_norm=0.0),
    "velocity too short": lambda d: d.update(velocity=d["velocity"][:1]),
    "velocity not a list": lambda d: d.update(velocity=np.zeros(2)),
    "velocity NaN in the last entry": lambda d: d["velocity"].__setitem__(1, np.full(3, np.nan)),
    "velocity ragged": lambda d: d["velocity"].__setitem__(1, [[1.0], [1.0, 2.0]]),
    "velocity of another shape": lambda d: d["velocity"].__setitem__(1, np.zeros(4)),
    "velocity of ints": lambda d: d["velocity"].__setitem__(1, np.zeros(3, dtype=int)),
    "key missing": lambda d: d.pop("max_norm"),
    "key unknown": lambda d: d.update(step=3),
}


@pytest.mark.parametrize("damage", BAD_SGD_STATES.values(), ids=BAD_SGD_STATES.keys())
def test_a_failed_sgd_load_changes_nothing(damage):
    a, w, opt = _two_params_with_momentum()
    before = _sgd_state(opt)
    d = SGD([a, w], lr=0.5, momentum=0.5, weight_decay=0.1, max_norm=2.0).state_dict()
    d["velocity"] = [np.full((2, 3), 7.0), np.full(3, 7.0)]  # valid, unlike opt's
    damage(d)
    with pytest.raises((ValueError, TypeError), match="SGD"):
        opt.load_state_dict(d)
    assert _sgd_state(opt) == before


def test_an_sgd_step_that_overflows_changes_nothing():
    a = Tensor(np.ones(2), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True, name="b")
    opt = SGD([a, b], lr=1e300, momentum=0.5)
    a.grad, b.grad = np.ones(2), np.array([1.0, 1e10])  # lr * g = 1e310: inf in float64
    with pytest.raises(FloatingPointError, match=r"SGD.step: the update of params\[1\] 'b' "
                       r"\(shape \(2,\)\) overflows in float64 .*No parameter and no state "
                       r"was changed"):
        opt.step()
    assert a.data.tolist() == [1.0, 1.0] and b.data.tolist() == [1.0, 1.0]
    assert opt.velocity == [None, None]
