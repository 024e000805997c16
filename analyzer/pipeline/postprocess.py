"""The one post-processing step between the rules and the output formats.

Every finding, whatever rule produced it, gets notes on how its file was parsed; findings are put in
source order; inline suppressions are applied; then what the run was asked to report decides the rest:
the configured levels, the hook's "only these files" and the baseline. Rules never do any of this.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gupcheck.model.facts import HeaderMode, TranslationUnitFacts
from gupcheck.model.findings import Finding, Level, SourceLocation
from gupcheck.pipeline.baseline import fingerprint_of
from gupcheck.pipeline.suppressions import SuppressionAudit, apply_suppressions, audit_suppressions
from gupcheck.rules import ALL_RULES

MODE_NOTES = {
    HeaderMode.KERNEL_MODEL: "parsed with gupcheck's built-in kernel API model, not real kernel headers "
    "(use --kernel-dir DIR for a kernel build tree)",
}


@dataclass(frozen=True)
class Reporting:
    """What a run reports of its findings. These options change neither facts nor findings, so the
    caches do not depend on them."""

    levels: Mapping[str, Level] = field(default_factory=dict)  # by rule id or name
    report_only: tuple[str, ...] | None = None  # only findings located in these files (the hook)
    baseline: frozenset[str] = frozenset()  # fingerprints of findings not to report again
    source_root: str = ""  # what the fingerprints' paths are relative to


@dataclass
class Reported:
    """What the post-processing leaves to report."""

    findings: list[Finding]
    baselined: int = 0  # findings not suppressed in the source that the baseline hides
    suppressions: SuppressionAudit = field(default_factory=SuppressionAudit)


def postprocess(
    findings: Iterable[Finding],
    units: Iterable[TranslationUnitFacts],
    rule_names: Mapping[str, str],
    reporting: Reporting,
) -> Reported:
    """The findings to report, from what the rules produced. `rule_names` maps rule id -> name."""
    units = list(units)
    ordered = _with_parse_notes(findings, units)
    ordered.sort(key=Finding.sort_key)
    used = apply_suppressions(ordered, dict(rule_names))
    for finding in ordered:
        level = reporting.levels.get(finding.rule_id) or reporting.levels.get(
            rule_names.get(finding.rule_id, "")
        )
        if level is not None:
            finding.level = level
    audited = [unit.path for unit in units]
    if reporting.report_only is not None:
        wanted = {os.path.realpath(name) for name in reporting.report_only}
        ordered = [f for f in ordered if os.path.realpath(f.location.path) in wanted]
        audited = [path for path in audited if os.path.realpath(path) in wanted]
    reported = Reported(ordered, suppressions=_audit(audited, used, rule_names))
    if reporting.baseline:
        root = reporting.source_root or os.getcwd()
        reported.findings = [f for f in ordered if fingerprint_of(f, root) not in reporting.baseline]
        reported.baselined = sum(1 for f in ordered if f.suppression is None) - sum(
            1 for f in reported.findings if f.suppression is None
        )
    return reported


def _audit(paths: list[str], used: set[SourceLocation], rule_names: Mapping[str, str]) -> SuppressionAudit:
    """Suppressions in `paths` naming unknown rules, or matching no finding of a rule that ran."""
    known = {name.lower() for rule in ALL_RULES for name in (rule.id, rule.name)}
    running = {name.lower() for pair in rule_names.items() for name in pair}
    return audit_suppressions(paths, used, known, running)


def _with_parse_notes(findings: Iterable[Finding], units: Iterable[TranslationUnitFacts]) -> list[Finding]:
    """Findings in a file parsed with the kernel model, or with errors, say so."""
    by_path = {unit.path: unit for unit in units}
    noted = []
    for finding in findings:
        unit = by_path.get(finding.location.path)
        if unit is not None:
            if unit.mode in MODE_NOTES:
                finding.notes.append(MODE_NOTES[unit.mode])
            if unit.errors:
                finding.notes.append(
                    f"the file parsed with {len(unit.errors)} error(s); this finding may be incomplete"
                )
        noted.append(finding)
    return noted
