"""Beyond the linear score: the two-layer net ``s = W2 max(0, W1 x + b1) + b2`` on spirals.

Run: ``python examples/04_two_layer_net.py``. The data are three interleaved spiral arms in
2-D (600 points; 480 to train, 120 to test), the classic picture of what a linear classifier
cannot do: every straight boundary cuts through all three arms. A hidden layer of 100 ReLU
units bends the boundaries around them. The net is trained three ways (SGD, SGD with
momentum, Adam) from the same initial weights, and its per-epoch history is printed for Adam.
"""

from __future__ import annotations

import numpy as np

from tinygrad_lc.models import LinearClassifier, MLPClassifier

NUM_TRAIN = 480


def spirals(n_per_class: int = 200, num_classes: int = 3, seed: int = 0):
    """Seeded spiral arms: class k winds out from the origin, starting at angle 2 pi k / K."""
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.05, 1.0, n_per_class), num_classes)
    k = np.repeat(np.arange(num_classes), n_per_class)
    angle = 4.0 * r + 2 * np.pi * k / num_classes + 0.2 * rng.standard_normal(r.size)
    X = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    order = rng.permutation(len(k))
    return X[order], k[order].astype(np.int64)


def main(seed: int = 0) -> dict:
    """Train the linear classifier and the two-layer net; print and return the accuracies."""
    X, y = spirals(seed=seed)
    X_train, y_train, X_test, y_test = X[:NUM_TRAIN], y[:NUM_TRAIN], X[NUM_TRAIN:], y[NUM_TRAIN:]
    results = {}
    linear = LinearClassifier(2, 3, loss="softmax", reg=1e-3, seed=seed)
    linear.fit(X_train, y_train, lr=0.5, num_iters=1000, batch_size=60)
    results["linear"] = (linear.score(X_train, y_train), linear.score(X_test, y_test))
    settings = {"sgd": {"lr": 0.5}, "momentum": {"lr": 0.1, "momentum": 0.9},
                "adam": {"lr": 1e-2}}
    nets = {}
    for name, fit_options in settings.items():
        net = MLPClassifier(2, 3, hidden=(100,), reg=1e-3, optimizer=name, seed=seed)
        net.fit(X_train, y_train, num_iters=1000, batch_size=60, lr_decay=0.99,
                X_val=X_test, y_val=y_test, **fit_options)
        results[name] = (net.score(X_train, y_train), net.score(X_test, y_test))
        nets[name] = net

    print("3 spiral arms in 2-D, 480 training / 120 test points (accuracy)")
    print(f"  {'model':<34} {'train':>5}  {'test':>5}")
    labels = {"linear": "linear softmax classifier",
              "sgd": "two-layer net (100 ReLU), SGD", "momentum": "two-layer net, SGD momentum 0.9",
              "adam": "two-layer net, Adam"}
    for key, (train, test) in results.items():
        print(f"  {labels[key]:<34} {train:>5.2f}  {test:>5.2f}")
    h = nets["adam"].history
    print("\nAdam's history (every 25th epoch of 8 steps): loss on the training rows, accuracies")
    for e in range(24, len(h["epoch"]), 25):
        print(f"  epoch {h['epoch'][e]:>3}: loss {h['loss'][e]:.3f}  train "
              f"{h['train_accuracy'][e]:.2f}  val {h['val_accuracy'][e]:.2f}")
    print("\nlearned parameters:", ", ".join(f"{name} {tuple(p.shape)}" for name, p in
                                             nets["adam"].net.named_parameters()))
    return results


if __name__ == "__main__":
    main()
