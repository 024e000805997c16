"""Building what the guest runs, in a scratch folder (the case folders are only read).

* Kernel modules: the case folders' sources are copied into one external-module tree per kernel
  (`cNN/` per case, `probe/` for gupprobe) and built with one `make -C <build tree> M=<tree>`.
  Kbuild stops producing any .ko once one object fails, so failing cases are dropped from the
  tree and the build is repeated (the objects already built are kept).
* Programs: each case's repro program, and the guest runner, with `gcc -static`, once for all
  kernels.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gupcheck.validate.cases import REPRO_DIR, Case
from gupcheck.validate.kernels import Kernel

GUEST_DIR = Path(__file__).resolve().parent / "guest"
PROBE_MODULE = "gupprobe"
_SOURCE_SUFFIXES = (".c", ".h", ".S")
_BUILD_FILES = ("Kbuild", "Makefile")
_ERROR_LINE = re.compile(r"(?:error|Error|undefined)")
MAKE_TIMEOUT = 900
GCC_TIMEOUT = 300


class ToolError(Exception):
    """A host tool the validation needs is missing or unusable; str() is one line."""


@dataclass
class Built:
    """What a build produced: the output file(s), or the reason there are none."""

    files: list[Path] = field(default_factory=list)
    error: str | None = None


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if not path:
        raise ToolError(f"{name} not found (install {package}, see scripts/setup-qemu.sh)")
    return path


def is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a program interpreter (statically linked)."""
    try:
        with open(path, "rb") as binary:
            header = binary.read(64)
            if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit only
                return False
            endian = "<" if header[5] == 1 else ">"
            (phoff,) = struct.unpack_from(endian + "Q", header, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", header, 54)
            binary.seek(phoff)
            table = binary.read(phentsize * phnum)
    except OSError:
        return False
    pt_interp = 3
    return all(struct.unpack_from(endian + "I", table, i * phentsize)[0] != pt_interp for i in range(phnum))


def find_busybox() -> Path:
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and Path(candidate).is_file() and is_static_elf(Path(candidate)):
            return Path(candidate)
    raise ToolError("no statically linked busybox (install busybox-static, see scripts/setup-qemu.sh)")


def first_error(output: str, limit: int = 240) -> str:
    """The first line of compiler or make output that names an error."""
    for line in output.splitlines():
        if _ERROR_LINE.search(line) and "warning" not in line:
            return line.strip()[:limit]
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[:limit]


def _run(argv: list[str], cwd: Path | None, timeout: int) -> tuple[int, str]:
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return -1, f"{argv[0]} timed out after {timeout} s"
    except OSError as error:
        return -1, f"{argv[0]}: {error.strerror or error}"
    return done.returncode, done.stdout + done.stderr


def build_program(sources: list[Path], includes: list[Path], output: Path) -> Built:
    gcc = require_tool("gcc", "gcc and libc6-dev")
    output.parent.mkdir(parents=True, exist_ok=True)
    argv = [gcc, "-static", "-pthread", "-O2", "-Wall", "-o", str(output)]
    argv += [f"-I{include}" for include in includes]
    argv += [str(source) for source in sources]
    code, text = _run(argv, output.parent, GCC_TIMEOUT)
    if code != 0 or not output.is_file():
        return Built(error=f"program does not build: {first_error(text)}")
    return Built([output])


def build_programs(cases: dict[str, Case], into: Path, jobs: int) -> tuple[dict[str, Built], Built]:
    """Each case's repro program (keyed like `cases`) and the guest runner."""

    def one(item: tuple[str, Case]) -> tuple[str, Built]:
        case_id, case = item
        if case.program is None:
            return case_id, Built()
        sources = [case.program, *case.link]
        return case_id, build_program(sources, [case.path, GUEST_DIR], into / case_id / case.program_name)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        programs = dict(pool.map(one, cases.items()))
    runner = build_program([GUEST_DIR / "runner.c"], [GUEST_DIR], into / "gupcheck-runner")
    return programs, runner


def _copy_sources(source: Path, target: Path) -> None:
    """The files a module build needs, without the repro and without anything already built
    (objects of another kernel would look up to date)."""
    target.mkdir(parents=True)
    for entry in sorted(source.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name != REPRO_DIR and not entry.is_symlink():
                _copy_sources(entry, target / entry.name)
        elif entry.is_file() and (entry.suffix in _SOURCE_SUFFIXES or entry.name in _BUILD_FILES):
            if not entry.name.endswith(".mod.c"):
                shutil.copy2(entry, target / entry.name)


def build_modules(
    kernel: Kernel,
    cases: dict[str, Case],
    into: Path,
    jobs: int,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[dict[str, Built], Built]:
    """The cases' modules and the probe for one kernel: ({case id: Built}, probe)."""
    make = require_tool("make", "make")
    into.mkdir(parents=True)
    members: dict[str, list[str]] = {"probe": [PROBE_MODULE]}
    probe_dir = into / "probe"
    probe_dir.mkdir()
    for name in ("gupprobe.c", "gupprobe_uapi.h", "Kbuild"):
        shutil.copy2(GUEST_DIR / name, probe_dir / name)
    for case_id, case in cases.items():
        if case.modules:
            _copy_sources(case.path, into / case_id)
            members[case_id] = list(case.modules)

    failed: dict[str, str] = {}
    while True:
        building = [member for member in members if member not in failed]
        (into / "Kbuild").write_text("".join(f"obj-m += {member}/\n" for member in building))
        progress(f"building {len(building)} module folders for {kernel.version}")
        code, text = _run(
            [make, "-k", f"-j{max(1, jobs)}", "-C", str(kernel.build), f"M={into}", "modules"],
            None,
            MAKE_TIMEOUT,
        )
        if code == 0:
            break
        newly = {}
        for member in building:
            marker = f"{into}/{member}/"
            lines = [line for line in text.splitlines() if marker in line]
            if any(_ERROR_LINE.search(line) and "warning" not in line for line in lines):
                newly[member] = first_error("\n".join(lines).replace(marker, ""))
        if not newly:
            reason = first_error(text)
            for member in building:
                failed[member] = reason
            break
        failed.update(newly)
        if all(member in failed for member in members):
            break

    def result(member: str) -> Built:
        if member in failed:
            return Built(error=f"module does not build for {kernel.version}: {failed[member]}")
        files = [into / member / f"{module}.ko" for module in members[member]]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            return Built(error=f"module build for {kernel.version} produced no {missing[0]}")
        return Built(files)

    return {case_id: result(case_id) for case_id in members if case_id != "probe"}, result("probe")


def cpu_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))
