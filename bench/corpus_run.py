#!/usr/bin/env python3
"""gupcheck over real code, in batches, with nothing lost (run by hand; never a timed test).

    .venv/bin/python bench/corpus_run.py [--batch 100] [-j 2] [--limit N] [--extra DIR ...] [--keep DIR]

Runs gupcheck with Debian's kernel headers (`--kernel-dir`) over every `.c` file under `drivers/` of
Debian's linux-source-6.1 that uses a pin, uaccess or mmap API (extracted into
.cache/linux-source-6.1-drivers/ when missing), then over each `--extra` folder (a module folder of the
development corpus, one run each), and records for every run: exit status, wall time, the rule stage's
time, the peak memory of the main process and of the largest worker, files analysed, crashed, timed
out or refused, parse errors, and any Python traceback. It prints one row per run and the totals, and
exits 1 when a run crashed, timed out, printed a traceback, or went past the targets (2 GB a process,
60 s of rules a batch).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / ".cache" / "linux-source-6.1-drivers"
TARBALL = "/usr/src/linux-source-6.1.tar.xz"
API = re.compile(
    rb"get_user_pages|pin_user_pages|remap_pfn_range|vm_insert_page|vmf_insert_p|remap_vmalloc_range"
    rb"|dma_mmap_coherent|vm_operations_struct|copy_from_user|copy_to_user|\bget_user\(|\bput_user\("
    rb"|access_ok\(|memdup_user"
)
MEMORY_TARGET_MIB = 2048
RULES_TARGET_S = 60.0
STAT = re.compile(
    r"gupcheck: stats: (link and rules|peak worker memory|peak memory of the main process): ([0-9.]+)"
)


@dataclass
class Run:
    name: str
    files: int
    status: int = 0
    seconds: float = 0.0
    rules_seconds: float = 0.0
    main_mib: float = 0.0
    worker_mib: float = 0.0
    analysed: int = 0
    crashed: int = 0
    timed_out: int = 0
    refused: int = 0  # files named in a fatal error line for another reason
    parse_errors: int = 0
    traceback: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No crash, timeout or traceback, within the targets, and a documented exit status (2 when
        every file parsed with errors, as modules whose own include folder is not given do)."""
        return (
            self.status in (0, 1, 2, 3)
            and not self.crashed
            and not self.timed_out
            and not self.traceback
            and max(self.main_mib, self.worker_mib) <= MEMORY_TARGET_MIB
            and self.rules_seconds <= RULES_TARGET_S
        )


def kernel_tree() -> str:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees:
        sys.exit("corpus_run: no /usr/src/linux-headers-*-amd64 (scripts/setup-kernel.sh installs them)")
    return trees[-1]


def driver_files(limit: int | None) -> list[str]:
    if not (SOURCE / "drivers").is_dir():
        print(f"corpus_run: extracting drivers/ of {TARBALL} into {SOURCE}", file=sys.stderr)
        SOURCE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["tar", "-xJf", TARBALL, "-C", str(SOURCE), "--strip-components=1", "linux-source-6.1/drivers"],
            check=True,
        )
    chosen = []
    for path in sorted(glob.glob(str(SOURCE / "drivers" / "**" / "*.c"), recursive=True)):
        with open(path, "rb") as handle:
            if API.search(handle.read()):
                chosen.append(path)
    return chosen[:limit] if limit else chosen


def run_gupcheck(name: str, paths: list[str], files: int, options: argparse.Namespace, work: Path) -> Run:
    report = work / f"{name.replace('/', '_')}.json"
    argv = [
        sys.executable, "-m", "gupcheck", "check", *paths, "--kernel-dir", options.kernel_dir,
        "-j", str(options.jobs), "--timeout", str(options.timeout), "--cache-dir", str(work / "cache"),
        "--stats", "--format", "json", "-o", str(report),
    ]  # fmt: skip
    run = Run(name, files)
    started = time.perf_counter()
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, cwd=ROOT, timeout=options.timeout * 4 + 600
        )
        run.status, err = done.returncode, done.stderr
    except subprocess.TimeoutExpired as expired:
        run.status, err = -1, (expired.stderr or b"").decode() if isinstance(expired.stderr, bytes) else ""
        run.problems.append("the whole run timed out")
    run.seconds = time.perf_counter() - started
    run.traceback = "Traceback (most recent call last)" in err
    for what, value in STAT.findall(err):
        if what == "link and rules":
            run.rules_seconds = float(value)
        elif what == "peak worker memory":
            run.worker_mib = float(value)
        else:
            run.main_mib = float(value)
    for line in err.splitlines():
        if line.startswith("gupcheck: error:"):
            if "crashed" in line:
                run.crashed += 1
            elif "took longer than" in line:
                run.timed_out += 1
            else:
                run.refused += 1
            run.problems.append(line)
        elif "parsed with" in line and "error(s)" in line:
            run.parse_errors += 1
    try:
        run.analysed = json.loads(report.read_text()).get("filesAnalysed", 0)
    except (OSError, ValueError):
        run.analysed = 0
    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=100, help="files a run (default 100)")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a file (default 300)")
    parser.add_argument("--limit", type=int, help="only the first N driver files")
    parser.add_argument("--extra", nargs="*", default=[], help="more folders, one run each")
    parser.add_argument("--kernel-dir", default=None)
    parser.add_argument("--keep", type=Path, help="keep reports and the cache here")
    options = parser.parse_args()
    options.kernel_dir = options.kernel_dir or kernel_tree()
    work = options.keep or Path(tempfile.mkdtemp(prefix="gupcheck-corpus-"))
    work.mkdir(parents=True, exist_ok=True)

    files = driver_files(options.limit)
    print(f"corpus_run: {len(files)} files of drivers/ use a pin, uaccess or mmap API")
    print(f"corpus_run: headers {options.kernel_dir}")
    runs: list[Run] = []
    columns = ("files", "exit", "wall s", "rules s", "main MiB", "worker MiB", "crash", "t/out", "other",
               "parse err", "tb")  # fmt: skip
    print(f"{'run':34} " + " ".join(columns))
    batches = [
        (f"drivers batch {i // options.batch + 1}", files[i : i + options.batch])
        for i in range(0, len(files), options.batch)
    ]
    batches += [(os.path.relpath(folder, ROOT) if folder.startswith(str(ROOT)) else folder, [folder])
                for folder in options.extra]  # fmt: skip
    started = time.perf_counter()
    for name, paths in batches:
        count = (
            len(paths)
            if name.startswith("drivers batch")
            else sum(1 for _ in glob.iglob(os.path.join(paths[0], "**", "*.c"), recursive=True))
        )
        run = run_gupcheck(name, paths, count, options, work)
        runs.append(run)
        print(
            f"{run.name[:34]:34} {run.files:5} {run.status:4} {run.seconds:6.1f} {run.rules_seconds:7.2f} "
            f"{run.main_mib:8.0f} {run.worker_mib:10.0f} {run.crashed:5} {run.timed_out:5} {run.refused:5} "
            f"{run.parse_errors:9} {'yes' if run.traceback else '-':>2}",
            flush=True,
        )
    total = time.perf_counter() - started
    analysed = sum(run.analysed for run in runs)
    print(
        f"\n{len(runs)} runs, {sum(run.files for run in runs)} files, {analysed} analysed in {total:.0f} s "
        f"({analysed / max(total, 1e-9):.2f} files/s); crashed {sum(r.crashed for r in runs)}, timed out "
        f"{sum(r.timed_out for r in runs)}, tracebacks {sum(r.traceback for r in runs)}, other errors "
        f"{sum(r.refused for r in runs)}, files with parse errors {sum(r.parse_errors for r in runs)}; "
        f"peak main process {max((r.main_mib for r in runs), default=0):.0f} MiB, peak worker "
        f"{max((r.worker_mib for r in runs), default=0):.0f} MiB, slowest rule stage "
        f"{max((r.rules_seconds for r in runs), default=0):.1f} s"
    )
    for run in runs:
        for problem in run.problems:
            print(f"  {run.name}: {problem}")
    sys.exit(0 if all(run.ok for run in runs) else 1)


if __name__ == "__main__":
    main()
