"""Installed kernels a case can be validated on: an image `/boot/vmlinuz-V` and the build tree
`/lib/modules/V/build` of exactly that version (modules must be built for the kernel they load
into). Debian: `linux-image-amd64` and `linux-headers-<its version>` (scripts/setup-qemu.sh)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BOOT = Path("/boot")
MODULES = Path("/lib/modules")


class KernelError(Exception):
    """No usable kernel, or none matching --kernel; str() is one line."""


@dataclass(frozen=True)
class Kernel:
    version: str  # the release, as `uname -r` prints it in the guest
    image: Path
    build: Path

    @property
    def short(self) -> str:
        """Major.minor, e.g. "6.1"."""
        match = re.match(r"(\d+\.\d+)", self.version)
        return match.group(1) if match else self.version


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order: 6.1.0-56-amd64 < 6.1.0-100-amd64 < 6.12.38+deb12-amd64."""
    parts = re.findall(r"\d+|[^\d]+", version)
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in parts)


def installed_kernels(boot: Path = BOOT, modules: Path = MODULES) -> list[Kernel]:
    """Kernels with an image and a matching build tree, oldest first."""
    kernels = []
    for image in boot.glob("vmlinuz-*"):
        version = image.name[len("vmlinuz-") :]
        build = modules / version / "build"
        if image.is_file() and (build / "Makefile").is_file():
            kernels.append(Kernel(version, image, build.resolve()))
    return sorted(kernels, key=lambda k: version_key(k.version))


def select_kernels(spec: str | None, boot: Path = BOOT, modules: Path = MODULES) -> list[Kernel]:
    """`None`: the newest kernel; "all": every one; else a version, or a prefix of exactly one
    version family ("6.1" picks the newest 6.1.x)."""
    kernels = installed_kernels(boot, modules)
    if not kernels:
        raise KernelError(
            f"no kernel to boot: need {boot}/vmlinuz-V with {modules}/V/build "
            "(run scripts/setup-qemu.sh as root)"
        )
    if spec is None:
        return [kernels[-1]]
    if spec == "all":
        return kernels
    exact = [k for k in kernels if k.version == spec]
    if exact:
        return exact
    family = [
        k
        for k in kernels
        if k.version.startswith(spec) and not k.version[len(spec) : len(spec) + 1].isdigit()
    ]
    if family:
        return [family[-1]]
    known = ", ".join(k.version for k in kernels)
    raise KernelError(f"no installed kernel {spec!r} with a build tree (installed: {known})")
