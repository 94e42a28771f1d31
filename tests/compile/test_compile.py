"""tg.compile: replays are bit for bit the eager engine, for every loss and regularizer of the
library and for random expression graphs (tests/fuzz_graphs.py), in float64 and float32; the
signature decides when to trace again; backward() keeps eager's semantics."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from fuzz_graphs import TG, programs, run
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lc as tg
from tinygrad_lc import Tensor, losses, regularizers
from tinygrad_lc.compile import plan as compile_plan

RNG = np.random.default_rng(0)
N, D, C = 12, 7, 4


def assert_same(a, b, what=""):
    """Equal bit for bit: dtype, shape and every byte."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (what, a.dtype, b.dtype, a.shape, b.shape)
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), \
        (what, np.max(np.abs(a.astype(float) - b.astype(float))))


def _data(k: int, dtype):
    rng = np.random.default_rng(k)
    X = rng.normal(size=(N, D)).astype(dtype)
    y = rng.integers(0, C, size=N)
    W = rng.normal(size=(D, C)).astype(dtype)
    b = rng.normal(size=C).astype(dtype)
    return X, y, W, b


def _run_both(f, dtype, calls: int = 3, make=None):
    """Eager f and tg.compile(f) on the same fresh data, ``calls`` times: same bits."""
    cf = tg.compile(f)
    for k in range(calls):
        X, y, W0, b0 = (make or _data)(k, dtype)
        out = []
        for fn in (f, cf):
            W = Tensor(W0, requires_grad=True, name="W")
            b = Tensor(b0, requires_grad=True, name="b")
            loss = fn(W, b, X, y)
            loss.backward()
            out.append((loss.data, W.grad, b.grad))
        (le, We, be), (lc, Wc, bc) = out
        assert_same(le, lc, "loss")
        for g_e, g_c, name in ((We, Wc, "W"), (be, bc, "b")):
            assert (g_e is None) == (g_c is None), name
            if g_e is not None:
                assert_same(g_e, g_c, name)
    assert cf.traces == 1, "the same signature was traced again"
    return cf


LOSSES = {
    "svm": lambda s, y: losses.svm_loss(s, y),
    "svm delta=2.5 squared": lambda s, y: losses.svm_loss(s, y, delta=2.5, squared=True),
    "svm include_correct, mean over classes": lambda s, y: losses.svm_loss(
        s, y, include_correct=True, class_reduction="mean"),
    "svm sum": lambda s, y: losses.svm_loss(s, y, reduction="sum"),
    "svm none": lambda s, y: losses.svm_loss(s, y, reduction="none").mean(),
    "softmax": lambda s, y: losses.softmax_loss(s, y),
    "softmax sum": lambda s, y: losses.softmax_loss(s, y, reduction="sum"),
    "softmax none": lambda s, y: (losses.softmax_loss(s, y, reduction="none") ** 2).sum(),
    "data_loss svm": lambda s, y: losses.data_loss("svm", s, y, delta=0.5),
    "data_loss softmax": lambda s, y: losses.data_loss("softmax", s, y),
}
PENALTIES = {
    "none": None,
    "l2": lambda W, b: regularizers.l2(W),
    "l2 of [W, b]": lambda W, b: regularizers.l2([W, b]),
    "l1": lambda W, b: regularizers.l1(W),
    "elastic_net": lambda W, b: regularizers.elastic_net([W, b], beta=0.3),
    "penalty('elastic_net')": lambda W, b: regularizers.penalty("elastic_net", W, beta=2.0),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_replays_bit_for_bit(loss, dtype):
    def f(W, b, X, y):
        return LOSSES[loss](Tensor(X) @ W + b, y)

    _run_both(f, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("penalty", sorted(PENALTIES))
def test_every_regularizer_replays_bit_for_bit(penalty, dtype):
    def f(W, b, X, y):
        total = losses.svm_loss(Tensor(X) @ W + b, y)
        return total if PENALTIES[penalty] is None else total + 0.7 * PENALTIES[penalty](W, b)

    _run_both(f, dtype)


def test_the_lecture_loss_at_cifar_shape_replays_bit_for_bit():
    """The benchmark's loss, N = 50 rows of CIFAR-10 width, W with many entries."""
    def make(k, dtype):
        rng = np.random.default_rng(k)
        X = (rng.integers(0, 256, size=(50, 3073)) - 127.5).astype(dtype)
        return X, rng.integers(0, 10, 50), (rng.normal(size=(3073, 10)) * 1e-4).astype(dtype), \
            np.zeros(10, dtype)

    for dtype in (np.float64, np.float32):
        for fn in (losses.svm_loss, losses.softmax_loss):
            _run_both(lambda W, b, X, y, fn=fn: fn(Tensor(X) @ W, y) + 2.5e4 * regularizers.l2(W),
                      dtype, calls=2, make=make)


def test_labels_as_an_integer_tensor_and_as_a_list():
    def f(W, b, X, y):
        return losses.softmax_loss(Tensor(X) @ W + b, y)

    _run_both(lambda W, b, X, y: f(W, b, X, Tensor(y, dtype=np.int64)), np.float64)
    cf = tg.compile(f)  # a list is a value: part of the signature, a constant of the program
    X, y, W0, b0 = _data(0, np.float64)
    W, b = Tensor(W0, requires_grad=True), Tensor(b0, requires_grad=True)
    assert_same(cf(W, b, X, tuple(y.tolist())).data, f(W, b, X, y).data)


@settings(deadline=None)
@given(prog=programs(), scale=st.floats(0.5, 1.5), dtype=st.sampled_from(["float64", "float32"]))
def test_random_graphs_replay_bit_for_bit(prog, scale, dtype):
    """Hypothesis-made expression graphs: trace on their inputs, replay on scaled ones."""
    up = prog.upstream.astype(dtype)

    def f(*xs):
        return (run(prog, xs, TG)[-1] * up).sum()

    cf = tg.compile(f)
    for inputs in (prog.inputs, [x * scale for x in prog.inputs]):
        got = []
        for fn in (f, cf):
            xs = [Tensor(x.astype(dtype), requires_grad=True) for x in inputs]
            with np.errstate(all="ignore"):
                try:
                    loss = fn(*xs)
                except ValueError:  # eager refuses the scaled inputs (x ** 0.5 of a negative)
                    assert fn is f and inputs is not prog.inputs
                    break
                loss.backward()
            got.append((loss.data, [x.grad for x in xs]))
        if len(got) < 2:
            continue
        (le, ge), (lc, gc) = got
        assert_same(le, lc, f"loss\n{prog}")
        for i, (a, b) in enumerate(zip(ge, gc)):
            assert (a is None) == (b is None)
            if a is not None:
                assert_same(a, b, f"gradient of x{i}\n{prog}")
    assert cf.traces == 1


# ---------------------------------------------------------------- signatures and the cache
def _svm(W, X, y, reg=0.5):
    return losses.svm_loss(Tensor(X) @ W, y) + reg * regularizers.l2(W)


def test_a_new_signature_traces_again_and_the_cache_is_bounded():
    cf = tg.compile(_svm, cache_size=2)
    W = Tensor(RNG.normal(size=(D, C)), requires_grad=True)
    X, y = RNG.normal(size=(N, D)), RNG.integers(0, C, N)
    cf(W, X, y)
    cf(W, X * 2, (y + 1) % C)  # new data, same signature: a replay
    assert cf.traces == 1
    cf(W, X[:5], y[:5])  # new shape: traced again, never replayed on the old program
    assert cf.traces == 2
    assert_same(cf(W, X[:5], y[:5]).data, _svm(W, X[:5], y[:5]).data)
    cf(W, X.astype(np.float32), y)  # new dtype of an array argument
    assert cf.traces == 3 and len(cf._cache) == 2  # the least recently used went
    cf(W, X, y)
    assert cf.traces == 4
    cf(W, X, y, 0.25)  # a number is part of the signature by value
    assert cf.traces == 5
    assert_same(cf(W, X, y, 0.25).data, _svm(W, X, y, 0.25).data)
    cf(W, np.asfortranarray(X), y)  # another memory layout is another signature
    assert cf.traces == 6
    with tg.no_grad():
        cf(W, X, y)  # grad mode is part of it too (a program without backward)
    assert cf.traces == 7


def test_requires_grad_is_part_of_the_signature():
    cf = tg.compile(lambda a, b: (a * b).sum())
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0])
    cf(a, b).backward()
    b2 = Tensor([3.0, 4.0], requires_grad=True)
    cf(a, b2).backward()
    assert cf.traces == 2 and b2.grad.tolist() == [1.0, 2.0] and b.grad is None


def test_tensors_read_from_a_closure_are_inputs_read_on_every_call():
    W = Tensor(np.ones((3, 2)), requires_grad=True, name="W")
    cf = tg.compile(lambda X: (Tensor(X) @ W).sum())
    X = np.arange(6.0).reshape(2, 3)
    cf(X).backward()
    W.data = W.data * 3  # a new value: the next call reads it
    W.grad = None
    out = cf(X)
    out.backward()
    assert out.item() == 90.0 and cf.traces == 1
    assert_same(W.grad, np.tile(X.sum(0)[:, None], (1, 2)))
    W.data = np.ones((3, 2))
    W2 = Tensor(np.ones((4, 2)), requires_grad=True)
    cf2 = tg.compile(lambda X: (Tensor(X) @ W2).sum())
    cf2(np.ones((2, 4)))
    W2.data = np.ones((4, 2))  # same shape: still the program
    cf2(np.ones((2, 4)))
    assert cf2.traces == 1


def test_a_closure_tensor_of_a_new_shape_traces_again():
    holder = {"W": Tensor(np.ones((3, 2)), requires_grad=True)}
    cf = tg.compile(lambda X: (Tensor(X) @ holder["W"]).sum())
    cf(np.ones((2, 3)))
    holder["W"] = Tensor(np.ones((4, 2)), requires_grad=True)  # another tensor: another input
    assert cf(np.ones((2, 4))).item() == 16.0
    assert cf.traces == 2


def test_args_in_lists_and_dicts():
    def f(params, batch):
        W, b = params
        return losses.softmax_loss(Tensor(batch["X"]) @ W + b, batch["y"])

    X, y, W0, b0 = _data(1, np.float64)
    cf = tg.compile(f)
    for _ in range(2):
        W, b = Tensor(W0, requires_grad=True), Tensor(b0, requires_grad=True)
        cf([W, b], {"X": X, "y": y}).backward()
        W2, b2 = Tensor(W0, requires_grad=True), Tensor(b0, requires_grad=True)
        f([W2, b2], {"X": X, "y": y}).backward()
        assert_same(W.grad, W2.grad)
        assert_same(b.grad, b2.grad)
    assert cf.traces == 1


# ---------------------------------------------------------------- backward's semantics
def test_backward_accumulates_and_takes_a_seed_as_eager_does():
    X, y, W0, _ = _data(2, np.float64)
    cf = tg.compile(_svm)
    We, Wc = Tensor(W0, requires_grad=True), Tensor(W0, requires_grad=True)
    le, lc = _svm(We, X, y), cf(Wc, X, y)
    le.backward()
    lc.backward()
    le.backward(np.array(2.5))  # a second backward accumulates, with another seed
    lc.backward(np.array(2.5))
    assert_same(We.grad, Wc.grad)
    assert_same(le.grad, lc.grad)  # the loss keeps the seed as its .grad
    # a compiled result inside a larger graph: its gradient is a whole, so the sums of the
    # paths are grouped differently than in one eager graph (equal to rounding)
    (2 * _svm(We, X, y) + _svm(We, X, y)).backward()
    (2 * cf(Wc, X, y) + cf(Wc, X, y)).backward()
    np.testing.assert_allclose(We.grad, Wc.grad, rtol=1e-13, atol=1e-13)
    (ge,) = tg.grad(_svm(We, X, y), We)
    (gc,) = tg.grad(cf(Wc, X, y), Wc)
    assert_same(ge.data, gc.data)
    assert cf.traces == 1


def test_a_pending_call_keeps_its_values_while_others_run():
    """Two losses waiting for backward at once: the second gets buffers of its own."""
    cf = tg.compile(_svm)
    X1, y1, W0, _ = _data(3, np.float64)
    X2, y2, _, _ = _data(4, np.float64)
    W = Tensor(W0, requires_grad=True)
    l1, l2 = cf(W, X1, y1), cf(W, X2, y2)
    l2.backward()
    g2 = W.grad.copy()
    W.grad = None
    l1.backward()
    We = Tensor(W0, requires_grad=True)
    _svm(We, X1, y1).backward()
    assert_same(W.grad, We.grad)
    We.grad = None
    _svm(We, X2, y2).backward()
    assert_same(g2, We.grad)


def test_gradients_are_fresh_arrays():
    cf = tg.compile(lambda a, b: (a + b).sum())
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    for _ in range(2):
        a.grad = b.grad = None
        cf(a, b).backward()
        assert not np.shares_memory(a.grad, b.grad)
        kept = a.grad
    cf(a, b).backward()
    assert kept.tolist() == [2.0, 2.0] and a.grad is kept  # accumulated in place, as eager


def test_no_backward_without_grad():
    cf = tg.compile(_svm)
    X, y, W0, _ = _data(5, np.float64)
    W = Tensor(W0)  # no gradient wanted: a forward-only program
    out = cf(W, X, y)
    assert not out.requires_grad and out.item() == _svm(W, X, y).item()
    assert "backward:" not in cf.program(W, X, y)


def test_extra_results_come_back_as_values():
    def f(W, X, y):
        scores = Tensor(X) @ W
        return losses.svm_loss(scores, y), scores

    X, y, W0, _ = _data(6, np.float64)
    W = Tensor(W0, requires_grad=True)
    loss, scores = tg.compile(f)(W, X, y)
    assert_same(scores.data, X @ W0)
    assert not scores.requires_grad and loss.requires_grad


def test_calls_from_threads_share_the_program_safely():
    cf = tg.compile(_svm)
    X, y, W0, _ = _data(7, np.float64)
    W = Tensor(W0, requires_grad=True)
    cf(W, X, y)
    want = []
    for k in range(8):
        We = Tensor(W0, requires_grad=True)
        _svm(We, X * (k + 1), y).backward()
        want.append(We.grad)
    got = [None] * 8

    def work(k):
        for _ in range(20):
            Wk = Tensor(W0, requires_grad=True)
            cf(Wk, X * (k + 1), y).backward()
        got[k] = Wk.grad

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        assert_same(g, w)


def test_inside_detect_anomaly_and_inside_another_trace_it_runs_eagerly():
    cf = tg.compile(lambda a: (a * a).sum())
    a = Tensor([1.0, 2.0], requires_grad=True)
    with tg.detect_anomaly():
        assert cf(a).op == "mul" or cf(a).op == "sum"
    outer = tg.compile(lambda a: cf(a) * 2)  # the inner function becomes part of the outer
    outer(a).backward()
    assert a.grad.tolist() == [4.0, 8.0] and cf.traces == 0


# ---------------------------------------------------------------- visible
def test_the_program_as_text_and_as_a_drawing():
    cf = tg.compile(_svm)
    X, y, W0, _ = _data(8, np.float64)
    W = Tensor(W0, requires_grad=True, name="W")
    text = cf.program(W, X, y)
    lines = text.splitlines()
    assert lines[0] == "inputs:" and "W  (7, 4) float64  (gradient)" in lines[1]
    assert "forward:" in lines and "backward:" in lines
    assert any(line.strip().startswith("%") and "= matmul(" in line for line in lines)
    assert any("-> buf0" in line for line in lines)
    assert lines[-2].startswith("outputs: loss %") and "grad W %" in lines[-2]
    assert lines[-1].startswith("buffers: ")
    p = cf.trace(W, X, y)
    assert str(p) == text and len(p.steps) == sum(
        1 for line in lines if line.startswith("  %") and " = " in line or "  check " in line)
    dot = tg.viz.draw_graph(p).source
    assert "matmul" in dot and "cluster" in dot and "buf0" in dot


def test_a_traced_integer_index_that_repeats_on_a_later_call():
    """Whether picked positions repeat is decided per call (scatter or add.at in backward)."""
    def f(w, idx, weights):
        return (w[idx] * weights).sum() + (w[np.arange(3), idx] ** 2).sum()

    cf = tg.compile(f)
    weights = np.array([1.0, 2.0, 3.0])
    for idx in (np.array([0, 1, 2]), np.array([1, 1, 1]), np.array([2, 0, 2])):
        got = []
        for fn in (f, cf):
            w = Tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
            fn(w, idx, weights).backward()
            got.append(w.grad)
        assert_same(got[0], got[1], str(idx))
    assert cf.traces == 1


def test_a_tuple_of_one_comes_back_as_a_tuple():
    cf = tg.compile(lambda w: ((w * w).sum(),))
    (loss,) = cf(Tensor([1.0, 2.0], requires_grad=True))
    assert loss.item() == 5.0


def test_detach_and_no_grad_inside_the_function():
    def f(W, X):
        s = Tensor(X) @ W
        with tg.no_grad():
            shift = s.max(axis=1, keepdims=True)  # a value that changes per call, no gradient
        return ((s - shift.detach()) ** 2).sum() + (s * W.detach().sum()).sum()

    cf = tg.compile(f)
    for k in range(3):
        X = RNG.normal(size=(N, D)) * (k + 1)
        got = []
        for fn in (f, cf):
            W = Tensor(np.linspace(-1, 1, D * C).reshape(D, C), requires_grad=True)
            loss = fn(W, X)
            loss.backward()
            got.append((loss.data, W.grad))
        assert_same(got[0][0], got[1][0])
        assert_same(got[0][1], got[1][1])
    assert cf.traces == 1


def test_an_outside_node_read_by_the_function_passes_its_gradient_on():
    W = Tensor(np.linspace(-1, 1, D * C).reshape(D, C), requires_grad=True)
    h = W * 2.0  # made outside: the compiled function reads it by reference
    cf = tg.compile(lambda X: (Tensor(X) @ h).relu().sum())
    X = RNG.normal(size=(N, D))
    cf(X).backward()
    got = W.grad.copy()
    W.grad = None
    (Tensor(X) @ h).relu().sum().backward()
    np.testing.assert_array_equal(got, W.grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ties_of_maximum_on_one_call_and_not_on_another(dtype):
    """maximum's tie mask is boolean without ties and halves with them (another dtype)."""
    def f(a, b):
        m = tg.maximum(a, b)
        return (m * m).sum() + tg.maximum(a * 2, b).sum()

    cf = tg.compile(f)
    for a0, b0 in (([1.0, 2.0, 3.0], [0.0, 5.0, 1.0]), ([1.0, 2.0, 3.0], [1.0, 2.0, 0.0]),
                   ([2.0, 0.0, 4.0], [4.0, 0.0, 1.0])):
        got = []
        for fn in (f, cf):
            a = Tensor(np.array(a0, dtype), requires_grad=True)
            b = Tensor(np.array(b0, dtype), requires_grad=True)
            fn(a, b).backward()
            got.append((a.grad, b.grad))
        for x, y in zip(*got):
            assert_same(x, y)


def test_each_phase_runs_as_one_generated_function_computing_what_the_steps_compute():
    cf = tg.compile(_svm)
    X, y, W0, _ = _data(9, np.float64)
    W = Tensor(W0, requires_grad=True, name="W")
    cf(W, X, y).backward()
    entry = next(iter(cf._cache.values()))
    plan = entry.plan
    for fn, steps in ((plan.run_forward, plan.forward), (plan.run_backward, plan.backward)):
        lines = [line.strip() for line in fn.source.splitlines()[1:]]
        moves = [line for line in lines if re.fullmatch(r"v\d+ = env\[\d+\]|env\[\d+\] = v\d+",
                                                           line)]
        assert len(lines) - len(moves) == len(steps), fn.source  # a line per step, no loop
        assert "for " not in fn.source and "while " not in fn.source
    envs = []
    for run_phase in ("generated", "steps"):
        env = list(plan.template)
        for slot, a in zip(entry.program.inputs, [W0, X, y]):
            env[slot] = a
        if run_phase == "generated":
            plan.run_forward(env)
        else:
            compile_plan.run(plan.forward, env)
        env[plan.seed_slot] = np.array(1.0)
        if run_phase == "generated":
            plan.run_backward(env)
        else:
            compile_plan.run(plan.backward, env)
        envs.append([np.array(env[s], copy=True) for s in (plan.loss_slot, *plan.grad_slots)])
    for a, b in zip(*envs):
        assert_same(a, b)


def test_the_correct_class_is_picked_without_a_uniqueness_check_on_every_call():
    # arange(N) (a column for svm_loss) next to the labels makes the picks distinct whatever
    # y holds: no prepare_index step (a sort of the positions) in the program
    for f in (_svm, lambda W, X, y: losses.softmax_loss(Tensor(X) @ W, y)):
        X, y, W0, _ = _data(10, np.float64)
        text = tg.compile(f).program(Tensor(W0, requires_grad=True), X, y)
        assert "getitem(" in text and "prepare_index" not in text, text


def test_an_f_ordered_gradient_is_not_added_into_next_to_a_c_ordered_one(monkeypatch):
    # the L2 gradient (C-ordered) plus a (G^T X)^T (F-ordered, the form kernels may choose;
    # here the only one): a new C-ordered sum when kernels timed it faster than adding into
    # the F-ordered array (here the only choice); eager and replay alike
    from tinygrad_lc.core.ops import _accumulate
    from tinygrad_lc.kernels import Choice, products, sums
    monkeypatch.setattr(products, "SMALL", 0)
    monkeypatch.setattr(products, "PRODUCT", Choice("transposed only", [products.TRANSPOSED]))
    monkeypatch.setattr(sums, "MIXED_ADD", Choice("a new sum only", [sums.NEW]))
    monkeypatch.setattr(sums, "SMALL", 0)
    f = np.asfortranarray(np.arange(6.0).reshape(3, 2))
    c = np.ones((3, 2))
    for q, pg in ((f.copy(order="F"), c.copy()), (c.copy(), f.copy(order="F"))):
        out = _accumulate(q, pg)
        assert out.flags.c_contiguous and np.array_equal(out, f + c)
    X, y, W0, _ = _data(11, np.float32)
    X = np.ascontiguousarray(X)
    cf = tg.compile(lambda W, X, y: losses.svm_loss(Tensor(X) @ W, y) + regularizers.l2(W))
    W = Tensor(W0, requires_grad=True)
    text = cf.program(W, X, y)
    last = [line for line in text.splitlines() if "B.accumulate" in line][-1]
    assert "into" not in last, text
    cf(W, X, y).backward()
    assert W.grad.flags.c_contiguous


# ---------------------------------------------------------------------- rebinding captured tensors
def _eager_loss_and_grad(W, X):
    W = Tensor(W.data, requires_grad=True)
    loss = (Tensor(X) @ W).exp().sum()
    loss.backward()
    return loss.item(), W.grad


def _check_rebound(cf, get_W, rebind, X):
    """Call, rebind the captured tensor, call again: the new tensor's loss and gradient, bit
    for bit eager's, none for the old one, and one more trace (then replays again)."""
    old = get_W()
    cf(X).backward()
    rebind(Tensor(np.full((3, 2), 0.5), requires_grad=True))
    new = get_W()
    old.grad = None
    out = cf(X)
    out.backward()
    loss, grad = _eager_loss_and_grad(new, X)
    assert out.item() == loss and old.grad is None
    assert_same(new.grad, grad)
    assert cf.traces == 2
    new.grad = None
    cf(X).backward()  # the new program replays
    assert cf.traces == 2 and new.grad is not None


def test_rebinding_a_global_tensor_traces_again():
    ns = {"Tensor": Tensor, "W": Tensor(np.ones((3, 2)), requires_grad=True)}
    exec("def f(X):\n    return (Tensor(X) @ W).exp().sum()", ns)  # W is a global of f
    _check_rebound(tg.compile(ns["f"]), lambda: ns["W"], lambda t: ns.__setitem__("W", t),
                   np.arange(6.0).reshape(2, 3) / 10)


def test_rebinding_a_closure_variable_traces_again():
    W = Tensor(np.ones((3, 2)), requires_grad=True)

    def f(X):
        return (Tensor(X) @ W).exp().sum()

    def rebind(t):
        nonlocal W
        W = t

    _check_rebound(tg.compile(f), lambda: W, rebind, np.arange(6.0).reshape(2, 3) / 10)


class _Model:
    def __init__(self):
        self.params = {"W": Tensor(np.ones((3, 2)), requires_grad=True)}

    def loss(self, X):
        return (Tensor(X) @ self.params["W"]).exp().sum()


def test_rebinding_an_attribute_of_a_bound_methods_object_traces_again():
    m = _Model()
    _check_rebound(tg.compile(m.loss), lambda: m.params["W"],
                   lambda t: m.params.__setitem__("W", t), np.arange(6.0).reshape(2, 3) / 10)


def test_rebinding_an_attribute_of_an_argument_traces_again():
    m = _Model()
    cf = tg.compile(lambda model, X: model.loss(X))
    X = np.arange(6.0).reshape(2, 3) / 10
    old = m.params["W"]
    cf(m, X).backward()
    m.params["W"] = new = Tensor(np.full((3, 2), 0.5), requires_grad=True)
    old.grad = None
    out = cf(m, X)
    out.backward()
    loss, grad = _eager_loss_and_grad(new, X)
    assert out.item() == loss and old.grad is None and cf.traces == 2
    assert_same(new.grad, grad)


def test_a_model_whose_weights_are_replaced_trains_the_new_ones():
    from tinygrad_lc.models import LinearClassifier

    X, y, _, _ = _data(3, np.float64)
    model = LinearClassifier(D, C, seed=0)
    step = tg.compile(model._batch_loss)  # what fit compiles
    step(X, y)[0].backward()
    model.W = Tensor(np.zeros((D, C)), requires_grad=True, name="W")
    loss, _ = step(X, y)
    loss.backward()
    eager, _ = model._batch_loss(X, y)
    assert loss.item() == eager.item() and model.W.grad is not None


# ---------------------------------------------------------------------- the tracer is per thread
def test_eager_code_in_another_thread_runs_untouched_while_one_thread_traces():
    """The tracer belongs to the tracing thread (a ContextVar): another thread's eager ops,
    constants included (``x + 1.0`` reads the tracer twice), never see a trace start or end
    halfway through them."""
    import sys

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads every microsecond: dense interleaving
    stop, errors = threading.Event(), []

    def eager():
        x = Tensor(np.ones(3))
        try:
            while not stop.is_set():
                for _ in range(100):
                    y = x + 1.0
                assert y.data.sum() == 6 and not y.requires_grad
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def tracing():
        w = Tensor(np.ones(3), requires_grad=True)
        try:
            for _ in range(300):
                if errors:
                    break
                tg.compile(lambda w: (w * w).sum())(w).backward()  # a new trace each time
        finally:
            stop.set()

    threads = [threading.Thread(target=eager) for _ in range(2)]
    threads.append(threading.Thread(target=tracing))
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(old)
        stop.set()
    assert not errors, errors[0]


def test_no_other_thread_sees_the_tracer_of_a_tracing_thread():
    from tinygrad_lc.core import tensor as engine

    inside, done, seen = threading.Event(), threading.Event(), {}

    def f(w):
        inside.set()
        assert done.wait(timeout=60)
        return (w * w).sum()

    w = Tensor(np.ones(2), requires_grad=True)
    thread = threading.Thread(target=lambda: tg.compile(f)(w))
    thread.start()
    try:
        assert inside.wait(timeout=60)
        seen["tracer"] = engine.active_tracer()
        x = Tensor([1.0, 2.0], requires_grad=True)
        (x * 3.0).sum().backward()  # an eager backward here is no "backward inside f"
        seen["grad"] = x.grad.tolist()
    finally:
        done.set()
        thread.join(timeout=60)
    assert seen == {"tracer": None, "grad": [3.0, 3.0]}
