"""What gupcheck prints besides findings: the progress bar, --stats, -q."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

from gupcheck.cli.console import ProgressBar

REPO = Path(__file__).resolve().parent.parent


def test_progress_bar_draws_in_place_and_clears_itself() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, min_files=3)
    for done in range(5):
        bar(done, 4)
    drawn = stream.getvalue()
    assert drawn.startswith("\r[") and "4/4 files" in drawn and "files/s" in drawn
    bar.finish()
    assert stream.getvalue().endswith("\r\033[K")


def test_progress_bar_stays_silent_for_a_few_files() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, min_files=20)
    bar(1, 2)
    bar.finish()
    assert stream.getvalue() == ""


def test_progress_on_a_terminal_only(tmp_path: Path) -> None:
    """Over many files, stderr on a pty shows the bar; redirected stderr never does."""
    command = [
        sys.executable,
        "-m",
        "gupcheck",
        "--kernel-model",
        "--no-cache",
        "-j2",
        "--format",
        "json",
        "-o",
        str(tmp_path / "out.json"),
        "testdata",
    ]
    piped = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert "files/s" not in piped.stderr
    leader, follower = pty.openpty()
    run = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    run.wait(timeout=600)
    os.close(leader)
    assert b"files/s" in seen and b"\r[" in seen


def test_stats_and_quiet(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "gupcheck",
        "--kernel-model",
        "--cache-dir",
        str(tmp_path),
        "--stats",
        "testdata/example",
    ]
    cold = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert "gupcheck: stats: 1 file: 1 parsed" in cold.stderr
    assert "demo_dev.c: kernel-model," in cold.stderr and "link and rules:" in cold.stderr
    warm = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert "1 from the cache" in warm.stderr and "demo_dev.c: kernel-model, cached" in warm.stderr
    quiet = subprocess.run(
        [*command[:-2], "-q", "testdata/example"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert quiet.returncode == 1 and quiet.stderr == ""
    assert "[GUP005]" in quiet.stdout
