"""Tests for tinygrad_lc/viz (diagrams) and tinygrad_lc/cli/graph.py (`tinygrad-lc graph`).

Most tests read the DOT text of ``draw_graph`` (``g.source``) through the small parser below;
the rendering tests run Graphviz's real ``dot``.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import numpy as np
import pytest
from helpers import graph_of
from hypothesis import example, given
from hypothesis import strategies as st

import tinygrad_lc as tg
from tinygrad_lc import viz
from tinygrad_lc.cli import graph as graph_cmd
from tinygrad_lc.cli import main
from tinygrad_lc.viz import diagram as viz_diagram
from tinygrad_lc.viz import labels as viz_labels

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "diagrams.md"
SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_texts(path: Path) -> set[str]:
    """The text elements of an SVG, whitespace (also the drawing's no-break spaces) collapsed."""
    return {" ".join((t.text or "").split()) for t in ET.parse(path).iter(f"{SVG_NS}text")}


# ---------------------------------------------------------------------- reading DOT text
def _labels(text: str) -> list[str]:
    """The HTML-like labels (between the outer < >) of every ``label=<...>`` in ``text``."""
    out, start = [], text.find("label=<")
    while start >= 0:
        depth, i = 0, start + len("label=")
        for j in range(i, len(text)):
            depth += {"<": 1, ">": -1}.get(text[j], 0)
            if depth == 0:
                break
        out.append(text[i + 1 : j])
        start = text.find("label=<", j)
    return out


def _label_text(attrs: str) -> str:
    """The visible text of a node's HTML-like label: tags become spaces."""
    labels = _labels(attrs)
    inner = re.sub(r"<[^>]*>", " ", labels[0]) if labels else ""
    return html.unescape(" ".join(inner.split()))


def text_lines(dot_source: str) -> set[str]:
    """Every line of text the labels of a DOT source show, whitespace collapsed."""
    lines = set()
    for label in _labels(dot_source):
        for line in re.sub(r"<BR/>|</TD>", "\n", label).splitlines():
            line = " ".join(html.unescape(re.sub(r"<[^>]*>", "", line)).split())
            lines |= {line} if line else set()
    return lines


_KEYWORDS = ("graph", "node", "edge")


def parse(source: str) -> dict:
    """Nodes {id: (text, attrs, cluster path)}, edges [(tail, head, attrs)], clusters."""
    nodes, edges, clusters, stack = {}, [], {}, []
    for line in source.splitlines():
        line = line.strip()
        if m := re.match(r"subgraph (cluster_\d+) \{$", line):
            stack.append(m.group(1))
        elif line == "}" and stack:
            stack.pop()
        elif m := re.match(r"(\w+) -> (\w+)(?: \[(.*)\])?$", line):
            edges.append((m.group(1), m.group(2), m.group(3) or ""))
        elif line.startswith("graph [") and stack:
            clusters[stack[-1]] = (_label_text(line), "/".join(stack))
        elif (m := re.match(r"(\w+) \[(.*)\]$", line)) and m.group(1) not in _KEYWORDS:
            nodes[m.group(1)] = (_label_text(m.group(2)), m.group(2), "/".join(stack))
    return {"nodes": nodes, "edges": edges, "clusters": clusters}


def find(parsed: dict, text: str) -> str:
    """The id of the one node whose label text starts with the word ``text``."""
    hits = [k for k, (label, _, _) in parsed["nodes"].items() if label.split(" ")[0] == text]
    assert len(hits) == 1, f"{text!r} matches {hits}"
    return hits[0]


def attr(parsed: dict, node: str, name: str) -> str | None:
    m = re.search(rf'\b{name}=("[^"]*"|\S+)', parsed["nodes"][node][1])
    return m.group(1).strip('"') if m else None


# ---------------------------------------------------------------------- graphs to draw
def lecture_standin():
    """The lecture's loss, svm(X @ W + b) + 0.1 * l2(W), built from ops in our own scopes."""
    X = tg.Tensor([[56, 231, 24, 2], [10, 200, 120, 30], [200, 20, 40, 250]], name="X")
    W = tg.Tensor(np.arange(12.0).reshape(4, 3) / 10 - 0.5, requires_grad=True, name="W")
    b = tg.Tensor([1.1, 3.2, -1.2], requires_grad=True, name="b")
    y = np.array([0, 1, 2])
    scores = X @ W + b
    with tg.scope("svm_loss"):
        with tg.scope("margins"):
            margins = scores - scores[np.arange(3), y].reshape(3, 1) + 1.0
        data_loss = tg.maximum(0, margins).sum() / 3
    with tg.scope("l2"):
        penalty = (W * W).sum()
    return data_loss + 0.1 * penalty, (X, W, b)


def chain(n: int) -> tg.Tensor:
    t = tg.Tensor(1.0, requires_grad=True, name="start")
    for _ in range(n):
        t = -t
    return t


@pytest.fixture
def dot_program():
    if shutil.which("dot") is None:
        pytest.fail("Graphviz's `dot` is needed for rendering tests: apt-get install graphviz")


# ---------------------------------------------------------------------- nodes and edges
def test_square_draws_two_edges_from_the_input():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    p = parse(viz.draw_graph((x * x).sum()).source)
    assert len(p["nodes"]) == 5  # sum result, sum op, mul result, mul op, x
    assert len(p["edges"]) == 5
    xs, mul = find(p, "x"), find(p, "mul")
    assert [(t, h) for t, h, _ in p["edges"]].count((xs, mul)) == 2


def test_lecture_graph_has_tensor_and_op_nodes_edges_and_clusters():
    loss, _ = lecture_standin()
    p = parse(viz.draw_graph(loss).source)
    ops = sorted(label for k, (label, _, _) in p["nodes"].items() if k.startswith("op"))
    assert ops == sorted(["matmul", "add", "getitem", "reshape", "sub", "add", "maximum",
                          "sum", "div", "mul", "sum", "mul", "add"])
    tensors = [k for k in p["nodes"] if k.startswith("t")]
    assert len(tensors) == 13 + 3 + 4  # op results; X, W, b; constants 1.0, 0, 3, 0.1
    assert len(p["edges"]) == 13 + 2 * 9 + 4  # op -> result; inputs of 9 binary, 4 unary ops
    labels = {label for label, _ in p["clusters"].values()}
    assert labels == {"svm_loss", "margins", "l2"}
    paths = {path for _, path in p["clusters"].values()}
    assert len(paths) == 3 and any(path.count("/") == 1 for path in paths)  # margins nested
    margins_cluster = next(k for k, (label, _) in p["clusters"].items() if label == "margins")
    sub = next(k for k, (label, _, _) in p["nodes"].items() if label == "sub")
    assert p["nodes"][sub][2].endswith(margins_cluster)
    assert p["nodes"][find(p, "W")][2] == ""  # parameters live at the top level


def test_node_ids_follow_walk_order_so_sources_are_identical():
    first, _ = lecture_standin()
    second, _ = lecture_standin()
    assert viz.draw_graph(first).source == viz.draw_graph(second).source
    assert "t0 [" in viz.draw_graph(first).source  # the root is t0
    assert str(id(first)) not in viz.draw_graph(first).source


# ---------------------------------------------------------------------- labels
def test_labels_show_name_shape_and_dtype():
    loss, _ = lecture_standin()
    p = parse(viz.draw_graph(loss, show=("shape",)).source)
    assert p["nodes"][find(p, "W")][0] == "W (4, 3) float64"
    assert p["nodes"][find(p, "X")][0] == "X (3, 4) float64"
    assert p["nodes"]["t0"][0] == "() float64"
    p = parse(viz.draw_graph(loss, show=()).source)
    assert p["nodes"][find(p, "W")][0] == "W"


def test_constants_show_their_value_compactly_and_small():
    loss, _ = lecture_standin()
    p = parse(viz.draw_graph(loss, show=("shape", "data", "grad")).source)
    for value in ("1.0", "0.1", "3.0", "0.0"):
        node = find(p, value)
        assert p["nodes"][node][0] == value
        assert attr(p, node, "fontsize") == "10"


def test_data_shows_small_values_rounded_and_summarizes_large_ones():
    small = tg.Tensor([[1.23456, -2.0], [3.0, 1e-5]], requires_grad=True, name="A")
    big = tg.Tensor(np.linspace(-2.5, 7.25, 40).reshape(4, 10), requires_grad=True, name="B")
    p = parse(viz.draw_graph((small.sum() + big.sum()), show=("data",)).source)
    assert p["nodes"][find(p, "A")][0] == "A 1.235 -2 3 1e-05"
    assert p["nodes"][find(p, "B")][0] == "B (4, 10): min -2.5, max 7.25"
    p = parse(viz.draw_graph((small.sum() + big.sum()), show=("shape", "data")).source)
    assert p["nodes"][find(p, "B")][0] == "B (4, 10) float64 min -2.5, max 7.25"


def test_grad_not_computed_before_backward_and_shown_after():
    loss, (X, W, b) = lecture_standin()
    p = parse(viz.draw_graph(loss, show=("grad",)).source)
    assert p["nodes"][find(p, "W")][0] == "W grad: not computed"
    assert p["nodes"][find(p, "X")][0] == "X"  # inputs never get a gradient
    loss.backward()
    p = parse(viz.draw_graph(loss, show=("grad",)).source)
    assert p["nodes"][find(p, "b")][0] == "b grad: " + " ".join(f"{v:.4g}" for v in b.grad)
    assert p["nodes"]["t0"][0] == "grad: 1.0"
    assert "not computed" not in viz.draw_graph(loss, show="shape,grad").source


# ---------------------------------------------------------------------- colours
def test_parameters_inputs_constants_and_root_look_different():
    loss, _ = lecture_standin()
    p = parse(viz.draw_graph(loss).source)
    fill = {k: attr(p, k, "fillcolor") for k in p["nodes"]}
    W, b, X, c = find(p, "W"), find(p, "b"), find(p, "X"), find(p, "0.1")
    assert fill[W] == fill[b] == viz_diagram._STYLES["param"]["fillcolor"]
    assert len({fill[W], fill[X], fill[c], fill["t0"]}) == 4
    assert attr(p, "t0", "peripheries") == "2"
    assert [k for k in p["nodes"] if attr(p, k, "peripheries")] == ["t0"]


def test_tensors_holding_nan_or_inf_are_red_with_a_note():
    x = tg.Tensor([1.0, np.nan, np.inf], requires_grad=True, name="x")
    w = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="w")
    p = parse(viz.draw_graph((x * w).sum() + w.sum()).source)
    red = viz_diagram._STYLES["bad"]["fillcolor"]
    assert attr(p, find(p, "x"), "fillcolor") == red
    assert "holds 1 NaN, 1 inf" in p["nodes"][find(p, "x")][0]
    assert attr(p, find(p, "w"), "fillcolor") != red
    assert attr(p, "t0", "fillcolor") == red  # the sum is NaN too


def test_anomaly_note_colours_the_op_and_is_shown():
    x = tg.Tensor([0.0, 1.0], requires_grad=True, name="x")
    with pytest.raises(tg.AnomalyError) as info, tg.detect_anomaly(), \
            np.errstate(divide="ignore"):
        x.log()
    bad = info.value.tensor
    assert bad._note
    p = parse(viz.draw_graph(bad).source)
    assert bad._note.split(":")[0] in p["nodes"]["t0"][0]
    assert "forward output holds 1 inf" in p["nodes"]["t0"][0]
    assert attr(p, "op0", "color") == viz_labels.RED
    assert attr(p, "t0", "fillcolor") == viz_diagram._STYLES["bad"]["fillcolor"]


def test_note_without_nan_still_colours_the_node():
    w = tg.Tensor([1.0], requires_grad=True, name="w")
    y = w * 2
    y._note = "mul: flagged by hand"
    p = parse(viz.draw_graph(y).source)
    assert "flagged by hand" in p["nodes"]["t0"][0]
    assert attr(p, "t0", "fillcolor") == viz_diagram._STYLES["bad"]["fillcolor"]
    assert attr(p, find(p, "w"), "fillcolor") != viz_diagram._STYLES["bad"]["fillcolor"]


# ---------------------------------------------------------------------- collapsing scopes
def test_collapse_one_scope_by_name():
    loss, _ = lecture_standin()
    p = parse(viz.draw_graph(loss, collapse=("l2",)).source)
    assert {label for label, _ in p["clusters"].values()} == {"svm_loss", "margins"}
    box = find(p, "l2")
    assert p["nodes"][box][0] == "l2 2 ops () float64"
    W = find(p, "W")
    assert [(t, h) for t, h, _ in p["edges"]].count((W, box)) == 1  # W * W: one edge into a box
    assert sum(t == box for t, _, _ in p["edges"]) == 1  # its output feeds the mul by 0.1


def test_collapse_true_draws_every_outer_scope_as_one_box():
    loss, _ = lecture_standin()
    p = parse(viz.draw_graph(loss, collapse=True, show=("shape", "data")).source)
    assert p["clusters"] == {}
    assert p["nodes"][find(p, "svm_loss")][0].startswith("svm_loss 7 ops () float64")
    assert len(p["nodes"]) == 2 + 2 * 4 + 3 + 1  # 2 boxes, 4 ops and results, X W b, 0.1
    nested = viz.draw_graph(loss, collapse=("margins",))
    assert {label for label, _ in parse(nested.source)["clusters"].values()} == {"svm_loss",
                                                                                  "l2"}


def test_collapsed_box_holding_the_root_is_marked():
    w = tg.Tensor([1.0, 2.0], requires_grad=True, name="w")
    with tg.scope("l2"):
        out = (w * w).sum()
    p = parse(viz.draw_graph(out, collapse=True).source)
    assert attr(p, find(p, "l2"), "peripheries") == "2"


# ---------------------------------------------------------------------- max_nodes
def test_long_chain_is_truncated_with_a_count_node():
    root = chain(100_000)
    p = parse(viz.draw_graph(root, max_nodes=50).source)
    tensors = [k for k in p["nodes"] if re.fullmatch(r"t\d+", k)]
    assert len(tensors) == 50
    assert p["nodes"]["more"][0] == "99,951 nodes not shown max_nodes=50"
    assert [(t, h) for t, h, _ in p["edges"] if t == "more"] == [("more", "op49")]
    p = parse(viz.draw_graph(root).source)
    assert len([k for k in p["nodes"] if re.fullmatch(r"t\d+", k)]) == viz.DEFAULT_MAX_NODES


def test_truncation_counts_a_collapsed_scope_as_one_node():
    loss, _ = lecture_standin()
    p = parse(viz.draw_graph(loss, collapse=True, max_nodes=3).source)
    assert p["nodes"]["more"][0].startswith("7 nodes not shown")  # scores, X @ W, X, W, b, 0.1, l2
    assert sorted(h for t, h, _ in p["edges"] if t == "more") == [find(p, "svm_loss"), "op2"]
    assert all("dashed" in a for t, _, a in p["edges"] if t == "more")


def test_no_truncation_node_when_the_graph_fits():
    p = parse(viz.draw_graph(chain(5), max_nodes=6).source)
    assert "more" not in p["nodes"] and len(p["nodes"]) == 11
    p = parse(viz.draw_graph(chain(5), max_nodes=5).source)
    assert p["nodes"]["more"][0].startswith("1 node not shown")


@given(st.lists(st.tuples(st.sampled_from(["add", "mul", "neg", "sum"]),
                          st.integers(0, 50), st.integers(0, 50)), min_size=1, max_size=12))
def test_drawing_counts_every_tensor_and_every_input_edge(program):
    """Random DAGs: one node per tensor, one per op, one edge per op input plus one per op."""
    pool = [tg.Tensor([1.0, 2.0], requires_grad=True, name="a"), tg.Tensor([3.0, 4.0])]
    ops = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "neg": lambda a, b: -a,
           "sum": lambda a, b: a.sum() * b}
    for name, i, j in program:
        pool.append(ops[name](pool[i % len(pool)], pool[j % len(pool)]))
    root = pool[-1]
    tensors = graph_of(root)
    computed = [t for t in tensors if t.op]
    p = parse(viz.draw_graph(root).source)
    assert len(p["nodes"]) == len(tensors) + len(computed)
    assert len(p["edges"]) == sum(len(t.parents) + 1 for t in computed)


# ---------------------------------------------------------------------- argument checks
@pytest.mark.parametrize("kw, error, words", [
    ({"show": ("shape", "values")}, ValueError, "values"),
    ({"show": 3}, TypeError, "show"),
    ({"rankdir": "XY"}, ValueError, "rankdir"),
    ({"max_nodes": 0}, ValueError, "max_nodes"),
    ({"max_nodes": 2.5}, TypeError, "max_nodes"),
    ({"collapse": [1]}, TypeError, "collapse"),
])
def test_bad_arguments_say_what_was_expected(kw, error, words):
    with pytest.raises(error, match=f"draw_graph: .*{words}"):
        viz.draw_graph(chain(2), **kw)
    with pytest.raises(TypeError, match="draw_graph: root must be a Tensor, got ndarray"):
        viz.draw_graph(np.ones(3))


# ---------------------------------------------------------------------- rendering
def test_render_svg_holds_the_node_texts(tmp_path, dot_program):
    loss, _ = lecture_standin()
    loss.backward()
    out = viz.render(loss, tmp_path / "new" / "dir" / "loss.svg", show=("shape", "grad"))
    assert out == tmp_path / "new" / "dir" / "loss.svg"
    texts = svg_texts(out)
    assert {"W", "X", "matmul", "maximum", "(4, 3) float64", "svm_loss", "l2", "0.1"} <= texts
    assert "grad: not computed" not in texts and "grad: 1.0" in texts
    assert (tmp_path / "new" / "dir" / "loss.dot").read_text().startswith("digraph")


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_render_png_and_pdf(tmp_path, dot_program, suffix, magic):
    out = viz.render(chain(3), tmp_path / f"chain{suffix}")
    assert out.read_bytes().startswith(magic)


def test_render_dot_writes_the_source_only(tmp_path):
    root = chain(3)
    out = viz.render(root, tmp_path / "chain.dot", show=("data",))
    assert out.read_text() == viz.draw_graph(root, show=("data",)).source
    assert [f.name for f in tmp_path.iterdir()] == ["chain.dot"]


def test_render_rejects_an_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"render: .*\.svg, \.png, \.pdf, \.dot.*'\.jpg'"):
        viz.render(chain(1), tmp_path / "x.jpg")
    assert not any(tmp_path.iterdir())


def test_render_writes_a_digraph_as_it_is(tmp_path):
    g = viz.draw_graph(chain(2), rankdir="TB")
    g.attr(label="my title")
    assert viz.render(g, tmp_path / "g.dot").read_text() == g.source
    with pytest.raises(TypeError, match=r"render: options \['show'\] apply to a Tensor"):
        viz.render(g, tmp_path / "g.dot", show=("data",))
    with pytest.raises(ValueError, match="got no suffix"):
        viz.render(g, tmp_path / "g")


def test_render_without_dot_writes_the_source_and_says_how_to_install(tmp_path, monkeypatch):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(viz.GraphvizNotFoundError) as info:
        viz.render(chain(2), tmp_path / "out" / "loss.svg")
    assert isinstance(info.value, RuntimeError)
    assert isinstance(info.value.__cause__, graphviz.ExecutableNotFound)
    message = str(info.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz",
                 "https://graphviz.org/download/", str(tmp_path / "out" / "loss.dot")):
        assert hint in message
    assert (tmp_path / "out" / "loss.dot").read_text().startswith("digraph")
    assert not (tmp_path / "out" / "loss.svg").exists()


def test_digraph_displays_inline_in_jupyter(dot_program):
    bundle = viz.draw_graph(chain(2))._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]


# ---------------------------------------------------------------------- `tinygrad-lc graph`
@pytest.mark.parametrize("loss", tg.losses.LOSSES)
@pytest.mark.parametrize("reg", tg.regularizers.REGULARIZERS)
def test_graph_command_renders_the_lecture_loss(tmp_path, capsys, dot_program, loss, reg):
    out = tmp_path / f"{loss}_{reg}.svg"
    assert main(["graph", "--loss", loss, "--regularizer", reg, "--show", "shape,grad", "-o",
                 str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    texts = svg_texts(out)
    assert {"W", "b", "X", f"{loss}_loss", reg, "(4, 3) float64"} <= texts
    assert "grad: not computed" not in texts


def test_graph_command_collapse_rankdir_and_dot_output(tmp_path, capsys):
    out = tmp_path / "g.dot"
    assert main(["graph", "--collapse", "--rankdir", "LR", "-o", str(out)]) == 0
    p = parse(out.read_text())
    assert p["clusters"] == {} and "rankdir=LR" in out.read_text()
    assert {find(p, "svm_loss"), find(p, "l2")}
    assert main(["graph", "--collapse", "l2", "--regularizer", "l2", "-o", str(out)]) == 0
    assert {label for label, _ in parse(out.read_text())["clusters"].values()} >= {"svm_loss"}


def test_graph_command_help_and_bad_options(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["graph", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--loss", "--regularizer", "--reg", "--beta", "--show", "--collapse",
                   "--rankdir", "-o"):
        assert option in text
    for bad in (["--show", "shape,values"], ["-o", "graph.jpg"], ["--loss", "hinge"],
                ["--regularizer", "elastic_net", "--beta", "-1"]):
        with pytest.raises(SystemExit) as info:
            main(["graph", *bad])
        assert info.value.code == 2
    capsys.readouterr()
    out = str(tmp_path / "x.dot")
    assert main(["graph", "--max-nodes", "0", "-o", out]) == 2
    assert "max_nodes must be at least 1" in capsys.readouterr().err


def test_graph_command_without_dot_fails_with_install_hint(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["graph", "-o", str(tmp_path / "g.svg")]) == 1
    assert "apt-get install graphviz" in capsys.readouterr().err
    assert (tmp_path / "g.dot").exists()


# ---------------------------------------------------------------------- readable by default
def test_diagrams_run_top_to_bottom_by_default(tmp_path, capsys):
    import inspect

    assert inspect.signature(viz.draw_graph).parameters["rankdir"].default == "TB"
    assert viz.draw_graph(chain(2)).graph_attr["rankdir"] == "TB"
    out = tmp_path / "g.dot"
    assert main(["graph", "-o", str(out)]) == 0
    assert "rankdir=TB" in out.read_text()


def svg_size_px(path: Path) -> tuple[float, float]:
    """The width and height of an SVG drawn by dot, in CSS pixels (dot writes points)."""
    root = ET.parse(path).getroot()
    pt = [float(root.get(k).removesuffix("pt")) for k in ("width", "height")]
    return pt[0] * 4 / 3, pt[1] * 4 / 3


@pytest.mark.parametrize("svg", sorted((REPO / "docs" / "img").glob("*.svg")),
                         ids=lambda p: p.name)
def test_committed_diagrams_fit_a_1280_px_page(svg):
    """At natural size a README or docs diagram fits GitHub's 1280 px page column (about
    900 px of text width): no scrolling sideways, no shrinking to unreadable text."""
    width, height = svg_size_px(svg)
    assert width <= 900, f"{svg.name} is {width:.0f} px wide; draw it top to bottom"


# ---------------------------------------------------------------------- docs/diagrams.md
def test_refresh_docs_runs_the_blocks_from_the_folder_above_the_page(tmp_path):
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text("# t\n```python\nfrom pathlib import Path\nPath('made').write_text('1')\n"
                    "```\n```\nnot python\n```\n```python\nn = 2\n```\n")
    assert graph_cmd.python_blocks(page.read_text())[1].code == "n = 2\n"
    graph_cmd.refresh_docs(page)
    assert (tmp_path / "made").read_text() == "1"
    with pytest.raises(FileNotFoundError, match="refresh_docs: no"):
        graph_cmd.refresh_docs(tmp_path / "missing.md")


def test_docs_blocks_run_and_committed_images_are_up_to_date(tmp_path, monkeypatch,
                                                             dot_program):
    """Runs the python blocks in a temporary folder; their .dot output must match docs/img.

    Refresh the images with: python -m tinygrad_lc.cli.graph --refresh-docs
    """
    blocks = graph_cmd.python_blocks(DOCS.read_text(encoding="utf-8"))
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks:
        exec(compile(block.code, str(DOCS), "exec"), namespace)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.dot"))
    committed = sorted(p.relative_to(REPO) for p in (REPO / "docs" / "img").glob("*.dot"))
    assert made == committed, "run: python -m tinygrad_lc.cli.graph --refresh-docs"
    for rel in made:
        stale = (tmp_path / rel).read_text() != (REPO / rel).read_text()
        assert not stale, f"{rel} is stale: python -m tinygrad_lc.cli.graph --refresh-docs"
        svg = REPO / rel.with_suffix(".svg")
        assert svg_texts(svg) == text_lines((REPO / rel).read_text()), (
            f"{svg.name} was not drawn from {rel.name}")
        assert f"](img/{svg.name})" in DOCS.read_text(), f"docs/diagrams.md shows no {svg.name}"


# ---------------------------------------------------------------------- any name, any path
def named_loss(name: str, scope_name: str = "s") -> tg.Tensor:
    """A small graph whose parameter, input and scope carry the given names."""
    w = tg.Tensor([1.0, -2.0], requires_grad=True, name=name)
    x = tg.Tensor([3.0, 4.0], name=name + "x")
    with tg.scope(scope_name):
        return (w * x).sum()


@pytest.mark.parametrize("char, shown", [
    ("\x1b", "\u241b"), ("\x07", "\u2407"), ("\x00", "\u2400"), ("\x0b", "\u240b"),
    ("\ud800", "\ufffd"), ("\udfff", "\ufffd"), ("\ufffe", "\ufffd"), ("\uffff", "\ufffd"),
])
def test_names_with_characters_xml_forbids_render_with_a_visible_stand_in(tmp_path, dot_program,
                                                                          char, shown):
    root = named_loss(f"w{char}1", scope_name=f"scope{char}")
    path = viz.render(root, tmp_path / "g.svg")
    texts = svg_texts(path)  # valid XML: ElementTree parses it
    assert f"w{shown}1" in texts and f"scope{shown}" in texts
    source = (tmp_path / "g.dot").read_text(encoding="utf-8")
    assert char not in source and f"w{shown}1" in source


NAMES = st.text(st.one_of(
    st.characters(exclude_categories=[]),  # all of Unicode but surrogates, which are rare here
    st.characters(categories=["Cs"]),  # lone surrogates
    st.characters(max_codepoint=0x1f),  # C0 controls
    st.sampled_from("<>&\"'\\]{}\x7f\x85\u2028\ufffe\uffff"),
), max_size=12)


@given(name=NAMES, scope_name=NAMES.filter(lambda s: s and "/" not in s))
@example(name="\r", scope_name="\r")  # a label of a line break alone: a dot syntax error once
@example(name="\n", scope_name="\r\n")
@example(name="]", scope_name="]")  # a bare "]" in an HTML label: a dot syntax error once
@example(name="", scope_name="]")  # "<B>]</B>": dot's HTML-label lexer failed on it
@example(name="\t", scope_name="0")  # a tab alone in a bold name: a dot syntax error once
def test_any_tensor_or_scope_name_renders(name, scope_name):
    assert shutil.which("dot"), "Graphviz's `dot` is needed: apt-get install graphviz"
    with tempfile.TemporaryDirectory() as folder:
        path = viz.render(named_loss(name, scope_name), Path(folder) / "g.svg")
        ET.parse(path)  # dot wrote a well-formed SVG
        source = path.with_suffix(".dot").read_bytes().decode("utf-8")
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", source)


def test_a_hand_made_digraph_with_a_lone_surrogate_writes_nothing(tmp_path):
    g = graphviz.Digraph()
    g.node("a", "bad \ud800 label")
    with pytest.raises(ValueError, match=r"render: the Digraph's DOT source holds '\\ud800' "
                                         r"at character \d+.*nothing was written"):
        viz.render(g, tmp_path / "g.svg")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name, written", [
    ("G.DOT", ["G.DOT"]), ("G.Dot", ["G.Dot"]), ("G.SVG", ["G.SVG", "G.dot"]),
    ("G.Png", ["G.Png", "G.dot"]),
])
def test_render_writes_and_returns_the_name_given_in_any_case(tmp_path, dot_program, name,
                                                              written):
    path = viz.render(chain(2), tmp_path / name)
    assert path == tmp_path / name and path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(written)


def test_a_failing_dot_is_one_clear_error_and_leaves_the_source(tmp_path, monkeypatch):
    def failing_pipe(self, format=None, quiet=False, **kw):
        raise graphviz.CalledProcessError(1, ["dot"], stderr=b"Error: something broke\nmore\n")

    monkeypatch.setattr(graphviz.Digraph, "pipe", failing_pipe)
    with pytest.raises(RuntimeError, match=r"render: Graphviz's `dot` failed to draw .*g\.svg "
                                           r"\(exit status 1: Error: something broke\); its "
                                           r"DOT source is in .*g\.dot"):
        viz.render(chain(2), tmp_path / "g.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot"]  # no partial g.svg


@pytest.mark.parametrize("make, reason", [
    (lambda d: d / "afile" / "g.svg", "{afile} is a file, not a folder"),
    (lambda d: d / "afile" / "sub" / "g.svg", "{afile} is a file, not a folder"),
    (lambda d: d / "folder.svg", "Is a directory"),
    (lambda d: Path("/proc/no-such-graph.svg"), None),  # a folder nothing can be written to
])
def test_graph_command_with_an_unwritable_output_says_so_in_one_line(tmp_path, capsys,
                                                                     dot_program, make, reason):
    (tmp_path / "afile").write_text("a file\n")
    (tmp_path / "folder.svg").mkdir()
    output = make(tmp_path)
    if str(output).startswith("/proc") and not Path("/proc/self").exists():
        pytest.skip("no /proc on this system")
    rc = main(["graph", "-o", str(output)])
    out, err = capsys.readouterr()
    assert rc == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"tinygrad-lc graph: cannot write {output}: ")
    if reason:
        assert reason.format(afile=tmp_path / "afile") in err
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
