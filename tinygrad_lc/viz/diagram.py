"""Computation graphs as Graphviz diagrams: ``draw_graph`` builds them, ``render`` writes files.

The drawing walks the graph behind a tensor breadth first from the root, without recursion,
and numbers the nodes in that walk order, so the same graph always gives the same DOT source.

- Tensors are boxes: parameters (leaves with ``requires_grad``) blue, inputs grey, constants
  from Python numbers small and white with their value, other tensors white; the root is
  green with a double border.
- Ops are yellow ellipses named after the op (``matmul``, ``add``, ``maximum``, ``sum``, ...)
  with one edge per input, so ``x * x`` has two edges from ``x``.
- Scopes (``tg.scope`` and the losses' and regularizers' own) are clusters nested by their
  "/" path; ``collapse`` draws a whole scope as one purple box.
- Tensors holding NaN or inf, and ops flagged by ``tg.detect_anomaly()``, are red with a note.
- Past ``max_nodes`` tensors (default 500) one dashed box says how many were left out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from tinygrad_lc.compile.drawing import draw_program
from tinygrad_lc.compile.program import Program
from tinygrad_lc.core.tensor import Tensor
from tinygrad_lc.util.atomic import atomic_write
from tinygrad_lc.viz.labels import (
    RED,
    SMALL,  # noqa: F401  (still importable as viz.SMALL)
    esc,
    group_label,
    html_rows,
    node_kind,
    op_label,
    problems,
    small_note,
    tensor_label,
)

__all__ = ["draw_graph", "render", "GraphvizNotFoundError", "DEFAULT_MAX_NODES", "FORMATS"]

DEFAULT_MAX_NODES = 500  # keeps an accidental 100k-op graph to a drawing dot can lay out
FORMATS = (".svg", ".png", ".pdf", ".dot")
SHOW_OPTIONS = ("shape", "data", "grad")
RANKDIRS = ("LR", "RL", "TB", "BT")

_FONT = "Helvetica,Arial,sans-serif"
_INSTALL = (
    "Install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` "
    "(macOS), `conda install graphviz`, or see https://graphviz.org/download/"
)
_STYLES = {
    "param": {"fillcolor": "#d4e4f7", "color": "#2f6aa7", "penwidth": "1.6"},
    "input": {"fillcolor": "#ececec", "color": "#8a8a8a"},
    "const": {"fillcolor": "#ffffff", "color": "#b0b0b0", "fontsize": "10",
              "width": "0.3", "height": "0.25", "margin": "0.04,0.02"},
    "value": {"fillcolor": "#ffffff", "color": "#6b6b6b"},
    "group": {"fillcolor": "#e6def4", "color": "#6a4fa3", "penwidth": "1.6", "shape": "box3d",
              "style": "filled", "margin": "0.14,0.08"},
    "root": {"fillcolor": "#d5ecd0", "color": "#2e7d32", "penwidth": "1.6", "peripheries": "2"},
    "bad": {"fillcolor": "#f9d4d4", "color": RED, "penwidth": "2", "fontcolor": RED},
}
_OP_STYLE = {"shape": "ellipse", "style": "filled", "fillcolor": "#fff1bf", "color": "#c49a1a",
             "fontsize": "11", "width": "0.3", "height": "0.3", "margin": "0.06,0.02"}
_CLUSTER_FILLS = ("#f3f5fb", "#e7ebf6", "#dbe1f1")
# the scope "backward" (gradients recorded by tg.grad(create_graph=True)) and all inside it
_BACKWARD_FILLS = ("#fbf1e4", "#f6e4cc", "#f0d7b4")
_BACKWARD_LINE = "#c08a45"


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is missing, so only the DOT source could be written."""


class _Unit:
    """One box of the drawing: a tensor (with its op ellipse), or a collapsed scope."""

    __slots__ = ("index", "tensor", "group", "members")

    def __init__(self, index: int, tensor: Tensor, group: str | None):
        self.index = index
        self.tensor = tensor  # for a collapsed scope: its output, the first member reached
        self.group = group
        self.members = [tensor]


def draw_graph(root: Tensor, show: Iterable[str] | str = ("shape",), rankdir: str = "TB",
               max_nodes: int | None = None, *, collapse: bool | str | Iterable[str] | None = None,
               ) -> graphviz.Digraph:
    """Draw the computation graph behind ``root`` as a ``graphviz.Digraph``.

    Parameters
    ----------
    root : Tensor or compile_program.Program
        Usually the loss; drawn green with a double border. A ``tg.compile`` program
        (``cf.trace(...)``) is drawn step by step with its buffers (``compile_viz.py``).
    show : iterable of {"shape", "data", "grad"}, or a comma-separated str
        What each tensor box shows besides its name: shape and dtype, the values (tensors of
        up to 12 entries, rounded; larger ones min and max), the gradient (after
        ``backward()``; "grad: not computed" before).
    rankdir : {"TB", "LR", "BT", "RL"}
        Graphviz direction: inputs at the top, root at the bottom for "TB" (the default:
        a loss's graph is deep and narrow, so it fits a page or a slide this way); inputs
        on the left, root on the right for "LR".
    max_nodes : int, optional
        The most tensors to draw (each computed tensor also gets its op ellipse). The rest
        is counted in one dashed "N nodes not shown" box. Default ``DEFAULT_MAX_NODES`` (500).
    collapse : True, str or iterable of str, optional
        Scopes to draw as a single box labelled with the scope's name, its op count and its
        output: ``True`` for every outermost scope, or names such as ``("l2",)``, matching a
        full "/" path or its last part. A name matching no scope of the graph is a
        ValueError listing the scopes it has.

    Returns
    -------
    graphviz.Digraph
        ``.source`` is the DOT text; Jupyter displays it inline.

    Examples
    --------
    >>> import tinygrad_lc as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> g = draw_graph((x * x).sum())
    >>> g.source.count("t2 -> op1")  # x (node t2) feeds the mul op twice
    2
    """
    if isinstance(root, Program):  # a tg.compile program (cf.trace(...)): its steps
        return draw_program(root, rankdir)
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: root must be a Tensor, got {type(root).__name__}")
    show = _check_show(show)
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {RANKDIRS}, got {rankdir!r}")
    if max_nodes is None:
        max_nodes = DEFAULT_MAX_NODES
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int | np.integer):
        raise TypeError(f"draw_graph: max_nodes must be an int or None, got {max_nodes!r}")
    if max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1, got {max_nodes}")
    units, edges, hidden, scopes = _walk(root, _grouper(collapse), int(max_nodes))
    _check_collapse(collapse, scopes)
    return _build(units, edges, hidden, int(max_nodes), root, show, rankdir)


def render(root: Tensor | graphviz.Digraph, path: str | Path, **kw: Any) -> Path:
    """Write the diagram of ``root`` to ``path``; the suffix picks the format.

    The DOT source is always written next to it (``loss.svg`` -> ``loss.dot``), also when
    Graphviz's ``dot`` program is missing; then ``GraphvizNotFoundError`` says how to get it.
    Any tensor or scope name can be drawn: the characters XML forbids (controls such as
    ``\\x1b``, lone surrogates) show as visible stand-ins.

    Parameters
    ----------
    root : Tensor or graphviz.Digraph
        A tensor is drawn with ``draw_graph(root, **kw)``; a Digraph is written as it is.
    path : str or Path
        Ends in .svg, .png, .pdf or .dot. Missing parent folders are created.
    **kw
        ``show``, ``rankdir``, ``max_nodes``, ``collapse`` as in ``draw_graph``.

    Returns
    -------
    Path
        The file written, under the exact name given (``G.DOT`` writes and returns ``G.DOT``;
        ``G.SVG`` writes ``G.SVG`` and its source ``G.dot``). Files are written atomically:
        a failure leaves no partial file.

    Examples
    --------
    >>> import tempfile, tinygrad_lc as tg
    >>> w = tg.Tensor([1.0], requires_grad=True, name="w")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     render((w * 2).sum(), f"{d}/graph.dot").read_text().startswith("digraph")
    True
    """
    path = Path(path)
    fmt = path.suffix.lower()
    if fmt not in FORMATS:
        raise ValueError(
            f"render: cannot tell the format of {str(path)!r}: the suffix must be one of "
            f"{', '.join(FORMATS)} (any case), got "
            f"{repr(path.suffix) if path.suffix else 'no suffix'}"
        )
    if isinstance(root, graphviz.Digraph):
        if kw:
            raise TypeError(f"render: options {sorted(kw)} apply to a Tensor, not to a Digraph")
        graph = root
    else:
        graph = draw_graph(root, **kw)
    try:
        source = graph.source.encode("utf-8")
    except UnicodeEncodeError as exc:  # only in a hand-made Digraph: draw_graph's labels are clean
        raise ValueError(
            f"render: the Digraph's DOT source holds {exc.object[exc.start:exc.end]!r} at "
            f"character {exc.start}, which UTF-8 cannot encode (a lone surrogate); nothing was "
            "written"
        ) from None
    # the file named is written under that exact name; its source goes next to it as .dot
    # (or is that file, for .dot/.DOT); both atomically, so a failure leaves no partial file
    dot_path = path if fmt == ".dot" else path.with_suffix(".dot")
    atomic_write(dot_path, source)
    if fmt == ".dot":
        return dot_path
    if fmt == ".png" and "dpi" not in graph.graph_attr:
        graph = graph.copy()
        graph.graph_attr["dpi"] = "150"  # crisp on slides; SVG and PDF scale anyway
    try:
        data = graph.pipe(format=fmt[1:], quiet=True)
    except graphviz.ExecutableNotFound as exc:
        raise GraphvizNotFoundError(
            f"render: Graphviz's `dot` program is not on PATH, so {path} was not drawn; "
            f"its DOT source is in {dot_path}. {_INSTALL}; then run this again or "
            f"`dot -T{fmt[1:]} {dot_path} -o {path}`"
        ) from exc
    except graphviz.CalledProcessError as exc:
        said = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(
            f"render: Graphviz's `dot` failed to draw {path} (exit status {exc.returncode}"
            f"{': ' + said[0] if said else ''}); its DOT source is in {dot_path}"
        ) from exc
    atomic_write(path, data)
    return path


# ---------------------------------------------------------------------- checking arguments
def _check_show(show) -> frozenset:
    if isinstance(show, str):
        show = [s.strip() for s in show.split(",") if s.strip()]
    try:
        items = frozenset(show)
    except TypeError:
        raise TypeError(
            f"draw_graph: show must be an iterable of str, got {type(show).__name__}"
        ) from None
    unknown = sorted(str(s) for s in items - set(SHOW_OPTIONS))
    if unknown:
        raise ValueError(f"draw_graph: show may hold {SHOW_OPTIONS}, got unknown {unknown}")
    return items


def _grouper(collapse) -> Callable[[str], str | None]:
    """Map a scope path to the collapsed scope containing it (outermost match), or None."""
    if collapse is None or collapse is False:
        return lambda scope: None
    if isinstance(collapse, str):
        collapse = [collapse]
    names = None if collapse is True else frozenset(collapse)
    if names is not None and not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"draw_graph: collapse must be True or scope names, got {collapse!r}")
    cache: dict[str, str | None] = {"": None}

    def group_of(scope: str) -> str | None:
        if scope not in cache:
            parts = scope.split("/")
            cache[scope] = next(
                ("/".join(parts[: i + 1]) for i in range(len(parts))
                 if names is None or parts[i] in names or "/".join(parts[: i + 1]) in names),
                None,
            )
        return cache[scope]

    return group_of


def _check_collapse(collapse, scopes: set[str]) -> None:
    """Every scope name given to ``collapse`` names a scope of the graph (a typo would
    silently draw the diagram uncollapsed)."""
    if collapse is None or isinstance(collapse, bool):
        return
    names = [collapse] if isinstance(collapse, str) else list(collapse)
    paths, parts = set(), set()  # every scope path with its outer paths; their last parts
    for path in scopes - {""}:
        names_in = path.split("/")
        parts.update(names_in)
        paths.update("/".join(names_in[: i + 1]) for i in range(len(names_in)))
    unknown = [n for n in names if n not in paths | parts]
    if unknown:
        have = ", ".join(sorted(paths)) or "none (no op ran inside a scope)"
        raise ValueError(f"draw_graph: collapse names {', '.join(map(repr, unknown))}, which "
                         f"{'is not a scope' if len(unknown) == 1 else 'are not scopes'} of "
                         f"this graph; its scopes are: {have}")


# ---------------------------------------------------------------------- walking the graph
def _walk(root: Tensor, group_of, limit: int):
    """Breadth-first from root: the drawn units, their edges, how many units were hidden,
    and the scope paths of every tensor reached.

    An edge (src, dst) runs from unit src into unit dst's op (or its collapsed box); src -1 is
    the "not shown" box. Tensor edges keep duplicates (``x * x``), edges of boxes do not.
    """
    units: list[_Unit] = []
    unit_of: dict[int, int] = {}  # id(tensor) -> unit index, -1 when past the limit
    group_index: dict[str, int] = {}
    hidden = 0
    edges: list[tuple[int, int]] = []
    seen_edges: set[tuple[int, int]] = set()
    scopes: set[str] = set()

    def reach(t: Tensor) -> None:
        nonlocal hidden
        scopes.add(t.scope or "")
        group = group_of(t.scope)
        if group is not None and group in group_index:
            idx = group_index[group]
            if idx >= 0:
                units[idx].members.append(t)
        else:
            idx = len(units) if len(units) < limit else -1
            if idx >= 0:
                units.append(_Unit(idx, t, group))
            else:
                hidden += 1
            if group is not None:
                group_index[group] = idx
        unit_of[id(t)] = idx

    reach(root)
    queue = deque([root])
    while queue:
        t = queue.popleft()
        idx = unit_of[id(t)]
        for p in t.parents:
            if id(p) not in unit_of:
                reach(p)
                queue.append(p)
            src = unit_of[id(p)]
            if idx < 0 or src == idx:
                continue
            if src >= 0 and units[idx].group is None:
                edges.append((src, idx))
            elif (src, idx) not in seen_edges:
                seen_edges.add((src, idx))
                edges.append((src, idx))
    return units, edges, hidden, scopes


# ---------------------------------------------------------------------- building the DOT
def _build(units, edges, hidden, limit, root, show, rankdir) -> graphviz.Digraph:
    g = graphviz.Digraph(
        "computation_graph",
        graph_attr={"rankdir": rankdir, "fontname": _FONT, "nodesep": "0.25",
                    "ranksep": "0.35", "bgcolor": "white", "pad": "0.15"},
        node_attr={"fontname": _FONT, "fontsize": "12", "shape": "box",
                   "style": "rounded,filled", "margin": "0.1,0.05"},
        edge_attr={"color": "#707070", "arrowsize": "0.6"},
    )
    clusters: dict[str, graphviz.Digraph] = {}

    def holder(path: str) -> graphviz.Digraph:
        if not path:
            return g
        parts = path.split("/")
        for depth, part in enumerate(parts):
            sub = "/".join(parts[: depth + 1])
            if sub not in clusters:
                back = parts[0] == "backward"  # a recorded backward: warm colours
                clusters[sub] = graphviz.Digraph(
                    f"cluster_{len(clusters)}",
                    graph_attr={"label": html_rows([(f"<B>{esc(part)}</B>", "")]),
                                "labeljust": "l", "style": "rounded,filled",
                                "fillcolor": (_BACKWARD_FILLS if back else
                                              _CLUSTER_FILLS)[min(depth, 2)],
                                "color": _BACKWARD_LINE if back else "#8e99c2",
                                "fontcolor": "#2c3a6b", "fontsize": "12"},
                )
        return clusters[path]

    lines: list[tuple[str, str, dict]] = []  # edges, written after the clusters
    incoming: dict[int, list[int]] = {}
    for src, dst in edges:
        incoming.setdefault(dst, []).append(src)
    for u in sorted(units, key=lambda u: u.tensor._seq):
        t, i = u.tensor, u.index
        if u.group is not None:
            target, node = holder(u.group.rpartition("/")[0]), f"g{i}"
            label = group_label(u.group, u.members, u.tensor, show)
            target.node(node, label, **_style(u, "group", root))
        else:
            target, node = holder(t.scope), f"t{i}"
            target.node(node, tensor_label(t, show), **_style(u, node_kind(t), root))
            if t.op is not None:
                bad = {"color": RED, "fontcolor": RED, "penwidth": "2"} if t._note else {}
                target.node(f"op{i}", op_label(t), **{**_OP_STYLE, **bad})
                lines.append((f"op{i}", node, {}))
                node = f"op{i}"
        for src in incoming.get(i, ()):
            if src < 0:
                lines.append(("more", node, {"style": "dashed"}))
            else:
                lines.append((f"g{src}" if units[src].group is not None else f"t{src}", node, {}))
    if hidden:
        g.node("more", html_rows([(f"<B>{hidden:,} node{'s' * (hidden != 1)} not shown</B>", ""),
                              (small_note(f"max_nodes={limit}"), "")]),
               shape="note", style="filled,dashed", fillcolor="#f4f4f4", color="#8a8a8a")
    # deepest clusters first, so each is complete when copied into its parent
    for path in sorted(clusters, key=lambda p: -p.count("/")):
        parent = path.rpartition("/")[0]
        (clusters[parent] if parent else g).subgraph(clusters[path])
    for tail, head, attrs in lines:
        g.edge(tail, head, **attrs)
    return g


def _style(u: _Unit, kind: str, root: Tensor) -> dict:
    style = dict(_STYLES[kind])
    if any(m is root for m in u.members):
        style.update(_STYLES["root"])
    if any(problems(m) for m in u.members):
        style.update(_STYLES["bad"])
    return style
