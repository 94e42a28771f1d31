"""Every script in examples/ runs cleanly as ``__main__`` in a fresh working directory.

Each example's own numbers are checked by the tests of the module it demonstrates; here the
lecture's linear score example (01) is also checked for its printed scores and gradients.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def run_example(path: Path, run_name: str = "__main__") -> dict:
    try:
        return runpy.run_path(str(path), run_name=run_name)
    except SystemExit as exc:  # an argparse-style exit must still be a clean one
        assert exc.code in (None, 0), f"{path.name} exited with {exc.code!r}"
        return {}


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A temporary cwd, the repository importable, no GUI backend, no command-line arguments."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def test_examples_are_found():
    assert any(p.name == "01_linear_score.py" for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_cleanly(path, sandbox, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(path)])
    run_example(path)
    out = capsys.readouterr().out
    assert out.strip(), f"{path.name} printed nothing"
    if path.name == "01_linear_score.py":
        assert "scores: [-2.85  0.86  0.28]" in out
        assert "db: [1.00 1.00 1.00]" in out
        assert out.count("[-15.00  22.00 -44.00  56.00]") == 3


def test_linear_score_values_and_gradients(sandbox, capsys):
    main = run_example(ROOT / "examples" / "01_linear_score.py", run_name="example")["main"]
    t = main()
    capsys.readouterr()
    np.testing.assert_allclose(t["scores"].data, [-2.85, 0.86, 0.28], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(t["W"].grad, np.tile(t["x"].data, (3, 1)))
    np.testing.assert_array_equal(t["b"].grad, np.ones(3))
    assert t["x"].grad is None
