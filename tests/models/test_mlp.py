"""Tests of tinygrad_lc/mlp.py (MLPClassifier) and of the two-layer net on the command line:
train --model mlp (digits beats the linear model for seeds 0-4), resume, gradcheck and graph."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lc import cli
from tinygrad_lc.data import make_blobs
from tinygrad_lc.gradcheck import gradcheck_report
from tinygrad_lc.models import MLPClassifier
from tinygrad_lc.optim import SGD, Adam
from tinygrad_lc.util import checkpoint


def blobs(n=40, seed=0):
    return make_blobs(n, num_classes=3, seed=seed)


def weights_of(model):
    return [p.data.copy() for p in model.params]


# ---------------------------------------------------------------------- the model
def test_fit_learns_blobs_and_records_a_history_per_epoch():
    X, y = blobs()
    Xv, yv = blobs(10, seed=1)
    model = MLPClassifier(2, 3, hidden=(16,), optimizer="adam", seed=0)
    losses = model.fit(X, y, lr=1e-2, num_iters=50, batch_size=30, X_val=Xv, y_val=yv)
    assert len(losses) == 50 and all(math.isfinite(v) for v in losses)
    h = model.history
    assert h["epoch"] == list(range(1, 13))  # 120 rows, batch 30: 4 steps per epoch
    assert len(h["loss"]) == len(h["train_accuracy"]) == len(h["val_accuracy"]) == 12
    assert h["loss"][-1] < h["loss"][0] and h["val_accuracy"][-1] > 0.9
    assert model.score(X, y) > 0.9 and model.predict(X).dtype == np.int64
    assert model.scores(X).shape == (120, 3)
    without_val = MLPClassifier(2, 3, hidden=(16,), seed=0)
    without_val.fit(X, y, lr=1e-2, num_iters=8, batch_size=30)
    assert all(math.isnan(v) for v in without_val.history["val_accuracy"])


def test_the_history_loss_is_the_full_loss_on_the_first_training_rows():
    X, y = blobs()
    model = MLPClassifier(2, 3, hidden=(8,), reg=0.1, seed=0)
    model.fit(X, y, lr=0.1, num_iters=4, batch_size=30)
    assert model.history["loss"] == [pytest.approx(model.loss(X, y).item(), rel=1e-12)]
    assert model.history["train_accuracy"] == [model.score(X, y)]


def test_reg_penalizes_the_weights_but_not_the_biases():
    X, y = blobs(5)
    plain = MLPClassifier(2, 3, hidden=(4, 5), seed=0)
    regd = MLPClassifier(2, 3, hidden=(4, 5), reg=0.5, seed=0)
    for m in (plain, regd):
        for p in m.params:
            p.data = p.data + 0.3
    weights = sum(float(np.sum(m.W.data ** 2)) for m in regd.net if hasattr(m, "W"))
    a, b = plain.loss(X, y), regd.loss(X, y)
    assert b.item() == pytest.approx(a.item() + 0.5 * weights, rel=1e-12)
    a.backward()
    b.backward()
    for (name, p), q in zip(regd.net.named_parameters(), plain.params):
        if name.endswith(".b"):
            np.testing.assert_array_equal(p.grad, q.grad)
        else:
            np.testing.assert_allclose(p.grad, q.grad + 2 * 0.5 * p.data, rtol=1e-12)


@pytest.mark.parametrize("loss", ["softmax", "svm"])
def test_gradcheck_passes_on_the_full_loss_and_reports_relu_kinks(loss):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    model = MLPClassifier(4, 3, hidden=(5,), loss=loss, reg=0.1, seed=0)
    first = model.net[0]
    # hidden unit 2 of example 0 sits 1e-7 from the ReLU's kink (the step is 1e-6)
    first.b.data = first.b.data + (1e-7 - (X[0] @ first.W.data + first.b.data)[2]) * np.eye(5)[2]
    report = gradcheck_report(lambda *p: model.loss(X, y), model.params)
    assert report.passed, str(report)
    relu = [k for k in report.kinks if k.op == "relu"]
    assert relu and all(k.scope == "MLP/ReLU1" for k in relu)
    assert {k.input for k in relu} <= {"'W1' (input 0)", "'b1' (input 1)"}


def test_lr_decays_once_per_epoch():
    X, y = blobs()  # 120 rows, batch 40: 3 steps per epoch
    for name in ("sgd", "momentum", "adam"):
        model = MLPClassifier(2, 3, hidden=(4,), optimizer=name, seed=0)
        model.fit(X, y, lr=0.01, num_iters=7, batch_size=40, lr_decay=0.5)
        assert model.optimizer.lr == pytest.approx(0.0025)


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_a_learning_rate_decayed_to_zero_ends_nothing(name):
    X, y = blobs()  # 4 steps per epoch: the rate underflows to 0.0 after the second epoch
    model = MLPClassifier(2, 3, hidden=(4,), optimizer=name, seed=0)
    model.fit(X, y, lr=0.01, num_iters=12, batch_size=30, lr_decay=1e-300)
    assert model.optimizer.lr == 0.0
    frozen = weights_of(model)
    other = MLPClassifier(2, 3, hidden=(4,), optimizer=name, seed=5)
    other.load_state_dict(model.state_dict())
    other.fit(X, y, num_iters=4, batch_size=30, resume=True)
    for a, b in zip(frozen, weights_of(other)):
        np.testing.assert_array_equal(a, b)


def test_the_optimizer_names_pick_the_optimizers():
    X, y = blobs()
    kinds = {}
    for name in ("sgd", "momentum", "adam"):
        model = MLPClassifier(2, 3, hidden=(4,), optimizer=name, seed=0)
        model.fit(X, y, lr=0.01, num_iters=1, momentum=0.8)
        kinds[name] = model.optimizer
    assert isinstance(kinds["sgd"], SGD) and kinds["sgd"].momentum == 0.0
    assert isinstance(kinds["momentum"], SGD) and kinds["momentum"].momentum == 0.8
    assert isinstance(kinds["adam"], Adam)


def test_float32_model_trains_in_float32():
    X, y = blobs()
    model = MLPClassifier(2, 3, hidden=(8,), dtype=np.float32, optimizer="adam", seed=0)
    model.fit(X, y, lr=1e-2, num_iters=20, batch_size=40)
    assert {p.dtype for p in model.params} == {np.dtype(np.float32)}
    assert model.scores(X).dtype == np.float32


def test_weight_scale_replaces_he_init():
    model = MLPClassifier(300, 3, hidden=(200,), weight_scale=1e-3, seed=0)
    assert model.net[0].W.data.std() == pytest.approx(1e-3, rel=0.02)
    he = MLPClassifier(300, 3, hidden=(200,), seed=0)
    assert he.net[0].W.data.std() == pytest.approx(np.sqrt(2 / 300), rel=0.02)


def test_divergence_is_a_clear_error():
    X, y = blobs()
    model = MLPClassifier(2, 3, hidden=(8,), seed=0)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="diverged"):
        model.fit(X * 1e3, y, lr=1e12, num_iters=50, batch_size=40)
    assert all(np.isfinite(p.data).all() for p in model.params)


# ---------------------------------------------------------------------- state and resume
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_resume_is_bit_identical(optimizer):
    X, y = blobs()
    Xv, yv = blobs(10, seed=1)
    kw = dict(hidden=(6, 5), reg=1e-3, optimizer=optimizer)
    fit = dict(lr=0.02, batch_size=30, lr_decay=0.9, X_val=Xv, y_val=yv)
    straight = MLPClassifier(2, 3, seed=0, **kw)
    straight.fit(X, y, num_iters=14, **fit)
    first = MLPClassifier(2, 3, seed=0, **kw)
    first.fit(X, y, num_iters=6, **fit)
    second = MLPClassifier(2, 3, seed=9, **kw)  # other weights and generator, replaced
    second.load_state_dict(first.state_dict())
    second.fit(X, y, num_iters=8, resume=True, **fit)
    for a, b in zip(weights_of(straight), weights_of(second)):
        np.testing.assert_array_equal(a, b)
    assert second.step_count == 14 and second.optimizer.lr == straight.optimizer.lr
    np.testing.assert_array_equal(second.history["val_accuracy"],
                                  straight.history["val_accuracy"])


def test_state_dict_holds_copies():
    X, y = blobs()
    model = MLPClassifier(2, 3, hidden=(4,), optimizer="adam", seed=0)
    model.fit(X, y, num_iters=3)
    d = model.state_dict()
    assert sorted(d) == ["history", "net", "optimizer", "rng", "step_count"]
    assert list(d["net"]) == ["0.W", "0.b", "2.W", "2.b"]
    d["net"]["0.W"][...] = 5.0
    assert not (model.net[0].W.data == 5.0).any()


def _bad(edit):
    X, y = blobs()
    donor = MLPClassifier(2, 3, hidden=(4,), optimizer="adam", seed=1)
    donor.fit(X, y, num_iters=5, batch_size=40)
    d = donor.state_dict()
    edit(d)
    return d


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["net"].pop("2.b"), r"net: .*missing keys \['2.b'\]"),
    (lambda d: d["net"].update({"4.W": np.zeros(2)}), r"net: .*unexpected keys \['4.W'\]"),
    (lambda d: d["net"].update({"0.W": np.zeros((3, 4))}), r"net: .*'0.W' has shape \(3, 4\)"),
    (lambda d: d["optimizer"].pop("betas"), r"optimizer \(adam\): .*missing keys \['betas'\]"),
    (lambda d: d["optimizer"]["exp_avg"].__setitem__(0, np.zeros(3)),
     r"optimizer \(adam\): .*exp_avg\[0\] has shape \(3,\)"),
    (lambda d: d.update(rng={"bit_generator": "nope"}), "cannot restore the random generator"),
    (lambda d: d.update(step_count=-1), "step_count must be an integer >= 0"),
    (lambda d: d["history"]["loss"].append(1.0), "history must hold lists of one length"),
    (lambda d: d.pop("history"), "expected the keys"),
])
def test_a_bad_state_dict_names_the_entry_and_changes_nothing(edit, match):
    X, y = blobs()
    model = MLPClassifier(2, 3, hidden=(4,), optimizer="adam", seed=0)
    model.fit(X, y, num_iters=2, batch_size=40)
    before = model.state_dict()
    d = _bad(edit)
    with pytest.raises((ValueError, TypeError), match=match):
        model.load_state_dict(d)
    after = model.state_dict()
    for key in before["net"]:
        np.testing.assert_array_equal(after["net"][key], before["net"][key])
    assert after["rng"] == before["rng"] and after["step_count"] == 2
    assert after["optimizer"]["step"] == before["optimizer"]["step"]
    assert after["history"] == before["history"]


@pytest.mark.parametrize("make, error, match", [
    (lambda: MLPClassifier(2, 3, optimizer="rmsprop"), ValueError,
     "MLPClassifier: optimizer must be one of 'sgd', 'momentum', 'adam', got 'rmsprop'"),
    (lambda: MLPClassifier(2, 3, loss="hinge"), ValueError, "loss must be one of"),
    (lambda: MLPClassifier(2, 3, hidden=(4, 0)), ValueError, "each hidden width must be"),
    (lambda: MLPClassifier(2, 3, hidden="100"), TypeError, "hidden must be an int or"),
    (lambda: MLPClassifier(2, 3, reg=-1.0), ValueError, "reg must be a finite number >= 0"),
    (lambda: MLPClassifier(2, 3, weight_scale=-1.0), ValueError, "weight_scale must be"),
    (lambda: MLPClassifier(2, 3, dtype=np.int32), TypeError, "MLPClassifier: dtype must be"),
])
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_bad_fit_arguments_are_named():
    X, y = blobs()
    model = MLPClassifier(2, 3, hidden=(4,), seed=0)
    with pytest.raises(ValueError, match="fit: lr must be a finite number > 0"):
        model.fit(X, y, lr=-0.1)
    with pytest.raises(ValueError, match="give both X_val and y_val"):
        model.fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="resume=True needs an optimizer"):
        model.fit(X, y, resume=True)
    with pytest.raises(ValueError, match=r"X has 3 features per row, the model expects "
                                         r"num_features=2"):
        model.predict(np.ones((2, 3)))


# ---------------------------------------------------------------------- the command line
# the pictures need the demo extra
needs_demo = pytest.mark.skipif(not importlib.util.find_spec("matplotlib"),
                                reason="needs matplotlib (the demo extra)")


def train(capsys, out: Path, *argv: str) -> dict:
    rc = cli.main(["train", "--dataset", "digits", "--quiet", "--out", str(out), *argv])
    err = capsys.readouterr().err
    assert rc == 0, err
    return json.loads((out / "metrics.json").read_text())


@needs_demo
@pytest.mark.parametrize("seed", range(5))
def test_digits_mlp_beats_the_linear_model_with_their_defaults(capsys, tmp_path, seed):
    mlp = train(capsys, tmp_path / "mlp", "--model", "mlp", "--seed", str(seed))
    linear = train(capsys, tmp_path / "linear", "--seed", str(seed))
    assert mlp["config"]["model"] == "mlp" and linear["config"]["model"] == "linear"
    assert mlp["test_accuracy"] > linear["test_accuracy"], (mlp["test_accuracy"],
                                                            linear["test_accuracy"])
    assert (tmp_path / "mlp" / "weights.png").stat().st_size > 0
    h = mlp["history"]
    assert len(h["epoch"]) == len(h["val_accuracy"]) == mlp["steps"] // 25  # 1257 // 50


@needs_demo
def test_mlp_resume_from_a_checkpoint_is_bit_identical(capsys, tmp_path):
    common = ("--model", "mlp", "--hidden", "20,10", "--save-every", "15")
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    straight = train(capsys, tmp_path / "straight", *common, "--iters", "60",
                     "--checkpoint", str(a))
    train(capsys, tmp_path / "first", *common, "--iters", "30", "--checkpoint", str(b))
    resumed = train(capsys, tmp_path / "resumed", *common, "--iters", "60",
                    "--checkpoint", str(b), "--resume")
    assert resumed["resumed_from_step"] == 30
    assert resumed["loss_history"] == straight["loss_history"]
    assert resumed["history"] == straight["history"]
    state_a, state_b = checkpoint.load_checkpoint(a), checkpoint.load_checkpoint(b)
    for key, value in state_a["model"]["net"].items():
        np.testing.assert_array_equal(state_b["model"]["net"][key], value)


@needs_demo
def test_a_linear_checkpoint_does_not_resume_as_an_mlp(capsys, tmp_path):
    path = tmp_path / "run.npz"
    train(capsys, tmp_path / "a", "--iters", "10", "--checkpoint", str(path))
    rc = cli.main(["train", "--dataset", "digits", "--quiet", "--out", str(tmp_path / "b"),
                   "--model", "mlp", "--iters", "20", "--checkpoint", str(path), "--resume"])
    err = capsys.readouterr().err
    assert rc == 1 and "model: checkpoint 'linear', now 'mlp'" in err


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "100"], "--hidden needs --model mlp"),
    (["--optimizer", "adam"], "--optimizer adam needs --model mlp"),
    (["--model", "mlp", "--regularizer", "l1"], "penalizes the weights with l2 only"),
    (["--model", "mlp", "--momentum", "0.9"], "--momentum needs --optimizer momentum"),
    (["--lr-decay", "0"], "--lr-decay must be > 0"),
    (["--model", "mlp", "--hidden", "100,0"], "argument --hidden: must be comma-separated"),
    (["--model", "mlp", "--optimizer", "lbfgs"], "argument --optimizer: invalid choice"),
    (["--model", "cnn"], "argument --model: invalid choice"),
    (["--model", "mlp", "--hidden", "1000000000000"],
     "--hidden asks for a layer of 1,000,000,000,000 units; at most 10,000"),
    (["--model", "mlp", "--hidden", ",".join(["10"] * 101)], "101 hidden layers; at most 100"),
    (["--model", "mlp", "--dataset", "cifar10", "--hidden", "10000"],
     "makes a net of 30,840,010 parameters on cifar10; at most 20,000,000"),
    (["--iters", "100000000"], "--iters must be at most 10,000,000"),
])
def test_bad_options_are_usage_errors(capsys, tmp_path, argv, message):
    try:
        rc = cli.main(["train", "--out", str(tmp_path), *argv])
    except SystemExit as exc:  # argparse's own usage errors
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err, err


@needs_demo
def test_optimizer_momentum_defaults_to_0_9_for_both_models(capsys, tmp_path):
    for model in ("linear", "mlp"):
        m = train(capsys, tmp_path / model, "--model", model, "--optimizer", "momentum",
                  "--iters", "5", "--lr", "1e-3")
        assert m["config"]["momentum"] == 0.9 and m["config"]["optimizer"] == "momentum"


def test_gradcheck_command_checks_the_mlp(capsys):
    rc = cli.main(["gradcheck", "--model", "mlp", "--num-checks", "3"])
    out = capsys.readouterr().out
    assert rc == 0 and "all gradient checks passed" in out
    assert out.count("MLP 5-6-4") == 2 and "op 'relu' in scope 'MLP/ReLU1'" in out


def test_graph_command_draws_one_cluster_per_layer(capsys, tmp_path):
    path = tmp_path / "mlp.dot"
    rc = cli.main(["graph", "--model", "mlp", "--loss", "softmax", "-o", str(path)])
    assert rc == 0
    source = path.read_text()
    for label in ("MLP", "Linear1", "ReLU1", "Linear2", "softmax_loss", "l2"):
        assert f"<B>{label}</B>" in source
    assert "W1" in source and "W2" in source


@needs_demo
def test_linear_model_keeps_its_defaults(capsys, tmp_path):
    m = train(capsys, tmp_path, "--iters", "20")
    assert m["config"]["loss"] == "svm" and m["config"]["weight_scale"] == 1e-4
    assert m["config"]["momentum"] == 0.0 and m["config"]["optimizer"] == "sgd"
    assert m["config"]["hidden"] == [] and "history" not in m


def test_example_04_the_net_follows_the_spirals_the_linear_model_cannot(capsys):
    import runpy

    path = Path(__file__).resolve().parents[2] / "examples" / "04_two_layer_net.py"
    results = runpy.run_path(str(path), run_name="example")["main"]()
    capsys.readouterr()
    assert results["linear"][1] < 0.7
    assert all(results[name][1] > 0.95 for name in ("sgd", "momentum", "adam"))


@needs_demo
def test_an_interrupted_mlp_run_says_how_to_resume_it(capsys):
    import shlex

    from tinygrad_lc.cli import train as train_cmd

    args = cli.build_parser().parse_args(["train", "--model", "mlp", "--hidden", "30,20",
                                          "--checkpoint", "c.npz"])
    progress = train_cmd._Progress()
    progress.trainer = type("T", (), {"step": 7, "saved_step": 5})()
    progress.total = 100
    command = train_cmd.interrupted_message(args, progress).partition("resume with: ")[2]
    again = cli.build_parser().parse_args(shlex.split(command)[1:])
    assert again.resume and again.hidden == (30, 20)
    assert train_cmd.config_from_args(again) == train_cmd.config_from_args(args)


def test_a_checkpoint_from_before_the_mlp_settings_still_resumes(tmp_path):
    from tinygrad_lc.models.training import TrainConfig, Trainer
    from tinygrad_lc.util.checkpoint import load_checkpoint, save_checkpoint

    cfg = TrainConfig.for_dataset("blobs", iters=5)
    path = Trainer(cfg, 3, 3).save(tmp_path / "old.npz")
    state = load_checkpoint(path)
    for key in ("model", "hidden", "optimizer", "lr_decay", "dtype"):
        del state["config"][key]  # as written before these settings existed
    save_checkpoint(path, state)
    Trainer(cfg, 3, 3).load(path)
    with pytest.raises(checkpoint.CheckpointError, match="lr_decay: checkpoint 1.0, now 0.5"):
        Trainer(TrainConfig.for_dataset("blobs", iters=5, lr_decay=0.5), 3, 3).load(path)


def test_a_model_refuses_the_optimizer_state_of_another_kind():
    """optimizer='sgd' trains without momentum: a momentum model's state (momentum 0.9 and
    velocities) would silently make it train with momentum; Adam's state is not SGD's."""
    X, y = make_blobs(30, seed=0)
    saved = {}
    for kind in ("sgd", "momentum", "adam"):
        m = MLPClassifier(2, 3, hidden=(5,), optimizer=kind, seed=0)
        m.fit(X, y, lr=0.01, num_iters=3, batch_size=10)
        saved[kind] = m.state_dict()
    refused = {("sgd", "momentum"): r"optimizer \(sgd\): the state is SGD with momentum 0.9 "
                                    r"\(saved by a model with optimizer='momentum'\)",
               ("sgd", "adam"): r"this is the state of Adam .*not of SGD",
               ("momentum", "adam"): r"this is the state of Adam .*not of SGD",
               ("adam", "sgd"): r"this is the state of SGD .*not of Adam",
               ("adam", "momentum"): r"this is the state of SGD .*not of Adam"}
    for (kind, other), match in refused.items():
        m = MLPClassifier(2, 3, hidden=(5,), optimizer=kind, seed=1)
        before = m.state_dict()
        with pytest.raises(ValueError, match=match):
            m.load_state_dict(saved[other])
        assert m.optimizer is None and all(
            np.array_equal(v, before["net"][k]) for k, v in m.state_dict()["net"].items())
    m = MLPClassifier(2, 3, hidden=(5,), optimizer="momentum", seed=1)
    m.load_state_dict(saved["sgd"])  # momentum 0 fits a momentum model (fit(momentum=0))
