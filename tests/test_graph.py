"""``netc graph``: Graphviz diagrams of every spec's models, drawn without importing a framework.

The DOT text is checked structurally for every model (balanced braces, one
declaration per layer, every edge between declared nodes, clusters for the
blocks, residuals and branches) and, where Graphviz's ``dot`` is installed,
drawn as SVG.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, SPECS, spec_model_ids, spec_models
from netc.cli import main
from netc.compiler.pipeline import model_ir
from netc.graph_dot import graph_dot, quote

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed (apt-get install graphviz)")

QUOTED = re.compile(r'"(?:\\.|[^"\\])*"')
NODE = re.compile(r"^\s*(n\d+) \[(.*)\];$")
EDGE = re.compile(r"^\s*(n\d+) -> (n\d+);$")


MODELS = spec_models()
IDS = spec_model_ids(MODELS)


def checked_graph(path, model, params=None):
    ir, graph, diagnostics = model_ir(path.read_text(encoding="utf-8"), str(path), model, params or {})
    assert ir is not None, [d.message for d in diagnostics]
    return graph


def structure(dot: str) -> tuple[set[str], list[tuple[str, str]], list[str]]:
    """(declared nodes, edges, cluster labels) of DOT text; asserts it is well formed."""
    assert dot.startswith("digraph ") and dot.rstrip().endswith("}")
    depth = 0
    nodes: set[str] = set()
    edges: list[tuple[str, str]] = []
    clusters: list[str] = []
    for line in dot.splitlines():
        bare = QUOTED.sub('""', line)
        assert '"' not in bare.replace('""', ""), f"unbalanced quotes: {line}"
        depth += bare.count("{") - bare.count("}")
        assert depth >= 0, f"a brace closes nothing: {line}"
        if match := NODE.match(line):
            assert match.group(1) not in nodes, f"{match.group(1)} declared twice"
            nodes.add(match.group(1))
        elif match := EDGE.match(line):
            edges.append((match.group(1), match.group(2)))
        elif line.strip().startswith("label=") and "subgraph" not in line:
            clusters.append(QUOTED.findall(line)[0].strip('"'))
    assert depth == 0, "unbalanced braces"
    for a, b in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} between undeclared nodes"
    return nodes, edges, clusters


@pytest.mark.parametrize(("path", "model"), MODELS, ids=IDS)
def test_dot_is_valid_for_every_model(path, model, tmp_path):
    graph = checked_graph(path, model)
    dot = graph_dot(graph)
    nodes, edges, clusters = structure(dot)
    assert nodes == {node.id for node in graph.nodes}
    assert len(edges) >= len(graph.nodes) - len(graph.inputs)  # every layer is reached
    scoped = {entry.split()[0] for node in graph.nodes for entry in node.scope}
    for kind in scoped:  # "block", "residual", "shortcut", "branch"
        assert any(c.startswith(kind) or (kind == "branch" and c.startswith("path")) for c in clusters), kind
    if HAS_DOT:
        done = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "<svg" in done.stdout


def test_nodes_show_layer_name_shape_and_params():
    graph = checked_graph(SPECS / "seed" / "tickets.net", None)
    dot = graph_dot(graph)
    assert 'n0 [label="Input title\\n(None, None)"' in dot
    assert 'label="LSTM  title_features\\n(None, 128)\\n98,816 params"' in dot
    assert 'label="Dense  priority\\n(None, 1)\\n173 params\\noutput"' in dot


def test_each_block_call_residual_and_branch_is_its_own_cluster():
    dot = graph_dot(checked_graph(SPECS / "seed" / "residual_branch.net", None))
    _, _, clusters = structure(dot)
    assert clusters.count("block sep_bn") == 2  # two calls, two clusters
    assert clusters.count("residual") == 2 and clusters.count("shortcut") == 1
    assert clusters.count("branch Concatenate") == 2
    assert clusters.count("path 1") == 1 and clusters.count("path 2") == 2 and clusters.count("path 3") == 1
    # a residual's Add and a branch's merge sit in the cluster they close
    assert clusters_of(dot)["n7"] == ["residual"]
    assert clusters_of(dot)["n12"] == ["residual"]
    assert clusters_of(dot)["n11"] == ["residual", "shortcut"]
    assert clusters_of(dot)["n18"] == ["branch Concatenate"]
    assert clusters_of(dot)["n15"] == ["branch Concatenate", "path 2"]
    assert clusters_of(dot)["n2"] == ["residual", "block sep_bn"]
    assert clusters_of(dot)["n21"] == []


def clusters_of(dot: str) -> dict[str, list[str]]:
    """Each node's enclosing cluster labels, outermost first."""
    stack: list[str | None] = []
    found: dict[str, list[str]] = {}
    for line in dot.splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("subgraph"):
            stack.append(None)
        elif stripped == "}":
            stack.pop() if stack else None
        elif stripped.startswith("label=") and stack and stack[-1] is None:
            stack[-1] = QUOTED.findall(stripped)[0].strip('"')
        elif match := NODE.match(line):
            found[match.group(1)] = [label for label in stack if label]
    return found


def test_labels_are_quoted():
    assert quote('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


@needs_dot
def test_cli_graph_writes_dot_svg_and_png(tmp_path, capsys):
    spec = str(SPECS / "seed" / "blocks.net")
    assert main(["graph", spec, "--model", "SepNet"]) == 0
    out, _ = capsys.readouterr()
    structure(out)
    for suffix in ("dot", "svg", "png"):
        target = tmp_path / f"sepnet.{suffix}"
        assert main(["graph", spec, "--model", "SepNet", "--param", "num_class=3", "-o", str(target)]) == 0
        assert target.stat().st_size > 0
    assert (tmp_path / "sepnet.svg").read_text(encoding="utf-8").lstrip().startswith(("<?xml", "<svg"))
    assert (tmp_path / "sepnet.png").read_bytes().startswith(b"\x89PNG")
    assert "(None, 3)" in (tmp_path / "sepnet.dot").read_text(encoding="utf-8")


def test_cli_graph_usage_and_spec_errors(tmp_path, capsys):
    spec = str(SPECS / "seed" / "tunable.net")
    assert main(["graph", spec, "-o", str(tmp_path / "x.jpg")]) == 2
    broken = tmp_path / "broken.net"
    broken.write_text("model M { input x: (4,) Dense(widht) }")
    assert main(["graph", str(broken), "-o", str(tmp_path / "x.dot")]) == 1
    assert not (tmp_path / "x.dot").exists()
    capsys.readouterr()


def test_graph_imports_no_framework(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from netc.cli import main
        assert main(["graph", {str(SPECS / "applications" / "resnet50.net")!r}, "-o", {str(tmp_path / "r.dot")!r}]) == 0
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax", "torch"))
        assert not heavy, heavy
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "r.dot").stat().st_size > 0
