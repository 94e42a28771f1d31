"""``tinygrad_lc.cs231n``: the assignment's names, checked against NumPy written out here.

- Each loss function agrees, loss and dW, with a hand-written NumPy version of the same
  formula (float64, to 1e-10) and with the engine's own losses (``losses`` plus
  ``regularizers.l2``), on random data drawn by Hypothesis (sizes, seeds, reg).
- A "student notebook": the assignment's usual calls, unchanged, on small CIFAR-shaped data.
"""
# ruff: noqa: UP031  (the notebook's % formatting, kept as the assignment's notebooks write it)

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_lc import Tensor, losses, regularizers
from tinygrad_lc.cs231n import (
    LinearSVM,
    Softmax,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    softmax_loss_naive,
    softmax_loss_vectorized,
    svm_loss_naive,
    svm_loss_vectorized,
)

TOL = {"rtol": 1e-10, "atol": 1e-10}


# ---------------------------------------------------------------- NumPy, written out
def numpy_svm(W, X, y, reg):
    """Multiclass hinge loss (delta 1, wrong classes only, mean over rows) + reg * sum(W^2)."""
    n = X.shape[0]
    rows = np.arange(n)
    scores = X @ W
    margins = scores - scores[rows, y][:, None] + 1.0
    margins[rows, y] = 0.0
    active = (margins > 0).astype(float)
    loss = np.sum(margins * active) / n + reg * np.sum(W * W)
    # each active wrong class pulls its column up by x_i and the correct column down by x_i
    coef = active.copy()
    coef[rows, y] = -active.sum(axis=1)
    return loss, X.T @ coef / n + 2 * reg * W


def numpy_softmax(W, X, y, reg):
    """Cross-entropy of softmax(X W) (mean over rows) + reg * sum(W^2)."""
    n = X.shape[0]
    rows = np.arange(n)
    scores = X @ W
    scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[rows, y])) + reg * np.sum(W * W)
    probs[rows, y] -= 1.0
    return loss, X.T @ probs / n + 2 * reg * W


def engine_loss(kind, W, X, y, reg):
    """The same loss from the engine's own pieces: losses + regularizers.l2."""
    w = Tensor(W, requires_grad=True)
    scores = Tensor(X) @ w
    data = losses.svm_loss(scores, y) if kind == "svm" else losses.softmax_loss(scores, y)
    total = data + reg * regularizers.l2(w)
    total.backward()
    return total.item(), w.grad


@st.composite
def problems(draw):
    """W (D, C), X (N, D), y, reg from a seed: normal values, the SVM's margins off 0."""
    n, d, c = draw(st.integers(1, 12)), draw(st.integers(1, 8)), draw(st.integers(2, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    W = rng.standard_normal((d, c)) * draw(st.sampled_from([1e-3, 0.1, 1.0]))
    X = rng.standard_normal((n, d)) * draw(st.sampled_from([1.0, 30.0]))
    y = rng.integers(0, c, n)
    reg = draw(st.sampled_from([0.0, 1e-3, 0.5, 2.5e4]))
    scores = X @ W
    assume(np.abs(scores - scores[np.arange(n), y][:, None] + 1.0).min() > 1e-8)
    return W, X, y, reg


@pytest.mark.parametrize("fn, kind, reference", [
    (svm_loss_naive, "svm", numpy_svm), (svm_loss_vectorized, "svm", numpy_svm),
    (softmax_loss_naive, "softmax", numpy_softmax),
    (softmax_loss_vectorized, "softmax", numpy_softmax),
], ids=lambda v: getattr(v, "__name__", v))
@given(problem=problems())
def test_each_loss_agrees_with_numpy_and_with_the_engine(fn, kind, reference, problem):
    W, X, y, reg = problem
    W_before = W.copy()
    loss, dW = fn(W, X, y, reg)
    assert type(loss) is float and type(dW) is np.ndarray
    assert dW.shape == W.shape and dW.dtype == W.dtype
    want_loss, want_dW = reference(W, X, y, reg)
    np.testing.assert_allclose(loss, want_loss, **TOL)
    np.testing.assert_allclose(dW, want_dW, **TOL)
    eng_loss, eng_dW = engine_loss(kind, W, X, y, reg)
    np.testing.assert_allclose(loss, eng_loss, **TOL)
    np.testing.assert_allclose(dW, eng_dW, **TOL)
    np.testing.assert_array_equal(W, W_before)  # W itself is left alone


@pytest.mark.parametrize("fn", [svm_loss_naive, softmax_loss_vectorized])
def test_dW_is_like_W_in_float32_too(fn):
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((4, 3)) * 0.1).astype(np.float32)
    loss, dW = fn(W, rng.standard_normal((5, 4)), rng.integers(0, 3, 5), 0.1)
    assert dW.dtype == np.float32 and dW.shape == (4, 3) and np.isfinite(loss)


@pytest.mark.parametrize("args, match", [
    ((np.zeros((3, 2)), np.zeros((4, 5)), [0, 1, 0, 1], 0.0), r"X has shape \(4, 5\) and W"),
    ((np.zeros((3, 2)), np.zeros((2, 3)), [0, 2], 0.0), "y"),
    ((np.zeros((3, 2)), np.zeros((2, 3)), [0, 1], -1.0), "reg"),
    ((np.zeros(3), np.zeros((2, 3)), [0, 1], 0.0), "W must be a 2-D float array"),
])
def test_bad_input_names_the_function(args, match):
    with pytest.raises((ValueError, TypeError), match=match) as err:
        svm_loss_vectorized(*args)
    assert str(err.value).startswith("svm_loss_vectorized: ")


def test_eval_numerical_gradient_array_is_the_vector_jacobian_product():
    rng = np.random.default_rng(1)
    x, W, dout = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), \
        rng.standard_normal((3, 2))
    dx = eval_numerical_gradient_array(lambda x: x @ W, x, dout)
    np.testing.assert_allclose(dx, dout @ W.T, rtol=1e-7, atol=1e-9)
    with pytest.raises(ValueError, match=r"f returned shape \(3, 2\), but upstream"):
        eval_numerical_gradient_array(lambda x: x @ W, x, dout[:2])


def test_the_classifiers_need_a_train_before_predict():
    with pytest.raises(RuntimeError, match="LinearSVM.predict: train the classifier first"):
        LinearSVM().predict(np.zeros((1, 2)))
    assert repr(Softmax()) == "Softmax(untrained)"


# ---------------------------------------------------------------- a student's notebook
def cifar_like(n, rng, side=8):
    """Images (n, side, side, 3) in 0..255: each class has its own mean image, plus noise."""
    means = np.random.default_rng(10).uniform(40, 215, (10, side, side, 3))
    y = rng.integers(0, 10, n)
    X = np.clip(means[y] + rng.normal(0, 100, (n, side, side, 3)), 0, 255)
    return X, y


def test_a_student_notebook_runs_unchanged(capsys):
    rng = np.random.default_rng(231)
    np.random.seed(231)
    X_train, y_train = cifar_like(800, rng)
    X_val, y_val = cifar_like(100, rng)
    X_dev, y_dev = X_train[:100], y_train[:100]
    # the notebook's preprocessing: flatten, subtract the mean image, append the bias
    X_train = np.reshape(X_train, (X_train.shape[0], -1))
    X_val = np.reshape(X_val, (X_val.shape[0], -1))
    X_dev = np.reshape(X_dev, (X_dev.shape[0], -1))
    mean_image = np.mean(X_train, axis=0)
    X_train -= mean_image
    X_val -= mean_image
    X_dev -= mean_image
    X_train = np.hstack([X_train, np.ones((X_train.shape[0], 1))])
    X_val = np.hstack([X_val, np.ones((X_val.shape[0], 1))])
    X_dev = np.hstack([X_dev, np.ones((X_dev.shape[0], 1))])
    D = X_train.shape[1]

    # --- the SVM: loss, gradient checks, naive against vectorized
    W = np.random.randn(D, 10) * 0.0001
    loss, grad = svm_loss_naive(W, X_dev, y_dev, 0.000005)
    print('loss: %f' % (loss, ))
    assert 8.5 < loss < 9.5  # about C - 1 for tiny weights
    f = lambda w: svm_loss_naive(w, X_dev, y_dev, 0.0)[0]  # noqa: E731
    errors = grad_check_sparse(f, W, grad)
    loss, grad = svm_loss_naive(W, X_dev, y_dev, 5e1)
    f = lambda w: svm_loss_naive(w, X_dev, y_dev, 5e1)[0]  # noqa: E731
    errors = np.concatenate([errors, grad_check_sparse(f, W, grad)])
    assert np.median(errors) < 1e-5  # a kink crossed now and then, as the assignment says

    tic = time.time()
    loss_naive, grad_naive = svm_loss_naive(W, X_dev, y_dev, 0.000005)
    toc = time.time()
    print('Naive loss: %e computed in %fs' % (loss_naive, toc - tic))
    tic = time.time()
    loss_vectorized, grad_vectorized = svm_loss_vectorized(W, X_dev, y_dev, 0.000005)
    toc = time.time()
    print('Vectorized loss: %e computed in %fs' % (loss_vectorized, toc - tic))
    print('difference: %f' % (loss_naive - loss_vectorized))
    difference = np.linalg.norm(grad_naive - grad_vectorized, ord='fro')
    print('difference: %f' % difference)
    assert abs(loss_naive - loss_vectorized) < 1e-12 and difference < 1e-10

    # --- SGD and the validation search
    svm = LinearSVM()
    tic = time.time()
    loss_hist = svm.train(X_train, y_train, learning_rate=1e-7, reg=2.5e4,
                          num_iters=300, verbose=True)
    toc = time.time()
    print('That took %fs' % (toc - tic))
    assert len(loss_hist) == 300 and loss_hist[-1] < loss_hist[0]
    y_train_pred = svm.predict(X_train)
    print('training accuracy: %f' % (np.mean(y_train == y_train_pred), ))
    y_val_pred = svm.predict(X_val)
    print('validation accuracy: %f' % (np.mean(y_val == y_val_pred), ))

    learning_rates = [1e-7, 5e-6]
    regularization_strengths = [2.5e4, 5e4]
    results = {}
    best_val = -1
    best_svm = None
    for lr in learning_rates:
        for reg in regularization_strengths:
            svm = LinearSVM()
            svm.train(X_train, y_train, learning_rate=lr, reg=reg, num_iters=100)
            train_accuracy = np.mean(y_train == svm.predict(X_train))
            val_accuracy = np.mean(y_val == svm.predict(X_val))
            results[(lr, reg)] = (train_accuracy, val_accuracy)
            if val_accuracy > best_val:
                best_val = val_accuracy
                best_svm = svm
    for lr, reg in sorted(results):
        train_accuracy, val_accuracy = results[(lr, reg)]
        print('lr %e reg %e train accuracy: %f val accuracy: %f' % (
            lr, reg, train_accuracy, val_accuracy))
    print('best validation accuracy achieved during cross-validation: %f' % best_val)
    assert best_val > 0.3  # 10 classes: chance is 0.1

    # the weights as images
    w = best_svm.W[:-1, :]  # strip out the bias
    w = w.reshape(8, 8, 3, 10)
    w_min, w_max = np.min(w), np.max(w)
    for i in range(10):
        wimg = 255.0 * (w[:, :, :, i].squeeze() - w_min) / (w_max - w_min)
        assert wimg.shape == (8, 8, 3) and 0 <= wimg.min() and wimg.max() <= 255

    # --- softmax
    W = np.random.randn(D, 10) * 0.0001
    loss, grad = softmax_loss_naive(W, X_dev, y_dev, 0.0)
    print('loss: %f' % loss)
    print('sanity check: %f' % (-np.log(0.1)))
    assert abs(loss - -np.log(0.1)) < 0.1
    f = lambda w: softmax_loss_naive(w, X_dev, y_dev, 0.0)[0]  # noqa: E731
    assert grad_check_sparse(f, W, grad, 10).max() < 1e-4
    loss, grad = softmax_loss_naive(W, X_dev, y_dev, 5e1)
    f = lambda w: softmax_loss_naive(w, X_dev, y_dev, 5e1)[0]  # noqa: E731
    assert grad_check_sparse(f, W, grad, 10).max() < 1e-4
    loss_naive, grad_naive = softmax_loss_naive(W, X_dev, y_dev, 0.000005)
    loss_vectorized, grad_vectorized = softmax_loss_vectorized(W, X_dev, y_dev, 0.000005)
    grad_difference = np.linalg.norm(grad_naive - grad_vectorized, ord='fro')
    print('Loss difference: %f' % np.abs(loss_naive - loss_vectorized))
    print('Gradient difference: %f' % grad_difference)
    assert grad_difference < 1e-10
    softmax = Softmax()
    softmax.train(X_train, y_train, learning_rate=5e-6, reg=2.5e4, num_iters=100)
    val_accuracy = np.mean(y_val == softmax.predict(X_val))
    print('softmax on raw pixels final validation set accuracy: %f' % (val_accuracy, ))
    assert val_accuracy > 0.3

    # --- the other gradient checks of the assignment, on a toy problem as it uses them
    W_toy, X_toy, y_toy = np.random.randn(10, 3) * 0.1, np.random.randn(5, 10), \
        np.array([0, 1, 2, 2, 1])
    f = lambda W: softmax_loss_vectorized(W, X_toy, y_toy, 0.1)[0]  # noqa: E731
    grad_num = eval_numerical_gradient(f, W_toy, verbose=False)
    _, grad_ana = softmax_loss_vectorized(W_toy, X_toy, y_toy, 0.1)
    np.testing.assert_allclose(grad_num, grad_ana, rtol=1e-7, atol=1e-9)
    dout = np.random.randn(5, 3)
    dx_num = eval_numerical_gradient_array(lambda x: x.dot(W_toy), X_toy, dout)
    np.testing.assert_allclose(dx_num, dout.dot(W_toy.T), rtol=1e-7, atol=1e-9)
    printed = capsys.readouterr().out
    assert "training accuracy" in printed and "fit: step 300/300" in printed
