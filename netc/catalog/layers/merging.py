"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot.

They take a list of shapes (``inputs="many"``). The element-wise merges follow
Keras's ``Merge._compute_elemwise_op_output_shape``: shapes are aligned on
their last axes and a size of 1 broadcasts, so ``(5, 1)`` and ``(5, 3)`` merge
to ``(5, 3)``; unknown sizes stay unknown.
"""
from __future__ import annotations

from netc.catalog import shapes as S
from netc.catalog.spec import Arg, LayerSpec, ShapeError, no_params
from netc.catalog.types import AXIS, BOOL, INT, TupleOf, Union

CATEGORY = "merging"


def _show_all(shapes) -> str:
    return ", ".join(S.show(s) for s in shapes)


def _merge_error(layer: str, message: str, hint: str) -> ShapeError:
    return ShapeError(f"{layer} {message}", code="NC301", hint=hint)


def _expect_count(layer: str, shapes, exactly: int | None = None) -> None:
    if exactly is not None and len(shapes) != exactly:
        raise _merge_error(layer, f"should be called on exactly {exactly} inputs, but received {len(shapes)}: "
                                  f"{_show_all(shapes)}.", f"Pass exactly {exactly} tensors to {layer}.")
    if not shapes:
        raise _merge_error(layer, "should be called on a list of at least 1 input.", "Pass it the tensors to merge.")


def broadcast(layer: str, shapes) -> tuple:
    """The element-wise result of several shapes, or NC301 when two sizes clash."""
    out = tuple(shapes[0])
    for other in shapes[1:]:
        a, b = (out, tuple(other)) if len(out) >= len(other) else (tuple(other), out)
        merged = list(a[:len(a) - len(b)])
        for i, j in zip(a[len(a) - len(b):], b):
            if i is None or j is None:
                merged.append(None)
            elif i == 1 or j == 1 or i == j:
                merged.append(j if i == 1 else i)
            else:
                raise _merge_error(layer, f"received inputs with incompatible shapes: {_show_all(shapes)}. "
                                          f"Sizes {i} and {j} cannot be combined element-wise.",
                                   "Element-wise merges need equal shapes (a size of 1 broadcasts); "
                                   "add a Dense or Conv with matching units/filters on one branch.")
        out = tuple(merged)
    return out


def elementwise_spec(name: str, doc: str, exactly: int | None = None) -> LayerSpec:
    def output_shape(args: dict, shapes) -> tuple:
        _expect_count(name, shapes, exactly)
        return broadcast(name, shapes)

    return LayerSpec(name, CATEGORY, (), output_shape, no_params, inputs="many", doc=doc)


# --------------------------------------------------------------------------- Concatenate

def _concatenate_shape(args: dict, shapes) -> tuple:
    """Keras's rule: equal ranks, equal sizes off the axis (unknown sizes match anything)."""
    _expect_count("Concatenate", shapes)
    if len({len(s) for s in shapes}) != 1:
        raise _merge_error("Concatenate", f"requires inputs of the same rank, but received {_show_all(shapes)}.",
                           "Reshape or Flatten the inputs to a common rank first.")
    index = S.resolve_axis("Concatenate", args["axis"], shapes[0])
    for i in range(len(shapes[0])):
        sizes = {s[i] for s in shapes if s[i] is not None}
        if i != index and len(sizes) > 1:
            raise _merge_error(
                "Concatenate",
                f"requires inputs with matching shapes except for the concatenation axis "
                f"(axis={args['axis']}), but received {_show_all(shapes)}.",
                f"Make the inputs agree on axis {i + 1} (e.g. resize, crop or pool one branch), or concatenate "
                f"along that axis instead.")
    out = list(shapes[0])
    along = [s[index] for s in shapes]
    out[index] = None if None in along else sum(along)
    return tuple(out)


CONCATENATE = LayerSpec(
    "Concatenate", CATEGORY,
    (Arg("axis", AXIS, -1, "Axis along which to concatenate (channels: the feature axis)."),),
    _concatenate_shape, no_params, inputs="many",
    doc="Concatenates a list of inputs along an axis; all other sizes must match.")


# --------------------------------------------------------------------------- Dot

def _dot_axes(args: dict, a, b) -> tuple[int, int]:
    """Batchless indices of the two contracted axes."""
    axes = args["axes"]
    pair = (axes, axes) if isinstance(axes, int) else tuple(axes)
    return S.resolve_axis("Dot", pair[0], a, "axes"), S.resolve_axis("Dot", pair[1], b, "axes")


def _dot_shape(args: dict, shapes) -> tuple:
    _expect_count("Dot", shapes, 2)
    a, b = (tuple(s) for s in shapes)
    i, j = _dot_axes(args, a, b)
    if a[i] != b[j]:
        raise _merge_error("Dot", f"received incompatible input shapes: size {a[i]} (axis {i + 1} of "
                                  f"{S.show(a)}) != size {b[j]} (axis {j + 1} of {S.show(b)}).",
                           "Choose axes whose sizes are equal (and known) in both inputs.")
    out = a[:i] + a[i + 1:] + b[:j] + b[j + 1:]
    return out if out else (1,)


DOT = LayerSpec(
    "Dot", CATEGORY,
    (Arg("axes", Union((INT, TupleOf(INT, 2))), doc="Axis, or pair of axes (one per input), to take the dot "
                                                    "product along."),
     Arg("normalize", BOOL, False, "L2-normalize both inputs first, giving cosine similarity.")),
    _dot_shape, no_params, inputs="many",
    doc="Computes a dot product between samples of two tensors along the given axes.")


SPECS = [
    elementwise_spec("Add", "Adds a list of inputs element-wise."),
    elementwise_spec("Subtract", "Subtracts the second input from the first, element-wise.", exactly=2),
    elementwise_spec("Multiply", "Multiplies a list of inputs element-wise."),
    elementwise_spec("Average", "Averages a list of inputs element-wise."),
    elementwise_spec("Maximum", "Computes the element-wise maximum of a list of inputs."),
    elementwise_spec("Minimum", "Computes the element-wise minimum of a list of inputs."),
    CONCATENATE,
    DOT,
]
