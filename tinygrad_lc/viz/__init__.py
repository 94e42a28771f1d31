"""Computation graphs as Graphviz diagrams: ``draw_graph`` builds them, ``render`` writes files.

The public face of ``tinygrad_lc.viz``; the code is in ``diagram.py``.
"""

from tinygrad_lc.viz.diagram import (  # noqa: F401  (re-exported)
    DEFAULT_MAX_NODES,
    FORMATS,
    RANKDIRS,
    SHOW_OPTIONS,
    SMALL,
    GraphvizNotFoundError,
    Program,
    Tensor,
    atomic_write,
    draw_graph,
    draw_program,
    render,
)

__all__ = ['draw_graph', 'render', 'GraphvizNotFoundError', 'DEFAULT_MAX_NODES', 'FORMATS']
