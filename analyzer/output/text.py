"""Human-readable output in the style of gcc and clang.

    drivers/foo/foo.c:42:9: error: __copy_from_user without access_ok [GUP005]
       42 |         if (__copy_from_user(&req, argp, sizeof(req)))
          |             ^~~~~~~~~~~~~~~~
      hint: use copy_from_user(), which checks the range itself
    drivers/foo/foo.c:30:1: note: argp comes from the ioctl argument here

Columns are 1-based and count characters; a location's end column is exclusive, as in SARIF.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TextIO

from gupcheck.model.findings import Finding, Level, SourceLocation
from gupcheck.model.rule import LazyRule, RuleDoc

TAB_WIDTH = 8

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_LEVEL_COLOR = {
    Level.ERROR: "\x1b[1;31m",  # bold red, as clang
    Level.WARNING: "\x1b[1;35m",  # bold magenta
    Level.NOTE: "\x1b[1;36m",  # bold cyan
}
_CARET_COLOR = "\x1b[1;32m"  # bold green
_HINT_COLOR = "\x1b[1;32m"


def should_use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set to a non-empty value (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (OSError, ValueError):  # closed or detached stream
        return False


def relative_path(path: str, source_root: str) -> str | None:
    """`path` relative to `source_root` (with '/' separators), or None when it lies outside the root."""
    for resolve in (os.path.abspath, os.path.realpath):
        root, target = resolve(source_root), resolve(path)
        try:
            if os.path.commonpath([root, target]) == root:
                return os.path.relpath(target, root).replace(os.sep, "/")
        except ValueError:  # different drives
            continue
    return None


def display_path(path: str, source_root: str) -> str:
    """The path to show a user: relative to the source root when under it, else as given."""
    return relative_path(path, source_root) or path


def render_text(
    findings: Iterable[Finding],
    rules: Mapping[str, RuleDoc | LazyRule],  # rule id -> its documentation or the rule (for its name)
    *,
    color: bool,
    source_root: str,
    files_analysed: int,
    files_not_analysed: int = 0,
    rules_stopped: int = 0,
    baselined: int = 0,
    unused_suppressions: int = 0,
    diagnostics_only: bool = False,
) -> str:
    """All findings, sorted, each with its source snippet, then the rules involved and a summary line.
    Findings an inline comment suppresses, and those the baseline hides, are only counted in the
    summary. `diagnostics_only`: the findings alone, as a compiler prints them into a build log."""
    style = _Style(color)
    every = list(findings)
    ordered = sorted((f for f in every if f.suppression is None), key=Finding.sort_key)
    suppressed = len(every) - len(ordered)
    lines: list[str] = []
    shown_notes: set[tuple[str, str]] = set()  # a file's notes (e.g. how it was parsed) are shown once
    for finding in ordered:
        lines.extend(_render_finding(finding, style, source_root, shown_notes))
    if diagnostics_only:
        return "".join(line + "\n" for line in lines)
    if ordered:
        lines.append(_rules_line(ordered, rules))
    summary = _summary_line(ordered, files_analysed, style) + _incomplete(files_not_analysed, rules_stopped)
    if suppressed:
        summary += f"; {plural(suppressed, 'finding')} suppressed in the source"
    if baselined:
        summary += f"; {plural(baselined, 'finding')} in the baseline not shown"
    if unused_suppressions:
        summary += (
            f"; {plural(unused_suppressions, 'suppression')} matched no finding "
            "(--report-unused-suppressions lists them)"
        )
    lines.append(summary)
    return "\n".join(lines) + "\n"


class _Style:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if self.enabled and text else text

    def level(self, level: Level) -> str:
        return self(_LEVEL_COLOR[level], f"{level.value}:")


def _render_finding(
    finding: Finding, style: _Style, source_root: str, shown_notes: set[tuple[str, str]]
) -> list[str]:
    loc = finding.location
    where = style(_BOLD, f"{_format_location(loc, source_root)}:")
    message = style(_BOLD, f"{finding.message} [{finding.rule_id}]")
    lines = [f"{where} {style.level(finding.level)} {message}"]
    lines.extend(_snippet(loc, style))
    if finding.hint:
        lines.append(f"  {style(_HINT_COLOR, 'hint:')} {finding.hint}")
    if finding.fixes:  # the one --diff shows and --fix applies
        fix = finding.fixes[0].description
        lines.append(f"  {style(_HINT_COLOR, 'fix available:')} {fix} (--diff shows it, --fix applies it)")
    for related in finding.related:
        where = style(_BOLD, f"{_format_location(related.location, source_root)}:")
        lines.append(f"{where} {style.level(Level.NOTE)} {related.message}")
    for note in finding.notes:
        if (loc.path, note) in shown_notes:
            continue
        shown_notes.add((loc.path, note))
        lines.append(f"{style.level(Level.NOTE)} {note}")
    return lines


def _format_location(loc: SourceLocation, source_root: str) -> str:
    return f"{display_path(loc.path, source_root)}:{loc.line}:{loc.column}"


def _snippet(loc: SourceLocation, style: _Style) -> list[str]:
    """The flagged source line and a caret line under the region; nothing if the file can't be read."""
    source_line = _read_line(loc.path, loc.line)
    if source_line is None:
        return []
    expanded = source_line.expandtabs(TAB_WIDTH)
    # Map character columns to display columns through the same tab expansion as the printed line.
    start = len(source_line[: loc.column - 1].expandtabs(TAB_WIDTH))
    if loc.end_line == loc.line and loc.end_column > loc.column:
        end = len(source_line[: loc.end_column - 1].expandtabs(TAB_WIDTH))
    else:  # the region continues on later lines: underline to the end of this one
        end = len(expanded)
    start = min(start, len(expanded))
    width = max(end - start, 1)
    gutter = f"{loc.line:>5} | "
    blank_gutter = f"{'':>5} | "
    marker = "^" + "~" * (width - 1)
    return [f"{gutter}{expanded}", f"{blank_gutter}{' ' * start}{style(_CARET_COLOR, marker)}"]


def _read_line(path: str, line: int) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as source:
            for number, text in enumerate(source, start=1):
                if number == line:
                    return text.rstrip("\r\n")
    except OSError:
        return None
    return None


def _rules_line(findings: list[Finding], rules: Mapping[str, RuleDoc | LazyRule]) -> str:
    ids = sorted({f.rule_id for f in findings})
    named = [f"{rid} ({rules[rid].name})" if rid in rules else rid for rid in ids]
    return f"rules: {', '.join(named)}; run `gupcheck explain <rule>` for details"


def _summary_line(findings: list[Finding], files_analysed: int, style: _Style) -> str:
    files = plural(files_analysed, "file")
    if not findings:
        return f"no findings in {files} analysed"
    by_level = Counter(f.level for f in findings)
    parts = [plural(by_level[level], level.value) for level in Level if by_level[level]]
    return style(_BOLD, f"{plural(len(findings), 'finding')} ({', '.join(parts)}) in {files} analysed")


def _incomplete(files_not_analysed: int, rules_stopped: int) -> str:
    """What the summary adds when the analysis is incomplete (each item has its error line)."""
    parts = []
    if files_not_analysed:
        parts.append(f"{plural(files_not_analysed, 'file')} not analysed")
    if rules_stopped:
        parts.append(f"{plural(rules_stopped, 'rule')} stopped early")
    return f"; {' and '.join(parts)} (see the errors above)" if parts else ""


def plural(count: int, noun: str) -> str:
    """A count with its noun, for summary lines: 1 file, 3 files."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
