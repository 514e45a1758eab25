"""`netc train` and `netc.train_file`: a trained model and a complete, atomic run folder.

Training runs on 240 MNIST-1D samples for one or two epochs: fast, and enough
to exercise every file of a run. Timings are never asserted.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import netc
from conftest import ROOT, SPECS, tiny_network, write_spec
from netc.catalog.types import describe_value
from netc.cli import main
from netc.compiler.pipeline import parse_literal
from netc.runtime.plan import plan_training
from netc.runtime.resolved import resolved_spec
from netc.runtime.runfolder import MARKER
from netc.runtime.train import RUN_FILES

keras = pytest.importorskip("keras")

TINY = "# a tiny model for tests\n" + tiny_network(
    extra_settings='    callbacks [EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=true)]\n')


@pytest.fixture
def tiny(tmp_path) -> Path:
    return write_spec(tmp_path, TINY)


def test_train_file_writes_a_complete_run_folder(tiny, tmp_path):
    reports = []
    result = netc.train_file(tiny, out=tmp_path / "run", on_epoch=reports.append, width=6, lr=0.005)
    run = tmp_path / "run"
    assert result.run_dir == run and not result.interrupted
    assert sorted(p.name for p in run.iterdir()) == sorted(RUN_FILES)
    assert not (tmp_path / ".run.partial").exists()
    assert [r.epoch for r in reports] == [1, 2] and all(r.epochs == 2 for r in reports)

    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2] and len(history["loss"]) == 2 and len(history["val_accuracy"]) == 2
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["interrupted"] is False and metrics["epochs_run"] == 2
    assert metrics["params"] == {"width": 6, "lr": 0.005}
    assert set(metrics["train"]) == {"loss", "accuracy"} and set(metrics["validation"]) == {"loss", "accuracy"}
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert metrics["samples"] == {"train": 192, "validation": 48, "test": 60}
    assert metrics == result.metrics

    loaded = keras.saving.load_model(run / "model.keras", safe_mode=True)
    sample = np.zeros((3, 40, 1), np.float32)
    np.testing.assert_allclose(loaded.predict(sample, verbose=0), result.model.predict(sample, verbose=0), rtol=1e-5)
    assert (run / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((run / "ir.json").read_text())["params"] == {"width": 6}


def test_the_resolved_spec_reproduces_the_parameters(tiny, tmp_path):
    result = netc.train_file(tiny, epochs=1, out=tmp_path / "run", width=3, lr=0.02)
    resolved = result.run_dir / "spec.net"
    assert netc.check_file(resolved) == []
    plan = plan_training(resolved.read_text(), str(resolved))
    assert plan.model_params == {"width": 3} and plan.train_params == {"lr": 0.02} and plan.epochs == 1
    text = resolved.read_text()
    assert "model Tiny(width: int = 3)" in text and "train Tiny(lr: float = 0.02)" in text and "epochs 1\n" in text


def test_default_run_folder_is_runs_spec_timestamp_and_never_reused(tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = netc.train_file(tiny, epochs=1).run_dir
    second = netc.train_file(tiny, epochs=1).run_dir
    assert first.parent == second.parent == Path("runs") / "tiny"
    assert first != second and first.is_dir() and second.is_dir()
    assert not list(Path("runs/tiny").glob(".*"))  # no partial folder left behind


def test_cli_train_shows_progress_and_final_metrics(tiny, tmp_path, capsys):
    code = main(["train", str(tiny), "--epochs", "1", "--param", "width=2", "--out", str(tmp_path / "run")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "epoch 1/1  loss " in err and "val_accuracy" in err
    assert "test " in out and f"run folder: {tmp_path / 'run'}" in out
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["params"]["width"] == 2


@pytest.mark.parametrize("argv, code, words", [
    (["--param", "widht=3"], 1, ["NC108", "did you mean 'width'?"]),
    (["--param", "lr=true"], 1, ["NC201"]),
    (["--model", "Nope"], 1, ["NC107"]),
    (["--epochs", "0"], 2, ["--epochs"]),
])
def test_cli_train_refuses_bad_arguments_before_training(tiny, tmp_path, capsys, argv, code, words):
    assert main(["train", str(tiny), "--out", str(tmp_path / "run"), *argv]) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and all(w in out + err for w in words)
    assert not (tmp_path / "run").exists()


def test_a_model_without_train_block_and_a_busy_out_folder(tmp_path, capsys):
    spec = tmp_path / "m.net"
    spec.write_text("model M { input x: (4,) Dense(2) }")
    assert main(["train", str(spec)]) == 1
    assert "model 'M' has no train block" in capsys.readouterr().err
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main(["train", str(write_spec(tmp_path, TINY)), "--out", str(busy)]) == 2
    assert (busy / "keep.txt").read_text() == "mine"


def test_mnist1d_spec_has_three_trainable_models():
    text = (SPECS / "mnist1d.net").read_text()
    for model in ("Tunable", "ResNet1D", "SepConv1D"):
        plan = plan_training(text, str(SPECS / "mnist1d.net"), model)
        assert plan.data.name == plan.test_data.name == "mnist1d" and plan.test_data.args["split"] == "test"
        assert plan.ir["inputs"][0]["shape"] == [40, 1] and plan.epochs >= 30
    assert plan_training(text, "m.net", "Tunable").optimizer.name == "RMSprop"


@pytest.mark.parametrize("value", [3, -2, 0.5, 1e-05, 2.0, True, False, None, "a \"b\" \\c", (3,), (1, (2, 3)),
                                   [1, "x"]])
def test_spec_literal_reads_back_as_the_same_value(value):
    assert parse_literal(describe_value(value, full_calls=True)) == (value, True)


def test_resolved_spec_binds_a_parameter_without_default_and_adds_epochs():
    text = ("model M(units: int) { input x: (64,) Dense(units, activation=\"softmax\") }\n"
            "train M { data digits() loss \"sparse_categorical_crossentropy\" }\n")
    plan = plan_training(text, "m.net", params={"units": 10}, epochs=3)
    resolved = resolved_spec(plan)
    assert "model M(units: int = 10)" in resolved and "    epochs 3\n}" in resolved
    assert netc.check_string(resolved) == []


# ---- killed and interrupted runs (real processes) -------------------------------------

def start_training(tiny: Path, out: Path) -> tuple[subprocess.Popen, list[str]]:
    """``netc train`` for 1000 epochs in a child whose Ctrl-C is live, and the lines it prints as they come."""
    proc = subprocess.Popen([sys.executable, "-m", "netc", "train", str(tiny), "--epochs", "1000", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(ROOT),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    deadline = time.monotonic() + 120
    while not any(line.startswith("epoch") and "   2/1000" in line for line in lines):
        assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
        time.sleep(0.05)
    return proc, lines


def test_a_killed_run_leaves_no_complete_looking_folder(tiny, tmp_path):
    out = tmp_path / "run"
    proc, _ = start_training(tiny, out)
    proc.kill()
    proc.wait(30)
    assert not out.exists()
    partial = tmp_path / ".run.partial"
    assert partial.is_dir() and (partial / MARKER).is_file()


def test_ctrl_c_saves_what_was_trained_and_finishes_the_folder(tiny, tmp_path):
    out = tmp_path / "run"
    proc, lines = start_training(tiny, out)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 130, "".join(lines)
    output = "".join(lines)
    assert "Traceback" not in output and "saved what was trained" in output
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)
    assert not (tmp_path / ".run.partial").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and 2 <= metrics["epochs_run"] < 1000
    assert len(json.loads((out / "history.json").read_text())["loss"]) == metrics["epochs_run"]
    keras.saving.load_model(out / "model.keras", safe_mode=True)
