"""GitHub Actions workflow commands: each finding an annotation on the pull request's diff.

    ::error file=drivers/foo.c,line=42,endLine=42,col=9,endColumn=24,title=GUP005 unchecked-user-access::
    __copy_from_user without access_ok%0Ahint: use copy_from_user()          (the two lines are one)

One line a finding, sorted; a finding an inline comment suppresses is left out (it is no failure). The
level picks the command: error -> `::error`, warning -> `::warning`, note -> `::notice`. The title is
the rule's id and name; the message is the finding's, with its hint on a second line when the hint is
short enough to read in an annotation.

`file` is relative to the source root (the repository's checkout in a workflow, when gupcheck runs from
it), else the path as given. `col` and `endColumn` are sent only when the region is on one line (GitHub
accepts columns only then); `endColumn` is inclusive there, where a finding's end column is not.

Values are escaped as the runner reads them: `%`, CR and LF in the message, and also `:` and `,` in the
properties. GitHub shows at most ten annotations of each level per step; the rest are still in the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gupcheck.model.findings import Finding, Level
from gupcheck.model.rule import LazyRule, RuleDoc
from gupcheck.output.text import display_path

HINT_MAX_LENGTH = 240  # a longer hint would bury the message; `gupcheck explain` has the full advice

_COMMAND = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "notice"}


def render_github(
    findings: Iterable[Finding],
    rules: Mapping[str, RuleDoc | LazyRule],  # rule id -> its documentation or the rule (for its name)
    *,
    source_root: str,
) -> str:
    """One workflow command a finding that no inline comment suppresses, in finding order."""
    reported = sorted((f for f in findings if f.suppression is None), key=Finding.sort_key)
    return "".join(_command(finding, rules, source_root) + "\n" for finding in reported)


def _command(finding: Finding, rules: Mapping[str, RuleDoc | LazyRule], source_root: str) -> str:
    loc = finding.location
    properties = [("file", display_path(loc.path, source_root)), ("line", str(loc.line))]
    properties.append(("endLine", str(loc.end_line)))
    if loc.end_line == loc.line:
        properties.append(("col", str(loc.column)))
        properties.append(("endColumn", str(max(loc.end_column - 1, loc.column))))
    rule = rules.get(finding.rule_id)
    properties.append(("title", f"{finding.rule_id} {rule.name}" if rule is not None else finding.rule_id))
    listed = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    return f"::{_COMMAND[finding.level]} {listed}::{escape_data(_message(finding))}"


def _message(finding: Finding) -> str:
    if finding.hint and len(finding.hint) <= HINT_MAX_LENGTH:
        return f"{finding.message}\nhint: {finding.hint}"
    return finding.message


def escape_data(text: str) -> str:
    """A command's message: `%` first, so that the escapes themselves are not escaped again."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property's value: as a message, and `:` and `,`, which end the value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")
