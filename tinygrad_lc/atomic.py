"""Atomic file writes: a reader sees the old file or the complete new one, never a part.

The data goes to a temporary file in the target's folder, is flushed to disk with ``fsync``
and moved over the target with ``os.replace`` (a rename within one file system). A crash or
an exception before that leaves the target as it was and removes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_open", "atomic_write"]


def _new_file_mode(path: Path) -> int:
    """The mode a plain ``open(path, "w")`` would leave: the old file's, or 0o666 & ~umask."""
    with contextlib.suppress(OSError):
        return os.stat(path).st_mode & 0o7777
    umask = os.umask(0)  # the only portable way to read the umask is to set it
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a binary temporary file that replaces ``path`` when the block ends without error.

    The folder is created when missing. mkstemp makes files readable by their owner only
    (0o600); the result gets the mode a normal write would give it instead.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
    >>> with atomic_open(path) as f:
    ...     _ = f.write(b"done")
    >>> path.read_bytes()
    b'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # same folder as the target, so os.replace is a rename within one file system (atomic)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, _new_file_mode(path))
        os.replace(tmp_name, path)
    except BaseException:
        # also on KeyboardInterrupt: a partial file must never be mistaken for the real one
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_folder(path.parent)


def atomic_write(path: str | os.PathLike[str], data: bytes | str,
                 encoding: str = "utf-8") -> Path:
    """Write ``data`` (text is encoded with ``encoding``) to ``path`` atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = atomic_write(pathlib.Path(tempfile.mkdtemp()) / "m.json", '{"a": 1}\\n')
    >>> path.read_text()
    '{"a": 1}\\n'
    """
    if isinstance(data, str):
        data = data.encode(encoding)
    with atomic_open(path) as f:
        f.write(data)
    return Path(path)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (Windows), hence optional.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
