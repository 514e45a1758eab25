"""netc's catalog: the only names a spec can call.

``LAYERS`` maps a layer name, spelt as in ``keras.layers``, to its ``LayerSpec``.
Nothing here imports Keras: checking a spec must stay framework-free.
"""
from __future__ import annotations

from netc.catalog.spec import Arg, LayerSpec, ShapeError  # noqa: F401
from netc.catalog.layers import LAYERS  # noqa: F401
