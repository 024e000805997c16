"""What gupcheck shows on the terminal besides findings: a progress bar and `--stats`."""

from __future__ import annotations

import os
import resource
import time
from collections import Counter
from typing import TextIO

from gupcheck.output.text import plural
from gupcheck.pipeline.engine import RunStats

PROGRESS_MIN_FILES = 20  # fewer files finish before a bar is worth drawing


class ProgressBar:
    """`[#######.........]  120/450 files  8.1 files/s` redrawn in place on a terminal."""

    width = 30

    def __init__(self, stream: TextIO, min_files: int = PROGRESS_MIN_FILES) -> None:
        self.stream = stream
        self.min_files = min_files
        self.started = time.monotonic()
        self.drawn = False
        self.last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        if total < self.min_files:
            return
        now = time.monotonic()
        if done < total and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        filled = self.width * done // total
        rate = done / max(now - self.started, 1e-6)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done:>{len(str(total))}}/{total} files  {rate:.1f} files/s")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.drawn = False


def render_stats(stats: RunStats, source_root: str) -> str:
    lines = []
    origins = Counter(entry.origin for entry in stats.files)
    workers = f"{stats.jobs} worker process{'es' if stats.jobs != 1 else ''}" if stats.jobs else "in process"
    count = plural(len(stats.files), "file")
    lines.append(
        f"gupcheck: stats: {count}: {origins['parsed']} parsed ({workers}), {origins['cache']} from the cache"
    )
    for entry in stats.files:
        shown = os.path.relpath(entry.path, source_root) if entry.path.startswith(source_root) else entry.path
        timing = f"{entry.seconds:.2f} s" if entry.origin == "parsed" else "cached"
        lines.append(f"gupcheck: stats:   {shown}: {entry.mode}, {timing}")
    for stage, seconds in stats.stages.items():
        lines.append(f"gupcheck: stats: {stage}: {seconds:.2f} s")
    if stats.worker_peak_rss_kib:
        peak = max(stats.worker_peak_rss_kib) / 1024
        lines.append(f"gupcheck: stats: peak worker memory: {peak:.0f} MiB")
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    lines.append(f"gupcheck: stats: peak memory of the main process: {main_peak:.0f} MiB")
    return "\n".join(lines) + "\n"
