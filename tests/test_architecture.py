"""The house rules of ``tinygrad_lc/`` (docs/architecture.md), read from the source.

- No module imports a name with a leading underscore from another module: what a neighbour
  needs gets a public name in its home module.
- No prefixed sibling files: ``compile_plan.py`` beside ``compile.py`` is a folder waiting to
  happen (``compile/plan.py``).
- The package root holds ``__init__.py``, ``__main__.py``, the public modules and the
  subpackages, nothing else.
- No import circles between modules (import-linter checks the layers in ``make lint``; a test
  here proves its contracts can fail).
- ``docs/architecture.md`` lists every module there is, and no module that is not there; the
  layout section of ``docs/development.md`` names every folder.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tinygrad_lc"
# the modules a user imports by path (the API's public modules), and the entry points
ROOT_MODULES = {"__init__", "__main__", "autodiff", "losses", "regularizers", "nn", "optim",
                "testing", "cs231n"}
SUBPACKAGES = {"kernels", "core", "gradcheck", "compile", "viz", "models", "data", "sweep",
               "util", "cli", "playground"}


def modules() -> dict[str, Path]:
    """Dotted names relative to the package (``core.tensor``, ``sweep.__init__``) -> file."""
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p
            for p in sorted(PACKAGE.rglob("*.py"))}


def absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` of ``module`` (dotted, relative) names."""
    if node.level == 0:
        return node.module or ""
    package = ["tinygrad_lc", *module.split(".")[:-1]]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, *([node.module] if node.module else [])])


def underscored_imports(module: str, source: str) -> list[str]:
    """``from X import _name`` and ``X._name`` for X a module of the package, in ``source``."""
    tree = ast.parse(source)
    found, module_aliases = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            home = absolute(module, node)
            if home != "tinygrad_lc" and not home.startswith("tinygrad_lc."):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"line {node.lineno}: from {home} import {alias.name}")
                elif f"{home}.{alias.name}".removeprefix("tinygrad_lc.") in modules():
                    module_aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tinygrad_lc") and alias.asname:
                    module_aliases.add(alias.asname)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id in module_aliases and node.attr.startswith("_") and \
                not node.attr.startswith("__"):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_reader_finds_both_forms_of_reaching_for_a_private_name():
    code = ("from tinygrad_lc.core.ops import _spread, OPS\n"
            "from tinygrad_lc.core import tensor as engine\n"
            "x = engine._trace\n"
            "y = engine.public\n")
    assert underscored_imports("compile.buffers", code) == [
        "line 1: from tinygrad_lc.core.ops import _spread", "line 3: engine._trace"]
    assert underscored_imports("compile.plan", "from .buffers import _into\n") == [
        "line 1: from tinygrad_lc.compile.buffers import _into"]
    assert underscored_imports("compile.plan", "from numpy import _NoValue\n") == []


def test_no_module_imports_an_underscored_name_of_another():
    problems = [f"{name}: {what}" for name, path in modules().items()
                for what in underscored_imports(name, path.read_text("utf-8"))]
    assert not problems, "give these names a public name in their home module:\n" + \
        "\n".join(problems)


def prefixed_siblings(names: list[str]) -> list[tuple[str, str]]:
    """Pairs (a, b) of module names in one folder where b is a's name plus ``_something``,
    or both share a first word before ``_`` (``optim_checks`` beside ``optim_adaptive``)."""
    stems = sorted(n for n in names if n not in ("__init__", "__main__"))
    pairs = []
    for i, a in enumerate(stems):
        for b in stems[i + 1:]:
            if b.startswith(f"{a}_") or ("_" in a and "_" in b and
                                         a.split("_")[0] == b.split("_")[0]):
                pairs.append((a, b))
    return pairs


def test_the_prefix_rule_itself():
    assert prefixed_siblings(["compile", "compile_plan", "tensor"]) == \
        [("compile", "compile_plan")]
    assert prefixed_siblings(["optim_adaptive", "optim_checks"]) == \
        [("optim_adaptive", "optim_checks")]
    assert prefixed_siblings(["doc_blocks", "demo", "lecture", "__init__"]) == []


def test_no_prefixed_sibling_files_in_any_folder():
    folders = {p.parent for p in PACKAGE.rglob("*.py")}
    problems = {str(f.relative_to(ROOT)): pairs for f in sorted(folders)
                if (pairs := prefixed_siblings([p.stem for p in f.glob("*.py")]))}
    assert not problems, f"make a folder of these families: {problems}"


def test_the_package_root_holds_only_the_public_modules_and_the_subpackages():
    files = {p.stem for p in PACKAGE.glob("*.py")}
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert files == ROOT_MODULES
    assert folders == SUBPACKAGES
    for name in folders:
        assert (PACKAGE / name / "__init__.py").is_file(), f"{name}/ has no __init__.py"


def test_no_import_circles():
    grimp = pytest.importorskip("grimp")  # comes with import-linter (the dev group)
    graph = grimp.build_graph("tinygrad_lc")
    names = sorted(graph.modules)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in names}
    # a package imports its own submodules (its face re-exports them): not a circle
    edges = {m: [t for t in ts if not t.startswith(m + ".")] for m, ts in edges.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done; iterative depth-first
    for start in names:
        if start in state:
            continue
        path, stack = [start], [iter(edges[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                circle = path[path.index(nxt):] + [nxt]
                # a subpackage's face importing a submodule that imports the face's siblings
                if not all(a.rsplit(".", 1)[0] == circle[0].rsplit(".", 1)[0] or
                           b.startswith(a + ".") for a, b in zip(circle, circle[1:])):
                    pytest.fail(f"import circle: {' -> '.join(circle)}")
                state[nxt] = 2
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(edges[nxt]))


def test_an_upward_import_breaks_the_import_linter_contracts(tmp_path):
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (the dev group)")
    shutil.copytree(PACKAGE, tmp_path / "tinygrad_lc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([str(lint)], cwd=tmp_path, capture_output=True, text=True,
                              env={"PYTHONPATH": str(tmp_path), "PATH": ""})

    clean = run()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    engine = tmp_path / "tinygrad_lc" / "core" / "indexing.py"
    engine.write_text(engine.read_text() + "\nimport tinygrad_lc.losses  # upward\n")
    broken = run()
    assert broken.returncode != 0
    assert "tinygrad_lc.core.indexing -> tinygrad_lc.losses" in broken.stdout


# ---------------------------------------------------------------- the map is true
def documented_modules(text: str) -> set[str]:
    """The modules of the tree in docs/architecture.md: the first ```text block, one entry
    per line, folders ending in ``/`` and indented by two spaces per level."""
    block = re.search(r"```text\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```text tree"
    found, folders = set(), []
    for line in block.group(1).splitlines():
        m = re.match(r"( *)(\S+)", line)
        if not m or m.group(2) == "tinygrad_lc/":
            continue
        depth, entry = len(m.group(1)) // 2 - 1, m.group(2)
        folders = folders[:max(depth, 0)]
        if entry.endswith("/"):
            folders.append(entry[:-1])
        elif entry.endswith(".py"):
            found.add(".".join([*folders, entry[:-3]]))
    return found


def test_the_tree_reader():
    text = "```text\ntinygrad_lc/\n  __init__.py   face\n  core/\n    ops.py  x\n" \
           "  losses.py\n```\n"
    assert documented_modules(text) == {"__init__", "core.ops", "losses"}


def test_docs_architecture_lists_every_module_and_only_those():
    on_disk = set(modules())
    documented = documented_modules((ROOT / "docs" / "architecture.md").read_text("utf-8"))
    assert sorted(on_disk - documented) == [], "add these to docs/architecture.md"
    assert sorted(documented - on_disk) == [], "docs/architecture.md lists modules that are gone"


def test_the_layout_in_docs_development_names_every_folder():
    page = (ROOT / "docs" / "development.md").read_text("utf-8")
    layout = page.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(\w+)/`", layout))
    assert SUBPACKAGES - named == set(), "docs/development.md's layout leaves these folders out"
    others = {"tinygrad_lc", "tests", "examples", "benchmarks", "docs"}  # the repository's
    assert named - SUBPACKAGES - others == set(), \
        "docs/development.md's layout names folders that are gone"
