"""`netc run`: the main job. Every directive of a file in dependency order, resumable, with a closing table.

One tiny spec (a train block, a search and an ensemble of its top trials with a
gradient-boosted tree) runs on a quick budget: the ensemble first on its own,
which must run the search first, then `netc run`, which must reuse all of it.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import SPECS, tiny_network, write_spec

import netc
from netc.compiler.pipeline import analyze
from netc.runtime.main_job import plan_jobs

SPEC = "# the main job in miniature\n" + tiny_network(epochs=3) + """
model Flat {
    input x: (40,)
    Dense(10, activation="softmax")
}

train Flat {
    data mnist1d(num_samples=300)
    test_data mnist1d(split="test", num_samples=300)
    loss "sparse_categorical_crossentropy"
    metrics ["accuracy"]
    epochs 3
    seed 0
}

search Tiny {
    width = choice(4, 8)
    lr = loguniform(1e-3, 1e-2)
    strategy random
    trials 6
    objective val_accuracy maximize
}

ensemble Main {
    members Tiny.top(2), Flat(), GradientBoosting(max_iter=10)
    weights caruana
    iterations 20
}
"""


def test_jobs_run_trains_then_searches_then_ensembles():
    module = analyze(SPEC, "m.net").module
    assert plan_jobs(module) == [("train", "Flat"), ("search", "Tiny"), ("ensemble", "Main")]
    module = analyze((SPECS / "mnist1d.net").read_text(), "mnist1d.net").module
    jobs = plan_jobs(module)
    kinds = [kind for kind, _ in jobs]
    assert kinds == sorted(kinds, key=["train", "search", "ensemble"].index)
    assert ("search", "ResNet1D") in jobs and ("ensemble", "Main") in jobs


def test_the_readme_main_job_checks_clean_and_names_networks_and_trees():
    assert netc.check_file(SPECS / "mnist1d.net") == []
    from netc.runtime.ensemble_plan import plan_ensemble

    plan = plan_ensemble((SPECS / "mnist1d.net").read_text(), str(SPECS / "mnist1d.net"))
    kinds = {m.kind for m in plan.members}
    assert kinds == {"top", "network", "tree"} and plan.weights in ("nelder_mead", "caruana")


def test_a_file_with_errors_runs_nothing(tmp_path, capsys):
    from netc.cli import main

    spec = tmp_path / "bad.net"
    spec.write_text(SPEC.replace("Tiny.top(2)", "Tiny.top(0)"))
    assert main(["run", str(spec), "--quick"]) == 1
    assert "NC201" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory) -> Path:
    pytest.importorskip("keras")
    pytest.importorskip("optuna")
    pytest.importorskip("skops")
    folder = tmp_path_factory.mktemp("main_job")
    write_spec(folder, SPEC, "m.net")
    return folder


def test_an_ensemble_of_top_trials_runs_the_search_first_then_run_reuses_everything(spec_dir, monkeypatch, capsys):
    monkeypatch.chdir(spec_dir)
    logs: list[str] = []
    first = netc.ensemble_file("m.net", quick=True, log=logs.append)
    assert any("running its search first" in line for line in logs)
    report = first.report
    labels = [m["label"] for m in report["members"]]
    assert labels[:2] == [f"Tiny trial {m['trial']}" for m in report["members"][:2]] and labels[2:] == [
        "Flat()", "GradientBoosting(max_iter=10)"]
    assert first.run_dir == Path("runs/quick/m/ensemble-Main")
    assert (Path("runs/quick/m/search-Tiny")).is_dir()
    assert report["members"][0]["kind"] == "network" and report["members"][3]["kind"] == "tree"
    assert report["fit"]["value"] <= report["fit"]["candidates"]["uniform"] + 1e-12

    from netc.cli import main

    assert main(["run", "m.net", "--quick"]) == 0
    shown = capsys.readouterr()
    assert "ensemble Main: finished earlier" in shown.err
    for words in ("best single model", "ensemble Main", "test accuracy", "test error", "train Flat", "search Tiny"):
        assert words in shown.out
    jobs = json.loads(Path("runs/quick/m/jobs.json").read_text())
    assert set(jobs) == {"train-Flat", "search-Tiny"}

    started = time.perf_counter()
    logs.clear()
    result = netc.run_file("m.net", quick=True, log=logs.append)
    assert all(job.resumed for job in result.jobs), logs
    assert time.perf_counter() - started < 20
    rows = result.summary_rows()
    assert [r["what"] for r in rows] == ["best single model", "ensemble Main"]
    assert rows[1]["test"]["accuracy"] == report["metrics"]["test"]["accuracy"]


def test_an_edited_train_block_is_trained_again_and_the_rest_reused(spec_dir, monkeypatch):
    monkeypatch.chdir(spec_dir)
    no_search = SPEC[:SPEC.index("search Tiny")] + "ensemble Two { members Flat(), GradientBoosting(max_iter=5) }\n"
    Path("edited.net").write_text(no_search)
    netc.run_file("edited.net", quick=True)
    Path("edited.net").write_text(no_search.replace("    epochs 3\n    seed 0", "    epochs 4\n    seed 0"))
    result = netc.run_file("edited.net", quick=True)
    resumed = {f"{j.kind} {j.name}": j.resumed for j in result.jobs}
    assert resumed == {"train Tiny": True, "train Flat": False, "ensemble Two": False}
    assert [j.run_dir.name for j in result.jobs] == ["train-Tiny", "train-Flat-2", "ensemble-Two-2"]


def test_ci_true_means_quick_unless_full(monkeypatch):
    from netc.cli import _quick, make_parser

    parser = make_parser()
    monkeypatch.setenv("CI", "true")
    assert _quick(parser.parse_args(["run", "m.net"]))
    assert not _quick(parser.parse_args(["run", "m.net", "--full"]))
    monkeypatch.delenv("CI")
    assert not _quick(parser.parse_args(["ensemble", "m.net"]))
    assert _quick(parser.parse_args(["ensemble", "m.net", "--quick"]))
