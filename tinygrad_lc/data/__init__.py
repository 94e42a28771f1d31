"""Datasets for the lecture: CIFAR-10 (see ``cifar10``), scikit-learn's 8x8 digits, seeded
Gaussian blobs (``make_blobs``, the 2-D toy set of ``--dataset blobs`` and the examples), and
the usual preprocessing: a seeded train/validation split, mean subtraction and the bias trick.

The public face of ``tinygrad_lc.data``; the code is in ``sources.py``.
"""

from tinygrad_lc.data.sources import (
    DIGITS_CACHE,
    cached_arrays,
    cifar10_fingerprint,
    data_root,
    file_fingerprint,
    load_cifar10,
    load_digits,
    make_blobs,
    preprocess,
    train_val_split,
)

__all__ = [
    "cached_arrays", "cifar10_fingerprint", "data_root", "file_fingerprint", "load_cifar10",
    "load_digits", "make_blobs", "preprocess", "train_val_split", "DIGITS_CACHE"
]
