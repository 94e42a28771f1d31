"""Datasets for the lecture: CIFAR-10 (see ``cifar10``), scikit-learn's 8x8 digits, seeded
Gaussian blobs (``make_blobs``, the 2-D toy set of ``--dataset blobs`` and the examples), and
the usual preprocessing: a seeded train/validation split, mean subtraction and the bias trick.

The public face of ``tinygrad_lc.data``; the code is in ``sources.py``.
"""

from tinygrad_lc.data.sources import (  # noqa: F401  (re-exported)
    CACHE_FORMAT,
    CIFAR10_FOLDER,
    DIGITS_CACHE,
    atomic_open,
    atomic_write,
    cached_arrays,
    check_count,
    check_real,
    cifar10_fingerprint,
    data_root,
    file_fingerprint,
    load_cifar10,
    load_digits,
    make_blobs,
    preprocess,
    train_val_split,
)

__all__ = ['cached_arrays', 'cifar10_fingerprint', 'data_root', 'file_fingerprint', 'load_cifar10', 'load_digits', 'make_blobs', 'preprocess', 'train_val_split']
