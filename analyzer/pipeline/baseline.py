"""`--baseline OLD.sarif`: report only findings an earlier run did not report.

Findings are matched by their partial fingerprint (`gupcheck/v1`: rule, file, function and flagged
text, not line numbers), so a baseline survives edits that move code around.
"""

from __future__ import annotations

import json

from gupcheck.model.findings import FINGERPRINT_KEY, Finding
from gupcheck.output.text import relative_path


class BaselineError(Exception):
    """A baseline file that cannot be used; the message is one line naming the file."""


def load_baseline(path: str) -> set[str]:
    """The fingerprints of every result in a SARIF log written by gupcheck."""
    try:
        with open(path, encoding="utf-8") as handle:
            log = json.load(handle)
    except OSError as error:
        raise BaselineError(f"{path}: cannot read baseline: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BaselineError(f"{path}: baseline is not a SARIF log (not JSON: {error})") from None
    if not isinstance(log, dict) or not isinstance(log.get("runs"), list):
        raise BaselineError(f"{path}: baseline is not a SARIF log (no 'runs')")
    fingerprints: set[str] = set()
    for run in log["runs"]:
        for result in (run.get("results") or []) if isinstance(run, dict) else []:
            fingerprints_of_result = result.get("partialFingerprints") if isinstance(result, dict) else None
            value = (
                fingerprints_of_result.get(FINGERPRINT_KEY)
                if isinstance(fingerprints_of_result, dict)
                else None
            )
            if isinstance(value, str):
                fingerprints.add(value)
    return fingerprints


def fingerprint_of(finding: Finding, source_root: str) -> str:
    """The fingerprint SARIF output gives `finding` with the same source root."""
    relative = relative_path(finding.location.path, source_root)
    return finding.fingerprint(relative if relative is not None else finding.location.path)
