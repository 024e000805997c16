"""The parse layer's entry: libclang in, facts out.

`extract_facts(config)` parses one file and walks its AST once (`unit.UnitWalker`), producing a
`TranslationUnitFacts` made of plain dataclasses. It is a pure function of the file's content, its
flags and the analyser version. The front end (`gupcheck.frontend`) is the only layer that imports
`clang`.
"""

from __future__ import annotations

import hashlib
import os

import clang.cindex as ci

from gupcheck.frontend.buildconfig import FileConfig
from gupcheck.frontend.compiledout import compiled_out
from gupcheck.frontend.cursors import forget_cursors, top_level_cursors
from gupcheck.frontend.ownfiles import OwnFiles
from gupcheck.frontend.pch import PrecompiledHeader, precompiled_header_for
from gupcheck.frontend.unit import UnitWalker
from gupcheck.model.facts import Diagnostic, TranslationUnitFacts
from gupcheck.model.findings import SourceLocation


class ParseError(Exception):
    """libclang could not produce a translation unit at all."""


_index: ci.Index | None = None


def _get_index() -> ci.Index:
    global _index
    if _index is None:
        _index = ci.Index.create()
    return _index


_SEVERITY = {ci.Diagnostic.Warning: "warning", ci.Diagnostic.Error: "error", ci.Diagnostic.Fatal: "fatal"}


def extract_facts(
    config: FileConfig, source: bytes | None = None, *, cache_dir: str | None = None
) -> TranslationUnitFacts:
    """Parse one file with its flags and return its facts. Raises ParseError when libclang
    produces no translation unit.

    Kernel code with real headers is parsed with the shared precompiled header of the common kernel
    headers (`gupcheck.frontend.pch`; kept under `cache_dir`, else in a temporary directory) when it stands in
    for them: the facts are the same with or without it.
    """
    if source is None:
        with open(config.path, "rb") as handle:
            source = handle.read()
    try:
        name, args = _parse_name(config)
        precompiled = precompiled_header_for(config, cache_dir) if name == config.path else None
        if precompiled is not None:
            facts = _facts_with_pch(config, source, precompiled)
            if facts is not None:
                return facts
        tu = _parse(_get_index(), config, args, source, name)
        main, _, own = top_level_cursors(tu, with_entities=False, own_file=OwnFiles(config))
        facts = UnitWalker(tu, config, source).walk(main, own)
        facts.headers = sorted(
            {inclusion.include.name for inclusion in tu.get_includes() if inclusion.include is not None}
        )
        _add_diagnostics(facts, tu, name)
        facts.compiled_out = compiled_out(tu, name, source)
        return facts
    finally:
        forget_cursors()


_OPTIONS = ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD | ci.TranslationUnit.PARSE_INCOMPLETE
_pch_index: ci.Index | None = None


def _get_pch_index() -> ci.Index:
    """An index whose translation units list only what is not in their PCH at the top level."""
    global _pch_index
    if _pch_index is None:
        _pch_index = ci.Index.create(excludeDecls=True)
    return _pch_index


def _parse_name(config: FileConfig) -> tuple[str, list[str]]:
    """The name libclang parses the file under, and its arguments. A path that is not valid UTF-8 (which
    libclang's bindings cannot pass) is parsed as a UTF-8 name beside it (the content comes from memory
    anyway), with the defines made from the name (`KBUILD_MODNAME`) spelled with U+FFFD."""
    args = list(config.args)
    if _utf8(config.path):
        return config.path, args
    args = [_printable(arg) if arg.startswith("-D") else arg for arg in args]
    folder = os.path.dirname(config.path)
    if not _utf8(folder) or not all(_utf8(arg) for arg in args):
        raise ParseError("its folder (or one in its flags) is not valid UTF-8, which libclang cannot take")
    digest = hashlib.sha256(os.fsencode(config.path)).hexdigest()[:16]
    return os.path.join(folder, f".gupcheck-{digest}.c"), args


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _parse(
    index: ci.Index, config: FileConfig, args: list[str], source: bytes, name: str | None = None
) -> ci.TranslationUnit:
    """Parse the file from `source`, the bytes the caller read (and keyed the fact cache with), not
    from what the file holds by now; under `name` (default: its path)."""
    name = name or config.path
    try:
        return index.parse(name, args=args, unsaved_files=[(name, source)], options=_OPTIONS)
    except ci.TranslationUnitLoadError as error:
        raise ParseError(f"libclang could not parse the file ({error})") from error


def _facts_with_pch(
    config: FileConfig, source: bytes, precompiled: PrecompiledHeader
) -> TranslationUnitFacts | None:
    """The facts from a parse with the PCH, or None when it does not stand in for the headers."""
    try:
        tu = _parse(_get_pch_index(), config, [*config.args, "-include-pch", precompiled.path], source)
    except ParseError:
        return None
    main, entities, own = top_level_cursors(tu, with_entities=True, own_file=OwnFiles(config))
    headers = precompiled.stands_in(tu, entities, config, source)
    if headers is None:
        forget_cursors()
        return None
    facts = UnitWalker(tu, config, source).walk(main, own)
    facts.headers = headers
    _add_diagnostics(facts, tu, config.path)
    facts.compiled_out = compiled_out(tu, config.path, source)
    return facts


def _add_diagnostics(facts: TranslationUnitFacts, tu: ci.TranslationUnit, name: str) -> None:
    """clang's errors, located in the file's own path when libclang knew it under `name`."""
    for diag in tu.diagnostics:
        severity = _SEVERITY.get(diag.severity)
        if severity is None or severity == "warning":
            continue
        loc = diag.location
        where = None
        if loc.file is not None:
            path = facts.path if loc.file.name == name else loc.file.name
            where = SourceLocation(path, loc.line, max(loc.column, 1))
        facts.diagnostics.append(Diagnostic(severity, diag.spelling, where))
