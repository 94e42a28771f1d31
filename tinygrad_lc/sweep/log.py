"""``DIR/trials.jsonl``: one JSON line per finished trial, durable as soon as it is written.

Each line is written whole, flushed and ``fsync``ed before the sweep goes on, so a crash, a
SIGKILL or a power cut loses at most the trials that were still running. A crash in the
middle of a write can leave a truncated last line: reading drops it with a warning (the
trial is run again on resume). Any other unreadable line is an error that names the file
and the line, and the file is left as it is.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["SweepFileError", "TrialLog", "clean_json", "read_trials"]

REQUIRED = ("trial", "config", "status")
_START = b'{"trial": '  # how every line starts (TrialLog writes "trial" first)


class SweepFileError(ValueError):
    """A ``trials.jsonl`` that cannot be read or belongs to another sweep."""


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


def read_trials(path: str | os.PathLike[str], repair: bool = False) -> list[dict[str, Any]]:
    """The trials recorded in ``path`` (an empty list when it does not exist).

    A last line without its newline is what a crash in the middle of a write leaves: it is
    dropped with a ``UserWarning`` (and cut off the file when ``repair`` is true, so that new
    lines start on a line of their own).

    Raises
    ------
    SweepFileError
        The file cannot be read, a complete line is not a JSON object with the keys
        ``trial``, ``config`` and ``status``, or the unfinished last line is not the start of
        a trial record. The file is left as it is.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "trials.jsonl"
    >>> _ = path.write_text('{"trial": 0, "config": {}, "status": "ok"}\\n{"trial": 1, "con')
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     [t["trial"] for t in read_trials(path)]
    [0]
    >>> "truncated" in str(caught[0].message)
    True
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise SweepFileError(f"cannot read {path}: {exc}") from exc
    lines = raw.split(b"\n")
    # everything up to the last newline is complete; what follows it is a partial write
    complete, tail = lines[:-1], lines[-1]
    trials, good_end = [], 0
    for number, line in enumerate(complete, start=1):
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict) or any(k not in record for k in REQUIRED):
                raise ValueError(f"expected an object with the keys {', '.join(REQUIRED)}")
            if not isinstance(record["trial"], int):
                raise ValueError(f"'trial' must be an integer, got {record['trial']!r}")
        except (UnicodeDecodeError, ValueError) as exc:
            raise SweepFileError(
                f"{path}, line {number} is not a trial record ({exc}); the file is not a "
                "tinygrad_lc trials.jsonl or was edited by hand. Fix or move that line, or "
                "use another --out folder.") from None
        trials.append(record)
        good_end += len(line) + 1
    if tail:
        # TrialLog writes each record as one '{"trial": ...}\n': a crash can only leave a
        # prefix of such a line; anything else is not ours to cut off
        if not (tail.startswith(_START) or _START.startswith(tail)):
            raise SweepFileError(
                f"{path} ends with {len(tail)} bytes that are not a trial record (line "
                f"{len(complete) + 1}); the file is not a tinygrad_lc trials.jsonl. Move it "
                "or use another --out folder.")
        warnings.warn(f"{path}: dropped a truncated last line ({len(tail)} bytes, left by a "
                      "crash in the middle of a write); that trial will be run again",
                      UserWarning, stacklevel=2)
    if repair and good_end < len(raw):
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return trials


class TrialLog:
    """Append-only writer of ``trials.jsonl``: one durable line per trial.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "trials.jsonl"
    >>> with TrialLog(path) as log:
    ...     log.append({"trial": 0, "config": {"lr": 0.1}, "status": "ok", "loss": float("nan")})
    >>> path.read_text()
    '{"trial": 0, "config": {"lr": 0.1}, "status": "ok", "loss": null}\\n'
    """

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115 - closed in close()

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` (its first key ``trial``) as one line, flushed and fsynced."""
        if self._file is None:
            raise ValueError(f"TrialLog.append: {self.path} is closed")
        record = {"trial": record["trial"], **record}
        line = json.dumps(clean_json(record), allow_nan=False) + "\n"
        self._file.write(line.encode("utf-8"))
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
