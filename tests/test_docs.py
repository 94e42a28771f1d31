"""The ```python blocks of README.md and docs/*.md run, in order, one fresh namespace per page,
and print what the page says they print.

Each page runs in a temporary working directory, so a page that writes files leaves nothing
behind. Tracebacks point at the page and line of the failing block.

What a ``print(...)`` prints is written in the page, in one of three ways:

- a comment at the end of the print line: ``print(v.grad)  # [0.  0.5 0.5]``;
- comment lines right under it, for longer output (no comment on the print line itself);
- for a whole block, a line ``prints`` after the block, then a ```text block.

Each is compared with what the print did print, as text, with runs of whitespace counted as
one space (so long output may wrap over several comment lines). A number written ``~x`` is a
rounded value, for numbers that differ from machine to machine (BLAS summation order): it
matches a printed number that rounds to x at the digits x shows (``~2`` matches 1.7 and 2.4,
``~2.6e-07`` matches 2.64e-07). A print whose output is not written anywhere fails: a comment
on a print line is its output, never prose (prose goes on its own line above).
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import re
import sys
import tokenize
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from tinygrad_lc.cli.doc_blocks import Block, python_blocks

ROOT = Path(__file__).resolve().parent.parent
PAGES = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))] if p.exists()]
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


# ---------------------------------------------------------------- the outputs written
@dataclass(frozen=True)
class Print:
    first: int  # page lines of the print call
    last: int
    shown: str | None  # the output written in comments, None when there is none


def written_prints(block: Block) -> list[Print]:
    """Every print(...) call of a block with the output its comments show."""
    code = "\n" * (block.line - 1) + block.code  # page line numbers
    lines = code.split("\n")
    trailing: dict[int, str] = {}
    own_line: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            text = tok.string[1:].strip()
            (own_line if not lines[row - 1][:col].strip() else trailing)[row] = text
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id == "print":
            rows = range(node.lineno, node.end_lineno + 1)
            shown = [trailing[r] for r in rows if r in trailing]
            if not shown:  # comment lines right under the call
                r = node.end_lineno + 1
                while r in own_line:
                    shown.append(own_line[r])
                    r += 1
            found.append(Print(node.lineno, node.end_lineno, "\n".join(shown) if shown else None))
    return sorted(found, key=lambda p: p.first)


def rounds_to(got: str, shown: str) -> bool:
    """Whether the number ``got`` is within half a unit of the last digit ``shown`` has."""
    half = Decimal(5).scaleb(Decimal(shown).as_tuple().exponent - 1)
    return abs(Decimal(got) - Decimal(shown)) <= half


def same_output(shown: str, got: str) -> bool:
    """Whether ``got`` is the ``shown`` text (whitespace runs as one space; ~x rounded)."""
    parts = re.split(rf"~({NUMBER})", " ".join(shown.split()))
    pattern = "".join(re.escape(p) if i % 2 == 0 else f"({NUMBER})" for i, p in enumerate(parts))
    m = re.fullmatch(pattern, " ".join(got.split()))
    return m is not None and all(rounds_to(g, x) for g, x in zip(m.groups(), parts[1::2]))


def recording_print(filename: str, records: list) -> object:
    """A print for the page's namespace: prints as usual and records (page line, text)."""

    def print_(*args, sep=" ", end="\n", file=None, flush=False):
        if file is not None and file is not sys.stdout:
            return builtins.print(*args, sep=sep, end=end, file=file, flush=flush)
        buf = io.StringIO()
        builtins.print(*args, sep=sep, end=end, file=buf)
        caller = sys._getframe(1)
        if caller.f_code.co_filename == filename:
            records.append((caller.f_lineno, buf.getvalue()))
        sys.stdout.write(buf.getvalue())
        return None

    return print_


def check_outputs(where: str, blocks: list[Block], records: list, stdout: list[str]) -> list:
    """The mismatches between what the page's prints printed and what the page says."""
    problems = []
    for block, out in zip(blocks, stdout):
        if block.prints is not None and not same_output(block.prints, out):
            problems.append(f"{where}:{block.line}: the block prints\n{out}\nnot what the "
                            f"page shows:\n{block.prints}")
        for p in written_prints(block):
            got = "".join(text for row, text in records if p.first <= row <= p.last)
            if p.shown is None:
                if block.prints is None:
                    problems.append(f"{where}:{p.first}: the page does not show what this "
                                    f"print prints ({got.strip()!r}): write it as a comment")
            elif not same_output(p.shown, got):
                problems.append(f"{where}:{p.first}: prints {got.strip()!r}, the page says "
                                f"{p.shown!r}")
    return problems


def run_blocks(page: Path, blocks: list[Block]) -> tuple[dict, list, list[str]]:
    """Run blocks of a page in one namespace; return it, the (page line, text) of each print
    and each block's stdout."""
    records: list = []
    namespace = {"__name__": "__main__", "print": recording_print(str(page), records)}
    stdout = []
    for block in blocks:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            # pad with newlines so a traceback's line number is the line in the page
            exec(compile("\n" * (block.line - 1) + block.code, str(page), "exec"), namespace)
        stdout.append(buf.getvalue())
        sys.stdout.write(buf.getvalue())  # shown by pytest on a failure
    return namespace, records, stdout


def run_page(page: Path) -> list:
    """Run a page's blocks in one namespace; return check_outputs' list of problems."""
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    _, records, stdout = run_blocks(page, blocks)
    return check_outputs(str(page.relative_to(ROOT) if page.is_relative_to(ROOT) else page),
                         blocks, records, stdout)


# ---------------------------------------------------------------- the checker itself
def test_python_blocks_are_extracted_in_order_and_other_fences_skipped():
    page = ("intro\n```python\na = 1\n```\n```text\nnot code\n```\n```python title\nb = a + 1\n"
            "```\n\nprints\n\n```text\n2\n```\n")
    assert python_blocks(page) == [Block(3, "a = 1\n"), Block(9, "b = a + 1\n", "2\n")]


def test_engine_page_has_code_to_run():
    assert python_blocks((ROOT / "docs" / "engine.md").read_text(encoding="utf-8"))


def test_output_comments_are_read_on_the_line_or_under_it():
    code = ('x = 2\nprint(x)  # 2\nprint("a",\n      x)\n# a\n#   2\ny = 3  # prose\n'
            "print(y)\n\n# prose after a blank line\n")
    assert written_prints(Block(5, code)) == [Print(6, 6, "2"), Print(7, 8, "a\n2"),
                                              Print(12, 12, None)]


@pytest.mark.parametrize("shown, got, same", [
    ("[0.  0.5 0.5]", "[0.  0.5 0.5]\n", True),
    ("[0.  0.5 0.5]", "[0.  0.5 0.6]\n", False),  # a wrong number
    ("1.0", "1.00\n", False),  # text, not values: only ~x is approximate
    ("N6 ~2.6e-07", "N6 2.64e-07\n", True),
    ("N6 ~2.6e-07", "N6 2.66e-07\n", False),
    ("N6 ~2.6e-07", "N5 2.6e-07\n", False),
    ("~2 eps", "1.7 eps\n", True),
    ("~2 eps", "2.6 eps\n", False),
    ("~20000.0", "20000.04\n", True),
    ("a long message\nwrapped", "a long  message wrapped\n", True),
    ("2", "", False),
])
def test_same_output(shown, got, same):
    assert same_output(shown, got) is same


def test_a_wrong_number_in_a_page_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 0.5\nprint(x * 2)  # 1.0\nfor k in range(2):\n"
                    "    print(k)\n    # 0\n    # 1\nprint(x)\n```\n\n```python\nprint(3)\n```\n"
                    "\nprints\n\n```text\n4\n```\n")
    assert run_page(page) == [
        f"{page}:8: the page does not show what this print prints ('0.5'): write it as a "
        "comment",
        f"{page}:12: the block prints\n3\n\nnot what the page shows:\n4\n"]
    page.write_text(page.read_text().replace("# 1.0", "# 1.5"))
    assert f"{page}:3: prints '1.0', the page says '1.5'" in run_page(page)


# ---------------------------------------------------------------- the pages
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_code_runs_and_prints_what_it_shows(page, tmp_path, monkeypatch):
    if not python_blocks(page.read_text(encoding="utf-8")):
        pytest.skip(f"{page.name} has no python blocks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    before = settings.get_current_profile_name()  # docs/testing.md loads a profile
    try:
        problems = run_page(page)
    finally:
        settings.load_profile(before)
    assert not problems, "\n".join(problems)


def test_the_curvature_on_the_higher_order_page_is_the_top_eigenvalue_of_its_hessian(
        tmp_path, monkeypatch):
    """docs/higher-order.md prints the largest eigenvalue of a loss's Hessian (from
    Hessian-vector products) and the learning rate 2 / it. At the digits shown, both the page's
    comment and what the code prints must be the converged value: the largest eigenvalue of the
    full 60 x 60 Hessian (hessian() and np.linalg.eigvalsh), and still so with the value moved
    by 1e-6 of itself, so no BLAS kernel's rounding can change a digit shown. (A 50-step power
    iteration started on an eigenvector of the penalty printed 0.894 to 0.897 depending on the
    OpenBLAS kernel; the eigenvalue is 0.89947.)"""
    from tinygrad_lc.autodiff import hessian

    monkeypatch.chdir(tmp_path)
    page = ROOT / "docs" / "higher-order.md"
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    upto = next(i for i, b in enumerate(blocks) if "largest curvature" in b.code) + 1
    namespace, records, _ = run_blocks(page, blocks[:upto])
    (shown,) = [p.shown for p in written_prints(blocks[upto - 1])
                if p.shown and "largest curvature" in p.shown]
    (printed,) = [text for _, text in records if "largest curvature" in text]
    W = namespace["W"]
    H = hessian(namespace["loss"], W).data.reshape(W.size, W.size)
    top = float(np.linalg.eigvalsh(H)[-1])
    pattern = rf"largest curvature ~?({NUMBER})\b.* lr = ~?({NUMBER})"
    for where, text in (("the page shows", shown), ("the code prints", printed)):
        lam, lr = re.search(pattern, text).groups()
        for moved in (1 - 1e-6, 1 + 1e-6):
            assert rounds_to(repr(top * moved), lam), f"{where} {lam}, the eigenvalue is {top}"
            assert rounds_to(repr(2 / (top * moved)), lr), f"{where} lr {lr}, 2 / it is {2 / top}"
