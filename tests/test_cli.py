"""The ``netc`` command: output formats, exit codes, and the static summary."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import GOLDEN, ROOT, SPECS
from netc.cli import main

DIAGNOSTIC_FIELDS = {"file", "line", "column", "end_line", "end_column", "severity", "code", "message", "hint"}


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_text_shows_location_source_caret_and_hint(capsys):
    code, out, _ = run(capsys, "check", str(GOLDEN / "unknown_names.net"))
    assert code == 1
    lines = out.splitlines()
    first = lines.index(next(l for l in lines if "NC101" in l))
    assert lines[first] == (f"{GOLDEN / 'unknown_names.net'}:9:5: error[NC101]: unknown layer 'SeperableConv2D'; "
                            "did you mean 'SeparableConv2D'?")
    assert lines[first + 1].endswith('SeperableConv2D(widht, 3, activation="relu")')
    caret = lines[first + 2]
    assert caret.strip() == "^" * len("SeperableConv2D")
    assert caret.index("^") == lines[first + 1].index("SeperableConv2D")
    assert lines[first + 3] == "  = hint: replace it with 'SeparableConv2D'"


def test_check_json_has_exactly_the_diagnostic_fields(capsys):
    code, out, _ = run(capsys, "check", "--format", "json", str(GOLDEN / "arguments.net"))
    assert code == 1
    found = json.loads(out)
    assert found and all(set(d) == DIAGNOSTIC_FIELDS for d in found)
    assert found[0]["line"] == 3 and found[0]["code"] == "NC201"


def test_check_recurses_into_directories_and_exits_zero_when_clean(capsys):
    code, out, _ = run(capsys, "check", "--format", "json", str(SPECS))
    assert code == 0, out
    assert all(d["severity"] != "error" for d in json.loads(out))


def test_warnings_alone_exit_zero(tmp_path, capsys):
    spec = tmp_path / "w.net"
    spec.write_text("model M { input x: (4,) input unused: (2,) from x Dense(1) }")
    code, out, _ = run(capsys, "check", str(spec))
    assert code == 0 and "warning[NC109]" in out


@pytest.mark.parametrize("argv", [["check"], ["check", "/no/such/file.net"], ["explain", "NC999"],
                                  ["summary", str(GOLDEN / "clean_rank_and_flow.net"), "--param", "oops"],
                                  ["frobnicate"]])
def test_usage_errors_exit_two(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    assert code == 2


def test_explain_prints_the_code_doc(capsys):
    code, out, _ = run(capsys, "explain", "nc102")
    assert code == 0 and out.startswith("NC102 (error): ")


def test_summary_json_is_static_and_complete(capsys):
    code, out, _ = run(capsys, "summary", str(GOLDEN / "clean_rank_and_flow.net"), "--format", "json",
                       "--param", "width=8", "--param", "deep=false")
    assert code == 0
    summary = json.loads(out)
    assert set(summary) == {"model", "params", "trainable_params", "non_trainable_params", "inputs", "outputs",
                            "layers"}
    assert summary["inputs"] == [[32, 32, 3], [5]]
    assert summary["outputs"] == [[10], [1]]
    assert summary["params"] == summary["trainable_params"] + summary["non_trainable_params"]
    assert summary["params"] == sum(l["params"] for l in summary["layers"])
    assert all(set(l) == {"line", "layer", "output_shape", "params"} for l in summary["layers"])


def test_summary_text_table(capsys):
    code, out, _ = run(capsys, "summary", str(SPECS / "seed" / "small_sep_conv.net"))
    assert code == 0
    assert "SeparableConv2D" in out and "(None, 62, 62, 32)" in out and "Total params:" in out


def test_summary_of_a_broken_spec_shows_errors(capsys):
    code, _, err = run(capsys, "summary", str(GOLDEN / "shapes.net"))
    assert code == 1 and "NC302" in err


def test_ir_and_model_selection(capsys):
    code, out, _ = run(capsys, "ir", str(GOLDEN / "rank.net"))
    assert code == 1
    code, _, err = run(capsys, "ir", str(GOLDEN / "rank.net"), "--model", "Rank2d")
    assert code == 1 and "did you mean 'Rank2D'" in err


def test_module_runs_as_a_command():
    out = subprocess.run([sys.executable, "-m", "netc", "explain", "NC305"], capture_output=True, text=True,
                         cwd=str(ROOT))
    assert out.returncode == 0 and "residual" in out.stdout


def test_build_saves_a_model_that_loads_in_safe_mode(tmp_path, capsys):
    keras = pytest.importorskip("keras")
    out_file = tmp_path / "m.keras"
    code, out, _ = run(capsys, "build", str(SPECS / "seed" / "conv_bn.net"), "--save", str(out_file))
    assert code == 0 and out_file.exists()
    loaded = keras.saving.load_model(out_file, safe_mode=True)
    assert [l.axis for l in loaded.layers if l.__class__.__name__ == "BatchNormalization"] == [1, -1]
