"""examples/lecture.ipynb runs from top to bottom in a fresh kernel (nbclient, the kernel is
this interpreter) and shows what the lecture needs inline: an SVG diagram, a PNG plot, the
gradcheck table and the playground (served from the kernel on a thread, shown in an IFrame;
the kernel's shutdown ends it). The committed file carries no outputs."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="pip install nbformat (dev group: make setup)")
nbclient = pytest.importorskip("nbclient", reason="pip install nbclient (dev group: make setup)")
pytest.importorskip("ipykernel", reason="pip install ipykernel (dev group: make setup)")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "lecture.ipynb"
KERNEL = "tinygrad-lc-test"


def test_the_committed_notebook_is_stripped_and_valid():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) >= 8
    assert all(c.outputs == [] and c.execution_count is None for c in code), \
        "commit the notebook without outputs (Cell > All Output > Clear, or nbstripout)"
    assert json.loads(NOTEBOOK.read_text(encoding="utf-8"))["metadata"]["kernelspec"][
        "name"] == "python3"


@pytest.fixture
def kernel_of_this_interpreter(tmp_path, monkeypatch):
    """A kernelspec running ``sys.executable`` (the venv's python), found through
    JUPYTER_PATH, so the notebook runs against this checkout whatever else is installed."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tinygrad_lc tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                 "")]))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend draws PNGs
    return KERNEL


def outputs_of(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def test_the_lecture_notebook_runs_and_shows_diagrams_plots_and_the_gradcheck_table(
        kernel_of_this_interpreter, tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (`make dot`): the diagrams need it")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name=kernel_of_this_interpreter,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = outputs_of(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    data = [o.get("data", {}) for o in outputs]
    svgs = [d["image/svg+xml"] for d in data if "image/svg+xml" in d]
    pngs = [d["image/png"] for d in data if "image/png" in d]
    tables = [d["text/html"] for d in data if "gradcheck passed" in d.get("text/html", "")]
    assert len(svgs) >= 2 and all("svm_loss" in s or "softmax_loss" in s for s in svgs)
    assert len(pngs) >= 2  # the loss curve and the weight templates
    assert len(tables) >= 2 and all(">relative error</th>" in t for t in tables)
    assert any("kink sits on" in t for t in tables)  # the hinge's kink is reported
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "SVM loss per image:     [ 2.9  0.  12.9]" in text
    assert "softmax loss per image: [2.04 0.08 6.16]" in text
    assert "mean: SVM 5.27" in text
    sgd = float(text.split("SGD: last loss")[1].split("test accuracy ")[1].split()[0])
    guess = float(text.split("random search: best loss")[1].split("test accuracy ")[1].split()[0])
    assert sgd > 0.9 > 0.5 > guess
    assert "GradcheckReport(passed=" not in json.dumps(data)  # the table, not a dataclass dump
    # the playground served from the kernel answered, and shows inline
    assert "the playground answers: a new session's total loss is 4.1717" in text
    frames = [d["text/html"] for d in data if "<iframe" in d.get("text/html", "")]
    assert len(frames) == 1 and 'src="http://127.0.0.1:' in frames[0]
