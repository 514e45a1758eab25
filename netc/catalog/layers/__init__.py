"""The layer catalog, one module per family of Keras layers."""
from __future__ import annotations

from netc.catalog.spec import LayerSpec
from netc.catalog.layers import core

LAYERS: dict[str, LayerSpec] = {}
for _module in (core,):
    for _spec in _module.SPECS:
        LAYERS[_spec.name] = _spec
