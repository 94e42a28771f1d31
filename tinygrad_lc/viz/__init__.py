"""Computation graphs as Graphviz diagrams: ``draw_graph`` builds them, ``render`` writes files.

The public face of ``tinygrad_lc.viz``; the code is in ``diagram.py``.
"""

from tinygrad_lc.viz.diagram import (
    DEFAULT_MAX_NODES,
    FORMATS,
    GraphvizNotFoundError,
    draw_graph,
    render,
)

__all__ = [
    "draw_graph", "render", "GraphvizNotFoundError", "DEFAULT_MAX_NODES", "FORMATS"
]
