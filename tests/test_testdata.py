"""Every testdata case folder gives exactly the findings its `/* expect: GUPnnn */` comments name.

A case is a folder under testdata/<group>/<case>/ holding driver and/or userland C files. A line
that must be flagged carries `/* expect: GUP005 */` (several ids separated by commas or spaces);
every other line must stay clean. Cases are parsed with the built-in kernel API model so the
expectations do not depend on what the machine has installed (test_real_headers.py compares the
model with real kernel headers).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from testdata_cases import EXPECT, TESTDATA

from gupcheck.frontend.discovery import is_repro_folder
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES


def case_folders() -> list[Path]:
    """Folders with C files, apart from the cases' repro programs (skipped by the analysis too)."""
    return sorted({path.parent for path in TESTDATA.rglob("*.c") if not is_repro_folder(str(path.parent))})


def expectations(folder: Path) -> set[tuple[str, int, str]]:
    expected = set()
    for source in sorted([*folder.glob("*.c"), *folder.glob("*.h")]):  # a header's functions are checked too
        for number, line in enumerate(source.read_text().splitlines(), start=1):
            for match in EXPECT.finditer(line):
                for rule_id in re.findall(r"GUP\d{3}", match.group(1)):
                    expected.add((source.name, number, rule_id))
    return expected


def test_testdata_has_cases_for_every_rule() -> None:
    groups = {folder.relative_to(TESTDATA).parts[0] for folder in case_folders()}
    for rule in ALL_RULES:
        assert rule.doc.id.lower() in groups, f"no testdata for {rule.doc.id}"


@pytest.mark.parametrize("folder", case_folders(), ids=lambda p: str(p.relative_to(TESTDATA)))
def test_case_findings_match_expectations(folder: Path) -> None:
    analysis = analyse([str(folder)], ALL_RULES, use_model=True)
    assert not analysis.problems, [str(p) for p in analysis.problems]
    found = {(Path(f.location.path).name, f.location.line, f.rule_id) for f in analysis.findings}
    expected = expectations(folder)
    missing = sorted(expected - found)
    extra = sorted(found - expected)
    messages = {
        (Path(f.location.path).name, f.location.line, f.rule_id): f.message for f in analysis.findings
    }
    assert not missing and not extra, f"missing: {missing}\nextra: {[(e, messages[e]) for e in extra]}"
    assert expected, "a case folder must expect at least one finding"
