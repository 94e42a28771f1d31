"""Datasets for the lecture: CIFAR-10 (see ``cifar10``), the 8x8 handwritten digits that ship
inside the package (``digits``), seeded Gaussian blobs (``make_blobs``, the 2-D toy set of
``--dataset blobs`` and the examples), and the usual preprocessing: a seeded train/validation
split, mean subtraction and the bias trick. The data folder and its cache are in ``cache``.

The public face of ``tinygrad_lc.data``.
"""

from tinygrad_lc.data.cache import cached_arrays, data_root, file_fingerprint
from tinygrad_lc.data.cifar10 import cifar10_fingerprint, load_cifar10
from tinygrad_lc.data.digits import load_digits
from tinygrad_lc.data.sources import make_blobs, preprocess, train_val_split

__all__ = [
    "cached_arrays", "cifar10_fingerprint", "data_root", "file_fingerprint", "load_cifar10",
    "load_digits", "make_blobs", "preprocess", "train_val_split",
]
