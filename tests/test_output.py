"""Output formats, from hand-made findings on real temporary source files."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from sarif_tools import run_multitool_validate

from gupcheck import __version__
from gupcheck.model.findings import (
    Finding,
    Fix,
    FlowStep,
    InputProblem,
    Level,
    RelatedLocation,
    Replacement,
    SourceLocation,
)
from gupcheck.model.rule import RuleDoc
from gupcheck.output.jsonfmt import render_json
from gupcheck.output.sarif import FINGERPRINT_KEY, render_sarif
from gupcheck.output.text import render_text, should_use_color

REPO = Path(__file__).resolve().parent.parent

ANSI = re.compile(r"\x1b\[[0-9;]*m")

DRIVER_SOURCE = (
    "static long foo_ioctl(struct file *f, unsigned int cmd, unsigned long arg)\n"  # 1
    "{\n"  # 2
    "\tvoid __user *argp = (void __user *)arg;\n"  # 3
    "\tstruct foo_req req;\n"  # 4
    "\n"  # 5
    "\tif (__copy_from_user(&req, argp, sizeof(req)))\n"  # 6: the call starts at column 6
    "\t\treturn -EFAULT;\n"  # 7
    "\treturn 0;\n"  # 8
    "}\n"  # 9
)
CALL = "__copy_from_user"


def rule_doc(rule_id: str, name: str, level: Level, cwe: tuple[str, ...]) -> RuleDoc:
    return RuleDoc(
        id=rule_id,
        name=name,
        level=level,
        cwe=cwe,
        summary=f"{name} summary",
        what_it_does="Finds the thing.",
        why_bad="The thing corrupts memory.",
        example="bad();",
        use_instead="good();",
        references=("https://www.kernel.org/doc/html/latest/core-api/pin_user_pages.html",),
    )


RULES = {
    "GUP001": rule_doc("GUP001", "pin-outlives-syscall", Level.ERROR, ("CWE-416",)),
    "GUP003": rule_doc("GUP003", "missing-madv-dontfork", Level.WARNING, ("CWE-362",)),
    "GUP005": rule_doc("GUP005", "unchecked-user-access", Level.ERROR, ("CWE-787", "CWE-20")),
}


@pytest.fixture
def source_root(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    (root / "drivers" / "foo").mkdir(parents=True)
    (root / "drivers" / "foo" / "foo.c").write_text(DRIVER_SOURCE)
    (root / "user").mkdir()
    (root / "user" / "app.c").write_text("int main(void)\n{\n\tfork();\n\treturn 0;\n}\n")
    return root


def copy_finding(driver: Path, line_shift: int = 0) -> Finding:
    path = str(driver)
    return Finding(
        rule_id="GUP005",
        level=Level.ERROR,
        message="__copy_from_user on argp without a dominating access_ok",
        location=SourceLocation(path, 6 + line_shift, 6, 6 + line_shift, 6 + len(CALL)),
        function="foo_ioctl",
        snippet_key="__copy_from_user(&req, argp, sizeof(req))",
        related=[
            RelatedLocation(SourceLocation(path, 3 + line_shift, 8), "argp comes from the ioctl argument")
        ],
        flow=[
            FlowStep(SourceLocation(path, 1 + line_shift, 13), "entry point foo_ioctl"),
            FlowStep(SourceLocation(path, 6 + line_shift, 6, 6 + line_shift, 22), "unchecked copy"),
        ],
        hint="use copy_from_user(), which checks the range itself",
        notes=["parsed with the built-in kernel API model"],
        fixes=[
            Fix(
                "use the checking copy",
                (Replacement(SourceLocation(path, 6 + line_shift, 6, 6 + line_shift, 22), "copy_from_user"),),
            )
        ],
    )


def fork_finding(app: Path) -> Finding:
    return Finding(
        rule_id="GUP003",
        level=Level.WARNING,
        message="fork() while a registered buffer has no MADV_DONTFORK",
        location=SourceLocation(str(app), 3, 2, 3, 8),
        function="main",
        snippet_key="fork()",
    )


def findings_for(root: Path) -> list[Finding]:
    driver = root / "drivers" / "foo" / "foo.c"
    return [fork_finding(root / "user" / "app.c"), copy_finding(driver)]


# --- text -------------------------------------------------------------------------------------------


def test_text_location_line_snippet_and_caret_under_tabbed_code(source_root: Path) -> None:
    out = render_text(
        findings_for(source_root), RULES, color=False, source_root=str(source_root), files_analysed=4
    )
    lines = out.splitlines()
    first = lines.index(
        "drivers/foo/foo.c:6:6: error: __copy_from_user on argp without a dominating access_ok [GUP005]"
    )
    source_line, caret_line = lines[first + 1], lines[first + 2]
    # The tab is expanded to 8 columns in the snippet; the caret must sit under the call's first letter.
    assert "\t" not in source_line and "\t" not in caret_line
    code = source_line.split("| ", 1)[1]
    carets = caret_line.split("| ", 1)[1]
    assert code == "        if (__copy_from_user(&req, argp, sizeof(req)))"
    assert carets.index("^") == code.index(CALL)
    assert carets.strip() == "^" + "~" * (len(CALL) - 1)
    assert lines[first + 3] == "  hint: use copy_from_user(), which checks the range itself"
    assert lines[first + 4] == "  fix available: use the checking copy (--diff shows it, --fix applies it)"
    assert lines[first + 5] == "drivers/foo/foo.c:3:8: note: argp comes from the ioctl argument"
    assert lines[first + 6] == "note: parsed with the built-in kernel API model"


def test_text_sorted_and_summary_counts(source_root: Path) -> None:
    findings = findings_for(source_root) + [
        Finding(
            "GUP001", Level.ERROR, "pin leaked", SourceLocation(str(source_root / "drivers/foo/foo.c"), 8, 2)
        )
    ]
    out = render_text(findings, RULES, color=False, source_root=str(source_root), files_analysed=4)
    headers = [line for line in out.splitlines() if re.match(r"^\S+:\d+:\d+: (error|warning):", line)]
    assert [h.split(":")[0:2] for h in headers] == [
        ["drivers/foo/foo.c", "6"],
        ["drivers/foo/foo.c", "8"],
        ["user/app.c", "3"],
    ]
    assert out.splitlines()[-1] == "3 findings (2 errors, 1 warning) in 4 files analysed"


def test_text_singular_and_empty_summaries(source_root: Path) -> None:
    one = render_text(
        [fork_finding(source_root / "user/app.c")],
        RULES,
        color=False,
        source_root=str(source_root),
        files_analysed=1,
    )
    assert one.splitlines()[-1] == "1 finding (1 warning) in 1 file analysed"
    none = render_text([], RULES, color=False, source_root=str(source_root), files_analysed=2)
    assert none == "no findings in 2 files analysed\n"


def test_text_path_outside_root_is_shown_as_given(source_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.h"
    outside.write_text("x\n")
    finding = Finding("GUP001", Level.WARNING, "m", SourceLocation(str(outside), 1, 1))
    out = render_text([finding], RULES, color=False, source_root=str(source_root), files_analysed=1)
    assert out.startswith(f"{outside}:1:1: warning: m [GUP001]\n")


def test_text_unreadable_source_skips_snippet(source_root: Path) -> None:
    missing = Finding("GUP001", Level.ERROR, "m", SourceLocation(str(source_root / "gone.c"), 5, 1))
    out = render_text([missing], RULES, color=False, source_root=str(source_root), files_analysed=1)
    assert out.splitlines()[:2] == [
        "gone.c:5:1: error: m [GUP001]",
        "rules: GUP001 (pin-outlives-syscall); run `gupcheck explain <rule>` for details",
    ]


def test_text_colour_only_when_asked(source_root: Path) -> None:
    findings = findings_for(source_root)
    plain = render_text(findings, RULES, color=False, source_root=str(source_root), files_analysed=2)
    coloured = render_text(findings, RULES, color=True, source_root=str(source_root), files_analysed=2)
    assert "\x1b[" not in plain
    assert "\x1b[1;31merror:" in coloured  # bold red
    assert "\x1b[1;35mwarning:" in coloured  # bold magenta
    assert "\x1b[1;36mnote:" in coloured  # bold cyan
    assert "\x1b[1;32m^~~~" in coloured  # green caret
    assert ANSI.sub("", coloured) == plain


class _FakeStream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_should_use_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert should_use_color(_FakeStream(tty=True))
    assert not should_use_color(_FakeStream(tty=False))
    assert not should_use_color(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not should_use_color(_FakeStream(tty=True))
    monkeypatch.setenv("NO_COLOR", "")  # empty means unset, per no-color.org
    assert should_use_color(_FakeStream(tty=True))


# --- SARIF ------------------------------------------------------------------------------------------


def sarif_for(root: Path, findings: list[Finding] | None = None, **kwargs) -> str:
    kwargs.setdefault("files_analysed", [str(root / "drivers/foo/foo.c"), str(root / "user/app.c")])
    return render_sarif(
        findings_for(root) if findings is None else findings,
        list(RULES.values()),
        source_root=str(root),
        **kwargs,
    )


def test_sarif_passes_official_schema(source_root: Path, sarif_validator) -> None:
    log = json.loads(
        sarif_for(
            source_root,
            notifications=["user/broken.c: failed to parse", InputProblem("/x/y.c", "unreadable")],
        )
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in sarif_validator.iter_errors(log)]
    assert errors == []
    # The validator does reject a broken log, so the check above means something.
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert list(sarif_validator.iter_errors(log))


def test_sarif_passes_multitool_sarif_and_github_rules(
    source_root: Path, multitool_package: Path, tmp_path: Path
):
    sarif_file = tmp_path / "gupcheck.sarif"
    sarif_file.write_text(sarif_for(source_root, notifications=["user/broken.c: failed to parse"]))
    report = run_multitool_validate(multitool_package, sarif_file, tmp_path / "validation.sarif")
    assert [r for r in report if r["level"] == "error"] == []
    assert [r for r in report if r["level"] == "warning"] == []


def test_multitool_check_detects_github_rule_violations(
    source_root: Path, multitool_package: Path, tmp_path: Path
):
    log = json.loads(sarif_for(source_root))
    del log["runs"][0]["tool"]["driver"]["rules"][0]["help"]
    sarif_file = tmp_path / "broken.sarif"
    sarif_file.write_text(json.dumps(log))
    report = run_multitool_validate(multitool_package, sarif_file, tmp_path / "validation.sarif")
    assert ("GH2012", "error") in {(r["ruleId"], r["level"]) for r in report}


def test_sarif_structure(source_root: Path) -> None:
    log = json.loads(
        sarif_for(
            source_root, notifications=[InputProblem(str(source_root / "user/app.c"), "parse errors", False)]
        )
    )
    assert log["$schema"].endswith("sarif-2.1.0.json") and log["version"] == "2.1.0"
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"], driver["semanticVersion"]) == (
        "gupcheck",
        __version__,
        __version__,
    )
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == ["GUP001", "GUP003", "GUP005"]
    gup005 = driver["rules"][2]
    assert gup005["name"] == "UncheckedUserAccess"
    assert gup005["shortDescription"]["text"] and gup005["fullDescription"]["text"]
    assert gup005["help"]["text"] and gup005["help"]["markdown"].startswith("## GUP005")
    assert gup005["defaultConfiguration"]["level"] == "error"
    assert gup005["properties"]["tags"] == ["security", "external/cwe/cwe-787", "external/cwe/cwe-20"]
    assert gup005["properties"]["problem.severity"] == "error"
    assert gup005["properties"]["precision"] in {"very-high", "high", "medium", "low"}
    assert (
        driver["rules"][1]["defaultConfiguration"]["level"] == "warning"
    )  # a default jschema_to_python drops

    assert run["columnKind"] == "utf16CodeUnits"
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": source_root.as_uri() + "/"}}
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    assert invocation["toolExecutionNotifications"][0]["level"] == "warning"
    assert invocation["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"
    ] == {
        "uri": "user/app.c",
        "uriBaseId": "%SRCROOT%",
        "index": 1,
    }

    copy, fork = run["results"]  # sorted by path
    assert (copy["ruleId"], copy["ruleIndex"], copy["level"]) == ("GUP005", 2, "error")
    assert (fork["ruleId"], fork["ruleIndex"], fork["level"]) == ("GUP003", 1, "warning")
    assert copy["message"]["text"].startswith("__copy_from_user on argp")
    physical = copy["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "drivers/foo/foo.c", "uriBaseId": "%SRCROOT%", "index": 0}
    assert physical["region"] == {"startLine": 6, "startColumn": 6, "endLine": 6, "endColumn": 6 + len(CALL)}
    related = copy["relatedLocations"]
    assert [(r["id"], r["message"]["text"]) for r in related] == [(1, "argp comes from the ioctl argument.")]
    steps = copy["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [s["location"]["physicalLocation"]["region"]["startLine"] for s in steps] == [1, 6]
    assert "codeFlows" not in fork
    (fix,) = copy["fixes"]
    assert fix["description"]["text"] == "use the checking copy."
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "drivers/foo/foo.c"
    assert change["replacements"] == [
        {
            "deletedRegion": {"startLine": 6, "startColumn": 6, "endLine": 6, "endColumn": 22},
            "insertedContent": {"text": "copy_from_user"},
        }
    ]
    assert "fixes" not in fork
    assert copy["partialFingerprints"] == {
        FINGERPRINT_KEY: findings_for(source_root)[1].fingerprint("drivers/foo/foo.c")
    }


def test_sarif_path_outside_root_is_absolute_file_uri(source_root: Path, tmp_path: Path) -> None:
    header = tmp_path / "include" / "linux" / "uaccess.h"
    finding = Finding("GUP001", Level.ERROR, "m", SourceLocation(str(header), 2, 3))
    result = json.loads(sarif_for(source_root, [finding]))["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": header.as_uri()}


def test_sarif_is_byte_identical_across_renders(source_root: Path) -> None:
    first = sarif_for(source_root)
    second = render_sarif(
        list(reversed(findings_for(source_root))),
        list(reversed(RULES.values())),
        source_root=str(source_root),
        files_analysed=[str(source_root / "user/app.c"), str(source_root / "drivers/foo/foo.c")],
    )
    assert first == second


def test_fingerprint_survives_moving_the_finding_down(source_root: Path) -> None:
    driver = source_root / "drivers/foo/foo.c"
    driver.write_text("\n" * 10 + DRIVER_SOURCE)
    before = json.loads(sarif_for(source_root, [copy_finding(driver)]))["runs"][0]["results"][0]
    after = json.loads(sarif_for(source_root, [copy_finding(driver, line_shift=10)]))["runs"][0]["results"][0]
    assert after["locations"][0]["physicalLocation"]["region"]["startLine"] == 16
    assert before["partialFingerprints"] == after["partialFingerprints"]
    # ...while a different flagged construct gets a different identity.
    other = copy_finding(driver)
    other.snippet_key = "__copy_to_user(argp, &req, sizeof(req))"
    moved = json.loads(sarif_for(source_root, [other]))["runs"][0]["results"][0]
    assert moved["partialFingerprints"] != before["partialFingerprints"]


def test_sarif_rejects_findings_of_unknown_rules(source_root: Path) -> None:
    stray = Finding("GUP999", Level.NOTE, "m", SourceLocation(str(source_root / "user/app.c"), 1, 1))
    with pytest.raises(ValueError, match="GUP999"):
        sarif_for(source_root, [stray])


# --- JSON -------------------------------------------------------------------------------------------


def test_json_fields(source_root: Path) -> None:
    problem = InputProblem(str(source_root / "user/broken.c"), "failed to parse")
    document = json.loads(
        render_json(
            findings_for(source_root), source_root=str(source_root), files_analysed=3, problems=[problem]
        )
    )
    assert document["version"] == 1
    assert document["filesAnalysed"] == 3
    assert document["problems"] == [{"path": "user/broken.c", "message": "failed to parse", "fatal": True}]
    copy, fork = document["findings"]
    assert copy == {
        "ruleId": "GUP005",
        "level": "error",
        "message": "__copy_from_user on argp without a dominating access_ok",
        "path": "drivers/foo/foo.c",
        "line": 6,
        "column": 6,
        "endLine": 6,
        "endColumn": 6 + len(CALL),
        "function": "foo_ioctl",
        "hint": "use copy_from_user(), which checks the range itself",
        "fingerprint": findings_for(source_root)[1].fingerprint("drivers/foo/foo.c"),
        "related": [
            {
                "path": "drivers/foo/foo.c",
                "line": 3,
                "column": 8,
                "endLine": 3,
                "endColumn": 9,
                "message": "argp comes from the ioctl argument",
            }
        ],
        "flow": [
            {
                "path": "drivers/foo/foo.c",
                "line": 1,
                "column": 13,
                "endLine": 1,
                "endColumn": 14,
                "message": "entry point foo_ioctl",
            },
            {
                "path": "drivers/foo/foo.c",
                "line": 6,
                "column": 6,
                "endLine": 6,
                "endColumn": 22,
                "message": "unchecked copy",
            },
        ],
        "notes": ["parsed with the built-in kernel API model"],
        "suppressed": None,
    }
    assert (fork["ruleId"], fork["path"], fork["level"]) == ("GUP003", "user/app.c", "warning")


def test_json_is_stable(source_root: Path) -> None:
    forward = render_json(findings_for(source_root), source_root=str(source_root), files_analysed=2)
    backward = render_json(
        list(reversed(findings_for(source_root))), source_root=str(source_root), files_analysed=2
    )
    assert forward == backward
