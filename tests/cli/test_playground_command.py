"""`tinygrad-lc playground`: prints its address, serves until Ctrl-C (exit 130), opens the
browser unless --no-browser, warns when bound beyond this machine, and says how to install
the extra when it is missing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("uvicorn", reason="pip install 'tinygrad_lc[playground]'")

from tinygrad_lc import cli  # noqa: E402
from tinygrad_lc.playground import server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_it_serves_the_page_and_the_api_and_stops_on_ctrl_c():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_lc", "playground", "--port", "0", "--no-browser"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = proc.stdout.readline()  # waits for the line: printed once the port is bound
        assert line.startswith("tinygrad-lc playground: serving http://127.0.0.1:"), line
        url = line.split("serving ", 1)[1].split()[0]
        page = urllib.request.urlopen(url).read().decode()
        assert 'data-testid="plot"' in page
        state = json.load(urllib.request.urlopen(url + "api/state"))
        assert state["loss"] == "weston_watkins" and state["session"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        "tinygrad-lc playground: stopped; the sessions lived in memory only, nothing was written")
    assert "Traceback" not in err


class FakeServer:
    """Stands in for uvicorn: records the socket it was given and returns at once."""

    served: list = []

    def run(self, sockets):
        FakeServer.served.append(sockets[0].getsockname())


@pytest.fixture
def fake_uvicorn(monkeypatch):
    FakeServer.served = []
    opened = []
    monkeypatch.setattr(server, "server_for", lambda **kw: FakeServer())
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))
    return opened


def test_it_opens_the_browser_unless_told_not_to(fake_uvicorn, capsys):
    assert cli.main(["playground", "--port", "0"]) == 0
    url = capsys.readouterr().out.split("serving ", 1)[1].split()[0]
    assert fake_uvicorn == [url] and url == f"http://127.0.0.1:{FakeServer.served[0][1]}/"
    assert cli.main(["playground", "--port", "0", "--no-browser"]) == 0
    assert len(fake_uvicorn) == 1


def test_another_address_is_served_with_a_warning(fake_uvicorn, capsys, monkeypatch):
    bound = []
    real_bind = server.bind
    monkeypatch.setattr(server, "bind", lambda host, port: bound.append(host) or
                        real_bind("127.0.0.1", 0))  # this test binds no public address
    assert cli.main(["playground", "--host", "0.0.0.0", "--port", "0", "--no-browser"]) == 0
    err = capsys.readouterr().err
    assert bound == ["0.0.0.0"]
    assert "warning: --host 0.0.0.0 makes the playground reachable from other machines" in err
    assert cli.main(["playground", "--port", "0", "--no-browser"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_busy_port_is_one_line_and_exit_1(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["playground", "--port", str(port), "--no-browser"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tinygrad-lc playground: cannot listen on 127.0.0.1:{port}: ")
    assert "try --port 0" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv,text", [
    (["--port", "70000"], "must be a port number from 0 to 65535, got '70000'"),
    (["--port", "http"], "got 'http'"),
    (["--hots", "x"], "--host"),
])
def test_bad_options_are_usage_errors(capsys, argv, text):
    with pytest.raises(SystemExit) as info:
        cli.main(["playground", *argv])
    assert info.value.code == 2 and text in capsys.readouterr().err


def test_without_the_extra_it_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tinygrad_lc.playground", None)  # import fails
    assert cli.main(["playground", "--no-browser"]) == 1
    err = capsys.readouterr().err
    assert "needs the playground extra" in err and "pip install 'tinygrad_lc[playground]'" in err


def test_the_command_is_listed_and_helps():
    assert "playground" in cli.COMMANDS
    done = subprocess.run([sys.executable, "-m", "tinygrad_lc", "playground", "--help"],
                          cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0
    for option in ("--host", "--port", "--no-browser", "127.0.0.1", "8231"):
        assert option in done.stdout
