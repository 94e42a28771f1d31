"""mkdocs hooks (mkdocs.yml ``hooks:``): README.md is the site's home page, and the relative
links of the README and the guide work on the site as they do in the repository.

The site's root is docs/, so a page's relative link means on the site what it means in the
repository once its target is placed as follows:

- a file under docs/ is where mkdocs puts it (``docs/engine.md`` is the site's ``engine.md``):
  the README's ``docs/engine.md#errors`` becomes ``engine.md#errors`` on the home page;
- README.md is the home page, ``index.md``: a guide page's ``../README.md#install`` becomes
  ``index.md#install``;
- any other file of the repository (``examples/lecture.ipynb``) is copied into the site at its
  path in the repository, and the link made relative to that copy.

A table cell's code may hold a pipe, escaped for GitHub (`` `digits\\|cifar10` ``); Python-Markdown
reads the pipe in code as it is and would show the backslash, so the site's copy drops it.

Every rewritten link is a link mkdocs checks, so ``mkdocs build --strict`` fails on a missing
page or anchor; a link to a file outside docs/ that does not exist, or to a folder (the site
has no page for it), is a warning, an error under ``--strict``.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.readme_home")

LINK = re.compile(r"(\]\()([^)\s]+)(\))")  # the target of a markdown link or image
ADDRESS = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:|#|/")  # a URL, an anchor on the page, a root path
CODE = re.compile(r"`[^`\n]*`")  # an inline code span


def table_pipes(markdown: str) -> str:
    """``markdown`` with ``\\|`` written ``|`` in the code spans of its table rows."""
    return "\n".join(CODE.sub(lambda m: m[0].replace("\\|", "|"), line)
                     if line.lstrip().startswith("|") else line
                     for line in markdown.split("\n"))


def root_of(config) -> Path:
    """The repository's root: the folder of mkdocs.yml."""
    return Path(config.config_file_path).resolve().parent


def site_links(markdown: str, page: str, root: Path) -> tuple[str, list[str], list[str]]:
    """``markdown``, a page at ``page`` (its path in the repository, ``README.md`` or
    ``docs/cli.md``), with its relative links rewritten for the site.

    Returns the new text, the repository files outside docs/ it links (to copy into the site,
    at the same paths) and the links whose target is missing or a folder."""
    here = posixpath.dirname(page)
    site_here = "" if page == "README.md" else posixpath.relpath(here, "docs")
    site_here = "" if site_here == "." else site_here
    copies: list[str] = []
    broken: list[str] = []

    def rewritten(m: re.Match) -> str:
        target = m[2]
        if ADDRESS.match(target):
            return m[0]
        path, hash_, anchor = target.partition("#")
        where = posixpath.normpath(posixpath.join(here, path))
        if where.startswith("../") or where == "..":
            broken.append(target)
            return m[0]
        if where == "README.md":
            on_site = "index.md"
        elif where.startswith("docs/"):
            on_site = where[len("docs/"):]
        else:
            on_site = where
            if not (root / where).is_file():
                broken.append(target)
                return m[0]
            copies.append(where)
        link = posixpath.relpath(on_site, site_here or ".")
        return f"{m[1]}{link}{hash_}{anchor}{m[3]}"

    return LINK.sub(rewritten, markdown), copies, broken


def on_files(files, config):
    """Add README.md as the site's index.md, and copy into the site the repository's files
    outside docs/ that the README or a guide page links."""
    root = root_of(config)
    readme = (root / "README.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "index.md", content=readme))
    linked = set()
    for page in ["README.md", *(p.relative_to(root).as_posix()
                                for p in sorted((root / "docs").rglob("*.md"))
                                if "hooks" not in p.parts)]:
        _, copies, _ = site_links((root / page).read_text(encoding="utf-8"), page, root)
        linked.update(copies)
    for path in sorted(linked):
        if files.get_file_from_path(path) is None:
            files.append(File.generated(config, path, abs_src_path=os.fspath(root / path)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Rewrite the page's relative links for the site (warning about broken ones) and its
    tables' escaped pipes in code."""
    src = page.file.src_uri
    in_repo = "README.md" if src == "index.md" else f"docs/{src}"
    text, _, broken = site_links(markdown, in_repo, root_of(config))
    for target in broken:
        log.warning("Doc file '%s' contains a link '%s', but the target is not a file of the "
                    "repository.", in_repo, target)
    return table_pipes(text)
