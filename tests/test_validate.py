"""`gupcheck validate` without booting anything: the console, the manifests, verdicts, reports,
the SARIF merge, the initramfs, kernel selection, and that every testdata case has a repro."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from testdata_cases import EXPECT, TESTDATA, VALIDATED_GROUPS

from gupcheck.frontend.discovery import discover_sources
from gupcheck.validate.cases import CaseError, ResultSpec, load_cases
from gupcheck.validate.console import parse_console, split_console
from gupcheck.validate.initramfs import Entry, write_cpio
from gupcheck.validate.kernels import Kernel, KernelError, select_kernels
from gupcheck.validate.report import merge_into_sarif, render_json, render_table
from gupcheck.validate.run import KernelRun, ValidationRun, plan_text
from gupcheck.validate.verdicts import BUG, NO_BUG, UNDECIDED, Verdict, result_state

REPO = Path(__file__).resolve().parent.parent


def gupcheck(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gupcheck", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def write_case(root: Path, manifest: str, program: str = "int main(void) { return 0; }\n") -> Path:
    case = root / "case"
    (case / "repro").mkdir(parents=True)
    (case / "drv.c").write_text("#include <linux/module.h>\n" + "int x;\n" * 20)
    (case / "Kbuild").write_text("obj-m += drv.o\n")
    (case / "repro" / "repro.toml").write_text(manifest)
    (case / "repro" / "drv_repro.c").write_text(program)
    return case


# ---- the console --------------------------------------------------------------------------------

FIRMWARE = "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2)\r\nBooting from ROM...\x1bc\x1b[?7l\x1b[2J"


def test_escape_codes_before_the_first_line_do_not_hide_it() -> None:
    log = parse_console(FIRMWARE + "@@GUPCHECK READY 6.1.0-56-amd64\r\n@@GUPCHECK DONE\r\n")
    assert log.release == "6.1.0-56-amd64"
    assert log.done


def test_carriage_returns_are_not_part_of_lines() -> None:
    text = "@@GUPCHECK BEGIN c01 leak\r\nRESULT leak BUG 2 pins held\r\r\n@@GUPCHECK END c01 leak EXIT 0\r\n"
    run = parse_console(text).runs[("c01", "leak")]
    assert [(r.verdict, r.evidence) for r in run.reports] == [("BUG", "2 pins held")]
    assert run.ended == "EXIT 0"
    assert all("\r" not in line for line, _ in split_console(text))


def test_kernel_messages_interleaved_between_and_inside_lines() -> None:
    text = (
        "@@GUPCHECK BEGIN c02 deref\r\n"
        "[    3.830824] BUG: unable to handle page fault for address: 00000000004a60d0\r\n"
        "RESULT deref OK no fa[    3.830926] #PF: error_code(0x0001) - permissions violation\r\n"
        "[    3.831000] RIP: 0010:led_ioctl+0x66/0x1cf\r\n"
        "@@GUPCHECK END c02 deref SIGNAL 9\r\n"
        "@@GUPCHECK KMSG c02 deref <1>[    3.830824] "
        "BUG: unable to handle page fault for address: 00000000004a60d0\r\n"
        "@@GUPCHECK KMSG c02 deref <4>[    3.832000] Oops: 0001 [#1] PREEMPT SMP NOPTI\r\n"
    )
    run = parse_console(text).runs[("c02", "deref")]
    assert [(r.verdict, r.evidence) for r in run.reports] == [("OK", "no fa")]
    assert run.kernel[0] == "BUG: unable to handle page fault for address: 00000000004a60d0"
    assert "Oops: 0001 [#1] PREEMPT SMP NOPTI" in run.kernel
    assert run.kernel.count(run.kernel[0]) == 1  # the console copy and the KMSG copy are one message
    ((kind, message), *_) = run.problems()
    assert kind == "oops"
    assert message.endswith("[error_code(0x0001) - permissions violation] in led_ioctl+0x66/0x1cf")


def test_a_result_of_another_scenario_and_program_output_are_kept_apart() -> None:
    text = (
        "@@GUPCHECK BEGIN c01 first\nsome output\nRESULT second BUG not mine\n"
        "RESULT first OK fine\n@@GUPCHECK END c01 first EXIT 0\n"
    )
    run = parse_console(text).runs[("c01", "first")]
    assert [r.evidence for r in run.reports] == ["fine"]
    assert run.output == ["some output", "RESULT second BUG not mine"]


def test_loads_and_a_guest_that_stopped_mid_result() -> None:
    text = (
        "@@GUPCHECK READY 6.1\n@@GUPCHECK LOAD c01 drv.ko OK\n"
        "@@GUPCHECK LOAD c02 other.ko FAIL File exists\n@@GUPCHECK BEGIN c01 hang\n"
        "[   9.000000] Kernel panic - not syncing: Fatal exception\n"
    )
    log = parse_console(text)
    assert log.loads == {("c01", "drv.ko"): "OK", ("c02", "other.ko"): "FAIL File exists"}
    assert not log.done and log.runs[("c01", "hang")].ended is None


# ---- verdicts -----------------------------------------------------------------------------------

SPEC = ResultSpec("deref", 20, oops=False)
OOPSING = ResultSpec("deref", 20, oops=True)


def run_of(text: str):
    return parse_console("@@GUPCHECK BEGIN c01 deref\n" + text).runs[("c01", "deref")]


def test_an_oops_confirms_only_a_result_that_may_oops() -> None:
    run = run_of("@@GUPCHECK END c01 deref SIGNAL 9\n@@GUPCHECK KMSG c01 deref <1>[ 1.000000] BUG: x\n")
    assert result_state(OOPSING, run, None, None, "powered off")[0] == BUG
    state, evidence = result_state(SPEC, run, None, None, "powered off")
    assert state == UNDECIDED and "no RESULT line" in evidence


def test_ok_with_a_kernel_warning_keeps_the_warning_and_ok_with_an_oops_is_undecided() -> None:
    warned = run_of(
        "RESULT deref OK fine\n@@GUPCHECK END c01 deref EXIT 0\n"
        "@@GUPCHECK KMSG c01 deref <4>[ 1.000000] WARNING: CPU: 0 PID: 95 at mm/gup.c:2367\n"
    )
    state, evidence = result_state(SPEC, warned, None, None, "powered off")
    assert state == NO_BUG and evidence.endswith("kernel warning: WARNING: CPU: 0 PID: 95 at mm/gup.c:2367")
    oopsed = run_of(
        "RESULT deref OK fine\n@@GUPCHECK END c01 deref EXIT 0\n"
        "@@GUPCHECK KMSG c01 deref <1>[ 1.000000] BUG: kernel NULL pointer dereference\n"
    )
    assert result_state(SPEC, oopsed, None, None, "powered off")[0] == UNDECIDED


def test_timeouts_setup_errors_and_results_never_run() -> None:
    timed_out = run_of("@@GUPCHECK END c01 deref TIMEOUT\n")
    assert result_state(SPEC, timed_out, None, None, "powered off") == (UNDECIDED, "timed out after 20 s")
    assert result_state(SPEC, None, "module does not build: x.c:3: error: y", None, "x") == (
        UNDECIDED,
        "module does not build: x.c:3: error: y",
    )
    state, evidence = result_state(SPEC, None, None, parse_console(""), "timed out after 900 s")
    assert state == UNDECIDED and "timed out after 900 s" in evidence
    assert result_state(SPEC, run_of("RESULT deref ERROR no device\n"), None, None, "")[0] == UNDECIDED


# ---- manifests and bad input --------------------------------------------------------------------

MANIFEST = """
[[finding]]
at = "drv.c:3"
rule = "GUP005"
result = "shows-it"

[[look-alike]]
at = "drv.c:5"
result = "stays-clean"

[results.shows-it]
oops = true
timeout = 5
"""


def test_a_manifest_is_read_into_expectations_and_results(tmp_path: Path) -> None:
    case = write_case(tmp_path, MANIFEST)
    (loaded,) = load_cases([str(case / "repro" / "repro.toml")])
    assert loaded.path == case and loaded.modules == ("drv",) and loaded.program_name == "drv_repro"
    assert [(e.site, e.rule, e.result) for e in loaded.expectations] == [
        ("drv.c:3", "GUP005", "shows-it"),
        ("drv.c:5", None, "stays-clean"),
    ]
    assert loaded.results == (ResultSpec("shows-it", 5, True), ResultSpec("stays-clean", 20, False))
    assert load_cases([str(tmp_path)]) == [loaded]  # found below a folder too


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ('[[finding]]\nat = "drv.c:99"\nrule = "GUP005"\nresult = "a"\n', "drv.c has no line 99"),
        ('[[finding]]\nat = "drv.c:3"\nrule = "GUP005"\n', "give either 'result' or 'reasoning'"),
        ('[[finding]]\nat = "drv.c:3"\nrule = "GUP5"\nresult = "a"\n', "'rule' must be a rule id"),
        ('[[look-alike]]\nat = "drv.c:3"\nresult = "a"\n', "no [[finding]]"),
        ("colour = 1\n", "unknown key 'colour'"),
        ("[[finding]\n", "not valid TOML"),
        (MANIFEST + "[results.unused]\noops = true\n", "no finding or look-alike uses this result"),
    ],
)
def test_bad_manifests_are_one_line_errors_naming_the_file(
    tmp_path: Path, manifest: str, message: str
) -> None:
    case = write_case(tmp_path, manifest)
    with pytest.raises(CaseError) as error:
        load_cases([str(case)])
    assert message in str(error.value) and "repro.toml" in str(error.value) and "\n" not in str(error.value)


def test_cli_bad_input_exits_2_with_one_line_naming_the_path(tmp_path: Path) -> None:
    missing = gupcheck("validate", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr == f"gupcheck: error: {tmp_path / 'nowhere'}: no such file or directory\n"
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "drv.c").write_text("int x;\n")
    bare = gupcheck("validate", str(tmp_path / "plain"))
    assert bare.returncode == 2 and "Traceback" not in bare.stderr
    expected = f"gupcheck: error: {tmp_path / 'plain'}: no repro: expected repro/repro.toml"
    assert bare.stderr.startswith(expected)
    assert len(bare.stderr.splitlines()) == 1
    lonely = gupcheck("validate", "--sarif-in", "x.sarif", str(tmp_path / "plain"))
    assert lonely.returncode == 2 and "go together" in lonely.stderr


def test_no_kernel_and_unknown_kernel_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(KernelError, match="no kernel to boot"):
        select_kernels(None, tmp_path / "boot", tmp_path / "modules")
    for version in ("6.1.0-56-amd64", "6.1.0-100-amd64", "6.12.38+deb12-amd64"):
        (tmp_path / "boot").mkdir(exist_ok=True)
        (tmp_path / "boot" / f"vmlinuz-{version}").write_bytes(b"")
        (tmp_path / "modules" / version / "build").mkdir(parents=True)
        (tmp_path / "modules" / version / "build" / "Makefile").write_text("")
    (tmp_path / "boot" / "vmlinuz-5.10.0-30-amd64").write_bytes(b"")  # no build tree: not usable

    def versions(spec: str | None) -> list[str]:
        return [k.version for k in select_kernels(spec, tmp_path / "boot", tmp_path / "modules")]

    assert versions(None) == ["6.12.38+deb12-amd64"]
    assert versions("all") == ["6.1.0-56-amd64", "6.1.0-100-amd64", "6.12.38+deb12-amd64"]
    assert versions("6.1") == ["6.1.0-100-amd64"]
    assert versions("6.1.0-56-amd64") == ["6.1.0-56-amd64"]
    with pytest.raises(KernelError, match="no installed kernel '5.10'"):
        versions("5.10")


def test_the_analysis_skips_repro_folders_unless_named(tmp_path: Path) -> None:
    case = write_case(tmp_path, MANIFEST)
    sources, _ = discover_sources([str(case)])
    assert sources == [str(case / "drv.c")]
    named, _ = discover_sources([str(case / "repro")])
    assert named == [str(case / "repro" / "drv_repro.c")]


# ---- the plan, reports, SARIF, the initramfs ------------------------------------------------------


def test_the_plan_runs_results_that_may_oops_last_and_reloads_after_each(tmp_path: Path) -> None:
    from gupcheck.validate.build import Built

    case = load_cases([str(write_case(tmp_path, MANIFEST))])[0]
    ko = tmp_path / "drv.ko"
    plan = plan_text({"c01": case}, ["c01"], {"c01": Built([ko])}, Built([tmp_path / "gupprobe.ko"]))
    assert plan.splitlines() == [
        "load probe /gupcheck/probe/gupprobe.ko",
        "load c01 /gupcheck/c01/drv.ko",
        "run c01 stays-clean 20 /gupcheck/c01/drv_repro stays-clean",
        "run c01 shows-it 5 /gupcheck/c01/drv_repro shows-it",
        "unload c01 drv",
        "load c01 /gupcheck/c01/drv.ko",
    ]


def sample_run() -> ValidationRun:
    kernel = Kernel("6.1.0-56-amd64", Path("/boot/vmlinuz-6.1.0-56-amd64"), Path("/usr/src/x"))
    verdicts = [
        Verdict(
            "testdata/gup005/double-fetch",
            str(TESTDATA / "gup005" / "double-fetch"),
            kernel.version,
            "msgrelay.c",
            144,
            "GUP005",
            "echo",
            "confirmed",
            "ECHO wrote 8 bytes back",
        ),
        Verdict(
            "testdata/gup005/double-fetch",
            str(TESTDATA / "gup005" / "double-fetch"),
            kernel.version,
            "msgrelay.c",
            120,
            None,
            "checked",
            "clean",
            "-EINVAL",
        ),
    ]
    return ValidationRun([], [KernelRun(kernel, "tcg", 11.6, "powered off")], verdicts)


def test_table_and_json_reports() -> None:
    table = render_table(sample_run()).splitlines()
    assert table[0].split() == ["CASE", "FINDING", "KERNEL", "VERDICT", "EVIDENCE"]
    assert "msgrelay.c:144 GUP005" in table[1] and "confirmed" in table[1] and table[1].endswith("back")
    assert "msgrelay.c:120 look-alike" in table[2]
    assert table[-1] == (
        "6.1.0-56-amd64: 1 findings: 1 confirmed; 1 look-alikes: 1 clean; QEMU 11.6 s (tcg, powered off)"
    )
    report = json.loads(render_json(sample_run()))
    assert report["ok"] is True and report["kernels"][0]["qemu_seconds"] == 11.6
    assert report["verdicts"][1] == {
        "case": "testdata/gup005/double-fetch",
        "kind": "look-alike",
        "file": "msgrelay.c",
        "line": 120,
        "rule": None,
        "kernel": "6.1.0-56-amd64",
        "result": "checked",
        "verdict": "clean",
        "evidence": "-EINVAL",
    }


def test_verdicts_are_recorded_in_the_matching_sarif_results(tmp_path: Path, sarif_validator) -> None:
    out = tmp_path / "in.sarif"
    analysed = gupcheck("--kernel-model", "--format", "sarif", "-o", str(out), "testdata/gup005/double-fetch")
    assert analysed.returncode == 1, analysed.stderr
    sarif = json.loads(out.read_text())
    assert merge_into_sarif(sarif, sample_run().verdicts, tmp_path) == 1
    sarif_validator.validate(sarif)
    results = sarif["runs"][0]["results"]
    annotated = [r for r in results if "validation" in r.get("properties", {})]
    (result,) = annotated
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 144
    assert result["properties"]["validation"] == [
        {
            "kernel": "6.1.0-56-amd64",
            "verdict": "confirmed",
            "evidence": "ECHO wrote 8 bytes back",
            "case": "testdata/gup005/double-fetch",
        }
    ]


def test_the_initramfs_is_a_cpio_the_cpio_tool_reads(tmp_path: Path) -> None:
    payload = tmp_path / "payload"
    payload.write_bytes(b"abc")
    archive = tmp_path / "initrd.cpio"
    write_cpio(
        [
            Entry("bin", 0o040755),
            Entry("bin/prog", 0o100755, source=payload),
            Entry("bin/sh", 0o120777, data=b"busybox"),
            Entry("init", 0o100755, data=b"#!/bin/sh\n"),
        ],
        archive,
    )
    listing = subprocess.run(
        ["cpio", "-it", "--quiet"], stdin=archive.open("rb"), capture_output=True, text=True, check=True
    )
    assert listing.stdout.split() == ["bin", "bin/prog", "bin/sh", "init"]
    extracted = tmp_path / "out"
    extracted.mkdir()
    subprocess.run(["cpio", "-id", "--quiet"], stdin=archive.open("rb"), cwd=extracted, check=True)
    assert (extracted / "bin" / "prog").read_bytes() == b"abc"
    assert os.readlink(extracted / "bin" / "sh") == "busybox"


# ---- coverage: every testdata case carries a repro that accounts for each expected finding -----


def validated_case_folders() -> list[Path]:
    return sorted(
        {
            p.parent
            for group in VALIDATED_GROUPS
            for p in (TESTDATA / group).rglob("*.c")
            if p.parent.name != "repro"
        }
    )


@pytest.mark.parametrize("folder", validated_case_folders(), ids=lambda p: str(p.relative_to(TESTDATA)))
def test_every_expected_finding_of_a_case_has_a_result_or_a_reasoning(folder: Path) -> None:
    expected = set()
    for source in [*folder.glob("*.c"), *folder.glob("*.h")]:
        for number, line in enumerate(source.read_text().splitlines(), start=1):
            for match in EXPECT.finditer(line):
                expected |= {(source.name, number, rule) for rule in re.findall(r"GUP\d{3}", match.group(1))}
    (case,) = load_cases([str(folder)])
    mapped = {(e.file, e.line, e.rule) for e in case.expectations if e.positive}
    assert mapped == expected
    look_alikes = {(e.file, e.line) for e in case.expectations if not e.positive}
    assert not look_alikes & {(file, line) for file, line, _ in expected}
    assert any(not e.positive for e in case.expectations), "a case shows at least one look-alike clean"


def test_the_validate_package_never_imports_clang() -> None:
    code = (
        "import sys, gupcheck.validate, gupcheck.validate.report; "
        "assert not [m for m in sys.modules if m.startswith('clang')]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    "writes",
    [
        ["@@GUPCHECK READY 6.1.0-test\n" + "@@GUPCHECK RUN c01 case\n" * 200],  # one read, READY first
        ["boot noise @@GUPCH", "ECK READY 6.1.0-test\n", "more\n"],  # READY split over reads
    ],
)
def test_the_runner_s_ready_line_is_seen_wherever_the_reads_cut_the_console(writes: list[str]) -> None:
    """A busy host hands the console over in large chunks: READY followed by much more output in one
    read must count, as must a READY cut in two."""
    from gupcheck.validate.qemu import run_qemu

    script = (
        "import sys, time\n"
        f"for part in {writes!r}:\n"
        "    sys.stdout.write(part); sys.stdout.flush(); time.sleep(0.3)\n"
    )
    console, _, outcome, ready = run_qemu([sys.executable, "-c", script], timeout=30, idle_timeout=30)
    assert outcome == "powered off" and ready, console[:200]
