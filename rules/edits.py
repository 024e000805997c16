"""How rules spell the replacements of their fixes from a call's facts. Each replacement says what its
region holds (`Replacement.original`), so a fix is applied only where the source is what the rule saw."""

from __future__ import annotations

from gupcheck.model.facts import CallSite
from gupcheck.model.findings import Replacement, SourceLocation


def call_text(call: CallSite) -> str:
    """The source text of a call, from its arguments' (whitespace-normalised) text."""
    return f"{call.callee}({', '.join(arg.text for arg in call.args)})"


def rebuildable(call: CallSite) -> bool:
    """Whether the call can be written back from its arguments' text: that text is the source with its
    whitespace collapsed, so a comment, a string or a preprocessor line in it would change meaning."""
    return not any(marker in arg.text for arg in call.args for marker in ("//", "/*", "#", '"', "'", "\\"))


def rewrite(call: CallSite, name: str, args: list[str]) -> Replacement:
    """The whole call written anew as `name(args...)`."""
    return Replacement(call.location, f"{name}({', '.join(args)})", call_text(call))


def rename(call: CallSite, name: str) -> Replacement:
    """`call`'s callee renamed to `name`, its arguments left as they are."""
    start = call.location
    region = SourceLocation(start.path, start.line, start.column, start.line, start.column + len(call.callee))
    return Replacement(region, name, call.callee)
