"""Tests written to kill the mutants `make mutate` found alive (see docs/testing.md).

Each test guards a behaviour that a mutation of the named module changed while every other test
stayed green. One section per mutated module. The file is long because each test is one
survivor's story; it is checked by `make mutate` like the rest of the suite.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from tinygrad_lc import AnomalyError, Tensor, detect_anomaly
from tinygrad_lc.core import tensor as tensor_module
from tinygrad_lc.core.ops import NUMPY, OPS
from tinygrad_lc.gradcheck import gradcheck_report
from tinygrad_lc.losses import check_labels, svm_loss
from tinygrad_lc.optim import SGD
from tinygrad_lc.regularizers import elastic_net, l2, max_norm_, penalty
from tinygrad_lc.util.checkpoint import load_checkpoint, save_checkpoint


def _message(fn, error=Exception) -> str:
    """The message of the ``error`` that ``fn()`` raises."""
    with pytest.raises(error) as info:
        fn()
    return str(info.value)


# ---------------------------------------------------------------- tensor
def test_repr_shows_four_digits_twenty_entries_and_only_what_is_set():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert repr(Tensor([1 / 3])) == "Tensor([0.3333])"
    assert repr(Tensor([1.0], requires_grad=True) + 1) == \
        "Tensor([2.], requires_grad=True, op='add')"
    assert repr(Tensor(np.ones(2, dtype=np.float32), requires_grad=True, name="w")) == \
        "Tensor([1., 1.], dtype=float32, requires_grad=True, name='w')"
    assert "..." not in repr(Tensor(np.arange(20.0)))
    assert repr(Tensor(np.arange(21.0))) == "Tensor([ 0.,  1.,  2., ..., 18., 19., 20.])"


def test_tensor_errors_word_for_word():
    ro = np.ones(3)
    ro.setflags(write=False)
    cases = [
        (lambda: Tensor(ro).assign_(0.0),
         "assign_: the data is read-only (it shares a read-only array)"),
        (lambda: Tensor([1.0]).assign_("abc"),
         "assign_: cannot make an array from str: could not convert string to float: 'abc'"),
        (lambda: bool(Tensor([1.0, 2.0])), "bool: the truth value of a tensor of shape (2,) is "
                                           "ambiguous; use (t.data > 0).any() or .all()"),
        (lambda: len(Tensor(1.0)), "len: a 0-d tensor has no length"),
        (lambda: Tensor([1.0]) ** "2", "pow: the exponent must be a constant real number, got str"),
        (lambda: "a" ** Tensor([1.0]), "pow: a constant base must be a positive number, got 'a'"),
        (lambda: 1j ** Tensor([1.0]), "pow: a constant base must be a positive number, got 1j"),
        (lambda: 0.0 ** Tensor([1.0]), "pow: a constant base must be a positive number, got 0.0"),
        (lambda: Tensor(np.ones((2, 3))).transpose(0, 5),
         "transpose: axis (0, 5) is out of range for shape (2, 3)"),
    ]
    for fn, text in cases:
        assert _message(fn) == text


def test_constructor_and_backward_errors_word_for_word():
    cases = [
        (lambda: Tensor([1, 2], requires_grad=True, dtype=np.int64),
         "Tensor: requires_grad=True needs floating data, got dtype int64; gradients exist only "
         "for float32/float64 tensors"),
        (lambda: Tensor([1.0], name=3), "Tensor: name must be a str, got int"),
        (lambda: Tensor([1.0]).backward(),
         "backward: this tensor does not require grad, so no graph was recorded; create the "
         "inputs with requires_grad=True (and not inside no_grad())"),
        (lambda: Tensor([1.0, 2.0], requires_grad=True).backward(),
         "backward: called without `grad` on a tensor of shape (2,); reduce it to a scalar "
         "first (e.g. .sum()) or pass grad= of that shape"),
        (lambda: Tensor([1.0], requires_grad=True).backward(grad="a"),
         "backward: cannot make an array from str: could not convert string to float: 'a'"),
    ]
    for fn, text in cases:
        assert _message(fn) == text


def test_a_tensor_of_a_tensor_takes_its_data():
    t = Tensor(Tensor([1.0, 2.0], dtype=np.float32))
    assert t.dtype == np.float32 and t.data.tolist() == [1.0, 2.0]


def test_a_float32_loss_seeds_backward_with_float32():
    x = Tensor(np.array(2.0, np.float32), requires_grad=True)
    y = x * x
    y.backward()
    assert y.grad.dtype == np.float32 and x.grad.dtype == np.float32 and x.grad == 4.0


def test_op_results_hold_arrays_and_unrecorded_ones_need_no_grad():
    total = Tensor([1.0, 2.0]).sum()  # np.sum gives a NumPy scalar: it is wrapped as an array
    assert isinstance(total.data, np.ndarray) and total.requires_grad is False


def test_a_node_keeps_its_op_arguments_for_the_local_check_and_the_kink_log():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    x = Tensor(a, requires_grad=True, name="x")
    report = gradcheck_report(lambda x: x.max(axis=1).sum(), x, localize=True)
    assert report.passed and report.first_bad_op is None
    with tensor_module.kink_log() as log:
        Tensor(a).max(axis=1)
    (name, scope, side), = log
    assert name == "max" and side.tolist() == [[0, 1, 0], [1, 0, 0]]


def test_anomaly_error_names_the_op_and_its_input_shapes():
    with pytest.raises(AnomalyError) as info, np.errstate(divide="ignore"):
        with detect_anomaly():
            Tensor([0.0], requires_grad=True).log()
    assert str(info.value).startswith(
        "log: forward output holds 1 inf (scope '<top>', input shapes (1,)); created at ")


def test_gradients_reaching_a_tensor_twice_add_up_without_touching_others():
    # the reshape's VJP hands x a view of y's gradient; the other path's gradient must be
    # added to it without writing through that view (y.grad) or dropping either part
    for reshape_first in (True, False):
        x = Tensor(np.ones(4), requires_grad=True)
        if reshape_first:
            y = x.reshape(2, 2)
            z = x * 3.0
        else:
            z = x * 3.0
            y = x.reshape(2, 2)
        (y.sum() + z.sum()).backward()
        assert x.grad.tolist() == [4.0] * 4 and y.grad.tolist() == [[1.0, 1.0]] * 2
    x = Tensor(np.ones(4), requires_grad=True)  # both parts are views of other gradients
    y, w = x.reshape(2, 2), x.reshape(4, 1)
    (y.sum() + (w * 2.0).sum()).backward()
    assert x.grad.tolist() == [3.0] * 4
    assert y.grad.tolist() == [[1.0, 1.0]] * 2 and w.grad.tolist() == [[2.0]] * 4


def test_an_op_result_has_no_name():
    assert (Tensor([1.0], requires_grad=True) + 1).name is None


def test_changed_in_place_error_says_to_recompute_the_forward():
    w = Tensor([1.0, 2.0], requires_grad=True, name="W")
    y = w.exp()
    w.assign_(0.0)
    assert _message(lambda: y.sum().backward(), RuntimeError) == (
        "backward: tensor 'W' of shape (2,) (version 1) was changed in place after op 'exp' "
        "used it; its gradient would be wrong. Recompute the forward pass after changing it.")


def test_detach_gives_a_leaf_whose_requires_grad_is_false():
    d = Tensor([1.0], requires_grad=True).detach()
    assert d.requires_grad is False and d.op is None


def test_a_number_operand_becomes_a_constant_leaf():
    const = (Tensor([1.0], requires_grad=True) + 2.0).parents[1]
    assert const.requires_grad is False and const.op is None and const.item() == 2.0


def test_operand_errors_word_for_word():
    tail = "; expected a Tensor, an ndarray or a real number"
    assert _message(lambda: Tensor([1.0]) + "a") == "add: unsupported operand type str" + tail
    assert _message(lambda: "a" @ Tensor([1.0])) == "matmul: unsupported operand type str" + tail
    assert _message(lambda: "a" + Tensor([1.0])) == "add: unsupported operand type str" + tail
    assert _message(lambda: Tensor(np.ones(2)) + Tensor(np.ones(3))) == "add: shapes (2,) and " \
        "(3,) cannot be broadcast together (trailing dimensions must match or be 1)"
    assert _message(lambda: Tensor(np.ones((2, 2))) @ Tensor(np.ones((2, 2, 2)))) == \
        "matmul: supports 1-D and 2-D operands, got shapes (2, 2) and (2, 2, 2)"


def test_an_integer_list_times_a_float32_tensor_is_float32():
    out = [1, 2] @ Tensor(np.array([3.0, 4.0], np.float32))
    assert out.dtype == np.float32 and out.item() == 11.0


def test_a_graph_of_shared_subexpressions_is_walked_once_per_node():
    # h = h + h sixty times: 2**60 paths from h to x, 61 nodes; a walk that revisits
    # a node once per path would never finish
    x = Tensor(1.0, requires_grad=True)
    h = x
    for _ in range(60):
        h = h + h
    h.backward()
    assert x.grad == 2.0**60


def test_mean_and_logsumexp_reduce_everything_to_a_scalar_by_default():
    t = Tensor(np.ones((2, 3)))
    assert t.mean().shape == () and t.logsumexp().shape == ()


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


def test_regularizer_errors_word_for_word():
    frozen = np.ones((2, 2))
    frozen.setflags(write=False)
    cases = [
        (lambda: max_norm_(frozen, 1.0), "max_norm_: W's array is read-only, so it cannot be "
                                         "rescaled in place; pass a writable copy (np.array(W))"),
        (lambda: max_norm_(Tensor([1.0]), "1"), "max_norm_: c must be a real number, got str"),
        (lambda: max_norm_([1.0], 1.0), "max_norm_: W must be a Tensor or an ndarray, got list"),
        (lambda: elastic_net(Tensor([1.0]), beta=-1.0),
         "elastic_net: beta must be a finite number >= 0, got -1.0"),
    ]
    for fn, text in cases:
        assert _message(fn) == text


def test_max_norm_leaves_a_slice_of_norm_exactly_c_alone():
    W = Tensor([[3.0], [4.0]])  # norm 5 exactly: nothing to project, so no in-place change
    max_norm_(W, 5.0)
    assert W.version == 0 and np.array_equal(W.data, [[3.0], [4.0]])


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


# ---------------------------------------------------------------- ops
def test_reduction_vjps_keep_float32():
    a = np.array([[1.0, 2.0], [3.0, 5.0]], np.float32)
    for name in ("sum", "mean", "logsumexp"):
        op = OPS[name]
        out = op.fwd(a, axis=1, keepdims=False)
        g = op.vjps[0](NUMPY, np.ones(2, np.float32), out, a, axis=1, keepdims=False)
        assert g.dtype == np.float32, name


def test_every_kink_function_returns_integers():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0])
    for name, args, kw in [("maximum", (a, b), {}), ("max", (a,), {}), ("abs", (a - 2,), {}),
                           ("relu", (a - 2,), {})]:
        side = OPS[name].kink(*args, **kw)
        assert side.dtype.kind == "i", name


def test_maximum_kink_is_the_side_of_a_against_b():
    side = OPS["maximum"].kink(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0]))
    assert side.tolist() == [-1, 0, 1]


def test_max_kink_marks_the_maximum_of_each_slice_along_the_axis():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    assert OPS["max"].kink(a, axis=1, keepdims=False).tolist() == [[0, 1, 0], [1, 0, 1]]
    assert OPS["max"].kink(a, axis=0, keepdims=True).tolist() == [[0, 1, 0], [1, 0, 1]]
    assert OPS["max"].kink(a.T, axis=0).tolist() == [[0, 1], [1, 0], [0, 1]]


def test_logsumexp_shifts_each_row_by_its_own_max():
    # one shift for the whole array (1000) would underflow the second row to log(0) = -inf
    out = Tensor([[1000.0, 1000.0], [0.0, 0.0]]).logsumexp(axis=1).data
    np.testing.assert_allclose(out, [1000.0 + np.log(2.0), np.log(2.0)], rtol=1e-15)


def test_matmul_weight_gradient_keeps_the_precision_of_its_inputs():
    rng = np.random.default_rng(0)
    a32, b32 = rng.standard_normal((4, 3), dtype=np.float32), rng.standard_normal((3, 2),
                                                                                  dtype=np.float32)
    out = OPS["matmul"].fwd(a32, b32)
    vjp_b = OPS["matmul"].vjps[1]
    assert vjp_b(NUMPY, np.ones((4, 2), np.float32), out, a32, b32).dtype == np.float32
    X = Tensor(rng.standard_normal((4, 3)).astype(np.float32))  # float32 data, float64 weights
    W = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    G = rng.standard_normal((4, 2))
    (X @ W).backward(G)
    np.testing.assert_array_equal(W.grad, X.data.astype(np.float64).T @ G)


# ---------------------------------------------------------------- losses
def test_loss_errors_word_for_word():
    s, y = Tensor([[1.0, 2.0]]), np.array([0])
    cases = [
        (lambda: svm_loss(s, y, delta=-1.0), "delta must be a finite number >= 0, got -1.0"),
        (lambda: svm_loss(Tensor([[np.nan, 1.0]]), y), "scores hold 1 NaN or infinite value(s) "
         "of 2; the loss would be NaN (did training diverge? try a smaller learning rate)"),
        (lambda: svm_loss(s, y, squared=1), "squared must be True or False, got 1"),
        (lambda: svm_loss(s, y, include_correct="yes"),
         "include_correct must be True or False, got 'yes'"),
        (lambda: svm_loss(s, y, class_reduction="max"),
         "class_reduction must be one of 'sum', 'mean', got 'max'"),
        (lambda: svm_loss(s, y, reduction="avg"),
         "reduction must be one of 'mean', 'sum', 'none', got 'avg'"),
        (lambda: svm_loss(Tensor([[1.0]]), y, class_reduction="mean"),
         "class_reduction='mean' averages over the C - 1 = 0 wrong classes of scores with "
         "C = 1 column; use class_reduction='sum' or include_correct=True"),
    ]
    for fn, text in cases:
        assert _message(fn) == "svm_loss: " + text


def test_label_errors_give_the_hint_that_fits():
    tail = " (a label Tensor needs dtype=np.int64)"
    cases = [
        (np.array([0.0]), 1, "; the values are whole numbers, so convert them with "
                             "y.astype(np.int64)"),
        (np.array([0.5]), 1, ""),
        ([], 0, "; an empty list becomes float64: pass np.array([], dtype=np.int64)"),
        (np.array([], dtype=bool), 0, ""),
    ]
    for y, n, hint in cases:
        dtype = np.asarray(y).dtype
        assert _message(lambda y=y, n=n: check_labels("f", y, n, 3), ValueError) == \
            f"f: labels y must be integers, got dtype {dtype}{hint}{tail}"

    class Unreadable:
        def __array__(self, *args, **kwargs):
            raise ValueError("nope")

    assert _message(lambda: check_labels("f", Unreadable(), 1, 3), ValueError) == \
        "f: cannot read labels y of type Unreadable: nope"


# ---------------------------------------------------------------- optim
def test_sgd_skips_a_parameter_without_gradient_and_updates_the_next():
    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    b.grad = np.array([2.0])
    SGD([a, b], lr=0.5).step()
    assert a.data.tolist() == [1.0] and b.data.tolist() == [0.0]


def _frozen_parameter():
    p = Tensor([1.0], requires_grad=True)
    frozen = p.data
    frozen.setflags(write=False)
    p.grad = np.array([1.0])
    return p, frozen


def test_sgd_step_on_a_read_only_parameter_leaves_that_array_alone():
    p, frozen = _frozen_parameter()
    SGD([p], lr=0.5).step()
    assert frozen.tolist() == [1.0] and p.data is not frozen


def test_sgd_step_on_a_read_only_parameter_updates_it():
    # found by make mutate: the step used to update a copy the data setter then copied again
    p, _ = _frozen_parameter()
    SGD([p], lr=0.5).step()
    assert p.data.tolist() == [0.5]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_momentum_velocity_is_its_own_array_of_the_parameter_dtype(dtype):
    p = Tensor(np.array([1.0], dtype=dtype), requires_grad=True)
    p.grad = np.array([1.0])  # float64, as a user may set it by hand
    opt = SGD([p], lr=0.5, momentum=0.5)
    opt.step()
    assert opt.velocity[0].dtype == dtype and not np.shares_memory(opt.velocity[0], p.grad)
    opt.step()  # the same gradient again: v = 0.5 * 1 + 1, and the gradient stays 1
    assert opt.velocity[0].tolist() == [1.5] and p.grad.tolist() == [1.0]
    assert p.data.tolist() == [1.0 - 0.5 * 1.0 - 0.5 * 1.5]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loaded_velocity_is_copied_and_cast_to_the_parameter_dtype(dtype):
    p = Tensor(np.array([1.0, 2.0], dtype=dtype), requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9)
    state = opt.state_dict()
    state["velocity"] = [np.array([1.0, 1.0])]
    opt.load_state_dict(state)
    assert opt.velocity[0].dtype == dtype
    assert not np.shares_memory(opt.velocity[0], state["velocity"][0])


def test_sgd_errors_word_for_word():
    W = Tensor([1.0], requires_grad=True)
    cases = [
        (lambda: SGD(W, lr=0.1), "SGD: params must be a list of Tensors, got a single Tensor; "
                                 "wrap it: SGD([W], ...)"),
        (lambda: SGD([Tensor([1.0])], lr=0.1), "SGD: params[0] (shape (1,)) must be a leaf "
         "Tensor with requires_grad=True, the kind an optimizer can update in place"),
        (lambda: SGD([W], lr=0.1, momentum=1.0),
         "SGD: momentum must be a finite number in [0.0, 1.0), got 1.0"),
        (lambda: SGD([W], lr=0.1, nesterov=True),
         "SGD: nesterov=True needs momentum > 0, got momentum=0.0"),
        (lambda: SGD([W], lr=0.1, weight_decay=-1.0),
         "SGD: weight_decay must be a finite number >= 0.0, got -1.0"),
        (lambda: SGD([W], lr=0.1, max_norm=0.0),
         "SGD: max_norm must be a finite number > 0.0, got 0.0"),
    ]
    for fn, text in cases:
        assert _message(fn) == text
    named = Tensor([1.0], requires_grad=True, name="W")
    named.grad = np.array([np.nan])
    assert _message(lambda: SGD([W, named], lr=0.1).step(), ValueError) == (
        "SGD.step: the gradient of params[1] 'W' (shape (1,)) holds 1 NaN or infinite value(s); "
        "no parameter was changed (find the op with tg.detect_anomaly(), or lower the learning "
        "rate)")


def test_sgd_load_state_dict_errors_word_for_word():
    opt = SGD([Tensor([1.0, 2.0], requires_grad=True)], lr=0.1, momentum=0.9)
    good = opt.state_dict()
    cases = [
        ({"lr": -1.0}, "SGD.load_state_dict: lr must be a finite number >= 0.0, got -1.0"),
        ({"momentum": 1.5},
         "SGD.load_state_dict: momentum must be a finite number in [0.0, 1.0), got 1.5"),
        ({"weight_decay": -1.0},
         "SGD.load_state_dict: weight_decay must be a finite number >= 0.0, got -1.0"),
        ({"max_norm": 0.0}, "SGD.load_state_dict: max_norm must be a finite number > 0.0, got 0.0"),
        ({"velocity": [None, None]}, "SGD.load_state_dict: velocity must be a list of 1 entries "
                                     "(one per parameter), got 2"),
        ({"velocity": "abc"}, "SGD.load_state_dict: velocity must be a list of 1 entries "
                              "(one per parameter), got str"),
        ({"nesterov": True, "momentum": 0.0},
         "SGD.load_state_dict: nesterov=True needs momentum > 0"),
    ]
    for change, text in cases:
        assert _message(lambda change=change: opt.load_state_dict({**good, **change})) == text
    assert _message(lambda: opt.load_state_dict([1]), TypeError) == \
        "SGD.load_state_dict: expected a dict, got list"


# ---------------------------------------------------------------- checkpoint
def test_tuple_keys_come_back_as_tuples(tmp_path):
    save_checkpoint(tmp_path / "k.npz", {"a": {(1, 2): 3, 4: "x"}})
    assert load_checkpoint(tmp_path / "k.npz") == {"a": {(1, 2): 3, 4: "x"}}


def test_save_checkpoint_errors_name_where_the_bad_value_sits(tmp_path):
    tail = "; expected dicts, lists, numbers, strings, None or numpy arrays"
    cases = [
        ([1], "save_checkpoint: expected a dict state, got list"),
        ({"a": [1, object()]}, "save_checkpoint: state['a'][1] is a object" + tail),
        ({"a": {1: object()}}, "save_checkpoint: state['a'][1] is a object" + tail),
        ({"a": {(1, object()): 2}}, "save_checkpoint: state['a'] key[1] is a object" + tail),
    ]
    for state, text in cases:
        assert _message(lambda state=state: save_checkpoint(tmp_path / "c.npz", state),
                        TypeError) == text


def test_load_checkpoint_errors_word_for_word(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    np.save(tmp_path / "x.npy", np.zeros(2))
    (tmp_path / "text.npz").write_text("hello world")
    (tmp_path / "garbage.npz").write_bytes(b"PK\x03\x04garbage")
    with zipfile.ZipFile(tmp_path / "header.npz", "w") as z:
        z.writestr("x.npy", b"\x93NUMPY\x01\x00\x10\x00{bad header}   \n")
    np.savez(tmp_path / "pickled.npz", x=np.array([None], dtype=object))
    np.savez(tmp_path / "bare.npz")
    np.savez(tmp_path / "list.npz", __meta__=np.array(json.dumps([1])))
    np.savez(tmp_path / "state.npz", __meta__=np.array(json.dumps(
        {"format": "tinygrad_lc.checkpoint", "version": 1, "state": [1]})))
    invalid = "is not a valid tinygrad_lc checkpoint: "
    cases = [
        ("missing.npz", "does not exist"),
        ("", "is not a file"),
        ("empty.npz", "is empty (0 bytes); was it copied or saved only in part?"),
        ("x.npy", "is a single .npy array, not a checkpoint (an .npz archive)"),
        ("text.npz", "is not an .npz archive (it starts with b'hello '; a text file?)"),
        ("garbage.npz", "is truncated or corrupt (BadZipFile: File is not a zip file)"),
        ("header.npz",
         "is truncated or corrupt (ValueError: Cannot parse header: '{bad header}   \\n')"),
        ("pickled.npz", "holds pickled objects, which checkpoints never do; refusing to "
                        "unpickle them"),
        ("bare.npz", "is not a tinygrad_lc checkpoint: it is an .npz archive without the "
                     "'__meta__' entry (it holds: nothing)"),
        ("list.npz", invalid + "the description is not a JSON object"),
        ("state.npz", invalid + "the saved state is not a dict"),
    ]
    for name, what in cases:
        path = tmp_path / name
        assert _message(lambda path=path: load_checkpoint(path)) == \
            f"load_checkpoint: {path} {what}"
