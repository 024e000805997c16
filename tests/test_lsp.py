"""`gupcheck lsp`: a real LSP client (pytest-lsp) drives the server over standard input and output.

Each test copies a testdata case into a project folder of its own, with a `.gupcheck.toml` (the built-in
kernel API model, so that the findings do not depend on the kernel headers installed), and checks what an
editor would see: diagnostics on open and after save, the fixes as code actions, messages for what cannot
be analysed, and a shutdown that does not wait for an analysis.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
GUPCHECK = Path(sys.executable).parent / "gupcheck"
CONFIG = "kernel-model = true\n"  # findings independent of the kernel headers installed
WAIT = 180  # seconds for one analysis (the first parse of a case, on a loaded machine)

# GUP001 (warning): pages pinned without FOLL_LONGTERM are kept; the fix adds FOLL_LONGTERM
LONGTERM_CASE = TESTDATA / "gup001" / "longterm-pin-stored"
LONGTERM_BUG = "pin_user_pages_fast(reg.addr, nr, 0, pages)"
LONGTERM_FIXED = "pin_user_pages_fast(reg.addr, nr, FOLL_LONGTERM, pages)"

pytestmark = [pytest.mark.filterwarnings("error::pytest_lsp.LspSpecificationWarning")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The workspace folder: empty, with the configuration; a test copies a case into it."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / ".gupcheck.toml").write_text(CONFIG)
    return folder


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[str(GUPCHECK), "lsp"]))
async def client(lsp_client: LanguageClient, project: Path):
    root = from_fs_path(str(project))
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root,
            workspace_folders=[types.WorkspaceFolder(uri=root, name="proj")],
        )
    )
    yield
    await lsp_client.shutdown_session()


def copy_case(case: Path, project: Path) -> None:
    for entry in case.iterdir():
        if entry.is_file():
            shutil.copy(entry, project / entry.name)


def uri_of(path: Path) -> str:
    uri = from_fs_path(str(path))
    assert uri is not None
    return uri


def expected_line(path: Path, rule: str) -> tuple[int, str]:
    """The 0-based line of the case's `expect: RULE` marker, and its text."""
    for number, line in enumerate(path.read_text().splitlines()):
        if f"expect: {rule}" in line:
            return number, line
    raise AssertionError(f"no expect: {rule} in {path}")


def open_file(client: LanguageClient, path: Path) -> str:
    uri = uri_of(path)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="c", version=1, text=path.read_text())
        )
    )
    return uri


def save_file(client: LanguageClient, path: Path) -> None:
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri_of(path)))
    )


async def published(client: LanguageClient, uri: str) -> Sequence[types.Diagnostic]:
    """The next diagnostics published for `uri` (taken, so that the next call waits for new ones)."""
    async with asyncio.timeout(WAIT):
        while uri not in client.diagnostics:
            await asyncio.sleep(0.05)
    return client.diagnostics.pop(uri)


async def still_answers(client: LanguageClient, uri: str) -> None:
    """The server is alive: it answers a request."""
    await asyncio.wait_for(
        client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(
                    start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)
                ),
                context=types.CodeActionContext(diagnostics=[]),
            )
        ),
        timeout=30,
    )


def apply(text: str, edits: Sequence[types.TextEdit]) -> str:
    """The text with the edits applied (ASCII text: UTF-16 positions are character indexes)."""
    assert text.isascii()
    lines = text.splitlines(keepends=True)

    def offset(position: types.Position) -> int:
        return sum(len(line) for line in lines[: position.line]) + position.character

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


@pytest.mark.asyncio
async def test_open_publishes_the_finding_where_it_is_with_its_rule_level_and_related_locations(
    client: LanguageClient, project: Path
) -> None:
    copy_case(LONGTERM_CASE, project)
    source = project / "rdmabuf.c"
    line, text = expected_line(source, "GUP001")
    kept, _ = next((n, t) for n, t in enumerate(source.read_text().splitlines()) if "dev->pages = pages" in t)

    diagnostics = await published(client, open_file(client, source))

    assert len(diagnostics) == 1, diagnostics
    (diagnostic,) = diagnostics
    assert diagnostic.code == "GUP001" and diagnostic.source == "gupcheck"
    assert diagnostic.severity == types.DiagnosticSeverity.Warning  # a FOLL_PIN without FOLL_LONGTERM
    start = text.index(LONGTERM_BUG)  # 0-based; gupcheck's columns are 1-based
    assert diagnostic.range == types.Range(
        start=types.Position(line=line, character=start),
        end=types.Position(line=line, character=start + len(LONGTERM_BUG)),
    )
    assert "FOLL_LONGTERM" in diagnostic.message
    assert diagnostic.code_description is not None and diagnostic.code_description.href.endswith("#gup001")
    related = diagnostic.related_information or []
    assert any(
        info.location.uri == uri_of(source)
        and info.location.range.start.line == kept
        and "dev->pages" in info.message
        for info in related
    ), related


@pytest.mark.asyncio
async def test_a_clean_look_alike_has_no_diagnostics_until_a_save_brings_the_bug(
    client: LanguageClient, project: Path
) -> None:
    copy_case(LONGTERM_CASE, project)
    source = project / "rdmabuf.c"
    buggy = source.read_text()
    assert buggy.count(LONGTERM_BUG) == 1
    source.write_text(buggy.replace(LONGTERM_BUG, LONGTERM_FIXED))

    uri = open_file(client, source)
    assert list(await published(client, uri)) == []

    source.write_text(buggy)
    save_file(client, source)
    diagnostics = await published(client, uri)
    assert [(d.code, d.range.start.line) for d in diagnostics] == [
        ("GUP001", expected_line(source, "GUP001")[0])
    ]


@pytest.mark.asyncio
async def test_a_fix_is_a_quickfix_whose_edit_clears_the_finding_once_saved(
    client: LanguageClient, project: Path
) -> None:
    copy_case(LONGTERM_CASE, project)
    source = project / "rdmabuf.c"
    uri = open_file(client, source)
    (diagnostic,) = await published(client, uri)

    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )

    assert actions is not None and len(actions) == 1, actions
    (action,) = actions
    assert isinstance(action, types.CodeAction)
    assert action.kind == types.CodeActionKind.QuickFix and "FOLL_LONGTERM" in action.title
    assert list(action.diagnostics or []) == [diagnostic]
    assert action.edit is not None and action.edit.changes is not None
    assert list(action.edit.changes) == [uri]
    (edit,) = action.edit.changes[uri]
    assert edit.range == diagnostic.range and edit.new_text == LONGTERM_FIXED

    # no action where there is no fix, nor when only other kinds are asked for
    elsewhere = types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=0, character=1)
    )
    none = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=elsewhere,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert not none
    refactors = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic], only=[types.CodeActionKind.Refactor]),
        )
    )
    assert not refactors

    source.write_text(apply(source.read_text(), action.edit.changes[uri]))
    save_file(client, source)
    assert list(await published(client, uri)) == []


@pytest.mark.asyncio
async def test_the_configuration_nearest_the_file_sets_the_level(
    client: LanguageClient, project: Path
) -> None:
    driver = project / "driver"  # the workspace folder's configuration is farther away
    driver.mkdir()
    copy_case(LONGTERM_CASE, driver)
    (driver / ".gupcheck.toml").write_text(CONFIG + '[levels]\nGUP001 = "note"\n')
    (diagnostic,) = await published(client, open_file(client, driver / "rdmabuf.c"))
    assert diagnostic.code == "GUP001" and diagnostic.severity == types.DiagnosticSeverity.Information


@pytest.mark.asyncio
async def test_a_cross_layer_finding_in_the_open_program_links_the_driver_that_is_not_open(
    client: LanguageClient, project: Path
) -> None:
    copy_case(TESTDATA / "gup002" / "stack-array-direct", project)
    program, driver = project / "pagepoke_app.c", project / "pagepoke.c"
    line, _ = expected_line(program, "GUP002")

    diagnostics = await published(client, open_file(client, program))

    assert [(d.code, d.range.start.line, d.severity) for d in diagnostics] == [
        ("GUP002", line, types.DiagnosticSeverity.Error)
    ]
    related = diagnostics[0].related_information or []
    assert any(info.location.uri == uri_of(driver) for info in related), related
    await still_answers(client, uri_of(program))
    assert uri_of(driver) not in client.diagnostics  # its own GUP001 is not reported: it is not open


BROKEN = """\
#include <linux/module.h>

static int broken(void)
{
	return 1 +;
}

MODULE_LICENSE("GPL");
"""


@pytest.mark.asyncio
async def test_a_file_that_does_not_parse_and_a_bad_configuration_are_reported_and_the_server_goes_on(
    client: LanguageClient, project: Path
) -> None:
    source = project / "broken.c"
    source.write_text(BROKEN)
    uri = open_file(client, source)

    (diagnostic,) = await published(client, uri)
    assert diagnostic.source == "gupcheck" and diagnostic.severity == types.DiagnosticSeverity.Warning
    assert diagnostic.range.start.line == 4 and "1 error" in diagnostic.message
    assert "expected expression" in diagnostic.message

    (project / ".gupcheck.toml").write_text('enable = ["GUP999"]\n')
    save_file(client, source)
    (diagnostic,) = await published(client, uri)
    assert "GUP999" in diagnostic.message and diagnostic.severity == types.DiagnosticSeverity.Error
    assert any(
        m.type == types.MessageType.Error and "GUP999" in m.message and ".gupcheck.toml" in m.message
        for m in client.messages
    ), client.messages

    (project / ".gupcheck.toml").write_text(CONFIG)
    save_file(client, source)
    (diagnostic,) = await published(client, uri)
    assert "expected expression" in diagnostic.message
    await still_answers(client, uri)


def analyses_in(folder: Path) -> list[int]:
    """Processes working in `folder`: the server's analysis and its parsers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd") == str(folder):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc")
@pytest.mark.asyncio
async def test_shutdown_during_an_analysis_is_prompt_and_leaves_nothing_running(
    client: LanguageClient, project: Path
) -> None:
    # a header that is a FIFO: its parse waits for a writer that never comes (till the 600 s timeout)
    (project / ".gupcheck.toml").write_text(CONFIG + "timeout = 600\n")
    os.mkfifo(project / "never.h")
    source = project / "waits.c"
    source.write_text('#include "never.h"\n\nint main(void)\n{\n\treturn 0;\n}\n')
    uri = open_file(client, source)
    async with asyncio.timeout(60):
        while len(analyses_in(project)) < 2:  # the analysis and its parser
            await asyncio.sleep(0.02)

    started = time.monotonic()
    await asyncio.wait_for(client.shutdown_async(None), timeout=10)
    client.exit(None)
    server = client._server
    assert server is not None
    assert await asyncio.wait_for(server.wait(), timeout=10) == 0
    assert time.monotonic() - started < 10
    async with asyncio.timeout(10):  # killed processes leave /proc once reaped
        while analyses_in(project):
            await asyncio.sleep(0.05)
    assert uri not in client.diagnostics  # the analysis never ended
    client.capabilities = None  # the fixture's shutdown_session has nothing left to do
