"""README.md's rule table and each rule's heading, description and examples are what
scripts/readme_rules.py generates from the rules' documentation (run it after changing a RuleDoc)."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    name = "gupcheck_scripts_readme_rules"
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "readme_rules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_what_the_rules_generate(script: ModuleType) -> None:
    difference = script.first_difference(README.read_text(), script.load_docs())
    assert difference is None, f"README.md: {difference}: run python scripts/readme_rules.py"


def test_the_check_command_agrees(script: ModuleType) -> None:
    assert script.main(["--check"]) == 0


def test_a_changed_example_is_detected_and_named(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = README.read_text()
    assert text.count("char frame[4096];") == 1  # only in GUP002's bad example
    tampered = text.replace("char frame[4096];", "char frame[8192];")
    difference = script.first_difference(tampered, script.load_docs())
    assert difference is not None and "GUP002" in difference and "frame[8192]" in difference
    assert script.update(tampered, script.load_docs()) == text

    readme = tmp_path / "README.md"
    readme.write_text(tampered)
    assert script.main(["--check", "--readme", str(readme)]) == 1
    message = capsys.readouterr().err
    assert len(message.splitlines()) == 1 and "GUP002" in message
    assert readme.read_text() == tampered  # --check never writes
    assert script.main(["--readme", str(readme)]) == 0
    assert readme.read_text() == text


def test_a_changed_table_row_is_detected(script: ModuleType) -> None:
    text = README.read_text()
    row = "| GUP004 | unlocked-shared-mapping | warning |"
    assert row in text
    tampered = text.replace(row, "| GUP004 | unlocked-shared-mapping | error |")
    difference = script.first_difference(tampered, script.load_docs())
    assert difference is not None and "rules table" in difference


def test_hand_written_prose_is_not_generated(script: ModuleType) -> None:
    text = README.read_text()
    prose = "What it cannot see: releases through function pointers"
    assert prose in text
    edited = text.replace(prose, "What it does not see: releases through function pointers")
    assert script.first_difference(edited, script.load_docs()) is None
    assert script.update(edited, script.load_docs()) == edited


def test_a_new_rule_gets_a_row_and_a_section_at_the_end_of_the_rules(script: ModuleType) -> None:
    docs = script.load_docs()
    new = dataclasses.replace(docs[0], id="GUP999", name="brand-new-rule", summary="Something new")
    text = README.read_text()
    difference = script.first_difference(text, [*docs, new])
    assert difference is not None and "GUP999" in difference
    updated = script.update(text, [*docs, new])
    assert script.first_difference(updated, [*docs, new]) is None
    assert "| GUP999 | brand-new-rule | error | Something new |" in updated
    section = updated.index("### GUP999 brand-new-rule")
    assert updated.index("### GUP005 ") < section < updated.index("## Validating findings in QEMU")
    # and a rule that leaves the registry leaves a block the check reports
    assert "GUP999" in script.first_difference(updated, docs)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("<!-- end generated -->", "", 1), "begin marker inside"),
        (lambda t: t + "\n<!-- end generated -->\n", "end marker without a begin marker"),
        (lambda t: t.replace("generated: GUP001 (scripts/", "generated: GUP001 (x/"), "malformed"),
    ],
)
def test_broken_markers_are_reported(script: ModuleType, edit, message: str) -> None:
    difference = script.first_difference(edit(README.read_text()), script.load_docs())
    assert difference is not None and message in difference


def test_each_reliability_promise_names_tests_that_exist() -> None:
    text = README.read_text()
    section = text[text.index("## Reliability") : text.index("## Rules")]
    promises = [item for item in section.split("\n- ")[1:]]
    assert len(promises) >= 8
    defined = {
        line.split("(")[0].removeprefix("def ")
        for path in (REPO / "tests").glob("test_*.py")
        for line in path.read_text().splitlines()
        if line.startswith("def test_")
    }
    files = {path.name for path in (REPO / "tests").glob("*.py")}
    for promise in promises:
        named = re.findall(r"`(test_\w+)`", promise)
        named_files = re.findall(r"tests/(\w+\.py)", promise)
        assert named or named_files, f"a promise without a test: {promise[:80]}"
        assert set(named) <= defined, set(named) - defined
        assert set(named_files) <= files, set(named_files) - files


def _commands_and_options() -> list[tuple[str, list[str]]]:
    """(command, the spellings of one of its options) for every option of every command."""
    import click

    from gupcheck.cli.commands import main

    found = []
    for name, command in main.commands.items():
        found.append((name, [name]))
        for group_command in getattr(command, "commands", {}).values():  # `gupcheck cache info`
            found.append((f"{name} {group_command.name}", [str(group_command.name)]))
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                found.append((name, [*param.opts, *param.secondary_opts]))
    return found


def test_the_readme_documents_every_command_option_and_format() -> None:
    text = README.read_text(encoding="utf-8")
    undocumented = [
        f"{command}: {' / '.join(spellings)}"
        for command, spellings in _commands_and_options()
        if not any(re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", text) for s in spellings)
    ]
    assert undocumented == []
    from gupcheck.cli.commands import main

    formats = next(p for p in main.commands["check"].params if p.name == "output_format")
    assert all(f"--format {choice}" in text for choice in formats.type.choices)  # type: ignore[attr-defined]
