"""Stage 4: the checked graph -> the intermediate form, plain JSON.

The IR is the expanded spec: blocks inlined, repeats unrolled, parameters
bound, shapes attached. It validates against ``netc/grammar/ir.schema.json``
and is all the Keras builder reads. Layer arguments are encoded so JSON keeps
their Python type: a tuple is a JSON array, a list is ``{"list": [...]}``, a
nested layer is ``{"layer": NAME, "args": {...}}``.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from netc.catalog.types import LayerValue, describe_value
from netc.compiler.graph import Graph

IR_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "grammar" / "ir.schema.json"


def encode_value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [encode_value(v) for v in value]
    if isinstance(value, list):
        return {"list": [encode_value(v) for v in value]}
    if isinstance(value, LayerValue):
        return {"layer": value.name, "args": {k: encode_value(value.args[k]) for k in value.explicit}}
    return value


def encode_param(value: Any) -> Any:
    """A model parameter for the record: plain data as is; a call or ``channels`` as the spec spells it."""
    if isinstance(value, (tuple, list)):
        return encode_value(type(value)(encode_param(v) for v in value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return describe_value(value)


def decode_value(value: Any) -> Any:
    """The inverse of ``encode_value``, giving LayerValue for nested layers (the builder makes them)."""
    if isinstance(value, list):
        return tuple(decode_value(v) for v in value)
    if isinstance(value, dict) and "list" in value:
        return [decode_value(v) for v in value["list"]]
    if isinstance(value, dict) and "layer" in value:
        args = {k: decode_value(v) for k, v in value["args"].items()}
        return LayerValue(value["layer"], args, tuple(args))
    return value


def _dims(shape: tuple | None) -> list | None:
    return None if shape is None else list(shape)


def to_ir(graph: Graph) -> dict:
    """The IR of a checked graph without errors."""
    inputs, layers = [], []
    for node in graph.nodes:
        if node.layer == "Input":
            inputs.append({"id": node.id, "name": node.label, "shape": _dims(node.shape), "line": node.line})
            continue
        layers.append({
            "id": node.id,
            "layer": node.layer,
            "args": {k: encode_value(v) for k, v in node.args.items()},
            "inputs": list(node.inputs),
            "name": node.label,
            "output_shape": _dims(node.shape),
            "trainable_params": node.trainable_params,
            "non_trainable_params": node.non_trainable_params,
            "line": node.line,
            "column": node.span.column,
            "scope": list(node.scope),
            "role": node.role,
        })
    by_id = graph.by_id()
    trainable = sum(nd.trainable_params for nd in graph.nodes)
    non_trainable = sum(nd.non_trainable_params for nd in graph.nodes)
    return {
        "netc_ir": IR_VERSION,
        "model": graph.model,
        "file": graph.file,
        "params": {k: encode_param(v) for k, v in graph.params.items()},
        "data_format": graph.data_format,
        "inputs": inputs,
        "layers": layers,
        "outputs": [{"id": i, "name": name, "shape": _dims(by_id[i].shape)} for i, name in graph.outputs],
        "total_params": trainable + non_trainable,
        "trainable_params": trainable,
        "non_trainable_params": non_trainable,
    }


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(ir: dict) -> list[str]:
    """Schema violations of ``ir`` (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(ir)]
