"""Tests of tinygrad_lc/nn.py: parameter walks, layers against NumPy and HIPS autograd,
scopes (one diagram cluster per layer), state dicts, and errors that name the culprit."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad as autograd_grad
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.nn import MLP, Linear, Module, ReLU, Sequential
from tinygrad_lc.viz import draw_graph


def two_layer(seed=0, sizes=(6, 5, 3), **kw):
    return MLP(list(sizes), seed=seed, **kw)


# ---------------------------------------------------------------------- walking parameters
def test_named_parameters_walk_children_in_a_fixed_order():
    net = MLP([4, 8, 6, 3], seed=0)
    names = [n for n, _ in net.named_parameters()]
    assert names == ["0.W", "0.b", "2.W", "2.b", "4.W", "4.b"]
    assert [p.name for p in net.parameters()] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [p.shape for p in net.parameters()] == [(4, 8), (8,), (8, 6), (6,), (6, 3), (3,)]
    assert [m.name for m in net] == ["Linear1", "ReLU1", "Linear2", "ReLU2", "Linear3"]


def test_nested_modules_and_attribute_order():
    class Block(Module):
        def __init__(self):
            self.scale = Tensor([2.0], requires_grad=True)
            self.inner = Linear(3, 3, seed=0)
            self.frozen = Tensor([1.0])  # no requires_grad: not a parameter
            self.shift = Tensor([0.5], requires_grad=True)

        def forward(self, x):
            return self.inner(x) * self.scale + self.shift

    class Outer(Module):
        def __init__(self):
            self.first = Block()
            self.head = Linear(3, 2, bias=False, seed=1)

        def forward(self, x):
            return self.head(self.first(x))

    net = Outer()
    assert [n for n, _ in net.named_parameters()] == [
        "first.scale", "first.inner.W", "first.inner.b", "first.shift", "head.W"]
    out = net(np.ones((2, 3)))
    assert out.shape == (2, 2)
    assert out.scope == "Outer/Linear"  # head's ops; the block's sit in Outer/Block


def test_shared_parameters_and_modules_are_listed_once():
    layer = Linear(3, 3, seed=0)
    net = Sequential(layer, ReLU(), layer)
    assert len(net.parameters()) == 2
    assert [n for n, _ in net.named_parameters()] == ["0.W", "0.b"]


def test_a_module_holding_itself_does_not_loop():
    m = Linear(2, 2, seed=0)
    m.me = m
    assert [n for n, _ in m.named_parameters()] == ["W", "b"]


def test_zero_grad_clears_every_parameter():
    net = two_layer()
    tg.losses.softmax_loss(net(np.ones((4, 6))), [0, 1, 2, 0]).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ---------------------------------------------------------------------- values and gradients
def test_linear_is_x_at_w_plus_b():
    rng = np.random.default_rng(0)
    layer = Linear(4, 3, seed=0)
    layer.b.data = rng.standard_normal(3)
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(layer(x).data, x @ layer.W.data + layer.b.data, rtol=1e-15)
    no_bias = Linear(4, 3, bias=False, seed=0)
    assert no_bias.b is None and len(no_bias.parameters()) == 1
    np.testing.assert_array_equal(no_bias(x).data, x @ no_bias.W.data)


def test_relu_zeroes_negatives_only():
    np.testing.assert_array_equal(ReLU()(np.array([-1.0, 0.0, 2.0])).data, [0.0, 0.0, 2.0])


def autograd_loss(X, y, reg):
    """The same two-layer softmax loss in HIPS autograd: an independent gradient."""
    def f(params):
        W1, b1, W2, b2 = params
        h = anp.maximum(0.0, anp.dot(X, W1) + b1)
        s = anp.dot(h, W2) + b2
        m = anp.max(s, axis=1, keepdims=True)
        lse = m[:, 0] + anp.log(anp.sum(anp.exp(s - m), axis=1))
        return anp.mean(lse - s[np.arange(len(y)), y]) + reg * (anp.sum(W1**2) + anp.sum(W2**2))
    return f


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 7), reg=st.sampled_from([0.0, 0.3]))
def test_mlp_gradients_match_hips_autograd(seed, n, reg):
    rng = np.random.default_rng(seed)
    net = MLP([5, 7, 4], seed=seed)
    for p in net.parameters():  # nonzero biases, so every parameter matters
        p.data = p.data + 0.1 * rng.standard_normal(p.shape)
    X, y = rng.standard_normal((n, 5)), rng.integers(0, 4, n)
    W = [m.W for m in net if isinstance(m, Linear)]
    loss = tg.losses.softmax_loss(net(X), y) + reg * tg.regularizers.l2(W)
    loss.backward()
    values = [p.data.copy() for p in net.parameters()]
    f = autograd_loss(X, y, reg)
    np.testing.assert_allclose(loss.item(), f(values), rtol=1e-12)
    for p, want in zip(net.parameters(), autograd_grad(f)(values)):
        np.testing.assert_allclose(p.grad, want, rtol=1e-9, atol=1e-12)


def test_init_scales_and_seeds():
    he, xavier = Linear(400, 300, seed=0), Linear(400, 300, init="xavier", seed=0)
    assert abs(he.W.data.std() / np.sqrt(2 / 400) - 1) < 0.02
    assert abs(xavier.W.data.std() / np.sqrt(2 / 700) - 1) < 0.02
    assert abs(Linear(400, 300, init=0.01, seed=0).W.data.std() / 0.01 - 1) < 0.02
    np.testing.assert_array_equal(Linear(5, 4, seed=3).W.data, Linear(5, 4, seed=3).W.data)
    assert not np.array_equal(Linear(5, 4, seed=3).W.data, Linear(5, 4, seed=4).W.data)
    assert not Linear(5, 4, seed=3).b.data.any()
    np.testing.assert_array_equal(MLP([5, 4, 3], seed=7)[2].W.data,
                                  MLP([5, 4, 3], seed=7)[2].W.data)


def test_float32_layers_stay_float32():
    net = two_layer(dtype=np.float32)
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float32)}
    out = net(np.ones((3, 6), dtype=np.float32))
    assert out.dtype == np.float32


# ---------------------------------------------------------------------- scopes and diagrams
def test_each_layer_runs_in_its_own_scope_and_draws_as_a_cluster():
    net = two_layer()
    scores = net(np.ones((2, 6)))
    loss = tg.losses.softmax_loss(scores, [0, 1])
    scopes = set()
    stack, seen = [loss], set()
    while stack:
        t = stack.pop()
        if id(t) not in seen:
            seen.add(id(t))
            scopes.add(t.scope)
            stack.extend(t.parents)
    assert {"MLP/Linear1", "MLP/ReLU1", "MLP/Linear2"} <= scopes
    source = draw_graph(loss).source
    for label in ("MLP", "Linear1", "ReLU1", "Linear2", "softmax_loss"):
        assert f"<B>{label}</B>" in source
    assert source.count("subgraph cluster_") == 5  # MLP, its three layers, the loss


# ---------------------------------------------------------------------- state dicts
def test_state_dict_is_a_copy_and_round_trips():
    a, b = two_layer(seed=0), two_layer(seed=1)
    state = a.state_dict()
    assert list(state) == ["0.W", "0.b", "2.W", "2.b"]
    state["0.W"][...] = 7.0  # a copy: the net is unchanged
    assert not (a[0].W.data == 7.0).any()
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    snapshot = a.state_dict()
    a[0].W.data = a[0].W.data + 1  # the loaded arrays are copies too
    np.testing.assert_array_equal(b[0].W.data, snapshot["0.W"])


def test_values_beyond_float32_are_refused_and_integers_cast():
    net = two_layer(dtype=np.float32)
    before = net.state_dict()
    d = two_layer().state_dict()
    d["2.b"] = np.full(3, 1e300)  # finite in float64, inf in float32
    with pytest.raises(ValueError, match=r"'2.b' holds 3 NaN or infinite value\(s\) \(as "
                                         r"float32\)"):
        net.load_state_dict(d)
    _assert_unchanged(net, before)
    d["2.b"] = np.arange(3)
    net.load_state_dict(d)
    assert net[2].b.dtype == np.float32 and net[2].b.data.tolist() == [0.0, 1.0, 2.0]


def test_float64_state_loads_into_a_float32_net():
    a, b = two_layer(), two_layer(dtype=np.float32)
    b.load_state_dict(a.state_dict())
    assert b[0].W.dtype == np.float32
    np.testing.assert_array_equal(b[0].W.data, a[0].W.data.astype(np.float32))


def _assert_unchanged(net, before):
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.pop("2.b"), r"missing keys \['2.b'\]"),
    (lambda d: d.update(extra=np.zeros(3)), r"unexpected keys \['extra'\]"),
    (lambda d: d.update({"2.W": np.zeros((5, 4))}), r"'2.W' has shape \(5, 4\), the parameter's"
                                                     r" is \(5, 3\)"),
    (lambda d: d.update({"0.b": np.full(5, np.nan)}), r"'0.b' holds 5 NaN or infinite"),
    (lambda d: d.update({"0.b": np.array(list("abcde"))}), r"'0.b' holds <U1, expected real"),
    (lambda d: d.update({"0.b": [[1.0], [2.0, 3.0]]}), r"'0.b' holds object, expected real"),
])
def test_bad_state_dicts_name_the_key_and_change_nothing(edit, match):
    net, other = two_layer(seed=0), two_layer(seed=1)
    before = net.state_dict()
    d = other.state_dict()
    d["0.W"] = d["0.W"] + 5.0  # valid entries come before the bad one: nothing may be copied
    edit(d)
    with pytest.raises((ValueError, TypeError), match=match):
        net.load_state_dict(d)
    _assert_unchanged(net, before)


def test_load_state_dict_refuses_a_non_dict():
    with pytest.raises(TypeError, match="expected a dict"):
        two_layer().load_state_dict([("0.W", np.zeros((6, 5)))])


# ---------------------------------------------------------------------- bad input
def test_mismatched_layers_name_both_layers_and_their_shapes():
    msg = (r"Sequential: layer 0 \(Linear1, W of shape \(4, 5\)\) gives 5 features per row, "
           r"but layer 2 \(Linear2, W of shape \(6, 3\)\) expects 6")
    with pytest.raises(ValueError, match=msg):
        Sequential(Linear(4, 5), ReLU(), Linear(6, 3))


def test_input_of_the_wrong_width_names_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r"MLP: the input has shape \(2, 7\), but layer 0 "
                                         r"\(Linear1, W of shape \(6, 5\)\) expects 6"):
        two_layer()(np.ones((2, 7)))
    with pytest.raises(ValueError, match=r"Linear: input of shape \(2, 7\), expected \(N, 6\)"):
        Linear(6, 2)(np.ones((2, 7)))


def test_a_layer_changing_the_width_is_named_with_the_next_one():
    class Widen(Module):  # a custom layer without in/out_features: checked at run time
        def forward(self, x):
            return tg.concatenate([x, x], axis=1)

    net = Sequential(Linear(3, 4), Widen(), Linear(4, 2))
    with pytest.raises(ValueError, match=r"the output of layer 1 \(Widen1\) has shape \(5, 8\),"
                                         r" but layer 2 \(Linear2, W of shape \(4, 2\)\)"):
        net(np.ones((5, 3)))


@pytest.mark.parametrize("make, error, match", [
    (lambda: Linear(3, 2, init="glorot"), ValueError, "init must be one of 'he', 'xavier'"),
    (lambda: Linear(3, 2, init=-0.1), ValueError, "init must be 'he', 'xavier' or a finite"),
    (lambda: Linear(3, 2, init=float("nan")), ValueError, "init must be"),
    (lambda: Linear(0, 2), ValueError, "in_features must be an integer >= 1"),
    (lambda: Linear(3, 2, bias=1), TypeError, "bias must be True or False"),
    (lambda: Linear(3, 2, dtype=np.int64), TypeError, "dtype must be np.float64 or np.float32"),
    (lambda: MLP([3, 4], activation="tanh"), ValueError, "activation must be one of 'relu'"),
    (lambda: MLP([3]), ValueError, "sizes needs the input and output widths"),
    (lambda: MLP([3, 0, 2]), ValueError, "each entry of sizes must be an integer >= 1"),
    (lambda: MLP(3), TypeError, "sizes must be a sequence of ints"),
    (lambda: Sequential(Linear(2, 2), "relu"), TypeError, "argument 1 is a str"),
])
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Module subclass defines forward"):
        Module()(1.0)


def test_a_wide_layers_weight_gradient_is_c_ordered_like_its_weights():
    # an F-ordered gradient made the L2 term's gradient and every optimizer update cross
    # memory layouts (up to 40x slower elementwise ops on a (3073, 100) W1; benchmarks/nn.py)
    net = MLP([300, 100, 10], seed=0, dtype=np.float32)
    loss = tg.losses.softmax_loss(net(np.ones((20, 300), np.float32)), np.zeros(20, int))
    loss.backward()
    assert net[0].W.grad.flags.c_contiguous and net[0].W.data.flags.c_contiguous


# ---------------------------------------------------------------------- found by make mutate
def test_load_state_dict_messages_name_the_class_and_what_came():
    with pytest.raises(TypeError) as info:
        two_layer().load_state_dict([("0.W", np.zeros((6, 5)))])
    assert str(info.value) == "MLP.load_state_dict: expected a dict of arrays, got list"


def test_a_value_beyond_float32_is_refused_without_an_overflow_warning():
    net = two_layer(dtype=np.float32)
    d = net.state_dict()
    d["0.W"] = np.full(d["0.W"].shape, 1e300)  # inf once cast to float32
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's "overflow encountered in cast" would raise
        with pytest.raises(ValueError, match=r"'0.W' holds 30 NaN or infinite value\(s\) "
                                             r"\(as float32\)"):
            net.load_state_dict(d)


def test_repr_lists_the_layers_with_their_sizes_bias_and_dtype():
    net = Sequential(Linear(2, 3, seed=0), ReLU(),
                     Linear(3, 1, bias=False, seed=0, dtype=np.float32))
    assert repr(net) == ("Sequential(\n"
                         "  (0) Linear(2, 3, bias=True, dtype=float64)\n"
                         "  (1) ReLU()\n"
                         "  (2) Linear(3, 1, bias=False, dtype=float32)\n"
                         ")")
    assert repr(Module()) == "Module()"
