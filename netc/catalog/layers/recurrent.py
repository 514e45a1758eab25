"""Recurrent layers: SimpleRNN, LSTM, GRU, ConvLSTM1D-3D, and the wrappers Bidirectional and TimeDistributed.

The RNNs differ in their number of gates (1, 4, 3) and a few arguments;
``rnn_spec`` builds each from a ``_Cell`` description, ``conv_lstm_spec``
builds ConvLSTM at each rank from the convolution helpers. Layers in netc
have one output, so ``return_state=True`` (which makes Keras return a list)
is refused with a diagnostic.
"""
from __future__ import annotations

from dataclasses import dataclass

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.keras_names import ACTIVATION
from netc.catalog.layers.convolution import check_strided_dilation, conv_input, conv_spatial
from netc.catalog.spec import Arg, LayerSpec, ShapeError
from netc.catalog.types import (
    BOOL, LAYER, POSITIVE_INT, UNIT_FLOAT, Choice, LayerType, Union, optional,
)

CATEGORY = "recurrent"
RNN_LAYERS = ("SimpleRNN", "LSTM", "GRU", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")


# --------------------------------------------------------------------------- shared arguments

def _dropouts() -> tuple[Arg, ...]:
    return (Arg("dropout", UNIT_FLOAT, 0.0, "Fraction of the inputs to drop at each step."),
            Arg("recurrent_dropout", UNIT_FLOAT, 0.0, "Fraction of the recurrent state to drop at each step."))


def _sequence_flags(unroll: bool = True) -> tuple[Arg, ...]:
    flags = (
        Arg("return_sequences", BOOL, False, "Return the output of every timestep, not just the last."),
        Arg("return_state", BOOL, False, "Also return the final states (several outputs: not supported in netc)."),
        Arg("go_backwards", BOOL, False, "Process the sequence backwards."),
        Arg("stateful", BOOL, False, "Carry states across batches (needs a fixed batch size)."),
    )
    if unroll:
        flags += (Arg("unroll", BOOL, False, "Unroll the loop (faster for short sequences, needs a known length)."),)
    return flags


def _recurrent_activation() -> Arg:
    return Arg("recurrent_activation", ACTIVATION, "sigmoid", "Activation of the gates.")


def _use_cudnn() -> Arg:
    return Arg("use_cudnn", Union((Choice(("auto",)), BOOL)), "auto", "Whether to use the cuDNN kernel on GPU.")


def _unit_forget_bias() -> Arg:
    return Arg("unit_forget_bias", BOOL, True, "Add 1 to the forget gate's bias at initialization.")


def _recurrent_weights() -> tuple:
    return (("kernel", "glorot_uniform"), ("recurrent", "orthogonal"), ("bias", "zeros"))


def _recurrent_regs_and_constraints() -> tuple[Arg, ...]:
    return (*A.regularizers("kernel", "recurrent", "bias", activity=True),
            *A.constraints("kernel", "recurrent", "bias"))


def check_sequence_flags(layer: str, args: dict, steps) -> None:
    """Refuse the flag combinations Keras (or netc's one-output layers) cannot build."""
    if args["return_state"]:
        raise ShapeError(f"{layer} with return_state=true returns several tensors, but netc layers have "
                         "one output.", code="NC307", arg="return_state",
                         hint="Remove return_state; use return_sequences=true to get every step's output.")
    if args["stateful"]:
        raise ShapeError(f"When using stateful=true in {layer}, the batch size must be static, but netc "
                         "inputs have a dynamic batch size.", code="NC307", arg="stateful",
                         hint="Remove stateful=true.")
    if args.get("unroll") and steps is None:
        raise ShapeError(f"{layer} cannot unroll a sequence whose number of timesteps is unknown.",
                         code="NC307", arg="unroll", hint="Give the input a fixed length, or remove unroll=true.")


# --------------------------------------------------------------------------- SimpleRNN, LSTM, GRU

@dataclass(frozen=True)
class _Cell:
    name: str
    gates: int
    doc: str


def _simple_rnn_args() -> tuple[Arg, ...]:
    return (
        Arg("units", POSITIVE_INT, doc="Size of the output and state."),
        A.activation("tanh"), A.use_bias(),
        *A.initializers(*_recurrent_weights()), *_recurrent_regs_and_constraints(),
        *_dropouts(), *_sequence_flags(), A.seed(),
    )


def _lstm_args() -> tuple[Arg, ...]:
    return (
        Arg("units", POSITIVE_INT, doc="Size of the output and states."),
        A.activation("tanh"), _recurrent_activation(), A.use_bias(),
        *A.initializers(*_recurrent_weights()), _unit_forget_bias(), *_recurrent_regs_and_constraints(),
        *_dropouts(), A.seed(), *_sequence_flags(), _use_cudnn(),
    )


def _gru_args() -> tuple[Arg, ...]:
    return (
        Arg("units", POSITIVE_INT, doc="Size of the output and state."),
        A.activation("tanh"), _recurrent_activation(), A.use_bias(),
        *A.initializers(*_recurrent_weights()), *_recurrent_regs_and_constraints(),
        *_dropouts(), A.seed(), *_sequence_flags(),
        Arg("reset_after", BOOL, True, "Apply the reset gate after the matrix product (cuDNN-compatible; "
                                       "two biases per gate)."),
        _use_cudnn(),
    )


_CELLS = {
    "SimpleRNN": (_Cell("SimpleRNN", 1, "Fully-connected RNN where the output is fed back as the next input."),
                  _simple_rnn_args),
    "LSTM": (_Cell("LSTM", 4, "Long Short-Term Memory layer (Hochreiter 1997)."), _lstm_args),
    "GRU": (_Cell("GRU", 3, "Gated Recurrent Unit layer (Cho et al. 2014)."), _gru_args),
}


def rnn_spec(name: str) -> LayerSpec:
    cell, build_args = _CELLS[name]

    def output_shape(args: dict, shape) -> tuple:
        S.expect_rank(name, shape, 3, "(batch, timesteps, features)",
                      hint=f"{name} reads sequences; Reshape to (timesteps, features) or use TimeDistributed.")
        S.expect_known(name, shape, 1, "the feature axis")
        check_sequence_flags(name, args, shape[0])
        return (shape[0], args["units"]) if args["return_sequences"] else (args["units"],)

    def params(args: dict, shape) -> tuple[int, int]:
        gates, units = cell.gates * args["units"], args["units"]
        bias_sets = 2 if args.get("reset_after") else 1  # GRU's reset_after keeps input and recurrent biases
        bias = gates * bias_sets if args["use_bias"] else 0
        return shape[1] * gates + units * gates + bias, 0

    return LayerSpec(name, CATEGORY, build_args(), output_shape, params, doc=cell.doc)


# --------------------------------------------------------------------------- ConvLSTM

def _conv_lstm_args(rank: int) -> tuple[Arg, ...]:
    return (
        Arg("filters", POSITIVE_INT, doc="Number of output channels."),
        A.window("kernel_size", rank, doc="Size of the convolution window on each spatial axis."),
        A.window("strides", rank, 1, "Step of the input convolution on each spatial axis.", expand=False),
        A.padding(), A.data_format(),
        A.window("dilation_rate", rank, 1, "Dilation of the input convolution.", expand=False),
        A.activation("tanh"), _recurrent_activation(), A.use_bias(),
        *A.initializers(*_recurrent_weights()), _unit_forget_bias(), *_recurrent_regs_and_constraints(),
        *_dropouts(), A.seed(), *_sequence_flags(unroll=False),
    )


def conv_lstm_spec(rank: int) -> LayerSpec:
    name = f"ConvLSTM{rank}D"

    def output_shape(args: dict, shape) -> tuple:
        spatial, _ = conv_input(name, rank, args, shape, leading=("time",))
        for i, n in enumerate(spatial):
            if n is None:
                raise ShapeError(f"{name} only supports static spatial sizes, but received an input of shape "
                                 f"{S.show(shape)}.", code="NC307",
                                 hint="Give the input fixed spatial sizes.")
        check_strided_dilation(name, args, rank)
        check_sequence_flags(name, args, shape[0])
        out = S.join_channels(conv_spatial(args, spatial, rank), args["filters"], args)
        out = (shape[0],) + out if args["return_sequences"] else out
        return S.expect_positive(name, shape, out, "kernel_size", S.window_hint("kernel_size"),
                                 S.received(args, "kernel_size", "strides", "dilation_rate", "padding"))

    def params(args: dict, shape) -> tuple[int, int]:
        _, channels = S.split_channels(shape[1:], args)
        volume, gates = S.prod(S.as_tuple(args["kernel_size"], rank)), 4 * args["filters"]
        bias = gates if args["use_bias"] else 0
        return volume * channels * gates + volume * args["filters"] * gates + bias, 0

    return LayerSpec(name, CATEGORY, _conv_lstm_args(rank), output_shape, params,
                     doc=f"{rank}D Convolutional LSTM: an LSTM whose input and recurrent transformations "
                         "are convolutions.")


# --------------------------------------------------------------------------- wrappers

def _wrapped_error(wrapper: str, inner, error: ShapeError) -> ShapeError:
    """An error of the wrapped layer, pointed at the wrapper's ``layer`` argument."""
    return ShapeError(f"{wrapper}({inner.name}(...)): {error.message}", code=error.code, arg="layer",
                      hint=error.hint)


def _inner_shape(wrapper: str, value, shape) -> tuple:
    try:
        return tuple(value.spec.output_shape(value.args, shape))
    except ShapeError as error:
        raise _wrapped_error(wrapper, value, error) from None


def _bidirectional_shape(args: dict, shape) -> tuple:
    forward, backward = args["layer"], args["backward_layer"]
    out = _inner_shape("Bidirectional", forward, shape)
    if backward is None:
        if forward.args["go_backwards"]:
            raise ShapeError("Bidirectional runs a copy of its layer with go_backwards=true, so the layer itself "
                             "must not go backwards.", code="NC307", arg="layer",
                             hint="Remove go_backwards=true from the wrapped layer.")
    else:
        _check_backward_layer(forward, backward, out, shape)
    if args["merge_mode"] is None:
        raise ShapeError("Bidirectional with merge_mode=none returns two tensors, but netc layers have one output.",
                         code="NC307", arg="merge_mode",
                         hint='Use merge_mode "concat", "sum", "mul" or "ave".')
    if args["merge_mode"] == "concat":
        return out[:-1] + (None if out[-1] is None else 2 * out[-1],)
    return out


def _check_backward_layer(forward, backward, forward_shape, shape) -> None:
    if forward.args["go_backwards"] == backward.args["go_backwards"]:
        raise ShapeError("Bidirectional's forward and backward layers must have different go_backwards values; "
                         f"both have go_backwards={S.show_value(forward.args['go_backwards'])}.",
                         code="NC307", arg="backward_layer", hint="Give the backward layer go_backwards=true.")
    for flag in ("return_sequences", "stateful", "return_state"):
        if forward.args[flag] != backward.args[flag]:
            raise ShapeError(f"Bidirectional's forward and backward layers must have the same {flag}.",
                             code="NC307", arg="backward_layer", hint=f"Give both layers the same {flag}.")
    backward_shape = _inner_shape("Bidirectional", backward, shape)
    if backward_shape != forward_shape:
        # Keras computes the merged shape from the forward layer alone, so a different
        # backward output would give the model a wrong static shape.
        raise ShapeError(f"Bidirectional's backward layer outputs {S.show(backward_shape)} but the forward layer "
                         f"outputs {S.show(forward_shape)}; they must match.", code="NC307", arg="backward_layer",
                         hint="Give both layers the same number of units/filters.")


def _bidirectional_params(args: dict, shape) -> tuple[int, int]:
    forward = args["layer"]
    backward = args["backward_layer"] or forward
    f, b = forward.spec.params(forward.args, shape), backward.spec.params(backward.args, shape)
    return f[0] + b[0], f[1] + b[1]


BIDIRECTIONAL = LayerSpec(
    "Bidirectional", CATEGORY,
    (
        Arg("layer", LayerType(RNN_LAYERS), doc="The recurrent layer to run forwards (a copy runs backwards)."),
        Arg("merge_mode", optional(Choice(("sum", "mul", "concat", "ave"))), "concat",
            "How the forward and backward outputs are combined."),
        A.not_in_specs("weights", "Initial weights."),
        Arg("backward_layer", optional(LayerType(RNN_LAYERS)), None,
            "The layer to run backwards (default: a copy of layer); needs go_backwards=true."),
    ),
    _bidirectional_shape, _bidirectional_params,
    doc="Bidirectional wrapper for RNNs: runs the layer forwards and backwards and merges the outputs.",
)


def _time_distributed_inner(args: dict, shape):
    S.expect_min_rank("TimeDistributed", shape, 3, "(batch, timesteps, ...)")
    inner = args["layer"]
    if inner.spec.inputs != "one":
        raise ShapeError(f"TimeDistributed can only wrap a layer with one input, not {inner.name}.",
                         code="NC307", arg="layer", hint="Wrap a single-input layer such as Dense or Conv2D.")
    return inner, tuple(shape[1:])


def _time_distributed_shape(args: dict, shape) -> tuple:
    inner, step = _time_distributed_inner(args, shape)
    return (shape[0],) + _inner_shape("TimeDistributed", inner, step)


def _time_distributed_params(args: dict, shape) -> tuple[int, int]:
    inner, step = _time_distributed_inner(args, shape)
    return inner.spec.params(inner.args, step)


TIME_DISTRIBUTED = LayerSpec(
    "TimeDistributed", CATEGORY,
    (Arg("layer", LAYER, doc="The layer applied to every timestep (axis 1) of the input."),),
    _time_distributed_shape, _time_distributed_params,
    doc="Applies a layer to every temporal slice of an input, with the same weights at each step.",
)

SPECS = [*(rnn_spec(n) for n in _CELLS), *(conv_lstm_spec(n) for n in (1, 2, 3)),
         BIDIRECTIONAL, TIME_DISTRIBUTED]
