"""How GUP005's sub-checks word a finding."""

from __future__ import annotations

from typing import Any

from gupcheck.model.facts import CallSite, Function
from gupcheck.model.findings import Finding, Level, SourceLocation

RULE_ID = "GUP005"


def finding(
    fn: Function,
    flagged: CallSite | str,
    location: SourceLocation,
    message: str,
    hint: str,
    level: Level = Level.ERROR,
    **extra: Any,
) -> Finding:
    """A finding in `fn`; `flagged` (a call, or the flagged text) is its fingerprint's snippet."""
    key = flagged if isinstance(flagged, str) else call_text(flagged)
    return Finding(
        rule_id=RULE_ID,
        level=level,
        message=message,
        location=location,
        function=fn.name,
        snippet_key=key,
        hint=hint,
        **extra,
    )


def call_text(call: CallSite) -> str:
    return f"{call.callee}({', '.join(arg.text for arg in call.args)})"
