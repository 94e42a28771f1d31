"""The ```python code blocks of a Markdown page: the one extractor of the project.

``tinygrad-lc``'s ``graph --refresh-docs`` runs the blocks of ``docs/diagrams.md`` to redraw
its images, and ``tests/test_docs.py`` runs the blocks of every page and compares what they
print with what the page shows; both read the blocks here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Block", "python_blocks"]

# a fence with its language (```python, ```text, ``` ...), optionally followed by attributes
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """A ```python block: the page line of its first code line, its code, and the text of
    the ```text block that a line "prints" introduces right after it (None without one)."""

    line: int
    code: str
    prints: str | None = None


def python_blocks(text: str) -> list[Block]:
    """Every ```python block of a Markdown page, in order; other fences are skipped.

    >>> page = "text\\n```python\\nx = 1\\n```\\n```text\\nnot code\\n```\\n"
    >>> python_blocks(page)
    [Block(line=3, code='x = 1\\n', prints=None)]
    >>> python_blocks("```python\\nprint(2)\\n```\\n\\nprints\\n\\n```text\\n2\\n```\\n")[0].prints
    '2\\n'
    """
    fences = list(FENCE.finditer(text))
    out = []
    for k, m in enumerate(fences):
        if m.group(1) != "python":
            continue
        after = fences[k + 1] if k + 1 < len(fences) else None
        prints = None
        if after is not None and after.group(1) == "text" and \
                text[m.end():after.start()].strip().rstrip(":") == "prints":
            prints = after.group(2)
        out.append(Block(text.count("\n", 0, m.start(2)) + 1, m.group(2), prints))
    return out
