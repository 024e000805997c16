"""Findings: what rules produce and what output formats consume.

Output formats import this module only; they never see facts or libclang.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum

FINGERPRINT_KEY = "gupcheck/v1"  # the partialFingerprints key of Finding.fingerprint() in SARIF


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, order=True, slots=True)
class SourceLocation:
    """A region in a source file: 1-based lines and columns, the end column exclusive
    (as in libclang and SARIF)."""

    path: str  # absolute path of the file
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __post_init__(self) -> None:
        if self.end_line == 0:
            object.__setattr__(self, "end_line", self.line)
        if self.end_column == 0:
            object.__setattr__(self, "end_column", self.column + 1)


@dataclass(frozen=True)
class RelatedLocation:
    location: SourceLocation
    message: str


@dataclass(frozen=True)
class FlowStep:
    """One step of the path that leads to the bug (a SARIF threadFlowLocation)."""

    location: SourceLocation
    message: str


@dataclass(frozen=True)
class Replacement:
    """Replace the text of `region` with `text` (a SARIF replacement). `original`, when given, is the
    text the region holds (compared without whitespace): a fix is applied only where it does."""

    region: SourceLocation
    text: str
    original: str = ""


@dataclass(frozen=True)
class Fix:
    """A mechanical change that fixes the finding (a SARIF fix)."""

    description: str
    replacements: tuple[Replacement, ...]


@dataclass(frozen=True)
class Suppression:
    """An in-source `/* gupcheck: ignore[GUP001] reason */` comment that silences a finding."""

    location: SourceLocation  # the comment
    justification: str  # the reason written after the rule list ("" when none)


@dataclass
class Finding:
    rule_id: str
    level: Level
    message: str
    location: SourceLocation
    function: str = ""  # enclosing function, part of the fingerprint
    snippet_key: str = ""  # normalised source text of the flagged construct, part of the fingerprint
    related: list[RelatedLocation] = field(default_factory=list)
    flow: list[FlowStep] = field(default_factory=list)
    hint: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. "parsed with the built-in kernel API model"
    fixes: list[Fix] = field(default_factory=list)
    suppression: Suppression | None = None  # an inline `gupcheck: ignore[...]` comment covers it

    def sort_key(self) -> tuple:
        loc = self.location
        return (loc.path, loc.line, loc.column, self.rule_id, self.message)

    def paths(self) -> set[str]:
        """Every file the finding points into: its location, related locations, flow, fixes and
        suppression."""
        locations = [
            self.location,
            *(r.location for r in self.related),
            *(s.location for s in self.flow),
            *(r.region for fix in self.fixes for r in fix.replacements),
        ]
        if self.suppression is not None:
            locations.append(self.suppression.location)
        return {location.path for location in locations}

    def fingerprint(self, relative_path: str) -> str:
        """A hash that survives line shifts: rule, file, function and the flagged text, not line numbers."""
        material = "\x1f".join((self.rule_id, relative_path, self.function, self.snippet_key))
        return hashlib.sha256(material.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass(frozen=True)
class InputProblem:
    """A file or path that could not be analysed (or was analysed only in part)."""

    path: str  # "" for a problem of the analysis rather than of a file (a rule that stopped)
    message: str
    fatal: bool = True  # False: the file was still analysed (e.g. parse errors)
    note: bool = False  # a remark on what was analysed (code the build leaves out), not a problem

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message
