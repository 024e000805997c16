"""Inline suppressions: `/* gupcheck: ignore[GUP001] reason */` on the flagged line or the line above.

Several rules are separated by commas (`ignore[GUP001, GUP005]`); a rule may be named by id or by
name (`ignore[pin-outlives-syscall]`). The text after the closing bracket is the justification,
recorded in SARIF. A suppressed finding is kept (SARIF lists it with its suppression) but leaves
text output and the exit status alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from gupcheck.frontend.discovery import read_source_text
from gupcheck.model.findings import Finding, SourceLocation, Suppression

_COMMENT = re.compile(r"gupcheck:\s*ignore\[([^\]]*)\]([^\n]*)")


def _justification(tail: str) -> str:
    text = tail.split("*/", 1)[0]
    return text.strip(" \t-:;,")


def suppressions_in(path: str, text: str) -> dict[int, list[tuple[set[str], Suppression]]]:
    """line -> [(rule ids or names, in lower case; the suppression)] for the comments in `text`."""
    found: dict[int, list[tuple[set[str], Suppression]]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for match in _COMMENT.finditer(line):
            rules = {part.strip().lower() for part in match.group(1).split(",") if part.strip()}
            where = SourceLocation(path, number, match.start() + 1)
            found.setdefault(number, []).append((rules, Suppression(where, _justification(match.group(2)))))
    return found


def apply_suppressions(
    findings: Iterable[Finding],
    rule_names: dict[str, str],
    read_text: Callable[[str], str] = read_source_text,
) -> None:
    """Mark each finding an inline comment covers. `rule_names` maps rule id -> rule name."""
    by_file: dict[str, dict[int, list[tuple[set[str], Suppression]]]] = {}
    for finding in findings:
        path = finding.location.path
        if path not in by_file:
            try:
                by_file[path] = suppressions_in(path, read_text(path))
            except OSError:
                by_file[path] = {}
        comments = by_file[path]
        names = {finding.rule_id.lower(), rule_names.get(finding.rule_id, "").lower()}
        for line in (finding.location.line, finding.location.line - 1):
            for rules, suppression in comments.get(line, ()):
                if rules & names:
                    finding.suppression = suppression
                    break
            if finding.suppression is not None:
                break
