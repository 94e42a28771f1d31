"""Tests for tinygrad_lc/progress.py: tqdm bars only on a terminal, a note without tqdm."""

from __future__ import annotations

import io
import sys

from tinygrad_lc.util.progress import progress_bar


class Terminal(io.StringIO):
    """A stand-in for stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_progress_bar_without_tqdm_notes_it_once_and_stays_silent(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes `import tqdm` raise ImportError
    monkeypatch.setattr(sys, "stderr", terminal := Terminal())
    bar = progress_bar(3, "steps", initial=1, unit="B")
    bar.update(1)
    bar.set_postfix(loss="1.0")
    bar.close()
    assert terminal.getvalue() == ("note: tqdm is not installed, so there is no progress "
                                   "bar (pip install 'tinygrad_lc[demo]')\n")
    monkeypatch.setattr(sys, "stderr", terminal := Terminal())
    progress_bar(3, "steps", enabled=False)
    assert terminal.getvalue() == ""


def test_progress_bar_draws_only_on_a_terminal(monkeypatch):
    for stream, drawn in ((io.StringIO(), False), (Terminal(), True)):
        monkeypatch.setattr(sys, "stderr", stream)
        bar = progress_bar(5, "steps")
        for _ in range(5):
            bar.update(1)
        bar.close()
        assert ("5/5" in stream.getvalue()) is drawn, stream.getvalue()
