"""``netc lsp``: the language server, pygls over stdio.

Analysis runs on one worker thread, one document version at a time: a change
that arrives while a version is being analyzed is only recorded, and when the
analysis ends the newest version is analyzed next (the ones in between never
are). Diagnostics are published only for the version that is still the newest.
``DocumentAnalyzer`` makes each analysis incremental.

A handler that raises is logged to the client (``window/logMessage``, and once
``window/showMessage``) and answers with an empty result; the server goes on.
The server exits when its input closes, on ``exit``, or when the editor's
process (``processId``) is gone.
"""
from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import threading
import time
import traceback
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace.position_codec import PositionCodec, ServerTextPosition

from netc import __version__
from netc import diagnostics as dg
from netc.compiler.pipeline import Analysis
from netc.diagnostics import Diagnostic, Span
from netc.lsp import features as F
from netc.lsp.incremental import DocumentAnalyzer
from netc.processes import process_alive

log = logging.getLogger("netc.lsp")

PARENT_POLL_SECONDS = 2.0
STATS_METHOD = "netc/stats"
_SEVERITY = {dg.ERROR: types.DiagnosticSeverity.Error, dg.WARNING: types.DiagnosticSeverity.Warning,
             dg.INFO: types.DiagnosticSeverity.Information}
_COMPLETION_KIND = {
    "layer": types.CompletionItemKind.Class, "block": types.CompletionItemKind.Function,
    "model": types.CompletionItemKind.Module, "keyword": types.CompletionItemKind.Keyword,
    "argument": types.CompletionItemKind.Property, "param": types.CompletionItemKind.Variable,
    "tensor": types.CompletionItemKind.Variable, "setting": types.CompletionItemKind.Field,
    "value": types.CompletionItemKind.Value, "type": types.CompletionItemKind.TypeParameter,
}
_SYMBOL_KIND = {
    "model": types.SymbolKind.Class, "block": types.SymbolKind.Function, "train": types.SymbolKind.Event,
    "search": types.SymbolKind.Event, "ensemble": types.SymbolKind.Event, "tensor": types.SymbolKind.Variable,
}


@dataclass
class _Document:
    uri: str
    analyzer: DocumentAnalyzer
    text: str = ""
    version: int | None = None
    analysis: Analysis | None = None
    analyzed_text: str = ""
    index: F.Index | None = None
    task: asyncio.Task | None = None
    published: deque = field(default_factory=lambda: deque(maxlen=256))  # (version, seconds) of the last publications


FULL_COLLECTION_EVERY = 100  # analyses between two full garbage collections


class NetcLanguageServer(LanguageServer):
    def __init__(self, debounce: float = 0.0):
        super().__init__("netc", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.documents: dict[str, _Document] = {}
        self.debounce = debounce
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netc-analysis")
        self.analyses = 0
        self.errors = 0
        self._gc_holds = 0
        self._released = 0
        self._shown_error = False
        self.fault = os.environ.get("NETC_LSP_FAULT")  # fault injection for the tests: a handler name

    # -- documents
    def document(self, uri: str) -> _Document:
        doc = self.documents.get(uri)
        if doc is None:
            path = to_fs_path(uri) or uri
            doc = self.documents[uri] = _Document(uri, DocumentAnalyzer(path))
        return doc

    def changed(self, uri: str, text: str, version: int | None) -> None:
        doc = self.document(uri)
        doc.text, doc.version = text, version
        if doc.task is None or doc.task.done():
            doc.task = asyncio.get_running_loop().create_task(self._analyze_latest(doc))

    async def _analyze_latest(self, doc: _Document) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self.debounce:
                await asyncio.sleep(self.debounce)
            text, version = doc.text, doc.version
            started = time.perf_counter()
            self._hold_gc()
            try:
                try:
                    analysis = await loop.run_in_executor(self.executor, doc.analyzer.analyze, text)
                except Exception as e:  # noqa: BLE001 - safe_analyze never raises, but a bug must not stop the loop
                    self.report_exception("analysis", e)
                    return
                self.analyses += 1
                if (doc.text, doc.version) != (text, version):
                    continue  # a newer version arrived meanwhile: analyze that one instead
                doc.analysis, doc.analyzed_text = analysis, text
                doc.index = None
                self.publish(doc, analysis, text, version)
                doc.published.append((version, time.perf_counter() - started))
                return
            finally:
                self._release_gc()

    def _hold_gc(self) -> None:
        """Keep the cyclic garbage collector off from a change until its diagnostics are out.

        Reference counting frees nearly everything an analysis drops; the collector's
        passes over the whole heap then run after the diagnostics are published, not
        in the middle of the analysis.
        """
        self._gc_holds += 1
        gc.disable()

    def _release_gc(self) -> None:
        """Turn the collector back on, with what the server holds now frozen out of its scans.

        After an analysis the heap is mostly the documents' trees and graphs, which live until the
        next change replaces them (and reference counting frees them then). Freezing them keeps
        the collector's passes small, so no pass over the whole heap lands in the middle of the
        next edit; every ``FULL_COLLECTION_EVERY`` analyses one full collection finds the cycles
        frozen meanwhile.
        """
        self._gc_holds -= 1
        if self._gc_holds == 0:
            self._released += 1
            if self._released % FULL_COLLECTION_EVERY == 0:
                gc.unfreeze()
                gc.collect()
            gc.freeze()
            gc.enable()

    def publish(self, doc: _Document, analysis: Analysis, text: str, version: int | None) -> None:
        lines = text.split("\n")
        diagnostics = [to_lsp_diagnostic(d, lines, self.codec) for d in analysis.diagnostics]
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=doc.uri, version=version, diagnostics=diagnostics))

    def current(self, uri: str) -> tuple[_Document, Analysis, F.Index] | None:
        """The newest analysis of a document (it may be one version behind while typing)."""
        doc = self.documents.get(uri)
        if doc is None or doc.analysis is None:
            return None
        if doc.index is None:
            doc.index = F.Index(doc.analysis.module, doc.analyzed_text)
        return doc, doc.analysis, doc.index

    @property
    def codec(self) -> PositionCodec:
        try:
            return self.workspace.position_codec
        except Exception:  # noqa: BLE001 - before initialize
            return PositionCodec()

    # -- errors
    def report_exception(self, where: str, error: BaseException) -> None:
        self.errors += 1
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        log.error("netc lsp: %s failed: %s", where, trace)
        try:
            self.window_log_message(types.LogMessageParams(types.MessageType.Error,
                                                           f"netc: {where} failed: {error}\n{trace}"))
            if not self._shown_error:
                self._shown_error = True
                self.window_show_message(types.ShowMessageParams(
                    types.MessageType.Error, f"netc: {where} failed ({type(error).__name__}: {error}); "
                                             "the server goes on. Details are in the output log."))
        except Exception:  # noqa: BLE001 - reporting must not raise either
            pass


server = NetcLanguageServer()


def guarded(name: str, empty: Any = None):
    """Run a handler; if it raises, report the error and answer ``empty``."""

    def wrap(fn):
        if asyncio.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(ls: NetcLanguageServer, params):
                try:
                    _inject_fault(ls, name)
                    return await fn(ls, params)
                except Exception as e:  # noqa: BLE001
                    ls.report_exception(name, e)
                    return empty
            return run_async

        @functools.wraps(fn)
        def run(ls: NetcLanguageServer, params):
            try:
                _inject_fault(ls, name)
                return fn(ls, params)
            except Exception as e:  # noqa: BLE001
                ls.report_exception(name, e)
                return empty
        return run
    return wrap


def _inject_fault(ls: NetcLanguageServer, name: str) -> None:
    if ls.fault == name:
        raise RuntimeError(f"fault injected into {name}")


def handler(method: str, options: Any = None, empty: Any = None):
    """Register a handler of ``method`` on the server, ``guarded`` under the method's last part
    (``textDocument/hover`` -> ``hover``, the name that errors and ``NETC_LSP_FAULT`` use)."""

    def register(fn):
        return server.feature(method, options)(guarded(method.rsplit("/", 1)[-1], empty)(fn))
    return register


# ---- positions ----------------------------------------------------------------------

def _to_client(lines: list[str], line: int, column: int, codec: PositionCodec) -> types.Position:
    """A netc position (1-based line and column, in characters) in the client's units."""
    row, char = max(line - 1, 0), max(column - 1, 0)
    text = lines[row] if row < len(lines) else ""
    if text.isascii():
        return types.Position(row, char)
    return codec.position_to_client_units(lines, ServerTextPosition(row, char))


def to_lsp_range(span: Span, lines: list[str], codec: PositionCodec) -> types.Range:
    return types.Range(_to_client(lines, span.line, span.column, codec),
                       _to_client(lines, span.end_line, span.end_column, codec))


def from_client(lines: list[str], position: types.Position, codec: PositionCodec) -> tuple[int, int]:
    """A client position as a netc (line, column)."""
    row = position.line
    text = lines[row] if 0 <= row < len(lines) else ""
    if text.isascii():
        return row + 1, position.character + 1
    pos = codec.position_from_client_units(lines, position)
    return pos.line + 1, pos.character + 1


def to_lsp_diagnostic(d: Diagnostic, lines: list[str], codec: PositionCodec) -> types.Diagnostic:
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    fix = F.replacement(d, lines)
    return types.Diagnostic(
        range=to_lsp_range(d.span, lines, codec), message=message, severity=_SEVERITY.get(d.severity),
        code=d.code, source="netc", data={"fix": fix} if fix is not None else None)


# ---- lifecycle -------------------------------------------------------------------------

@server.feature(types.INITIALIZE)
def initialize(ls: NetcLanguageServer, params: types.InitializeParams) -> None:
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("debounce_ms"), (int, float)):
        ls.debounce = max(0.0, float(options["debounce_ms"]) / 1000)
    if params.process_id:
        _watch_parent(ls, params.process_id)


def _watch_parent(ls: NetcLanguageServer, pid: int) -> None:
    """Exit when the editor's process is gone (it may die without closing our input)."""

    def watch() -> None:
        while process_alive(pid):
            time.sleep(PARENT_POLL_SECONDS)
        log.info("netc lsp: the editor (pid %s) is gone; exiting", pid)
        os._exit(0)

    threading.Thread(target=watch, name="netc-parent-watch", daemon=True).start()


@handler(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: NetcLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.changed(params.text_document.uri, params.text_document.text, params.text_document.version)


@handler(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: NetcLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    document = ls.workspace.get_text_document(params.text_document.uri)  # pygls has applied the changes
    ls.changed(params.text_document.uri, document.source, params.text_document.version)


@handler(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=True))
def did_save(ls: NetcLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    doc = ls.documents.get(params.text_document.uri)
    text = params.text if params.text is not None else ls.workspace.get_text_document(
        params.text_document.uri).source
    ls.changed(params.text_document.uri, text, doc.version if doc else None)


@handler(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: NetcLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    doc = ls.documents.pop(params.text_document.uri, None)
    if doc is not None and doc.task is not None:
        doc.task.cancel()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri,
                                                                        diagnostics=[]))


@handler(STATS_METHOD, empty={})
def stats(ls: NetcLanguageServer, params: Any) -> dict:
    """Counters and memory, for the tests and the benchmark."""
    return {
        "analyses": ls.analyses,
        "errors": ls.errors,
        "documents": len(ls.documents),
        "rss_bytes": _rss_bytes(),
        "full_parses": sum(d.analyzer.parser.full_parses for d in ls.documents.values()),
        "partial_parses": sum(d.analyzer.parser.partial_parses for d in ls.documents.values()),
        # (uri, versions published) pairs: a list, as URIs make poor JSON-object keys for some clients
        "published": [[uri, [v for v, _ in d.published]] for uri, d in ls.documents.items()],
        "latency_ms": [[uri, [round(s * 1000, 3) for _, s in d.published]] for uri, d in ls.documents.items()],
    }


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---- features -----------------------------------------------------------------------------

def _lines(doc) -> list[str]:
    return doc.analyzed_text.split("\n")


def _symbol_at(ls: NetcLanguageServer, params) -> tuple[_Document, list[str], F.Symbol] | None:
    """The document, its analyzed lines and the symbol at the request's position, if there is one."""
    found = ls.current(params.text_document.uri)
    if found is None:
        return None
    doc, _, index = found
    lines = _lines(doc)
    symbol = index.symbol_at(*from_client(lines, params.position, ls.codec))
    return None if symbol is None else (doc, lines, symbol)


@handler(types.TEXT_DOCUMENT_HOVER)
def hover(ls: NetcLanguageServer, params: types.HoverParams) -> types.Hover | None:
    found = ls.current(params.text_document.uri)
    if found is None:
        return None
    doc, analysis, index = found
    lines = _lines(doc)
    line, column = from_client(lines, params.position, ls.codec)
    result = F.hover(analysis, index, line, column)
    if result is None:
        return None
    text, span = result
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text),
                       range=to_lsp_range(span, lines, ls.codec))


@handler(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["(", ",", "<"]))
def completion(ls: NetcLanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
    doc = ls.documents.get(params.text_document.uri)
    found = ls.current(params.text_document.uri)
    if doc is None or found is None:
        return None
    _, analysis, index = found
    text = doc.text  # the newest text: the cursor is in it
    lines = text.split("\n")
    line, column = from_client(lines, params.position, ls.codec)
    items = []
    for c in F.completions(analysis, index, text, line, column):
        items.append(types.CompletionItem(
            label=c.label, kind=_COMPLETION_KIND.get(c.kind), detail=c.detail or None,
            documentation=types.MarkupContent(types.MarkupKind.Markdown, c.doc) if c.doc else None,
            insert_text=c.insert, sort_text=(c.sort + c.label) if c.sort else None))
    return types.CompletionList(is_incomplete=False, items=items)


@handler(types.TEXT_DOCUMENT_DEFINITION)
def definition(ls: NetcLanguageServer, params: types.DefinitionParams) -> list[types.Location] | None:
    found = _symbol_at(ls, params)
    if found is None:
        return None
    doc, lines, symbol = found
    return [types.Location(doc.uri, to_lsp_range(symbol.span, lines, ls.codec))]


@handler(types.TEXT_DOCUMENT_REFERENCES)
def references(ls: NetcLanguageServer, params: types.ReferenceParams) -> list[types.Location] | None:
    found = _symbol_at(ls, params)
    if found is None:
        return None
    doc, lines, symbol = found
    spans = ([symbol.span] if params.context.include_declaration else []) + sorted(
        symbol.refs, key=lambda s: (s.line, s.column))
    return [types.Location(doc.uri, to_lsp_range(s, lines, ls.codec)) for s in spans]


@handler(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: NetcLanguageServer, params: types.DocumentSymbolParams) -> list | None:
    found = ls.current(params.text_document.uri)
    if found is None:
        return None
    doc, analysis, _ = found
    lines = _lines(doc)

    def convert(s: F.DocSymbol) -> types.DocumentSymbol:
        return types.DocumentSymbol(
            name=s.name, kind=_SYMBOL_KIND.get(s.kind, types.SymbolKind.Object), detail=s.detail,
            range=to_lsp_range(s.span, lines, ls.codec), selection_range=to_lsp_range(s.name_span, lines, ls.codec),
            children=[convert(c) for c in s.children])

    return [convert(s) for s in F.document_symbols(analysis.module, doc.analyzed_text)]


@handler(types.TEXT_DOCUMENT_FORMATTING)
async def formatting(ls: NetcLanguageServer, params: types.DocumentFormattingParams) -> list | None:
    from netc.fmt import FormatError, format_text

    doc = ls.documents.get(params.text_document.uri)
    text = doc.text if doc is not None else ls.workspace.get_text_document(params.text_document.uri).source
    loop = asyncio.get_running_loop()
    try:
        formatted = await loop.run_in_executor(ls.executor, format_text, text)
    except FormatError as e:
        ls.window_log_message(types.LogMessageParams(types.MessageType.Info, f"netc fmt: {e.message}"))
        return []
    if formatted == text:
        return []
    lines = text.split("\n")
    end = _to_client(lines, len(lines), len(lines[-1]) + 1, ls.codec)
    return [types.TextEdit(types.Range(types.Position(0, 0), end), formatted)]


@handler(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
def code_action(ls: NetcLanguageServer, params: types.CodeActionParams) -> list | None:
    found = ls.current(params.text_document.uri)
    if found is None:
        return None
    doc, analysis, _ = found
    lines = _lines(doc)
    wanted = params.range
    actions = []
    for d in analysis.diagnostics:
        fix = F.replacement(d, lines)
        if fix is None:
            continue
        rng = to_lsp_range(d.span, lines, ls.codec)
        if (rng.end.line, rng.end.character) < (wanted.start.line, wanted.start.character) or \
                (rng.start.line, rng.start.character) > (wanted.end.line, wanted.end.character):
            continue
        lsp_diagnostic = to_lsp_diagnostic(d, lines, ls.codec)
        actions.append(types.CodeAction(
            title=f"Replace with {fix}", kind=types.CodeActionKind.QuickFix, diagnostics=[lsp_diagnostic],
            is_preferred=True,
            edit=types.WorkspaceEdit(changes={doc.uri: [types.TextEdit(rng, fix)]})))
    return actions


def main(debounce_ms: float | None = None) -> int:
    """Serve over stdin and stdout until the editor goes away."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    if debounce_ms is not None:
        server.debounce = max(0.0, debounce_ms / 1000)
    from netc.compiler.parser import _lark as parser_grammar
    from netc.fmt import _lark as formatter_grammar

    parser_grammar(), formatter_grammar()  # build both parsers before the first request
    gc.freeze()  # the grammars, the catalog and the modules live as long as the server: keep them out of GC passes
    server.start_io()
    return 0
