"""Attention layers: MultiHeadAttention, Attention (dot-product), AdditiveAttention.

MultiHeadAttention is called as ``layer(query, value[, key])`` (``inputs="attention"``);
Attention and AdditiveAttention are called on a list ``[query, value[, key]]``
(``inputs="many"``). Either way the shape functions receive the list of shapes
in that order; a missing key is the value.
"""
from __future__ import annotations

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.spec import Arg, LayerSpec, ShapeError
from netc.catalog.types import BOOL, INT, POSITIVE_INT, UNIT_FLOAT, Choice, TupleOf, Union, optional

CATEGORY = "attention"


def _unpack(layer: str, shapes) -> tuple[tuple, tuple, tuple]:
    """(query, value, key) with Keras's checks that the three fit together."""
    if not 2 <= len(shapes) <= 3:
        raise ShapeError(f"{layer} takes 2 or 3 inputs, namely (query, value) or (query, value, key), but received "
                         f"{len(shapes)}.", code="NC301", hint="Pass the query, the value and optionally the key.")
    query, value = tuple(shapes[0]), tuple(shapes[1])
    key = tuple(shapes[2]) if len(shapes) == 3 else value
    for role, shape in (("query", query), ("value", value), ("key", key)):
        S.expect_min_rank(layer, shape, 3, f"(batch, ..., features) for the {role}")
        S.expect_known(layer, shape, -1, f"the feature axis of the {role}")
    if len({len(query), len(value), len(key)}) != 1:
        raise ShapeError(f"{layer} needs query, value and key of the same rank, but received query "
                         f"{S.show(query)}, value {S.show(value)} and key {S.show(key)}.",
                         code="NC301", hint="Reshape the inputs to a common rank.")
    if value[:-1] != key[:-1]:
        raise ShapeError(f"{layer}: all dimensions of value and key, except the last one, must be equal. Received: "
                         f"value {S.show(value)} and key {S.show(key)}.", code="NC301",
                         hint="Give the value and the key the same number of timesteps.")
    return query, value, key


# --------------------------------------------------------------------------- MultiHeadAttention

def _mha_check(args: dict, shapes):
    if args["flash_attention"] and args["dropout"] > 0:
        raise ShapeError("MultiHeadAttention does not support dropout when flash attention is enabled.",
                         code="NC307", arg="dropout", hint="Set dropout=0.0 or flash_attention=false.")
    return _unpack("MultiHeadAttention", shapes)


def _projected(args: dict) -> tuple:
    """output_shape as a tuple, or None to keep the query's feature size."""
    out = args["output_shape"]
    return (out,) if isinstance(out, int) else (tuple(out) if out else None)


def _mha_shape(args: dict, shapes) -> tuple:
    query, _, _ = _mha_check(args, shapes)
    out = _projected(args)
    return query[:-1] + out if out else query


def _mha_params(args: dict, shapes) -> tuple[int, int]:
    """Query, key, value (and gate) projections into heads, then the output projection."""
    query, value, key = _mha_check(args, shapes)
    heads, key_dim = args["num_heads"], args["key_dim"]
    value_dim = args["value_dim"] or key_dim
    out = S.prod(_projected(args) or query[-1:])
    bias = 1 if args["use_bias"] else 0

    def dense(n_in: int, width: int) -> int:
        return n_in * width + bias * width

    total = (dense(query[-1], heads * key_dim) + dense(key[-1], heads * key_dim)
             + dense(value[-1], heads * value_dim) + heads * value_dim * out + bias * out)
    if args["use_gate"]:
        total += dense(query[-1], heads * value_dim)
    return total, 0


MULTI_HEAD_ATTENTION = LayerSpec(
    "MultiHeadAttention", CATEGORY,
    (
        Arg("num_heads", POSITIVE_INT, doc="Number of attention heads."),
        Arg("key_dim", POSITIVE_INT, doc="Size of each head for query and key."),
        Arg("value_dim", optional(POSITIVE_INT), None, "Size of each head for value (default: key_dim)."),
        Arg("dropout", UNIT_FLOAT, 0.0, "Dropout on the attention scores."),
        A.use_bias(),
        Arg("output_shape", optional(Union((POSITIVE_INT, TupleOf(POSITIVE_INT)))), None,
            "Feature shape of the output (default: the query's last axis)."),
        Arg("attention_axes", optional(Union((INT, TupleOf(INT)))), None,
            "Axes attention is applied over (default: all but batch, heads and features)."),
        Arg("sliding_window", optional(POSITIVE_INT), None, "Restrict attention to this many nearby positions."),
        Arg("flash_attention", optional(BOOL), None, "Use flash attention when available (no dropout then)."),
        *A.weight_args(("kernel", "glorot_uniform"), ("bias", "zeros"), activity=True),
        Arg("use_gate", BOOL, False, "Add a sigmoid gate (one more projection of the query) on the heads."),
        A.seed(),
    ),
    _mha_shape, _mha_params, inputs="attention",
    doc="Multi-head attention (Vaswani et al. 2017): attends from query to value/key with several heads.",
)


# --------------------------------------------------------------------------- Attention, AdditiveAttention

def _scored_inputs(layer: str, shapes):
    query, value, key = _unpack(layer, shapes)
    if query[-1] != key[-1]:
        raise ShapeError(f"{layer} compares query and key feature by feature, but the query has {query[-1]} "
                         f"features and the key {key[-1]}.", code="NC301",
                         hint="Project the query or the key (e.g. with Dense) to a common size.")
    return query, value, key


def _attention_shape_fn(layer: str):
    def output_shape(args: dict, shapes) -> tuple:
        query, value, _ = _scored_inputs(layer, shapes)
        return query[:-1] + value[-1:]
    return output_shape


def _attention_params(args: dict, shapes) -> tuple[int, int]:
    return int(args["use_scale"]) + int(args["score_mode"] == "concat"), 0


def _additive_params(args: dict, shapes) -> tuple[int, int]:
    return (shapes[0][-1] if args["use_scale"] else 0), 0


ATTENTION = LayerSpec(
    "Attention", CATEGORY,
    (
        Arg("use_scale", BOOL, False, "Learn a scalar to scale the attention scores."),
        Arg("score_mode", Choice(("dot", "concat")), "dot", "How query and key are compared."),
        Arg("dropout", UNIT_FLOAT, 0.0, "Dropout on the attention scores."),
        A.seed(),
    ),
    _attention_shape_fn("Attention"), _attention_params, inputs="many",
    doc="Dot-product attention layer (Luong-style) over a list [query, value] or [query, value, key].",
)

ADDITIVE_ATTENTION = LayerSpec(
    "AdditiveAttention", CATEGORY,
    (
        Arg("use_scale", BOOL, True, "Learn a scale per feature for the attention scores."),
        Arg("dropout", UNIT_FLOAT, 0.0, "Dropout on the attention scores."),
    ),
    _attention_shape_fn("AdditiveAttention"), _additive_params, inputs="many",
    doc="Additive attention layer (Bahdanau-style) over a list [query, value] or [query, value, key].",
)

SPECS = [MULTI_HEAD_ATTENTION, ATTENTION, ADDITIVE_ATTENTION]
