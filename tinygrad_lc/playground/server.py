"""uvicorn around the playground: in the foreground for ``tinygrad-lc playground``, in a
background thread for notebooks and tests.

The listening socket is bound here, before uvicorn starts, so the URL (with the port the
system chose for ``port=0``) is known at once and a busy port is a plain ``OSError``. The
host is 127.0.0.1 unless asked otherwise; any other address makes the playground reachable
from other machines, with no password, and :func:`exposure_warning` says so.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import uvicorn

from tinygrad_lc.playground.routes import app

__all__ = ["HOST", "PORT", "Running", "start", "bind", "url_of", "exposure_warning",
           "server_for"]

HOST = "127.0.0.1"
PORT = 8231


def bind(host: str = HOST, port: int = PORT) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one); OSError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    # sockets that say so, and with it on, a response sent as headers then body waits ~40 ms
    # for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    """The page's address for a bound socket (an all-interfaces host shows as 127.0.0.1)."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def exposure_warning(host: str) -> str | None:
    """A warning when ``host`` is not a loopback address, else None.

    >>> exposure_warning("127.0.0.1") is None, exposure_warning("localhost") is None
    (True, True)
    >>> print(exposure_warning("0.0.0.0"))
    warning: --host 0.0.0.0 makes the playground reachable from other machines, with no
    password; use 127.0.0.1 to keep it on this one
    """
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        loopback = False
    if loopback:
        return None
    return (f"warning: --host {host} makes the playground reachable from other machines, "
            "with no password; use 127.0.0.1 to keep it on this one")


def server_for(**app_options) -> uvicorn.Server:
    """A quiet uvicorn server (warnings only, no access log) for a new playground app."""
    config = uvicorn.Config(app(**app_options), log_level="warning", access_log=False,
                            lifespan="off")
    return uvicorn.Server(config)


class Running:
    """A playground served by uvicorn on a background thread; ``url``, ``stop()``.

    Also a context manager that stops the server on exit.
    """

    def __init__(self, sock: socket.socket, server: uvicorn.Server) -> None:
        self.url = url_of(sock)
        self.server = server
        self.thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                       name="tinygrad-lc-playground", daemon=True)
        self._sock = sock

    def __repr__(self) -> str:
        return f"<playground at {self.url}{'' if self.thread.is_alive() else ' (stopped)'}>"

    def stop(self) -> None:
        """Stop serving and wait for the thread to end (the sessions are gone)."""
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join()
        self._sock.close()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(host: str = HOST, port: int = 0, **app_options) -> Running:
    """Serve a new playground app on a background thread; returns once it accepts requests.

    ``port=0`` picks a free port (``Running.url`` has it). Options go to :func:`app`.

    >>> import urllib.request, json
    >>> with start() as running:
    ...     state = json.load(urllib.request.urlopen(running.url + "api/state"))
    >>> state["loss"]
    'weston_watkins'
    """
    running = Running(bind(host, port), server_for(**app_options))
    running.thread.start()
    while not running.server.started:  # uvicorn sets it once it serves the socket
        if not running.thread.is_alive():
            running.stop()
            raise RuntimeError(f"start: the playground's server at {running.url} stopped "
                               "before it started (see the log above)")
        time.sleep(0.005)
    return running
