"""The accuracy page's (docs/accuracy.md) and the demo report's claims about results hold: the
numbers are measured, and what looks like a bug is explained."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from tinygrad_lc.cli.demo import SEARCH_EXAMPLES, same_search_note
from tinygrad_lc.losses import softmax_loss, svm_loss
from tinygrad_lc.models import random_search
from tinygrad_lc.models.training import TrainConfig, Trainer, load_dataset

PAGE = (Path(__file__).resolve().parents[1] / "docs" / "accuracy.md").read_text(encoding="utf-8")


def accuracy_rows() -> dict[tuple[str, str], list[str]]:
    """The page's digits accuracy table: (method, loss) -> [train, validation, test]."""
    table = PAGE.split("| method | loss | train | validation | test |", 1)[1]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        method, loss, *numbers = (c.strip() for c in line.strip("|").split("|"))
        rows[(method, loss)] = numbers
    return rows


def test_identical_random_search_rows_are_explained_where_they_are_shown():
    rows = accuracy_rows()
    assert rows[("random search", "SVM")] == rows[("random search", "softmax")]
    assert "SVM loss is 9 + 10 x (softmax loss - ln 10)" in " ".join(PAGE.split())
    note = same_search_note(1000, 10)
    assert "9 + 10 x (softmax loss - ln 10)" in note and "1,000 random W" in note


def test_the_explanation_holds_at_the_scale_random_search_draws():
    """At W of scale 1e-4 on digits, SVM = 9 + 10 (softmax - ln 10) up to second order, so
    both losses rank random W alike and random search keeps the same W for both."""
    data = load_dataset("digits", seed=0)
    X, y = data.X_train[:SEARCH_EXAMPLES], data.y_train[:SEARCH_EXAMPLES]
    rng = np.random.default_rng(0)
    for _ in range(5):
        scores = X @ (1e-4 * rng.standard_normal((X.shape[1], 10)))
        svm, soft = svm_loss(scores, y).item(), softmax_loss(scores, y).item()
        assert abs(svm - (9 + 10 * (soft - math.log(10)))) < 1e-3
    W_svm, _ = random_search(X, y, loss="svm", num_tries=50, seed=0, num_classes=10)
    W_soft, _ = random_search(X, y, loss="softmax", num_tries=50, seed=0, num_classes=10)
    np.testing.assert_array_equal(W_svm, W_soft)


def test_the_blobs_accuracy_range_is_what_the_defaults_give():
    said = re.search(r"on\s+blobs \(`--dataset blobs`, its defaults\) ([\d.]+) to ([\d.]+) for "
                     r"SVM and ([\d.]+) to ([\d.]+) for softmax", PAGE)
    assert said, "docs/accuracy.md's blobs sentence changed: update this test"
    for k, loss in enumerate(("svm", "softmax")):
        accuracies = []
        for seed in range(5):
            data = load_dataset("blobs", seed=seed)
            trainer = Trainer(TrainConfig.for_dataset("blobs", loss=loss, seed=seed),
                              data.num_features, data.num_classes)
            trainer.train(data.X_train, data.y_train, progress=False)
            accuracies.append(round(data.accuracies(trainer.model)["test"], 3))
        assert (min(accuracies), max(accuracies)) == (float(said[2 * k + 1]),
                                                     float(said[2 * k + 2])), loss
