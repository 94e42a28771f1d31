"""The sweep's claims checked on data where they can be false: digits, whose training,
validation and test accuracies differ (on blobs all three are 1.0, so a trial scored on the
wrong split looks the same). Each test names the claim and fails if it were false."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_lc.models.mlp import MLPClassifier
from tinygrad_lc.models.training import TrainConfig, Trainer, load_dataset
from tinygrad_lc.sweep import LogUniform, Uniform, run_sweep, sample
from tinygrad_lc.sweep.runner import rounded
from tinygrad_lc.sweep.spaces import edge_warnings
from tinygrad_lc.sweep.trial import Task, run_trial, shared_dataset, trial_seed, weights_digest

CONFIG = {"lr": 0.05, "reg": 1e-3, "iters": 60}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", 0)


def test_a_trial_is_scored_on_validation_not_on_test(digits):
    task = Task(0, trial_seed(0, 0), "digits", 0, dict(CONFIG))
    record = run_trial(task)
    trainer = Trainer(TrainConfig.for_dataset("digits", **CONFIG, seed=task.seed),
                      digits.num_features, digits.num_classes)
    trainer.train(digits.X_train, digits.y_train, progress=False)
    acc = digits.accuracies(trainer.model)
    assert len({acc["train"], acc["val"], acc["test"]}) == 3  # the splits disagree here
    assert record["val_accuracy"] == acc["val"] and record["train_accuracy"] == acc["train"]
    assert "test_accuracy" not in record


def test_the_best_trial_is_the_best_by_validation(tmp_path):
    configs = [{"lr": lr, "iters": 60} for lr in (1e-4, 3e-3, 5e-2, 3e-1)]
    result = run_sweep(configs, "digits", workers=0)
    vals = [t["val_accuracy"] for t in result.trials]
    assert len(set(vals)) > 1  # otherwise "best" says nothing
    assert result.best["val_accuracy"] == max(vals)
    assert result.best["trial"] == vals.index(max(vals))


def test_every_range_is_drawn_from_its_own_stream():
    configs = sample({"lr": LogUniform(1e-6, 1e-1), "reg": LogUniform(1e-6, 1e-1),
                      "momentum": Uniform(0.0, 0.9)}, 300, seed=4)
    lr = np.log10([c["lr"] for c in configs])
    reg = np.log10([c["reg"] for c in configs])
    momentum = np.array([c["momentum"] for c in configs])
    # one shared stream would make the axes move together (correlation 1): a diagonal
    for a, b in ((lr, reg), (lr, momentum), (reg, momentum)):
        assert abs(np.corrcoef(a, b)[0, 1]) < 0.2
    # and each axis covers its whole range
    assert lr.min() < -5.5 and lr.max() > -1.5 and reg.min() < -5.5 and reg.max() > -1.5


def test_the_data_cache_keeps_standardized_and_raw_pixels_apart():
    raw = shared_dataset("digits", 0, standardize=False)  # a linear run first
    std = shared_dataset("digits", 0, standardize=True)  # then the MLP's
    assert not np.array_equal(raw.X_train, std.X_train)
    pixels = std.X_train[:, :-1]  # the bias column stays ones
    spread = pixels.std(axis=0)
    assert np.allclose(spread[spread > 0], 1.0, atol=1e-6)
    assert raw.X_train[:, :-1].std(axis=0).max() > 2.0  # raw pixels are not unit-scaled


def test_the_weights_digest_covers_every_layer():
    model = MLPClassifier(5, 3, hidden=(4,), seed=0)
    before = weights_digest(model)
    for p in model.net.parameters():  # a change in any layer's weights or biases shows
        p.data[(0,) * p.data.ndim] += 1.0
        after = weights_digest(model)
        assert after != before
        before = after


@pytest.mark.parametrize("best, side, direction, suggestion", [
    (0.8, "top", "upward", "lr 0.0001:10"),
    (1.5e-4, "bottom", "downward", "lr 1e-05:1"),
])
def test_edge_warnings_point_the_right_way(best, side, direction, suggestion):
    (message,) = edge_warnings({"lr": LogUniform(1e-4, 1.0)}, {"lr": best})
    assert f"the {side} 10%" in message and f"widen the range {direction}" in message
    assert message.endswith(f"e.g. {suggestion}"), message
    assert edge_warnings({"lr": LogUniform(1e-4, 1.0)}, {"lr": 1e-2}) == []  # the middle


def test_uniform_edges_and_the_middle():
    space = {"momentum": Uniform(0.0, 0.9)}
    (top,) = edge_warnings(space, {"momentum": 0.88})
    (bottom,) = edge_warnings(space, {"momentum": 0.01})
    assert "top 10%" in top and "upward" in top
    assert "bottom 10%" in bottom and "downward" in bottom
    assert edge_warnings(space, {"momentum": 0.45}) == []


@pytest.mark.parametrize("drawn, whole", [(99.9, 100), (99.4, 99), (100.5, 100), (1234.5, 1234)])
def test_whole_number_options_are_rounded_to_the_nearest(drawn, whole):
    config = rounded({"iters": drawn, "batch_size": drawn, "lr": drawn})
    assert config == {"iters": whole, "batch_size": whole, "lr": drawn}
    assert config["iters"] == round(drawn) and not math.isclose(drawn, math.floor(drawn))
