"""A Griffe extension (mkdocs.yml, mkdocstrings' ``extensions:``): docstrings written for
``help()`` and doctest read well on the site too.

- Sphinx roles, such as :func:`~tinygrad_lc.gradcheck.gradcheck`, are shown as inline code
  (``~`` keeps the last part of the name, as in Sphinx).
- A doctest outside the NumPy "Examples" section (in a summary, or the module's docstring) is a
  Python console block; unfenced, markdown would read its ``>>>`` as nested quotes. The
  Examples section is left to the NumPy parser, which does the same there.
- Undocumented special members (``__add__``, ``__slots__``, ...) stay off the site; every other
  public name is shown, with or without a docstring (mkdocs.yml: ``show_if_no_docstring``), so
  the reference lists all of ``Tensor``'s methods and each module's constants.
"""

from __future__ import annotations

import re

from griffe import Extension

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|exc|obj|const):`(~?)([^`]+)`")
UNDERLINE = re.compile(r"\s*-{3,}\s*")


def roles_as_code(text: str) -> str:
    """``text`` with every Sphinx role written as inline code."""
    return ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", text)


def fenced_doctests(text: str) -> str:
    """``text`` with each doctest run (from a ``>>>`` line to the next blank line) outside the
    Examples section in a ```pycon fence, at the run's indentation."""
    lines, out, section, i = text.split("\n"), [], None, 0
    while i < len(lines):
        line = lines[i]
        if i + 1 < len(lines) and line.strip() and UNDERLINE.fullmatch(lines[i + 1]):
            section = line.strip()  # a NumPy section title, underlined on the next line
        if line.lstrip().startswith(">>>") and section != "Examples":
            indent = line[: len(line) - len(line.lstrip())]
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            out += [f"{indent}```pycon", *lines[i:end], f"{indent}```"]
            i = end
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def special(name: str) -> bool:
    """Whether ``name`` is a special (dunder) name other than ``__init__``."""
    return name.startswith("__") and name.endswith("__") and name != "__init__"


class DocstringsForTheSite(Extension):
    """Rewrite each docstring's Sphinx roles and loose doctests before it is parsed; hide
    undocumented special members."""

    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fenced_doctests(roles_as_code(obj.docstring.value))

    def on_class_members(self, *, cls, **kwargs) -> None:
        for name in [n for n, m in cls.members.items() if special(n) and not m.docstring]:
            del cls.members[name]
