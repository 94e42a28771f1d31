"""Atomic file writes: a reader sees the old file or the complete new one, never a part.

The data goes to a temporary file in the target's folder, is flushed to disk with ``fsync``
and moved over the target with ``os.replace`` (a rename within one file system). A crash or
an exception before that leaves the target as it was and removes the temporary file.

Symlinks are not followed: the temporary file is opened with ``O_NOFOLLOW | O_EXCL``, and a
symlink planted at the target is replaced by the new file (``os.replace`` renames over the
link itself), never written through. Every file the package writes goes through here,
pictures included (matplotlib's ``savefig`` writes into the open temporary file).

The temporary file is created with ``os.open(..., 0o666)``, so the kernel applies the umask
(or the folder's default ACL) exactly as for a plain ``open(path, "w")``; the umask is never
read or changed (setting it, the only portable way to read it, affects every thread). Its
name, ``.<target>.<host>-<pid>-<random>.tmp``, says which process writes it: a process killed
mid-save (SIGKILL, power loss) leaves it behind, and the next save to the same target removes
such files once their writer is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_open", "atomic_write"]

_CREATE = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
           | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def _host_tag() -> str:
    """Eight hex digits naming this machine: a pid means nothing on another host."""
    return f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')):08x}"


def _create_temp(path: Path, mode: int) -> tuple[int, str]:
    """Create and open a new temporary file beside ``path``; the kernel applies the umask."""
    prefix = f".{path.name}.{_host_tag()}-{os.getpid()}-"
    for _ in range(100):
        name = os.path.join(path.parent, f"{prefix}{secrets.token_hex(4)}.tmp")
        try:
            return os.open(name, _CREATE, mode), name
        except FileExistsError:  # 2**32 names: only a very unlucky draw lands here
            continue
    raise FileExistsError(f"atomic_open: could not create a temporary file {prefix}*.tmp "
                          f"in {path.parent}")


def _writer_is_gone(pid: int) -> bool:
    """True only when no process ``pid`` runs on this machine (a zombie counts as gone)."""
    if pid == os.getpid():
        return False  # this process: maybe another thread saving right now
    try:
        os.kill(pid, 0)  # signal 0: checks that the process exists, sends nothing
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False  # another user's process, or no pid at all: leave the file alone
    with contextlib.suppress(OSError, IndexError):  # Linux: a killed, unreaped child
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return False


def _remove_stale_temps(path: Path) -> None:
    """Remove the temporary files of earlier saves to ``path`` whose writer process is gone.

    Only files this module names for ``path``, on this host, are considered, and a file
    whose writer still runs (another process or thread saving now) is never touched. If a
    dead writer's pid has been reused by a new process, its file waits for a later save.
    """
    if os.name != "posix":
        return  # os.kill(pid, 0) would terminate the process on Windows
    pattern = re.compile(rf"\.{re.escape(path.name)}\.{_host_tag()}-(\d+)-[0-9a-f]+\.tmp")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match and _writer_is_gone(int(match.group(1))):
            with contextlib.suppress(OSError):  # another save may remove it first
                os.unlink(os.path.join(path.parent, name))


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a binary temporary file that replaces ``path`` when the block ends without error.

    The folder is created when missing. A new file gets the mode a plain ``open(path, "w")``
    would give it (0o666 less the umask); an existing file keeps its mode. A symlink at
    ``path`` is not followed: it is replaced by the new file, and what it points to is left
    alone. Temporary files
    that earlier saves to ``path`` left behind when their process was killed are removed.

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
    _remove_stale_temps(path)
    try:
        # lstat: a symlink at path is replaced like a missing file, and its target is
        # neither written nor read (not even its mode)
        st = os.lstat(path)
        keep_mode: int | None = st.st_mode & 0o7777 if stat.S_ISREG(st.st_mode) else None
    except OSError:
        keep_mode = None
    # same folder as the target, so os.replace is a rename within one file system (atomic);
    # never more open while written than the file will be
    fd, tmp_name = _create_temp(path, 0o666 if keep_mode is None else keep_mode & 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if keep_mode is not None:
            os.chmod(tmp_name, keep_mode)
        os.replace(tmp_name, path)
    except BaseException:
        # also on KeyboardInterrupt: a partial file must never be mistaken for the real one
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_folder(path.parent)


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


def fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (Windows), hence optional.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
