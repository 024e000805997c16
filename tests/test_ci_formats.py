"""The CI formats (`--format github`, `gitlab`, `junit`) against the shapes their consumers document:
from hand-made findings, and end to end through the command line on testdata/example."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_cli import gupcheck

from gupcheck.model.findings import Finding, Level, RelatedLocation, SourceLocation, Suppression
from gupcheck.model.rule import LazyRule
from gupcheck.output.github import HINT_MAX_LENGTH, escape_data, escape_property, render_github
from gupcheck.output.gitlab import render_gitlab
from gupcheck.output.junit import render_junit
from gupcheck.rules import ALL_RULES

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = "testdata/example"  # relative to REPO, where the command runs: paths come out relative
EXAMPLE_FILE = "testdata/example/demo_dev.c"
EXAMPLE_LINES = [35, 66, 82]  # two errors, then a warning (tests/test_cli.py checks the text output)

RULES = {
    "GUP001": LazyRule("GUP001", "pin-outlives-syscall", "unused"),
    "GUP003": LazyRule("GUP003", "missing-madv-dontfork", "unused"),
    "GUP005": LazyRule("GUP005", "unchecked-user-access", "unused"),
}

# GitHub's workflow command: `::command key=value,key=value::message`; values have `:` and `,` escaped.
WORKFLOW_COMMAND = re.compile(r"::(?P<command>[a-z]+) (?P<properties>[^:]*)::(?P<message>.*)")
FINGERPRINT = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "tree"


def at(
    root: Path, relative: str, line: int, column: int, end_line: int = 0, end_column: int = 0
) -> SourceLocation:
    return SourceLocation(str(root / relative), line, column, end_line, end_column)


def sample_findings(root: Path) -> list[Finding]:
    """An error on one line, a warning over two lines, a note, and a suppressed error: out of order."""
    return [
        Finding(
            "GUP003",
            Level.WARNING,
            "fork() while a registered buffer has no MADV_DONTFORK",
            at(root, "user/app.c", 3, 2, 4, 5),
            function="main",
            snippet_key="fork()",
        ),
        Finding(
            "GUP005",
            Level.ERROR,
            "__copy_from_user on argp without access_ok",
            at(root, "drivers/foo.c", 6, 6, 6, 22),
            function="foo_ioctl",
            snippet_key="__copy_from_user(&req, argp, sizeof(req))",
            hint="use copy_from_user()",
            related=[RelatedLocation(at(root, "drivers/foo.c", 3, 8), "argp comes from the ioctl argument")],
        ),
        Finding("GUP005", Level.NOTE, "a note", at(root, "drivers/foo.c", 9, 1), function="foo_ioctl"),
        Finding(
            "GUP001",
            Level.ERROR,
            "pages kept after the syscall",
            at(root, "drivers/bar.c", 12, 3, 12, 10),
            function="bar_ioctl",
            suppression=Suppression(at(root, "drivers/bar.c", 11, 3), "released in bar_release"),
        ),
    ]


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command read back as the runner reads it: (command, properties, message), unescaped."""
    match = WORKFLOW_COMMAND.fullmatch(line)
    assert match is not None, line
    properties = {}
    for item in match["properties"].split(","):
        key, value = item.split("=", 1)
        properties[key] = unescape(value)
    return match["command"], properties, unescape(match["message"])


def unescape(text: str) -> str:
    for escaped, character in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, character)
    return text


# --- GitHub Actions workflow commands ---


def test_github_one_command_a_finding_in_order_without_the_suppressed(root: Path) -> None:
    lines = render_github(sample_findings(root), RULES, source_root=str(root)).splitlines()
    assert lines == [
        "::error file=drivers/foo.c,line=6,endLine=6,col=6,endColumn=21,"
        "title=GUP005 unchecked-user-access::"
        "__copy_from_user on argp without access_ok%0Ahint: use copy_from_user()",
        "::notice file=drivers/foo.c,line=9,endLine=9,col=1,endColumn=1,"
        "title=GUP005 unchecked-user-access::a note",
        # over two lines: no columns, which GitHub accepts only on one line
        "::warning file=user/app.c,line=3,endLine=4,title=GUP003 missing-madv-dontfork::"
        "fork() while a registered buffer has no MADV_DONTFORK",
    ]


def test_github_escapes_the_message_and_the_properties(root: Path) -> None:
    finding = Finding(
        "GUP005",
        Level.WARNING,
        "copies 100% of 'len'\r\nthen: more, and %0A stays text",
        at(root, "odd,dir/a:b%c.c", 2, 4, 2, 9),
    )
    [line] = render_github([finding], RULES, source_root=str(root)).splitlines()
    assert line == (
        "::warning file=odd%2Cdir/a%3Ab%25c.c,line=2,endLine=2,col=4,endColumn=8,"
        "title=GUP005 unchecked-user-access::copies 100%25 of 'len'%0D%0Athen: more, and %250A stays text"
    )
    command, properties, message = parse_command(line)
    assert command == "warning"
    assert properties == {
        "file": "odd,dir/a:b%c.c",
        "line": "2",
        "endLine": "2",
        "col": "4",
        "endColumn": "8",
        "title": "GUP005 unchecked-user-access",
    }
    assert message == finding.message


def test_github_escape_functions() -> None:
    assert escape_data("a%b\r\nc:d,e") == "a%25b%0D%0Ac:d,e"
    assert escape_property("a%b\r\nc:d,e") == "a%25b%0D%0Ac%3Ad%2Ce"


def test_github_long_hint_unknown_rule_and_path_outside_the_root(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "x.c"
    finding = Finding(
        "GUP009", Level.ERROR, "message", SourceLocation(str(outside), 1, 1), hint="h" * (HINT_MAX_LENGTH + 1)
    )
    [line] = render_github([finding], RULES, source_root=str(root)).splitlines()
    _, properties, message = parse_command(line)
    assert properties["file"] == str(outside)
    assert properties["title"] == "GUP009"
    assert message == "message"


def test_github_nothing_to_report_is_empty(root: Path) -> None:
    suppressed = [f for f in sample_findings(root) if f.suppression is not None]
    assert render_github(suppressed, RULES, source_root=str(root)) == ""


# --- GitLab Code Quality ---


def test_gitlab_required_fields_and_types(root: Path) -> None:
    findings = sample_findings(root)
    report = json.loads(render_gitlab(findings, source_root=str(root)))
    assert isinstance(report, list) and len(report) == 3  # the suppressed finding is left out
    for issue in report:
        assert isinstance(issue["description"], str) and issue["description"]
        assert isinstance(issue["check_name"], str)
        assert FINGERPRINT.fullmatch(issue["fingerprint"])
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert isinstance(issue["location"]["path"], str)
        assert type(issue["location"]["lines"]["begin"]) is int
    summary = [
        (i["check_name"], i["severity"], i["location"]["path"], i["location"]["lines"], i["description"])
        for i in report
    ]
    assert summary == [
        (
            "GUP005",
            "major",
            "drivers/foo.c",
            {"begin": 6, "end": 6},
            "__copy_from_user on argp without access_ok [GUP005]",
        ),
        ("GUP005", "info", "drivers/foo.c", {"begin": 9, "end": 9}, "a note [GUP005]"),
        (
            "GUP003",
            "minor",
            "user/app.c",
            {"begin": 3, "end": 4},
            "fork() while a registered buffer has no MADV_DONTFORK [GUP003]",
        ),
    ]
    assert report[0]["fingerprint"] == findings[1].fingerprint("drivers/foo.c")
    assert report[2]["fingerprint"] == findings[0].fingerprint("user/app.c")


def test_gitlab_fingerprints_are_unique_and_stable(root: Path) -> None:
    def twin(line: int) -> Finding:  # the same call twice in one function: the same Finding.fingerprint
        return Finding(
            "GUP005",
            Level.ERROR,
            "unchecked copy",
            at(root, "drivers/foo.c", line, 2),
            function="foo_ioctl",
            snippet_key="__copy_from_user(&req, argp, sizeof(req))",
        )

    findings = [twin(20), twin(10), twin(30)]
    assert len({f.fingerprint("drivers/foo.c") for f in findings}) == 1
    first = json.loads(render_gitlab(findings, source_root=str(root)))
    fingerprints = [issue["fingerprint"] for issue in first]
    assert len(set(fingerprints)) == 3
    assert fingerprints[0] == findings[0].fingerprint("drivers/foo.c")  # the first keeps the shared one
    assert all(FINGERPRINT.fullmatch(fp) for fp in fingerprints)
    again = json.loads(render_gitlab(list(reversed(findings)), source_root=str(root)))
    assert [issue["fingerprint"] for issue in again] == fingerprints
    assert [issue["location"]["lines"]["begin"] for issue in again] == [10, 20, 30]


def test_gitlab_nothing_to_report_is_an_empty_array(root: Path) -> None:
    assert render_gitlab([], source_root=str(root)) == "[]\n"


# --- JUnit XML ---


def counts(element: ET.Element) -> tuple[int, ...]:
    """(tests, failures, errors, skipped) of a test suite or of all of them."""
    return tuple(int(element.attrib[key]) for key in ("tests", "failures", "errors", "skipped"))


def test_junit_a_suite_a_rule_a_case_a_finding(root: Path) -> None:
    document = ET.fromstring(render_junit(sample_findings(root), RULES, source_root=str(root)))
    assert document.tag == "testsuites"
    suites = document.findall("testsuite")
    assert [suite.get("name") for suite in suites] == [
        "GUP001 pin-outlives-syscall",
        "GUP003 missing-madv-dontfork",
        "GUP005 unchecked-user-access",
    ]
    assert [counts(suite) for suite in suites] == [(1, 0, 0, 1), (1, 1, 0, 0), (2, 2, 0, 0)]
    assert counts(document) == (4, 3, 0, 1)
    for suite in suites:
        assert int(suite.attrib["tests"]) == len(suite.findall("testcase"))
        assert int(suite.attrib["failures"]) == len(suite.findall("testcase/failure"))

    [suppressed] = suites[0].findall("testcase")
    assert suppressed.get("classname") == "gupcheck.GUP001"
    assert suppressed.find("failure") is None
    skipped = suppressed.find("skipped")
    assert (
        skipped is not None and skipped.get("message") == "suppressed in the source: released in bar_release"
    )

    error = suites[2].findall("testcase")[0]
    assert error.attrib == {
        "classname": "gupcheck.GUP005",
        "name": "drivers/foo.c:6:6: __copy_from_user on argp without access_ok",
        "file": "drivers/foo.c",
        "line": "6",
        "time": "0",
    }
    failure = error.find("failure")
    assert failure is not None
    assert failure.get("type") == "GUP005"
    assert failure.get("message") == "__copy_from_user on argp without access_ok"
    assert failure.text == (
        "drivers/foo.c:6:6: error: __copy_from_user on argp without access_ok [GUP005]\n"
        "in function foo_ioctl\n"
        "hint: use copy_from_user()\n"
        "drivers/foo.c:3:8: note: argp comes from the ioctl argument\n"
    )


def test_junit_without_findings_every_rule_passes(root: Path) -> None:
    document = ET.fromstring(render_junit([], RULES, source_root=str(root)))
    assert counts(document) == (3, 0, 0, 0)
    cases = document.findall("testsuite/testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("gupcheck.GUP001", "no findings"),
        ("gupcheck.GUP003", "no findings"),
        ("gupcheck.GUP005", "no findings"),
    ]
    assert all(len(case) == 0 for case in cases)  # no failure, error or skipped: passed


def test_junit_without_findings_or_rules_is_one_passing_test(root: Path) -> None:
    text = render_junit([], {}, source_root=str(root))
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    document = ET.fromstring(text)
    assert counts(document) == (1, 0, 0, 0)
    [suite] = document.findall("testsuite")
    assert counts(suite) == (1, 0, 0, 0)
    [case] = suite.findall("testcase")
    assert (case.get("classname"), case.get("name"), len(case)) == ("gupcheck", "no findings", 0)


def test_junit_escapes_markup_and_replaces_characters_xml_cannot_hold(root: Path) -> None:
    message = 'len <= 4 && "q" \x01 \udcff\nnext'
    finding = Finding("GUP005", Level.ERROR, message, at(root, "drivers/foo.c", 1, 1))
    document = ET.fromstring(render_junit([finding], RULES, source_root=str(root)))
    failure = document.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == 'len <= 4 && "q" \ufffd \ufffd\nnext'


# --- end to end: the command line on testdata/example ---


def test_cli_github_on_the_example() -> None:
    result = gupcheck("--kernel-model", "--format", "github", EXAMPLE)
    assert result.returncode == 1, result.stderr
    commands = [parse_command(line) for line in result.stdout.splitlines()]
    assert [(c, p["file"], int(p["line"])) for c, p, _ in commands] == [
        ("error", EXAMPLE_FILE, 35),
        ("error", EXAMPLE_FILE, 66),
        ("warning", EXAMPLE_FILE, 82),
    ]
    assert all(p["title"] == "GUP005 unchecked-user-access" for _, p, _ in commands)
    assert all("\nhint: " in message for _, _, message in commands)


def test_cli_gitlab_on_the_example() -> None:
    result = gupcheck("--kernel-model", "--format", "gitlab", EXAMPLE)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [(i["location"]["path"], i["location"]["lines"]["begin"], i["severity"]) for i in report] == [
        (EXAMPLE_FILE, 35, "major"),
        (EXAMPLE_FILE, 66, "major"),
        (EXAMPLE_FILE, 82, "minor"),
    ]
    assert {i["check_name"] for i in report} == {"GUP005"}
    as_json = json.loads(gupcheck("--kernel-model", "--format", "json", EXAMPLE).stdout)
    assert [i["fingerprint"] for i in report] == [f["fingerprint"] for f in as_json["findings"]]
    assert len({i["fingerprint"] for i in report}) == 3


def test_cli_junit_on_the_example(tmp_path: Path) -> None:
    out = tmp_path / "report.xml"
    result = gupcheck("--kernel-model", "--format", "junit", "-o", str(out), EXAMPLE)
    assert result.returncode == 1, result.stderr
    document = ET.parse(out).getroot()
    passing_rules = len(ALL_RULES) - 1  # every rule but GUP005 passes
    assert counts(document) == (3 + passing_rules, 3, 0, 0)
    suites = {suite.get("name"): suite for suite in document.findall("testsuite")}
    assert len(suites) == len(ALL_RULES)
    flagged = suites["GUP005 unchecked-user-access"]
    assert counts(flagged) == (3, 3, 0, 0)
    assert [(c.get("file"), int(c.get("line", "0"))) for c in flagged.findall("testcase")] == [
        (EXAMPLE_FILE, line) for line in EXAMPLE_LINES
    ]
    assert {f.get("type") for f in flagged.findall("testcase/failure")} == {"GUP005"}


CLEAN_DRIVER = (
    "#include <linux/module.h>\n#include <linux/uaccess.h>\n"
    "long f(void __user *u, char *k) { return copy_from_user(k, u, 8) ? -EFAULT : 0; }\n"
    'MODULE_LICENSE("GPL");\n'
)


@pytest.mark.parametrize("output_format", ["github", "gitlab", "junit"])
def test_cli_clean_code_exits_0_with_a_passing_report(tmp_path: Path, output_format: str) -> None:
    (tmp_path / "clean.c").write_text(CLEAN_DRIVER)
    result = gupcheck("--kernel-model", "--format", output_format, "clean.c", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    if output_format == "github":
        assert result.stdout.strip() == ""  # no command (the command line ends its output with a newline)
    elif output_format == "gitlab":
        assert json.loads(result.stdout) == []
    else:
        document = ET.fromstring(result.stdout)
        assert counts(document) == (len(ALL_RULES), 0, 0, 0)
        assert all(len(case) == 0 for case in document.iter("testcase"))
