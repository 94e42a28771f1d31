"""Tests for tinygrad_lc.models.training: data, accuracy with the defaults, bit-exact resume."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from tinygrad_lc.models import LinearClassifier, random_search
from tinygrad_lc.models.training import (
    DEFAULTS,
    TrainConfig,
    Trainer,
    accuracy,
    load_dataset,
)
from tinygrad_lc.util import checkpoint
from tinygrad_lc.util.checkpoint import CheckpointError, save_checkpoint


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


@pytest.fixture(scope="module")
def blobs():
    return load_dataset("blobs", seed=0)


# ----------------------------------------------------------------------------- data


def test_digits_split_and_preprocessing(digits):
    d = digits
    assert (d.X_train.shape, d.X_val.shape, d.X_test.shape) == ((1257, 65), (180, 65), (360, 65))
    assert len(d.y_train) + len(d.y_val) + len(d.y_test) == 1797
    assert d.image_shape == (8, 8) and d.num_classes == 10 and d.num_features == 65
    for X in (d.X_train, d.X_val, d.X_test):
        assert X.dtype == np.float64 and np.all(X[:, -1] == 1.0)  # the bias trick
    np.testing.assert_allclose(d.X_train[:, :-1].mean(axis=0), 0.0, atol=1e-12)
    assert abs(d.X_test[:, :-1].mean()) > 1e-6  # centred with the training mean only
    assert sorted(np.unique(d.y_test).tolist()) == list(range(10))


def test_split_is_seeded(digits):
    again, other = load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    np.testing.assert_array_equal(again.X_test, digits.X_test)
    np.testing.assert_array_equal(again.y_train, digits.y_train)
    assert not np.array_equal(other.y_test, digits.y_test)


def test_splits_partition_the_data(digits):
    from tinygrad_lc.data import load_digits

    X, _ = load_digits()
    parts = np.concatenate([digits.X_train, digits.X_val, digits.X_test])[:, :-1]
    shift = X.mean(axis=0) - parts.mean(axis=0)  # the training mean, subtracted from all
    restored = np.round(parts + shift, 6)
    # every image exactly once: the rows are a permutation of the data set's rows
    np.testing.assert_array_equal(np.unique(restored, axis=0, return_counts=True)[1],
                                  np.unique(X, axis=0, return_counts=True)[1])
    np.testing.assert_array_equal(np.unique(restored, axis=0), np.unique(X, axis=0))


def test_blobs(blobs):
    assert (blobs.X_train.shape, blobs.X_val.shape, blobs.X_test.shape) == \
        ((420, 3), (60, 3), (120, 3))
    assert blobs.image_shape is None and blobs.class_names == ("0", "1", "2")


def test_unknown_dataset():
    with pytest.raises(ValueError, match="load_dataset: name must be one of digits"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="dataset must be one of"):
        TrainConfig.for_dataset("mnist")
    with pytest.raises(TypeError, match=r"unknown settings \['epochs'\]"):
        TrainConfig.for_dataset("digits", epochs=3)


def test_config_defaults_per_dataset():
    cifar = TrainConfig.for_dataset("cifar10")
    assert (cifar.lr, cifar.reg, cifar.iters, cifar.batch_size) == (5e-8, 5e2, 6000, 500)
    softmax = TrainConfig.for_dataset("cifar10", loss="softmax")  # chosen per loss
    assert (softmax.lr, softmax.reg, softmax.iters) == (1e-6, 1e2, 6000)
    assert TrainConfig.for_dataset("cifar10", loss="softmax", lr=3e-7).lr == 3e-7
    cfg = TrainConfig.for_dataset("digits", loss="softmax", lr=None, iters=7)
    assert cfg.loss == "softmax" and cfg.iters == 7 and cfg.lr == DEFAULTS["digits"]["lr"]


# ----------------------------------------------------------------------------- accuracy


def _trained(data, loss: str, **overrides) -> Trainer:
    cfg = TrainConfig.for_dataset(data.name, loss=loss, **overrides)
    trainer = Trainer(cfg, data.num_features, data.num_classes)
    trainer.train(data.X_train, data.y_train, progress=False)
    return trainer


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_digits_defaults_reach_093_and_beat_random_search(digits, loss):
    trainer = _trained(digits, loss)
    test_acc = accuracy(trainer.model, digits.X_test, digits.y_test)
    assert test_acc >= 0.93
    W, _ = random_search(digits.X_train, digits.y_train, loss=loss, num_tries=200, seed=0)
    random_acc = float(np.mean(np.argmax(digits.X_test @ W, axis=1) == digits.y_test))
    assert random_acc < test_acc - 0.3  # strategy #1 is far behind following the gradient


@pytest.mark.parametrize("loss", ["svm", "softmax"])
def test_blobs_defaults_reach_095(blobs, loss):
    assert accuracy(_trained(blobs, loss).model, blobs.X_test, blobs.y_test) >= 0.95


def test_histories_and_batch_accuracy(blobs):
    trainer = _trained(blobs, "svm", iters=40)
    assert trainer.step == 40 and len(trainer.loss_history) == 40
    acc = np.array(trainer.batch_accuracy)
    assert acc.shape == (40,) and np.all((acc >= 0) & (acc <= 1))
    assert acc[-10:].mean() > acc[0]  # the model learns during the run
    assert trainer.seconds > 0


def test_trainer_equals_a_plain_fit(digits):
    """Chunking (save_every) adds nothing: same W as one LinearClassifier.fit call."""
    cfg = TrainConfig.for_dataset("digits", iters=45, momentum=0.9)
    trainer = Trainer(cfg, 65, 10)
    trainer.train(digits.X_train, digits.y_train, save_every=7, progress=False)
    model = LinearClassifier(65, 10, loss="svm", reg=cfg.reg, bias=False, seed=cfg.seed)
    history = model.fit(digits.X_train, digits.y_train, lr=cfg.lr, num_iters=45,
                        batch_size=cfg.batch_size, momentum=0.9)
    np.testing.assert_array_equal(trainer.model.W.data, model.W.data)
    assert trainer.loss_history == history


# ----------------------------------------------------------------------------- resume


@pytest.mark.parametrize("loss, momentum", [("svm", 0.0), ("softmax", 0.9)])
def test_resume_is_bit_identical(digits, tmp_path, loss, momentum):
    cfg = TrainConfig.for_dataset("digits", loss=loss, momentum=momentum, iters=200)
    straight = Trainer(cfg, 65, 10)
    straight.train(digits.X_train, digits.y_train, progress=False)

    first = Trainer(cfg, 65, 10)
    first.train(digits.X_train, digits.y_train, iters=100, checkpoint=tmp_path / "c.npz",
                save_every=30, progress=False)
    resumed = Trainer(cfg, 65, 10)  # a fresh process would start from here
    resumed.load(tmp_path / "c.npz")
    assert resumed.step == 100
    resumed.train(digits.X_train, digits.y_train, progress=False)

    assert np.array_equal(resumed.model.W.data, straight.model.W.data)  # exact
    assert resumed.loss_history == straight.loss_history
    assert resumed.batch_accuracy == straight.batch_accuracy


def test_checkpoint_written_every_k_steps(blobs, tmp_path, monkeypatch):
    steps = []
    real = Trainer.save

    def spy(self, path):
        steps.append(self.step)
        return real(self, path)

    monkeypatch.setattr(Trainer, "save", spy)
    trainer = Trainer(TrainConfig.for_dataset("blobs", iters=25), 3, 3)
    trainer.train(blobs.X_train, blobs.y_train, checkpoint=tmp_path / "c.npz", save_every=10,
                  progress=False)
    assert steps == [10, 20, 25]


def test_save_points_stay_on_multiples_of_save_every_after_a_resume(blobs, tmp_path,
                                                                     monkeypatch):
    cfg = TrainConfig.for_dataset("blobs", iters=13)
    first = Trainer(cfg, 3, 3)
    first.train(blobs.X_train, blobs.y_train, checkpoint=tmp_path / "c.npz", save_every=5,
                progress=False)  # saves at 5, 10, 13
    steps = []
    real = Trainer.save

    def spy(self, path):
        steps.append(self.step)
        return real(self, path)

    monkeypatch.setattr(Trainer, "save", spy)
    resumed = Trainer(cfg, 3, 3)
    resumed.load(tmp_path / "c.npz")
    resumed.train(blobs.X_train, blobs.y_train, iters=27, checkpoint=tmp_path / "c.npz",
                  save_every=5, progress=False)
    assert steps == [15, 20, 25, 27]  # not 18, 23, 27


def test_failed_save_leaves_the_previous_checkpoint(blobs, tmp_path, monkeypatch):
    cfg = TrainConfig.for_dataset("blobs", iters=30)
    path = tmp_path / "c.npz"
    calls = []
    real_write = checkpoint._write_npz

    def crash_on_second(f, arrays):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"PK\x03\x04 half an archive")
            raise OSError("no space left on device (simulated)")
        real_write(f, arrays)

    monkeypatch.setattr(checkpoint, "_write_npz", crash_on_second)
    trainer = Trainer(cfg, 3, 3)
    with pytest.raises(OSError, match="simulated"):
        trainer.train(blobs.X_train, blobs.y_train, checkpoint=path, save_every=10,
                      progress=False)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npz"]
    survivor = Trainer(cfg, 3, 3)
    survivor.load(path)  # the step-10 checkpoint, intact
    assert survivor.step == 10
    survivor.train(blobs.X_train, blobs.y_train, progress=False)
    straight = Trainer(cfg, 3, 3)
    straight.train(blobs.X_train, blobs.y_train, progress=False)
    assert np.array_equal(survivor.model.W.data, straight.model.W.data)


def _saved(tmp_path, cfg=None, shape=(3, 3)) -> tuple:
    cfg = cfg or TrainConfig.for_dataset("blobs", iters=5)
    trainer = Trainer(cfg, *shape)
    path = trainer.save(tmp_path / "c.npz")
    return path, trainer.state_dict()


def test_load_refuses_other_settings(tmp_path):
    path, _ = _saved(tmp_path)
    other = TrainConfig.for_dataset("blobs", iters=5, loss="softmax", lr=0.5)
    with pytest.raises(CheckpointError, match=r"c\.npz was written by a run with other "
                       r"settings.*loss: checkpoint 'svm', now 'softmax'; lr: checkpoint 0\.1"):
        Trainer(other, 3, 3).load(path)
    longer = TrainConfig.for_dataset("blobs", iters=500)  # iters may change
    Trainer(longer, 3, 3).load(path)


# Another value for every setting of a run saved with the blobs defaults. Only iters may
# change on resume; every other setting changes the trajectory, so a checkpoint must refuse it.
OTHER_SETTING = {"dataset": "digits", "loss": "softmax", "regularizer": "l1", "reg": 0.5,
                 "lr": 0.5, "batch_size": 7, "momentum": 0.9, "seed": 3, "weight_scale": 1e-3,
                 "beta": 0.5, "model": "mlp", "hidden": (50,), "optimizer": "momentum",
                 "lr_decay": 0.5, "dtype": "float32"}


def test_every_setting_is_either_refused_or_allowed_to_change():
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    assert names == set(OTHER_SETTING) | {"iters"}, "a new setting: decide if resume refuses it"


@pytest.mark.parametrize("key", sorted(OTHER_SETTING))
def test_load_refuses_each_trajectory_setting(tmp_path, key):
    path, state = _saved(tmp_path)
    saved = state["config"][key]
    assert saved != OTHER_SETTING[key]
    other = dataclasses.replace(TrainConfig.for_dataset("blobs", iters=5),
                                **{key: OTHER_SETTING[key]})
    with pytest.raises(CheckpointError, match=re.escape(
            f"other settings, so resuming it would not continue that run: "
            f"{key}: checkpoint {saved!r}, now {OTHER_SETTING[key]!r}. ")):
        Trainer(other, 3, 3).load(path)


@pytest.mark.parametrize("shape", [(65, 10), (4, 3), (3, 4)], ids=str)
def test_load_refuses_other_shapes(tmp_path, shape):
    path, _ = _saved(tmp_path)
    with pytest.raises(CheckpointError, match=r"holds weights for 3 features and 3 classes, "
                       rf"but this data has {shape[0]} features and {shape[1]} classes"):
        Trainer(TrainConfig.for_dataset("blobs", iters=5), *shape).load(path)


def test_load_refuses_other_checkpoint_kinds(tmp_path):
    save_checkpoint(tmp_path / "other.npz", {"W": np.ones(3)})
    with pytest.raises(CheckpointError, match="not of a training run"):
        Trainer(TrainConfig.for_dataset("blobs"), 3, 3).load(tmp_path / "other.npz")


@pytest.mark.parametrize("damage, pattern", [
    (lambda s: s["model"].update(W=np.ones((4, 3))), r"W has shape \(4, 3\)"),
    (lambda s: s.update(loss_history=np.ones(3)), "records"),
    (lambda s: s["model"].pop("rng"), "expected the keys"),
    (lambda s: s.pop("seconds"), "KeyError"),
])
def test_load_reports_damaged_state(tmp_path, damage, pattern):
    _, state = _saved(tmp_path)
    damage(state)
    path = save_checkpoint(tmp_path / "bad.npz", state)
    with pytest.raises(CheckpointError, match=f"bad.npz is damaged or incomplete: .*{pattern}"):
        Trainer(TrainConfig.for_dataset("blobs", iters=5), 3, 3).load(path)


def test_train_refuses_to_go_backwards(blobs):
    trainer = _trained(blobs, "svm", iters=20)
    with pytest.raises(ValueError, match="already at step 20, past the 10 steps"):
        trainer.train(blobs.X_train, blobs.y_train, iters=10, progress=False)
    with pytest.raises(ValueError, match="save_every must be at least 1"):
        trainer.train(blobs.X_train, blobs.y_train, iters=30, save_every=0, progress=False)


# ----------------------------------------------------------------------------- failed loads
def _trainer_state(trainer: Trainer) -> dict:
    """Everything Trainer.load could change, as comparable plain data (arrays as bytes)."""
    model, opt = trainer.model, trainer.model.optimizer
    return {
        "W": model.W.data.tobytes(), "rng": model.rng.bit_generator.state,
        "step": trainer.step, "saved_step": getattr(trainer, "saved_step", None),
        "optimizer": None if opt is None else (id(opt), opt.lr, opt.momentum, [
            None if v is None else v.tobytes() for v in opt.velocity]),
        "loss_history": list(trainer.loss_history),
        "batch_accuracy": list(trainer.batch_accuracy), "seconds": trainer.seconds,
    }


def _in_model(key, value):
    return lambda s: s["model"].update({key: value})


BAD_CHECKPOINTS = {
    "W of strings": _in_model("W", np.full((3, 3), "x")),
    "W holding NaN": _in_model("W", np.full((3, 3), np.nan)),
    "W of another shape": _in_model("W", np.ones((4, 3))),
    "rng of another kind": lambda s: s["model"]["rng"].update(bit_generator="MT19937"),
    "rng half applied": lambda s: s["model"]["rng"].update(uinteger=-5),
    "velocity holding inf": lambda s: s["model"]["optimizer"].update(
        velocity=[np.full((3, 3), np.inf)]),
    "optimizer lr negative": lambda s: s["model"]["optimizer"].update(lr=-0.1),
    "step_count negative": _in_model("step_count", -1),
    "loss history holding NaN": lambda s: s["loss_history"].__setitem__(3, np.nan),
    "loss history too short": lambda s: s.update(loss_history=s["loss_history"][:-1]),
    "accuracy above 1": lambda s: s["batch_accuracy"].__setitem__(0, 2.0),
    "seconds negative": lambda s: s.update(seconds=-1.0),
    "seconds NaN": lambda s: s.update(seconds=float("nan")),
    "model key missing": lambda s: s["model"].pop("b"),
}


@pytest.mark.parametrize("damage", BAD_CHECKPOINTS.values(), ids=BAD_CHECKPOINTS.keys())
def test_a_failed_load_changes_nothing(blobs, tmp_path, damage):
    cfg = TrainConfig.for_dataset("blobs", iters=30, momentum=0.9)
    trainer = Trainer(cfg, 3, 3)
    trainer.train(blobs.X_train, blobs.y_train, iters=10, checkpoint=tmp_path / "mine.npz",
                  progress=False)
    before = _trainer_state(trainer)
    other = Trainer(cfg, 3, 3)  # the same run further on: every entry differs
    other.train(blobs.X_train, blobs.y_train, iters=25, progress=False)
    state = other.state_dict()
    damage(state)
    path = save_checkpoint(tmp_path / "bad.npz", state)
    with pytest.raises(CheckpointError, match="bad.npz is damaged or incomplete"):
        trainer.load(path)
    assert _trainer_state(trainer) == before
    trainer.train(blobs.X_train, blobs.y_train, progress=False)  # and it carries on
    assert trainer.step == 30


def test_saved_step_follows_saves_and_loads(blobs, tmp_path):
    cfg = TrainConfig.for_dataset("blobs", iters=25)
    trainer = Trainer(cfg, 3, 3)
    assert trainer.saved_step is None
    trainer.train(blobs.X_train, blobs.y_train, checkpoint=tmp_path / "c.npz", save_every=10,
                  progress=False)
    assert trainer.saved_step == 25
    other = Trainer(cfg, 3, 3)
    other.load(tmp_path / "c.npz")
    assert other.saved_step == 25
