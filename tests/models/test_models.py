"""Tests of tinygrad_lc/models.py: LinearClassifier, random_search, example 03."""

from __future__ import annotations

import copy
import math
import runpy
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.data import make_blobs
from tinygrad_lc.losses import softmax_loss, svm_loss
from tinygrad_lc.models import LinearClassifier, random_search
from tinygrad_lc.util import checkpoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(60, num_classes=3, seed=0)
    return X[:150], y[:150], X[150:], y[150:]


# ---------------------------------------------------------------- LinearClassifier
def test_parameters_and_seeding():
    m = LinearClassifier(5, 3, seed=7)
    assert m.W.shape == (5, 3) and m.b.shape == (3,)
    assert m.W.requires_grad and m.b.requires_grad and m.W.name == "W"
    assert np.all(m.b.data == 0) and 0 < np.abs(m.W.data).max() < 1e-3
    np.testing.assert_array_equal(m.W.data, LinearClassifier(5, 3, seed=7).W.data)
    assert isinstance(m.rng, np.random.Generator) and m.optimizer is None
    no_bias = LinearClassifier(5, 3, bias=False, dtype=np.float32)
    assert no_bias.b is None and no_bias.params == [no_bias.W] and no_bias.W.dtype == np.float32


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_fit_separates_blobs(blobs, loss):
    X, y, X_test, y_test = blobs
    m = LinearClassifier(2, 3, loss=loss, reg=1e-3, seed=0)
    history = m.fit(X, y, lr=0.05, num_iters=200, batch_size=50)
    assert len(history) == 200 and all(isinstance(v, float) for v in history)
    assert np.mean(history[-20:]) < 0.3 * history[0]
    assert m.score(X, y) >= 0.95 and m.score(X_test, y_test) >= 0.95
    assert isinstance(m.optimizer, tg.optim.SGD) and m.step_count == 200


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_scores_and_dtype(blobs, dtype):
    X, y, _, _ = blobs
    m = LinearClassifier(2, 3, loss="softmax", dtype=dtype, seed=0)
    m.fit(X, y, lr=0.05, num_iters=50, batch_size=30)
    s = m.scores(X)
    assert s.shape == (150, 3) and s.dtype == dtype and m.W.dtype == dtype
    np.testing.assert_allclose(s, X @ m.W.data + m.b.data, rtol=1e-5)
    pred = m.predict(X)
    assert pred.dtype == np.int64 and np.array_equal(pred, np.argmax(s, axis=1))
    assert m.score(X, y) == np.mean(pred == y)


@pytest.mark.parametrize("regularizer", ["l2", "l1", "elastic_net"])
@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_loss_is_data_plus_reg_and_bias_is_not_regularized(blobs, regularizer, loss):
    X, y, _, _ = blobs
    m = LinearClassifier(2, 3, loss=loss, reg=0.3, regularizer=regularizer, weight_scale=0.5,
                         seed=3, beta=0.7)
    m.b.data = np.array([0.1, -0.2, 0.3])
    W, b = m.W.data, m.b.data
    data_fn = svm_loss if loss == "svm" else softmax_loss
    penalty = {"l2": np.sum(W**2), "l1": np.sum(np.abs(W)),
               "elastic_net": np.sum(0.7 * W**2 + np.abs(W))}[regularizer]
    total = m.loss(X, y)
    assert total.item() == pytest.approx(data_fn(X @ W + b, y).item() + 0.3 * penalty, rel=1e-12)
    total.backward()
    bt = Tensor(b, requires_grad=True)
    data_fn(X @ W + bt, y).backward()
    np.testing.assert_allclose(m.b.grad, bt.grad, rtol=1e-12)  # no reg term on b


@pytest.mark.parametrize("delta", [0.5, 2.5])
def test_delta_is_the_svm_margin_of_loss_and_fit(blobs, delta):
    X, y, _, _ = blobs
    m = LinearClassifier(2, 3, seed=3, delta=delta)
    W, b = m.W.data.copy(), m.b.data.copy()
    want = svm_loss(X @ W + b, y, delta=delta).item()
    assert want == pytest.approx(2 * delta, rel=1e-2)  # (C - 1) * delta for W near 0
    assert m.loss(X, y).item() == pytest.approx(want, rel=1e-12)
    idx = copy.deepcopy(m.rng).integers(0, len(y), size=40)  # fit's first minibatch
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the initial-loss check expects (C - 1) * delta too
        history = m.fit(X, y, lr=1e-3, num_iters=1, batch_size=40)
    assert history[0] == pytest.approx(svm_loss(X[idx] @ W + b, y[idx], delta=delta).item(),
                                       rel=1e-12)


def test_initial_loss_warning(blobs):
    X, y, _, _ = blobs
    m = LinearClassifier(2, 3, weight_scale=10.0, seed=0)
    with pytest.warns(UserWarning, match=r"fit: the initial data loss is [\d.]+ .*expected about "
                                         r"2 = \(C - 1\) \* delta"):
        m.fit(X, y, lr=1e-3, num_iters=3, batch_size=20)
    soft = LinearClassifier(2, 3, loss="softmax", weight_scale=10.0, seed=0)
    with pytest.warns(UserWarning, match=r"expected about 1.099 = ln C = ln 3"):
        soft.fit(X, y, lr=1e-3, num_iters=1, batch_size=20)


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_no_warning_with_defaults(blobs, loss):
    X, y, _, _ = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = LinearClassifier(2, 3, loss=loss, reg=10.0, seed=0)
        m.fit(X, y, num_iters=5)
        m.fit(X, y, num_iters=5)  # a second fit starts trained: no check, no warning


def test_lr_decay_per_epoch_and_callback(blobs):
    X, y, _, _ = blobs  # N = 150, batch 50: an epoch is 3 steps
    m = LinearClassifier(2, 3, seed=0)
    calls = []
    history = m.fit(X, y, lr=0.1, num_iters=10, batch_size=50, lr_decay=0.5,
                    callback=lambda step, loss: calls.append((step, loss)))
    assert m.optimizer.lr == pytest.approx(0.1 * 0.5**3)
    assert calls == list(enumerate(history))


def test_verbose_prints_progress(blobs, capsys):
    X, y, _, _ = blobs
    LinearClassifier(2, 3, seed=0).fit(X, y, num_iters=20, batch_size=10, verbose=True)
    out = capsys.readouterr().out
    assert "fit: step 1/20 loss" in out and "fit: step 20/20 loss" in out


# ---------------------------------------------------------------- train: the notebook's name
def test_train_is_fit_under_the_assignments_names(blobs, capsys):
    X, y, _, _ = blobs
    a = LinearClassifier(2, 3, loss="softmax", seed=3)
    history = a.train(X, y, learning_rate=0.05, reg=2e-3, num_iters=30, batch_size=16,
                      verbose=True)
    b = LinearClassifier(2, 3, loss="softmax", reg=2e-3, seed=3)
    assert history == b.fit(X, y, lr=0.05, num_iters=30, batch_size=16)
    np.testing.assert_array_equal(a.W.data, b.W.data)
    assert a.reg == 2e-3 and "fit: step 30/30 loss" in capsys.readouterr().out
    kept = LinearClassifier(2, 3, reg=0.5, seed=3)
    assert len(kept.train(X, y)) == 100  # the notebook's defaults: 100 steps, reg kept
    assert kept.reg == 0.5


def test_train_with_bad_input_leaves_reg_as_it_was(blobs):
    X, y, _, _ = blobs
    model = LinearClassifier(2, 3, reg=0.5, seed=3)
    with pytest.raises(ValueError, match="train: reg"):
        model.train(X, y, reg=-1.0)
    with pytest.raises(ValueError, match="fit: X"):
        model.train(X[:, :1], y, reg=0.1)
    assert model.reg == 0.5 and model.optimizer is None


def test_minibatches_are_seeded(blobs):
    X, y, _, _ = blobs
    runs = [LinearClassifier(2, 3, seed=5).fit(X, y, lr=0.05, num_iters=30, batch_size=16)
            for _ in range(2)]
    assert runs[0] == runs[1]
    other = LinearClassifier(2, 3, seed=6).fit(X, y, lr=0.05, num_iters=30, batch_size=16)
    assert other != runs[0]


def _config():
    return dict(num_features=2, num_classes=3, loss="softmax", reg=1e-2, seed=11)


def test_resume_is_bit_identical(blobs, tmp_path):
    X, y, _, _ = blobs
    fit_kw = dict(lr=0.05, batch_size=32, momentum=0.9, lr_decay=0.9)
    straight = LinearClassifier(**_config())
    h_all = straight.fit(X, y, num_iters=20, **fit_kw)

    first = LinearClassifier(**_config())
    h1 = first.fit(X, y, num_iters=8, **fit_kw)
    state = first.state_dict()
    path = checkpoint.save_checkpoint(tmp_path / "model.npz", state)
    resumed = LinearClassifier(**{**_config(), "seed": 999})  # everything comes from the state
    resumed.load_state_dict(checkpoint.load_checkpoint(path))
    h2 = resumed.fit(X, y, num_iters=12, resume=True, **fit_kw)

    assert h1 + h2 == h_all
    np.testing.assert_array_equal(resumed.W.data, straight.W.data)
    np.testing.assert_array_equal(resumed.b.data, straight.b.data)
    assert resumed.optimizer.lr == straight.optimizer.lr and resumed.step_count == 20


def test_load_state_dict_copies_and_validates():
    m = LinearClassifier(2, 3, seed=0)
    d = m.state_dict()
    assert d["optimizer"] is None and d["step_count"] == 0
    other = LinearClassifier(2, 3, seed=1)
    other.load_state_dict(d)
    d["W"][:] = 5.0  # the model holds its own copy
    assert not np.any(other.W.data == 5.0)
    with pytest.raises(ValueError, match="LinearClassifier.load_state_dict: W has shape"):
        LinearClassifier(4, 3).load_state_dict(m.state_dict())
    with pytest.raises(ValueError, match="b is None"):
        m.load_state_dict({**m.state_dict(), "b": None})
    with pytest.raises(ValueError, match="expected the keys"):
        m.load_state_dict({"W": d["W"]})
    with pytest.raises(ValueError, match="random generator"):
        m.load_state_dict({**m.state_dict(), "rng": {"bit_generator": "MT19937"}})


def test_resume_needs_an_optimizer(blobs):
    X, y, _, _ = blobs
    with pytest.raises(ValueError, match="fit: resume=True needs an optimizer"):
        LinearClassifier(2, 3).fit(X, y, num_iters=1, resume=True)


def test_divergence_is_reported(blobs):
    X, y, _, _ = blobs
    m = LinearClassifier(2, 3, reg=1.0, seed=0)
    with np.errstate(over="ignore", invalid="ignore"), \
            pytest.raises(FloatingPointError, match=r"fit: .* diverged; lower the learning rate"):
        m.fit(X, y, lr=1e3, num_iters=1000, batch_size=10)
    assert np.all(np.isfinite(m.W.data))


@pytest.mark.parametrize("make,error,text", [
    (lambda: LinearClassifier(0, 3), ValueError, "num_features must be an integer >= 1"),
    (lambda: LinearClassifier(2, 1), ValueError, "num_classes must be an integer >= 2"),
    (lambda: LinearClassifier("2", 3), TypeError, "num_features must be an integer"),
    (lambda: LinearClassifier(2, 3, loss="hinge"), ValueError, "'svm', 'softmax', got 'hinge'"),
    (lambda: LinearClassifier(2, 3, regularizer="l3"), ValueError, "'l2', 'l1', 'elastic_net'"),
    (lambda: LinearClassifier(2, 3, reg=-1.0), ValueError, "reg must be a finite number >= 0"),
    (lambda: LinearClassifier(2, 3, weight_scale=float("nan")), ValueError, "weight_scale"),
    (lambda: LinearClassifier(2, 3, dtype=np.int64), TypeError, "np.float64 or np.float32"),
    (lambda: LinearClassifier(2, 3, dtype="nonsense"), TypeError, "np.float64 or np.float32"),
    (lambda: LinearClassifier(2, 3, bias=1), TypeError, "bias must be True or False"),
])
def test_constructor_validates(make, error, text):
    with pytest.raises(error, match="LinearClassifier") as info:
        make()
    assert text in str(info.value)


@pytest.mark.parametrize("args,kw,error,text", [
    ((np.ones((4, 3)), [0, 1, 2, 0]), {}, ValueError, "X has 3 features per row"),
    ((np.ones(4), [0, 1, 2, 0]), {}, ValueError, "X must be 2-D"),
    ((np.ones((0, 2)), []), {}, ValueError, "N > 0"),
    ((np.ones((4, 2)), [0.0, 1.0, 2.0, 0.0]), {}, ValueError, "must be integers"),
    ((np.ones((4, 2)), [0, 1, 3, 0]), {}, ValueError, "[0, 2] for 3 classes"),
    ((np.ones((4, 2)), [0, 1]), {}, ValueError, "shape (4,)"),
    ((np.ones((4, 2)), [0, 1, 2, 0]), {"batch_size": 0}, ValueError, "batch_size"),
    ((np.ones((4, 2)), [0, 1, 2, 0]), {"batch_size": 2.0}, TypeError, "batch_size"),
    ((np.array([[0.0, np.nan]] * 4), [0, 1, 2, 0]), {}, ValueError, "X holds 4 NaN or inf"),
    ((np.array([[0.0, np.inf]] * 4), [0, 1, 2, 0]), {}, ValueError, "NaN or infinite"),
    ((np.ones((4, 2)), [0, 1, 2, 0]), {"num_iters": -1}, ValueError, "num_iters"),
    ((np.ones((4, 2)), [0, 1, 2, 0]), {"lr_decay": 0.0}, ValueError, "lr_decay"),
    ((np.ones((4, 2)), [0, 1, 2, 0]), {"lr": 0.0}, ValueError, "lr must be"),
    ((np.ones((4, 2)), [0, 1, 2, 0]), {"momentum": 1.0}, ValueError, "momentum must be"),
    ((np.ones((4, 2)), [0, 1, 2, 0]), {"callback": 3}, TypeError, "callback must be callable"),
])
def test_fit_validates(args, kw, error, text):
    with pytest.raises(error) as info:
        LinearClassifier(2, 3).fit(*args, **kw)
    assert text in str(info.value)
    assert str(info.value).startswith("fit:")


def test_inference_validates():
    m = LinearClassifier(2, 3)
    with pytest.raises(ValueError, match="LinearClassifier.predict: X has 5 features"):
        m.predict(np.ones((3, 5)))
    with pytest.raises(ValueError, match="LinearClassifier.scores: X holds 1 NaN"):
        m.scores(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="LinearClassifier.score: X must be 2-D"):
        m.score(np.ones(2), [0, 1])
    with pytest.raises(ValueError, match="LinearClassifier.score: labels y"):
        m.score(np.ones((3, 2)), [0, 1])


# ---------------------------------------------------------------- random_search
def test_random_search_keeps_the_best(blobs):
    X, y, _, _ = blobs
    Xb = np.hstack([X, np.ones((len(X), 1))])
    W10, best10 = random_search(Xb, y, num_tries=10, scale=0.1, seed=4)
    W100, best100 = random_search(Xb, y, num_tries=100, scale=0.1, seed=4)
    assert W10.shape == (3, 3) and best100 <= best10  # the first 10 draws are the same
    assert best100 == pytest.approx(svm_loss(Xb @ W100, y).item(), rel=1e-12)
    rng = np.random.default_rng(4)
    draws = [0.1 * rng.standard_normal((3, 3)) for _ in range(10)]
    assert best10 == min(svm_loss(Xb @ w, y).item() for w in draws)
    _, soft = random_search(Xb, y, loss="softmax", num_tries=5, seed=0)
    assert soft == pytest.approx(math.log(3), rel=1e-3)  # tiny weights: ln C


def test_random_search_infers_classes():
    W, _ = random_search(np.ones((3, 2)), np.array([0, 4, 1]), num_tries=2, seed=0)
    assert W.shape == (2, 5)


@pytest.mark.parametrize("args,kw,error,text", [
    ((np.ones(3), [0, 1, 2]), {}, ValueError, "X must be 2-D"),
    ((np.ones((3, 2)), [0.0, 1.0, 2.0]), {}, ValueError, "must be integers"),
    ((np.ones((3, 2)), [0, 1]), {}, ValueError, "shape (3,)"),
    ((np.ones((3, 2)), [0, -1, 2]), {}, ValueError, "y[1] = -1"),
    ((np.ones((3, 2)), [0, 1, 2]), {"loss": "hinge"}, ValueError, "loss must be one of"),
    ((np.ones((3, 2)), [0, 1, 2]), {"num_tries": 0}, ValueError, "num_tries"),
    ((np.ones((3, 2)), [0, 1, 2]), {"scale": 0.0}, ValueError, "scale must be"),
])
def test_random_search_validates(args, kw, error, text):
    with pytest.raises(error, match="random_search") as info:
        random_search(*args, **kw)
    assert text in str(info.value)


# ---------------------------------------------------------------- the example script
def test_example_03_compares_random_search_and_sgd(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    ns = runpy.run_path(str(ROOT / "examples" / "03_train_linear.py"), run_name="__main__")
    out = capsys.readouterr().out
    results = ns["compare"](2)  # the same numbers again: everything is seeded
    assert f"test accuracy {results['random_acc']:.2f}" in out
    assert results["svm_acc"] >= 0.95 and results["softmax_acc"] >= 0.95
    assert results["random_acc"] >= 0.9
    assert abs(results["svm_first"] - 2.0) < 0.05 and abs(results["softmax_first"] - 1.0986) < 0.05
    for line in ("SGD, svm loss,", "SGD, softmax loss,", "random search (1000 tries)"):
        assert line in out
    table = {int(r.split()[0]): [float(v) for v in r.split()[1:]]
             for r in out.splitlines() if len(r.split()) == 4 and r.split()[0].isdigit()}
    assert set(table) == {2, 20, 100}
    assert table[100][0] < min(table[100][1:])  # noise features hurt random search most


def test_random_search_num_classes_sizes_w_beyond_the_labels_seen():
    X, y = make_blobs(5, num_classes=3, seed=0)
    keep = y < 2  # a sample in which class 2 never appears
    W, _ = random_search(X[keep], y[keep], num_tries=3, seed=0, num_classes=3)
    assert W.shape == (2, 3)
    W2, _ = random_search(X[keep], y[keep], num_tries=3, seed=0)
    assert W2.shape == (2, 2)
    with pytest.raises(ValueError, match="random_search"):
        random_search(X, y, num_tries=3, seed=0, num_classes=2)  # label 2 out of range


def test_fit_records_the_last_minibatch_accuracy():
    X, y = make_blobs(30, seed=1)
    model = LinearClassifier(2, 3, loss="softmax", seed=0)
    seen = []
    model.fit(X, y, lr=0.5, num_iters=20, batch_size=len(y),
              callback=lambda step, loss: seen.append(model.last_batch_accuracy))
    # with the whole set as the batch, the step's accuracy is the accuracy before its update
    assert 0.0 <= min(seen) and max(seen) <= 1.0 and seen[-1] > seen[0]


# ---------------------------------------------------------------- failed loads change nothing
def _full_state(model: LinearClassifier) -> dict:
    """Everything a load could change, as comparable plain data (arrays as bytes)."""
    opt = model.optimizer
    return {
        "W": (model.W.data.dtype, model.W.data.tobytes()),
        "b": None if model.b is None else model.b.data.tobytes(),
        "rng": model.rng.bit_generator.state,
        "step_count": model.step_count,
        "optimizer": None if opt is None else (id(opt), opt.lr, opt.momentum, opt.nesterov, [
            None if v is None else v.tobytes() for v in opt.velocity]),
    }


def _other_state() -> dict:
    """A valid state unlike the model's in every entry, so a partial load would show."""
    X, y = make_blobs(10, seed=5)
    other = LinearClassifier(2, 3, seed=7)
    other.fit(X, y, lr=0.3, num_iters=7, batch_size=4, momentum=0.5)
    return other.state_dict()


def _set(key, value):
    return lambda d: d.update({key: value})


def _set_in(key, sub, value):
    return lambda d: d[key].update({sub: value})


BAD_MODEL_STATES = {
    # the generator: refused outright, or after NumPy already set part of it
    "rng not a dict": _set("rng", "PCG64"),
    "rng of another kind": _set_in("rng", "bit_generator", "MT19937"),
    "rng half applied": _set_in("rng", "uinteger", -5),
    "rng state out of range": lambda d: d["rng"].update(state={"state": -1, "inc": 1}),
    # the weights
    "W of strings": _set("W", np.full((2, 3), "x")),
    "W holding NaN": _set("W", np.array([[0.0, np.nan, 0.0], [0.0, 0.0, 0.0]])),
    "W holding inf": _set("W", np.full((2, 3), np.inf)),
    "W ragged": _set("W", [[1.0, 2.0, 3.0], [1.0]]),
    "W of objects": _set("W", np.full((2, 3), None)),
    "W of another shape": _set("W", np.zeros((3, 2))),
    "b holding NaN": _set("b", np.array([0.0, np.nan, 1.0])),
    "b of another shape": _set("b", np.zeros(4)),
    "b missing": _set("b", None),
    # the optimizer
    "optimizer not a dict": _set("optimizer", [0.1]),
    "optimizer lr negative": _set_in("optimizer", "lr", -1.0),
    "optimizer velocity NaN": lambda d: d["optimizer"].update(
        velocity=[np.full((2, 3), np.nan), d["optimizer"]["velocity"][1]]),
    "optimizer key missing": lambda d: d["optimizer"].pop("momentum"),
    # the rest
    "step_count negative": _set("step_count", -1),
    "step_count fractional": _set("step_count", 2.5),
    "extra key": _set("epoch", 3),
}


@pytest.mark.parametrize("damage", BAD_MODEL_STATES.values(), ids=BAD_MODEL_STATES.keys())
def test_a_failed_load_state_dict_changes_nothing(damage):
    X, y = make_blobs(10, seed=0)
    model = LinearClassifier(2, 3, seed=0)
    model.fit(X, y, lr=0.1, num_iters=3, batch_size=5, momentum=0.9)
    before = _full_state(model)
    d = _other_state()
    damage(d)
    with pytest.raises((ValueError, TypeError), match="load_state_dict"):
        model.load_state_dict(d)
    assert _full_state(model) == before
    model.fit(X, y, num_iters=1, batch_size=5, resume=True)  # and it still trains


def test_load_state_dict_refuses_weights_beyond_the_models_float32():
    model = LinearClassifier(2, 3, dtype=np.float32, seed=0)
    before = _full_state(model)
    d = model.state_dict()
    d["W"] = np.full((2, 3), 1e300)  # finite float64, inf as float32
    with pytest.raises(ValueError, match=r"W holds 6 NaN or infinite value\(s\) \(as float32\)"):
        model.load_state_dict(d)
    assert _full_state(model) == before


def test_a_decay_to_a_zero_rate_keeps_training_and_the_history():
    # 10 examples in batches of 10: one epoch per step, so 0.1 * 0.5**k underflows to 0.0
    # after about 1,065 steps; the run must go on (at rate 0), not fail and lose the history
    X, y = make_blobs(4, seed=0)
    X, y = X[:10], y[:10]
    model = LinearClassifier(2, 3, seed=0)
    history = model.fit(X, y, lr=0.1, lr_decay=0.5, num_iters=1200, batch_size=10)
    assert len(history) == 1200 and model.optimizer.lr == 0.0
    W = model.W.data.copy()
    restored = LinearClassifier(2, 3, seed=1)
    restored.load_state_dict(model.state_dict())  # a checkpoint of it loads
    restored.fit(X, y, num_iters=5, batch_size=10, lr_decay=0.5, resume=True)
    np.testing.assert_array_equal(restored.W.data, W)  # rate 0: the weights stay


def test_a_decay_that_overflows_the_rate_says_so():
    X, y = make_blobs(4, seed=0)
    model = LinearClassifier(2, 3, seed=0)
    with pytest.raises(FloatingPointError, match="lr_decay=1e\\+300 grew the learning rate"):
        model.fit(X, y, lr=1e-3, lr_decay=1e300, num_iters=5, batch_size=len(y))


@pytest.mark.parametrize("make", [
    lambda: LinearClassifier(2, 3, reg=1.0, weight_scale=1e200, seed=0),  # only reg * W^2 inf
    lambda: __import__("tinygrad_lc.models", fromlist=["MLPClassifier"]).MLPClassifier(
        2, 3, hidden=(8,), weight_scale=1e300, seed=0),
])
def test_non_finite_scores_or_loss_before_any_update_name_the_initial_weights(blobs, make):
    """At step 0 nothing has been updated: the learning rate is not the cause."""
    X, y, _, _ = blobs
    m = make()
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(
            FloatingPointError, match=r"fit: the (scores are|loss is) NaN or infinite at step 0, "
                                      r"before any update, so the learning rate is not the "
                                      r"cause: the initial weights \(weight_scale=1e\+[23]00\)"
                                      r".*lower weight_scale") as err:
        m.fit(X, y, lr=1e-3, num_iters=5, batch_size=10)
    assert "lower the learning rate" not in str(err.value)


def test_the_cli_names_weight_scale_not_the_learning_rate(capsys, tmp_path):
    from tinygrad_lc import cli

    for model in ("linear", "mlp"):
        rc = cli.main(["train", "--dataset", "blobs", "--model", model, "--weight-scale",
                       "1e300", "--iters", "5", "--quiet", "--out", str(tmp_path / model)])
        err = capsys.readouterr().err
        assert rc == 1 and "before any update" in err and "--weight-scale" in err, err
        assert "lower the learning rate" not in err
