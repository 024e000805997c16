"""Faults from outside the analysis: files that change under it, parsers that crash or grow, a parent
that is killed or interrupted, outputs that cannot be written, odd file names and options. Each run
ends with a report, one line per problem and a documented exit status, never a traceback or a
process left behind."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gupcheck.frontend.buildconfig import BuildConfig
from gupcheck.pipeline import workers
from gupcheck.pipeline.engine import analyse
from gupcheck.pipeline.workers import FactJob, compute_facts
from gupcheck.rules import ALL_RULES

REPO = Path(__file__).resolve().parent.parent
CASE = REPO / "testdata" / "gup005" / "ignored-copy-result"

SMALL_DRIVER = """
#include <linux/module.h>
#include <linux/fs.h>
#include <linux/uaccess.h>

static long {name}(struct file *file, unsigned int cmd, unsigned long arg)
{{
	long value;

	copy_from_user(&value, (void __user *)arg, sizeof(value));
	return value;
}}

static const struct file_operations f_fops = {{ .unlocked_ioctl = {name} }};
MODULE_LICENSE("GPL");
"""


def gupcheck(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gupcheck", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def processes_running(marker: str) -> list[int]:
    """Processes whose command line mentions `marker` (a path only one test uses)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        if marker.encode() in command:
            found.append(int(entry))
    return found


def test_a_file_is_parsed_from_the_bytes_that_were_read_and_hashed(tmp_path: Path) -> None:
    path = write(tmp_path / "drv.c", SMALL_DRIVER.format(name="read_first"))
    config = BuildConfig(use_model=True).config_for(str(path))
    job = FactJob(config, path.read_bytes())
    write(path, SMALL_DRIVER.format(name="changed_since"))  # the file changes after it was read
    unit = compute_facts(job).unit
    assert unit is not None and [fn.name for fn in unit.functions] == ["read_first"]


def test_a_parser_crash_on_a_single_file_is_one_line_and_the_run_ends(monkeypatch, tmp_path: Path) -> None:
    """A single file is parsed in a worker like any other, so a crash of libclang costs that file."""
    path = write(tmp_path / "drv.c", SMALL_DRIVER.format(name="crashes"))
    real = workers.compute_facts
    monkeypatch.setattr(
        workers, "compute_facts", lambda job: os.kill(os.getpid(), signal.SIGSEGV) or real(job)
    )
    analysis = analyse([str(path)], ALL_RULES, use_model=True, jobs=1)
    ((problem_path, message),) = [(p.path, p.message) for p in analysis.problems]
    assert problem_path == str(path) and "crashed (killed by SIGSEGV)" in message
    assert analysis.units == []


def test_a_parse_past_the_memory_limit_costs_its_file(monkeypatch, tmp_path: Path) -> None:
    path = write(tmp_path / "drv.c", SMALL_DRIVER.format(name="greedy"))
    real = workers.compute_facts

    def greedy(job: FactJob):
        bytearray(600 * 1024 * 1024)  # more than the 512 MiB the worker may use
        return real(job)

    monkeypatch.setattr(workers, "compute_facts", greedy)
    analysis = analyse([str(path)], ALL_RULES, use_model=True, jobs=1, max_memory=512)
    assert [p.message for p in analysis.problems] == ["the parse needed more than 512 MiB; file skipped"]


def slow_tree(tmp_path: Path, files: int) -> Path:
    """Files whose analysis takes a while (200 000 statements on one line), not much memory."""
    folder = tmp_path / "slow-tree"
    folder.mkdir()
    for index in range(files):
        write(
            folder / f"slow{index}.c",
            f"long slow{index}(long x)\n{{\n\t{'x++; ' * 200_000}\n\treturn x;\n}}\n",
        )
    return folder


def test_workers_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    """SIGKILL to gupcheck (as a CI job's cancellation may send) leaves no parser running."""
    folder = slow_tree(tmp_path, 2)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gupcheck",
            "--kernel-model",
            "--no-cache",
            "-j2",
            "--timeout",
            "600",
            str(folder),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while len(processes_running(str(folder))) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)  # the parent and its two workers
    assert len(processes_running(str(folder))) >= 3
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while processes_running(str(folder)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_running(str(folder)) == []


def test_an_interrupted_run_exits_130_leaves_no_worker_and_no_report(tmp_path: Path) -> None:
    folder = slow_tree(tmp_path, 1)
    report = tmp_path / "report.sarif"
    command = ["--kernel-model", "--no-cache", "--format", "sarif", "-o", str(report), str(folder)]
    process = subprocess.Popen(
        [sys.executable, "-m", "gupcheck", *command],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(processes_running(str(folder))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not report.exists()
    time.sleep(0.5)
    assert processes_running(str(folder)) == []


def test_a_report_that_cannot_be_written_is_refused_before_the_analysis(tmp_path: Path) -> None:
    done = gupcheck(
        "--kernel-model", "--no-cache", "-o", str(tmp_path / "missing" / "r.sarif"), str(CASE), cwd=tmp_path
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"gupcheck: error: {tmp_path / 'missing' / 'r.sarif'}: cannot write report: no such folder "
        f"{tmp_path / 'missing'}"
    ]


def test_a_report_is_replaced_whole(tmp_path: Path) -> None:
    report = tmp_path / "r.sarif"
    report.write_text("the previous report\n")
    done = gupcheck(
        "--kernel-model", "--no-cache", "--format", "sarif", "-o", str(report), str(CASE), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert report.read_text().startswith("{") and oct(report.stat().st_mode & 0o777) != oct(0o600)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gupcheck-report-")] == []


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0"])
def test_a_timeout_must_be_finite_and_positive(tmp_path: Path, value: str) -> None:
    done = gupcheck("--timeout", value, str(CASE), cwd=tmp_path)
    assert done.returncode == 2
    assert "is not a finite positive number of seconds" in done.stderr and "Traceback" not in done.stderr


def test_a_baseline_with_odd_fingerprints_is_read_without_a_traceback(tmp_path: Path) -> None:
    baseline = tmp_path / "old.sarif"
    baseline.write_text('{"runs": [{"results": [{"partialFingerprints": ["not", "an", "object"]}]}]}')
    done = gupcheck("--kernel-model", "--no-cache", "--baseline", str(baseline), str(CASE), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr


def test_a_file_swapped_for_a_fifo_after_discovery_does_not_hang(monkeypatch, tmp_path: Path) -> None:
    path = write(tmp_path / "drv.c", SMALL_DRIVER.format(name="swapped"))
    from gupcheck.pipeline import engine

    real = engine.discover_sources

    def discover_then_swap(paths):
        found = real(paths)
        path.unlink()
        os.mkfifo(path)
        return found

    monkeypatch.setattr(engine, "discover_sources", discover_then_swap)
    analysis = analyse([str(tmp_path)], ALL_RULES, use_model=True, jobs=1)
    assert [p.message for p in analysis.problems] == [
        "cannot read file: not a regular file (a FIFO, device or socket)"
    ]


def test_a_file_removed_after_discovery_is_named_and_the_others_analysed(monkeypatch, tmp_path: Path) -> None:
    kept = write(tmp_path / "kept.c", SMALL_DRIVER.format(name="kept"))
    gone = write(tmp_path / "gone.c", SMALL_DRIVER.format(name="gone"))
    from gupcheck.pipeline import engine

    real = engine.discover_sources

    def discover_then_remove(paths):
        found = real(paths)
        gone.unlink()
        return found

    monkeypatch.setattr(engine, "discover_sources", discover_then_remove)
    analysis = analyse([str(tmp_path)], ALL_RULES, use_model=True, jobs=1)
    assert [(Path(p.path).name, p.fatal) for p in analysis.problems] == [("gone.c", True)]
    assert "cannot read file" in analysis.problems[0].message
    assert [unit.path for unit in analysis.units] == [str(kept)]
    assert analysis.incomplete


def test_a_file_name_that_is_not_utf8_is_analysed_and_reported_in_every_format(tmp_path: Path) -> None:
    source = next(CASE.glob("*.c"))
    name = os.fsdecode(b"drv\xff.c")
    (tmp_path / name).write_bytes(source.read_bytes())
    for output_format in ("text", "json", "sarif"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gupcheck",
                "--kernel-model",
                "--no-cache",
                "--format",
                output_format,
                ".",
            ],
            capture_output=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 1, done.stderr
        assert b"Traceback" not in done.stderr
        assert "drv\ufffd.c" in done.stdout.decode("utf-8") or "drv%FF.c" in done.stdout.decode("utf-8")


# -- a cache that cannot be written -----------------------------------------------------------------


@contextlib.contextmanager
def small_filesystem(mount_point: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A real filesystem of `size` (tmpfs) at `mount_point`, read-only if asked, with an empty
    `cache` folder made before; skipped where this user cannot mount."""
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (mount_point / "cache").mkdir()
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
        yield mount_point / "cache"
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def kernel_headers() -> str:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees:
        pytest.skip("Debian's linux-headers-amd64 is not installed (make test installs it)")
    return trees[-1]


def some_drivers(tmp_path: Path, count: int) -> list[Path]:
    folder = tmp_path / "drivers"
    folder.mkdir()
    return [write(folder / f"drv{i}.c", SMALL_DRIVER.format(name=f"drv{i}_ioctl")) for i in range(count)]


@pytest.mark.parametrize("count", [1, 4], ids=["single-file", "several-files"])
def test_a_cache_on_a_full_filesystem_gives_one_warning_and_the_same_report(
    tmp_path: Path, count: int
) -> None:
    tree = kernel_headers()
    files = some_drivers(tmp_path, count)
    common = ["--kernel-dir", tree, "-j", "2", "--format", "json", *map(str, files)]
    plain = gupcheck("--no-cache", *common, cwd=tmp_path, timeout=600)
    with small_filesystem(tmp_path / "full", "256k") as cache:  # room for a few facts, not the PCH
        full = gupcheck("--cache-dir", str(cache), *common, cwd=tmp_path, timeout=600)
        leftovers = [p.name for p in cache.rglob("*") if p.name.startswith(".tmp")]
    assert full.returncode == plain.returncode == 1, full.stderr
    assert json.loads(full.stdout)["findings"] == json.loads(plain.stdout)["findings"]
    assert json.loads(full.stdout)["filesAnalysed"] == count
    assert "Traceback" not in full.stderr and "crashed" not in full.stderr
    warnings = [line for line in full.stderr.splitlines() if "No space left on device" in line]
    assert warnings and len(warnings) == len(set(warnings)) <= 2  # the facts, the shared header: once each
    assert leftovers == []  # no partial entry or header left behind


def test_a_read_only_cache_gives_one_warning_and_the_same_report(tmp_path: Path) -> None:
    files = some_drivers(tmp_path, 3)
    common = ["--kernel-model", "-j", "2", "--format", "json", *map(str, files)]
    plain = gupcheck("--no-cache", *common, cwd=tmp_path)
    with small_filesystem(tmp_path / "ro", "1m", read_only=True) as cache:
        read_only = gupcheck("--cache-dir", str(cache), *common, cwd=tmp_path)
    assert read_only.returncode == plain.returncode == 1
    assert json.loads(read_only.stdout)["findings"] == json.loads(plain.stdout)["findings"]
    warnings = [line for line in read_only.stderr.splitlines() if "Read-only file system" in line]
    assert len(warnings) == 1 and str(cache) in warnings[0], read_only.stderr


# -- code deeper than a walk can follow --------------------------------------------------------------


def test_deep_code_costs_only_the_function_too_deep_to_walk(tmp_path: Path) -> None:
    """A 20 000-term sum (which once overflowed libclang's 8 MiB parse stack: SIGSEGV), a 5000-term
    `&&` chain, 3000 `else if`s and a 600-step member chain (which once raised RecursionError) next to
    a driver whose pin leaks: the driver's finding comes out, and only the function too deep for the
    walk is named, as partly analysed."""
    terms = " + ".join(f"v[{i % 8}]" for i in range(20000))
    tests = " && ".join(f"v[{i % 8}] != {i}" for i in range(5000))
    ladder = "\n".join(
        ("\tif" if i == 0 else "\telse if") + f" (x == {i})\n\t\treturn {i};" for i in range(3000)
    )
    members = "s" + "->next" * 600
    source = (
        "#include <linux/module.h>\n#include <linux/fs.h>\n#include <linux/mm.h>\n"
        "struct node { struct node *next; long v; };\n"
        f"static long huge_sum(long *v) {{ return {terms}; }}\n"
        f"static int long_test(long *v) {{ return {tests}; }}\n"
        f"static long ladder(long x)\n{{\n{ladder}\n\treturn -1;\n}}\n"
        f"static long walk(struct node *s) {{ return {members}->v; }}\n"
        + textwrap.dedent(
            """\
            static long deep_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
            {
                struct page *page;
                long got = get_user_pages_fast(arg, 1, FOLL_WRITE, &page);
                if (got != 1)
                    return -EFAULT;
                if (cmd == 7)
                    return -EINVAL;
                put_page(page);
                return 0;
            }
            static const struct file_operations deep_fops = { .unlocked_ioctl = deep_ioctl };
            MODULE_LICENSE("GPL");
            """
        )
    )
    path = tmp_path / "deep.c"
    path.write_text(source)
    done = gupcheck("--kernel-model", "--no-cache", "--format", "json", str(path), cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stderr
    [finding] = json.loads(done.stdout)["findings"]
    assert finding["ruleId"] == "GUP001" and finding["function"] == "deep_ioctl"
    [partly] = [line for line in done.stderr.splitlines() if "partly analysed" in line]
    assert "huge_sum()" in partly
    assert not any(name in partly for name in ("long_test", "ladder", "walk"))
