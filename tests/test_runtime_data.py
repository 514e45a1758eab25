"""Loaders and bad data: every problem is a clear diagnostic naming the file, exit 1, no traceback.

These fail before training starts, so they never build a model; most never import Keras.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from netc.cli import main
from netc.runtime.errors import DataError
from netc.runtime.fitdata import prepare
from netc.runtime.loaders import load
from netc.runtime.plan import plan_training

NPZ_SPEC = """model M {{
    input x: {shape}
    Dense({units}, activation="softmax")
}}
train M {{
    data {data}
    loss "{loss}"
    epochs 1
}}
"""


def write_spec(folder: Path, data: str = 'npz("d.npz")', shape: str = "(4,)",
               loss: str = "sparse_categorical_crossentropy", units: int = 3) -> Path:
    spec = folder / "m.net"
    spec.write_text(NPZ_SPEC.format(data=data, shape=shape, loss=loss, units=units), encoding="utf-8")
    return spec


def train_cli(capsys, spec: Path, *extra: str) -> tuple[int, str]:
    code = main(["train", str(spec), "--out", str(spec.parent / "run"), *extra])
    out, err = capsys.readouterr()
    return code, out + err


def good_arrays(n: int = 12) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x": rng.normal(size=(n, 4)).astype(np.float32), "y": np.arange(n) % 3}


def assert_clean_failure(code: int, output: str, spec: Path, diagnostic_code: str, *words: str) -> None:
    assert code == 1, output
    assert "Traceback" not in output
    assert f"{spec}:6:10: error[{diagnostic_code}]" in output, output
    for word in words:
        assert word in output, output
    assert not (spec.parent / "run").exists() and not (spec.parent / ".run.partial").exists()


def test_missing_file(tmp_path, capsys):
    spec = write_spec(tmp_path)
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC403", "d.npz", "does not exist")


def test_missing_key_names_the_keys_there(tmp_path, capsys):
    spec = write_spec(tmp_path)
    arrays = good_arrays()
    np.savez(tmp_path / "d.npz", inputs=arrays["x"], y=arrays["y"])
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC404", "d.npz' has no array 'x'", "inputs, y")


def test_label_out_of_range_for_the_output_layer(tmp_path, capsys):
    spec = write_spec(tmp_path)
    arrays = good_arrays()
    arrays["y"][7] = 12
    np.savez(tmp_path / "d.npz", **arrays)
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC402", "label 12 (sample 7 of", "d.npz') is out of range for the "
                                                                                "output layer (3 units)", "Dense(13")


def test_shape_that_does_not_fit_the_input(tmp_path, capsys):
    spec = write_spec(tmp_path)
    np.savez(tmp_path / "d.npz", x=np.zeros((12, 5), np.float32), y=np.zeros(12, np.int64))
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC401", "model M's input x is (None, 4) but '", "d.npz' gives samples "
                                                      "of shape (5,)")


def test_nan_in_the_inputs(tmp_path, capsys):
    spec = write_spec(tmp_path)
    arrays = good_arrays()
    arrays["x"][3, 1] = np.nan
    arrays["x"][9, 0] = np.nan
    np.savez(tmp_path / "d.npz", **arrays)
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC405", "d.npz' hold NaN at sample 3 (and 1 more sample)")


def test_a_file_that_is_not_npz(tmp_path, capsys):
    spec = write_spec(tmp_path)
    (tmp_path / "d.npz").write_bytes(b"\x80\x04not numpy at all")
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC403", "is not a .npz archive")


def test_object_arrays_are_refused_not_loaded(tmp_path, capsys):
    spec = write_spec(tmp_path)
    np.savez(tmp_path / "d.npz", x=np.array([object()] * 12), y=np.zeros(12))
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC406", "holds Python objects")


def test_inputs_and_labels_of_different_lengths(tmp_path, capsys):
    spec = write_spec(tmp_path)
    np.savez(tmp_path / "d.npz", x=np.zeros((12, 4), np.float32), y=np.zeros(10, np.int64))
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC406", "12 input samples but 10 labels")


CSV = "a,b,c,d,label\n1,2,3,4,0\n5,6,7,8,1\n\n9,10,11,12,2\n"


def test_csv_missing_column_with_did_you_mean(tmp_path, capsys):
    spec = write_spec(tmp_path, 'csv("t.csv", target="lable")')
    (tmp_path / "t.csv").write_text(CSV)
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC404", "t.csv' has no column 'lable'; did you mean 'label'?")


def test_csv_text_in_a_feature_and_an_empty_cell(tmp_path, capsys):
    spec = write_spec(tmp_path, 'csv("t.csv", target="label")')
    (tmp_path / "t.csv").write_text(CSV.replace("6,7", "six,7"))
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC406", "line 3 of", "column 'b': 'six' is not a number")
    (tmp_path / "t.csv").write_text(CSV.replace("10,11", "10,"))
    code, output = train_cli(capsys, spec)
    assert_clean_failure(code, output, spec, "NC405", "hold NaN at line 5")


def test_bad_data_through_the_real_command_has_no_traceback(tmp_path):
    spec = write_spec(tmp_path)
    arrays = good_arrays()
    arrays["y"][0] = -1
    np.savez(tmp_path / "d.npz", **arrays)
    out = subprocess.run([sys.executable, "-m", "netc", "train", str(spec), "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, cwd=str(ROOT), timeout=120)
    assert out.returncode == 1
    assert "Traceback" not in out.stdout + out.stderr
    assert "error[NC402]: label -1 (sample 0 of" in out.stderr and "labels must be 0 to 2" in out.stderr


# ---- loaders that work --------------------------------------------------------

def loaded(tmp_path: Path, data: str, shape: str = "(4,)", loss: str = "sparse_categorical_crossentropy",
           units: int = 3):
    spec = write_spec(tmp_path, data, shape, loss, units)
    plan = plan_training(spec.read_text(), str(spec))
    arrays = load(plan.data)
    return arrays, prepare(arrays, plan.data, plan.ir, plan.loss)


def test_csv_reads_text_labels_as_sorted_classes_and_skips_blank_lines(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,c,d,kind\n1,2,3,4,dog\n5,6,7,8,cat\n\n9,10,11,12,dog\n")
    arrays, (x, y) = loaded(tmp_path, 'csv("t.csv", target="kind")')
    assert x.shape == (3, 4) and x.dtype == np.float32
    assert y.tolist() == [1, 0, 1] and arrays.lines == [2, 3, 5]


def test_csv_features_pick_columns(tmp_path):
    (tmp_path / "t.csv").write_text(CSV)
    _, (x, _) = loaded(tmp_path, 'csv("t.csv", target="label", features=["d", "c", "b", "a"])')
    assert x[0].tolist() == [4, 3, 2, 1]


def test_digits_as_features_or_images():
    for data, shape, n in (("digits()", (64,), 1437), ('digits(split="test", as_images=true)', (8, 8, 1), 360)):
        plan = plan_training(NPZ_SPEC.format(data=data, shape=str(shape), loss="mse", units=10), "m.net")
        arrays = load(plan.data)
        assert arrays.x.shape == (n,) + shape and arrays.num_classes == 10
        assert 0.0 <= arrays.x.min() and arrays.x.max() <= 1.0


def test_mnist1d_is_generated_locally_cached_and_leaves_global_randomness_alone(tmp_path):
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    train, (x, y) = loaded(tmp_path, "mnist1d(num_samples=300)", "(40, 1)", units=10)
    assert np.random.random() == expected
    test, _ = loaded(tmp_path, 'mnist1d(split="test", num_samples=300)', "(40, 1)", units=10)
    assert train.x.shape == (240, 40) and test.x.shape == (60, 40)
    assert x.shape == (240, 40, 1) and y.dtype == np.int32 and set(y.tolist()) <= set(range(10))
    again, _ = loaded(tmp_path, "mnist1d(num_samples=300)", "(40, 1)", units=10)
    assert again.x is train.x  # one generation serves both splits and every later call


def test_mnist1d_is_generated_once_per_machine(tmp_path, monkeypatch):
    from netc.runtime import loaders

    monkeypatch.setenv("NETC_CACHE_DIR", str(tmp_path / "cache"))
    loaders._mnist1d_arrays.cache_clear()
    made = loaders._mnist1d_arrays(7, 200)
    [stored] = (tmp_path / "cache").glob("mnist1d-*-seed7-n200.npz")
    loaders._mnist1d_arrays.cache_clear()  # as a new process would
    monkeypatch.setattr(loaders, "_generate_mnist1d", lambda *a: pytest.fail("generated again"))
    read = loaders._mnist1d_arrays(7, 200)
    assert all(np.array_equal(made[k], read[k]) and made[k].dtype == read[k].dtype for k in made)
    assert not read["x"].flags.writeable

    stored.write_bytes(b"not an npz file")  # a damaged cache is made again, never trusted
    monkeypatch.undo()
    monkeypatch.setenv("NETC_CACHE_DIR", str(tmp_path / "cache"))
    loaders._mnist1d_arrays.cache_clear()
    assert np.array_equal(loaders._mnist1d_arrays(7, 200)["x"], made["x"])
    assert np.load(stored)["x"].shape == made["x"].shape
    loaders._mnist1d_arrays.cache_clear()


def test_one_hot_loss_gets_one_hot_labels(tmp_path):
    np.savez(tmp_path / "d.npz", **good_arrays())
    _, (_, y) = loaded(tmp_path, 'npz("d.npz")', loss="categorical_crossentropy")
    assert y.shape == (12, 3) and y.sum(axis=1).tolist() == [1.0] * 12


def test_images_from_class_folders(tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    for label, value in (("cat", 40), ("dog", 200)):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (10, 12), (value, value, value)).save(tmp_path / "photos" / label / f"{i}.png")
    arrays, (x, y) = loaded(tmp_path, 'images("photos", image_size=(8, 8))', "(8, 8, 3)", units=2)
    assert x.shape == (6, 8, 8, 3) and arrays.num_classes == 2 and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]


def test_missing_image_folder(tmp_path):
    spec = write_spec(tmp_path, 'images("nowhere", image_size=(8, 8))', "(8, 8, 3)")
    plan = plan_training(spec.read_text(), str(spec))
    with pytest.raises(DataError) as e:
        load(plan.data)
    assert e.value.diagnostic.code == "NC403" and "nowhere" in e.value.diagnostic.message
