"""Stage 5: the IR -> a Keras 3 functional model.

The only stage that imports Keras. It reads nothing but the IR, and it
creates only layers that netc's catalog names: the class is found through
the catalog entry, never through a name taken from the spec.
"""
from __future__ import annotations

from typing import Any

from netc.catalog import LAYERS
from netc.catalog.types import LayerValue
from netc.compiler.ir import decode_value


def _keras_class(layer: str):
    import keras

    spec = LAYERS[layer]  # KeyError for anything outside the catalog: the IR was not made by netc
    return getattr(keras.layers, spec.keras_name or spec.name)


def _instantiate(value: Any) -> Any:
    if isinstance(value, LayerValue):
        return make_layer(value.name, value.args)
    return value


def make_layer(layer: str, args: dict[str, Any], name: str | None = None):
    kwargs = {k: _instantiate(v) for k, v in args.items()}
    if name is not None:
        kwargs["name"] = name
    return _keras_class(layer)(**kwargs)


def _call(node: dict, layer, tensors: list):
    how = LAYERS[node["layer"]].inputs
    if how == "many":
        return layer(tensors)
    if how == "attention":
        query = tensors[0]
        value = tensors[1] if len(tensors) > 1 else query
        key = tensors[2] if len(tensors) > 2 else None
        return layer(query=query, value=value, key=key)
    return layer(tensors[0])


def build_model(ir: dict):
    """A ``keras.Model`` equal to the IR's model."""
    import keras

    tensors: dict[str, Any] = {}
    for spec in ir["inputs"]:
        shape = tuple(spec["shape"])
        tensors[spec["id"]] = keras.Input(shape=shape, name=spec["name"])
    for node in ir["layers"]:
        args = {k: decode_value(v) for k, v in node["args"].items()}
        layer = make_layer(node["layer"], args, node["name"])
        tensors[node["id"]] = _call(node, layer, [tensors[i] for i in node["inputs"]])
    inputs = [tensors[spec["id"]] for spec in ir["inputs"]]
    outputs = [tensors[out["id"]] for out in ir["outputs"]]
    return keras.Model(inputs=inputs[0] if len(inputs) == 1 else inputs,
                       outputs=outputs[0] if len(outputs) == 1 else outputs, name=ir["model"])
