"""Project configuration (.gupcheck.toml, [tool.gupcheck]), inline suppressions and --baseline,
through the command line as users run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gupcheck.pipeline.projectconfig import ConfigFileError, find_config, load_config

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "testdata" / "example" / "demo_dev.c"

VENDOR_PIN_DRIVER = """\
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/mm.h>

/* from the vendor's support library, which is not part of the analysed tree */
extern int vendor_pin(unsigned long addr, int nr, struct page **pages);

struct vp_ctx {
\tstruct page *pages[4];
};

static long vp_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
\tstruct vp_ctx *ctx = file->private_data;

\tif (vendor_pin(arg, 4, ctx->pages) < 0)
\t\treturn -EFAULT;
\treturn 0;
}

static const struct file_operations vp_fops = {
\t.owner = THIS_MODULE,
\t.unlocked_ioctl = vp_ioctl,
};
MODULE_LICENSE("GPL");
"""


def gupcheck(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("GUPCHECK_KERNEL_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "gupcheck", "--kernel-model", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "drivers" / "demo").mkdir(parents=True)
    shutil.copy(EXAMPLE, root / "drivers" / "demo" / "demo_dev.c")
    return root


def finding_lines(output: str) -> list[str]:
    levels = (": error:", ": warning:", ": note:")
    return [line for line in output.splitlines() if "[GUP" in line and any(level in line for level in levels)]


# --- finding the file, paths, excludes -------------------------------------------------------------


def test_paths_come_from_gupcheck_toml_found_in_a_parent(project: Path) -> None:
    (project / ".gupcheck.toml").write_text('paths = ["drivers"]\nexclude = ["*/vendor/*"]\n')
    (project / "drivers" / "demo" / "vendor").mkdir()
    shutil.copy(EXAMPLE, project / "drivers" / "demo" / "vendor" / "copy.c")
    run = gupcheck(project / "drivers" / "demo")
    assert run.returncode == 1, run.stderr
    assert len(finding_lines(run.stdout)) == 3  # the vendored copy is excluded
    assert all("vendor" not in line for line in finding_lines(run.stdout))


def test_pyproject_tool_table_is_read(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.gupcheck]\npaths = ["drivers"]\ndisable = ["GUP005"]\n'
    )
    assert find_config(project) == project / "pyproject.toml"
    run = gupcheck(project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no findings in 1 file analysed" in run.stdout


def test_no_paths_and_no_configuration_is_a_usage_error(tmp_path: Path) -> None:
    run = gupcheck(tmp_path)
    assert run.returncode == 2
    assert run.stderr.startswith("gupcheck: error: no paths given") and run.stderr.count("\n") == 1


# --- rules and levels -------------------------------------------------------------------------------


def test_enable_and_level_overrides(project: Path) -> None:
    (project / ".gupcheck.toml").write_text('enable = ["unchecked-user-access"]\n[levels]\nGUP005 = "note"\n')
    run = gupcheck(project, "drivers")
    lines = finding_lines(run.stdout)
    assert len(lines) == 3 and all(": note:" in line for line in lines)
    sarif = gupcheck(project, "drivers", "--format", "sarif")
    log = json.loads(sarif.stdout)
    assert [rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]] == ["GUP005"]
    assert {result["level"] for result in log["runs"][0]["results"]} == {"note"}


@pytest.mark.parametrize(
    "content, key",
    [
        ('kernal-dir = "/usr/src"\n', "kernal-dir"),
        ("jobs = 0\n", "jobs"),
        ('jobs = "four"\n', "jobs"),
        ('paths = "drivers"\n', "paths"),
        ('disable = ["GUP999"]\n', "disable"),
        ('[levels]\nGUP001 = "fatal"\n', "levels.GUP001"),
        ('[api]\npins = [{ name = "p", kind = "FOLL_GET" }]\n', "api.pins[0].pages"),
        ('[api]\npins = [{ name = "p", pages = 2, kind = "FOLL_MAYBE" }]\n', "api.pins[0].kind"),
        ('[api]\nlocks = "my_lock"\n', "api.locks"),
        ('[api]\nmutexes = ["m"]\n', "api.mutexes"),
        ("timeout = -1\n", "timeout"),
    ],
)
def test_bad_configuration_is_a_one_line_error_naming_the_key(project: Path, content: str, key: str) -> None:
    (project / ".gupcheck.toml").write_text(content)
    run = gupcheck(project, "drivers")
    assert run.returncode == 2, run.stdout
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert f"'{key}'" in run.stderr and ".gupcheck.toml" in run.stderr


def test_invalid_toml_names_the_file(project: Path) -> None:
    (project / ".gupcheck.toml").write_text("paths = [\n")
    run = gupcheck(project, "drivers")
    assert run.returncode == 2
    assert run.stderr.startswith(f"gupcheck: error: {project / '.gupcheck.toml'}: invalid TOML")


def test_load_config_resolves_paths_against_the_file(tmp_path: Path) -> None:
    (tmp_path / ".gupcheck.toml").write_text('paths = ["a", "../b"]\nkernel-dir = "tree"\n')
    config = load_config(tmp_path / ".gupcheck.toml")
    assert config.paths == [str(tmp_path / "a"), str(tmp_path.parent / "b")]
    assert config.kernel_dir == str(tmp_path / "tree")
    with pytest.raises(ConfigFileError, match="no \\[tool.gupcheck\\] table"):
        (tmp_path / "pyproject.toml").write_text("[tool.ruff]\n")
        load_config(tmp_path / "pyproject.toml")


# --- API knowledge for code gupcheck cannot see -------------------------------------------------------


def test_declared_pin_wrapper_makes_an_unseen_pin_visible(tmp_path: Path) -> None:
    (tmp_path / "vp.c").write_text(VENDOR_PIN_DRIVER)
    without = gupcheck(tmp_path, "vp.c")
    assert without.returncode == 0, without.stdout + without.stderr
    (tmp_path / ".gupcheck.toml").write_text(
        '[api]\npins = [{ name = "vendor_pin", kind = "FOLL_GET", start = 0, nr = 1, pages = 2 }]\n'
    )
    declared = gupcheck(tmp_path, "vp.c")
    assert declared.returncode == 1, declared.stderr
    assert any(
        "vp.c:16:" in line and "[GUP001]" in line and ": error:" in line
        for line in finding_lines(declared.stdout)
    ), declared.stdout
    (tmp_path / ".gupcheck.toml").write_text(
        '[api]\npins = [{ name = "vendor_pin", kind = "FOLL_PIN", pages = 2, longterm = true }]\n'
    )
    longterm = gupcheck(tmp_path, "vp.c")
    assert longterm.returncode == 0, longterm.stdout


# --- inline suppressions -------------------------------------------------------------------------------


def _suppress(path: Path, line: int, comment: str, above: bool) -> None:
    lines = path.read_text().splitlines()
    if above:
        indent = lines[line - 1][: len(lines[line - 1]) - len(lines[line - 1].lstrip())]
        lines.insert(line - 1, f"{indent}{comment}")
    else:
        lines[line - 1] = lines[line - 1].replace("/* expect: GUP005 */", comment)
    path.write_text("\n".join(lines) + "\n")


def test_inline_suppression_hides_a_finding_but_keeps_it_in_sarif(project: Path, sarif_validator) -> None:
    source = project / "drivers" / "demo" / "demo_dev.c"
    _suppress(source, 66, "/* gupcheck: ignore[GUP005] range checked by demo_validate() */", above=True)
    text = gupcheck(project, "drivers")
    assert text.returncode == 1
    assert len(finding_lines(text.stdout)) == 2 and "__get_user" not in text.stdout
    assert "1 finding suppressed in the source" in text.stdout
    sarif = gupcheck(project, "drivers", "--format", "sarif")
    log = json.loads(sarif.stdout)
    assert [e.message for e in sarif_validator.iter_errors(log)] == []
    suppressed = [r for r in log["runs"][0]["results"] if r.get("suppressions")]
    assert len(suppressed) == 1
    assert suppressed[0]["suppressions"][0]["kind"] == "inSource"
    assert suppressed[0]["suppressions"][0]["justification"] == "range checked by demo_validate()"
    assert suppressed[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 67


def test_suppressing_every_finding_gives_exit_0_and_other_rules_are_not_silenced(project: Path) -> None:
    source = project / "drivers" / "demo" / "demo_dev.c"
    _suppress(source, 82, "// gupcheck: ignore[unchecked-user-access]", above=False)
    _suppress(source, 66, "/* gupcheck: ignore[GUP001] wrong rule */", above=False)
    run = gupcheck(project, "drivers")
    assert run.returncode == 1 and len(finding_lines(run.stdout)) == 2  # line 66 is GUP005, not GUP001
    _suppress(source, 66, "/* gupcheck: ignore[GUP001, GUP005] */", above=True)
    _suppress(source, 35, "/* gupcheck: ignore[GUP005] name is bounded by the ioctl size */", above=True)
    clean = gupcheck(project, "drivers")
    assert clean.returncode == 0, clean.stdout
    assert "3 findings suppressed in the source" in clean.stdout


# --- baseline --------------------------------------------------------------------------------------------


def test_baseline_reports_only_new_findings_even_when_lines_move(project: Path) -> None:
    baseline = project / "baseline.sarif"
    first = gupcheck(project, "drivers", "--format", "sarif", "-o", str(baseline))
    assert first.returncode == 1
    same = gupcheck(project, "drivers", "--baseline", str(baseline))
    assert same.returncode == 0 and finding_lines(same.stdout) == []

    source = project / "drivers" / "demo" / "demo_dev.c"
    text = source.read_text()
    # new code at the top shifts every old finding down, and brings one new unchecked copy
    marker = "static long demo_ioctl"
    assert marker in text
    text = text.replace(
        marker,
        "static void demo_peek(char *dst, const char __user *src)\n{\n"
        "\tcopy_from_user(dst, src, 4);\n}\n\n" + marker,
        1,
    )
    source.write_text(text)
    changed = gupcheck(project, "drivers", "--baseline", str(baseline))
    assert changed.returncode == 1
    lines = finding_lines(changed.stdout)
    assert len(lines) == 1 and "demo_dev.c" in lines[0] and "copy_from_user" in lines[0]


def test_unreadable_baseline_is_a_one_line_error(project: Path) -> None:
    (project / "bad.sarif").write_text("{ not json")
    run = gupcheck(project, "drivers", "--baseline", str(project / "bad.sarif"))
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "bad.sarif" in run.stderr


def test_declared_pinning_ioctl_links_a_program_whose_driver_is_absent(tmp_path: Path) -> None:
    case = REPO / "testdata" / "gup002" / "stack-array-direct"
    for name in ("pagepoke_app.c", "pagepoke_uapi.h"):
        shutil.copy(case / name, tmp_path / name)
    alone = gupcheck(tmp_path, "-v", "pagepoke_app.c")
    assert alone.returncode == 0, alone.stdout
    assert "PP_IOC_ATTACH" in alone.stderr and "not handled by any analysed driver" in alone.stderr
    (tmp_path / ".gupcheck.toml").write_text(
        '[api]\npinning-ioctls = [\n  { request = "PP_IOC_ATTACH", kind = "FOLL_GET" },\n]\n'
    )
    declared = gupcheck(tmp_path, "-v", "pagepoke_app.c", "--format", "json")
    assert declared.returncode == 1, declared.stderr
    findings = json.loads(declared.stdout)["findings"]
    assert [(f["ruleId"], f["path"], f["line"]) for f in findings] == [("GUP002", "pagepoke_app.c", 25)]
    assert any(r["path"].endswith(".gupcheck.toml") and r["line"] == 3 for r in findings[0]["related"])
    assert "PP_IOC_ATTACH" not in declared.stderr  # the other requests are still reported unhandled


def test_declared_lock_wrappers_count_as_locks(tmp_path: Path) -> None:
    """GUP004 compares an access's locks with the others': wrappers the configuration declares are locks."""
    source = (REPO / "testdata" / "gup004" / "fault-export-unlocked-write" / "notepage.c").read_text()
    wrapped = source.replace("mutex_lock_interruptible(", "vendor_lock_interruptible(")
    wrapped = wrapped.replace("mutex_lock(", "vendor_lock(").replace("mutex_unlock(", "vendor_unlock(")
    declarations = (
        "struct mutex;\nextern void vendor_lock(struct mutex *m);\n"
        "extern int vendor_lock_interruptible(struct mutex *m);\n"
        "extern void vendor_unlock(struct mutex *m);"
    )
    wrapped = wrapped.replace("#include <linux/module.h>", "#include <linux/module.h>\n" + declarations, 1)
    assert wrapped.count("vendor_") > 4
    (tmp_path / "notepage.c").write_text(wrapped)
    without = gupcheck(tmp_path, "notepage.c", "--format", "json")
    assert [f for f in json.loads(without.stdout)["findings"] if f["ruleId"] == "GUP004"] == []
    (tmp_path / ".gupcheck.toml").write_text('[api]\nlocks = ["vendor_lock"]\nunlocks = ["vendor_unlock"]\n')
    declared = gupcheck(tmp_path, "notepage.c", "--format", "json")
    flagged = [f for f in json.loads(declared.stdout)["findings"] if f["ruleId"] == "GUP004"]
    assert flagged and all("lock" in f["message"] for f in flagged), declared.stdout
