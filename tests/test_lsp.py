"""``netc lsp`` driven by a real LSP client over stdio (pytest-lsp), plus its incremental analysis.

The server runs as ``python -m netc lsp``, as an editor starts it.
"""
from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import GOLDEN, all_spec_files

from netc.compiler.parser import parse
from netc.compiler.pipeline import safe_analyze
from netc.lsp.incremental import DocumentAnalyzer, IncrementalParser

pytest_lsp = pytest.importorskip("pytest_lsp", reason="the LSP tests need pytest-lsp (pip install -e '.[test]')")
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

ROOT = Path(__file__).resolve().parent.parent
SERVER = [sys.executable, "-m", "netc", "lsp"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

BLOCKS = """\
block sep_bn(filters: int, kernel: int = 3) {
    SeparableConv2D(filters, kernel, padding="same", use_bias=false)
    BatchNormalization()
    ReLU()
}

model Net(width: int = 32, depth: int = 2) {
    input image: (32, 32, 3)
    Conv2D(width, 3, padding="same") as stem
    repeat depth {
        sep_bn(width)
    }
    sep_bn(width, kernel=5) as side
    Add() <- stem, side
    GlobalAveragePooling2D()
    Dense(10, activation="softmax")
}

train Net(lr: float = 1e-3) {
    data npz("train.npz")
    optimizer Adam(learning_rate=lr)
    loss "sparse_categorical_crossentropy"
    epochs 3
}

search Net {
    width = choice(16, 32)
    lr = loguniform(1e-4, 1e-2)
    trials 4
}
"""


def uri_of(name: str) -> str:
    return (ROOT / "build" / "lsp-test" / name).as_uri()


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=SERVER, server_env=ENV))
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), process_id=os.getpid(), root_uri=ROOT.as_uri()))
    yield
    await lsp_client.shutdown_session()


def _plain(value):
    """pygls answers a custom request with namedtuple-like objects: turn them into dicts."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def stats(client: LanguageClient) -> dict:
    found = _plain(await client.protocol.send_request_async("netc/stats", {}))
    found["published"] = {uri: versions for uri, versions in found["published"]}
    return found


async def published(client: LanguageClient, uri: str, version: int, timeout: float = 20.0) -> list:
    """The diagnostics published for ``version`` of a document (waits for them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = (await stats(client)).get("published", {}).get(uri, [])
        if found and found[-1] == version:
            return list(client.diagnostics[uri])
        await asyncio.sleep(0.02)
    raise AssertionError(f"no diagnostics for version {version} of {uri}")


async def published_again(client: LanguageClient, uri: str, count: int, timeout: float = 20.0) -> list:
    """The diagnostics of the next publication for a document that has had ``count`` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len((await stats(client)).get("published", {}).get(uri, [])) > count:
            return list(client.diagnostics[uri])
        await asyncio.sleep(0.02)
    raise AssertionError(f"no new diagnostics for {uri}")


def open_doc(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id="netc", version=version, text=text)))


def change_doc(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        [types.TextDocumentContentChangeWholeDocument(text=text)]))


def expected(text: str) -> list[tuple]:
    """What ``netc check`` reports, as LSP would show it: (code, 0-based range)."""
    return [(d.code, d.line - 1, d.column - 1, d.end_line - 1, d.end_column - 1)
            for d in safe_analyze(text, "x.net").diagnostics]


def got(diagnostics) -> list[tuple]:
    return [(d.code, d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character)
            for d in diagnostics]


def position_of(text: str, needle: str, offset: int = 0) -> types.Position:
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    return types.Position(line, index - (text.rfind("\n", 0, index) + 1))


# ---- diagnostics -------------------------------------------------------------------------------

@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", ["unknown_names.net", "syntax_errors.net", "directives.net", "shapes.net"])
async def test_diagnostics_are_those_of_netc_check(client: LanguageClient, name: str):
    text = (GOLDEN / name).read_text(encoding="utf-8")
    uri = uri_of(name)
    open_doc(client, uri, text)
    diagnostics = await published(client, uri, 1)
    assert got(diagnostics) == expected(text)
    assert all(d.source == "netc" for d in diagnostics)


@pytest.mark.asyncio(loop_scope="module")
async def test_semantic_diagnostics_survive_syntax_errors(client: LanguageClient):
    text = (GOLDEN / "syntax_errors.net").read_text(encoding="utf-8")
    diagnostics = await published(client, uri_of("syntax_errors.net"), 1) if uri_of("syntax_errors.net") in \
        (await stats(client))["published"] else None
    if diagnostics is None:
        open_doc(client, uri_of("syntax_errors.net"), text)
        diagnostics = await published(client, uri_of("syntax_errors.net"), 1)
    codes = {d.code for d in diagnostics}
    assert {"NC001", "NC002"} <= codes and "NC101" in codes  # 'Dens' in the model that parses


@pytest.mark.asyncio(loop_scope="module")
async def test_change_and_save_update_diagnostics(client: LanguageClient):
    uri = uri_of("change.net")
    open_doc(client, uri, BLOCKS)
    assert await published(client, uri, 1) == []
    broken = BLOCKS.replace("GlobalAveragePooling2D()", "GlobalAveragPooling2D()")
    change_doc(client, uri, broken, 2)
    diagnostics = await published(client, uri, 2)
    assert got(diagnostics) == expected(broken)
    assert diagnostics[0].code == "NC101" and "did you mean 'GlobalAveragePooling2D'" in diagnostics[0].message
    count = len((await stats(client))["published"][uri])
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        types.TextDocumentIdentifier(uri=uri), text=BLOCKS))
    assert await published_again(client, uri, count) == []  # version 2 again, analyzed from the saved text


@pytest.mark.asyncio(loop_scope="module")
async def test_rapid_changes_are_coalesced(client: LanguageClient):
    uri = uri_of("rapid.net")
    # big enough that one analysis outlasts the arrival of the whole burst of changes
    layers = "\n".join(["    Conv2D(8, 3, padding=\"same\")", "    BatchNormalization()", "    ReLU()"] * 1000)
    text = f"model Rapid {{\n    input x: (16, 16, 3)\n{layers}\n}}\n"
    open_doc(client, uri, text)
    await published(client, uri, 1)
    before = (await stats(client))["analyses"]
    versions = 40
    for version in range(2, versions + 2):
        change_doc(client, uri, f"# version {version}\n" * version + text, version)  # every line moves
    last = versions + 1
    await published(client, uri, last)
    after = await stats(client)
    assert after["analyses"] - before < versions  # intermediate versions were skipped
    assert after["published"][uri][-1] == last
    assert all(v in (1, last) or v < last for v in after["published"][uri])


# ---- hover, completion, navigation ---------------------------------------------------------------

async def _opened(client: LanguageClient, name: str, text: str) -> str:
    uri = uri_of(name)
    if uri not in (await stats(client))["published"]:
        open_doc(client, uri, text)
        await published(client, uri, 1)
    return uri


async def hover_text(client, uri, position) -> str | None:
    result = await client.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri=uri), position))
    return None if result is None else result.contents.value


@pytest.mark.asyncio(loop_scope="module")
async def test_hover(client: LanguageClient):
    uri = await _opened(client, "nav.net", BLOCKS)
    layer = await hover_text(client, uri, position_of(BLOCKS, "Conv2D(width", 2))
    assert "keras.layers.Conv2D" in layer and "(None, 32, 32, 32)" in layer and "896 parameters" in layer
    assert "convolution" in layer.lower()  # the docstring's summary
    argument = await hover_text(client, uri, position_of(BLOCKS, "padding=\"same\") as", 1))
    assert "padding" in argument and '"valid"' in argument and "same" in argument
    block = await hover_text(client, uri, position_of(BLOCKS, "sep_bn(width)", 1))
    assert "block sep_bn(filters: int, kernel: int = 3)" in block
    param = await hover_text(client, uri, position_of(BLOCKS, "repeat depth", 8))
    assert "depth: int = 2" in param
    in_block = await hover_text(client, uri, position_of(BLOCKS, "SeparableConv2D", 3))
    assert "(None, 32, 32, 32)" in in_block  # the block's instances in model Net


@pytest.mark.asyncio(loop_scope="module")
async def test_completion(client: LanguageClient):
    uri = uri_of("complete.net")
    text = BLOCKS.replace("    GlobalAveragePooling2D()\n", "    GlobalAveragePooling2D()\n    \n")
    open_doc(client, uri, text)
    await published(client, uri, 1)

    async def labels(position):
        result = await client.text_document_completion_async(types.CompletionParams(
            types.TextDocumentIdentifier(uri=uri), position))
        return {item.label: item for item in result.items}

    blank = position_of(text, "    \n    Dense(10", 4)
    found = await labels(blank)
    assert {"Conv2D", "Dense", "SeparableConv2D", "sep_bn", "repeat", "residual"} <= set(found)
    assert found["sep_bn"].kind == types.CompletionItemKind.Function
    inside = position_of(text, 'Dense(10, activation="softmax")', len("Dense(10, "))
    found = await labels(inside)
    assert {"units", "activation", "use_bias", "kernel_initializer"} <= set(found)
    assert "width" in found and "depth" in found  # the model's parameters
    assert "bool" in found["use_bias"].detail and "true" in found["use_bias"].detail
    block_args = await labels(position_of(text, "sep_bn(width, kernel=5)", len("sep_bn(width, ")))
    assert "filters" in block_args
    merge_inputs = await labels(position_of(text, "Add() <- stem", len("Add() <- ")))
    assert {"image", "stem", "side"} <= set(merge_inputs) and "Dense" not in merge_inputs


@pytest.mark.asyncio(loop_scope="module")
async def test_definition_and_references(client: LanguageClient):
    uri = await _opened(client, "nav.net", BLOCKS)

    async def definition(needle, offset=1):
        result = await client.text_document_definition_async(types.DefinitionParams(
            types.TextDocumentIdentifier(uri=uri), position_of(BLOCKS, needle, offset)))
        return [(loc.range.start.line, loc.range.start.character) for loc in result]

    async def references(needle, offset=1):
        result = await client.text_document_references_async(types.ReferenceParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=position_of(BLOCKS, needle, offset),
            context=types.ReferenceContext(include_declaration=False)))
        return sorted((loc.range.start.line, loc.range.start.character) for loc in result)

    def at(needle, offset=0):
        p = position_of(BLOCKS, needle, offset)
        return (p.line, p.character)

    assert await definition("sep_bn(width)") == [at("sep_bn(filters")]
    assert await definition("<- stem", 4) == [at("stem\n", 0)]
    assert await definition("repeat depth", 8) == [at("depth: int = 2")]
    assert await definition("learning_rate=lr", len("learning_rate=")) == [at("lr: float")]
    assert await definition("search Net", 8) == [at("Net(width")]
    assert await references("sep_bn(filters") == [at("sep_bn(width)"), at("sep_bn(width, kernel")]
    assert await references("stem\n") == [at("<- stem", 3)]
    assert await references("width: int = 32") == [at("Conv2D(width", 7), at("sep_bn(width)", 7),
                                                    at("sep_bn(width, kernel", 7), at("width = choice")]


@pytest.mark.asyncio(loop_scope="module")
async def test_document_symbols(client: LanguageClient):
    uri = await _opened(client, "nav.net", BLOCKS)
    result = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        types.TextDocumentIdentifier(uri=uri)))
    assert [(s.name, s.kind) for s in result] == [
        ("sep_bn", types.SymbolKind.Function), ("Net", types.SymbolKind.Class), ("Net", types.SymbolKind.Event),
        ("Net", types.SymbolKind.Event)]
    assert [c.name for c in result[1].children] == ["image", "stem", "side"]


@pytest.mark.asyncio(loop_scope="module")
async def test_formatting_is_netc_fmt(client: LanguageClient):
    from netc.fmt import format_text

    text = "model  M(w:int=4) { input x:(4,)\n  Dense(w,activation='relu')   # units\n}\n"
    uri = uri_of("fmt.net")
    open_doc(client, uri, text)
    await published(client, uri, 1)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        types.TextDocumentIdentifier(uri=uri), types.FormattingOptions(tab_size=4, insert_spaces=True)))
    assert len(edits) == 1 and edits[0].new_text == format_text(text)
    assert edits[0].range.start == types.Position(0, 0) and edits[0].range.end.line == 3


@pytest.mark.asyncio(loop_scope="module")
async def test_code_action_applies_did_you_mean(client: LanguageClient):
    text = (GOLDEN / "unknown_names.net").read_text(encoding="utf-8")
    uri = uri_of("unknown_names.net")
    diagnostics = await published(client, uri, 1) if uri in (await stats(client))["published"] else None
    if diagnostics is None:
        open_doc(client, uri, text)
        diagnostics = await published(client, uri, 1)
    target = next(d for d in diagnostics if d.code == "NC101")
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri=uri), target.range, types.CodeActionContext(diagnostics=[target])))
    assert actions, "a did-you-mean diagnostic has a quick fix"
    edit = actions[0].edit.changes[uri][0]
    assert edit.range == target.range and f"did you mean '{edit.new_text}'" in target.message
    assert actions[0].kind == types.CodeActionKind.QuickFix
    fixable = [d for d in diagnostics if "did you mean" in d.message and d.code in ("NC101", "NC102", "NC103",
                                                                                    "NC104")]
    assert all(d.data and d.data.get("fix") for d in fixable)


# ---- robustness ------------------------------------------------------------------------------------

@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=SERVER, server_env={**ENV, "NETC_LSP_FAULT": "hover"}))
async def faulty(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio(loop_scope="module")
async def test_a_failing_handler_is_reported_and_the_server_goes_on(faulty: LanguageClient):
    uri = uri_of("faulty.net")
    open_doc(faulty, uri, BLOCKS)
    await published(faulty, uri, 1)
    result = await faulty.text_document_hover_async(types.HoverParams(
        types.TextDocumentIdentifier(uri=uri), position_of(BLOCKS, "Conv2D", 1)))
    assert result is None
    assert any("hover failed" in m.message for m in faulty.log_messages)
    assert any("hover failed" in m.message for m in faulty.messages)
    change_doc(faulty, uri, BLOCKS.replace("Dense(10", "Dens(10"), 2)
    assert [d.code for d in await published(faulty, uri, 2)] == ["NC101"]  # still serving
    assert (await stats(faulty))["errors"] >= 1


def _lsp_message(payload: str) -> bytes:
    body = payload.encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_the_server_exits_when_its_input_closes():
    server = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env=ENV)
    server.stdin.close()
    assert server.wait(timeout=30) is not None


def test_the_server_exits_when_the_editor_process_dies():
    editor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    server = subprocess.Popen(SERVER, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=ENV)
    try:
        init = ('{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": %d, '
                '"capabilities": {}}}' % editor.pid)
        server.stdin.write(_lsp_message(init))
        server.stdin.flush()
        time.sleep(1.0)
        assert server.poll() is None  # the editor is alive: keep serving
        editor.kill()
        editor.wait()
        assert server.wait(timeout=30) == 0  # stdin stays open: only the watchdog can end it
    finally:
        for p in (server, editor):
            if p.poll() is None:
                p.kill()


# ---- the incremental analysis equals a fresh one -------------------------------------------------

_SNIPPETS = ["Dense(3)", "\n", " ", "(", ")", "{", "}", "x", " as y", "# c\n", "Conv2D(8, 3)\n", ",", "=",
             "repeat 2 { ReLU() }", "model Q { input z: (3,) Dense(2) }\n", '"', "1e-3", " <- a, b", "7",
             "\n    ReLU()\n", "if true { Dense(2) } else { }", "shortcut { }", "else {}", "modelx", "as(3)"]


def _edits(text: str, rng: random.Random, count: int):
    original = text
    for _ in range(count):
        if rng.random() < 0.3:
            text = original
        pos = rng.randrange(len(text) + 1)
        k = rng.random()
        if k < 0.5:
            text = text[:pos] + rng.choice(_SNIPPETS) + text[pos:]
        elif k < 0.8:
            text = text[:pos] + text[min(len(text), pos + rng.randrange(1, 12)):]
        else:
            text = text[:pos] + rng.choice(_SNIPPETS) + text[min(len(text), pos + rng.randrange(1, 5)):]
        yield text


def test_incremental_parse_equals_a_full_parse_on_random_edits():
    rng = random.Random(7)
    spliced = 0
    small = [p for p in all_spec_files() if p.stat().st_size < 2500]
    for path in rng.sample(small, min(8, len(small))) + [ROOT / "specs" / "seed" / "blocks.net"]:
        parser = IncrementalParser(str(path))
        text = path.read_text(encoding="utf-8")
        parser.parse(text)
        for version in _edits(text, rng, 25):
            assert parser.parse(version) == parse(version, str(path)), (path, version)
        spliced += parser.partial_parses
    assert spliced > 30  # the splice is really used


def test_incremental_analysis_equals_netc_check():
    rng = random.Random(11)
    reused = 0
    for path in [ROOT / "specs" / "seed" / "blocks.net", ROOT / "specs" / "applications" / "resnet50.net",
                 ROOT / "specs" / "seed" / "tunable.net", GOLDEN / "directives.net", GOLDEN / "unknown_names.net"]:
        analyzer = DocumentAnalyzer(str(path))
        text = path.read_text(encoding="utf-8")
        assert analyzer.analyze(text).diagnostics == safe_analyze(text, str(path)).diagnostics
        for version in _edits(text, rng, 25):
            got, want = analyzer.analyze(version), safe_analyze(version, str(path))
            assert got.diagnostics == want.diagnostics, version
            assert _graphs(got) == _graphs(want), version
        reused += analyzer.reused
    assert reused > 5  # unchanged and moved models kept their graphs


def _graphs(analysis) -> dict:
    return {name: [(nd.id, nd.layer, nd.span, nd.line, nd.shape, nd.params, nd.label, tuple(nd.inputs))
                   for nd in graph.nodes] for name, graph in analysis.graphs.items()}


def test_quick_fixes_of_every_did_you_mean():
    from netc.lsp import features

    text = """model M {
    data_format channels_first
    input x: (3, 8, 8)
    Conv2D(4, 3, padding="sme") as c
    Flaten()
    Dense(2, activaton="relu")
    from cc
}
model N {
    data_format channels_first
    input x: (3, 8, 8)
    Conv2D(4, 3)
    BatchNormalization(axis=-1)
    Dense(2)
}
train M {
    epoch 3
}
"""
    analysis = safe_analyze(text, "x.net")
    lines = text.split("\n")
    fixes = {}
    for d in analysis.diagnostics:
        fix = features.replacement(d, lines)
        if fix is not None:
            fixes[d.code + ":" + lines[d.line - 1][d.column - 1:d.end_column - 1]] = fix
    assert fixes == {"NC201:\"sme\"": '"same"', "NC101:Flaten": "Flatten", "NC102:activaton": "activation",
                     "NC104:cc": "c", "NC304:-1": "1", "NC207:epoch": "epochs"}


def test_the_server_and_the_formatter_import_no_framework():
    code = ("import sys, netc.lsp.server, netc.fmt, netc.cli; "
            "bad = [m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV, timeout=120)


def test_the_collector_skips_what_the_server_holds_and_collects_fully_now_and_then(monkeypatch):
    import gc

    from netc.lsp import server as lsp_server

    ls = lsp_server.NetcLanguageServer()
    full = []
    monkeypatch.setattr(gc, "collect", lambda *args: full.append(args) or 0)
    try:
        for _ in range(lsp_server.FULL_COLLECTION_EVERY):
            ls._hold_gc()
            assert not gc.isenabled()  # no collector pass inside an analysis
            ls._release_gc()
            assert gc.isenabled()
        assert gc.get_freeze_count() > 0 and len(full) == 1
    finally:
        gc.unfreeze()
        gc.enable()
        ls.executor.shutdown()
