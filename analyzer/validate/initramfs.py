"""The guest's initramfs: an uncompressed cpio archive (newc format, which the kernel unpacks
without any decompressor) with busybox, the runner, the plan, the modules and the programs.

    /init                   mounts proc, sys, devtmpfs and tmpfs, then execs the runner
    /bin/busybox, /bin/sh, ... (one link per applet)
    /bin/gupcheck-runner
    /gupcheck/plan
    /gupcheck/<case id>/...  the case's modules and program
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

INIT = """#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
exec /bin/gupcheck-runner /gupcheck/plan
"""

_DIR, _FILE, _LINK = 0o040000, 0o100000, 0o120000


@dataclass(frozen=True)
class Entry:
    name: str  # path inside the archive, without a leading slash
    mode: int
    source: Path | None = None  # file contents from here ...
    data: bytes = b""  # ... or these bytes (a symbolic link's target for links)


def busybox_applets(busybox: Path) -> list[str]:
    try:
        listing = subprocess.run([str(busybox), "--list"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ["sh", "mount"]
    return [name for name in listing.stdout.split() if "/" not in name and name != "busybox"]


def _header(inode: int, mode: int, size: int, name: bytes) -> bytes:
    fields = (inode, mode, 0, 0, 2 if mode & _DIR == _DIR else 1, 0, size, 0, 0, 0, 0, len(name) + 1, 0)
    return b"070701" + b"".join(f"{value:08x}".encode() for value in fields)


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def write_cpio(entries: list[Entry], output: Path) -> None:
    with open(output, "wb") as archive:
        for inode, entry in enumerate([*entries, Entry("TRAILER!!!", 0)], start=1):
            name = entry.name.encode()
            data = entry.source.read_bytes() if entry.source is not None else entry.data
            header = _header(inode if entry.name != "TRAILER!!!" else 0, entry.mode, len(data), name)
            archive.write(header + name + b"\0")
            archive.write(_pad(len(header) + len(name) + 1))
            archive.write(data)
            archive.write(_pad(len(data)))


def build_initramfs(
    output: Path, busybox: Path, runner: Path, plan: str, payload: dict[str, list[Path]]
) -> None:
    """payload: {folder under /gupcheck: files to put there}."""
    entries = [Entry(name, _DIR | 0o755) for name in ("bin", "dev", "proc", "sys", "tmp", "root", "gupcheck")]
    entries.append(Entry("init", _FILE | 0o755, data=INIT.encode()))
    entries.append(Entry("bin/busybox", _FILE | 0o755, source=busybox))
    entries += [Entry(f"bin/{applet}", _LINK | 0o777, data=b"busybox") for applet in busybox_applets(busybox)]
    entries.append(Entry("bin/gupcheck-runner", _FILE | 0o755, source=runner))
    entries.append(Entry("gupcheck/plan", _FILE | 0o644, data=plan.encode()))
    for folder, files in sorted(payload.items()):
        entries.append(Entry(f"gupcheck/{folder}", _DIR | 0o755))
        entries += [Entry(f"gupcheck/{folder}/{f.name}", _FILE | 0o755, source=f) for f in files]
    write_cpio(entries, output)
