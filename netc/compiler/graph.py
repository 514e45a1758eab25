"""The expanded model: a flat graph of layer calls, in topological order.

``expand`` produces it (blocks inlined, repeats unrolled, ``if`` decided,
parameters bound); ``check`` binds each node's arguments against the catalog
and attaches shapes and parameter counts; ``ir`` serializes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netc.compiler.evaluate import CallValue
from netc.diagnostics import Span


@dataclass
class Node:
    id: str
    layer: str | None            # catalog name; "Input" for inputs; None after an error
    inputs: list[str]
    span: Span                   # the layer's name token (or the input's name)
    line: int                    # the line of the statement that made it
    call: CallValue | None = None
    label: str | None = None     # a model-level label: the Keras layer name
    scope: tuple[str, ...] = ()  # enclosing blocks, residuals and branches, outermost first
    role: str | None = None      # "residual" for the Add a residual makes, "branch" for a branch merge
    # set by check:
    args: dict[str, Any] = field(default_factory=dict)
    shape: tuple | None = None
    trainable_params: int = 0
    non_trainable_params: int = 0
    # one id per ``scope`` entry, unique in the graph: tells two calls of the same block apart (set by expand)
    scope_ids: tuple[int, ...] = ()

    @property
    def params(self) -> int:
        return self.trainable_params + self.non_trainable_params


@dataclass
class Graph:
    model: str
    file: str
    params: dict[str, Any]
    data_format: str
    nodes: list[Node]            # inputs first, then layers in topological order
    outputs: list[tuple[str, str | None]]  # (node id, output name)

    @property
    def inputs(self) -> list[Node]:
        return [nd for nd in self.nodes if nd.layer == "Input"]

    def by_id(self) -> dict[str, Node]:
        return {nd.id: nd for nd in self.nodes}

    def reachable(self) -> set[str]:
        """The ids of nodes some output depends on (found without recursion)."""
        by_id = self.by_id()
        seen: set[str] = set()
        stack = [node_id for node_id, _ in self.outputs]
        while stack:
            node_id = stack.pop()
            if node_id in seen or node_id not in by_id:
                continue
            seen.add(node_id)
            stack.extend(by_id[node_id].inputs)
        return seen
