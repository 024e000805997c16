"""Booting a kernel with the validation initramfs in QEMU and collecting its serial console.

Every boot runs under a hard deadline and an inactivity deadline, reads its console through a
pipe (input from /dev/null), and is killed with its whole process group when anything goes
wrong: no QEMU is left behind. KVM is used when it works: it is probed by the real boot itself
(the runner's READY line must appear within a few seconds, else QEMU is killed and the boot is
repeated with TCG). `-cpu max` gives TCG guests SMAP, which some oracles rely on.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from gupcheck.validate.build import require_tool
from gupcheck.validate.console import MARK
from gupcheck.validate.kernels import Kernel

QEMU = "qemu-system-x86_64"
MEMORY = "512M"
# movablecore: user pages come from ZONE_MOVABLE, where long-term pins must not stay.
# transparent_hugepage=never: one page per pinned page frame, as the oracles assume.
KERNEL_ARGS = "console=ttyS0 quiet panic=-1 movablecore=256M transparent_hugepage=never"
KVM_PROBE_SECONDS = 8.0
READY = f"{MARK} READY".encode()


@dataclass
class Boot:
    console: str
    seconds: float
    accel: str
    outcome: str  # "powered off", "timed out after N s", ...
    notes: list[str] = field(default_factory=list)

    @property
    def powered_off(self) -> bool:
        return self.outcome == "powered off"


def qemu_command(kernel: Kernel, initramfs: Path, accel: str, qemu: str = QEMU) -> list[str]:
    cpu = "host" if accel == "kvm" else "max"
    return [
        qemu,
        "-accel",
        accel,
        "-cpu",
        cpu,
        "-m",
        MEMORY,
        "-smp",
        "1",
        "-no-reboot",
        "-nographic",
        "-nodefaults",
        "-serial",
        "stdio",
        "-display",
        "none",
        "-kernel",
        str(kernel.image),
        "-initrd",
        str(initramfs),
        "-append",
        KERNEL_ARGS,
    ]


def run_qemu(
    argv: list[str], timeout: float, idle_timeout: float, ready_within: float | None = None
) -> tuple[str, float, str, bool]:
    """Runs QEMU until it exits or a deadline passes: (console, seconds, outcome, saw READY).
    With `ready_within`, gives up when READY has not appeared by then."""
    start = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        return "", 0.0, f"cannot start {argv[0]}: {error.strerror or error}", False
    assert process.stdout is not None
    chunks: list[bytes] = []
    tail = b""  # the end of the output, for a READY split over several reads
    ready = False
    outcome = ""
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            last_output = start
            while not outcome:
                now = time.monotonic()
                if now - start > timeout:
                    outcome = f"timed out after {timeout:.0f} s"
                elif now - last_output > idle_timeout:
                    outcome = f"no console output for {idle_timeout:.0f} s"
                elif ready_within is not None and not ready and now - start > ready_within:
                    outcome = f"not ready after {ready_within:.0f} s"
                elif selector.select(timeout=0.2):
                    data = os.read(process.stdout.fileno(), 65536)
                    if not data:
                        code = process.wait(timeout=30)
                        name = os.path.basename(argv[0])
                        outcome = "powered off" if code == 0 else f"{name} exited with status {code}"
                        break
                    chunks.append(data)
                    last_output = time.monotonic()
                    window = tail + data
                    ready = ready or READY in window
                    tail = window[-len(READY) :]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()
    console = b"".join(chunks).decode("utf-8", errors="replace")
    return console, time.monotonic() - start, outcome, ready


def kvm_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def boot(
    kernel: Kernel, initramfs: Path, accel: str = "auto", timeout: float = 600, idle_timeout: float = 90
) -> Boot:
    """Boots once; accel is "auto" (KVM when it works, else TCG), "kvm" or "tcg"."""
    qemu = require_tool(QEMU, "qemu-system-x86")
    notes: list[str] = []
    if accel in ("auto", "kvm") and (accel == "kvm" or kvm_usable()):
        probe = KVM_PROBE_SECONDS if accel == "auto" else None
        console, seconds, outcome, ready = run_qemu(
            qemu_command(kernel, initramfs, "kvm", qemu), timeout, idle_timeout, probe
        )
        if ready or accel == "kvm":
            return Boot(console, seconds, "kvm", outcome, notes)
        last = next((line for line in reversed(console.splitlines()) if line.strip()), "")
        reason = f"{outcome}: {last.strip()[:200]}" if last and "exited" in outcome else outcome
        notes.append(f"KVM unusable ({reason}), {seconds:.1f} s lost; booted with TCG")
    elif accel == "auto":
        notes.append("no usable /dev/kvm; booted with TCG")
    console, seconds, outcome, _ = run_qemu(
        qemu_command(kernel, initramfs, "tcg", qemu), timeout, idle_timeout
    )
    return Boot(console, seconds, "tcg", outcome, notes)
