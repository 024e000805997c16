"""SARIF 2.1.0 output for GitHub code scanning and other SARIF viewers.

The log passes the official schema and the SARIF Multitool's SARIF and GitHub ingestion rules
(`Sarif.Multitool validate --rule-kind "Gh;Sarif"`). It is deterministic: the same findings give the
same bytes (sorted results, no timestamps, no GUIDs), and each result carries a partial fingerprint that
does not depend on line numbers, so a finding keeps its identity when code above it moves.

Locations under the source root are relative URIs against `%SRCROOT%` (declared in
`originalUriBaseIds`); others are absolute `file://` URIs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

import sarif_om as om
from jschema_to_python.to_json import to_json

from gupcheck import INFORMATION_URI, __version__
from gupcheck.model.findings import (
    FINGERPRINT_KEY,
    Finding,
    Fix,
    InputProblem,
    Level,
    Replacement,
    SourceLocation,
    Suppression,
)
from gupcheck.model.rule import RuleDoc
from gupcheck.output.text import relative_path

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"

# GitHub code scanning reads these rule properties: `problem.severity` for non-security display,
# `security-severity` (a CVSS-like score) to rank results tagged `security`, `precision` for filtering.
_PROBLEM_SEVERITY = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "recommendation"}
_SECURITY_SEVERITY = {Level.ERROR: "8.0", Level.WARNING: "5.5", Level.NOTE: "2.0"}
RULE_PRECISION = "high"


def render_sarif(
    findings: Iterable[Finding],
    rules: Sequence[RuleDoc],
    *,
    source_root: str,
    files_analysed: Sequence[str],
    notifications: Sequence[str | InputProblem] = (),
    execution_successful: bool = True,
) -> str:
    """The SARIF log of one run as a JSON string (UTF-8 text, ends with a newline).

    Every finding's rule must be among `rules`. `notifications` become the invocation's
    toolExecutionNotifications: an InputProblem is an error when fatal, a note when it is one and a warning
    otherwise, with its file as location; a plain string is a warning.
    """
    ordered_rules = sorted(rules, key=lambda r: r.id)
    rule_index = {rule.id: i for i, rule in enumerate(ordered_rules)}
    ordered = sorted(findings, key=Finding.sort_key)
    unknown = sorted({f.rule_id for f in ordered} - rule_index.keys())
    if unknown:
        raise ValueError(f"findings for rules without metadata: {', '.join(unknown)}")

    uris = _UriMaker(source_root, files_analysed)
    notification_list = sorted(notifications, key=str)

    run = om.Run(
        tool=om.Tool(driver=_driver(ordered_rules)),
        original_uri_base_ids={SRCROOT: om.ArtifactLocation(uri=uris.root_uri)},
        artifacts=uris.artifacts() or None,
        invocations=[
            om.Invocation(
                execution_successful=execution_successful,
                tool_execution_notifications=[_notification(n, uris) for n in notification_list] or None,
            )
        ],
        results=[_result(f, rule_index[f.rule_id], uris) for f in ordered],
        column_kind="utf16CodeUnits",
    )
    log = om.SarifLog(runs=[run], version=SARIF_VERSION, schema_uri=SARIF_SCHEMA_URI)

    data = json.loads(to_json(log))
    _restore_default_levels(data["runs"][0], ordered, ordered_rules)
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class _UriMaker:
    """Artifact locations: relative to %SRCROOT% when under the source root, absolute file URIs otherwise.

    Locations of analysed files also carry their index in `run.artifacts`.
    """

    def __init__(self, source_root: str, files_analysed: Sequence[str]) -> None:
        self.source_root = source_root
        root_uri = Path(os.path.abspath(source_root)).as_uri()
        self.root_uri = root_uri if root_uri.endswith("/") else root_uri + "/"
        self._analysed = sorted({self._uri(path) for path in files_analysed})
        self._index = {uri: i for i, uri in enumerate(self._analysed)}

    def _uri(self, path: str) -> tuple[str, str]:
        """(uriBaseId or "", uri) of a path."""
        relative = relative_path(path, self.source_root)
        if relative is not None:
            return SRCROOT, quote(os.fsencode(relative))  # the file name's bytes, UTF-8 or not
        return "", Path(os.path.abspath(path)).as_uri()

    def artifacts(self) -> list[om.Artifact]:
        return [
            om.Artifact(
                location=om.ArtifactLocation(uri=uri, uri_base_id=base or None), roles=["analysisTarget"]
            )
            for base, uri in self._analysed
        ]

    def artifact_location(self, path: str) -> om.ArtifactLocation:
        base, uri = self._uri(path)
        return om.ArtifactLocation(uri=uri, uri_base_id=base or None, index=self._index.get((base, uri), -1))


def _driver(rules: list[RuleDoc]) -> om.ToolComponent:
    return om.ToolComponent(
        name="gupcheck",
        full_name=f"gupcheck {__version__}",
        version=__version__,
        semantic_version=__version__,
        information_uri=INFORMATION_URI,
        rules=[_rule_descriptor(rule) for rule in rules],
    )


def _rule_descriptor(rule: RuleDoc) -> om.ReportingDescriptor:
    properties = om.PropertyBag(tags=["security", *(_cwe_tag(cwe) for cwe in rule.cwe)])
    # PropertyBag only declares `tags`; other keys are plain attributes, which to_json keeps as named.
    properties.precision = RULE_PRECISION
    setattr(properties, "problem.severity", _PROBLEM_SEVERITY[rule.level])
    setattr(properties, "security-severity", _SECURITY_SEVERITY[rule.level])
    return om.ReportingDescriptor(
        id=rule.id,
        name=_pascal_case(rule.name),
        short_description=om.MultiformatMessageString(text=_sentence(rule.summary)),
        full_description=om.MultiformatMessageString(text=_sentence(rule.full_description)),
        help=om.MultiformatMessageString(text=rule.help_text(), markdown=rule.help_markdown()),
        help_uri=f"{INFORMATION_URI}#{rule.id.lower()}",
        default_configuration=om.ReportingConfiguration(level=rule.level.value),
        properties=properties,
    )


def _cwe_tag(cwe: str) -> str:
    number = re.sub(r"(?i)^cwe-?", "", cwe.strip())
    return f"external/cwe/cwe-{number}"


def _pascal_case(name: str) -> str:
    # SARIF's rule SARIF2012 expects rule names in Pascal case ("PinOutlivesSyscall").
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_\s]+", name) if part)


def _sentence(text: str) -> str:
    # The Multitool rule SARIF2001 (TerminateMessagesWithPeriod) wants messages to end with a period.
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def _result(finding: Finding, rule_index: int, uris: _UriMaker) -> om.Result:
    relative = relative_path(finding.location.path, uris.source_root)
    fingerprint_path = relative if relative is not None else finding.location.path
    related = [
        _location(r.location, uris, message=r.message, location_id=i)
        for i, r in enumerate(finding.related, start=1)
    ]
    code_flows = None
    if finding.flow:
        steps = [
            om.ThreadFlowLocation(location=_location(step.location, uris, message=step.message))
            for step in finding.flow
        ]
        code_flows = [om.CodeFlow(thread_flows=[om.ThreadFlow(locations=steps)])]
    properties = None
    if finding.function or finding.hint or finding.notes:
        properties = om.PropertyBag()
        for key, value in (("function", finding.function), ("hint", finding.hint), ("notes", finding.notes)):
            if value:
                setattr(properties, key, value)
    return om.Result(
        rule_id=finding.rule_id,
        rule_index=rule_index,
        level=finding.level.value,
        message=om.Message(text=_sentence(finding.message)),
        locations=[_location(finding.location, uris)],
        related_locations=related or None,
        code_flows=code_flows,
        partial_fingerprints={FINGERPRINT_KEY: finding.fingerprint(fingerprint_path)},
        properties=properties,
        fixes=[_fix(fix, uris) for fix in finding.fixes] or None,
        suppressions=[_suppression(finding.suppression, uris)] if finding.suppression else None,
    )


def _suppression(suppression: Suppression, uris: _UriMaker) -> om.Suppression:
    return om.Suppression(
        kind="inSource",
        justification=suppression.justification or None,
        location=_location(suppression.location, uris),
    )


def _fix(fix: Fix, uris: _UriMaker) -> om.Fix:
    """One artifactChange per file, its replacements in source order."""
    by_file: dict[str, list[Replacement]] = {}
    for replacement in sorted(fix.replacements, key=lambda r: r.region):
        by_file.setdefault(replacement.region.path, []).append(replacement)
    changes = [
        om.ArtifactChange(
            artifact_location=uris.artifact_location(path),
            replacements=[
                om.Replacement(
                    deleted_region=_region(r.region),
                    inserted_content=om.ArtifactContent(text=r.text),
                )
                for r in replacements
            ],
        )
        for path, replacements in by_file.items()
    ]
    return om.Fix(description=om.Message(text=_sentence(fix.description)), artifact_changes=changes)


def _region(loc: SourceLocation) -> om.Region:
    return om.Region(
        start_line=loc.line,
        start_column=loc.column,
        end_line=loc.end_line,
        end_column=max(loc.end_column, loc.column + 1) if loc.end_line == loc.line else loc.end_column,
    )


def _location(
    loc: SourceLocation, uris: _UriMaker, *, message: str = "", location_id: int = -1
) -> om.Location:
    region = _region(loc)
    return om.Location(
        id=location_id,
        physical_location=om.PhysicalLocation(
            artifact_location=uris.artifact_location(loc.path), region=region
        ),
        message=om.Message(text=_sentence(message)) if message else None,
    )


def _notification(item: str | InputProblem, uris: _UriMaker) -> om.Notification:
    if isinstance(item, InputProblem):
        return om.Notification(
            message=om.Message(text=_sentence(str(item))),
            level="error" if item.fatal else "note" if item.note else "warning",
            locations=[
                om.Location(
                    physical_location=om.PhysicalLocation(artifact_location=uris.artifact_location(item.path))
                )
            ]
            if item.path
            else None,
        )
    return om.Notification(message=om.Message(text=_sentence(item)), level="warning")


def _restore_default_levels(
    run: dict,
    findings: list[Finding],
    rules: list[RuleDoc],
) -> None:
    """Put back the `level` properties that jschema_to_python drops when they equal the default "warning".

    Omitting them is valid SARIF, but explicit levels are clearer to readers and to ingestion tools.
    """
    for result, finding in zip(run["results"], findings, strict=True):
        result["level"] = finding.level.value
    for descriptor, rule in zip(run["tool"]["driver"].get("rules", []), rules, strict=True):
        descriptor.setdefault("defaultConfiguration", {})["level"] = rule.level.value
    for notification in run["invocations"][0].get("toolExecutionNotifications", []):
        notification.setdefault("level", "warning")
