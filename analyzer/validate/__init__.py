"""`gupcheck validate`: confirm findings by running the flagged examples on a real kernel in QEMU.

A case folder carries a repro (`repro/repro.toml` and a userland program, see `cases`); the
case's kernel modules and programs are built against each installed kernel (`kernels`, `build`),
packed into one busybox initramfs with the companion probe module (`initramfs`), and run in one
QEMU boot per kernel (`qemu`). The console is parsed (`console`) into verdicts (`verdicts`):
confirmed, not reproduced or error for each expected finding, clean for each look-alike. The
reports (`report`) are a terminal table, JSON, and the verdicts merged into a SARIF log.

This package never imports clang: it works on case folders and console text only.
"""

from gupcheck.validate.cases import Case, CaseError, display_name, folders_without_repro, load_cases
from gupcheck.validate.kernels import Kernel, KernelError, select_kernels
from gupcheck.validate.run import ValidationRun, validate
from gupcheck.validate.verdicts import Verdict

__all__ = [
    "Case",
    "CaseError",
    "Kernel",
    "KernelError",
    "ValidationRun",
    "Verdict",
    "display_name",
    "folders_without_repro",
    "load_cases",
    "select_kernels",
    "validate",
]
