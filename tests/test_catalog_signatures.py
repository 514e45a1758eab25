"""The catalog's layer signatures equal Keras's own, argument for argument.

For every catalog layer, the argument names (in Keras's positional order) and
defaults must equal ``inspect.signature(keras.layers.<Layer>.__init__)``, less
``self``, ``**kwargs`` and the arguments every layer takes (``spec.COMMON_ARGS``:
name, trainable, dtype; a few Keras layers list ``name`` or ``dtype`` in their
signature). Tuples and lists compare equal. Deliberate departures are listed in
``DEFAULT_EXCEPTIONS`` with their reason. The string identifiers in
``netc.catalog.keras_names`` must still resolve in Keras.
"""
from __future__ import annotations

import inspect
import pathlib
import re

import pytest

keras = pytest.importorskip("keras")

from netc.catalog import LAYERS  # noqa: E402
from netc.catalog import keras_names  # noqa: E402
from netc.catalog.spec import COMMON_ARGS  # noqa: E402
from netc.catalog.types import CHANNELS, REQUIRED  # noqa: E402

COMMON = {a.name for a in COMMON_ARGS}

# (layer, argument) -> (netc default, Keras default, reason)
DEFAULT_EXCEPTIONS = {
    ("BatchNormalization", "axis"): (
        CHANNELS, -1,
        "netc normalizes the feature axis of the input under the model's data_format (the checker resolves "
        "`channels` to an int); Keras's -1 is that axis only under channels_last (LANGUAGE.md section 2).",
    ),
}

# keras.applications layers netc deliberately leaves out.
NOT_IN_CATALOG = {
    "Input": "inputs are `input` statements, not layers",
    "Lambda": "a spec can never name Python code",
}


def keras_class(spec):
    return getattr(keras.layers, spec.keras_name or spec.name)


def keras_params(spec) -> list[inspect.Parameter]:
    params = list(inspect.signature(keras_class(spec).__init__).parameters.values())[1:]
    return [p for p in params
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in COMMON]


def normalize(value):
    """Lists and tuples compare equal, at any depth."""
    if isinstance(value, (list, tuple)):
        return tuple(normalize(v) for v in value)
    return value


NAMES = sorted(LAYERS)


@pytest.mark.parametrize("name", NAMES)
def test_argument_names_and_order(name):
    spec = LAYERS[name]
    assert [a.name for a in spec.args] == [p.name for p in keras_params(spec)]


@pytest.mark.parametrize("name", NAMES)
def test_defaults(name):
    spec = LAYERS[name]
    for arg, param in zip(spec.args, keras_params(spec)):
        keras_default = REQUIRED if param.default is inspect.Parameter.empty else param.default
        if (name, arg.name) in DEFAULT_EXCEPTIONS:
            ours, theirs, _ = DEFAULT_EXCEPTIONS[(name, arg.name)]
            assert (arg.default, keras_default) == (ours, theirs), "stale exception"
            continue
        assert normalize(arg.default) == normalize(keras_default), arg.name
        assert type(arg.default) is type(keras_default) or isinstance(arg.default, (tuple, list)), arg.name


@pytest.mark.parametrize("name", NAMES)
def test_common_args_are_taken(name):
    """name/trainable/dtype are offered only where the Keras class takes them (via **kwargs or by name)."""
    spec = LAYERS[name]
    params = inspect.signature(keras_class(spec).__init__).parameters
    has_kwargs = any(p.kind == p.VAR_KEYWORD for p in params.values())
    offered = {a.name for a in spec.all_args} & COMMON
    assert offered == {n for n in COMMON if has_kwargs or n in params}


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_accepted_by_their_types(name):
    """A default the type rejects would make every call that omits it a diagnostic."""
    for arg in LAYERS[name].all_args:
        if not arg.required:
            assert arg.type.accepts(arg.default), (arg.name, arg.default, arg.type.describe())


@pytest.mark.parametrize("name", NAMES)
def test_docs(name):
    spec = LAYERS[name]
    assert spec.doc and not spec.doc[0].islower() and spec.doc.endswith("."), spec.doc
    assert spec.category and spec.name == (spec.keras_name or spec.name)


def test_keras_applications_layers_are_covered():
    """Every layer keras.applications builds its models from is in the catalog."""
    root = pathlib.Path(keras.__file__).parent / "src" / "applications"
    used = set()
    for path in root.glob("*.py"):
        used |= set(re.findall(r"\blayers\.([A-Z]\w+)\(", path.read_text()))
    assert used, "no keras.applications sources found"
    assert used - set(LAYERS) - set(NOT_IN_CATALOG) == set()


def test_lambda_is_not_callable_from_specs():
    assert "Lambda" not in LAYERS


@pytest.mark.parametrize("getter,names", [
    ("activations", keras_names.ACTIVATIONS),
    ("initializers", keras_names.INITIALIZERS),
    ("regularizers", keras_names.REGULARIZERS),
    ("constraints", keras_names.CONSTRAINTS),
])
def test_identifiers_resolve_in_keras(getter, names):
    get = getattr(keras, getter).get
    for name in names:
        assert get(name) is not None, name


def test_activation_list_is_complete():
    """A new Keras activation should show up here so the catalog offers it."""
    public = {n for n in dir(keras.activations)
              if not n.startswith("_") and n not in {"get", "serialize", "deserialize"}}
    assert public == set(keras_names.ACTIVATIONS)
