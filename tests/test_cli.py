"""The command line end to end, run as a user runs it: `python -m gupcheck ...` in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sarif_tools import run_multitool_validate

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
EXAMPLE = TESTDATA / "example"


def gupcheck(*args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, **(env or {})}
    environment.pop("GUPCHECK_KERNEL_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "gupcheck", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
    )


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_example_prints_findings_in_compiler_format_and_exits_1() -> None:
    result = gupcheck("--kernel-model", str(EXAMPLE.relative_to(REPO)))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    flagged = [line for line in lines if line.startswith("testdata/example/demo_dev.c:")]
    assert [line.split(":")[1] for line in flagged] == ["35", "66", "82"]
    assert all(line.endswith("[GUP005]") for line in flagged)
    assert "\x1b[" not in result.stdout  # not a terminal: no colour
    assert any(line.lstrip().startswith("hint:") for line in lines)
    assert sum("built-in kernel API model" in line for line in lines) == 1
    assert result.stderr.startswith("gupcheck: note: 1 kernel file parsed with the built-in kernel API model")
    assert lines[-1] == "3 findings (2 errors, 1 warning) in 1 file analysed"


def test_clean_code_exits_0(tmp_path: Path) -> None:
    driver = tmp_path / "clean.c"
    driver.write_text(
        "#include <linux/module.h>\n#include <linux/uaccess.h>\n"
        "long f(void __user *u, char *k) { return copy_from_user(k, u, 8) ? -EFAULT : 0; }\n"
        'MODULE_LICENSE("GPL");\n'
    )
    result = gupcheck("--kernel-model", str(driver))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("no findings in 1 file analysed")


def test_rules_and_explain() -> None:
    listed = gupcheck("rules")
    assert listed.returncode == 0
    rows = [line.split()[:3] for line in listed.stdout.splitlines()]
    assert rows == [
        ["GUP001", "pin-outlives-syscall", "error"],
        ["GUP002", "stack-buffer-pinned", "error"],
        ["GUP003", "missing-madv-dontfork", "error"],
        ["GUP004", "unlocked-shared-mapping", "warning"],
        ["GUP005", "unchecked-user-access", "error"],
    ]
    explained = gupcheck("explain", "GUP005")
    assert explained.returncode == 0
    for section in ("What it does", "Why is this bad?", "Example", "Use instead", "References"):
        assert section in explained.stdout
    assert gupcheck("explain", "unchecked-user-access").stdout == explained.stdout
    unknown = gupcheck("explain", "GUP999")
    assert unknown.returncode == 2 and "unknown rule 'GUP999'" in unknown.stderr


def test_sarif_of_all_testdata_passes_schema_and_multitool(
    tmp_path: Path, sarif_validator, multitool_package: Path
) -> None:
    out = tmp_path / "gupcheck.sarif"
    result = gupcheck("--kernel-model", "--format", "sarif", "-o", str(out), "testdata")
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    log = json.loads(out.read_text())
    assert [e.message for e in sarif_validator.iter_errors(log)] == []
    results = log["runs"][0]["results"]
    sources = [*TESTDATA.rglob("*.c"), *TESTDATA.rglob("*.h")]  # a header's functions are checked too
    expected = sum(len(re.findall(r"expect:\s*GUP\d{3}", p.read_text())) for p in sources)
    assert len(results) == expected
    assert all(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%" for r in results
    )
    assert any(r.get("codeFlows") for r in results)  # double fetches and pins carry their path
    assert any(r.get("fixes") for r in results)  # FOLL_GET -> FOLL_PIN | FOLL_LONGTERM
    report = run_multitool_validate(multitool_package, out, tmp_path / "validation.sarif")
    assert [r for r in report if r["level"] == "error"] == []
    again = tmp_path / "again.sarif"
    gupcheck("--kernel-model", "--format", "sarif", "-o", str(again), "testdata")
    assert again.read_bytes() == out.read_bytes()


# What a warm run must not import: the rule modules and the analyses behind them, the SARIF library,
# importlib.metadata, libclang, networkx.
HEAVY = (
    "gupcheck.rules.",
    "gupcheck.model.program",
    "gupcheck.analyses.",
    "sarif_om",
    "jschema_to_python",
    "importlib.metadata",
    "clang",
    "networkx",
)


def run_listing_imports(*args: str, cwd: Path = REPO) -> tuple[int, set[str]]:
    """Run the command line in a fresh interpreter: (exit status, the heavy modules it imported)."""
    script = (
        "import sys\nfrom gupcheck.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as done:\n    code = done.code\n"
        f"print(code, *(name for name in sys.modules if name.startswith({HEAVY!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.stdout, done.stderr
    code, *modules = done.stdout.split()
    return int(code), set(modules)


@pytest.mark.parametrize("output_format", ["sarif", "text", "json"])
def test_warm_run_imports_no_rule_and_no_sarif_library(tmp_path: Path, output_format: str) -> None:
    options = ("--kernel-model", "--cache-dir", str(tmp_path / "cache"), "--format", output_format)
    status, imported = run_listing_imports(*options, "-o", str(tmp_path / "cold"), str(EXAMPLE))
    assert status == 1 and "gupcheck.rules.unchecked_user_access" in imported
    status, imported = run_listing_imports(*options, "-o", str(tmp_path / "warm"), str(EXAMPLE))
    assert status == 1 and imported == set()
    assert (tmp_path / "warm").read_bytes() == (tmp_path / "cold").read_bytes()


def test_a_reused_sarif_log_is_the_one_rendered_for_the_same_inputs(tmp_path: Path) -> None:
    """The SARIF log a warm run reuses is the one its inputs give: another level, source root or rule
    set gives another log, the same as a run without cache renders."""
    cache = str(tmp_path / "cache")
    project = tmp_path / "project"
    project.mkdir()
    (project / "demo_dev.c").write_bytes((EXAMPLE / "demo_dev.c").read_bytes())
    variants = {
        "plain": ("", ()),
        "levels": ('[levels]\nGUP005 = "note"\n', ()),
        "rules": ('disable = ["GUP001"]\n', ()),
        "root": ("", ("--source-root", str(tmp_path))),
    }
    logs = {}
    for name, (config, options) in variants.items():
        (project / ".gupcheck.toml").write_text(config)
        args = ("--kernel-model", "--format", "sarif", *options, "demo_dev.c")
        fresh = gupcheck(*args, "--no-cache", cwd=project)
        for _ in range(2):  # rendered and stored, then reused
            cached = gupcheck(*args, "--cache-dir", cache, cwd=project)
            assert cached.returncode == fresh.returncode == 1
            assert cached.stdout == fresh.stdout, name
        logs[name] = fresh.stdout
    assert len(set(logs.values())) == len(logs)
    assert len(list((tmp_path / "cache" / "reports").rglob("*.report"))) == len(variants)


def test_json_format() -> None:
    result = gupcheck("--kernel-model", "--format", "json", str(EXAMPLE))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["filesAnalysed"] == 1
    assert {(f["ruleId"], f["line"]) for f in report["findings"]} == {
        ("GUP005", 35),
        ("GUP005", 66),
        ("GUP005", 82),
    }


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda d: d / "missing.c", "no such file or directory"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "no C source files"),
        (lambda d: (d / "notes.txt").write_text("hello\n") and d / "notes.txt", "not a C source file"),
        (lambda d: (d / "blob.c").write_bytes(b"\x7fELF\x00\x01\x02") and d / "blob.c", "binary file"),
        (lambda d: (d / "mem.c").symlink_to("/proc/self/mem") or d / "mem.c", "cannot read"),
        (
            lambda d: (d / "broken.c").write_text("int f(void { return 0 }\n") and d / "broken.c",
            "parsed with",
        ),
    ],
    ids=["missing", "empty-folder", "not-c", "binary", "unreadable", "syntax-error"],
)
def test_bad_input_gives_one_line_error_and_exit_2(tmp_path: Path, make_input, message: str) -> None:
    path = make_input(tmp_path)
    result = gupcheck("--kernel-model", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if not line.startswith("gupcheck: note:")]
    assert len(errors) == 1, errors
    assert str(path) in errors[0] and message in errors[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "blob.c").write_bytes(b"\x00\x00binary")
    (tmp_path / "broken.c").write_text("int f(void { return 0 }\n")
    target = tmp_path / "demo_dev.c"
    target.write_bytes((EXAMPLE / "demo_dev.c").read_bytes())
    result = gupcheck("--kernel-model", str(tmp_path))
    assert result.returncode == 1
    assert "blob.c: binary file" in result.stderr and "broken.c: parsed with" in result.stderr
    assert result.stdout.count("demo_dev.c:") == 3
    # the file not analysed is counted in the summary too
    assert result.stdout.strip().endswith("in 2 files analysed; 1 file not analysed (see the errors above)")


def test_bad_options_exit_2_without_traceback(tmp_path: Path) -> None:
    bad_db = tmp_path / "compile_commands.json"
    bad_db.write_text("{not json")
    for args, message in (
        (("--kernel-dir", str(tmp_path), str(EXAMPLE)), str(tmp_path)),
        (("-p", str(bad_db), str(EXAMPLE)), "compile_commands.json"),
        (("--format", "xml", str(EXAMPLE)), "xml"),
        (("--target-kernel", "banana", str(EXAMPLE)), "target kernel 'banana'"),
    ):
        result = gupcheck(*args)
        assert result.returncode == 2, args
        assert message in result.stderr and "Traceback" not in result.stderr


def test_analysis_modifies_nothing() -> None:
    before = tree_digest(TESTDATA)
    gupcheck("--kernel-model", "--format", "sarif", "testdata")
    assert tree_digest(TESTDATA) == before


def test_the_command_ends_without_tearing_the_analysis_down_but_with_its_output_and_exit_handlers(
    tmp_path: Path,
) -> None:
    """`gupcheck` (cli.run) leaves the process as soon as the output is out: the whole SARIF log
    reaches a pipe, the exit status is kept, and the exit handlers still run."""
    marker = tmp_path / "exit-handler-ran"
    script = (
        "import atexit, sys\n"
        "from gupcheck.cli import run\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').close())\n"
        f"sys.argv = ['gupcheck', {str(EXAMPLE)!r}, '--kernel-model', '--no-cache', '--format', 'sarif']\n"
        "run()\n"
        "raise SystemExit('run() returned')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "GUPCHECK_KERNEL_DIR"},
    )
    assert done.returncode == 1, done.stderr
    assert len(json.loads(done.stdout)["runs"][0]["results"]) == 3
    assert marker.exists()
    usage = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom gupcheck.cli import run\nsys.argv = ['gupcheck', '--no-such-option']\nrun()\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert usage.returncode == 2 and "No such option" in usage.stderr
