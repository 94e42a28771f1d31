"""The docs site (mkdocs.yml; `make docs` builds it into site/).

- It builds with ``mkdocs build --strict``: a broken link, anchor or API cross-reference, a
  page left out of the nav or a docstring the NumPy parser cannot read fails the build.
- Every public module has its API page, and the page shows every name of the module's
  ``__all__``.
- The home page is the README. The README's and the guide's links are relative: each names a
  file of the repository, and on the built site each link of every page lands on a file of
  the site (and an anchor of it). No page names an address of the project: it has none yet.

One build in a temporary folder serves all the site's tests; they are skipped, saying so, only
when the docs tools are not installed (the dev group installs them, so `make test` runs them).
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PACKAGE = ROOT / "tinygrad_lc"
GUIDE = sorted((ROOT / "docs").glob("*.md"))
# Subpackages that are not a public module of their own (API.md): the engine shows through
# tinygrad_lc's face, util serves the other layers, cli is the program (its page is the guide's
# command line page).
INTERNAL = {"core", "util", "cli"}
# Names of an __all__ documented on another page: `compile` in tinygrad_lc is tg.compile, the
# function, but griffe reads the name as the subpackage tinygrad_lc.compile.
ELSEWHERE = {("tinygrad_lc", "compile"): ("compile", "tinygrad_lc.compile.compile")}
NOT_INSTALLED = "the docs tools are not installed: pip install --group docs (dev includes it)"
LINK = re.compile(r"\]\(([^)\s]+)\)")  # a markdown link's or image's target
# an address of this project (github.com/x/tinygrad_lc, tinygrad-lc.github.io, ...): it has none
OWN_ADDRESS = re.compile(r"[a-z]+://[^\s)>\]]*tinygrad[-_.]?lc", re.I)


def public_modules() -> list[str]:
    """``tinygrad_lc`` and its public modules: the modules at the package root and the
    subpackages, but the internal ones."""
    found = [p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")]
    found += [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()
              and p.name not in INTERNAL]
    return ["tinygrad_lc", *sorted(found)]


def load_hook(name: str):
    """A module of docs/hooks/ (mkdocs loads them by path; they are not a package)."""
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}",
                                                  ROOT / "docs" / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def outside_code(page: str) -> str:
    """The page's HTML without the contents of its code blocks and inline code."""
    return re.sub(r"<(pre|code)\b.*?</\1>", "", page, flags=re.S)


def relative_links(markdown: str) -> list[str]:
    """The relative targets of ``markdown``'s links and images (no address, no bare anchor)."""
    return [t for t in LINK.findall(markdown) if not re.match(r"[a-zA-Z][\w+.-]*:|#", t)]


def build(out: Path, config: Path = ROOT / "mkdocs.yml") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out),
         "--config-file", str(config)],
        cwd=config.parent, capture_output=True, text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason=NOT_INSTALLED)
    out = tmp_path_factory.mktemp("site")
    built = build(out)
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stderr}"
    return out


# ---------------------------------------------------------------- the site
def test_the_site_builds_strict_with_every_guide_page(site):
    assert (site / "index.html").exists()
    for page in GUIDE:
        assert (site / f"{page.stem}.html").exists(), f"{page.name} is not on the site"


@pytest.mark.parametrize("module", public_modules())
def test_every_public_module_has_an_api_page_showing_its_all(site, module):
    page = site / "api" / f"{module}.html"
    assert page.exists(), f"add docs/api/{module}.md (::: tinygrad_lc.{module}) and its nav line"
    ids = set(re.findall(r'\bid="([^"]+)"', page.read_text("utf-8")))
    name = module if module == "tinygrad_lc" else f"tinygrad_lc.{module}"
    exported = importlib.import_module(name).__all__
    assert exported
    for member in exported:
        if (module, member) in ELSEWHERE:
            other, anchor = ELSEWHERE[module, member]
            assert anchor in (site / "api" / f"{other}.html").read_text("utf-8")
        else:
            assert f"{name}.{member}" in ids, f"api/{module} does not show {member}"


def test_the_home_page_is_the_readme(site):
    home = (site / "index.html").read_text("utf-8")
    readme = README.read_text("utf-8")
    headings = re.findall(r"^## (.+)$", readme, re.M)
    assert headings and all(f">{h}<" in home for h in headings), "the home page is not the README"
    first = re.search(r"^[A-Z].*$", readme.split("\n## ", 1)[0], re.M).group(0)
    assert " ".join(first.split()[:6]) in home  # the README's opening sentence
    docs_links = [t for t in relative_links(readme) if t.startswith("docs/")]
    assert docs_links, "the README links no docs page"
    for target in docs_links:  # docs/engine.md -> engine.html, docs/img/x.svg -> img/x.svg
        path = target.split("#")[0][len("docs/"):]
        on_site = path[:-3] + ".html" if path.endswith(".md") else path
        assert f'="{on_site}' in home, f"the home page does not link {target} as {on_site}"


def test_every_link_of_every_page_lands_on_the_site(site):
    """Each relative href and src of every built page names a file of the site, and a
    #fragment an id on the page it names (the theme's own assets included)."""
    pages = sorted(site.rglob("*.html"))
    ids: dict[Path, set[str]] = {}
    checked = 0
    for page in pages:
        text = page.read_text("utf-8")
        for target in re.findall(r'\b(?:href|src)="([^"]+)"', text):
            target = html.unescape(target)
            parts = urlsplit(target)
            if parts.scheme or target.startswith(("//", "/")) or page.name == "404.html":
                continue
            where = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert where == site or site in where.parents, f"{page.name}: {target} leaves the site"
            if where.is_dir():
                where = where / "index.html"
            assert where.is_file(), f"{page.relative_to(site)}: {target} names no file"
            if parts.fragment and where.suffix == ".html":
                if where not in ids:
                    ids[where] = set(re.findall(r'\bid="([^"]+)"', where.read_text("utf-8")))
                assert unquote(parts.fragment) in ids[where], \
                    f"{page.relative_to(site)}: {target}: no such anchor"
            checked += 1
    assert checked > 1000  # every page's navigation links every page


def test_a_pipe_in_table_code_shows_without_its_escape(site):
    """GitHub needs `a\\|b` in a table cell; the site shows a|b, not a\\|b."""
    escaped = [(page, code) for page in [README, *GUIDE]
               for line in page.read_text("utf-8").splitlines() if line.startswith("|")
               for code in re.findall(r"`([^`]*\\\|[^`]*)`", line)]
    assert escaped, "no table has an escaped pipe in code any more: drop this test"
    for page, code in escaped:
        on_site = (site / ("index.html" if page == README else f"{page.stem}.html"))
        text = html.unescape(on_site.read_text("utf-8"))
        assert code.replace("\\|", "|") in text and code not in text, (page.name, code)


def test_docstrings_read_as_code_on_the_site(site):
    """No Sphinx role (:func:`x`) and no doctest prompt (>>>, which markdown would nest as
    quotes) outside code on any API page."""
    for page in sorted((site / "api").glob("*.html")):
        text = outside_code(page.read_text("utf-8"))
        assert not re.search(r":(func|class|meth|mod|attr|exc|data|obj):", text), page
        assert "&gt;&gt;&gt;" not in text and "<blockquote" not in text, page


def test_a_broken_link_fails_the_strict_build(tmp_path):
    """A copy of the docs with one link to a missing page, and one out of docs/ to a missing
    file, does not build: the check above is the build's, not this suite's alone."""
    pytest.importorskip("mkdocs", reason=NOT_INSTALLED)
    for name in ("README.md", "mkdocs.yml"):
        (tmp_path / name).write_text((ROOT / name).read_text("utf-8"), "utf-8")
    (tmp_path / "docs").symlink_to(ROOT / "docs")  # the pages as they are
    (tmp_path / "tinygrad_lc").symlink_to(PACKAGE)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    with (tmp_path / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\n[gone](docs/gone.md) [gone too](examples/gone.py)\n")
    built = build(tmp_path / "site", tmp_path / "mkdocs.yml")
    assert built.returncode != 0, "a broken link did not fail the build"
    assert "gone.md" in built.stderr and "examples/gone.py" in built.stderr, built.stderr


# ---------------------------------------------------------------- the links, in the repository
def test_readme_and_guide_links_are_relative_and_name_files_of_the_repository():
    checked = 0
    for page in [README, *GUIDE]:
        text = page.read_text("utf-8")
        assert not OWN_ADDRESS.search(text), \
            f"{page.name}: an address of this project; it has no public address yet"
        for target in relative_links(text):
            path = target.split("#")[0]
            where = (page.parent / path).resolve()
            assert where == ROOT or ROOT in where.parents, \
                f"{page.name}: {target} leaves the repository"
            assert where.exists(), f"{page.name}: {target} names no file of the repository"
            checked += 1
    assert checked > 30
    for config in ("mkdocs.yml", "pyproject.toml"):
        assert not OWN_ADDRESS.search((ROOT / config).read_text("utf-8")), config


def test_the_hook_places_links_on_the_site_as_in_the_repository(tmp_path):
    pytest.importorskip("mkdocs", reason=NOT_INSTALLED)
    hook = load_hook("readme_home")
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "a.py").write_text("")
    readme = ("[a](docs/engine.md#errors) ![b](docs/img/x.svg) [c](examples/a.py) "
              "[d](https://x.org) [e](#here) [f](examples)")
    text, copies, broken = hook.site_links(readme, "README.md", tmp_path)
    assert text == ("[a](engine.md#errors) ![b](img/x.svg) [c](examples/a.py) "
                    "[d](https://x.org) [e](#here) [f](examples)")
    assert copies == ["examples/a.py"] and broken == ["examples"]  # a folder has no page
    guide = "[a](../examples/a.py#L2) [b](../README.md#install) [c](nn.md) [d](../gone.py)"
    text, copies, broken = hook.site_links(guide, "docs/cli.md", tmp_path)
    assert text == "[a](examples/a.py#L2) [b](index.md#install) [c](nn.md) [d](../gone.py)"
    assert copies == ["examples/a.py"] and broken == ["../gone.py"]
    text, _, _ = hook.site_links("[a](../../examples/a.py) [b](../engine.md)", "docs/api/x.md",
                                 tmp_path)
    assert text == "[a](../examples/a.py) [b](../engine.md)"
    assert hook.table_pipes("| `a\\|b` | c\\|d |\n`e\\|f`") == "| `a|b` | c\\|d |\n`e\\|f`"


def test_sphinx_roles_become_code_and_loose_doctests_get_a_fence():
    pytest.importorskip("griffe", reason=NOT_INSTALLED)
    hook = load_hook("docstrings")
    assert hook.roles_as_code("see :func:`~tinygrad_lc.gradcheck.gradcheck` and "
                              ":class:`GradcheckReport`") == \
        "see `gradcheck` and `GradcheckReport`"
    text = "Sum.\n\n    >>> x = 1\n    >>> x\n    1\n\nMore.\n\nExamples\n--------\n>>> 2\n2\n"
    assert hook.fenced_doctests(text) == (
        "Sum.\n\n    ```pycon\n    >>> x = 1\n    >>> x\n    1\n    ```\n\nMore.\n\n"
        "Examples\n--------\n>>> 2\n2\n")  # the Examples section is the parser's


def test_make_docs_builds_strict_into_the_ignored_site_folder():
    makefile = (ROOT / "Makefile").read_text("utf-8")
    recipe = makefile.split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    assert "mkdocs build --strict --site-dir site" in recipe
    assert "/site/" in (ROOT / ".gitignore").read_text("utf-8").split()

