"""The ```python blocks of README.md and docs/*.md run, in order, one fresh namespace per page.

Each page runs in a temporary working directory, so a page that writes files leaves nothing
behind. Tracebacks point at the page and line of the failing block.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))] if p.exists()]
# a fence opening with ```python (optionally followed by attributes) at the start of a line
FENCE = re.compile(r"^```python\b[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """(line number of the block's first line, code) for every ```python block, in order."""
    return [(text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)]


def test_python_blocks_are_extracted_in_order_and_other_fences_skipped():
    page = "intro\n```python\na = 1\n```\n```text\nnot code\n```\n```python title\nb = a + 1\n```\n"
    assert python_blocks(page) == [(3, "a = 1\n"), (9, "b = a + 1\n")]


def test_engine_page_has_code_to_run():
    assert python_blocks((ROOT / "docs" / "engine.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_code_runs(page, tmp_path, monkeypatch):
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    if not blocks:
        pytest.skip(f"{page.name} has no python blocks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__main__"}
    for line, code in blocks:
        # pad with newlines so a traceback's line number is the line in the page
        exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)
