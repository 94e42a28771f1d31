"""`tinygrad-lc playground`: the lecture's interactive demo in the browser, served by uvicorn.

Prints the page's address and opens it in the browser (unless ``--no-browser``), then serves
until Ctrl-C. The server binds 127.0.0.1 unless ``--host`` says otherwise, and warns when
that makes it reachable from other machines. The playground is the optional extra
``playground`` (Starlette, uvicorn): without it, one line says how to install it.
"""

from __future__ import annotations

import argparse
import sys
import webbrowser


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port).

    >>> port_number("8231")
    8231
    >>> port_number("70000")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a port number from 0 to 65535, got '70000'
    """
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Serve the lecture's interactive linear-classification demo (three classes of 2-D "
        "points, a linear classifier you can drag, the three SVM losses and softmax, steps "
        "of SGD, momentum or Adam; every number from tinygrad_lc) and open it in the browser."
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: 127.0.0.1, this machine only; any other "
                        "address is reachable from the network and prints a warning)")
    p.add_argument("--port", type=port_number, default=8231,
                   help="port to listen on (default: 8231; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true",
                   help="print the address but do not open a browser")


def run(args: argparse.Namespace) -> int:
    where = "tinygrad-lc playground"
    try:
        # lazy: the playground is the optional extra `playground` (Starlette, uvicorn)
        from tinygrad_lc.playground import server
    except ImportError as exc:
        print(f"{where}: needs the playground extra ({exc.name or exc} is missing): "
              "pip install 'tinygrad_lc[playground]'", file=sys.stderr)
        return 1
    try:
        sock = server.bind(args.host, args.port)
    except OSError as exc:
        taken = " (is another playground running? try --port 0)" if \
            getattr(exc, "errno", None) in (48, 98) else ""
        print(f"{where}: cannot listen on {args.host}:{args.port}: "
              f"{exc.strerror or exc}{taken}", file=sys.stderr)
        return 1
    warning = server.exposure_warning(args.host)
    if warning:
        print(f"{where}: {warning}", file=sys.stderr)
    url = server.url_of(sock)
    print(f"{where}: serving {url} (Ctrl-C stops it)", flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    try:
        server.server_for().run(sockets=[sock])
    except KeyboardInterrupt:
        print(f"{where}: stopped; the sessions lived in memory only, nothing was written",
              file=sys.stderr)
        return 130
    finally:
        sock.close()
    return 0
