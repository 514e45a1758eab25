"""Ensembles: the weight methods, the static checks, and `netc ensemble` end to end on a tiny budget.

The end-to-end tests train one tiny network and two small tree members on 300
MNIST-1D samples for two epochs: seconds, yet every file of the run folder is
written and a fresh process reloads it. Accuracy is never asserted.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import netc
from conftest import tiny_network, write_spec
from netc.runtime import ensemble_weights as ew

TINY = "# a tiny ensemble for tests\n" + tiny_network() + """
ensemble Mixed {
    members Tiny(width=6), GradientBoosting(max_iter=15), RandomForest(n_estimators=15)
    weights WEIGHTS
    objective OBJECTIVE
    iterations 25
}
"""


def tiny_spec(tmp_path: Path, weights: str = "nelder_mead", objective: str = "val_loss") -> Path:
    return write_spec(tmp_path, TINY.replace("WEIGHTS", weights).replace("OBJECTIVE", objective))


# ---- weights: never worse than uniform or the best single member --------------------------

def _noisy_members(seed: int, members: int, samples: int = 120, classes: int = 4):
    rng = np.random.RandomState(seed)
    y = rng.randint(0, classes, samples)
    predictions = []
    for m in range(members):
        logits = rng.normal(0, 1 + m, (samples, classes))
        logits[np.arange(samples), y] += rng.uniform(0.0, 2.5)
        p = np.exp(logits - logits.max(1, keepdims=True))
        predictions.append(p / p.sum(1, keepdims=True))
    return predictions, y


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), members=st.integers(1, 5), method=st.sampled_from(["nelder_mead", "caruana"]),
       objective=st.sampled_from(["val_loss", "val_accuracy"]))
def test_fitted_weights_are_never_worse_than_uniform_or_the_best_single_member(seed, members, method, objective):
    predictions, y = _noisy_members(seed, members)
    score = ew.objective_function(objective, True)
    fit = ew.fit_weights(method, predictions, y, objective, True, iterations=30)
    assert np.isclose(fit.weights.sum(), 1.0) and (fit.weights >= 0).all()
    value = score(ew.blend(predictions, fit.weights), y)
    assert np.isclose(value, fit.value)
    assert value <= score(ew.blend(predictions, np.ones(members)), y) + 1e-12
    assert value <= min(score(p, y) for p in predictions) + 1e-12


def test_nelder_mead_finds_the_informative_member_and_caruana_counts_picks():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 300)
    good = np.full((300, 3), 0.05)
    good[np.arange(300), y] = 0.9
    noise = rng.dirichlet(np.ones(3), 300)
    fit = ew.fit_weights("nelder_mead", [noise, good], y, "val_loss", True)
    assert fit.weights[1] > 0.8 and fit.details["evaluations"] > 0
    fit = ew.fit_weights("caruana", [noise, good], y, "val_loss", True, iterations=10)
    assert fit.details["counts"][1] >= 1 and fit.weights[1] > 0.5
    assert ew.fit_weights("uniform", [noise, good], y, "val_loss", True).method == "uniform"


def test_diversity_reports_correlation_and_disagreement_for_every_pair():
    a = np.eye(3)[[0, 1, 2, 0]]
    b = np.eye(3)[[0, 1, 1, 0]]
    pairs = ew.diversity(["a", "b", "c"], [a, b, a], classify=True)
    assert [(p["a"], p["b"]) for p in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert pairs[0]["disagreement"] == 0.25 and pairs[1]["disagreement"] == 0.0
    assert pairs[1]["correlation"] == pytest.approx(1.0)


def test_regression_weights_minimize_mse():
    rng = np.random.RandomState(1)
    y = rng.normal(size=200)
    members = [(y + rng.normal(0, s, 200))[:, None] for s in (0.1, 1.0, 2.0)]
    fit = ew.fit_weights("nelder_mead", members, y, "val_loss", False)
    assert fit.weights[0] > 0.6
    assert fit.value <= ew.mse(members[0], y) + 1e-12


# ---- static checks -----------------------------------------------------------------

HEAD = """
model A(w: int = 4) { input x: (40, 1) Conv1D(w, 3) GlobalAveragePooling1D() Dense(10, activation="softmax") }
model B { input x: (40,) Dense(10, activation="softmax") }
train A { data mnist1d() loss "sparse_categorical_crossentropy" }
train B { data mnist1d(num_samples=300) loss "sparse_categorical_crossentropy" }
"""


@pytest.mark.parametrize("ensemble, code, words", [
    ("ensemble E { members GradientBoosting() }", "NC208", "no network member"),
    ("ensemble E { members A(), B() }", "NC208", "different data"),
    ("ensemble E { members A(), GradientBoosting() objective val_acc }", "NC207", "did you mean 'val_accuracy'"),
    ("ensemble E { members A() objective val_loss maximize }", "NC207", "always minimized"),
    ("ensemble E { members A() holdout 0.2 folds 3 }", "NC207", "not both"),
    ("ensemble E { members A() folds 1 }", "NC204", "2 or more"),
])
def test_ensemble_checks(ensemble, code, words):
    found = netc.check_string(HEAD + ensemble, "e.net")
    assert [d.code for d in found] == [code] and words in found[0].message
    assert netc.diagnostics.explain(code)


def test_a_good_ensemble_is_clean_and_checking_imports_no_framework():
    text = HEAD + "ensemble E { members A(w=8), A(), GradientBoosting(max_iter=5) weights caruana iterations 10 }"
    script = ("import sys, netc; assert netc.check_string(sys.stdin.read(), 'e.net') == []; "
              "print(sorted(m for m in ('keras', 'tensorflow', 'sklearn', 'scipy', 'skops') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], input=text, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---- end to end ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One real run of `netc ensemble` (networks and gradient-boosted trees), shared by the tests below."""
    pytest.importorskip("keras")
    pytest.importorskip("skops")
    from netc.cli import main

    tmp = tmp_path_factory.mktemp("ensemble")
    spec = tiny_spec(tmp)
    out = tmp / "run"
    assert main(["ensemble", str(spec), "--out", str(out), "--full"]) == 0
    return spec, out


def test_the_run_folder_holds_members_weights_metrics_and_a_plot(finished):
    _, out = finished
    report = json.loads((out / "ensemble.json").read_text())
    assert [m["label"] for m in report["members"]] == ["Tiny(width=6)", "GradientBoosting(max_iter=15)",
                                                       "RandomForest(n_estimators=15)"]
    assert (out / "members" / "00-Tiny-width=6" / "model.keras").is_file()
    assert (out / "members" / "01-GradientBoosting-max_iter=15" / "model.skops").is_file()
    assert (out / "ensemble.png").stat().st_size > 10_000
    assert not [p for p in out.rglob("*") if re.search(r"\.(pkl|pickle|joblib)$", p.name)]
    assert len(report["weights"]) == 3 and sum(report["weights"]) == pytest.approx(1.0)
    assert [m["weight"] for m in report["members"]] == report["weights"]
    for scores in (report["metrics"]["validation"], report["metrics"]["test"]):
        assert set(scores) == {"loss", "accuracy", "error"}
    for member in report["members"]:
        assert member["validation"]["accuracy"] is not None and member["test"]["accuracy"] is not None
    assert {(p["a"], p["b"]) for p in report["diversity"]["validation"]} == {
        ("Tiny(width=6)", "GradientBoosting(max_iter=15)"), ("Tiny(width=6)", "RandomForest(n_estimators=15)"),
        ("GradientBoosting(max_iter=15)", "RandomForest(n_estimators=15)")}
    assert all("disagreement" in p and "correlation" in p for p in report["diversity"]["test"])
    samples = report["data"]["samples"]
    assert samples["validation"] + samples["member_training"] == samples["train"] == 240
    assert samples["test"] == 60 and "no member saw" in report["data"]["validation"]
    assert report["members"][0]["runs"][0]["samples"] == samples["member_training"]


def test_fitted_weights_are_no_worse_on_validation_than_uniform_or_best_single_on_a_real_fit(finished):
    _, out = finished
    fit = json.loads((out / "ensemble.json").read_text())["fit"]
    assert fit["method"] == "nelder_mead"
    assert fit["value"] <= fit["candidates"]["uniform"] + 1e-12
    assert fit["value"] <= fit["candidates"]["best_single"] + 1e-12


def test_a_saved_ensemble_reproduces_its_predictions_in_a_new_process(finished, tmp_path):
    _, out = finished
    report = json.loads((out / "ensemble.json").read_text())
    expected = sum(w * np.load(out / m["folder"] / "test_predictions.npy")
                   for w, m in zip(report["weights"], report["members"]))
    from netc.runtime.loaders import _mnist1d_arrays

    x_test = np.array(_mnist1d_arrays(42, 300)["x_test"])
    np.save(tmp_path / "x.npy", x_test)
    script = ("import sys, numpy as np, netc; e = netc.load_ensemble(sys.argv[1]); "
              "np.save(sys.argv[3], e.predict(np.load(sys.argv[2])))")
    done = subprocess.run([sys.executable, "-c", script, str(out), str(tmp_path / "x.npy"), str(tmp_path / "p.npy")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    predicted = np.load(tmp_path / "p.npy")
    assert predicted.shape == (60, 10)
    np.testing.assert_allclose(predicted, expected, atol=1e-5)
    assert report["metrics"]["test"]["accuracy"] == pytest.approx(
        float(np.mean(predicted.argmax(1) == _mnist1d_arrays(42, 300)["y_test"])))


def test_running_again_reuses_the_finished_run_and_a_partial_run_keeps_its_members(finished, tmp_path):
    spec, out = finished
    logs: list[str] = []
    again = netc.ensemble_file(spec, out=out, log=logs.append)
    assert again.resumed and again.run_dir == out and "finished earlier" in logs[0]
    # a run killed after its members: the partial folder's members are picked up, nothing is trained again
    partial = tmp_path / ".resumed.partial"
    shutil.copytree(out, partial)
    (partial / "ensemble.json").unlink()
    (partial / "job.json").write_text(json.dumps({"job": again.report["job"]}))
    logs.clear()
    result = netc.ensemble_file(spec, out=tmp_path / "resumed", log=logs.append)
    assert sum("finished earlier, reusing it" in line for line in logs) == 3
    assert result.report["weights"] == pytest.approx(again.report["weights"])
    assert not partial.exists() and (tmp_path / "resumed" / "ensemble.json").is_file()


def test_the_cli_prints_the_table_and_refuses_a_busy_out_folder(finished, tmp_path, capsys):
    spec, out = finished
    from netc.cli import main

    assert main(["ensemble", str(spec), "--out", str(out), "--full"]) == 0  # --full: CI=true would mean --quick
    shown = capsys.readouterr().out
    for words in ("member", "val accuracy", "test accuracy", "weight", "Tiny(width=6)", "ensemble Mixed"):
        assert words in shown
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    assert main(["ensemble", str(spec), "--out", str(busy)]) == 2
    assert (busy / "keep.txt").read_text() == "mine"


def test_caruana_with_accuracy_objective_end_to_end_in_quick_mode(tmp_path):
    pytest.importorskip("keras")
    spec = tiny_spec(tmp_path, "caruana", "val_accuracy")
    result = netc.ensemble_file(spec, quick=True, runs_root=tmp_path / "runs")
    assert result.run_dir == tmp_path / "runs" / "quick" / "tiny" / "ensemble-Mixed"
    report = result.report
    assert report["settings"]["quick"] and report["fit"]["method"] == "caruana"
    assert report["fit"]["value"] <= min(report["fit"]["candidates"].values()) + 1e-12
    assert sum(report["fit"]["counts"]) >= 1
    assert report["members"][1]["tree_args"]["max_iter"] == 15


def test_a_tree_file_with_a_foreign_type_is_not_loaded(tmp_path):
    pytest.importorskip("skops")
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    from netc.runtime import trees

    sio.dump(FunctionTransformer(np.load), str(tmp_path / trees.SKOPS_FILE))  # would call numpy.load on predict
    with pytest.raises(trees.UnsafeModelError, match="numpy.load"):
        trees.load_tree("GradientBoosting", tmp_path, classify=True)


def test_a_tree_predicts_every_class_even_one_it_never_saw():
    pytest.importorskip("sklearn")
    from netc.runtime import trees

    x = np.random.RandomState(0).normal(size=(60, 4, 1))
    y = np.repeat([0, 2, 3], 20)
    model = trees.fit_tree(trees.make_tree("GradientBoosting", {"max_iter": 5}, True, 0), x, y)
    p = trees.tree_predict(model, x, True, 5)
    assert p.shape == (60, 5) and np.allclose(p.sum(1), 1) and (p[:, [1, 4]] == 0).all()


def test_a_tree_member_whose_package_is_missing_is_a_diagnostic_before_training(tmp_path):
    from netc.runtime import trees

    name = next((n for n in ("XGBoost", "LightGBM") if not trees.available(n)), None)
    if name is None:
        pytest.skip("LightGBM and XGBoost are both installed")
    spec = tiny_spec(tmp_path)
    spec.write_text(spec.read_text().replace("RandomForest(n_estimators=15)", f"{name}()"))
    with pytest.raises(netc.SpecError) as caught:
        netc.ensemble_file(spec, runs_root=tmp_path / "runs")
    assert [d.code for d in caught.value.diagnostics] == ["NC209"]
    assert caught.value.diagnostics[0].line == TINY.splitlines().index(
        "    members Tiny(width=6), GradientBoosting(max_iter=15), RandomForest(n_estimators=15)") + 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("name", ["LightGBM", "XGBoost"])
def test_lightgbm_and_xgboost_members_save_in_their_own_format_when_installed(name, tmp_path):
    from netc.runtime import trees

    if not trees.available(name):
        pytest.skip(f"{name} is not installed (an optional member)")
    rng = np.random.RandomState(0)
    x, y = rng.normal(size=(120, 6)).astype(np.float32), rng.randint(0, 3, 120)
    model = trees.fit_tree(trees.make_tree(name, {"n_estimators": 5}, True, 0), x, y)
    saved = trees.save_tree(name, model, tmp_path)
    assert not saved.endswith(".skops")
    loaded = trees.load_tree(name, tmp_path, True)
    np.testing.assert_allclose(trees.tree_predict(loaded, x, True, 3), trees.tree_predict(model, x, True, 3),
                               atol=1e-6)


def test_out_of_fold_weights_and_a_member_of_one_model_per_fold(tmp_path):
    pytest.importorskip("keras")
    spec = tiny_spec(tmp_path, "uniform")
    spec.write_text(spec.read_text().replace("    iterations 25\n", "    folds 2\n"))
    result = netc.ensemble_file(spec, runs_root=tmp_path / "runs", epochs=1)
    report = result.report
    assert report["settings"]["folds"] == 2 and report["data"]["samples"]["validation"] == 240
    assert report["weights"] == pytest.approx([1 / 3] * 3) and "out-of-fold" in report["data"]["validation"]
    first = report["members"][0]
    assert first["files"] == ["fold-1.keras", "fold-2.keras"] and len(first["runs"]) == 2
    assert report["members"][1]["files"] == ["fold-1/model.skops", "fold-2/model.skops"]
    x = np.zeros((3, 40), dtype=np.float32)
    assert result.ensemble.predict(x).shape == (3, 10)
