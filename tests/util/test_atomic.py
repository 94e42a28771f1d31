"""Tests of tinygrad_lc/atomic.py: all-or-nothing writes with the usual file mode."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tinygrad_lc
from tinygrad_lc.util import atomic
from tinygrad_lc.util.atomic import atomic_open, atomic_write
from tinygrad_lc.util.checkpoint import load_checkpoint, save_checkpoint


def test_write_text_and_bytes_creating_folders(tmp_path):
    path = atomic_write(tmp_path / "a" / "b.json", "{}\n")
    assert path.read_text() == "{}\n"
    atomic_write(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(path.parent) == ["b.json"]


@pytest.mark.parametrize("error", [OSError("disk full (simulated)"), KeyboardInterrupt()])
def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path, error):
    path = atomic_write(tmp_path / "m.json", "old")
    with pytest.raises(type(error)):
        with atomic_open(path) as f:
            f.write(b"half of the new")
            raise error
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["m.json"]


def test_failed_replace_keeps_the_old_file(tmp_path, monkeypatch):
    path = atomic_write(tmp_path / "m.json", "old")

    def no_replace(src, dst):
        raise OSError("simulated")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="simulated"):
        atomic_write(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["m.json"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_0o666_less_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write(tmp_path / "m.json", "x")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_overwriting_keeps_the_mode(tmp_path):
    path = atomic_write(tmp_path / "m.json", "x")
    path.chmod(0o600)
    atomic_write(path, "y")
    assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == "y"


# ----------------------------------------------------------------------------- the umask race


def test_no_world_writable_files_while_threads_save(tmp_path, monkeypatch):
    """Threads saving atomically next to threads creating plain files: every file gets
    0o666 less the umask. ``os.umask`` is slowed down so that a writer which changed the
    process umask, even for a moment, would be caught doing it."""
    real_umask = os.umask

    def slow_umask(mask):
        old = real_umask(mask)
        time.sleep(0.002)  # a thread switch at the worst moment, every time
        return old

    old_mask = real_umask(0o022)
    monkeypatch.setattr(os, "umask", slow_umask)
    done = threading.Event()
    plain_modes: list[int] = []

    def save(k: int) -> None:
        for i in range(15):
            atomic_write(tmp_path / f"saved{k}-{i % 4}.bin", b"x" * 100)

    def create(k: int) -> None:
        i = 0
        while not done.is_set() or i < 20:
            plain = tmp_path / f"plain{k}-{i}.txt"
            with open(plain, "w") as f:
                f.write("y")
            plain_modes.append(plain.stat().st_mode & 0o777)
            i += 1

    savers = [threading.Thread(target=save, args=(k,)) for k in range(4)]
    creators = [threading.Thread(target=create, args=(k,)) for k in range(4)]
    try:
        for t in savers + creators:
            t.start()
        for t in savers:
            t.join()
        done.set()
        for t in creators:
            t.join()
    finally:
        done.set()
        monkeypatch.undo()
        real_umask(old_mask)
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert len(modes) == 16 + len(plain_modes)  # no temporary file left either
    assert set(modes.values()) == {0o644}, {n: oct(m) for n, m in modes.items() if m != 0o644}


# ----------------------------------------------------------------------------- stale temporaries

_WRITER = """
import sys, time
from tinygrad_lc.util.atomic import atomic_open
with atomic_open(sys.argv[1]) as f:
    f.write(b"half a checkpoint " * 1000)
    f.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


def _start_writer(target) -> subprocess.Popen:
    """A process stopped in the middle of an atomic save to ``target``."""
    env = {**os.environ, "PYTHONPATH": str(Path(tinygrad_lc.__file__).parent.parent)}
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "writing\n"
    return proc


def _temps(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_next_save_removes_the_temp_file_of_a_killed_writer(tmp_path):
    target = tmp_path / "run.npz"
    proc = _start_writer(target)
    try:
        left = _temps(tmp_path)
        assert len(left) == 1 and left[0].startswith(".run.npz.")
    finally:
        proc.kill()  # SIGKILL: no cleanup code runs
        proc.wait()
    assert _temps(tmp_path) == left  # the killed writer left its file
    save_checkpoint(target, {"step": 1})
    assert _temps(tmp_path) == []
    assert load_checkpoint(target) == {"step": 1}


def test_a_live_writers_temp_file_is_left_alone(tmp_path):
    target = tmp_path / "run.npz"
    proc = _start_writer(target)  # another process, saving right now
    try:
        theirs = _temps(tmp_path)
        started, release = threading.Event(), threading.Event()

        def thread_save() -> None:  # another thread of this process, saving right now
            with atomic_open(target) as f:
                f.write(b"thread")
                started.set()
                release.wait(30)

        thread = threading.Thread(target=thread_save)
        thread.start()
        started.wait(30)
        both = _temps(tmp_path)
        assert len(both) == 2
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()  # a pid that no process has now
        host = atomic._host_tag()
        other_host = f".run.npz.{int(host, 16) ^ 1:08x}-{gone.pid}-0123abcd.tmp"  # its pid
        other_target = f".other.npz.{host}-{gone.pid}-0123abcd.tmp"  # is another file's save
        stale = f".run.npz.{host}-{gone.pid}-0123abcd.tmp"
        for name in (other_host, other_target, stale):
            (tmp_path / name).write_bytes(b"")
        save_checkpoint(target, {"step": 1})
        assert _temps(tmp_path) == sorted([*both, other_host, other_target])
        release.set()
        thread.join()
        assert _temps(tmp_path) == sorted([*theirs, other_host, other_target])
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_the_temp_of_a_killed_unreaped_writer_is_removed_and_an_impossible_pid_kept(tmp_path):
    target = tmp_path / "run.npz"
    # two children that end and are never waited for (zombies); the second one names itself
    # "w) R", so its /proc stat line reads "pid (w) R) Z ...": the state is after the last ")"
    zombies = [subprocess.Popen([sys.executable, "-c", code]) for code in (
        "pass", "open('/proc/self/comm', 'w').write('w) R')")]
    try:
        for z in zombies:
            stat = Path(f"/proc/{z.pid}/stat")
            while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":  # an event: it ended
                os.sched_yield()
        host = atomic._host_tag()
        dead = [f".run.npz.{host}-{z.pid}-0123abcd.tmp" for z in zombies]
        impossible = f".run.npz.{host}-{2**80}-0123abcd.tmp"  # os.kill: OverflowError
        for name in (*dead, impossible):
            (tmp_path / name).write_bytes(b"")
        save_checkpoint(target, {"step": 1})
        assert _temps(tmp_path) == [impossible]
    finally:
        for z in zombies:
            z.wait()


def test_a_writer_whose_state_cannot_be_read_counts_as_running(tmp_path, monkeypatch):
    target = tmp_path / "run.npz"
    proc = _start_writer(target)
    try:
        theirs = _temps(tmp_path)
        read_text = Path.read_text

        def no_proc(self, *args, **kwargs):  # as on a system without /proc
            if str(self).startswith("/proc/"):
                raise FileNotFoundError(str(self))
            return read_text(self, *args, **kwargs)

        monkeypatch.setattr(Path, "read_text", no_proc)
        save_checkpoint(target, {"step": 1})
        assert _temps(tmp_path) == theirs
    finally:
        proc.kill()
        proc.wait()


def test_when_every_temporary_name_is_taken_the_error_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda n: "0" * (2 * n))
    target = tmp_path / "a.bin"
    prefix = f".a.bin.{atomic._host_tag()}-{os.getpid()}-"
    (tmp_path / f"{prefix}00000000.tmp").write_bytes(b"")  # the only name it can draw
    with pytest.raises(FileExistsError) as info:
        atomic_write(target, b"x")
    assert str(info.value) == (f"atomic_open: could not create a temporary file {prefix}*.tmp "
                               f"in {tmp_path}")
    assert not target.exists()
