"""Inline suppressions: `/* gupcheck: ignore[GUP001] reason */` on the flagged line or the line above.

Several rules are separated by commas (`ignore[GUP001, GUP005]`); a rule may be named by id or by
name (`ignore[pin-outlives-syscall]`). The text after the closing bracket is the justification,
recorded in SARIF. A suppressed finding is kept (SARIF lists it with its suppression) but leaves
text output and the exit status alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

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
) -> set[SourceLocation]:
    """Mark each finding an inline comment covers; the comments that covered one. `rule_names` maps rule
    id -> rule name."""
    by_file: dict[str, dict[int, list[tuple[set[str], Suppression]]]] = {}
    used: set[SourceLocation] = set()
    for finding in findings:
        path = finding.location.path
        if path not in by_file:
            by_file[path] = _comments_of(path, read_text)
        comments = by_file[path]
        names = {finding.rule_id.lower(), rule_names.get(finding.rule_id, "").lower()}
        for line in (finding.location.line, finding.location.line - 1):
            for rules, suppression in comments.get(line, ()):
                if rules & names:
                    finding.suppression = suppression
                    used.add(suppression.location)
                    break
            if finding.suppression is not None:
                break
    return used


@dataclass(frozen=True)
class UnknownRule:
    """`ignore[GUP05]`: a suppression naming a rule gupcheck does not have (a typo silences nothing)."""

    location: SourceLocation
    name: str


@dataclass
class SuppressionAudit:
    unknown: list[UnknownRule] = field(default_factory=list)
    unused: list[Suppression] = field(default_factory=list)  # comments for rules that ran, matching nothing


def audit_suppressions(
    paths: Iterable[str],
    used: set[SourceLocation],
    known: set[str],
    running: set[str],
    read_text: Callable[[str], str] = read_source_text,
) -> SuppressionAudit:
    """The suppressions in `paths` that name unknown rules, and those that covered no finding although a
    rule they name ran. `known` and `running` are the lower-case ids and names of every rule and of the
    rules of this run; `used` what `apply_suppressions` returned."""
    audit = SuppressionAudit()
    for path in sorted(set(paths)):
        for entries in _comments_of(path, read_text).values():
            for rules, suppression in entries:
                audit.unknown += [UnknownRule(suppression.location, name) for name in sorted(rules - known)]
                if suppression.location not in used and rules & running:
                    audit.unused.append(suppression)
    return audit


def _comments_of(path: str, read_text: Callable[[str], str]) -> dict[int, list[tuple[set[str], Suppression]]]:
    try:
        text = read_text(path)
    except OSError:
        return {}
    return suppressions_in(path, text) if "gupcheck" in text else {}
