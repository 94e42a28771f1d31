"""Tests written to kill the mutants `make mutate` found alive (see docs/testing.md).

Each test guards a behaviour that a mutation of the named module changed while every other test
stayed green. Sections follow the modules: tensor, ops, losses, regularizers, optim, checkpoint.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lc import Tensor
from tinygrad_lc.regularizers import elastic_net, l2, max_norm_, penalty


# ---------------------------------------------------------------- regularizers
def test_a_single_non_tensor_is_named_without_an_item_index():
    with pytest.raises(TypeError) as info:
        l2(5)
    assert str(info.value) == "l2: expected a Tensor or a list of Tensors, got int"


def test_a_non_tensor_inside_a_list_is_named_with_its_index():
    for W in ([5], (5,)):
        with pytest.raises(TypeError) as info:
            l2(W)
        assert str(info.value) == "l2: expected a Tensor or a list of Tensors, got int (item 0)"


def test_penalty_elastic_net_weighs_the_square_by_one_by_default():
    W = Tensor([1.0, -2.0])
    assert penalty("elastic_net", W).item() == elastic_net(W, beta=1.0).item() == 8.0


def test_max_norm_read_only_error_says_what_to_do():
    frozen = np.ones((2, 2))
    frozen.setflags(write=False)
    with pytest.raises(ValueError, match=r"pass a writable copy \(np.array\(W\)\)"):
        max_norm_(frozen, 1.0)


def test_max_norm_of_a_vector_and_with_negative_axes():
    v = np.array([3.0, 4.0])
    max_norm_(v, 1.0, axis=0)
    np.testing.assert_allclose(v, [0.6, 0.8], rtol=1e-15)
    W = np.array([[3.0, 0.1], [4.0, 0.2]])
    max_norm_(W, 1.0, axis=-2)  # -ndim is axis 0, the columns
    np.testing.assert_allclose(W, [[0.6, 0.1], [0.8, 0.2]], rtol=1e-15)


def test_max_norm_refuses_a_non_integer_axis():
    with pytest.raises(ValueError, match=r"max_norm_: axis 1.0 is out of range"):
        max_norm_(np.ones((2, 2)), 1.0, axis=1.0)


def test_max_norm_of_zero_slices_computes_no_nan():
    W = np.array([[0.0, 3.0], [0.0, 4.0]])
    with np.errstate(all="raise"):  # a 0 / 0 on the zero column would raise here
        max_norm_(W, 1.0)
    np.testing.assert_array_equal(W[:, 0], [0.0, 0.0])
    np.testing.assert_allclose(W[:, 1], [0.6, 0.8], rtol=1e-15)
