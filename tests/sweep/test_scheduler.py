"""``--scheduler`` against servers that are not a Dask scheduler: each a clear error.

A port that accepts and never answers, one that answers junk, an address that is not one:
the sweep ends with one error line naming the address (no traceback from Dask, no
"Exception ignored in Client.__del__" afterwards), within the connect deadline, which the
tests make small (``executors.CONNECT_TIMEOUT``) instead of timing anything.
"""

from __future__ import annotations

import gc
import socket
import sys
import threading

import pytest

from tinygrad_lc import cli
from tinygrad_lc.sweep import executors

pytest.importorskip("distributed")


class Server:
    """A TCP server on 127.0.0.1 in a thread: ``answer(conn)`` handles each connection."""

    def __init__(self, answer):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.answer, self.conns = answer, []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            conn, _ = self.sock.accept()
            if self.stopping.is_set():  # the connection close() makes to wake accept()
                conn.close()
                return
            self.conns.append(conn)
            self.answer(conn)

    def close(self) -> None:
        self.stopping.set()
        socket.create_connection(self.sock.getsockname()).close()
        self.thread.join(timeout=60)
        self.sock.close()
        for conn in self.conns:
            conn.close()


def silent(conn) -> None:
    """Accept and never answer (the connection stays open until the test ends)."""


def junk(conn) -> None:
    """Answer with something that is not Dask's protocol (an HTTP reply)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" * 20)


@pytest.fixture
def unraisable(monkeypatch):
    """What ends up in sys.unraisablehook (an error in a __del__), collected."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u))
    yield seen


def sweep(capsys, tmp_path, address: str) -> tuple[int, str]:
    """`tinygrad-lc sweep --scheduler address` in a thread, returned when it ends (or fails
    the test if it has not ended after a generous cap: the old code waited forever)."""
    result = {}

    def run():
        try:
            result["rc"] = cli.main(["sweep", "--dataset", "blobs", "--trials", "2", "--refine",
                                     "0", "--iters", "5", "--scheduler", address, "--out",
                                     str(tmp_path / "s"), "--quiet"])
        except SystemExit as exc:
            result["rc"] = exc.code

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), f"the sweep still waits for {address}"
    gc.collect()  # a Client left half-made would complain in its __del__ now
    return result["rc"], capsys.readouterr().err


def _clean(err: str, unraisable: list) -> None:
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.count("\n") == 1, err  # one line: the error
    assert not unraisable, [str(u.exc_value) for u in unraisable]


def test_a_port_that_never_answers_is_an_error_at_the_deadline(tmp_path, capsys, monkeypatch,
                                                                unraisable):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 0.5)
    server = Server(silent)
    try:
        rc, err = sweep(capsys, tmp_path, server.address)
    finally:
        server.close()
    assert rc == 1
    assert (f"{server.address} accepted the connection but no Dask scheduler answered within "
            "0.5 s") in err
    assert "dask scheduler" in err  # how to start one
    _clean(err, unraisable)


def test_a_server_answering_junk_is_named_as_not_a_scheduler(tmp_path, capsys, monkeypatch,
                                                             unraisable):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 5.0)
    server = Server(junk)
    try:
        rc, err = sweep(capsys, tmp_path, server.address)
    finally:
        server.close()
    assert rc == 1
    assert f"something answers at {server.address}, but not a Dask scheduler" in err
    _clean(err, unraisable)


@pytest.mark.parametrize("address", ["garbage", "tcp://127.0.0.1", "tcp://host:99999",
                                     "http://127.0.0.1:8786"])
def test_a_malformed_address_is_a_usage_error(tmp_path, capsys, unraisable, address):
    rc, err = sweep(capsys, tmp_path, address)
    assert rc == 2
    assert f"scheduler must be a Dask scheduler address, tcp://HOST:PORT (e.g. " \
           f"tcp://10.0.0.5:8786), got {address!r}" in err
    _clean(err, unraisable)
    assert not (tmp_path / "s" / "trials.jsonl").exists()


def test_the_probe_is_bounded_as_a_whole(monkeypatch):
    """One deadline for the connection and the handshake: the probe of a silent port raises
    ConnectionError (not Dask's TimeoutError or OSError), in the calling thread."""
    server = Server(silent)
    try:
        with pytest.raises(ConnectionError, match="no Dask scheduler answered within 0.2 s"):
            executors.probe_scheduler(server.address, timeout=0.2)
    finally:
        server.close()


def test_a_closed_port_fails_without_waiting_for_the_deadline():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(ConnectionError, match="ConnectionRefusedError"):
        executors.probe_scheduler(address, timeout=60)  # refused: named, not retried
