"""Untrusted specs are safe to lint and compile.

A fresh process warms up netc and Keras, installs ``sys.addaudithook``, then
checks and compiles hostile specs. No import, exec, compile of code,
subprocess or file opened outside the spec's folder may happen.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HOSTILE = Path(__file__).resolve().parent / "hostile"

SCRIPT = textwrap.dedent("""
    import json, os, sys
    spec_dir = os.path.realpath(sys.argv[1])
    import netc, keras
    # warm-up: every import and lazy initialization of the normal path happens here, before the hook
    netc.compile_file(os.path.join(spec_dir, "benign_but_compiled.net"))
    netc.check_file(os.path.join(spec_dir, "names.net"))
    keras.backend.clear_session()
    events = []
    WATCHED = {"exec", "compile", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
               "subprocess.Popen", "ctypes.dlopen", "pickle.find_class", "marshal.loads", "builtins.input"}

    def hook(event, args):
        if event == "import":
            events.append([event, str(args[0])])
        elif event in WATCHED:
            events.append([event, str(args[:1])[:120]])
        elif event == "open":
            path = args[0]
            if isinstance(path, int):
                return
            real = os.path.realpath(os.fsdecode(path))
            if not real.startswith(spec_dir):
                events.append([event, real])

    sys.addaudithook(hook)
    results = {}
    for name in sorted(os.listdir(spec_dir)):
        path = os.path.join(spec_dir, name)
        diagnostics = netc.check_file(path)
        try:
            model = netc.compile_file(path, model=None if name.startswith("benign") else "Hostile")
            outcome = "compiled:%d" % model.count_params()
        except netc.SpecError as e:
            outcome = "refused:" + ",".join(sorted({d.code for d in e.diagnostics}))
        results[name] = [sorted({d.code for d in diagnostics}), outcome]
    print("RESULT " + json.dumps({"events": events, "results": results}))
""")


def test_hostile_specs_reach_no_import_exec_subprocess_or_outside_file():
    pytest.importorskip("keras")
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(HOSTILE)], capture_output=True, text=True, timeout=300)
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
    assert line is not None, out.stdout + out.stderr
    report = json.loads(line[len("RESULT "):])
    assert report["events"] == []
    codes, outcome = report["results"]["names.net"]
    assert outcome.startswith("refused:") and "NC101" in codes
    assert report["results"]["benign_but_compiled.net"][1].startswith("compiled:")


def test_no_eval_exec_pickle_or_dynamic_import_in_netc():
    root = Path(__file__).resolve().parent.parent / "netc"
    forbidden = [r"\beval\(", r"\bexec\(", r"(?<!allow_)pickle", r"joblib", r"import_module\(", r"__import__",
                 r"\bmarshal\b"]
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for pattern in forbidden:
            assert not re.search(pattern, text), f"{path.relative_to(root.parent)} matches {pattern}"
