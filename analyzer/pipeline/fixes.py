"""The fixes findings carry, shown as a unified diff (`--diff`) or applied to the files (`--fix`).

Safety, in order:
- `Snapshot`: every source is hashed before the analysis reads it; a file whose content differs when
  its fixes are planned (or again just before it is replaced) is left alone, with one warning naming it.
  A file the snapshot does not hold (a header) is not changed either.
- Each replacement whose rule said what its region holds (`Replacement.original`) is applied only where
  the region holds that text (compared without whitespace).
- A finding's first fix is applied whole or not at all. Fixes are taken in the findings' order; one
  whose replacements overlap those of a fix already taken (other than the very same replacement, which
  two findings may share) is skipped with a warning.
- A file is rewritten whole or not at all: a temporary file in its folder, with the file's mode,
  renamed over it (`--fix` follows a symbolic link and replaces the file it names).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from gupcheck.frontend.discovery import discover_sources, read_regular_file
from gupcheck.model.findings import Finding, Fix, SourceLocation
from gupcheck.output.text import plural, relative_path


@dataclass(frozen=True)
class Snapshot:
    """The sha256 of each file's content, by real path, taken before the analysis read it."""

    digests: Mapping[str, str]

    @classmethod
    def of_files(cls, paths: Iterable[str]) -> Snapshot:
        digests = {}
        for path in paths:
            try:
                digests[os.path.realpath(path)] = _digest(read_regular_file(path))
            except OSError:
                continue  # the analysis reports it; nothing of it will be changed
        return cls(digests)

    @classmethod
    def of_sources(cls, paths: list[str]) -> Snapshot:
        """The C files the analysis of `paths` will read, and the headers beside them (a finding in a
        driver's own header, in a function it defines, is fixed there too)."""
        sources, _problems = discover_sources(paths)
        return cls.of_files([*sources, *_headers_beside(sources)])

    def holds(self, path: str) -> bool:
        return os.path.realpath(path) in self.digests

    def unchanged(self, path: str, content: bytes) -> bool:
        return self.digests.get(os.path.realpath(path)) == _digest(content)


MAX_HEADERS_BESIDE = 10_000  # the most headers snapshot beside the sources


def _headers_beside(sources: list[str]) -> list[str]:
    """The `.h` files in the sources' folders (not below them), up to `MAX_HEADERS_BESIDE`."""
    found: list[str] = []
    for folder in sorted({os.path.dirname(path) for path in sources}):
        try:
            with os.scandir(folder) as entries:
                names = sorted(e.path for e in entries if e.name.endswith(".h") and e.is_file())
        except OSError:
            continue
        found += names[: MAX_HEADERS_BESIDE - len(found)]
        if len(found) >= MAX_HEADERS_BESIDE:
            break
    return found


@dataclass(frozen=True)
class _Edit:
    start: int  # byte offsets in the file, the end exclusive
    end: int
    text: bytes

    def overlaps(self, other: _Edit) -> bool:
        """Whether the two edits touch the same text, or insert at the same place (in no clear order)."""
        if self.start == other.start:
            return True
        return self.start < other.end and other.start < self.end


@dataclass
class FileChange:
    """A file's content as the analysis saw it and with the fixes applied."""

    path: str
    original: bytes
    fixed: bytes
    fixes: set[int] = field(default_factory=set)  # positions in FixPlan.fixed of the fixes it takes part in


@dataclass
class FixPlan:
    fixed: list[Finding] = field(default_factory=list)  # the findings whose fix is planned, in order
    changes: list[FileChange] = field(default_factory=list)  # in path order
    warnings: list[str] = field(default_factory=list)  # fixes and files left alone, a line each


@dataclass
class FixOutcome:
    applied: list[Finding] = field(default_factory=list)  # the findings whose fix is in the files
    files: list[str] = field(default_factory=list)  # the files rewritten
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        fixes, files = len(self.applied), len(self.files)
        return f"applied {fixes} fix{'es' if fixes != 1 else ''} in {plural(files, 'file')}"


def plan_fixes(findings: Iterable[Finding], snapshot: Snapshot, source_root: str) -> FixPlan:
    """The changes the first fix of each finding not suppressed makes, in the findings' order."""
    plan = FixPlan()
    contents: dict[str, bytes | None] = {}
    taken: dict[str, list[_Edit]] = {}  # edits planned so far, by file
    owners: dict[tuple[str, _Edit], Finding] = {}  # which finding's fix planned an edit

    def content(path: str) -> bytes | None:
        if path not in contents:
            contents[path] = _content(path, snapshot, source_root, plan.warnings)
        return contents[path]

    for finding in sorted(findings, key=Finding.sort_key):
        if finding.suppression is not None or not finding.fixes:
            continue
        edits, problem = _edits(finding.fixes[0], content)
        if problem is None:
            problem = _conflict(edits, taken, owners, source_root)
        if problem is not None:
            if problem:  # "": the file's own warning says it
                where = _where(finding.location, source_root)
                plan.warnings.append(f"{where}: {finding.rule_id} fix not applied: {problem}")
            continue
        for path, file_edits in edits.items():
            for edit in file_edits:
                if edit not in taken.setdefault(path, []):
                    taken[path].append(edit)
                    owners[(path, edit)] = finding
        plan.fixed.append(finding)
    for path in sorted(taken):
        original = contents[path]
        assert original is not None  # only readable, unchanged files have edits
        fixed = original
        for edit in sorted(taken[path], key=lambda e: (e.start, e.end), reverse=True):
            fixed = fixed[: edit.start] + edit.text + fixed[edit.end :]
        users = {
            position
            for position, finding in enumerate(plan.fixed)
            if any(r.region.path == path for r in finding.fixes[0].replacements)
        }
        plan.changes.append(FileChange(path, original, fixed, users))
    return plan


def render_diff(plan: FixPlan, source_root: str) -> str:
    """The planned changes as a unified diff, with `a/` and `b/` paths relative to the source root
    (`patch -p1` in the source root applies it)."""
    out: list[str] = []
    for change in plan.changes:
        name = _relative(change.path, source_root)
        before, after = _lines(change.original), _lines(change.fixed)
        for line in difflib.unified_diff(before, after, f"a/{name}", f"b/{name}"):
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(data: bytes) -> list[str]:
    """The lines of a file as patch sees them: ended by "\n" alone (a form feed or a lone "\r" is text)."""
    lines = [line + "\n" for line in data.decode("utf-8", "surrogateescape").split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def apply_plan(plan: FixPlan, snapshot: Snapshot, source_root: str) -> FixOutcome:
    """Write the planned changes. A file whose content is no longer what was planned from is skipped
    with a warning (and the fixes that touch it do not count as applied)."""
    outcome = FixOutcome(warnings=list(plan.warnings))
    failed: set[int] = set()
    for change in plan.changes:
        problem = _replace(change, snapshot)
        if problem is None:
            outcome.files.append(change.path)
        else:
            failed |= change.fixes
            outcome.warnings.append(
                f"{_relative(change.path, source_root)}: {problem}: its fixes are not applied"
            )
    outcome.applied = [finding for position, finding in enumerate(plan.fixed) if position not in failed]
    return outcome


def apply_fixes(findings: Iterable[Finding], snapshot: Snapshot, source_root: str) -> FixOutcome:
    """Plan the fixes of `findings` and write them (`--fix`)."""
    return apply_plan(plan_fixes(findings, snapshot, source_root), snapshot, source_root)


# -- planning -----------------------------------------------------------------------------------
def _content(path: str, snapshot: Snapshot, source_root: str, warnings: list[str]) -> bytes | None:
    """The file's content, if it is still what the analysis read (else None, with a warning)."""
    name = _relative(path, source_root)
    if not snapshot.holds(path):
        warnings.append(
            f"{name}: not read before the analysis (not a source analysed): its fixes are not applied"
        )
        return None
    try:
        data = read_regular_file(path)
    except OSError as error:
        warnings.append(f"{name}: cannot read: {error.strerror or error}: its fixes are not applied")
        return None
    if not snapshot.unchanged(path, data):
        warnings.append(f"{name}: changed since it was analysed: its fixes are not applied")
        return None
    return data


def _edits(fix: Fix, content: Callable[[str], bytes | None]) -> tuple[dict[str, list[_Edit]], str | None]:
    """The fix's replacements as byte edits by file, or the reason it cannot be applied ("" when a
    file's own warning says it)."""
    edits: dict[str, list[_Edit]] = {}
    for replacement in fix.replacements:
        region = replacement.region
        data = content(region.path)
        if data is None:
            return {}, ""
        span = _span(data, region)
        if span is None:
            return {}, f"line {region.line}, column {region.column} is not in the file"
        start, end = span
        if replacement.original and _squeezed(data[start:end]) != _squeezed(replacement.original.encode()):
            held = data[start:end].decode("utf-8", "replace")
            return {}, f"line {region.line} no longer holds '{replacement.original}' (it holds '{held[:60]}')"
        edit = _Edit(start, end, replacement.text.encode("utf-8", "surrogateescape"))
        mine = edits.setdefault(region.path, [])
        if edit in mine:
            continue
        if any(edit.overlaps(other) for other in mine):
            return {}, "its replacements overlap each other"
        mine.append(edit)
    return edits, None


def _conflict(
    edits: dict[str, list[_Edit]],
    taken: dict[str, list[_Edit]],
    owners: dict[tuple[str, _Edit], Finding],
    source_root: str,
) -> str | None:
    """Why the edits cannot join those already taken: the first one they overlap."""
    for path, file_edits in edits.items():
        for edit in file_edits:
            for other in taken.get(path, ()):
                if edit != other and edit.overlaps(other):
                    owner = owners[(path, other)]
                    return (
                        f"it overlaps the fix of {owner.rule_id} at {_where(owner.location, source_root)}, "
                        "applied first"
                    )
    return None


def _span(data: bytes, region: SourceLocation) -> tuple[int, int] | None:
    """Byte offsets of a region (1-based lines and byte columns, the end exclusive), or None when it
    does not lie in the file."""
    starts = _line_starts(data)

    def offset(line: int, column: int) -> int | None:
        if not 1 <= line <= len(starts) or column < 1:
            return None
        begin = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(data)  # the newline, or the end of the file
        if begin + column - 1 > end:
            return None
        return begin + column - 1

    start, end = offset(region.line, region.column), offset(region.end_line, region.end_column)
    if start is None or end is None or end < start:
        return None
    return start, end


@functools.lru_cache(maxsize=8)
def _line_starts(data: bytes) -> tuple[int, ...]:
    """The offset of each line of `data` (a file's replacements look it up again and again)."""
    return (0, *(match.end() for match in re.finditer(b"\n", data)))


# -- writing ------------------------------------------------------------------------------------
def _replace(change: FileChange, snapshot: Snapshot) -> str | None:
    """Replace the file by its fixed content, or say why not."""
    target = os.path.realpath(change.path)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".gupcheck-fix-")
    except OSError as error:
        return f"cannot write: {error.strerror or error}"
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(change.fixed)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        try:
            current = read_regular_file(target)
        except OSError as error:
            os.unlink(temporary)
            return f"cannot read: {error.strerror or error}"
        if current != change.original or not snapshot.unchanged(target, current):
            os.unlink(temporary)
            return "changed since it was analysed"
        os.replace(temporary, target)
    except OSError as error:
        _remove(temporary)
        return f"cannot write: {error.strerror or error}"
    except BaseException:
        _remove(temporary)
        raise
    return None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# -- small helpers ------------------------------------------------------------------------------
def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _squeezed(data: bytes) -> bytes:
    return b"".join(data.split())


def _relative(path: str, source_root: str) -> str:
    return relative_path(path, source_root) or os.path.relpath(path, source_root).replace(os.sep, "/")


def _where(location: SourceLocation, source_root: str) -> str:
    return f"{_relative(location.path, source_root)}:{location.line}"
