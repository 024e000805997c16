#!/usr/bin/env python3
"""gupcheck against the compiler's own parse on 12 real Linux 6.1 drivers (run by hand, or in CI as a
report; never a timed test).

    .venv/bin/python bench/bench.py [--rounds N] [--keep DIR]

Needs Debian's linux-headers-amd64 and linux-source-6.1 (scripts/setup-kernel.sh installs both and
extracts the drivers), clang and Coccinelle (installed with apt-get when missing and run as root).

Each round times, one after the other (so a busy machine slows all of them alike):
  clang      `clang -fsyntax-only` on each file in turn, with the flags gupcheck uses;
  cold -j1   gupcheck with an empty cache directory (facts and precompiled header built), one worker;
  cold -j2   the same with two workers;
  pch -j2    empty fact cache, but the precompiled header of an earlier run kept (a developer's
             second driver on the same kernel tree);
  warm       gupcheck again on the cache of the cold -j2 run;
  spatch     Coccinelle matching the pin calls in the same files, without headers.
It prints the median of each, the ratios the issue sets targets for, and the peak memory of the
largest gupcheck worker (from --stats).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / ".cache" / "linux-source-6.1"
DRIVERS = [
    "drivers/infiniband/core/umem.c",
    "drivers/vfio/vfio_iommu_type1.c",
    "drivers/media/common/videobuf2/frame_vector.c",
    "drivers/misc/genwqe/card_utils.c",
    "drivers/fpga/dfl-afu-dma-region.c",
    "drivers/misc/habanalabs/common/memory.c",
    "drivers/virt/acrn/mm.c",
    "drivers/platform/goldfish/goldfish_pipe.c",
    "drivers/xen/privcmd.c",
    "drivers/tee/tee_shm.c",
    "drivers/vhost/vhost.c",
    "drivers/gpu/drm/i915/gem/i915_gem_userptr.c",
]
# What each driver's own Makefile adds to Kbuild's flags (subdir-ccflags-y += -I$(srctree)/$(src)).
OWN_FLAGS = {"drivers/gpu/drm/i915/gem/i915_gem_userptr.c": ["-I", str(SOURCE / "drivers/gpu/drm/i915")]}

# The pin calls, as Coccinelle sees them without headers.
PIN_CALLS = """\
@pin@
expression list args;
identifier f = {get_user_pages, get_user_pages_fast, get_user_pages_unlocked, get_user_pages_remote,
                pin_user_pages, pin_user_pages_fast, pin_user_pages_unlocked, pin_user_pages_remote};
position p;
@@
f@p(args)

@script:python@
p << pin.p;
f << pin.f;
@@
print("%s:%s: %s" % (p[0].file, p[0].line, f))
"""


def ensure_tools() -> tuple[str, str | None]:
    """clang and spatch, installed with apt-get when missing (as root)."""
    missing = [
        package for tool, package in (("clang", "clang"), ("spatch", "coccinelle")) if not shutil.which(tool)
    ]
    if missing and os.geteuid() == 0:
        print(f"bench: installing {' '.join(missing)} with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=600", *missing],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    clang = shutil.which("clang")
    if clang is None:
        sys.exit("bench: clang is needed (apt-get install clang)")
    return clang, shutil.which("spatch")


def kernel_tree() -> str:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees or not all((SOURCE / d).exists() for d in DRIVERS):
        subprocess.run(["sh", str(ROOT / "scripts" / "setup-kernel.sh")], check=True)
        trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    return trees[-1]


def compile_database(tree: str, work: Path) -> tuple[Path, dict[str, list[str]]]:
    """compile_commands.json with gupcheck's flags for Debian's tree plus each driver's own: the flags
    clang gets too."""
    sys.path.insert(0, str(ROOT))
    from gupcheck.frontend.buildconfig import BuildConfig  # the installed gupcheck (pip install -e .)

    config = BuildConfig(kernel_dir=tree)
    flags: dict[str, list[str]] = {}
    entries = []
    for name in DRIVERS:
        path = str(SOURCE / name)
        flags[path] = [*config.config_for(path).args, *OWN_FLAGS.get(name, [])]
        entries.append(
            {
                "directory": os.path.dirname(path),
                "file": path,
                "arguments": ["clang", *flags[path], "-c", path, "-o", "/dev/null"],
            }
        )
    database = work / "compile_commands.json"
    database.write_text(json.dumps(entries, indent=1))
    return database, flags


def timed(argv: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    return time.perf_counter() - started, done


def run_clang(clang: str, flags: dict[str, list[str]]) -> float:
    total = 0.0
    for path, args in flags.items():
        seconds, done = timed([clang, "-fsyntax-only", *args, path])
        if done.returncode != 0:
            first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr[:200])
            print(f"bench: clang failed on {path}: {first}", file=sys.stderr)
        total += seconds
    return total


STAGE_RE = re.compile(r"gupcheck: stats: (discover and configure|facts|link and rules): ([0-9.]+) s")


def run_gupcheck(
    database: Path, cache: Path, jobs: int, stages: dict[str, list[float]] | None = None
) -> tuple[float, float | None, str]:
    """(seconds, peak worker MiB, SARIF) of one gupcheck run; the seconds of its stages (from
    --stats) are added to `stages` when given."""
    out = cache.parent / f"{cache.name}-j{jobs}.sarif"
    argv = [
        sys.executable,
        "-m",
        "gupcheck",
        "check",
        *[str(SOURCE / d) for d in DRIVERS],
        "-p",
        str(database),
        "--cache-dir",
        str(cache),
        "-j",
        str(jobs),
        "--stats",
        "--format",
        "sarif",
        "-o",
        str(out),
        "--source-root",
        str(SOURCE),
    ]
    # As an installed gupcheck runs: with its bytecode written (pip compiles it at install time); a
    # PYTHONDONTWRITEBYTECODE=1 in the environment would recompile every module on every run.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    seconds, done = timed(argv, cwd=ROOT, env=env)
    if done.returncode not in (0, 1):
        sys.exit(f"bench: gupcheck failed ({done.returncode}):\n{done.stderr}")
    for stage, stage_seconds in STAGE_RE.findall(done.stderr):
        if stages is not None:
            stages.setdefault(stage, []).append(float(stage_seconds))
    memory = re.search(r"peak worker memory: (\d+) MiB", done.stderr)
    return seconds, float(memory.group(1)) if memory else None, out.read_text()


def run_spatch(spatch: str, work: Path) -> float:
    rule = work / "pin-calls.cocci"
    rule.write_text(PIN_CALLS)
    seconds, done = timed(
        [spatch, "--very-quiet", "--no-includes", "--sp-file", str(rule), *[str(SOURCE / d) for d in DRIVERS]]
    )
    if done.returncode != 0:
        print(f"bench: spatch failed: {done.stderr[:300]}", file=sys.stderr)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of all measures (default 5)")
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: a temporary one)")
    options = parser.parse_args()

    clang, spatch = ensure_tools()
    tree = kernel_tree()
    work = Path(options.keep or tempfile.mkdtemp(prefix="gupcheck-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    database, flags = compile_database(tree, work)
    env_note = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    print(f"bench: {len(DRIVERS)} drivers of linux-source-6.1, headers {tree}, {env_note}", file=sys.stderr)

    times: dict[str, list[float]] = {
        name: [] for name in ("clang", "cold -j1", "cold -j2", "pch -j2", "warm", "spatch")
    }
    memory: list[float] = []
    stages: dict[str, list[float]] = {}  # of the cold -j2 runs
    sarifs: set[str] = set()
    run_clang(clang, flags)  # once untimed: headers into the page cache
    for round_number in range(options.rounds):
        times["clang"].append(run_clang(clang, flags))
        for jobs in (1, 2):
            cache = work / f"cold-{round_number}-j{jobs}"
            shutil.rmtree(cache, ignore_errors=True)
            seconds, peak, sarif = run_gupcheck(database, cache, jobs, stages if jobs == 2 else None)
            times[f"cold -j{jobs}"].append(seconds)
            sarifs.add(sarif)
            if peak is not None:
                memory.append(peak)
        kept = work / f"pch-{round_number}"
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(work / f"cold-{round_number}-j2" / "pch", kept / "pch")
        seconds, peak, sarif = run_gupcheck(database, kept, 2)
        times["pch -j2"].append(seconds)
        sarifs.add(sarif)
        seconds, _, sarif = run_gupcheck(database, work / f"cold-{round_number}-j2", 2)
        times["warm"].append(seconds)
        sarifs.add(sarif)
        if spatch:
            times["spatch"].append(run_spatch(spatch, work))
        print(
            f"bench: round {round_number + 1}/{options.rounds}: "
            + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in times.items() if values),
            file=sys.stderr,
        )

    median = {name: statistics.median(values) for name, values in times.items() if values}
    print(f"\n{len(DRIVERS)} real drivers, median of {options.rounds} rounds (wall seconds):")
    for name, value in median.items():
        print(f"  {name:10s} {value:7.2f}")
    if stages:
        print(
            "  cold -j2 by stage: "
            + ", ".join(f"{stage} {statistics.median(values):.2f}" for stage, values in stages.items())
            + " (the rest: interpreter start-up, imports and output)"
        )
    print("ratios:")
    print(f"  cold -j2 / clang   {median['cold -j2'] / median['clang']:.2f}   (target <= 0.35)")
    print(f"  cold -j1 / clang   {median['cold -j1'] / median['clang']:.2f}")
    print(f"  pch -j2 / clang    {median['pch -j2'] / median['clang']:.2f}")
    print(f"  warm / cold -j2    {median['warm'] / median['cold -j2']:.3f}  (target <= 0.05)")
    if "spatch" in median:
        print(f"  spatch / clang     {median['spatch'] / median['clang']:.2f}")
    if memory:
        print(f"peak memory of a gupcheck worker: {max(memory):.0f} MiB (target <= 300 MB)")
    print(f"SARIF identical across all gupcheck runs: {'yes' if len(sarifs) == 1 else 'NO'}")
    if not options.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
