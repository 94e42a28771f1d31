"""``DIR/trials.jsonl``: one JSON line per finished trial, durable as soon as it is written,
checked by the same rules when it is written and when it is read.

Each line is written whole, flushed and ``fsync``ed before the sweep goes on, so a crash, a
SIGKILL or a power cut loses at most the trials that were still running. A crash in the
middle of a write can leave a truncated last line: reading drops it with a warning (the
trial is run again on resume). Any other line that is not a trial record (``check_record``:
types, ranges, finite accuracies in [0, 1], a known status, each trial once, at most
``MAX_LINE`` bytes and ``MAX_DEPTH`` nested brackets) is an error that names the file and
the line, and the file is left as it is. One sweep at a time writes to a folder
(``writer_lock``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

try:  # POSIX: the out folder's writer lock is a flock; elsewhere there is none
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from tinygrad_lc.sweep.limits import MAX_DEPTH, MAX_LINE, MAX_REFINE, MAX_TRIALS
from tinygrad_lc.util.atomic import fsync_folder

__all__ = ["STATUSES", "SweepFileError", "TrialLog", "check_record", "clean_json",
           "nesting", "read_trials", "writer_lock"]

REQUIRED = ("trial", "config", "status")
STATUSES = ("ok", "diverged", "failed")
_START = b'{"trial": '  # how every line starts (TrialLog writes "trial" first)
LOCK_FILE = ".sweep.lock"  # in the out folder: held by the sweep that writes there
# what the writer keeps of a trial's messages, so that a line stays far below MAX_LINE
ERROR_CHARS, WARNING_CHARS, MAX_WARNINGS = 10_000, 2_000, 20


class SweepFileError(ValueError):
    """A ``trials.jsonl`` that cannot be read or belongs to another sweep, or an out folder
    that another sweep is writing to."""


def clean_json(value: Any) -> Any:
    """JSON has no NaN or infinity: such floats are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, np.generic | np.ndarray):  # NumPy scalars (and 0-d arrays)
        return clean_json(value.item())
    return value


# ---------------------------------------------------------------------- what a record is
def _whole(low: int, high: float = math.inf) -> Any:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and (
        isinstance(v, int) or math.isfinite(v))


def _optional(test: Any) -> Any:
    return lambda v: v is None or test(v)


def _texts(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _setting(v: Any) -> bool:  # a value of a train option: hidden widths come as a list
    return isinstance(v, str) or _number(v) or (
        isinstance(v, list) and all(_whole(1)(x) for x in v))


def _config(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and _setting(x) for k, x in v.items())


_HEX = re.compile(r"[0-9a-f]{64}")
# key -> (test, what it must be); keys not listed may hold anything (within the line's limits)
FIELDS: dict[str, tuple[Any, str]] = {
    "trial": (_whole(0, MAX_TRIALS - 1), f"an integer from 0 to {MAX_TRIALS - 1}"),
    "config": (_config, "an object of train settings (numbers, names or lists of widths)"),
    "status": (lambda v: isinstance(v, str) and v in STATUSES,
               f"one of {', '.join(map(repr, STATUSES))}"),
    "seed": (_whole(0), "an integer >= 0"),
    "data_seed": (_whole(0), "an integer >= 0"),
    "dataset": (lambda v: isinstance(v, str), "a data set's name"),
    "train_accuracy": (_optional(lambda v: _number(v) and 0 <= v <= 1),
                       "null or a number in [0, 1]"),
    "val_accuracy": (_optional(lambda v: _number(v) and 0 <= v <= 1),
                     "null or a number in [0, 1]"),
    "final_loss": (_optional(_number), "null or a finite number"),
    "seconds": (_optional(lambda v: _number(v) and v >= 0), "null or a number >= 0"),
    "steps": (_optional(_whole(0)), "null or an integer >= 0"),
    "weights_sha256": (_optional(lambda v: isinstance(v, str) and _HEX.fullmatch(v)),
                       "null or 64 hexadecimal digits"),
    "error": (_optional(lambda v: isinstance(v, str)), "null or a text"),
    "warnings": (_texts, "a list of texts"),
    "worker": (_optional(lambda v: isinstance(v, str)), "null or a text"),
    "attempts": (_whole(1), "an integer >= 1"),
    "round": (_whole(0, MAX_REFINE), f"an integer from 0 to {MAX_REFINE}"),
}


def _show(value: Any) -> str:
    try:  # as JSON spells it: NaN, "0.9" (a text), null
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_record(record: Any) -> None:
    """Raise ValueError saying what makes ``record`` not a line of ``trials.jsonl``.

    A record is a JSON object with ``trial`` (an integer from 0), ``config`` (train settings)
    and ``status`` (one of ``STATUSES``); the other keys it may have are checked by type and
    range (``FIELDS``): accuracies are null or finite numbers in [0, 1], and a trial with
    status "ok" has both.

    >>> check_record({"trial": 0, "config": {}, "status": "ok", "val_accuracy": float("nan")})
    Traceback (most recent call last):
    ...
    ValueError: 'val_accuracy' must be null or a number in [0, 1], got NaN
    """
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ValueError(f"expected an object with the keys {', '.join(REQUIRED)}; "
                         f"{', '.join(missing)} missing")
    for key, value in record.items():
        test, what = FIELDS.get(key, (None, ""))
        if test is not None and not test(value):
            raise ValueError(f"{key!r} must be {what}, got {_show(value)}")
    if record["status"] == "ok":
        for key in ("train_accuracy", "val_accuracy"):
            if record.get(key) is None:
                raise ValueError(f"a trial with status 'ok' has a {key}; this one has none")


# ---------------------------------------------------------------------- reading
_NOT_MARKS = bytes(sorted(set(range(256)) - set(b'"[]{}')))


def nesting(line: bytes) -> int:
    """How deep the brackets of a JSON text nest, those in strings not counted: a scan
    that is cheap whatever the depth (json itself would recurse once per level).

    Escaped backslashes and quotes go first, then everything but quotes and brackets; what
    lies between a quote and the next is a string.

    >>> nesting(b'{"a": [1, {"b": "[[[["}], "c": {}}')
    3
    """
    marks = line.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_MARKS)
    codes = np.frombuffer(marks, np.uint8)
    outside = ~np.logical_xor.accumulate(codes == ord('"'))  # False from a quote to the next
    step = (((codes == ord("[")) | (codes == ord("{"))) & outside).astype(np.int8)
    step -= ((codes == ord("]")) | (codes == ord("}"))) & outside
    return int(np.cumsum(step, dtype=np.int32).max(initial=0))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON has (the writer writes null)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a float")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):  # json.loads would keep the last silently
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return record


def _parse(line: bytes) -> Any:
    # fewer opening brackets than the bound cannot nest deeper (the common case: no scan)
    opening = line.count(b"[") + line.count(b"{")
    depth = nesting(line) if opening > MAX_DEPTH else opening
    if depth > MAX_DEPTH:
        raise ValueError(f"its brackets nest {depth} deep; a trial record's nest 3, and more "
                         f"than {MAX_DEPTH} is refused")
    return json.loads(line.decode("utf-8"), parse_constant=_refuse_constant,
                      parse_float=_finite_float, object_pairs_hook=_object)


def read_trials(path: str | os.PathLike[str], repair: bool = False) -> list[dict[str, Any]]:
    """The trials recorded in ``path`` (an empty list when it does not exist), each checked
    with ``check_record``, read line by line (at most ``MAX_LINE`` bytes of a line are read).

    A last line without its newline is what a crash in the middle of a write leaves: it is
    dropped with a ``UserWarning`` (and cut off the file when ``repair`` is true, so that new
    lines start on a line of their own).

    Raises
    ------
    SweepFileError
        The file cannot be read; a complete line is longer than ``MAX_LINE`` bytes, nests
        brackets deeper than ``MAX_DEPTH``, is not JSON, is not a trial record
        (``check_record``) or records a trial that an earlier line records; or the
        unfinished last line is not the start of a trial record. The message names the line;
        the file is left as it is.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "trials.jsonl"
    >>> _ = path.write_text('{"trial": 0, "config": {}, "status": "failed"}\\n{"trial": 1, "con')
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     [t["trial"] for t in read_trials(path)]
    [0]
    >>> "truncated" in str(caught[0].message)
    True
    """
    path = Path(path)

    def bad(number: int, why: str) -> SweepFileError:
        return SweepFileError(
            f"{path}, line {number} is not a trial record ({why}); the file was edited by hand "
            "or is not a tinygrad_lc trials.jsonl, and it was left as it is. Delete that line "
            "(--resume then runs its trial again).")

    trials: list[dict[str, Any]] = []
    line_of: dict[int, int] = {}  # trial -> the line that records it
    good_end = 0  # bytes of whole, good lines
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SweepFileError(f"cannot read {path}: {exc}") from exc
    with f:
        number = 0
        while True:
            try:
                line = f.readline(MAX_LINE + 1)
            except OSError as exc:
                raise SweepFileError(f"cannot read {path}: {exc}") from exc
            if not line:
                break
            number += 1
            if len(line) > MAX_LINE:
                raise bad(number, f"it is longer than {MAX_LINE:,} bytes; a trial record is "
                                  "about 500")
            if not line.endswith(b"\n"):  # the last line, unfinished
                # TrialLog writes each record as one '{"trial": ...}\n': a crash can only
                # leave a prefix of such a line; anything else is not ours to cut off
                if not (line.startswith(_START) or _START.startswith(line)):
                    raise SweepFileError(
                        f"{path} ends with {len(line)} bytes that are not a trial record (line "
                        f"{number}); the file is not a tinygrad_lc trials.jsonl. Move it away "
                        "or use another --out folder (nothing was changed).")
                warnings.warn(f"{path}: dropped a truncated last line ({len(line)} bytes, left "
                              "by a crash in the middle of a write); that trial will be run "
                              "again", UserWarning, stacklevel=2)
                break
            try:
                record = _parse(line)
                check_record(record)
            except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError too
                raise bad(number, str(exc)) from None
            first = line_of.setdefault(record["trial"], number)
            if first != number:
                raise bad(number, f"it records trial {record['trial']} again, which line "
                                  f"{first} records already")
            trials.append(record)
            good_end += len(line)
    if repair and good_end < path.stat().st_size:
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return trials


# ---------------------------------------------------------------------- writing
def _shortened(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its error and warnings cut to what a line keeps."""
    out = dict(record)
    if isinstance(out.get("error"), str) and len(out["error"]) > ERROR_CHARS:
        out["error"] = out["error"][:ERROR_CHARS] + " [...]"
    if isinstance(out.get("warnings"), list):
        kept = out["warnings"][:MAX_WARNINGS]
        out["warnings"] = [w[:WARNING_CHARS] + " [...]" if isinstance(w, str) and
                           len(w) > WARNING_CHARS else w for w in kept]
    return out


class TrialLog:
    """Append-only writer of ``trials.jsonl``: one durable line per trial, checked with
    ``check_record`` first (a trial's error and warnings are cut to ``ERROR_CHARS`` and
    ``MAX_WARNINGS`` texts of ``WARNING_CHARS``, so that every line is one the reader takes).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "trials.jsonl"
    >>> with TrialLog(path) as log:
    ...     log.append({"trial": 0, "config": {"lr": 0.1}, "status": "diverged",
    ...                 "final_loss": float("nan")})
    >>> path.read_text()
    '{"trial": 0, "config": {"lr": 0.1}, "status": "diverged", "final_loss": null}\\n'
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        self._file: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115 - closed in close()
        if new:  # the file's name is durable once its folder is synced
            fsync_folder(self.path.parent)

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` (its first key ``trial``) as one line, flushed and fsynced.

        Raises ValueError (and writes nothing) when it is not a trial record."""
        if self._file is None:
            raise ValueError(f"TrialLog.append: {self.path} is closed")
        record = clean_json(_shortened({"trial": record.get("trial"), **record}))
        try:
            check_record(record)
        except ValueError as exc:
            raise ValueError(f"TrialLog.append: not a trial record: {exc}") from None
        line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
        if len(line) > MAX_LINE or (line.count(b"[") + line.count(b"{") > MAX_DEPTH
                                    and nesting(line) > MAX_DEPTH):
            raise ValueError(f"TrialLog.append: trial {record['trial']}'s record is "
                             f"{len(line):,} bytes, nested {nesting(line)} deep; a line of "
                             f"trials.jsonl has at most {MAX_LINE:,} and {MAX_DEPTH}")
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> TrialLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---------------------------------------------------------------------- one writer
_HELD: dict[Path, tuple[int, int, int]] = {}  # lock path -> (fd, owning thread, depth)
_HELD_LOCK = threading.Lock()


@contextlib.contextmanager
def writer_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Be the one sweep that writes to ``folder`` while inside: an OS lock (``flock``) on
    ``folder/.sweep.lock``, let go when the block ends or the process dies. Re-entrant in one
    thread (the command holds it around ``search``, which takes it again); another process or
    thread is refused at once. (Without ``fcntl``, on Windows, there is no lock.)

    Raises
    ------
    SweepFileError
        Another sweep holds the lock.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with writer_lock(folder) as lock, writer_lock(folder):
    ...     lock.name
    '.sweep.lock'
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = (folder / LOCK_FILE).resolve()
    me = threading.get_ident()
    refused = SweepFileError(
        f"another sweep is writing to {folder} (it holds the lock {folder / LOCK_FILE}); "
        "wait for it to end, or use another --out folder (nothing was changed)")
    with _HELD_LOCK:
        held = _HELD.get(path)
        if held is not None:
            fd, owner, depth = held
            if owner != me:
                raise refused
            _HELD[path] = (fd, owner, depth + 1)
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise refused from None
            _HELD[path] = (fd, me, 1)
    try:
        yield folder / LOCK_FILE
    finally:
        with _HELD_LOCK:
            fd, owner, depth = _HELD[path]
            if depth > 1:
                _HELD[path] = (fd, owner, depth - 1)
            else:
                del _HELD[path]
                os.close(fd)  # closing the descriptor lets go of the flock
