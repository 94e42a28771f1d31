"""Differential fuzzing (tests/fuzz_graphs.py): random graphs vs autograd and central differences.

`make fuzz` runs the same check for 10,000 graphs; here it runs 4x the profile's example count,
plus tests that the check can fail and that the strategy reaches every op.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from fuzz_graphs import (
    GAP,
    KINKS,
    MAX_SIZE,
    NP,
    STEPS,
    TG,
    Const,
    Instr,
    Program,
    _argmax_onehot,
    _axes,
    _slices,
    check_program,
    main,
    programs,
    run,
)
from hypothesis import HealthCheck, Phase, find, given, seed, settings
from hypothesis.errors import NoSuchExample

from tinygrad_lc.core.ops import OPS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@settings(max_examples=4 * settings.default.max_examples)
@given(programs())
def test_random_graphs_match_autograd_and_central_differences(prog):
    check_program(prog)


# ---------------------------------------------------------------- the check can fail
def _prog(*instrs, inputs=None):
    inputs = inputs or [np.array([[0.3, -1.2, 0.7], [1.1, 0.4, -0.6]])]
    vals = run(Program(inputs, list(instrs), np.zeros(())), inputs, NP)
    up = np.linspace(-1.0, 1.0, np.size(vals[-1])).reshape(np.shape(vals[-1]))
    return Program(inputs, list(instrs), up)


def _broken(monkeypatch, name, **fields):
    monkeypatch.setitem(OPS, name, dataclasses.replace(OPS[name], **fields))


def test_a_hand_written_program_passes():
    check_program(_prog(Instr("exp", (0,)), Instr("sum", (1,), {"axis": 1, "keepdims": False})))


def test_a_wrong_vjp_is_caught(monkeypatch):
    _broken(monkeypatch, "exp", vjps=(lambda B, g, out, a: 1.001 * g * out,))
    with pytest.raises(AssertionError, match="vs autograd"):
        check_program(_prog(Instr("exp", (0,))))


def test_a_vjp_wrong_only_for_broadcast_inputs_is_caught(monkeypatch):
    va, vb = OPS["mul"].vjps

    def vb_wrong(B, g, out, a, b):
        # sums over the broadcast axis but divides by its length: right only without broadcasting
        return vb(B, g, out, a, b) if np.shape(b) == np.shape(out) else \
            vb(B, g, out, a, b).mean(axis=0)

    _broken(monkeypatch, "mul", vjps=(va, vb_wrong))
    inputs = [np.array([[0.3, -1.2], [1.1, 0.4]]), np.array([0.5, -2.0])]
    with pytest.raises(AssertionError, match="vs autograd"):
        check_program(_prog(Instr("mul", (0, 1)), inputs=inputs))


def test_a_wrong_forward_is_caught(monkeypatch):
    def log_softmax_wrong(a, *, axis=-1):
        return a - np.log(np.sum(np.exp(a), axis=-1, keepdims=True))  # axis lost

    _broken(monkeypatch, "log_softmax", fwd=log_softmax_wrong)
    with pytest.raises(AssertionError, match="value of n1"):
        check_program(_prog(Instr("log_softmax", (0,), {"axis": 0})))


def test_an_input_on_a_kink_is_refused():
    inputs = [np.array([0.0, 1.0])]
    with pytest.raises(AssertionError, match="relu: an input sits on its kink"):
        check_program(_prog(Instr("relu", (0,)), inputs=inputs))


def test_a_step_across_a_kink_is_refused():
    inputs = [np.array([[1.0, 1.0 + 1e-7], [2.0, 0.5]])]
    with pytest.raises(AssertionError, match="a step crossed a kink"):
        check_program(_prog(Instr("max", (0,), {"axis": 1, "keepdims": False}), inputs=inputs))


# ---------------------------------------------------------------- what the strategy reaches
def _generated(n=300):
    out = []

    @seed(20240607)
    @settings(max_examples=n, database=None, suppress_health_check=list(HealthCheck))
    @given(programs())
    def collect(prog):
        out.append(prog)

    collect()
    return out


@pytest.fixture(scope="module")
def generated():
    return _generated()


def _reaches(predicate) -> bool:
    """Whether the strategy produces a program satisfying ``predicate`` (no shrinking)."""
    try:
        find(programs(), predicate, settings=settings(
            max_examples=2000, database=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck)))
    except NoSuchExample:
        return False
    return True


def _index_forms(prog) -> set:
    forms = set()
    for ins in prog.instrs:
        if ins.op == "getitem":
            idx = ins.kw["index"]
            for x in idx if isinstance(idx, tuple) else (idx,):
                forms.add(f"array[{x.dtype.kind}]" if isinstance(x, np.ndarray)
                          else type(x).__name__)
    return forms


@pytest.mark.parametrize("op", sorted(TG))
def test_strategy_reaches_every_op(op):
    assert _reaches(lambda p: any(ins.op == op for ins in p.instrs))


@pytest.mark.parametrize("form", ["int", "slice", "NoneType", "ellipsis", "list", "array[i]",
                                  "array[b]"])
def test_strategy_reaches_every_index_form(form):
    assert _reaches(lambda p: form in _index_forms(p))


def test_every_engine_op_is_fuzzed():
    assert set(OPS) <= set(TG)


def test_strategy_reuses_nodes_broadcasts_and_reaches_0d(generated):
    reuse = broadcast = zero_d = constants_left = 0
    for p in generated:
        vals = run(p, p.inputs, NP)
        used = Counter(a for ins in p.instrs for a in ins.args if isinstance(a, int))
        reuse += any(n > 1 for n in used.values())
        for ins in p.instrs:
            shapes = [np.shape(vals[a]) for a in ins.args if isinstance(a, int)]
            broadcast += ins.op in ("add", "mul", "sub", "div") and len(set(shapes)) > 1
            constants_left += isinstance(ins.args[0], Const)
        zero_d += any(np.ndim(v) == 0 for v in vals)
    assert min(reuse, broadcast, zero_d, constants_left) >= 10, (reuse, broadcast, zero_d)


def test_generated_kink_inputs_keep_their_gap(generated):
    checked = 0
    for p in generated:
        vals = run(p, p.inputs, NP)
        for ins in p.instrs:
            if ins.op not in KINKS:
                continue
            args = [vals[a] if isinstance(a, int) else a.value for a in ins.args]
            if ins.op == "max":  # largest minus second largest entry of each slice
                top = np.sort(_slices(args[0], _axes(args[0].ndim, ins.kw["axis"]))[0], axis=-1)
                margin = top[..., -1] - top[..., -2] if top.shape[-1] > 1 else np.array([])
            else:
                margin = np.abs(args[0] - (args[1] if len(args) > 1 else 0.0))
            assert margin.size == 0 or margin.min() >= GAP - 1e-9, (ins, p)
            checked += 1
        limit = max([MAX_SIZE] + [x.size for x in p.inputs])  # folding copies an input's shape
        assert all(np.size(v) <= limit for v in vals)
    assert checked >= 50


def test_argmax_onehot_marks_one_entry_per_slice():
    v = np.array([[[1.0, 0.0], [0.0, 0.0]]])  # slices over axes (0, 1) tie in the last column
    hot = _argmax_onehot(v, (0, 1))
    np.testing.assert_array_equal(hot.sum(axis=(0, 1)), [1.0, 1.0])
    assert hot[0, 0, 0] == 1.0


def test_program_repr_lists_the_instructions():
    text = repr(_prog(Instr("exp", (0,)), Instr("mul", (1, Const(2.0)))))
    assert "n1 = exp(n0)" in text.replace("x0", "n0") and "n2 = mul(n1, 2.0)" in text


def test_every_step_kind_is_registered():
    assert set(STEPS) == {"binary", "unary", "reduce", "shape", "matmul", "join", "adjoint"}


# ---------------------------------------------------------------- the command line
def test_cli_prints_graphs_and_ops(capsys):
    assert main(["--examples", "5", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("fuzz: 5 graphs, ") and " ops checked against HIPS autograd" in out
    assert "\nops: " in out


def test_cli_runs_as_a_module_from_the_repo_root():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-m", "tests.fuzz_graphs", "--examples", "2",
                           "--seed", "3"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("fuzz: 2 graphs")
