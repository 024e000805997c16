"""One analysis for the Language Server, in a process of its own: `python -m gupcheck.lsp.worker`.

The server starts it in the project's folder and writes an `AnalysisRequest` (JSON) on its standard
input; the process analyses the project as `gupcheck hook` does there (the configuration's `paths`, else
the folder, and the open documents) and writes back one pickled `AnalysisResult` on its standard output.
A separate process keeps the server answering while files are parsed, lets the rules' time limits work
(they need the main thread), and can be killed at shutdown with the parsers it started.

Only the model is imported at the top: the server imports this module for the two message types.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import pickle
import signal
import sys
import traceback
from dataclasses import dataclass, field

from gupcheck.model.findings import Finding, InputProblem

_PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies


@dataclass(frozen=True)
class AnalysisRequest:
    """The project is the working folder's: the process runs in the folder of the configuration file, else
    in the workspace folder."""

    documents: list[str]  # the open documents: findings are reported in these files only


@dataclass(frozen=True)
class ParseErrors:
    """How a document parsed: its first error (1-based line and column, 0 when unknown) and how many."""

    line: int
    column: int
    message: str
    count: int


@dataclass
class AnalysisResult:
    findings: list[Finding] = field(default_factory=list)  # located in the documents, not suppressed
    problems: list[InputProblem] = field(default_factory=list)
    parse_errors: dict[str, ParseErrors] = field(default_factory=dict)  # by document path
    error: str | None = None  # a configuration or option error: nothing was analysed
    files_analysed: int = 0


def analyse_project(request: AnalysisRequest) -> AnalysisResult:
    """The findings of the project in the request's documents: what `gupcheck hook DOCUMENTS...` would
    report in the working folder, with the same configuration, rules, paths and cache."""
    from gupcheck.cli import commands
    from gupcheck.frontend.buildconfig import ConfigError
    from gupcheck.pipeline.baseline import BaselineError
    from gupcheck.pipeline.cache import default_cache_dir
    from gupcheck.pipeline.projectconfig import ConfigFileError

    options = commands.hook.make_context("hook", []).params  # the hook's options, all at their defaults
    options["quiet"] = True
    documents = list(request.documents)
    sources = [path for path in documents if path.endswith(".c")]
    root = os.getcwd()
    try:
        project = commands._project_config(None)  # the nearest configuration, as `gupcheck` finds it
        rules = commands._selected_rules(project)
        paths = commands._paths_to_analyse([], project, sources)
        options["cache_max_size"] = commands._cache_max_size(options["cache_max_size"], project)
        cache_dir = str(default_cache_dir())
        analysis, _summary = commands._analysis(paths, rules, project, options, documents, root, cache_dir)
    except (ConfigFileError, ConfigError, BaselineError, commands._RunError) as error:
        return AnalysisResult(error=str(error))
    wanted = {os.path.realpath(path): path for path in documents}
    parse_errors = {}
    for unit in analysis.units:
        document = wanted.get(os.path.realpath(unit.path))
        if document is not None and unit.errors:
            first = unit.errors[0]
            line, column = (first.location.line, first.location.column) if first.location else (0, 0)
            parse_errors[document] = ParseErrors(line, column, first.message, len(unit.errors))
    return AnalysisResult(
        findings=[finding for finding in analysis.findings if finding.suppression is None],
        problems=analysis.problems,
        parse_errors=parse_errors,
        files_analysed=len(analysis.units),
    )


def _die_with_parent() -> None:
    """The analysis ends when the server does, however it ends (Linux; elsewhere the server's kill at
    shutdown does it)."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def main() -> None:
    results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever else writes to standard output goes to standard error, not into the result
    _die_with_parent()
    try:
        request = AnalysisRequest(**json.loads(sys.stdin.read()))
        result = analyse_project(request)
    except Exception as error:  # noqa: BLE001 - the server shows it; the next save tries again
        traceback.print_exc()
        result = AnalysisResult(error=f"internal error: {type(error).__name__}: {error}")
    pickle.dump(result, results, protocol=pickle.HIGHEST_PROTOCOL)
    results.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    os._exit(0)  # as `gupcheck` does: the analysis's objects are not freed one by one for no one


if __name__ == "__main__":
    from gupcheck.lsp import worker  # the result's classes pickled under their module's name, not __main__

    worker.main()
