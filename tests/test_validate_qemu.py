"""`gupcheck validate` for real: kernel module builds that fail, boots that time out, and the whole
validation of testdata/ (one boot per installed kernel). Needs a kernel image with its build
tree, QEMU and a static busybox: `make test` installs them (scripts/setup-qemu.sh)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from testdata_cases import TESTDATA, VALIDATED_GROUPS

from gupcheck.validate.build import GUEST_DIR, build_modules, build_program, find_busybox
from gupcheck.validate.cases import load_cases
from gupcheck.validate.console import parse_console
from gupcheck.validate.initramfs import build_initramfs
from gupcheck.validate.kernels import Kernel, installed_kernels
from gupcheck.validate.qemu import QEMU, qemu_command, run_qemu

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def kernel() -> Kernel:
    kernels = installed_kernels()
    if not kernels or not shutil.which(QEMU):
        pytest.skip("no kernel image with a build tree, or no QEMU (run scripts/setup-qemu.sh)")
    return kernels[-1]


def write_case(root: Path, name: str, driver: str) -> Path:
    case = root / name
    (case / "repro").mkdir(parents=True)
    (case / f"{name}.c").write_text(driver)
    (case / "Kbuild").write_text(f"obj-m += {name}.o\n")
    (case / "repro" / "repro.toml").write_text(
        f'[[finding]]\nat = "{name}.c:1"\nrule = "GUP005"\nresult = "r"\n'
    )
    (case / "repro" / f"{name}_repro.c").write_text("int main(void) { return 0; }\n")
    return case


GOOD = '#include <linux/module.h>\nMODULE_LICENSE("GPL");\n'
BAD = '#include <linux/module.h>\nstatic int broken = not_declared;\nMODULE_LICENSE("GPL");\n'


def test_a_module_that_does_not_compile_fails_only_its_own_case(tmp_path: Path, kernel: Kernel) -> None:
    good = load_cases([str(write_case(tmp_path / "cases", "goodmod", GOOD))])[0]
    bad = load_cases([str(write_case(tmp_path / "cases", "badmod", BAD))])[0]
    modules, probe = build_modules(kernel, {"c01": good, "c02": bad}, tmp_path / "build", jobs=2)
    assert probe.files and probe.files[0].name == "gupprobe.ko"
    assert [f.name for f in modules["c01"].files] == ["goodmod.ko"]
    assert modules["c02"].error is not None and not modules["c02"].files
    assert "badmod.c:2" in modules["c02"].error and "not_declared" in modules["c02"].error
    untouched = sorted(p.name for p in (tmp_path / "cases" / "badmod").iterdir())
    assert untouched == ["Kbuild", "badmod.c", "repro"]


def test_a_program_that_does_not_compile_is_a_one_line_error(tmp_path: Path) -> None:
    source = tmp_path / "broken_repro.c"
    source.write_text("int main(void) { return missing; }\n")
    built = build_program([source], [GUEST_DIR], tmp_path / "out" / "broken_repro")
    assert built.error is not None and "broken_repro.c:1" in built.error and "missing" in built.error
    assert "\n" not in built.error


def processes_mentioning(text: str) -> dict[int, str]:
    """Processes whose command line holds `text`: {pid: command line}."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found[int(entry.name)] = cmdline
    return found


def small_initramfs(tmp_path: Path, plan: str) -> Path:
    runner = build_program([GUEST_DIR / "runner.c"], [GUEST_DIR], tmp_path / "gupcheck-runner")
    assert runner.files, runner.error
    initramfs = tmp_path / "initramfs.cpio"
    build_initramfs(initramfs, find_busybox(), runner.files[0], plan, {})
    return initramfs


def test_a_boot_that_outlives_its_timeout_is_killed_with_nothing_left_behind(
    tmp_path: Path, kernel: Kernel
) -> None:
    initramfs = small_initramfs(tmp_path, "run c01 sleeper 60 /bin/busybox sleep 60\n")
    start = time.monotonic()
    argv = qemu_command(kernel, initramfs, "tcg")
    console, seconds, outcome, _ = run_qemu(argv, timeout=2, idle_timeout=60)
    assert outcome == "timed out after 2 s"
    assert seconds < 10 and time.monotonic() - start < 15
    assert processes_mentioning(str(initramfs)) == {}


def test_a_result_that_outlives_its_timeout_in_the_guest_is_killed_and_the_plan_goes_on(
    tmp_path: Path, kernel: Kernel
) -> None:
    plan = (
        "run c01 sleeper 1 /bin/busybox sleep 60\n"
        "run c01 echo 10 /bin/busybox echo RESULT echo OK still running\n"
    )
    initramfs = small_initramfs(tmp_path, plan)
    argv = qemu_command(kernel, initramfs, "tcg")
    console, _, outcome, ready = run_qemu(argv, timeout=120, idle_timeout=60)
    assert ready and outcome == "powered off", (outcome, console[-2000:])
    log = parse_console(console)
    assert log.done and log.release == kernel.version
    assert log.runs[("c01", "sleeper")].ended == "TIMEOUT"
    assert [(r.verdict, r.evidence) for r in log.runs[("c01", "echo")].reports] == [("OK", "still running")]


def tree_digest(root: Path) -> list[tuple[str, int, float]]:
    return sorted(
        (str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime)
        for p in root.rglob("*")
        if p.is_file()
    )


def test_the_whole_validation_confirms_every_finding_and_keeps_every_look_alike_clean(
    tmp_path: Path, kernel: Kernel, sarif_validator
) -> None:
    sarif_in, sarif_out, report = tmp_path / "in.sarif", tmp_path / "out.sarif", tmp_path / "report.json"
    groups = [f"testdata/{group}" for group in VALIDATED_GROUPS]
    analysed = subprocess.run(
        [
            sys.executable,
            "-m",
            "gupcheck",
            "--kernel-model",
            "--format",
            "sarif",
            "-o",
            str(sarif_in),
            *groups,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert analysed.returncode == 1, analysed.stderr
    before = tree_digest(TESTDATA)
    scratch_before = set(Path(tempfile.gettempdir()).glob("gupcheck-validate-*"))

    validated = subprocess.run(
        [
            sys.executable,
            "-m",
            "gupcheck",
            "validate",
            "--kernel",
            "all",
            "--format",
            "json",
            "-o",
            str(report),
            "--sarif-in",
            str(sarif_in),
            "--sarif-out",
            str(sarif_out),
            *groups,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert validated.returncode in (0, 1), validated.stderr
    result = json.loads(report.read_text())

    # One boot per kernel, in well under a minute of QEMU time each.
    assert [k["version"] for k in result["kernels"]] == [k.version for k in installed_kernels()]
    for booted in result["kernels"]:
        assert booted["outcome"] == "powered off", booted
        assert booted["qemu_seconds"] < 60, booted

    # Every expected finding confirmed (or stood for by reasoning) and every look-alike clean on 6.1.
    cases = load_cases(groups)
    on_6_1 = [v for v in result["verdicts"] if v["kernel"].startswith("6.1.")]
    assert on_6_1, "no 6.1 kernel installed"
    bad = [
        v
        for v in on_6_1
        if v["verdict"]
        not in (("confirmed", "by reasoning") if v["kind"] == "finding" else ("clean", "by reasoning"))
    ]
    assert not bad, json.dumps(bad, indent=1)
    expected = {(c.name, e.file, e.line, e.rule) for c in cases for e in c.expectations}
    for version in {v["kernel"] for v in on_6_1}:
        seen = {(v["case"], v["file"], v["line"], v["rule"]) for v in on_6_1 if v["kernel"] == version}
        assert seen == expected
    reasoned = {(v["case"], v["file"], v["line"]) for v in on_6_1 if v["verdict"] == "by reasoning"}
    assert reasoned == {(c.name, e.file, e.line) for c in cases for e in c.expectations if e.reasoning}
    if all(k["version"].startswith("6.1.") for k in result["kernels"]):
        assert validated.returncode == 0, validated.stdout + validated.stderr

    # The verdicts land in the SARIF log, which stays valid.
    sarif = json.loads(sarif_out.read_text())
    sarif_validator.validate(sarif)
    annotated = [r for r in sarif["runs"][0]["results"] if "validation" in r.get("properties", {})]
    confirmed_findings = {(v["case"], v["file"], v["line"]) for v in on_6_1 if v["verdict"] == "confirmed"}
    assert len(annotated) >= len(confirmed_findings)
    assert f"recorded verdicts in {len(annotated)} SARIF results" in validated.stderr

    # Nothing the user gave was modified, no scratch folder and no QEMU are left behind.
    assert tree_digest(TESTDATA) == before
    assert set(Path(tempfile.gettempdir()).glob("gupcheck-validate-*")) == scratch_before
    leftovers = {
        pid: cmdline
        for pid, cmdline in processes_mentioning("gupcheck-validate-").items()
        if not any(str(old) in cmdline for old in scratch_before)
    }
    assert leftovers == {}
