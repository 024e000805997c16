"""JUnit XML, the test report format CI servers show (GitLab's test report, Jenkins' JUnit plugin).

    <testsuites name="gupcheck" tests="4" failures="2" errors="0" skipped="1" time="0">
      <testsuite name="GUP001 pin-outlives-syscall" tests="1" failures="0" errors="0" skipped="0" time="0">
        <testcase classname="gupcheck.GUP001" name="no findings" time="0" />
      </testsuite>
      <testsuite name="GUP005 unchecked-user-access" tests="3" failures="2" errors="0" skipped="1" time="0">
        <testcase classname="gupcheck.GUP005" name="drivers/foo.c:42:9: __copy_from_user without ..."
                  file="drivers/foo.c" line="42" time="0">
          <failure message="__copy_from_user without access_ok" type="GUP005">drivers/foo.c:42:9: error: ...
          hint: ...</failure>
        </testcase>
        <testcase ...><skipped message="suppressed in the source: ..." /></testcase>
      </testsuite>
    </testsuites>

One test suite a rule, in rule order: the rule is what a reader triages by, and every rule that ran
shows, as one passing test case named "no findings" when it found nothing. A run without findings is so
a report of passing tests, which CI shows as passed (not as "no tests"). A finding is a test case with
a `failure` whose type is the rule id, whose message is the finding's and whose text has the location,
level, function, hint, related locations and path. A finding an inline comment suppresses is a
`skipped` test case, never a failure.

`classname` is "gupcheck.<rule id>": Jenkins splits it at the last dot into package and class, GitLab
shows it as the suite. `file` (GitLab links it) is relative to the source root when under it. The
report has no timestamps or host names: the same findings give the same bytes.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping

from gupcheck.model.findings import Finding, SourceLocation
from gupcheck.model.rule import LazyRule, RuleDoc
from gupcheck.output.text import display_path

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
PASSING_NAME = "no findings"
_COUNTED = ("tests", "failures", "skipped")

# Characters XML 1.0 does not allow (control characters, lone surrogates): shown as U+FFFD.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(
    findings: Iterable[Finding],
    rules: Mapping[str, RuleDoc | LazyRule],  # the rules that ran: rule id -> documentation or rule
    *,
    source_root: str,
) -> str:
    """The JUnit XML document (ends with a newline)."""
    by_rule: dict[str, list[Finding]] = {rule_id: [] for rule_id in rules}
    for finding in sorted(findings, key=Finding.sort_key):
        by_rule.setdefault(finding.rule_id, []).append(finding)

    suites = ET.Element("testsuites", name="gupcheck")
    for rule_id in sorted(by_rule):
        rule = rules.get(rule_id)
        name = f"{rule_id} {rule.name}" if rule is not None else rule_id
        suites.append(_suite(name, f"gupcheck.{rule_id}", by_rule[rule_id], source_root))
    if not by_rule:  # no rule ran: still one passing test, so that the report is not empty
        suites.append(_suite("gupcheck", "gupcheck", [], source_root))
    _set_counts(suites, *(sum(int(suite.get(key, "0")) for suite in suites) for key in _COUNTED))
    ET.indent(suites, space="  ")
    return XML_DECLARATION + ET.tostring(suites, encoding="unicode") + "\n"


def _suite(name: str, classname: str, findings: list[Finding], source_root: str) -> ET.Element:
    suite = ET.Element("testsuite", name=_xml(name))
    for finding in findings:
        suite.append(_case(finding, classname, source_root))
    if not findings:
        ET.SubElement(suite, "testcase", classname=classname, name=PASSING_NAME, time="0")
    failures = sum(finding.suppression is None for finding in findings)
    _set_counts(suite, max(len(findings), 1), failures, len(findings) - failures)
    return suite


def _case(finding: Finding, classname: str, source_root: str) -> ET.Element:
    loc = finding.location
    path = display_path(loc.path, source_root)
    case = ET.Element(
        "testcase",
        classname=classname,
        name=_xml(f"{path}:{loc.line}:{loc.column}: {finding.message}"),
        file=_xml(path),
        line=str(loc.line),
        time="0",
    )
    if finding.suppression is not None:
        reason = finding.suppression.justification
        message = f"suppressed in the source: {reason}" if reason else "suppressed in the source"
        ET.SubElement(case, "skipped", message=_xml(message))
    else:
        failure = ET.SubElement(case, "failure", message=_xml(finding.message), type=finding.rule_id)
        failure.text = _xml(_details(finding, source_root))
    return case


def _details(finding: Finding, source_root: str) -> str:
    lines = [
        f"{_where(finding.location, source_root)}: {finding.level.value}: {finding.message} "
        f"[{finding.rule_id}]"
    ]
    if finding.function:
        lines.append(f"in function {finding.function}")
    if finding.hint:
        lines.append(f"hint: {finding.hint}")
    lines.extend(f"{_where(r.location, source_root)}: note: {r.message}" for r in finding.related)
    if finding.flow:
        lines.append("path:")
        lines.extend(f"  {_where(s.location, source_root)}: {s.message}" for s in finding.flow)
    lines.extend(f"note: {note}" for note in finding.notes)
    return "\n".join(lines) + "\n"


def _where(loc: SourceLocation, source_root: str) -> str:
    return f"{display_path(loc.path, source_root)}:{loc.line}:{loc.column}"


def _set_counts(element: ET.Element, tests: int, failures: int, skipped: int) -> None:
    for key, value in (("tests", tests), ("failures", failures), ("errors", 0), ("skipped", skipped)):
        element.set(key, str(value))
    element.set("time", "0")  # no timings: the same findings give the same bytes


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)
