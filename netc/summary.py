"""The static summary of a model: per-layer output shapes and parameter counts, no framework."""
from __future__ import annotations

from netc.compiler.graph import Graph


def summary_dict(graph: Graph) -> dict:
    """The JSON form of ``netc summary``; ``None`` for an unknown dimension."""
    layers = [nd for nd in graph.nodes if nd.layer != "Input"]
    trainable = sum(nd.trainable_params for nd in layers)
    non_trainable = sum(nd.non_trainable_params for nd in layers)
    by_id = graph.by_id()
    return {
        "model": graph.model,
        "params": trainable + non_trainable,
        "trainable_params": trainable,
        "non_trainable_params": non_trainable,
        "inputs": [list(nd.shape) for nd in graph.inputs],
        "outputs": [list(by_id[i].shape) for i, _ in graph.outputs],
        "layers": [{"line": nd.line, "layer": nd.layer, "output_shape": list(nd.shape), "params": nd.params}
                   for nd in layers],
    }
