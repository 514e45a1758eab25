"""Preprocessing layers: Rescaling, Normalization, and image layers (resizing, cropping, augmentation).

Image layers take batched images, ``(batch, height, width, channels)`` or
channels first; Keras also accepts a single unbatched image, which inside a
model would silently read the batch axis as the height, so netc asks for rank 4.
The random augmentations are identities at inference and keep the shape.
"""
from __future__ import annotations

from netc.catalog import args as A
from netc.catalog import shapes as S
from netc.catalog.keras_names import AFFINE_INTERPOLATIONS, FILL_MODES, INTERPOLATIONS
from netc.catalog.spec import Arg, LayerSpec, ShapeError, no_params
from netc.catalog.types import (
    BOOL, FLOAT, INT, POSITIVE_INT, Bounded, Choice, ListOf, TupleOf, Type, Union, optional,
)

CATEGORY = "preprocessing"


def _same_shape(args: dict, shape) -> tuple:
    return tuple(shape)


RESCALING = LayerSpec(
    "Rescaling", CATEGORY,
    (Arg("scale", FLOAT, doc="Multiplier, e.g. 1 / 255 to map [0, 255] to [0, 1]."),
     Arg("offset", FLOAT, 0.0, "Added after scaling.")),
    _same_shape, no_params,
    doc="Rescales input values to a new range: inputs * scale + offset.")


# --------------------------------------------------------------------------- Normalization

def _kept_axes(args: dict, shape) -> list[int]:
    axis = args["axis"]
    axes = () if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    return [S.resolve_axis("Normalization", a, shape) for a in axes]


def _normalization_shape(args: dict, shape) -> tuple:
    if (args["mean"] is None) != (args["variance"] is None):
        raise ShapeError("Normalization needs both mean and variance, or neither (then they are learned by "
                         "adapt()).", code="NC307", arg="variance" if args["variance"] is None else "mean",
                         hint="Give both mean and variance, or remove both.")
    for i in _kept_axes(args, shape):
        S.expect_known("Normalization", shape, i, f"axis {i + 1}")
    return tuple(shape)


def _normalization_params(args: dict, shape) -> tuple[int, int]:
    """Keras stores adapted mean and variance (one per kept feature) and a count as weights."""
    if args["mean"] is not None:
        return 0, 0
    return 0, 2 * S.prod(shape[i] for i in _kept_axes(args, shape)) + 1


_STAT: Type = optional(Union((FLOAT, ListOf(FLOAT))))

NORMALIZATION = LayerSpec(
    "Normalization", CATEGORY,
    (
        Arg("axis", optional(Union((INT, TupleOf(INT)))), -1,
            "Axis or axes that keep separate statistics (none: one mean and variance for everything)."),
        Arg("mean", _STAT, None, "Mean to subtract (default: learned by adapt())."),
        Arg("variance", _STAT, None, "Variance to divide by (default: learned by adapt())."),
        Arg("invert", BOOL, False, "Undo the normalization instead (outputs * std + mean)."),
    ),
    _normalization_shape, _normalization_params,
    doc="Normalizes inputs to mean 0 and variance 1 per feature, with statistics given or learned by adapt().",
)


# --------------------------------------------------------------------------- image layers

def _size(name: str, doc: str) -> Arg:
    return Arg(name, POSITIVE_INT, doc=doc)


def _factor_type(low: float | None = None, high: float | None = None) -> Type:
    """A float, or a (low, high) pair of floats, within Keras's bounds for the factor."""
    item = FLOAT if low is None else Bounded(FLOAT, low, high)
    return Union((item, TupleOf(item, 2)))


def _factor(name: str, doc: str, low: float | None = None, high: float | None = None) -> Arg:
    return Arg(name, _factor_type(low, high), doc=doc)


def _fill() -> tuple[Arg, ...]:
    return (Arg("fill_mode", Choice(FILL_MODES), "reflect", "How points outside the image are filled."),
            Arg("interpolation", Choice(AFFINE_INTERPOLATIONS), "bilinear", "How new pixels are computed."))


def _fill_value() -> Arg:
    return Arg("fill_value", FLOAT, 0.0, 'Value of the outside points when fill_mode="constant".')


def _value_range() -> Arg:
    return Arg("value_range", TupleOf(FLOAT, 2), (0, 255), "Range of the input values (low, high).")


def image_spec(name: str, args: tuple[Arg, ...], doc: str, resizes: bool = False) -> LayerSpec:
    """An image layer; ``resizes`` means it outputs ``height`` x ``width`` images."""
    def output_shape(bound: dict, shape) -> tuple:
        S.expect_rank(name, shape, 4, S.layout(2, bound),
                      hint=f"{name} works on batched images; Reshape the input to (height, width, channels).")
        if not resizes:
            return tuple(shape)
        _, channels = S.split_channels(shape, bound)
        return S.join_channels((bound["height"], bound["width"]), channels, bound)

    return LayerSpec(name, CATEGORY, args, output_shape, no_params, doc=doc)


_RATIO_FLAGS = (
    Arg("crop_to_aspect_ratio", BOOL, False, "Crop to the target aspect ratio before resizing (no distortion)."),
    Arg("pad_to_aspect_ratio", BOOL, False, "Pad to the target aspect ratio before resizing (no distortion)."),
)

IMAGE_SPECS = [
    image_spec("Resizing", (
        _size("height", "Output height."), _size("width", "Output width."),
        Arg("interpolation", Choice(INTERPOLATIONS), "bilinear", "How new pixels are computed."),
        *_RATIO_FLAGS,
        Arg("fill_mode", Choice(("constant",)), "constant", "How padding is filled with pad_to_aspect_ratio."),
        _fill_value(),
        Arg("antialias", BOOL, False, "Use an anti-aliasing filter when downsampling."),
        A.data_format(),
    ), "Resizes a batch of images to a target size.", resizes=True),
    image_spec("CenterCrop", (
        _size("height", "Output height."), _size("width", "Output width."), A.data_format(),
    ), "Crops the center of images to height x width (resizing first when the image is smaller).",
        resizes=True),
    image_spec("RandomCrop", (
        _size("height", "Output height."), _size("width", "Output width."), A.seed(), A.data_format(),
    ), "Randomly crops images to height x width during training (center crop at inference).", resizes=True),
    image_spec("RandomFlip", (
        Arg("mode", Choice(("horizontal", "vertical", "horizontal_and_vertical")), "horizontal_and_vertical",
            "Which flips to apply at random."),
        A.seed(), A.data_format(),
    ), "Randomly flips images horizontally and/or vertically during training."),
    image_spec("RandomRotation", (
        _factor("factor", "Rotation range as a fraction of 2 pi: a float f for [-f, f] or (low, high)."),
        *_fill(), A.seed(), _fill_value(), A.data_format(),
    ), "Randomly rotates images during training."),
    image_spec("RandomZoom", (
        _factor("height_factor", "Vertical zoom range as a fraction: a float f for [-f, f] or (low, high).",
                -1, 1),
        Arg("width_factor", optional(_factor_type(-1, 1)), None,
            "Horizontal zoom range (none: keep the aspect ratio)."),
        *_fill(), A.seed(), _fill_value(), A.data_format(),
    ), "Randomly zooms images in or out during training."),
    image_spec("RandomTranslation", (
        _factor("height_factor", "Vertical shift range as a fraction of the height.", -1, 1),
        _factor("width_factor", "Horizontal shift range as a fraction of the width.", -1, 1),
        *_fill(), A.seed(), _fill_value(), A.data_format(),
    ), "Randomly translates images during training."),
    image_spec("RandomContrast", (
        _factor("factor", "Contrast range: a float f for [1 - f, 1 + f] or (low, high).", 0, 1),
        _value_range(), A.seed(),
    ), "Randomly adjusts the contrast of images during training."),
    image_spec("RandomBrightness", (
        _factor("factor", "Brightness range as a fraction of value_range: a float f for [-f, f].", -1, 1),
        _value_range(), A.seed(),
    ), "Randomly adjusts the brightness of images during training."),
]

SPECS = [RESCALING, NORMALIZATION, *IMAGE_SPECS]
