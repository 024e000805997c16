"""GitLab Code Quality report: the findings in a merge request's Code Quality widget and diff.

    [
      {
        "description": "__copy_from_user on argp without a dominating access_ok [GUP005]",
        "check_name": "GUP005",
        "fingerprint": "<32 hex digits>",
        "severity": "major",
        "type": "issue",
        "categories": ["Bug Risk", "Security"],
        "location": {"path": "drivers/foo.c", "lines": {"begin": 42, "end": 42}}
      }
    ]

Publish it with `artifacts: reports: codequality: <file>`. GitLab needs description, check_name,
fingerprint, severity, location.path and location.lines.begin; `type` and `categories` come from the
Code Climate format GitLab's is based on, for the tools that read that one.

Severity: error -> "major", warning -> "minor", note -> "info". "critical" and "blocker" are not
used, so that gupcheck's errors rank with the errors of the other analysers a widget lists (most map
errors to "major"); the exit status, not the severity, is what fails the job.

`fingerprint` is the finding's fingerprint (as in SARIF and JSON), which survives line shifts. GitLab
shows one issue a fingerprint, so when two findings share one (the same flagged text twice in a
function), the later ones in source order get a fingerprint derived from it and their rank.

`path` is relative to the source root (the project's checkout in a job, when gupcheck runs from it),
else the path as given. A finding an inline comment suppresses is left out: it is no failure.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable

from gupcheck.model.findings import Finding, Level
from gupcheck.output.text import display_path

SEVERITY = {Level.ERROR: "major", Level.WARNING: "minor", Level.NOTE: "info"}
CATEGORIES = ("Bug Risk", "Security")  # memory-safety bugs


def render_gitlab(findings: Iterable[Finding], *, source_root: str) -> str:
    """The report as a JSON array (UTF-8 text, ends with a newline), sorted, keys sorted."""
    reported = sorted((f for f in findings if f.suppression is None), key=Finding.sort_key)
    seen: Counter[str] = Counter()
    issues = []
    for finding in reported:
        path = display_path(finding.location.path, source_root)
        fingerprint = finding.fingerprint(path)
        rank = seen[fingerprint]
        seen[fingerprint] += 1
        issues.append(_issue(finding, path, _unique(fingerprint, rank)))
    return json.dumps(issues, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _unique(fingerprint: str, rank: int) -> str:
    """The first finding keeps the shared fingerprint, a later one gets a hash of it and its rank."""
    if rank == 0:
        return fingerprint
    return hashlib.sha256(f"{fingerprint}\x1f{rank}".encode()).hexdigest()[:32]


def _issue(finding: Finding, path: str, fingerprint: str) -> dict:
    loc = finding.location
    return {
        "description": f"{finding.message} [{finding.rule_id}]",
        "check_name": finding.rule_id,
        "fingerprint": fingerprint,
        "severity": SEVERITY[finding.level],
        "type": "issue",
        "categories": list(CATEGORIES),
        "location": {"path": path, "lines": {"begin": loc.line, "end": loc.end_line}},
    }
