"""A ``tg.compile`` program as a Graphviz diagram (``viz.draw_graph(program)`` calls this).

Inputs are boxes (blue: their gradient is an output; grey: data), each step a yellow ellipse
named after its function with its result's shape and, when it writes into a reused buffer,
``buf<k>``; edges carry values from the step (or input) that makes them to the steps that read
them. The forward and the backward are two clusters; the outputs are green boxes.

>>> import numpy as np, tinygrad_lc as tg
>>> f = tg.compile(lambda w, x: (w * x).sum())
>>> p = f.trace(tg.Tensor([1.0, 2.0], requires_grad=True), np.array([3.0, 4.0]))
>>> "cluster_forward" in draw_program(p).source
True
"""

from __future__ import annotations

import graphviz

from tinygrad_lc.compile.program import Program, refs_in

__all__ = ["draw_program"]

_FONT = "Helvetica,Arial,sans-serif"
_BOX = {"shape": "box", "style": "rounded,filled", "fontsize": "11"}
_STEP = {"shape": "ellipse", "style": "filled", "fillcolor": "#fff1bf", "color": "#c49a1a",
         "fontsize": "10", "margin": "0.05,0.02"}
_CHECK = {**_STEP, "fillcolor": "#f1f1f1", "color": "#8a8a8a"}


def _shape(p: Program, vid: int) -> str:
    v = p.values[vid]
    return "" if v.shape is None else f"{v.shape} {v.dtype}"


def draw_program(p: Program, rankdir: str = "LR") -> graphviz.Digraph:
    """The program's dataflow as a ``graphviz.Digraph`` (see the module docstring)."""
    g = graphviz.Digraph(name=f"program_{p.name}", graph_attr={
        "rankdir": rankdir, "fontname": _FONT, "label": f"tg.compile program of {p.name}",
        "labelloc": "t"}, node_attr={"fontname": _FONT}, edge_attr={"color": "#6b6b6b"})
    made: dict = {}  # value id -> the node that makes it
    for k, vid in enumerate(p.inputs):
        grad = k in p.grad_inputs
        g.node(f"v{vid}", f"{p.values[vid].name}\n{_shape(p, vid)}", **_BOX,
               fillcolor="#d4e4f7" if grad else "#ececec", color="#2f6aa7" if grad else "#8a8a8a")
        made[vid] = f"v{vid}"
    if p.seed is not None:
        g.node(f"v{p.seed}", "seed\n(upstream gradient)", **_BOX, fillcolor="#ececec")
        made[p.seed] = f"v{p.seed}"
    for title, steps, offset in (("forward", p.forward, 0),
                                 ("backward", p.backward, len(p.forward))):
        with g.subgraph(name=f"cluster_{title}", graph_attr={  # pyright: ignore[reportOptionalContextManager]
                "label": title, "style": "rounded,filled",
                "fillcolor": "#f3f5fb" if title == "forward" else "#fbf3ee"}) as c:
            for i, s in enumerate(steps):
                node = f"s{offset + i}"
                label = s.name if s.out is None else f"%{s.out} {s.name}\n{_shape(p, s.out)}"
                if s.out in p.buffers:
                    label += f"  buf{p.buffers[s.out]}"
                c.node(node, label, **(_CHECK if s.out is None else _STEP))
                for r in refs_in((s.args, s.kw)):
                    if r in made:
                        g.edge(made[r], node)
                if s.out is not None:
                    made[s.out] = node
    outs = [("loss", p.outputs["loss"])] + [(f"aux {k}", a)
                                            for k, a in enumerate(p.outputs["aux"])]
    outs += [(f"grad {p.values[p.inputs[k]].name}", v)
             for k, v in zip(p.grad_inputs, p.outputs["grads"])]
    for name, vid in outs:
        if vid is None:
            continue
        g.node(f"out_{name}", name, **_BOX, fillcolor="#d5ecd0", color="#2e7d32")
        if vid in made:
            g.edge(made[vid], f"out_{name}")
    return g
