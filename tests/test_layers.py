"""The package's layers: every module imports only from its own layer or the layers below,
and no two modules import each other, directly or through others.

The imports are read from the source (``ast``), at any depth: a function-level import or
one under ``if TYPE_CHECKING:`` is a dependency too. A new module must be placed in
``LAYERS`` (a name ``<prefix>_<anything>`` joins the layer of ``<prefix>``, so
``sweep_log`` sits with ``sweep``); the README's "Layout" paragraph lists the same layers.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tinygrad_lc"

# bottom to top; the brief's layers, with the helpers each one holds
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"atomic", "interrupts", "progress"}),
    ("engine", {"tensor", "ops", "checks", "modes", "anomaly", "indexing", "functional",
                "recording", "autodiff", "compile"}),
    ("losses, regularizers, nn, optim", {"losses", "regularizers", "nn", "optim",
                                         "model_inputs"}),
    ("models, gradcheck, testing, viz", {"models", "mlp", "gradcheck", "testing", "viz",
                                         "plots"}),
    ("data, training, sweep, report", {"data", "cifar10", "checkpoint", "datasets",
                                       "training", "sweep", "report", "__init__"}),
    ("commands", {"cli", "__main__", "commands"}),
]


def module_names() -> list[str]:
    """Dotted names relative to the package: ``tensor``, ``commands.train``, ``__init__``."""
    return sorted(".".join(p.relative_to(PACKAGE).with_suffix("").parts)
                  for p in PACKAGE.rglob("*.py"))


def layer_of(module: str) -> int | None:
    top = module.split(".")[0]
    for k, (_, names) in enumerate(LAYERS):
        if top in names or any(top.startswith(f"{n}_") for n in names):
            return k
    return None


def _resolve(module: str, node: ast.ImportFrom | ast.Import, known: set[str]) -> list[str]:
    """The package modules an import statement of ``module`` reaches."""
    if isinstance(node, ast.Import):
        return [n.name.removeprefix("tinygrad_lc.") or "__init__" for n in node.names
                if n.name == "tinygrad_lc" or n.name.startswith("tinygrad_lc.")]
    if node.level == 0:
        if node.module is None or not (node.module == "tinygrad_lc" or
                                       node.module.startswith("tinygrad_lc.")):
            return []
        base = node.module.removeprefix("tinygrad_lc").lstrip(".")
    else:
        package = module.split(".")[:-1]  # "commands.train" and "commands.__init__": commands
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([node.module] if node.module else [])])
    found = []
    for alias in node.names:  # `from . import data` names a module; `from . import X` a name
        sub = f"{base}.{alias.name}" if base else alias.name
        if sub in known:
            found.append(sub)
        else:
            found.append(base if base in known else f"{base}.__init__" if base else "__init__")
    return found


@functools.cache
def import_graph() -> dict[str, set[str]]:
    known = set(module_names())
    graph = {}
    for module in known:
        tree = ast.parse((PACKAGE / (module.replace(".", "/") + ".py")).read_text("utf-8"))
        graph[module] = {target for node in ast.walk(tree)
                         if isinstance(node, ast.Import | ast.ImportFrom)
                         for target in _resolve(module, node, known)
                         if target != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None; an iterative depth-first search."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state and nxt in graph:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


# ---------------------------------------------------------------- the checker itself
def test_the_reader_resolves_every_kind_of_import(tmp_path):
    known = {"tensor", "data", "__init__", "commands.options", "commands.train", "viz"}
    parse = lambda code: ast.parse(code).body[0]  # noqa: E731
    assert _resolve("viz", parse("from .tensor import Tensor"), known) == ["tensor"]
    assert _resolve("viz", parse("from . import data, __version__"), known) == \
        ["data", "__init__"]
    assert _resolve("commands.train", parse("from ..data import x"), known) == ["data"]
    assert _resolve("commands.train", parse("from .options import x"), known) == \
        ["commands.options"]
    assert _resolve("commands.train", parse("from .. import viz"), known) == ["viz"]
    assert _resolve("viz", parse("import tinygrad_lc.core.tensor"), known) == ["tensor"]
    assert _resolve("viz", parse("from tinygrad_lc import data"), known) == ["data"]
    assert _resolve("viz", parse("import numpy"), known) == []


def test_a_circle_is_found_through_other_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert circles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_function_level_and_type_checking_imports_count():
    graph = import_graph()
    assert "training" in graph["cifar10"] or "progress" in graph["cifar10"]  # inside a function
    assert layer_of("sweep_trial") == layer_of("sweep") and layer_of("commands.x") == 5


# ---------------------------------------------------------------- the package
def test_every_module_has_a_layer():
    missing = [m for m in module_names() if layer_of(m) is None]
    assert not missing, f"place these modules in tests/test_layers.py LAYERS: {missing}"


@pytest.mark.parametrize("module", module_names())
def test_a_module_imports_only_from_its_layer_and_below(module):
    mine = layer_of(module)
    if mine is None:
        pytest.skip("no layer (see test_every_module_has_a_layer)")
    upward = sorted(t for t in import_graph()[module] if (layer_of(t) or 0) > mine)
    assert not upward, (
        f"{module} ({LAYERS[mine][0]}) imports {upward} from a higher layer; move what it "
        "needs down to a module both can import")


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other (directly or through one another)."""
    reach = {}
    for start in graph:  # a few dozen modules: a walk from each is instant
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        reach[start] = seen
    groups = {frozenset(m for m in graph if m in reach[a] and a in reach[m]) | {a}
              for a in graph if a in reach[a]}
    return sorted(sorted(g) for g in groups)


def test_no_import_circles():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, (f"import circle: {' -> '.join(cycle)}; all the modules caught in "
                           f"circles: {circles(graph)}")


def test_the_readme_names_the_layers():
    readme = (PACKAGE.parent / "README.md").read_text("utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    for name, _ in LAYERS[1:]:
        for word in name.split(", "):
            assert word in layout, f"README's Layout does not name the layer {name!r}"
    assert "imports only from the layers below" in " ".join(layout.split())
