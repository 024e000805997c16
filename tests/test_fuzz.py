"""Fuzzing: generated inputs (tests/fuzz.py) never make gupcheck crash, hang, lose a file or touch it.

CI runs a small count with a fixed seed; `make fuzz` runs many more (GUPCHECK_FUZZ_COUNT,
GUPCHECK_FUZZ_SEED). For every batch, with the built-in kernel model and, where installed, with
Debian's kernel headers:
- the exit status is 0, 1, 2 or 3 (findings, bad input, analysis incomplete), never a signal or a
  traceback, within a bounded time;
- every file is named in the report: analysed, or in a notification saying why not;
- the report is the same with one worker and with two (and another hash seed);
- no input file is modified.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz  # noqa: E402 - the generators, next to this test

SEED = int(os.environ.get("GUPCHECK_FUZZ_SEED", "20261206"))
COUNT = int(os.environ.get("GUPCHECK_FUZZ_COUNT", str(2 * len(fuzz.MUTATIONS))))
FILE_TIMEOUT = 60  # seconds for one file's parse
KERNEL_TREES = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))


def _digests(paths: list[Path]) -> dict[Path, tuple[str, int]]:
    return {path: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns) for path in paths}


def _run(folder: Path, mode: list[str], jobs: int) -> tuple[subprocess.CompletedProcess, dict]:
    """gupcheck over `folder` with `jobs` workers (and a hash seed of its own: set order must not
    matter either)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "gupcheck",
            *mode,
            "--no-cache",
            "-j",
            str(jobs),
            "--timeout",
            str(FILE_TIMEOUT),
        ]
        + ["--format", "sarif", str(folder)],
        capture_output=True,
        text=True,
        errors="replace",
        cwd=folder,
        timeout=120 + COUNT * FILE_TIMEOUT // max(jobs, 1),
        env={**os.environ, "PYTHONHASHSEED": str(jobs)},
    )
    assert "Traceback (most recent call last)" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in (0, 1, 2, 3), (done.returncode, done.stderr[-3000:])
    return done, json.loads(done.stdout)


def _name(uri: str) -> str:
    """The file name a SARIF artifact URI (absolute, or relative to the source root) ends with."""
    return unquote(urlparse(uri).path).rsplit("/", 1)[-1]


def _named(report: dict) -> tuple[set[str], set[str]]:
    """(names of the files the report lists as analysis targets, of those with an error notification:
    not analysed)"""
    run = report["runs"][0]
    targets = {_name(a["location"]["uri"]) for a in run.get("artifacts", [])}
    refused = set()
    for invocation in run["invocations"]:
        for note in invocation.get("toolExecutionNotifications", []):
            if note["level"] != "error":
                continue
            for location in note.get("locations", []):
                refused.add(_name(location["physicalLocation"]["artifactLocation"]["uri"]))
    return targets, refused


MODES = [pytest.param(["--kernel-model"], id="kernel-model")]
if KERNEL_TREES:
    MODES.append(pytest.param(["--kernel-dir", KERNEL_TREES[-1]], id="kernel-headers"))


@pytest.mark.parametrize("mode", MODES)
def test_generated_inputs_never_crash_hang_lose_or_touch_a_file(tmp_path: Path, mode: list[str]) -> None:
    mutants = fuzz.generate(SEED, COUNT, tmp_path)
    before = _digests(mutants)
    one, report_one = _run(tmp_path, mode, 1)
    two, report_two = _run(tmp_path, mode, 2)
    assert _digests(mutants) == before  # nothing the user gave is modified
    assert sorted(tmp_path.iterdir()) == sorted(mutants)  # and nothing is left next to it
    assert report_one == report_two  # one worker or two: the same report
    assert one.returncode == two.returncode
    targets, refused = _named(report_two)
    for path in mutants:
        assert path.name in targets | refused, f"{path.name} is neither analysed nor named as not analysed"
    if refused:  # a file not analysed is named on standard error too, and the run never exits 0
        assert two.returncode != 0
        for name in refused:
            assert name in two.stderr


def test_the_mutations_differ_from_their_seeds_and_repeat_from_the_seed(tmp_path: Path) -> None:
    batches = []
    for name in ("first", "again"):
        (tmp_path / name).mkdir()
        batches.append([p.read_bytes() for p in fuzz.generate(7, len(fuzz.MUTATIONS), tmp_path / name)])
    assert batches[0] == batches[1]
    originals = {p.read_bytes() for p in fuzz.seeds()}
    assert not originals & set(batches[0])
