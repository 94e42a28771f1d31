"""Fuzz test of the third loader of a file a user may have edited or been handed: a sweep's
``trials.jsonl`` (``sweep.log.read_trials``), as tests/data/test_file_fuzz.py does for
checkpoints and CIFAR-10 batches.

The property, for every generated file: it reads as a list of trial records that pass
``check_record``, each trial once, that the sweep's selection and table take; or it raises
``SweepFileError`` naming the file. Never another exception, and never much more memory
than the file's size, whatever a line holds (measured with tracemalloc). Examples are
bounded by the Hypothesis profile (``dev``: 25, ``ci``: 100).
"""

from __future__ import annotations

import json
import tracemalloc
import warnings

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tinygrad_lc.sweep.limits import MAX_LINE
from tinygrad_lc.sweep.log import STATUSES, SweepFileError, check_record, nesting, read_trials
from tinygrad_lc.sweep.runner import SweepResult

_MEMORY = 8_000_000  # a line is read in full up to MAX_LINE (1 MiB), never beyond
_shared = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                   deadline=None)

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10,
)
_ODD = st.floats() | st.sampled_from([5.0, -0.1, "0.9", True]) | st.integers(-2, 2)


@st.composite
def _records(draw) -> str:
    """A record as the sweep writes one; or, half of the time, with some of its values
    replaced by anything or some keys left out."""
    status = draw(st.sampled_from(STATUSES))
    accuracy = st.floats(0, 1) if status == "ok" else st.none()
    record = {"trial": draw(st.integers(0, 20)), "seed": draw(st.integers(0, 2**32)),
              "dataset": "blobs", "data_seed": 0,
              "config": {"lr": draw(st.floats(1e-4, 1)), "iters": 5}, "status": status,
              "train_accuracy": draw(accuracy), "val_accuracy": draw(accuracy),
              "final_loss": 0.5, "seconds": 0.01, "steps": 5, "weights_sha256": "ab" * 32,
              "error": None, "warnings": [], "worker": "host:1", "attempts": 1, "round": 0}
    if draw(st.booleans()):
        for key in draw(st.lists(st.sampled_from([*record, "extra"]), min_size=1,
                                 max_size=3)):
            record[key] = draw(_ODD | _JSON)
        for key in draw(st.lists(st.sampled_from(list(record)), max_size=2)):
            record.pop(key, None)
    return json.dumps(record)  # NaN and Infinity as Python's json writes them


@st.composite
def _lines(draw) -> bytes:
    kind = draw(st.sampled_from(["record"] * 6 + ["deep", "long", "bytes", "cut"]))
    if kind == "record":
        line = draw(_records()).encode()
    elif kind == "deep":  # brackets nested up to 200,000 deep, closed or not, in a string or not
        depth = draw(st.integers(0, 200_000))
        opener = draw(st.sampled_from(["[", '{"a": ', '"[']))
        inner = opener * depth + "1" + {"[": "]", '{"a": ': "}", '"[': ""}[opener] * draw(
            st.sampled_from([depth, depth // 2]))
        line = ('{"trial": 0, "config": {}, "status": "failed", "x": ' + inner + "}").encode()
    elif kind == "long":  # a record padded to about MAX_LINE bytes
        pad = draw(st.integers(MAX_LINE - 200, MAX_LINE + 200))
        line = json.dumps({"trial": 0, "config": {}, "status": "failed",
                           "error": "x" * pad}).encode()
    elif kind == "bytes":
        line = draw(st.binary(max_size=60))
    else:
        text = draw(_records()).encode()
        line = text[:draw(st.integers(0, len(text)))]
    return line


@_shared
@given(lines=st.lists(_lines(), max_size=5), newline=st.booleans())
def test_any_trials_file_reads_or_is_a_named_error(tmp_path_factory, lines, newline):
    path = tmp_path_factory.mktemp("fuzz") / "trials.jsonl"
    data = b"\n".join(lines) + (b"\n" if newline and lines else b"")
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a truncated last line, dropped
            try:
                trials = read_trials(path)
            except SweepFileError as exc:
                assert str(path) in str(exc)
                event("refused")
                trials = None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < _MEMORY + 4 * min(len(data), 2 * MAX_LINE), (peak, len(data))
    if trials is None:
        return
    event(f"read {len(trials)} trials")
    for trial in trials:
        check_record(trial)
    assert len({t["trial"] for t in trials}) == len(trials)
    result = SweepResult(trials, "blobs")  # what the sweep does with them: no surprises
    best = result.best
    assert best is None or 0 <= best["val_accuracy"] <= 1
    result.table()
    result.counts()



_TRICKY = st.text(alphabet='ab"\\[]{}', max_size=6)


def _depth(value) -> int:
    """How deep a JSON value nests (its containers, counted as json.dumps writes them)."""
    level, todo = 0, [(value, 0)]
    while todo:  # iterative: no recursion per node
        v, d = todo.pop()
        if isinstance(v, list | dict):
            level = max(level, d + 1)
            todo += [(x, d + 1) for x in (v.values() if isinstance(v, dict) else v)]
    return level


@given(value=st.recursive(st.none() | st.integers() | _TRICKY,
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(_TRICKY, inner, max_size=3), max_leaves=20))
def test_the_nesting_scan_counts_what_json_nests(value):
    """Brackets, quotes and backslashes inside strings never fool the scan."""
    assert nesting(json.dumps(value).encode()) == _depth(value)
