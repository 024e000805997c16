"""The Language Server: gupcheck's findings as diagnostics, its fixes as code actions.

When a C file is opened or saved, the project it belongs to is analysed as `gupcheck hook` analyses it:
the nearest configuration's `paths` (else the workspace folder holding the file, else its folder) and the
open documents, so that a program and the driver it calls are linked; only findings located in open
documents are published. The analysis reads the files as saved, through the fact cache, in a worker
process (`gupcheck.lsp.worker`); one runs at a time for a project, and saves that come in meanwhile are
answered by one more run when it ends. A configuration error, a file that does not parse or an analysis
that fails becomes a message or a diagnostic; the server goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import signal
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from lsprotocol import types
from pygls.capabilities import get_capability
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import PositionCodec

from gupcheck import INFORMATION_URI, __version__
from gupcheck.lsp.worker import AnalysisRequest, AnalysisResult
from gupcheck.model.findings import Finding, Fix, InputProblem, Level, SourceLocation
from gupcheck.pipeline.projectconfig import find_config

SOURCE = "gupcheck"
C_SUFFIXES = (".c", ".h")
SEVERITY = {
    Level.ERROR: types.DiagnosticSeverity.Error,
    Level.WARNING: types.DiagnosticSeverity.Warning,
    Level.NOTE: types.DiagnosticSeverity.Information,
}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Document:
    uri: str
    path: str  # as the editor names it
    project: tuple[str, str]  # (configuration file or "", root): the documents analysed together


@dataclass
class _Project:
    task: asyncio.Task[None] | None = None
    again: bool = False  # a document was opened or saved while the analysis ran
    error: str | None = None  # the configuration error last shown (shown again only when it changes)


@dataclass(frozen=True)
class _Action:
    diagnostic: types.Diagnostic
    title: str
    edit: types.WorkspaceEdit


class GupcheckServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("gupcheck", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.documents: dict[str, _Document] = {}  # by URI
        self.projects: dict[tuple[str, str], _Project] = {}
        self.actions: dict[str, list[_Action]] = {}  # the fixes of the published diagnostics, by URI
        self.processes: set[asyncio.subprocess.Process] = set()
        self.shown: set[str] = set()  # messages shown once, not at every save
        self.shutting_down = False
        self.shutdown_requested = False

    # -- documents and projects

    def track(self, uri: str) -> _Document | None:
        """The document of `uri`, known from now on (None: not a local C file)."""
        known = self.documents.get(uri)
        if known is not None:
            return known
        path = to_fs_path(uri) if uri.startswith("file:") else None
        if path is None or not path.endswith(C_SUFFIXES):
            return None
        folder = os.path.dirname(os.path.abspath(path))
        config = find_config(folder)
        document = _Document(uri, path, (str(config) if config else "", self.root_for(folder)))
        self.documents[uri] = document
        return document

    def root_for(self, folder: str) -> str:
        """The deepest workspace folder holding `folder`, else the folder itself."""
        roots = [to_fs_path(f.uri) for f in self.workspace.folders.values()]
        if self.workspace.root_path:
            roots.append(self.workspace.root_path)
        holding = [
            os.path.abspath(root)
            for root in roots
            if root and os.path.commonpath([os.path.abspath(root), folder]) == os.path.abspath(root)
        ]
        return max(holding, key=len) if holding else folder

    def schedule(self, document: _Document) -> None:
        """Analyse the document's project now, or once more when its running analysis ends."""
        if self.shutting_down:
            return
        project = self.projects.setdefault(document.project, _Project())
        if project.task is not None and not project.task.done():
            project.again = True
            return
        project.task = asyncio.get_running_loop().create_task(self.analyse_until_current(document.project))

    async def analyse_until_current(self, key: tuple[str, str]) -> None:
        project = self.projects[key]
        while not self.shutting_down:
            project.again = False
            try:
                await self.analyse(key)
            except Exception as error:  # noqa: BLE001 - the server outlives a failed analysis
                logger.exception("analysis failed")
                self.show(types.MessageType.Error, f"gupcheck: the analysis failed: {error}")
            if not project.again:
                return

    async def analyse(self, key: tuple[str, str]) -> None:
        documents = [document for document in self.documents.values() if document.project == key]
        if not documents:
            return
        config, root = key
        request = AnalysisRequest(documents=sorted(document.path for document in documents))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gupcheck.lsp.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=os.path.dirname(config) if config else root,
            start_new_session=True,  # its parsers are killed with it
        )
        self.processes.add(process)
        try:
            output, errors = await process.communicate(json.dumps(asdict(request)).encode())
        finally:
            self.processes.discard(process)
            if process.returncode is None:
                _kill(process)
        if errors:
            sys.stderr.write(errors.decode("utf-8", "replace"))
        if self.shutting_down:
            return
        if process.returncode != 0 or not output:
            last = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            self.show(
                types.MessageType.Error,
                f"gupcheck: the analysis ended with status {process.returncode}: {last[0]}".rstrip(": "),
            )
            return
        result = pickle.loads(output)
        if not isinstance(result, AnalysisResult):
            raise TypeError(f"the analysis answered {type(result).__name__}")
        project = self.projects[key]
        if result.error is not None and result.error != project.error:
            self.show(types.MessageType.Error, f"gupcheck: {result.error}", once=False)
        project.error = result.error
        self.publish([d for d in documents if self.documents.get(d.uri) == d], result)
        if result.error is None:
            self.window_log_message(
                types.LogMessageParams(
                    type=types.MessageType.Info,
                    message=f"gupcheck: {result.files_analysed} file(s) analysed in "
                    f"{os.path.dirname(config) if config else root}, {len(result.findings)} finding(s) "
                    "in open files",
                )
            )

    # -- diagnostics

    def publish(self, documents: list[_Document], result: AnalysisResult) -> None:
        by_path: dict[str, list[Finding]] = {}
        for finding in result.findings:
            by_path.setdefault(os.path.realpath(finding.location.path), []).append(finding)
        problems: dict[str, list[InputProblem]] = {}
        for problem in result.problems:
            problems.setdefault(os.path.realpath(problem.path) if problem.path else "", []).append(problem)
        texts = _Texts(self.workspace.position_codec, self.documents.values())
        for document in documents:
            real = os.path.realpath(document.path)
            diagnostics: list[types.Diagnostic] = []
            actions: list[_Action] = []
            if result.error is not None:
                diagnostics.append(_at_start(f"gupcheck could not analyse this file: {result.error}"))
            parse_errors = result.parse_errors.get(document.path)
            if parse_errors is not None:
                where = texts.range(
                    real, SourceLocation(real, parse_errors.line or 1, parse_errors.column or 1)
                )
                diagnostics.append(
                    types.Diagnostic(
                        range=where,
                        message=f"the file parsed with {parse_errors.count} error(s) and was analysed "
                        f"anyway; its findings may be incomplete (first error: {parse_errors.message})",
                        severity=types.DiagnosticSeverity.Warning,
                        source=SOURCE,
                    )
                )
            for problem in problems.pop(real, []):
                if parse_errors is not None and problem.message.startswith("parsed with"):
                    continue  # said above, at the error
                if problem.fatal:  # the file was not analysed
                    diagnostics.append(_at_start(f"gupcheck: {problem.message}"))
                    self.show(types.MessageType.Error, f"gupcheck: {document.path}: {problem.message}")
                else:
                    diagnostics.append(
                        _at_start(f"gupcheck: {problem.message}", types.DiagnosticSeverity.Information)
                    )
            for finding in by_path.get(real, []):
                diagnostic = self.diagnostic(finding, texts)
                diagnostics.append(diagnostic)
                actions += [
                    _Action(diagnostic, fix.description.rstrip("."), self.edit(fix, texts))
                    for fix in finding.fixes
                ]
            self.actions[document.uri] = actions
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=document.uri, diagnostics=diagnostics)
            )
        for problem in problems.pop("", []):  # a rule that stopped, a cache that cannot be written
            self.show(types.MessageType.Warning, f"gupcheck: {problem.message}")
        for other in problems.values():  # files of the project that are not open
            for problem in other:
                self.window_log_message(
                    types.LogMessageParams(type=types.MessageType.Warning, message=f"gupcheck: {problem}")
                )

    def diagnostic(self, finding: Finding, texts: _Texts) -> types.Diagnostic:
        capabilities = self.client_capabilities
        message = finding.message + (f"\nhint: {finding.hint}" if finding.hint else "")
        related = None
        if get_capability(capabilities, "text_document.publish_diagnostics.related_information", False):
            related = [
                types.DiagnosticRelatedInformation(
                    types.Location(texts.uri(r.location.path), texts.range(r.location.path, r.location)),
                    r.message,
                )
                for r in finding.related
            ] + [
                types.DiagnosticRelatedInformation(
                    types.Location(texts.uri(s.location.path), texts.range(s.location.path, s.location)),
                    f"path {number}/{len(finding.flow)}: {s.message}",
                )
                for number, s in enumerate(finding.flow, start=1)
            ]
        described = get_capability(
            capabilities, "text_document.publish_diagnostics.code_description_support", False
        )
        return types.Diagnostic(
            range=texts.range(finding.location.path, finding.location),
            message=message,
            severity=SEVERITY.get(finding.level, types.DiagnosticSeverity.Warning),
            code=finding.rule_id,
            code_description=(
                types.CodeDescription(href=f"{INFORMATION_URI}#{finding.rule_id.lower()}")
                if described
                else None
            ),
            source=SOURCE,
            related_information=related or None,
        )

    def edit(self, fix: Fix, texts: _Texts) -> types.WorkspaceEdit:
        changes: dict[str, list[types.TextEdit]] = {}
        for replacement in fix.replacements:
            region = replacement.region
            changes.setdefault(texts.uri(region.path), []).append(
                types.TextEdit(range=texts.range(region.path, region), new_text=replacement.text)
            )
        return types.WorkspaceEdit(changes=changes)

    def code_actions(self, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        only = params.context.only
        quickfix = types.CodeActionKind.QuickFix.value
        if only is not None and not any(
            kind in ("", quickfix) or quickfix.startswith(f"{kind}.") for kind in only
        ):
            return None
        asked = [d for d in params.context.diagnostics if d.source == SOURCE]
        actions = []
        for action in self.actions.get(params.text_document.uri, []):
            published = action.diagnostic
            if asked:
                wanted = any(
                    d.code == published.code and d.range == published.range and d.message == published.message
                    for d in asked
                )
            else:
                wanted = _overlap(published.range, params.range)
            if wanted:
                actions.append(
                    types.CodeAction(
                        title=action.title,
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[published],
                        edit=action.edit,
                    )
                )
        return actions or None

    # -- messages and shutdown

    def show(self, kind: types.MessageType, message: str, once: bool = True) -> None:
        if once and message in self.shown:
            return
        self.shown.add(message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def stop_analyses(self) -> None:
        self.shutting_down = True
        for process in list(self.processes):
            _kill(process)
        for project in self.projects.values():
            if project.task is not None:
                project.task.cancel()

    def shutdown(self) -> None:
        """The end of the connection: analyses are killed, and nothing waits for the reader thread
        (it may be blocked reading a standard input the client never closes)."""
        self.stop_analyses()
        if self._stop_event is not None:
            self._stop_event.set()
        if self._thread_pool is not None:
            self._thread_pool.shutdown(wait=False, cancel_futures=True)


class _Texts:
    """Lines of the files findings point into, read once a publication, to turn libclang's 1-based byte
    columns into the client's 0-based positions; and their URIs (an open document's as the client wrote
    it)."""

    def __init__(self, codec: PositionCodec, documents: Iterable[_Document]) -> None:
        self.lines: dict[str, list[bytes]] = {}
        self.codec = codec
        self.uris = {os.path.realpath(document.path): document.uri for document in documents}

    def uri(self, path: str) -> str:
        return self.uris.get(os.path.realpath(path)) or from_fs_path(path) or path

    def range(self, path: str, location: SourceLocation) -> types.Range:
        return types.Range(
            start=self.position(path, location.line, location.column),
            end=self.position(path, location.end_line, location.end_column),
        )

    def position(self, path: str, line: int, column: int) -> types.Position:
        lines = self.lines.get(path)
        if lines is None:
            try:
                with open(path, "rb") as source:
                    lines = source.read().split(b"\n")
            except OSError:
                lines = []
            self.lines[path] = lines
        index = max(line - 1, 0)
        if index >= len(lines):
            return types.Position(line=index, character=max(column - 1, 0))
        prefix = lines[index][: max(column - 1, 0)].decode("utf-8", "replace")
        return types.Position(line=index, character=self.codec.client_num_units(prefix))


def _at_start(
    message: str, severity: types.DiagnosticSeverity = types.DiagnosticSeverity.Error
) -> types.Diagnostic:
    """A diagnostic about the whole file, on its first line."""
    start = types.Position(line=0, character=0)
    return types.Diagnostic(
        range=types.Range(start=start, end=start), message=message, severity=severity, source=SOURCE
    )


def _overlap(a: types.Range, b: types.Range) -> bool:
    def key(position: types.Position) -> tuple[int, int]:
        return position.line, position.character

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)


def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill an analysis and the parser processes it started (its session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def create_server() -> GupcheckServer:
    """A server with gupcheck's features registered."""
    server = GupcheckServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: GupcheckServer, params: types.DidOpenTextDocumentParams) -> None:
        document = ls.track(params.text_document.uri)
        if document is not None:
            ls.schedule(document)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: GupcheckServer, params: types.DidSaveTextDocumentParams) -> None:
        document = ls.track(params.text_document.uri)
        if document is not None:
            ls.schedule(document)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: GupcheckServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        if ls.documents.pop(uri, None) is not None:
            ls.actions.pop(uri, None)
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(ls: GupcheckServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        return ls.code_actions(params)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: GupcheckServer, params: None) -> None:
        ls.shutdown_requested = True
        ls.stop_analyses()

    return server


def serve() -> int:
    """Serve on standard input and output until the client says exit (or goes away). Returns the exit
    status: 0 after a shutdown request, else 1 (as the protocol asks)."""
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else written to standard output would corrupt the protocol
    sys.stdout = sys.stderr
    server = create_server()
    server.start_io(sys.stdin.buffer, protocol_out)
    return 0 if server.shutdown_requested else 1
