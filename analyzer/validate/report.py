"""Validation reports: a table for the terminal, JSON, and verdicts merged into a SARIF log.

The SARIF merge reads a log written by `gupcheck --format sarif` and adds, to every result
whose location and rule match a validated finding, a `validation` entry in the result's
property bag: one object per kernel with the verdict and its evidence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from gupcheck.validate.run import ValidationRun
from gupcheck.validate.verdicts import Verdict

JSON_VERSION = 1


def _finding_label(verdict: Verdict) -> str:
    return f"{verdict.site} {verdict.rule}" if verdict.positive else f"{verdict.site} look-alike"


def summary_lines(run: ValidationRun) -> list[str]:
    lines = []
    for kernel_run in run.kernels:
        version = kernel_run.kernel.version
        mine = [v for v in run.verdicts if v.kernel == version]
        findings = [v for v in mine if v.positive]
        look_alikes = [v for v in mine if not v.positive]

        def counts(verdicts: list[Verdict]) -> str:
            tally: dict[str, int] = {}
            for v in verdicts:
                tally[v.verdict] = tally.get(v.verdict, 0) + 1
            ordered = sorted(tally.items(), key=lambda item: -item[1])
            return ", ".join(f"{n} {name}" for name, n in ordered) or "none"

        booted = (
            f"QEMU {kernel_run.seconds:.1f} s ({kernel_run.accel}, {kernel_run.outcome})"
            if kernel_run.accel
            else kernel_run.outcome
        )
        lines.append(
            f"{version}: {len(findings)} findings: {counts(findings)}; "
            f"{len(look_alikes)} look-alikes: {counts(look_alikes)}; {booted}"
        )
        lines += [f"  note: {note}" for note in kernel_run.notes]
    return lines


def render_table(run: ValidationRun) -> str:
    header = ("CASE", "FINDING", "KERNEL", "VERDICT", "EVIDENCE")
    rows = [(v.case, _finding_label(v), v.kernel, v.verdict, v.evidence) for v in run.verdicts]
    widths = [max([len(header[i]), *(len(row[i]) for row in rows)]) for i in range(4)]
    out = []
    for row in [header, *rows]:
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
    out.append("")
    out += summary_lines(run)
    return "\n".join(out) + "\n"


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    return {
        "case": verdict.case,
        "kind": "finding" if verdict.positive else "look-alike",
        "file": verdict.file,
        "line": verdict.line,
        "rule": verdict.rule,
        "kernel": verdict.kernel,
        "result": verdict.result,
        "verdict": verdict.verdict,
        "evidence": verdict.evidence,
    }


def render_json(run: ValidationRun) -> str:
    report = {
        "version": JSON_VERSION,
        "ok": run.ok,
        "kernels": [
            {
                "version": k.kernel.version,
                "accel": k.accel,
                "qemu_seconds": round(k.seconds, 1),
                "outcome": k.outcome,
                "notes": k.notes,
            }
            for k in run.kernels
        ],
        "verdicts": [verdict_json(v) for v in run.verdicts],
    }
    return json.dumps(report, indent=2) + "\n"


def _result_path(run: dict[str, Any], result: dict[str, Any], sarif_dir: Path) -> tuple[Path, int] | None:
    try:
        physical = result["locations"][0]["physicalLocation"]
        artifact = physical["artifactLocation"]
        line = int(physical["region"]["startLine"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    uri = artifact.get("uri", "")
    base = run.get("originalUriBaseIds", {}).get(artifact.get("uriBaseId", ""), {}).get("uri")
    if base:
        uri = base.rstrip("/") + "/" + uri
    parsed = urlparse(uri)
    path = Path(unquote(parsed.path)) if parsed.scheme in ("file", "") else None
    if path is None:
        return None
    if not path.is_absolute():
        path = sarif_dir / path
    return path.resolve(), line


def merge_into_sarif(sarif: dict[str, Any], verdicts: list[Verdict], sarif_dir: Path) -> int:
    """Adds the verdicts of matching findings to the SARIF results; returns how many results got one."""
    by_site: dict[tuple[Path, int, str], list[Verdict]] = {}
    for verdict in verdicts:
        if verdict.positive:
            key = ((Path(verdict.case_path) / verdict.file).resolve(), verdict.line, verdict.rule or "")
            by_site.setdefault(key, []).append(verdict)
    annotated = 0
    for sarif_run in sarif.get("runs", []):
        for result in sarif_run.get("results", []):
            located = _result_path(sarif_run, result, sarif_dir)
            if located is None:
                continue
            matches = by_site.get((located[0], located[1], result.get("ruleId", "")))
            if not matches:
                continue
            properties = result.setdefault("properties", {})
            properties["validation"] = [
                {"kernel": v.kernel, "verdict": v.verdict, "evidence": v.evidence, "case": v.case}
                for v in matches
            ]
            annotated += 1
    return annotated
