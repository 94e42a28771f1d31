"""Optimization, strategy #1 vs strategy #2: random search against minibatch SGD.

Run: ``python examples/03_train_linear.py``. The data are seeded Gaussian blobs, 3 classes in
2-D (``tinygrad_lc.data.make_blobs``), 240 training and 60 test points. Random search tries
1000 random weight matrices and keeps the one with the lowest SVM loss; SGD follows the
gradient for 300 steps. On 2-D blobs both do well. Adding pure-noise features (the classes
still differ only in the first two) shows why the lecture calls random search a bad idea:
its luck runs out as the dimension grows, while SGD learns to ignore the noise.
"""

from __future__ import annotations

import numpy as np

from tinygrad_lc.data import make_blobs
from tinygrad_lc.models import LinearClassifier, random_search

NUM_TRAIN = 240  # of 300 shuffled points; the other 60 are the test set


def _split(num_features: int, seed: int):
    X, y = make_blobs(100, num_classes=3, seed=seed, num_features=num_features, std=1.5)
    return X[:NUM_TRAIN], y[:NUM_TRAIN], X[NUM_TRAIN:], y[NUM_TRAIN:]


def with_ones(X: np.ndarray) -> np.ndarray:
    """The bias trick: a column of ones, so W's last row acts as b."""
    return np.hstack([X, np.ones((len(X), 1))])


def compare(num_features: int, seed: int = 0) -> dict:
    """Random search and SGD (SVM and softmax) on one blob data set; accuracies and losses."""
    X, y, X_test, y_test = _split(num_features, seed)
    W, best = random_search(with_ones(X), y, loss="svm", num_tries=1000, scale=0.1, seed=seed)
    out = {"random_loss": best,
           "random_acc": float(np.mean(np.argmax(with_ones(X_test) @ W, axis=1) == y_test))}
    for loss in ("svm", "softmax"):
        model = LinearClassifier(num_features, 3, loss=loss, reg=1e-3, seed=seed)
        history = model.fit(X, y, lr=0.01, num_iters=300, batch_size=50)
        out[f"{loss}_first"], out[f"{loss}_last"] = history[0], history[-1]
        out[f"{loss}_acc"] = model.score(X_test, y_test)
    return out


def main(seed: int = 0) -> dict:
    """Print the 2-D comparison and the noise-feature table; return every number."""
    results = {d: compare(d, seed) for d in (2, 20, 100)}
    r = results[2]
    print("3 Gaussian blobs in 2-D, 240 training / 60 test points")
    print(f"  random search (1000 tries): best SVM loss {r['random_loss']:.3f}, "
          f"test accuracy {r['random_acc']:.2f}")
    for loss, start in (("svm", "(C - 1) = 2"), ("softmax", "ln 3 = 1.10")):
        print(f"  SGD, {loss + ' loss,':<13} 300 steps: loss {r[f'{loss}_first']:.3f} -> "
              f"{r[f'{loss}_last']:.3f} (starts near {start}), "
              f"test accuracy {r[f'{loss}_acc']:.2f}")
    print("\nThe same blobs with extra pure-noise features (test accuracy)")
    print(f"  {'features':>8}  {'random search':>13}  {'SGD svm':>7}  {'SGD softmax':>11}")
    for d, r in results.items():
        accs = (r["random_acc"], r["svm_acc"], r["softmax_acc"])
        print(f"  {d:>8}  {accs[0]:>13.2f}  {accs[1]:>7.2f}  {accs[2]:>11.2f}")
    return results


if __name__ == "__main__":
    main()
