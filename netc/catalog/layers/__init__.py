"""The layer catalog, one module per family of Keras layers.

``LAYERS`` maps each layer name, spelt as in ``keras.layers``, to its spec.
Lambda is deliberately absent: a spec can never name Python code.
"""
from __future__ import annotations

from netc.catalog.spec import LayerSpec
from netc.catalog.layers import (
    activations, attention, convolution, core, merging, normalization, pooling, preprocessing,
    recurrent, regularization, reshaping,
)

FAMILIES = (core, convolution, pooling, normalization, regularization, reshaping, merging, activations,
            recurrent, attention, preprocessing)

LAYERS: dict[str, LayerSpec] = {}
for _module in FAMILIES:
    for _spec in _module.SPECS:
        if _spec.name in LAYERS:
            raise ValueError(f"layer {_spec.name} is declared twice in the catalog")
        LAYERS[_spec.name] = _spec
