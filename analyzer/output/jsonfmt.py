"""gupcheck's own JSON output: a small, stable format for scripts.

    {
      "version": 1,                      # format version; bumped only on incompatible changes
      "tool": {"name": "gupcheck", "version": "0.1.0"},
      "findings": [
        {
          "ruleId": "GUP005", "level": "error", "message": "...",
          "path": "drivers/foo.c",       # relative to the source root when under it, else absolute
          "line": 42, "column": 9, "endLine": 42, "endColumn": 25,   # 1-based; endColumn exclusive
          "function": "foo_ioctl", "hint": "...", "fingerprint": "<32 hex digits>",
          "related": [{"path", "line", "column", "endLine", "endColumn", "message"}, ...],
          "flow": [{"path", "line", "column", "endLine", "endColumn", "message"}, ...],
          "notes": ["..."],
          "suppressed": null             # or {"path", "line", ..., "justification"}: an inline
        }                                #   `gupcheck: ignore[...]` comment covers the finding
      ],
      "filesAnalysed": 4,
      "problems": [{"path": "...", "message": "...", "fatal": true}]
    }

Findings are sorted by path, line, column and rule; keys are sorted; the output has no timestamps, so
the same input gives the same bytes. `fingerprint` is the same value as the SARIF partial fingerprint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from gupcheck import __version__
from gupcheck.model.findings import Finding, InputProblem, SourceLocation
from gupcheck.output.text import display_path

JSON_FORMAT_VERSION = 1


def render_json(
    findings: Iterable[Finding],
    *,
    source_root: str,
    files_analysed: int,
    problems: Sequence[InputProblem] = (),
) -> str:
    document = {
        "version": JSON_FORMAT_VERSION,
        "tool": {"name": "gupcheck", "version": __version__},
        "findings": [_finding(f, source_root) for f in sorted(findings, key=Finding.sort_key)],
        "filesAnalysed": files_analysed,
        "problems": [
            {"path": display_path(p.path, source_root), "message": p.message, "fatal": p.fatal}
            for p in sorted(problems, key=lambda p: (p.path, p.message))
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _finding(finding: Finding, source_root: str) -> dict:
    path = display_path(finding.location.path, source_root)
    return {
        "ruleId": finding.rule_id,
        "level": finding.level.value,
        "message": finding.message,
        **_region(finding.location, source_root),
        "function": finding.function,
        "hint": finding.hint,
        "fingerprint": finding.fingerprint(path),
        "related": [{**_region(r.location, source_root), "message": r.message} for r in finding.related],
        "flow": [{**_region(s.location, source_root), "message": s.message} for s in finding.flow],
        "notes": list(finding.notes),
        "suppressed": None
        if finding.suppression is None
        else {
            **_region(finding.suppression.location, source_root),
            "justification": finding.suppression.justification,
        },
    }


def _region(loc: SourceLocation, source_root: str) -> dict:
    return {
        "path": display_path(loc.path, source_root),
        "line": loc.line,
        "column": loc.column,
        "endLine": loc.end_line,
        "endColumn": loc.end_column,
    }
