"""The VS Code extension's TextMate grammar, run by vscode-textmate (npm) on every spec.

The grammar test is a Node script (editors/vscode/test/grammar.test.js); this test
installs its npm packages when they are missing (``npm ci``, from the lock file)
and runs it. Without node or npm it is skipped, saying why.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import ROOT, all_spec_files

VSCODE = ROOT / "editors" / "vscode"


def _node_modules_ready() -> bool:
    return all((VSCODE / "node_modules" / name / "package.json").exists()
               for name in ("vscode-textmate", "vscode-oniguruma"))


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("the TextMate grammar test needs node and npm (install Node.js 18 or newer)")
    if not _node_modules_ready():
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=VSCODE,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return node


def test_textmate_grammar_on_every_spec(node):
    specs = [str(p) for p in all_spec_files()]
    result = subprocess.run([node, str(VSCODE / "test" / "grammar.test.js"), *specs], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(specs) + 1} passed, 0 failed" in result.stdout


def test_extension_manifest():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    contributes = manifest["contributes"]
    assert contributes["languages"][0]["extensions"] == [".net"]
    assert (VSCODE / contributes["languages"][0]["configuration"]).exists()
    grammar = contributes["grammars"][0]
    assert grammar["scopeName"] == "source.netc" and (VSCODE / grammar["path"]).exists()
    assert json.loads((VSCODE / grammar["path"]).read_text(encoding="utf-8"))["scopeName"] == "source.netc"
    assert contributes["configuration"]["properties"]["netc.server.command"]["default"] == ["netc", "lsp"]
    assert "vscode-languageclient" in manifest["dependencies"]
    assert (VSCODE / manifest["main"]).exists()
    json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))
