"""The mutation guard: a backward that needs a value changed in place since the forward refuses.

Every Tensor has a version counter, bumped by in-place changes made through the API (the
``data`` setter, optimizer steps, ``max_norm_``). Ops whose VJPs read forward values
(``Op.needs_values``) check at backward time that neither their inputs nor their output changed.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lc as tg
from tinygrad_lc import Tensor
from tinygrad_lc.core.ops import OPS

CHANGED = r"backward: tensor 'W' of shape \(2, 2\) \(version 1\) was changed in place after op '{}'"


def _w():
    return Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, name="W")


# ---------------------------------------------------------------- the version counter
def test_version_starts_at_zero_and_counts_each_in_place_change():
    w, other = _w(), _w()
    assert (w.version, other.version) == (0, 0)
    w.data = np.zeros((2, 2))
    assert w.version == 1
    w.data -= 1.0  # `-=` on the property runs the setter, which bumps
    assert w.version == 2 and np.array_equal(w.data, -np.ones((2, 2)))
    w._bump_version()
    assert (w.version, other.version) == (3, 0)


def test_ops_and_grads_do_not_bump_versions():
    w = _w()
    (w * w).sum().backward()
    w.zero_grad()
    y = w.exp()
    assert (w.version, y.version) == (0, 0)


def test_data_setter_checks_shape_and_keeps_dtype():
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"Tensor.data: new value has shape \(2,\), expected"):
        w.data = np.ones(2)
    assert w.version == 0
    w.data = [1, 2, 3]
    assert w.dtype == np.float32 and w.version == 1


def test_a_partial_write_through_the_array_is_not_seen():
    # documented limitation: `t.data[...] = v` writes into the array behind the API's back;
    # use the data setter (or `assign_`) so the guard knows, or detect_anomaly() (below).
    w = _w()
    w.data[0, 0] = 5.0
    assert w.version == 0


# ---------------------------------------------------------------- ops that need values refuse
@pytest.mark.parametrize(
    ("op", "build"),
    [
        ("mul", lambda w, x: (w * x).sum()),
        ("matmul", lambda w, x: (x @ w).sum()),
        ("div", lambda w, x: (x / w).sum()),
        ("exp", lambda w, x: w.exp().sum()),
        ("log", lambda w, x: w.log().sum()),
        ("pow", lambda w, x: (w**2).sum()),
        ("max", lambda w, x: w.max()),
        ("logsumexp", lambda w, x: w.logsumexp()),
        ("softmax", lambda w, x: (w.softmax() * x).sum()),
        ("maximum", lambda w, x: tg.maximum(w, 2.5).sum()),
        ("relu", lambda w, x: w.relu().sum()),
        ("abs", lambda w, x: w.abs().sum()),
        ("sqrt", lambda w, x: w.sqrt().sum()),
    ],
)
def test_changed_input_of_an_op_that_needs_values_raises(op, build):
    w, x = _w(), Tensor(np.full((2, 2), 0.5))
    loss = build(w, x)
    w.data = w.data + 1.0
    with pytest.raises(RuntimeError, match=CHANGED.format(op)):
        loss.backward()
    assert w.grad is None


def test_changed_output_of_exp_raises():
    w = _w()
    y = w.exp()
    loss = (y * 1.0).sum()
    y.data = np.zeros((2, 2))
    with pytest.raises(RuntimeError, match=r"changed in place after op '(exp|mul)'"):
        loss.backward()


@pytest.mark.parametrize(
    "build",
    [
        lambda w: (w + 1.0).sum(),
        lambda w: (3.0 - w).sum(),
        lambda w: (-w).mean(),
        lambda w: w.reshape(4)[1:].sum(),
        lambda w: w.T.sum(axis=0).sum(),
        lambda w: tg.concatenate([w, w]).sum(),
    ],
)
def test_ops_that_need_no_values_give_the_right_gradient_after_a_change(build):
    w = _w()
    loss = build(w)
    want = np.array(_grad_of(build))
    w.data = w.data * 10.0
    loss.backward()
    np.testing.assert_array_equal(w.grad, want)


def _grad_of(build):
    w = _w()
    build(w).backward()
    return w.grad


@pytest.mark.parametrize("name", sorted(OPS))
def test_needs_values_flag_matches_what_the_vjps_read(name):
    # add/sub/neg/sum/mean/reshape/transpose/getitem/concatenate/stack and the backward's
    # expand/scatter/cast read no forward values
    value_free = {"add", "sub", "neg", "sum", "mean", "reshape", "transpose", "getitem",
                  "concatenate", "stack", "expand", "scatter", "cast"}
    assert OPS[name].needs_values == (name not in value_free)


def test_error_names_an_unnamed_tensor_by_shape_and_version():
    x = Tensor(np.ones(3), requires_grad=True)
    loss = (x * x).sum()
    x.data = np.ones(3)
    x.data = np.ones(3)
    with pytest.raises(RuntimeError, match=r"tensor of shape \(3,\) \(version 2\) was changed"):
        loss.backward()


def test_the_refusal_repeats_and_a_fresh_forward_works():
    w = _w()
    loss = (w * w).sum()
    w.data = w.data * 2
    for _ in range(2):
        with pytest.raises(RuntimeError, match="changed in place"):
            loss.backward()
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, 2 * w.data)


def test_a_change_to_an_unrelated_tensor_does_not_block_backward():
    w, other = _w(), _w()
    loss = (w * w).sum()
    other.data = other.data + 1
    loss.backward()
    np.testing.assert_array_equal(w.grad, 2 * w.data)


def test_changes_before_the_forward_are_fine():
    w = _w()
    for _ in range(3):
        w.data = w.data * 0.5
        w.zero_grad()
        (w * w).sum().backward()
        np.testing.assert_array_equal(w.grad, 2 * w.data)


# ---------------------------------------------------------------- optimizer and max_norm_
def test_sgd_step_then_backward_on_the_old_graph_raises():
    from tinygrad_lc.optim import SGD

    w = _w()
    opt = SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward()
    opt.step()
    assert w.version == 1
    with pytest.raises(RuntimeError, match=CHANGED.format("mul")):
        loss.backward()


def test_sgd_steps_count_versions_and_a_normal_loop_runs():
    from tinygrad_lc.optim import SGD

    w = _w()
    opt = SGD([w], lr=0.1, momentum=0.9)
    for step in range(1, 4):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        assert w.version == step


def test_max_norm_bumps_only_when_it_changes_something():
    from tinygrad_lc.regularizers import max_norm_

    w = _w()
    loss = (w * w).sum()
    max_norm_(w, 100.0)
    assert w.version == 0
    loss.backward()  # nothing changed: fine
    max_norm_(w, 1.0)
    assert w.version == 1
    with pytest.raises(RuntimeError, match=CHANGED.format("mul")):
        loss.backward()


# ---------------------------------------------------------------- through views
# Views (reshape, transpose, basic indexing, detach) share the changed tensor's memory, but
# only the changed tensor's own version moves: the backward then silently uses new values.


@pytest.mark.parametrize(
    "view",
    [
        lambda w: w.reshape(4),
        lambda w: w.T,
        lambda w: w[0],
        lambda w: w.detach(),
    ],
    ids=["reshape", "transpose", "slice", "detach"],
)
def test_change_through_a_view_is_refused(view):
    w = _w()
    v = view(w)
    x = Tensor(np.ones(v.shape), requires_grad=True)
    loss = (v * x).sum()  # x's gradient is v's forward value
    w.data -= 1.0  # in place: v's values change too
    with pytest.raises(RuntimeError, match=r"tensor 'W' of shape \(2, 2\) \(version 1\)"):
        loss.backward()


def test_in_place_update_through_the_setter_keeps_the_array():
    w = _w()
    arr = w.data
    v = w.reshape(4)
    w.data -= 1.0
    assert w.data is arr and np.array_equal(v.data, arr.reshape(4))


# ---------------------------------------------------------------- partial writes


def test_assign_writes_in_place_bumps_and_guards():
    w = _w()
    arr = w.data
    loss = (w * w).sum()
    out = w.assign_(0.0, index=(0, slice(None)))
    assert out is w and w.data is arr and w.version == 1
    np.testing.assert_array_equal(w.data, [[0.0, 0.0], [3.0, 4.0]])
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()
    w.assign_(np.ones((2, 2)))
    assert w.version == 2 and np.array_equal(w.data, np.ones((2, 2)))


def test_assign_refuses_bad_values_naming_itself():
    w = _w()
    with pytest.raises(ValueError, match=r"assign_: value of shape \(3,\)"):
        w.assign_(np.ones(3))
    with pytest.raises(TypeError, match="assign_"):
        w.assign_("x")
    with pytest.raises(IndexError, match="assign_"):
        w.assign_(1.0, index=5)
    assert w.version == 0


def test_data_setter_on_a_param_does_not_share_the_callers_array():
    w = _w()
    mine = np.zeros((2, 2))
    w.data = mine
    w.data -= 1.0  # an in-place update, as optimizers do
    assert np.array_equal(mine, np.zeros((2, 2))), "the caller's array was changed"


def test_data_setter_on_a_constant_shares_like_the_constructor():
    t = Tensor(np.ones(2))
    arr = np.zeros(2)
    t.data = arr
    assert t.data is arr  # no copy for tensors that no optimizer updates


# ---------------------------------------------------------------- writes the counter cannot see
SAVED_CHANGED = r"{}: {}.* was changed in place after the forward saved it for backward"
NEEDS_VALUES = [  # (op, loss of W and a constant x): W is an input of op
    ("mul", lambda w, x: (w * x).sum()),
    ("matmul", lambda w, x: (x @ w).sum()),
    ("div", lambda w, x: (x / w).sum()),
    ("exp", lambda w, x: w.exp().sum()),
    ("log", lambda w, x: w.log().sum()),
    ("pow", lambda w, x: (w**2).sum()),
    ("max", lambda w, x: w.max()),
    ("logsumexp", lambda w, x: w.logsumexp()),
    ("softmax", lambda w, x: (w.softmax() * x).sum()),
    ("log_softmax", lambda w, x: (w.log_softmax() * x).sum()),
    ("maximum", lambda w, x: tg.maximum(w, 2.5).sum()),
    ("relu", lambda w, x: w.relu().sum()),
    ("abs", lambda w, x: w.abs().sum()),
    ("sqrt", lambda w, x: w.sqrt().sum()),
    ("rpow", lambda w, x: (2.0**w).sum()),
]


def test_the_table_covers_every_op_that_needs_values():
    assert {op for op, _ in NEEDS_VALUES} == {n for n, o in OPS.items() if o.needs_values}


@pytest.mark.parametrize(("op", "build"), NEEDS_VALUES, ids=[op for op, _ in NEEDS_VALUES])
def test_inside_detect_anomaly_a_write_behind_the_counter_is_named(op, build):
    w, x = _w(), Tensor(np.full((2, 2), 0.5))
    with tg.detect_anomaly():
        loss = build(w, x)
        w.data[0, 0] += 1.0  # no version bump: only the checksum sees it
        label = r"input \d 'W' \(shape \(2, 2\)\)"
        with pytest.raises(tg.AnomalyError, match=SAVED_CHANGED.format(op, label)) as info:
            loss.backward()
    assert info.value.tensor.op == op and info.value.tensor._note.startswith(op)
    assert w.grad is None  # nothing half-accumulated


def test_the_issue_reproducer_is_named_instead_of_a_silently_wrong_gradient():
    w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    loss = (w * w).sum()
    w.data[0] = 100
    loss.backward()
    np.testing.assert_array_equal(w.grad, [200.0, 4.0])  # outside: the documented limitation
    w = Tensor([1.0, 2.0], requires_grad=True, name="w")
    with tg.detect_anomaly():
        loss = (w * w).sum()
        w.data[0] = 100
        with pytest.raises(tg.AnomalyError, match=r"mul: input 0 'w' \(shape \(2,\)\) was "
                                                  r"changed in place.*test_mutation_guard.py"):
            loss.backward()


def test_a_changed_output_a_view_and_an_index_array_are_named():
    w = _w()
    with tg.detect_anomaly():
        y = w.exp()
        loss = y.sum()
        y.data[1, 1] = 0.0
        with pytest.raises(tg.AnomalyError, match=SAVED_CHANGED.format("exp", r"its output")):
            loss.backward()

        w = _w()
        loss = (w * w).sum()
        view = w.numpy()[1]  # a view of W's data
        view[0] = 7.0
        with pytest.raises(tg.AnomalyError, match=SAVED_CHANGED.format("mul", r"input 0 'W'")):
            loss.backward()

        w = _w()
        rows = np.array([0, 1])
        loss = w[rows].sum()
        rows[1] = 0  # the backward would scatter into row 0 twice
        with pytest.raises(tg.AnomalyError,
                           match=SAVED_CHANGED.format("getitem", r"an index array")):
            loss.backward()


def test_a_forward_checked_inside_is_checked_by_a_backward_outside():
    w = _w()
    with tg.detect_anomaly():
        loss = (w * w).sum()
    w.data[0, 0] = 9.0
    with pytest.raises(tg.AnomalyError, match=SAVED_CHANGED.format("mul", "input 0 'W'")):
        loss.backward()


@pytest.mark.parametrize(("op", "build"), NEEDS_VALUES, ids=[op for op, _ in NEEDS_VALUES])
def test_unchanged_values_pass_the_check_with_the_same_gradient(op, build):
    w, x = _w(), Tensor(np.full((2, 2), 0.5))
    want = Tensor(np.full(2, 1.0))
    with tg.detect_anomaly():
        build(w, x).backward()
        (want * 2.0).sum()  # an unrelated write below must not matter either
    want.data[0] = 5.0
    plain = _w()
    build(plain, x).backward()
    np.testing.assert_array_equal(w.grad, plain.grad)


def test_outside_detect_anomaly_nothing_is_fingerprinted_or_checked(monkeypatch):
    import gc

    from tinygrad_lc.core import anomaly
    from tinygrad_lc.core.identity import WeakIdentityDict

    def boom(*args):
        raise AssertionError("a fingerprint was taken or checked outside detect_anomaly()")

    monkeypatch.setattr(anomaly, "fingerprints", WeakIdentityDict())
    monkeypatch.setattr(anomaly, "fingerprint", boom)
    monkeypatch.setattr(anomaly, "check_saved", boom)
    w = _w()
    (w * w).sum().backward()
    assert len(anomaly.fingerprints) == 0
    monkeypatch.undo()
    monkeypatch.setattr(anomaly, "fingerprints", WeakIdentityDict())
    with tg.detect_anomaly():
        loss = (w * w).sum()
    assert len(anomaly.fingerprints) == 1  # the mul (sum reads no values)
    del loss
    gc.collect()
    assert len(anomaly.fingerprints) == 0  # they go with the graph
    monkeypatch.setattr(anomaly, "check_saved", boom)
    (w * w).sum().backward()  # so later backwards skip the check again
