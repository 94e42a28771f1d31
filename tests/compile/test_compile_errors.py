"""tg.compile refuses what it cannot replay with named errors, never a silently wrong replay;
check=True names the first step where a replay and an eager run differ."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lc as tg
from tinygrad_lc import CompileError, Tensor, losses, regularizers

RNG = np.random.default_rng(1)
X = RNG.normal(size=(6, 4))
Y = RNG.integers(0, 3, size=6)


def _W():
    return Tensor(RNG.normal(size=(4, 3)), requires_grad=True, name="W")


def _svm(W, X, y):
    return losses.svm_loss(Tensor(X) @ W, y) + 0.5 * regularizers.l2(W)


# ---------------------------------------------------------------- what f returns
def test_a_non_scalar_result_is_refused():
    cf = tg.compile(lambda W, X: Tensor(X) @ W)
    with pytest.raises(ValueError, match=r"returned a Tensor of shape \(6, 3\).*scalar loss.*"
                                         r"\.sum\(\)"):
        cf(_W(), X)


def test_a_result_that_is_not_a_tensor_is_refused():
    with pytest.raises(TypeError, match="must return a scalar Tensor.*got float"):
        tg.compile(lambda W: float((W * W).sum().item()) if False else 1.0)(_W())
    with pytest.raises(TypeError, match="got a sequence of"):
        tg.compile(lambda W: ((W * W).sum(), 3))(_W())


def test_bad_arguments_of_compile():
    with pytest.raises(TypeError, match="f must be callable"):
        tg.compile(3)
    with pytest.raises(ValueError, match="cache_size must be an int >= 1"):
        tg.compile(_svm, cache_size=0)
    with pytest.raises(TypeError, match="check must be True or False"):
        tg.compile(_svm, check="yes")
    with pytest.raises(TypeError, match="neither a Tensor, an array, nor hashable"):
        tg.compile(lambda W, opts: W.sum())(_W(), {"s": [np.ones(2), bytearray(2)]})


# ---------------------------------------------------------------- shapes between calls
def test_an_input_of_a_new_shape_is_traced_again_not_replayed_wrongly():
    cf = tg.compile(_svm)
    W = _W()
    cf(W, X, Y)
    for n in (3, 6, 1):
        want = _svm(W, X[:n], Y[:n])
        got = cf(W, X[:n], Y[:n])
        assert got.item() == want.item()
    assert cf.traces == 3  # 6 rows, 3 rows, 1 row: each its own program


# ---------------------------------------------------------------- the mutation guard
def test_an_input_changed_while_its_backward_is_pending_is_refused():
    cf = tg.compile(_svm)
    W = _W()
    loss = cf(W, X, Y)
    W.data = W.data + 1.0  # an optimizer step before backward: the saved values are stale
    with pytest.raises(RuntimeError, match=r"tensor 'W' of shape \(4, 3\).*changed in place "
                                           r"after op 'compiled _svm' used it"):
        loss.backward()
    assert W.grad is None
    Xt = Tensor(X)
    cf2 = tg.compile(lambda W, Xt, y: losses.svm_loss(Xt @ W, y))
    loss = cf2(W, Xt, Y)
    Xt.assign_(0.0, index=0)  # a data tensor changed through the API: refused too
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


def test_a_closure_tensor_changed_while_pending_is_refused():
    W = _W()
    cf = tg.compile(lambda X: (Tensor(X) @ W).sum())
    loss = cf(X)
    W.assign_(2.0, index=(0, 0))
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


# ---------------------------------------------------------------- what the tracer refuses
def test_numpy_on_an_array_argument_is_refused():
    cf = tg.compile(lambda W, X: (Tensor(np.tanh(X)) @ W).sum())
    with pytest.raises(CompileError, match=r"uses NumPy.*on the array X \(shape \(6, 4\), "
                                           r"float64\).*frozen into the program"):
        cf(_W(), X)
    for f, what in ((lambda W, X: (Tensor(X.T.T) @ W).sum(), r"\.T"),
                    (lambda W, X: (Tensor(np.sum(X, axis=0)) @ W).sum(), "NumPy"),
                    (lambda W, X: (Tensor(X[:, :4]) @ W).sum(), "indexing"),
                    (lambda W, X: (Tensor(X * 2) @ W).sum(), "operator __mul__"),
                    (lambda W, X: (Tensor(X) @ W).sum() if X[0, 0] > 0 else W.sum(),
                     "indexing")):
        with pytest.raises(CompileError, match=what):
            tg.compile(f)(_W(), X)


def test_reading_a_traced_value_is_refused():
    def by_value(W, X):
        loss = (Tensor(X) @ W).sum()
        return loss * 2 if loss.item() > 0 else loss  # value-dependent control flow

    with pytest.raises(CompileError, match=r"reads the values of a traced tensor.*\.item\(\).*"
                                           "value-dependent control flow is not supported"):
        tg.compile(by_value)(_W(), X)
    for read, what in ((lambda t: t.data, ".data"), (lambda t: t.numpy(), ".numpy()"),
                       (lambda t: np.asarray(t), "np.asarray"), (lambda t: bool(t), "bool")):
        with pytest.raises(CompileError, match=what):
            tg.compile(lambda W, read=read: (read((W * 2).sum()), W.sum())[1])(_W())


def test_reading_constants_is_allowed():
    def f(W):
        c = Tensor(np.arange(3.0))  # a constant: its values are the same on every call
        return (W @ Tensor(c.data * 2)).sum()

    W = _W()
    assert tg.compile(f)(W).item() == f(W).item()


def test_side_effects_inside_are_refused():
    def steps_inside(W, X):
        loss = _svm(W, X, Y)
        loss.backward()
        return loss

    with pytest.raises(CompileError, match=r"backward\(\) is not supported inside"):
        tg.compile(steps_inside)(_W(), X)

    def updates_inside(W, X):
        loss = _svm(W, X, Y)
        W.data = np.zeros((4, 3))
        return loss

    with pytest.raises(CompileError, match="changes a tensor in place"):
        tg.compile(updates_inside)(_W(), X)

    def plain_grad_inside(W, X):
        (g,) = tg.grad(_svm(W, X, Y), W)
        return (g * g).sum()

    with pytest.raises(CompileError, match="without create_graph=True"):
        tg.compile(plain_grad_inside)(_W(), X)


def test_a_recorded_gradient_inside_is_traced():
    def grad_norm(W, X, y):
        (g,) = tg.grad(_svm(W, X, y), W, create_graph=True)
        return (g * g).sum()

    cf = tg.compile(grad_norm)
    for k in range(2):
        Xk = X * (k + 1)
        W1, W2 = _W(), None
        W2 = Tensor(W1.data, requires_grad=True)
        a, b = grad_norm(W1, Xk, Y), cf(W2, Xk, Y)
        a.backward()
        b.backward()
        assert a.item() == b.item() and np.array_equal(W1.grad, W2.grad)


def test_higher_order_through_a_compiled_call_is_refused():
    cf = tg.compile(_svm)
    W = _W()
    with pytest.raises(CompileError, match="create_graph=True.*uncompiled"):
        tg.grad(cf(W, X, Y), W, create_graph=True)


def test_bad_labels_on_a_replay_raise_as_eager():
    cf = tg.compile(_svm)
    W = _W()
    cf(W, X, Y)
    bad = Y.copy()
    bad[2] = 7
    with pytest.raises(ValueError, match=r"svm_loss: labels y must lie in \[0, 2\].*y\[2\] = 7"):
        cf(W, X, bad)
    with pytest.raises(ValueError, match="scores hold 3 NaN"):
        Xn = X.copy()
        Xn[0, 0] = np.nan
        cf(W, Xn, Y)
    assert cf(W, X, Y).item() == _svm(W, X, Y).item()  # the pool was handed back


# ---------------------------------------------------------------- check=True
def test_check_passes_a_faithful_function_and_returns_its_results():
    cf = tg.compile(_svm, check=True)
    W = _W()
    for k in range(3):
        loss = cf(W, X * (k + 1), (Y + k) % 3)
        loss.backward()
    assert cf.traces == 1


def test_check_names_python_that_depends_on_state():
    mode = {"squared": False}

    def f(W, X, y):
        return losses.svm_loss(Tensor(X) @ W, y, squared=mode["squared"])

    cf = tg.compile(f, check=True)
    W = _W()
    cf(W, X, Y)
    mode["squared"] = True
    with pytest.raises(CompileError, match=r"traced differently on this call: at step \d+ the "
                                           r"program has forward step `%\d+ = sum.*this call "
                                           r"made forward step `%\d+ = pow"):
        cf(W, X, Y)
    unchecked = tg.compile(f)  # what check=True guards against: a silently stale program
    mode["squared"] = False
    unchecked(W, X, Y)
    mode["squared"] = True
    assert unchecked(W, X, Y).item() != f(W, X, Y).item()


def test_check_names_a_frozen_constant():
    offsets = {"c": np.zeros(3)}
    cf = tg.compile(lambda W, X: ((Tensor(X) @ W) + offsets["c"]).sum(), check=True)
    W = _W()
    cf(W, X)
    offsets["c"] = np.ones(3)
    with pytest.raises(CompileError, match=r"constant %\d+ \(used by `%\d+ = add.*differs on "
                                           "this call"):
        cf(W, X)


def test_check_names_the_first_step_that_differs(monkeypatch):
    from tinygrad_lc.compile import plan as compile_plan

    cf = tg.compile(_svm, check=True)
    W = _W()
    cf(W, X, Y)
    entry = next(iter(cf._cache.values()))
    steps = entry.check_plan.forward
    k = next(i for i, s in enumerate(entry.program.forward) if s.name == "relu")
    step = steps[k]  # a wrong replay of relu
    steps[k] = compile_plan.runner_step(lambda a: np.maximum(a, 0) + 1e-9, step.out, step.slots)
    with pytest.raises(CompileError, match=r"differs from the eager run at forward step `%\d+ = "
                                           r"relu.*in scope 'svm_loss': op 'relu' \(largest "
                                           r"difference 1e-09\)"):
        cf(W, X, Y)
