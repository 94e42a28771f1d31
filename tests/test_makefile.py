"""The Makefile: `make test` brings what its tests need (Graphviz's dot, Chromium for the
browser test); `make demo` does not wait for Chromium; the dev dependency group holds the notebook's
and the browser test's packages."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def prerequisites(target: str) -> list[str]:
    m = re.search(rf"^{re.escape(target)}:([^\n=]*)$", MAKEFILE, flags=re.MULTILINE)
    assert m, f"no target {target}"
    return m.group(1).split()


def closure(target: str) -> set[str]:
    seen, todo = set(), [target]
    while todo:
        t = todo.pop()
        if t in seen or not re.search(rf"^{re.escape(t)}:", MAKEFILE, flags=re.MULTILINE):
            continue
        seen.add(t)
        todo += prerequisites(t)
    return seen


def test_make_test_needs_chromium_and_make_demo_does_not():
    assert "chromium" in closure("test") and "dot" in closure("test")
    assert "chromium" not in closure("demo") and "dot" in closure("demo")
    assert "notebook" in MAKEFILE.split(".PHONY")[2]  # make notebook exists


@pytest.mark.skipif(shutil.which("make") is None or sys.platform == "win32",
                    reason="needs make and a POSIX shell")
def test_make_chromium_installs_debians_package_with_apt_get_when_missing(tmp_path):
    """With no chromium on PATH, `make chromium` runs `apt-get install chromium` (a fake
    apt-get here records its arguments); with one, it does nothing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    fake = bin_dir / "apt-get"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    # any user: a fake `id` says root, so the recipe calls apt-get without sudo
    fake_id = bin_dir / "id"
    fake_id.write_text("#!/bin/sh\necho 0\n")
    fake_id.chmod(0o755)
    make = shutil.which("make")
    env = {**os.environ, "PATH": str(bin_dir)}
    done = subprocess.run([make, "-s", "chromium"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]
    (bin_dir / "chromium").write_text("#!/bin/sh\n")
    (bin_dir / "chromium").chmod(0o755)
    log.unlink()
    done = subprocess.run([make, "-s", "chromium"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and not log.exists()


def dependency_groups() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def group(groups: dict, name: str) -> list[str]:
    """The requirements of a dependency group, its included groups resolved."""
    out = []
    for item in groups[name]:
        out += group(groups, item["include-group"]) if isinstance(item, dict) else [item]
    return out


def test_the_dev_group_holds_the_test_tools_and_no_user_extra_does():
    pyproject = dependency_groups()
    dev = " ".join(group(pyproject["dependency-groups"], "dev"))
    for package in ("pytest", "hypothesis", "autograd", "playwright", "nbclient", "nbformat",
                    "ipykernel", "ruff", "import-linter", "basedpyright", "build",
                    "mkdocs", "mkdocs-material", "mkdocstrings[python]"):  # the docs site
        assert package in dev, package
    assert "notebook" not in dev.replace("nbformat", "") and "jupyter" not in dev
    extras = pyproject["project"]["optional-dependencies"]
    assert sorted(extras) == ["cifar10", "cluster", "demo", "playground"]  # no test or dev extra
    assert sorted(r.split(">")[0] for r in extras["demo"]) == ["matplotlib", "tqdm"]


def stamp_recipe(stamp_variable: str) -> list[str]:
    name = re.search(rf"^{stamp_variable}\s*:?=\s*(\S+)$", MAKEFILE, flags=re.MULTILINE).group(1)
    return recipe(f"$({stamp_variable})") if name else []


def test_make_demo_installs_only_the_demo_extra_and_make_test_the_test_tools():
    demo_install = [c for c in stamp_recipe("DEMO_STAMP") if "pip install" in c]
    assert demo_install and all("--group" not in c for c in demo_install), demo_install
    assert demo_install[-1].endswith("-e '.[demo]'"), demo_install
    assert "$(DEMO_STAMP)" in prerequisites("demo") and "setup" not in closure("demo")
    dev_install = [c for c in stamp_recipe("STAMP") if "pip install" in c]
    assert "--group dev" in dev_install[-1]
    assert "[demo,cifar10,cluster,playground]" in dev_install[-1]
    assert "setup" in closure("test") and "test-versions" in closure("test")


def test_the_oldest_numpy_tested_is_the_floor_the_package_claims():
    floor = re.search(r'"numpy>=([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    make = shutil.which("make")
    if make is None:
        pytest.skip("needs make")
    said = subprocess.run([make, "-s", "-n", "--no-print-directory", ".venv-oldest/.stamp",
                           "-B"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert f"'numpy=={floor}'" in said, said


def recipe(target: str) -> list[str]:
    """The command lines of a target's recipe (the tab-indented lines under it)."""
    lines = MAKEFILE.split("\n")
    start = next(i for i, line in enumerate(lines) if re.match(rf"{re.escape(target)}:", line))
    commands = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        commands.append(line[1:].strip())
    return commands


def test_make_test_reruns_the_docs_examples_and_notebook_under_another_blas_kernel():
    """After the main suite, `make test` runs the printed-number tests again with OpenBLAS's
    Haswell kernel (OPENBLAS_L2_SIZE unset for that command only), so a number that holds only
    under this CPU's summation order fails on the machine that wrote it."""
    commands = recipe("test")
    main = [i for i, c in enumerate(commands) if "pytest" in c and "tests/" not in c]
    again = [i for i, c in enumerate(commands)
             if c.split()[:4] == ["env", "-u", "OPENBLAS_L2_SIZE", "OPENBLAS_CORETYPE=Haswell"]]
    assert main and again, commands
    assert again[0] > main[0]
    words = commands[again[0]].split()
    assert words[4:7] == ["$(PY)", "-m", "pytest"]
    assert {"tests/test_docs.py", "tests/test_examples.py", "tests/test_notebook.py"} <= set(words)
    assert "OPENBLAS_L2_SIZE" not in "\n".join(commands[:again[0]] + commands[again[0] + 1:])
    assert not re.search(r"^\s*(export|unexport)\b.*OPENBLAS", MAKEFILE, flags=re.MULTILINE)


def test_make_playground_serves_the_demo_and_the_dev_extra_brings_its_packages():
    assert "setup" in prerequisites("playground")
    assert recipe("playground") == ["$(VENV)/bin/tinygrad-lc playground"]
    assert "playground" in MAKEFILE.split(".PHONY")[2]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    extra = re.search(r"^playground = \[(.*?)\]$", pyproject, flags=re.MULTILINE).group(1)
    assert '"starlette' in extra and '"uvicorn' in extra
    setup = [c for c in stamp_recipe("STAMP") if "pip install" in c][-1]
    assert re.search(r"\.\[[^\]]*\bplayground\b[^\]]*\]", setup)  # make test has it
    test = re.search(r"^test = \[(.*?)^\]$", pyproject, flags=re.MULTILINE | re.DOTALL).group(1)
    assert '"httpx' in test  # Starlette's TestClient
