"""The Makefile: `make test` brings what its tests need (Graphviz's dot, Chromium for the
browser test); `make demo` does not wait for Chromium; the dev extra holds the notebook's
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
    if os.getuid() != 0:
        pytest.skip("not root: the recipe would ask sudo")
    (bin_dir / "id").symlink_to(shutil.which("id"))
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


def test_the_dev_extra_holds_the_browser_and_notebook_test_packages():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    dev = re.search(r"^dev = \[(.*?)\]$", pyproject, flags=re.MULTILINE | re.DOTALL).group(1)
    for package in ("playwright", "nbclient", "nbformat", "ipykernel"):
        assert f'"{package}' in dev, package
    assert '"notebook' not in dev and '"jupyter' not in dev  # make notebook installs it


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
    dev = re.search(r"^dev = \[(.*?)\]$", pyproject, flags=re.MULTILINE | re.DOTALL).group(1)
    assert re.search(r'"tinygrad_lc\[[^\]]*\bplayground\b[^\]]*\]"', dev)  # make test has it
    assert '"httpx' in dev  # Starlette's TestClient
