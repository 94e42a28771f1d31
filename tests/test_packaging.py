"""The package as users get it: the wheel and the sdist built from this tree, their metadata
and contents, what `import tinygrad_lc` loads, and the types a user's type checker sees.

The wheel and the sdist are built once per run (``python -m build --no-isolation``: no
download, about 5 s) with setuptools' and build's warnings checked; the type check runs
basedpyright (pyright with Node.js in its wheel) on a user's script against the installed wheel.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytest.importorskip("build")


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """The wheel and the sdist of this tree, built without warnings."""
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                           str(out), str(ROOT)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    said = (done.stdout + done.stderr).lower()
    assert "warning" not in said and "deprecat" not in said, done.stdout + done.stderr
    return {"wheel": next(out.glob("*.whl")), "sdist": next(out.glob("*.tar.gz"))}


def metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(z.read(name).decode())


def test_the_wheel_ships_the_types_the_digits_and_the_license(dist):
    with zipfile.ZipFile(dist["wheel"]) as z:
        names = set(z.namelist())
    assert "tinygrad_lc/py.typed" in names
    assert "tinygrad_lc/data/digits.npz" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("tests/", "docs/", "benchmarks/")) for n in names)


def test_the_metadata_license_dependencies_and_extras(dist):
    meta = metadata(dist["wheel"])
    assert meta["License-Expression"] == "MIT AND CC-BY-4.0"
    assert meta["License"] is None  # the old free-text field is gone
    requires = meta.get_all("Requires-Dist")
    plain = sorted(r.split(">")[0] for r in requires if "extra ==" not in r)
    # a plain `pip install` pulls only these (threadpoolctl: the BLAS threads of the kernel
    # choices' keys, pure Python)
    assert plain == ["graphviz", "numpy", "threadpoolctl"]
    extras = {}
    for r in requires:
        if "extra ==" in r:
            name = r.split('extra == "')[1].rstrip('"')
            extras.setdefault(name, []).append(r.split(">")[0].split(";")[0])
    assert sorted(meta.get_all("Provides-Extra")) == ["cifar10", "cluster", "demo", "playground"]
    assert sorted(extras["demo"]) == ["matplotlib", "tqdm"]  # no scikit-learn, no scipy
    assert sorted(extras["cifar10"]) == ["platformdirs", "pooch"]
    tools = {"pytest", "hypothesis", "ruff", "playwright", "autograd", "basedpyright"}
    assert not tools & {name for names in extras.values() for name in names}
    classifiers = meta.get_all("Classifier")
    assert "Typing :: Typed" in classifiers
    assert {f"Programming Language :: Python :: 3.{v}" for v in (10, 11, 12, 13)} <= \
        set(classifiers)


def test_the_sdist_holds_every_file_of_the_repository_the_tests_read(dist):
    """Complete for its tests: every tracked file but the CI script and .gitignore."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to compare with")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    with tarfile.open(dist["sdist"]) as tar:
        shipped = {m.name.split("/", 1)[1] for m in tar.getmembers()
                   if m.isfile() and "/" in m.name}
    shipped = {n for n in shipped if "__pycache__" not in n}
    missing = set(tracked) - shipped - {".ci/run", ".gitignore"}
    assert not missing, sorted(missing)
    assert {"Makefile", "LICENSE", "docs/architecture.md", "examples/lecture.ipynb",
            "tests/conftest.py", "tinygrad_lc/data/digits.npz"} <= shipped


def test_import_loads_nothing_but_numpy_and_graphviz():
    code = ("import sys; before = set(sys.modules); import tinygrad_lc, tinygrad_lc.data; "
            "print(sorted({m.split('.')[0] for m in set(sys.modules) - before} "
            "- set(sys.stdlib_module_names) - {'tinygrad_lc'}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    third_party = json.loads(done.stdout.replace("'", '"'))
    assert third_party == ["graphviz", "numpy"], third_party


USER_SCRIPT_CHECKS = '''
reveal_type(loss)
reveal_type(W.grad)
reveal_type(loss.item())
reveal_type(X @ W)
reveal_type(2.0 * W - 1)
reveal_type(tg.maximum(0, X @ W))
'''


def readme_example() -> str:
    """The README's first ```python block: what a user writes first."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("```python\n", 1)[1].split("```", 1)[0]


def reveal_types(site: Path, script: Path, env_extra: dict[str, str]) -> list[str]:
    checker = BIN / "basedpyright"
    (script.parent / "pyrightconfig.json").write_text(json.dumps(
        {"typeCheckingMode": "standard", "useLibraryCodeForTypes": False}))
    env = {**os.environ, "PYTHONPATH": str(site), **env_extra}
    done = subprocess.run([str(checker), "--outputjson", "--pythonpath", sys.executable,
                           script.name], cwd=script.parent, capture_output=True, text=True,
                          env=env, timeout=300)
    report = json.loads(done.stdout)
    return [d["message"] for d in report["generalDiagnostics"]
            if d["severity"] == "information" and d["message"].startswith("Type of")]


@pytest.fixture(scope="module")
def site(dist, tmp_path_factory) -> Path:
    """The wheel installed into a folder of its own, as a user's site-packages."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(dist["wheel"])], check=True, timeout=300)
    return site


# the modules a student of the lecture imports from; their public names and the members of
# their public classes are held to complete annotations
TYPED_MODULES = ["tinygrad_lc", "tinygrad_lc.losses", "tinygrad_lc.regularizers",
                 "tinygrad_lc.optim", "tinygrad_lc.nn", "tinygrad_lc.autodiff",
                 "tinygrad_lc.models", "tinygrad_lc.gradcheck"]


@pytest.mark.skipif(not (BIN / "basedpyright").exists(), reason="needs basedpyright (lint group)")
def test_the_lectures_public_api_is_fully_annotated(site, tmp_path):
    """``--verifytypes`` on the installed wheel: every public name of ``TYPED_MODULES``
    (``tg.Tensor``, ``tg.maximum``, ``losses.svm_loss``, ``optim.SGD``, ...) and every member
    of their public classes has a declared, known type. A checker infers what is not
    annotated (pyright does; mypy says Any), so the reveal_type test below would not notice
    ``Tensor.__add__`` losing its annotation; this one names it."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([str(BIN / "basedpyright"), "--outputjson", "--pythonpath",
                           sys.executable, "--verifytypes", "tinygrad_lc", "--ignoreexternal"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    report = json.loads(done.stdout)["typeCompleteness"]
    assert report.get("pyTypedPath"), report  # the wheel's py.typed was found
    public = {f"{m}.{name}" for m in TYPED_MODULES
              for name in importlib.import_module(m).__all__}
    symbols = [(s, {s["name"], *s.get("alternateNames", [])}) for s in report["symbols"]]
    classes = set().union(*(names for s, names in symbols
                            if s["category"] == "class" and names & public))
    checked, incomplete = set(), {}
    for sym, names in symbols:
        if not (names & public or any(n.rsplit(".", 1)[0] in classes for n in names)):
            continue
        checked |= names
        problems = [d["message"].split("\n")[0] for d in sym["diagnostics"]
                    if "docstring" not in d["message"]]
        if problems or not sym["isTypeKnown"] or sym["isTypeAmbiguous"]:
            incomplete[sym["name"]] = problems
    assert public <= checked, sorted(public - checked)
    assert {"tinygrad_lc.core.tensor.Tensor.__add__", "tinygrad_lc.core.tensor.Tensor.grad",
            "tinygrad_lc.optim.Optimizer.step", "tinygrad_lc.losses.svm_loss"} <= checked
    assert not incomplete, "\n".join(f"{k}: {v}" for k, v in sorted(incomplete.items()))


@pytest.mark.skipif(not (BIN / "basedpyright").exists(), reason="needs basedpyright (lint group)")
def test_a_users_type_checker_sees_tensor_not_any(site, tmp_path):
    """The README's example, type-checked against the installed wheel by a checker that reads
    only typed packages (useLibraryCodeForTypes off, as mypy does by default): with py.typed
    it sees Tensor; the same wheel without py.typed gives it nothing (Unknown)."""
    own = tmp_path / "site"  # a copy of the installed wheel: its py.typed is removed below
    shutil.copytree(site, own)
    project = tmp_path / "user"
    project.mkdir()
    script = project / "user_script.py"
    script.write_text(readme_example() + USER_SCRIPT_CHECKS, encoding="utf-8")
    lines = reveal_types(own, script, {})
    said = dict(line[len('Type of "'):].split('" is ', 1) for line in lines)
    assert len(said) == 6, said
    types = list(said.values())
    assert types[0] == types[3] == types[4] == types[5] == '"Tensor"', said  # loss, X @ W, ...
    assert types[1].startswith('"ndarray[') and types[1].endswith(' | None"'), said  # W.grad
    assert types[2] == '"float"', said  # loss.item()
    (own / "tinygrad_lc" / "py.typed").unlink()  # the wheel as it was before
    without = reveal_types(own, script, {})
    assert without and all(line.endswith('is "Unknown"') for line in without), without
