"""Core layers: Dense, EinsumDense, Embedding, Identity, Masking."""
from __future__ import annotations

import re

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.spec import Arg, LayerSpec, ShapeError, no_params
from netc.catalog.types import FLOAT, POSITIVE_INT, STR, BOOL, TupleOf, Union, optional

CATEGORY = "core"


def same_shape(args: dict, shape) -> tuple:
    """For layers that leave their input's shape alone."""
    return tuple(shape)


# --------------------------------------------------------------------------- Dense

def _dense_shape(args: dict, shape) -> tuple:
    S.expect_min_rank("Dense", shape, 2, "(batch, ..., features)",
                      hint="Flatten() or a global pooling layer gives a rank-2 input.")
    S.expect_known("Dense", shape, -1, "the last axis")
    return tuple(shape[:-1]) + (args["units"],)


def _dense_params(args: dict, shape) -> tuple[int, int]:
    trainable, frozen = S.lora_params((shape[-1], args["units"]), args["lora_rank"])
    return trainable + (args["units"] if args["use_bias"] else 0), frozen


DENSE = LayerSpec(
    "Dense", CATEGORY,
    (
        Arg("units", POSITIVE_INT, doc="Size of the output's last axis."),
        A.activation(),
        A.use_bias(),
        *A.weight_args(("kernel", "glorot_uniform"), ("bias", "zeros"), activity=True),
        *A.lora(),
        A.not_in_specs("quantization_config", "Quantization settings."),
    ),
    _dense_shape, _dense_params,
    doc="Regular densely-connected layer: `activation(dot(input, kernel) + bias)` on the last axis.",
)


# --------------------------------------------------------------------------- EinsumDense

_EINSUM_FORMS = (
    # (pattern after replacing "..." with "0", where the ellipsis is)
    (re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$"), None),
    (re.compile(r"0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$"), "left"),
    (re.compile(r"([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$"), "right"),
)


def _einsum_error(message: str, arg: str = "equation") -> ShapeError:
    return ShapeError(message, code="NC307", arg=arg,
                      hint='Write the equation as "ab,bc->ac", "...b,bc->...c" or "ab...,bc->ac...".')


def _parse_equation(equation: str):
    """(input spec, weight spec, output spec, where the ellipsis is) of an EinsumDense equation."""
    replaced = equation.replace("...", "0")
    for pattern, elided in _EINSUM_FORMS:
        match = pattern.match(replaced)
        if match:
            return match.group(1), match.group(2), match.group(3), elided
    raise _einsum_error(f"EinsumDense received an invalid equation {equation!r}: equations must be in the "
                        "form [X],[Y]->[Z], ...[X],[Y]->...[Z], or [X]...,[Y]->[Z]....")


def _einsum_analysis(args: dict, shape):
    """(kernel shape, bias shape or None, output shape) as Keras's ``_analyze_split_string``.

    Shapes here include the batch dimension, because the equation names it.
    """
    in_spec, w_spec, out_spec, elided_side = _parse_equation(args["equation"])
    full = (None,) + tuple(shape)
    elided = len(full) - len(in_spec)
    if elided < 0 or (elided > 0 and elided_side is None):
        raise S.rank_error("EinsumDense", shape, f"rank {len(in_spec)}",
                           f"(the equation's input {in_spec!r})",
                           hint="Match the equation's input letters to the input's rank, or use '...'.")
    partial = args["output_shape"]
    out = [full[0]] + ([partial] if isinstance(partial, int) else list(partial))
    if elided_side == "left":
        for i in range(1, elided):  # Keras inserts each at position 1 (reversing 3+ elided axes)
            out.insert(1, full[i])
    elif elided_side == "right":
        out += list(full[len(full) - elided:])
    if elided_side == "left":
        in_map = {d: i + elided for i, d in enumerate(in_spec)}
        out_map = {d: i + elided for i, d in enumerate(out_spec)}
    else:
        in_map = {d: i for i, d in enumerate(in_spec)}
        out_map = {d: i for i, d in enumerate(out_spec)}
    if len(out) != len(full) - len(in_spec) + len(out_spec):
        raise _einsum_error(f"EinsumDense received output_shape={S.show_value(partial)}, which does not "
                            f"match the {len(out_spec)} output letters of {args['equation']!r}.",
                            arg="output_shape")
    for d in in_spec:
        if d in out_map and out[out_map[d]] is not None and out[out_map[d]] != full[in_map[d]]:
            raise _einsum_error(f"EinsumDense: input and output shapes differ at shared dimension {d!r}: "
                                f"input {full[in_map[d]]}, output_shape {out[out_map[d]]}.", arg="output_shape")
    for d in out_spec:
        if d not in in_spec and d not in w_spec:
            raise _einsum_error(f"EinsumDense: output dimension {d!r} appears in neither the input nor the weight.")
    kernel = []
    for d in w_spec:
        if d in out_map:
            kernel.append(out[out_map[d]])
        elif d in in_map:
            kernel.append(full[in_map[d]])
        else:
            raise _einsum_error(f"EinsumDense: weight dimension {d!r} appears in neither the input nor the output.")
    if any(k is None for k in kernel):
        raise ShapeError(f"EinsumDense needs every kernel dimension known, but the kernel of {args['equation']!r} "
                         f"on an input of shape {S.show(shape)} would have shape {tuple(kernel)}.",
                         code="NC307", arg="output_shape", hint="Give the unknown output sizes in output_shape.")
    bias = None
    if args["bias_axes"] is not None:
        offset = elided if elided_side == "left" else 0
        sizes = {c: out[i + offset] for i, c in enumerate(out_spec)}
        for c in args["bias_axes"]:
            if c not in out_spec:
                raise _einsum_error(f"EinsumDense: bias axis {c!r} is not in the output spec {out_spec!r}.",
                                    arg="bias_axes")
        first = min(out_spec.find(c) for c in args["bias_axes"])
        bias = [sizes[c] if c in args["bias_axes"] else 1 for c in out_spec[first:]]
        if None in bias:
            raise ShapeError(f"EinsumDense needs the size of every bias axis ({args['bias_axes']!r}) in "
                             f"output_shape, but received output_shape={S.show_value(partial)}.",
                             code="NC307", arg="output_shape",
                             hint="Give the biased output axes a size instead of none.")
    return kernel, bias, tuple(out)


def _einsum_shape(args: dict, shape) -> tuple:
    return _einsum_analysis(args, shape)[2][1:]


def _einsum_params(args: dict, shape) -> tuple[int, int]:
    kernel, bias, _ = _einsum_analysis(args, shape)
    trainable, frozen = S.lora_params(kernel, args["lora_rank"])
    return trainable + (S.prod(bias) if bias is not None else 0), frozen


EINSUM_DENSE = LayerSpec(
    "EinsumDense", CATEGORY,
    (
        Arg("equation", STR, doc='Einsum equation of input and kernel, e.g. "ab,bc->ac" or "...b,bc->...c".'),
        Arg("output_shape", Union((POSITIVE_INT, TupleOf(optional(POSITIVE_INT)))),
            doc="Output shape without batch and elided axes; none entries are inferred."),
        A.activation(),
        Arg("bias_axes", optional(STR), None, "Output letters that get a bias."),
        *A.weight_args(("kernel", "glorot_uniform"), ("bias", "zeros")),
        *A.lora(),
        Arg("gptq_unpacked_column_size", optional(POSITIVE_INT), None, "Used by GPTQ quantization only."),
        A.not_in_specs("quantization_config", "Quantization settings."),
    ),
    _einsum_shape, _einsum_params,
    doc="A layer that uses `einsum` as the backing computation: a dense layer of any rank.",
)


# --------------------------------------------------------------------------- Embedding

def _embedding_shape(args: dict, shape) -> tuple:
    return tuple(shape) + (args["output_dim"],)


def _embedding_params(args: dict, shape) -> tuple[int, int]:
    return S.lora_params((args["input_dim"], args["output_dim"]), args["lora_rank"])


EMBEDDING = LayerSpec(
    "Embedding", CATEGORY,
    (
        Arg("input_dim", POSITIVE_INT, doc="Size of the vocabulary: maximum integer index + 1."),
        Arg("output_dim", POSITIVE_INT, doc="Size of each embedding vector."),
        *A.weight_args(("embeddings", "uniform")),
        Arg("mask_zero", BOOL, False, "Whether index 0 is padding to be masked out downstream."),
        A.not_in_specs("weights", "Initial embedding matrix."),
        *A.lora(),
        A.not_in_specs("quantization_config", "Quantization settings."),
    ),
    _embedding_shape, _embedding_params,
    doc="Turns non-negative integers (indexes) into dense vectors of fixed size.",
)


IDENTITY = LayerSpec("Identity", CATEGORY, (), same_shape, no_params,
                     doc="Identity layer: returns its input unchanged.")

MASKING = LayerSpec(
    "Masking", CATEGORY,
    (Arg("mask_value", FLOAT, 0.0, "Timesteps whose features all equal this value are skipped."),),
    same_shape, no_params,
    doc="Masks a sequence by using a mask value to skip timesteps.",
)

SPECS = [DENSE, EINSUM_DENSE, EMBEDDING, IDENTITY, MASKING]
