"""A checked model as a Graphviz diagram (``netc graph``), without importing any framework.

Each layer is a node showing its layer, its name, its output shape and its
parameter count; each block call, residual (with its shortcut) and branch
(with its paths) is a cluster around its layers, the Add of a residual and
the merge of a branch inside the cluster they close. The DOT text is written
here, with every identifier generated (``n12``, ``cluster_7``) and every
label quoted and escaped, so nothing from the spec reaches Graphviz
unquoted. ``render`` runs the ``dot`` binary for SVG, PNG or PDF.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from netc.catalog import LAYERS
from netc.compiler.graph import Graph, Node
from netc.render import shape_text

FORMATS = ("svg", "png", "pdf")
FONT = "Helvetica"
CATEGORY_COLORS = {
    "convolution": "#dbe9f6", "pooling": "#e3f1df", "normalization": "#fdf0d5", "core": "#eeeeee",
    "merging": "#f6dbe6", "activations": "#fff8c4", "recurrent": "#e6def5", "attention": "#e6def5",
    "regularization": "#f2f2f2", "reshaping": "#f2f2f2", "preprocessing": "#f2f2f2",
}
CLUSTER_STYLES = {  # kind -> (style, border color, background)
    "block": ("rounded,dashed", "#4a78b0", "#f7faff"),
    "residual": ("rounded", "#3f8f4f", "#f5fbf5"),
    "shortcut": ("rounded,dotted", "#3f8f4f", "#ffffff"),
    "branch": ("rounded", "#b5651d", "#fffaf4"),
    "path": ("rounded,dotted", "#b5651d", "#ffffff"),
}


class DotError(Exception):
    """The diagram cannot be drawn: Graphviz is missing or failed."""


@dataclass
class _Cluster:
    key: tuple
    label: str
    kind: str
    items: list = field(default_factory=list)     # node ids and clusters, in the graph's order
    children: dict = field(default_factory=dict)  # key -> _Cluster


def quote(text: str) -> str:
    """A DOT double-quoted string; newlines become centered line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _kind(entry: str) -> str:
    return entry.split()[0] if entry.split() else "block"


def _label(node: Node, outputs: dict[str, str | None]) -> str:
    if node.layer == "Input":
        head = f"Input {node.label}"
    else:
        head = node.layer or "?"
        if node.label:
            head += f"  {node.label}"
    lines = [head, shape_text(node.shape)]
    if node.layer != "Input":
        lines.append(f"{node.params:,} param{'s' * (node.params != 1)}")
    if node.id in outputs:
        name = outputs[node.id]
        lines.append("output" + (f" {name}" if name and name != node.label else ""))
    return "\n".join(lines)


def _node_attributes(node: Node, outputs: dict[str, str | None]) -> str:
    attributes = [f"label={quote(_label(node, outputs))}"]
    if node.layer == "Input":
        attributes += ['shape="box"', 'style="rounded,filled,bold"', 'fillcolor="#d9f2ec"']
    else:
        spec = LAYERS.get(node.layer or "")
        color = CATEGORY_COLORS.get(spec.category if spec else "", "#eeeeee")
        attributes.append(f"fillcolor={quote(color)}")
    if node.id in outputs:
        attributes.append("penwidth=2")
    return ", ".join(attributes)


def _cluster_paths(graph: Graph) -> dict[str, list[tuple[tuple, str, str]]]:
    """Each node's clusters, outermost first, as (key, label, kind).

    A residual's Add joins the residual's cluster; a branch becomes a cluster
    around its paths and its merge.
    """
    by_id = graph.by_id()
    branch_of_path: dict[int, str] = {}  # path scope id -> the branch's merge node
    residual_of_add: dict[str, int] = {}  # Add node -> the residual's scope id
    for node in graph.nodes:
        depth = len(node.scope)
        for i in node.inputs:
            source = by_id.get(i)
            if source is None or len(source.scope_ids) <= depth or source.scope_ids[:depth] != node.scope_ids:
                continue
            entry = source.scope[depth]
            if node.role == "branch" and entry.startswith("branch path"):
                branch_of_path[source.scope_ids[depth]] = node.id
            elif node.role == "residual" and entry == "residual":
                residual_of_add[node.id] = source.scope_ids[depth]
    paths: dict[str, list[tuple[tuple, str, str]]] = {}
    for node in graph.nodes:
        path: list[tuple[tuple, str, str]] = []
        for entry, scope_id in zip(node.scope, node.scope_ids):
            if entry.startswith("branch path"):
                merge = branch_of_path.get(scope_id)
                if merge is not None:
                    path.append((("branch", merge), f"branch {by_id[merge].layer}", "branch"))
                path.append((("scope", scope_id), "path " + entry.rsplit(" ", 1)[-1], "path"))
            else:
                path.append((("scope", scope_id), entry, _kind(entry)))
        if node.role == "residual" and node.id in residual_of_add:
            path.append((("scope", residual_of_add[node.id]), "residual", "residual"))
        elif node.role == "branch" and node.id in branch_of_path.values():
            path.append((("branch", node.id), f"branch {node.layer}", "branch"))
        paths[node.id] = path
    return paths


def graph_dot(graph: Graph, title: str | None = None) -> str:
    """The DOT text of a checked graph (no errors)."""
    outputs = {node_id: name for node_id, name in graph.outputs}
    paths = _cluster_paths(graph)
    root = _Cluster((), "", "root")
    for node in graph.nodes:
        cluster = root
        for key, label, kind in paths[node.id]:
            if key not in cluster.children:
                cluster.children[key] = _Cluster(key, label, kind)
                cluster.items.append(cluster.children[key])
            cluster = cluster.children[key]
        cluster.items.append(node.id)
    out = [f"digraph {quote(graph.model)} {{"]
    total = sum(nd.params for nd in graph.nodes)
    caption = title or f"{graph.model}: {total:,} params"
    out.append(f'  graph [rankdir="TB", fontname={quote(FONT)}, fontsize=12, label={quote(caption)}, '
               'labelloc="t", nodesep=0.25, ranksep=0.3];')
    out.append(f'  node [shape="box", style="rounded,filled", fontname={quote(FONT)}, fontsize=10, '
               'color="#555555"];')
    out.append('  edge [color="#666666", arrowsize=0.6];')
    by_id = graph.by_id()
    counter = [0]

    def write(cluster: _Cluster, depth: int) -> None:
        pad = "  " * depth
        for child in cluster.items:
            if isinstance(child, str):
                out.append(f"{pad}{child} [{_node_attributes(by_id[child], outputs)}];")
                continue
            counter[0] += 1
            style, color, fill = CLUSTER_STYLES.get(child.kind, CLUSTER_STYLES["block"])
            out.append(f"{pad}subgraph cluster_{counter[0]} {{")
            out.append(f"{pad}  label={quote(child.label)}; style={quote(style + ',filled')}; "
                       f"color={quote(color)}; fillcolor={quote(fill)}; fontsize=10;")
            write(child, depth + 1)
            out.append(f"{pad}}}")

    write(root, 1)
    for node in graph.nodes:
        for i, source in enumerate(node.inputs):
            if source in by_id and not (i and source == node.inputs[i - 1]):
                out.append(f"  {source} -> {node.id};")
    out.append("}")
    return "\n".join(out) + "\n"


def dot_binary() -> str | None:
    return shutil.which("dot")


def render(dot_text: str, path: Path, fmt: str) -> None:
    """Write ``dot_text`` drawn as ``fmt`` (svg, png, pdf) to ``path`` with Graphviz's dot."""
    if fmt not in FORMATS:
        raise DotError(f"cannot draw {fmt!r}; netc graph writes .dot, " + ", ".join(f".{f}" for f in FORMATS))
    binary = dot_binary()
    if binary is None:
        raise DotError("Graphviz's 'dot' is not installed (Debian/Ubuntu: apt-get install graphviz); "
                       "write a .dot file instead")
    try:
        done = subprocess.run([binary, f"-T{fmt}", "-o", str(path)], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise DotError("Graphviz's dot took more than 5 minutes") from None
    if done.returncode != 0:
        raise DotError("Graphviz's dot failed: " + done.stderr.decode("utf-8", "replace").strip()[:500])
