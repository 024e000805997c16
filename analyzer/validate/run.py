"""One validation: build everything, boot each kernel once with every case, decide verdicts.

All building happens in one scratch folder, removed at the end whatever happens.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gupcheck.validate.build import (
    PROBE_MODULE,
    Built,
    ToolError,
    build_modules,
    build_programs,
    cpu_jobs,
    find_busybox,
)
from gupcheck.validate.cases import Case
from gupcheck.validate.console import GuestLog, parse_console
from gupcheck.validate.initramfs import build_initramfs
from gupcheck.validate.kernels import Kernel
from gupcheck.validate.qemu import QEMU, boot
from gupcheck.validate.verdicts import UNDECIDED, Verdict, case_verdicts, result_state


@dataclass
class KernelRun:
    kernel: Kernel
    accel: str | None = None
    seconds: float = 0.0
    outcome: str = "not booted"
    notes: list[str] = field(default_factory=list)


@dataclass
class ValidationRun:
    cases: list[Case]
    kernels: list[KernelRun]
    verdicts: list[Verdict]

    @property
    def ok(self) -> bool:
        return bool(self.verdicts) and all(v.good for v in self.verdicts)


def case_ids(cases: list[Case]) -> dict[str, Case]:
    return {f"c{index:02d}": case for index, case in enumerate(cases, start=1)}


def plan_text(cases: dict[str, Case], runnable: list[str], modules: dict[str, Built], probe: Built) -> str:
    """The runner's plan: load everything, run every result, the ones that may oops last (each
    followed by a reload of its case's modules, whose state the oops may have wrecked)."""
    lines = []
    if probe.files:
        lines.append(f"load probe /gupcheck/probe/{PROBE_MODULE}.ko")
    for case_id in runnable:
        kos = modules.get(case_id, Built()).files
        lines += [f"load {case_id} /gupcheck/{case_id}/{ko.name}" for ko in kos]
    ordered = [(case_id, spec) for case_id in runnable for spec in cases[case_id].results if not spec.oops]
    ordered += [(case_id, spec) for case_id in runnable for spec in cases[case_id].results if spec.oops]
    for case_id, spec in ordered:
        program = f"/gupcheck/{case_id}/{cases[case_id].program_name}"
        lines.append(f"run {case_id} {spec.name} {spec.timeout} {program} {spec.name}")
        if spec.oops:
            kos = modules.get(case_id, Built()).files
            lines += [f"unload {case_id} {ko.stem}" for ko in reversed(kos)]
            lines += [f"load {case_id} /gupcheck/{case_id}/{ko.name}" for ko in kos]
    return "\n".join(lines) + "\n"


def _duplicate_modules(cases: dict[str, Case]) -> dict[str, str]:
    """Cases whose module names another case already uses (a name loads once per kernel)."""
    owner: dict[str, str] = {PROBE_MODULE: "gupcheck's probe"}
    clashes = {}
    for case_id, case in cases.items():
        for module in case.modules:
            if module in owner:
                clashes[case_id] = f"module name {module} is also used by {owner[module]}"
            owner.setdefault(module, case.name)
    return clashes


def _load_failures(log: GuestLog, case_id: str) -> str | None:
    failures = [
        f"{module}: {status}"
        for (cid, module), status in log.loads.items()
        if cid == case_id and status != "OK"
    ]
    return f"module load failed ({'; '.join(failures)})" if failures else None


def validate(
    cases: list[Case],
    kernels: list[Kernel],
    accel: str = "auto",
    timeout: float = 900,
    progress: Callable[[str], None] = lambda _: None,
    console_dir: Path | None = None,
) -> ValidationRun:
    """Validates `cases` on each of `kernels`. Raises ToolError when a host tool is missing.
    With `console_dir`, each boot's raw console is kept there as <kernel version>.log."""
    busybox = find_busybox()
    if not shutil.which(QEMU):
        raise ToolError(f"{QEMU} not found (install qemu-system-x86, see scripts/setup-qemu.sh)")
    ids = case_ids(cases)
    clashes = _duplicate_modules(ids)
    jobs = cpu_jobs()
    verdicts: list[Verdict] = []
    runs: list[KernelRun] = []
    scratch = Path(tempfile.mkdtemp(prefix="gupcheck-validate-"))
    try:
        progress(f"building {len(cases)} repro programs")
        programs, runner = build_programs(ids, scratch / "programs", jobs)
        if runner.error:
            raise ToolError(f"the guest runner does not build: {runner.error}")
        for kernel in kernels:
            kernel_run = KernelRun(kernel)
            runs.append(kernel_run)
            work = scratch / kernel.version
            modules, probe = build_modules(
                kernel, {i: c for i, c in ids.items() if i not in clashes}, work / "modules", jobs, progress
            )
            if probe.error:
                kernel_run.notes.append(f"companion probe: {probe.error}")
            setup_errors: dict[str, str] = {}
            for case_id in ids:
                error = (
                    clashes.get(case_id)
                    or programs[case_id].error
                    or (modules[case_id].error if case_id in modules else None)
                )
                if error:
                    setup_errors[case_id] = error
            runnable = [case_id for case_id in ids if case_id not in setup_errors]
            log = GuestLog()
            if runnable:
                payload = {
                    case_id: [*modules.get(case_id, Built()).files, *programs[case_id].files]
                    for case_id in runnable
                }
                if probe.files:
                    payload["probe"] = probe.files
                initramfs = work / "initramfs.cpio"
                build_initramfs(
                    initramfs, busybox, runner.files[0], plan_text(ids, runnable, modules, probe), payload
                )
                progress(f"booting {kernel.version} with {len(runnable)} cases")
                booted = boot(kernel, initramfs, accel, timeout=timeout)
                kernel_run.accel, kernel_run.seconds = booted.accel, booted.seconds
                kernel_run.outcome, kernel_run.notes = booted.outcome, kernel_run.notes + booted.notes
                log = parse_console(booted.console)
                if console_dir is not None:
                    console_dir.mkdir(parents=True, exist_ok=True)
                    (console_dir / f"{kernel.version}.log").write_text(booted.console)
                if not log.done:
                    kernel_run.notes.append(f"the guest did not finish its plan ({booted.outcome})")
            shutil.rmtree(work, ignore_errors=True)
            for case_id, case in ids.items():
                setup = setup_errors.get(case_id)
                states = {}
                for spec in case.results:
                    run = log.runs.get((case_id, spec.name))
                    state = result_state(spec, run, setup, log, kernel_run.outcome)
                    if state[0] == UNDECIDED and run is not None and not run.reports:
                        failed = _load_failures(log, case_id)
                        if failed:
                            state = (UNDECIDED, f"{state[1]}; {failed}")
                    states[spec.name] = state
                verdicts += case_verdicts(case, kernel.version, states)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ValidationRun(cases, runs, verdicts)
