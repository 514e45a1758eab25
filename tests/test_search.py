"""Search directives as Optuna studies (issue 5).

Static checks (ranges, the objective, every corner of the space), define-by-run
sampling, every strategy and pruner, and real searches run as the CLI runs
them: killed with SIGKILL in a trial and resumed, stopped by failures in a row,
and shared by two workers through a real PostgreSQL server (started by
``.ci/postgres.sh``, which exports NETC_TEST_POSTGRES_URL).
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import netc

optuna = pytest.importorskip("optuna")

ROOT = Path(__file__).resolve().parent.parent

TINY = """
model Tiny(width: int = 16, extra: bool = false, units: int = 8, dropout: float = 0.1) {
    input x: (40, 1)
    Conv1D(width, 5, padding="same")
    ReLU()
    GlobalAveragePooling1D()
    if extra { Dense(units, activation="relu") }
    Dropout(dropout)
    Dense(10, activation="softmax")
}
train Tiny(lr: float = 1e-3, unused: float = 0.5) {
    data mnist1d(num_samples=400)
    test_data mnist1d(split="test", num_samples=400)
    optimizer Adam(learning_rate=lr)
    loss "sparse_categorical_crossentropy"
    metrics ["accuracy"]
    epochs EPOCHS
    batch_size 64
    validation_split 0.25
}
search Tiny {
    width = choice(8, 16)
    extra = choice(true, false)
    units = int(4, 32)
    dropout = uniform(0.0, 0.5)
    lr = loguniform(1e-3, 1e-2)
    unused = uniform(0.0, 1.0)
    strategy STRATEGY
    trials TRIALS
    objective val_accuracy maximize
    seed 3
}
"""


def tiny(tmp_path: Path, epochs: int = 2, trials: int = 4, strategy: str = "random") -> Path:
    path = tmp_path / "tiny.net"
    path.write_text(TINY.replace("EPOCHS", str(epochs)).replace("TRIALS", str(trials))
                    .replace("STRATEGY", strategy), encoding="utf-8")
    return path


def codes(text: str) -> list[str]:
    return [d.code for d in netc.check_string(text)]


def by_code(text: str, code: str):
    return [d for d in netc.check_string(text) if d.code == code]


# ---- static checks ----------------------------------------------------------------

DEEP = """
model Net(kernel: int = 3, depth: int = 1, width: int = 8) {
    input x: (40, 1)
    repeat depth { Conv1D(width, kernel) }
    GlobalAveragePooling1D()
    Dense(10, activation="softmax")
}
train Net { data mnist1d() loss "sparse_categorical_crossentropy" validation_split 0.2 }
search Net {
    width  = choice(8, 128)
    kernel = choice(3, 11)
    depth  = int(1, 4)
}
"""


def test_a_corner_that_shrinks_a_dimension_to_zero_names_the_values_that_do_it():
    (d,) = by_code(DEEP, "NC501")
    assert d.severity == "error"
    # width does not matter; kernel 11 four times shrinks 40 steps to zero
    assert d.message.startswith("kernel=11, depth=4 make model 'Net' fail its checks")
    assert "NC302" in d.message and "line 4" in d.message
    assert (d.line, d.column) == (11, 5)  # the binding of kernel, the first parameter that makes it fail
    assert "narrow the range" in d.hint
    # the same model with a safe range checks clean
    assert codes(DEEP.replace("int(1, 4)", "int(1, 3)")) == []


def test_train_parameters_are_checked_at_their_corners_too():
    text = DEEP.replace("depth  = int(1, 4)", "depth  = int(1, 3)").replace(
        "train Net {", "train Net(bs: int = 32) { batch_size bs").replace(
        "search Net {", "search Net { bs = int(0, 64)")
    (d,) = by_code(text, "NC501")
    assert d.message.startswith("bs=0 makes train 'Net' fail its checks") and "batch_size" in d.message


def test_a_space_with_too_many_corners_is_sampled_and_says_so():
    params = ", ".join(f"p{i}: int = 1" for i in range(9))
    bindings = " ".join(f"p{i} = int(1, 2)" for i in range(9))
    text = (f"model M({params}) {{ input x: (40,) Dense(10, activation=\"softmax\") }}\n"
            "train M { data mnist1d() loss \"sparse_categorical_crossentropy\" }\n"
            f"search M {{ {bindings} }}")
    found = netc.check_string(text)
    assert [(d.code, d.severity) for d in found] == [("NC502", "info")]
    assert "512 corners; 256 of them were checked" in found[0].message


def test_search_ranges_are_checked_for_types_and_bounds():
    base = ("model M(w: int = 1, f: float = 0.5) { input x: (40,) Dense(10, activation=\"softmax\") }\n"
            "train M { data mnist1d() loss \"sparse_categorical_crossentropy\" metrics [\"accuracy\"] }\n")
    assert codes(base + "search M { w = int(1, 4, step=8) }") == ["NC204"]         # a step beyond the range
    assert codes(base + "search M { w = int(0, 4, log=true) }") == ["NC204"]       # log needs a positive low
    assert codes(base + "search M { w = int(1, 8, step=2, log=true) }") == ["NC204"]
    assert codes(base + "search M { f = uniform(0.5, 0.1) }") == ["NC204"]         # empty
    assert codes(base + "search M { w = uniform(1, 4) }") == ["NC201"]             # an int parameter
    assert codes(base + "search M { w = choice(1, \"a\") }") == ["NC201"]
    assert codes(base + "search M { f = uniform(0.0, 1.0, step=0.25) w = int(1, 7, step=2) }") == []


def test_the_objective_must_be_logged_by_the_train_block():
    base = ("model M(w: int = 1) { input x: (40,) Dense(10, activation=\"softmax\") }\n"
            "train M { data mnist1d() loss \"sparse_categorical_crossentropy\" metrics [\"accuracy\"] SPLIT }\n"
            "search M { w = int(1, 4) objective OBJECTIVE maximize }")
    ok = base.replace("SPLIT", "validation_split 0.2")
    assert codes(ok.replace("OBJECTIVE", "val_accuracy")) == []
    (d,) = by_code(ok.replace("OBJECTIVE", "val_acc"), "NC503")
    assert "did you mean 'val_accuracy'" in d.message
    (d,) = by_code(base.replace("SPLIT", "").replace("OBJECTIVE", "val_accuracy"), "NC503")
    assert "has none" in d.message


def test_the_language_md_search_checks_clean_and_checking_imports_no_framework():
    script = ("import sys, netc; found = netc.check_file(sys.argv[1]); "
              "print([d.code for d in found], [m for m in ('optuna', 'keras', 'tensorflow', 'sqlalchemy') "
              "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", script, str(ROOT / "specs" / "seed" / "tunable.net")],
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[] []", out.stderr


# ---- define-by-run ------------------------------------------------------------------

class FakeTrial:
    """Optuna's suggest_* API, answering from a table and recording what was asked."""

    def __init__(self, **answers):
        self.answers, self.asked = answers, []

    def _answer(self, name, default):
        self.asked.append(name)
        return self.answers.get(name, default)

    def suggest_categorical(self, name, choices):
        return self._answer(name, choices[0])

    def suggest_int(self, name, low, high, step=1, log=False):
        return self._answer(name, low)

    def suggest_float(self, name, low, high, step=None, log=False):
        return self._answer(name, low)


def test_a_parameter_under_an_untaken_if_is_never_sampled(tmp_path):
    from netc.runtime.search.space import load_search, sample_params

    spec = load_search(tiny(tmp_path))
    trial = FakeTrial(extra=False)
    params = sample_params(spec, trial)
    assert "units" not in trial.asked and "units" not in params
    assert "unused" not in trial.asked  # a train parameter that the train block never reads
    assert set(params) == {"width", "extra", "dropout", "lr"}
    trial = FakeTrial(extra=True, units=24)
    assert sample_params(spec, trial)["units"] == 24 and trial.asked.count("units") == 1


def test_choices_that_optuna_cannot_store_are_stored_as_spec_literals():
    from netc.compiler.directives import Distribution
    from netc.runtime.search.space import decode, encode

    dist = Distribution("kernel", "choice", ((3, 3), (5, 5)))
    assert encode(dist, (5, 5)) == "(5, 5)" and decode(dist, "(5, 5)") == (5, 5)
    plain = Distribution("w", "choice", (32, 64))
    assert encode(plain, 64) == 64


def test_choices_among_calls_are_stored_as_their_spec_text(tmp_path):
    from netc.runtime.search.space import decode, encode, load_search

    path = tmp_path / "calls.net"
    path.write_text("""
model R(cell: any = LSTM(8)) {
    input x: (40, 1)
    Bidirectional(cell)
    Dense(10, activation="softmax")
}
train R {
    data mnist1d(num_samples=300)
    loss "sparse_categorical_crossentropy"
    validation_split 0.2
}
search R {
    cell = choice(LSTM(8), LSTM(units=16))
    objective val_loss minimize
}
""", encoding="utf-8")
    dist = load_search(path).dists["cell"]
    stored = [encode(dist, choice) for choice in dist.choices]
    assert stored == ["LSTM(8)", "LSTM(units=16)"]
    assert [decode(dist, s) for s in stored] == list(dist.choices)


@pytest.mark.parametrize("strategy", ["random", "tpe", "grid", "cmaes", "qmc"])
@pytest.mark.parametrize("prune", ["none", "median", "hyperband"])
def test_every_strategy_and_pruner_samples_the_space(tmp_path, strategy, prune):
    from netc.runtime.search.space import load_search, make_pruner, make_sampler, sample_params

    text = tiny(tmp_path, strategy=strategy).read_text()
    if strategy == "grid":  # a grid needs finite values
        text = text.replace("uniform(0.0, 0.5)", "uniform(0.0, 0.5, step=0.25)").replace(
            "loguniform(1e-3, 1e-2)", "choice(1e-3, 1e-2)").replace("uniform(0.0, 1.0)", "choice(0.5)")
    path = tmp_path / "tiny.net"
    path.write_text(text.replace("seed 3", f"seed 3 prune {prune}"))
    assert netc.check_file(path) == []
    spec = load_search(path)
    study = optuna.create_study(direction=spec.direction, sampler=make_sampler(spec, "s", 0),
                                pruner=make_pruner(spec, spec.epochs))
    seen = []
    for _ in range(4):
        trial = study.ask()
        params = sample_params(spec, trial)
        assert ("units" in params) == params["extra"]
        assert params["width"] in (8, 16) and 0.0 <= params["dropout"] <= 0.5
        trial.report(0.5, 0)
        study.tell(trial, 0.5 + 0.01 * len(seen))
        seen.append(params)
    assert len(study.trials) == 4


def test_failures_in_a_row_count_only_errors_since_the_session_began():
    from datetime import datetime, timedelta

    from netc.runtime.search.worker import failures_in_a_row

    start = datetime(2026, 1, 1)

    def t(i, state, **attrs):
        return optuna.trial.create_trial(state=getattr(optuna.trial.TrialState, state),
                                         value=1.0 if state == "COMPLETE" else None, user_attrs=attrs)

    trials = [t(0, "COMPLETE"), t(1, "FAIL", error="boom"), t(2, "FAIL", interrupted=True), t(3, "FAIL", error="x")]
    for i, trial in enumerate(trials):
        trial.datetime_start = start + timedelta(seconds=i)
        trial.datetime_complete = start + timedelta(seconds=i, milliseconds=500)
    assert failures_in_a_row(trials, start.timestamp()) == (2, "x")
    assert failures_in_a_row(trials, (start + timedelta(seconds=3)).timestamp()) == (1, "x")


# ---- real searches -------------------------------------------------------------------

def _env() -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("NETC_SEARCH_STORAGE", None)
    return env


def _study(url: str, name: str):
    from netc.runtime.search.store import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(url))


def _assert_budget_kept(study, budget: int) -> list:
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(complete) == budget, [(t.number, t.state.name, t.user_attrs.get("error")) for t in study.trials]
    keys = [json.dumps(t.params, sort_keys=True) for t in complete]
    assert len(set(keys)) == len(keys), "a parameter set completed twice"
    assert not [t for t in study.trials if t.state.name == "FAIL" and t.user_attrs.get("error")]
    return complete


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_a_search_killed_in_a_trial_resumes_without_losing_or_repeating_trials(tmp_path):
    spec = tiny(tmp_path, epochs=10, trials=3)
    out = tmp_path / "run"
    url = f"sqlite:///{(out / 'study.db').resolve()}"
    command = [sys.executable, "-m", "netc", "search", str(spec), "--out", str(out)]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(), cwd=tmp_path)
    try:
        def in_a_trial():
            if not (out / "study.db").exists():
                return None
            try:
                trials = _study(url, "tiny-Tiny").get_trials()
            except Exception:  # noqa: BLE001 - the study may not exist yet
                return None
            done = [t for t in trials if t.state.name == "COMPLETE"]
            # a trial in its first epochs: far from telling the study, so the kill surely lands in it
            running = [t for t in trials if t.state.name == "RUNNING" and t.params
                       and 1 <= len(t.intermediate_values) <= 3]
            return (done, running[0]) if done and running else None

        done_before, killed = _wait_for(in_a_trial, 150, "a completed trial and another one training")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    worker_pid = int(killed.user_attrs["worker"].rsplit(":", 1)[1])
    _wait_for(lambda: not _alive(worker_pid), 20, "the worker to end with its netc search")
    assert _study(url, "tiny-Tiny").trials[killed.number].state.name == "RUNNING"  # killed in the trial

    resumed = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    study = _study(url, "tiny-Tiny")
    complete = _assert_budget_kept(study, 3)
    numbers = {t.number for t in complete}
    assert {t.number for t in done_before} <= numbers, "a completed trial was lost"
    rerun = [t for t in complete if t.system_attrs.get("failed_trial") == killed.number]
    assert len(rerun) == 1 and rerun[0].params == killed.params, "the killed trial did not run again as it was"
    assert study.trials[killed.number].state.name == "FAIL"

    # the run folder: every completed trial's model, the best model, results.csv and the plots
    for t in complete:
        assert (out / "trials" / str(t.number) / "model.keras").exists()
        assert (out / "trials" / str(t.number) / "metrics.json").exists()
    assert (out / "best" / "model.keras").exists()
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["state"] for r in rows].count("COMPLETE") == 3
    assert any("interrupted" in r["error"] for r in rows if r["number"] == str(killed.number))
    for plot in ("optimization_history.png", "param_importances.png", "parallel_coordinates.png"):
        assert (out / plot).stat().st_size > 1000
        (out / plot).unlink()
    report = subprocess.run([sys.executable, "-m", "netc", "report", str(out)], capture_output=True, text=True,
                            env=_env(), timeout=120)
    assert report.returncode == 0 and "best trials by val_accuracy" in report.stdout, report.stderr
    assert (out / "optimization_history.png").exists()

    from netc.runtime.search import top_trials

    records = top_trials(spec, None, 2, run_dir=out)
    values = sorted((t.value for t in complete), reverse=True)
    assert [r.value for r in records] == values[:2] and all(r.model_path.exists() for r in records)
    assert set(records[0].params) >= {"width", "extra", "dropout", "lr"}


def test_failing_trials_are_recorded_with_their_error_and_stop_the_search(tmp_path):
    spec = tmp_path / "nan.net"
    spec.write_text("""
model Nan(width: int = 8) {
    input x: (40,)
    Dense(width, activation="relu")
    Dense(10, activation="softmax")
}
train Nan(lr: float = 1e-3) {
    data mnist1d(num_samples=200)
    optimizer SGD(learning_rate=lr)
    loss "sparse_categorical_crossentropy"
    epochs 1
    validation_split 0.2
}
search Nan {
    width = choice(8, 16)
    lr = loguniform(1e15, 1e18)
    strategy random
    trials 4
    max_failures 2
}
""")
    done = subprocess.run([sys.executable, "-m", "netc", "search", str(spec)], capture_output=True, text=True,
                          env=_env(), cwd=tmp_path, timeout=300)
    assert done.returncode == 1
    assert "the search stopped: 2 trials failed in a row (max_failures 2)" in done.stderr
    assert "val_loss is nan after epoch 1" in done.stderr
    rows = list(csv.DictReader((tmp_path / "runs" / "nan" / "search-Nan" / "results.csv").open()))
    assert [(r["state"], r["error"]) for r in rows] == [("FAIL", "val_loss is nan after epoch 1")] * 2


def test_a_missing_study_is_a_clear_error(tmp_path):
    from netc.runtime.search import NoStudyError, top_trials

    with pytest.raises(NoStudyError, match="run 'netc search SPEC' first"):
        top_trials(tiny(tmp_path), "Tiny", 3, runs_root=tmp_path / "runs")


@pytest.mark.skipif(not os.environ.get("NETC_TEST_POSTGRES_URL"),
                    reason="NETC_TEST_POSTGRES_URL is not set: start a server with 'eval \"$(bash .ci/postgres.sh)\"'")
def test_two_workers_share_a_postgresql_study_without_losing_or_repeating_trials(tmp_path):
    url = os.environ["NETC_TEST_POSTGRES_URL"]
    name = f"netc-test-{uuid.uuid4().hex[:10]}"
    spec = tiny(tmp_path, epochs=2, trials=4)
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "netc", "search", str(spec), "--workers", "2", "--storage", url,
                           "--study", name, "--out", str(out)], capture_output=True, text=True, env=_env(),
                          timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    study = _study(url, name)
    complete = _assert_budget_kept(study, 4)
    assert len({t.user_attrs["worker"] for t in complete}) == 2, "both workers ran trials"
    assert all((out / "trials" / str(t.number) / "model.keras").exists() for t in complete)
    assert json.loads((out / "search.json").read_text())["storage"].count("***") == 1  # no password on disk
    optuna.delete_study(study_name=name, storage=url.replace("postgresql://", "postgresql+psycopg2://"))
