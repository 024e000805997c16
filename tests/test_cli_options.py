"""The command line's options for choosing rules and exit statuses, suppressions and baselines, the hook
and Kbuild modes, help and report paths: each run as a user runs it, in a subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import EXAMPLE, REPO, gupcheck

import gupcheck.cli.commands as commands

# The example's findings: lines 35 and 66 are errors, 82 a warning, all GUP005.
EXAMPLE_FINDINGS = {35: "error", 66: "error", 82: "warning"}


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the bundled example, to edit."""
    copy = tmp_path / "example"
    shutil.copytree(EXAMPLE, copy)
    return copy


def flagged_lines(stdout: str, name: str = "demo_dev.c") -> list[int]:
    return [int(line.split(":")[1]) for line in stdout.splitlines() if line.split(":")[0].endswith(name)]


def add_comment(source: Path, line: int, comment: str) -> None:
    """Append `comment` to line `line` of `source` (line numbers stay as they are)."""
    lines = source.read_text().splitlines()
    lines[line - 1] += f" {comment}"
    source.write_text("\n".join(lines) + "\n")


# --- help ------------------------------------------------------------------------------------------


def test_top_level_help_shows_the_analysis_options_and_whole_command_descriptions() -> None:
    result = gupcheck("--help")
    assert result.returncode == 0, result.stderr
    for option in ("--kernel-dir", "--format", "--select", "--fail-level", "--exit-zero", "--baseline"):
        assert option in result.stdout, option
    commands_section = result.stdout.split("Commands:", 1)[1]
    described = [line for line in commands_section.splitlines() if line.strip()]
    assert len(described) == len(commands.main.commands)
    assert not any(line.rstrip().endswith(("...", "e.g.")) for line in described), described


@pytest.mark.parametrize("command", sorted(commands.main.commands))
def test_every_command_has_working_help(command: str) -> None:
    result = gupcheck(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: "), result.stdout


# --- rule selection and exit statuses ---------------------------------------------------------------


def test_select_and_ignore_choose_rules_by_id_or_name(example: Path) -> None:
    ignored = gupcheck("--kernel-model", "--ignore", "unchecked-user-access", str(example))
    assert ignored.returncode == 0, ignored.stdout + ignored.stderr
    assert flagged_lines(ignored.stdout) == []
    selected = gupcheck("--kernel-model", "--select", "GUP001,GUP005", str(example))
    assert selected.returncode == 1
    assert flagged_lines(selected.stdout) == sorted(EXAMPLE_FINDINGS)
    only_others = gupcheck("--kernel-model", "--select", "GUP001", "--select", "GUP004", str(example))
    assert only_others.returncode == 0
    assert flagged_lines(only_others.stdout) == []


def test_an_unknown_rule_on_the_command_line_is_one_error_line(example: Path) -> None:
    result = gupcheck("--kernel-model", "--select", "GUP05", str(example))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "gupcheck: error: --select: unknown rule 'GUP05' (known: GUP001, GUP002, GUP003, GUP004, GUP005)"
    ]
    assert result.stdout == ""


def test_fail_level_decides_which_findings_fail_the_run(example: Path) -> None:
    (example / ".gupcheck.toml").write_text('[levels]\nGUP005 = "warning"\n')
    assert gupcheck("--kernel-model", "--fail-level", "warning", str(example), cwd=example).returncode == 1
    passed = gupcheck("--kernel-model", "--fail-level", "error", str(example), cwd=example)
    assert passed.returncode == 0, passed.stderr
    assert flagged_lines(passed.stdout) == sorted(EXAMPLE_FINDINGS)  # still shown, only not failing
    (example / ".gupcheck.toml").write_text('fail-level = "error"\n[levels]\nGUP005 = "warning"\n')
    assert gupcheck("--kernel-model", str(example), cwd=example).returncode == 0
    assert gupcheck("--kernel-model", "--fail-level", "note", str(example), cwd=example).returncode == 1


def test_a_bad_fail_level_in_the_configuration_names_the_key(example: Path) -> None:
    (example / ".gupcheck.toml").write_text('fail-level = "fatal"\n')
    result = gupcheck("--kernel-model", str(example), cwd=example)
    assert result.returncode == 2
    assert "'fail-level'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_exit_zero_keeps_findings_but_not_errors(example: Path, tmp_path: Path) -> None:
    result = gupcheck("--kernel-model", "--exit-zero", str(example))
    assert result.returncode == 0
    assert flagged_lines(result.stdout) == sorted(EXAMPLE_FINDINGS)
    assert gupcheck("--kernel-model", "--exit-zero", str(tmp_path / "missing.c")).returncode == 2


def test_a_missing_file_is_one_error_and_no_summary(tmp_path: Path) -> None:
    result = gupcheck("--kernel-model", "nope.c", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"gupcheck: error: {tmp_path / 'nope.c'}: no such file or directory"
    ]


# --- suppressions and baselines ---------------------------------------------------------------------


def test_a_suppression_naming_an_unknown_rule_is_reported(example: Path) -> None:
    source = example / "demo_dev.c"
    add_comment(source, 35, "/* gupcheck: ignore[GUP05] bounded by the caller */")
    result = gupcheck("--kernel-model", str(example))
    assert 35 in flagged_lines(result.stdout)  # the typo silences nothing
    warnings = [line for line in result.stderr.splitlines() if "unknown rule" in line]
    assert warnings == [
        f"gupcheck: warning: {source}: line 35: suppression names unknown rule 'gup05' "
        "(known: GUP001, GUP002, GUP003, GUP004, GUP005)"
    ]


def test_unused_suppressions_are_hinted_and_listed_on_request(example: Path) -> None:
    source = example / "demo_dev.c"
    add_comment(source, 35, "/* gupcheck: ignore[GUP005] length checked by the firmware */")
    add_comment(source, 50, "/* gupcheck: ignore[unchecked-user-access] stale */")
    add_comment(source, 51, "/* gupcheck: ignore[GUP004] for a rule that is not run */")
    plain = gupcheck("--kernel-model", "--ignore", "GUP004", str(example))
    assert plain.returncode == 1
    assert flagged_lines(plain.stdout) == [66, 82]
    assert plain.stdout.splitlines()[-1] == (
        "2 findings (1 error, 1 warning) in 1 file analysed; 1 finding suppressed in the source; "
        "1 suppression matched no finding (--report-unused-suppressions lists them)"
    )
    listed = gupcheck(
        "--kernel-model",
        "--ignore",
        "GUP004",
        "--report-unused-suppressions",
        "--select",
        "GUP005",
        str(example),
    )
    unused = [line for line in listed.stderr.splitlines() if "suppression matches no finding" in line]
    assert len(unused) == 1 and unused[0].startswith(f"{source}:50:"), listed.stderr
    assert "matched no finding" not in listed.stdout  # listed, so not hinted again


def test_report_unused_suppressions_fails_a_run_with_no_findings(example: Path) -> None:
    source = example / "demo_dev.c"
    for line in EXAMPLE_FINDINGS:
        add_comment(source, line, "/* gupcheck: ignore[GUP005] reviewed */")
    add_comment(source, 50, "/* gupcheck: ignore[GUP005] stale */")
    assert gupcheck("--kernel-model", str(example)).returncode == 0
    assert gupcheck("--kernel-model", "--report-unused-suppressions", str(example)).returncode == 1


def test_the_summary_counts_findings_the_baseline_hides_and_baseline_is_a_config_key(example: Path) -> None:
    baseline = example / "main.sarif"
    made = gupcheck("--kernel-model", "--format", "sarif", "-o", str(baseline), str(example), cwd=example)
    assert made.returncode == 1, made.stderr
    add_comment(example / "demo_dev.c", 82, "")  # the same findings, one file changed
    result = gupcheck("--kernel-model", "--baseline", str(baseline), str(example), cwd=example)
    assert result.returncode == 0
    assert (
        result.stdout.splitlines()[-1]
        == "no findings in 1 file analysed; 3 findings in the baseline not shown"
    )
    (example / ".gupcheck.toml").write_text('baseline = "main.sarif"\n')
    configured = gupcheck("--kernel-model", str(example), cwd=example)
    assert configured.returncode == 0
    assert configured.stdout.splitlines()[-1].endswith("3 findings in the baseline not shown")


# --- hook and Kbuild ---------------------------------------------------------------------------------


def test_the_hook_reports_problems_only_of_committed_files_and_honours_fail_level(example: Path) -> None:
    (example / "broken.c").write_text("#include <linux/module.h>\nint broken(void) { return undeclared; }\n")
    (example / ".gupcheck.toml").write_text('kernel-model = true\n[levels]\nGUP005 = "warning"\n')
    committed = str(example / "demo_dev.c")
    result = gupcheck("hook", committed, cwd=example)
    assert result.returncode == 1
    assert "broken.c" not in result.stderr, result.stderr
    assert flagged_lines(result.stdout) == sorted(EXAMPLE_FINDINGS)
    assert gupcheck("hook", "--fail-level", "error", committed, cwd=example).returncode == 0
    both = gupcheck("hook", committed, str(example / "broken.c"), cwd=example)
    assert "broken.c" in both.stderr


def test_kbuild_mode_prints_only_diagnostics(tmp_path: Path) -> None:
    source = tmp_path / "demo_dev.c"
    shutil.copy(EXAMPLE / "demo_dev.c", source)
    model = _model_flags(source)
    result = subprocess.run(
        [sys.executable, "-m", "gupcheck", "kbuild", *model, str(source)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line]
    assert [int(line.split(":")[1]) for line in lines if line.startswith("demo_dev.c:")] == sorted(
        EXAMPLE_FINDINGS
    )
    assert not any(line.startswith(("rules:", "3 findings")) or "analysed" in line for line in lines), lines


def _model_flags(source: Path) -> list[str]:
    """The compiler flags gupcheck uses for the built-in kernel model, as Kbuild would pass its own."""
    from gupcheck.frontend.buildconfig import model_args

    return [arg for arg in model_args(str(source)) if arg != str(source)]


# --- report paths --------------------------------------------------------------------------------------


def test_sarif_paths_are_relative_to_the_git_work_tree(example: Path) -> None:
    subprocess.run(["git", "init", "-q", str(example)], check=True)
    driver = example / "driver"
    driver.mkdir()
    (example / "demo_dev.c").rename(driver / "demo_dev.c")
    result = gupcheck("--kernel-model", "--format", "sarif", "demo_dev.c", cwd=driver)
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]
    }
    assert uris == {"driver/demo_dev.c"}
    text = gupcheck("--kernel-model", "demo_dev.c", cwd=driver)
    assert flagged_lines(text.stdout) == sorted(EXAMPLE_FINDINGS)
    assert text.stdout.startswith("demo_dev.c:")  # text: relative to where the user is, as compilers print


def test_results_outside_the_source_root_get_a_note(example: Path, tmp_path: Path) -> None:
    root = tmp_path / "elsewhere"
    root.mkdir()
    result = gupcheck("--kernel-model", "--format", "sarif", "--source-root", str(root), str(example))
    assert result.returncode == 1
    assert "3 findings lie outside the source root" in result.stderr
    log = json.loads(result.stdout)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("file://")


# --- make run --------------------------------------------------------------------------------------------


@pytest.mark.skipif(not (REPO / ".venv" / "bin" / "gupcheck").exists(), reason="needs the Makefile's venv")
def test_make_run_shows_the_example_findings_and_exits_0() -> None:
    result = subprocess.run(["make", "-s", "run"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert flagged_lines(result.stdout) == sorted(EXAMPLE_FINDINGS)
    assert "Error" not in result.stderr


# --- exit statuses with parse errors ------------------------------------------------------------------


def test_findings_exit_1_even_when_every_file_parsed_with_errors(example: Path) -> None:
    source = example / "demo_dev.c"
    source.write_text('#include "demo_missing_internal.h"\n' + source.read_text())
    result = gupcheck("--kernel-model", "-q", str(example))
    assert result.returncode == 1, result.stderr
    assert len(flagged_lines(result.stdout)) == 3
    # -q hides single-file warnings but never that parse errors left holes
    assert result.stderr.splitlines() == [
        "gupcheck: warning: 1 file analysed, 1 with parse errors: missing header demo_missing_internal.h"
    ]
    strict = gupcheck("--kernel-model", "-q", "--strict", str(example))
    assert strict.returncode == 2
    assert strict.stderr.splitlines()[-1] == "gupcheck: error: --strict: 1 file parsed with errors"


def test_no_findings_and_every_file_with_parse_errors_exits_2_saying_why(tmp_path: Path) -> None:
    driver = tmp_path / "drv.c"
    driver.write_text('#include <linux/module.h>\n#include "drv_internal.h"\nMODULE_LICENSE("GPL");\n')
    shutil.copy(driver, tmp_path / "drv2.c")
    result = gupcheck("--kernel-model", "-q", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "gupcheck: warning: 2 files analysed, 2 with parse errors: missing header drv_internal.h",
        "gupcheck: error: every file parsed with errors: "
        "nothing was analysed whole (see the parse errors above)",
    ]
    alone = gupcheck("--kernel-model", str(driver))
    assert alone.returncode == 2
    # its parse error and the kernel-model note; drv2.c, analysed as its module's context, says nothing
    lines = [line for line in alone.stderr.splitlines() if "as context" not in line]
    assert len(lines) == 2 and not any("drv2" in line for line in lines)
    (tmp_path / "drv_internal.h").write_text("/* now it exists */\n")
    assert gupcheck("--kernel-model", "-q", str(tmp_path)).returncode == 0  # the header's appearance is seen
