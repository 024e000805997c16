"""Real kernel headers: Debian's linux-headers-amd64 build tree and real 6.1 drivers.

`make test` installs linux-headers-amd64 and linux-source-6.1 (scripts/setup-kernel.sh) and
extracts a few real drivers into .cache/linux-source-6.1/.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from gupcheck.model.facts import HeaderMode, Side
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
LINUX_SOURCE = ROOT / ".cache" / "linux-source-6.1"
REAL_DRIVERS = [
    "drivers/xen/privcmd.c",
    "drivers/misc/genwqe/card_utils.c",
    "drivers/virt/acrn/mm.c",
    "drivers/fpga/dfl-afu-dma-region.c",
]


def debian_headers() -> str:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees:
        pytest.skip("Debian's linux-headers-amd64 is not installed (make test installs it)")
    return trees[-1]


def kernel_cases() -> list[Path]:
    return sorted({p.parent for p in TESTDATA.rglob("*.c") if "#include <linux/module.h>" in p.read_text()})


def finding_keys(analysis) -> set[tuple[str, int, str, str]]:
    return {(Path(f.location.path).name, f.location.line, f.rule_id, f.message) for f in analysis.findings}


@pytest.mark.parametrize("folder", kernel_cases(), ids=lambda p: str(p.relative_to(TESTDATA)))
def test_testdata_driver_parses_cleanly_with_real_headers_and_matches_the_model(folder: Path) -> None:
    tree = debian_headers()
    real = analyse([str(folder)], ALL_RULES, kernel_dir=tree)
    assert real.units, [str(p) for p in real.problems]
    for unit in real.units:
        expected = HeaderMode.KERNEL_TREE if unit.side == Side.KERNEL else HeaderMode.SYSTEM
        assert unit.mode == expected
        assert not unit.errors, [f"{d.location}: {d.message}" for d in unit.errors[:5]]
    model = analyse([str(folder)], ALL_RULES, use_model=True)
    assert all(unit.mode == HeaderMode.KERNEL_MODEL for unit in model.units if unit.side == Side.KERNEL)
    assert finding_keys(real) == finding_keys(model)


@pytest.mark.parametrize("driver", REAL_DRIVERS)
def test_real_linux_6_1_driver_is_analysed_without_parse_errors(driver: str) -> None:
    tree = debian_headers()
    path = LINUX_SOURCE / driver
    if not path.exists():
        pytest.skip(f"{driver} not extracted (run scripts/setup-kernel.sh)")
    analysis = analyse([str(path)], ALL_RULES, kernel_dir=tree)
    assert not [p for p in analysis.problems if p.fatal]
    assert len(analysis.units) == 1
    unit = analysis.units[0]
    assert unit.mode == HeaderMode.KERNEL_TREE
    assert not unit.errors, [f"{d.location}: {d.message}" for d in unit.errors[:5]]
    assert len(unit.functions) > 5  # the walk saw the driver's functions
    for finding in analysis.findings:
        assert finding.location.path == str(path)


# The pinning drivers of Debian's 6.1 that GUP001 was reviewed against. Every finding here was
# judged real: genwqe keeps GENWQE_PIN_MEM pages on a per-file list without FOLL_LONGTERM, ignores
# put_user() results when it reports a DDCB's outcome, and frees a mapped coherent buffer in
# vm_close while a split or inherited vma may still map it.
PINNING_DRIVERS = [
    "drivers/infiniband/core/umem.c",
    "drivers/vfio/vfio_iommu_type1.c",
    "drivers/media/common/videobuf2/frame_vector.c",
    "drivers/misc/habanalabs/common/memory.c",
    "drivers/virt/acrn/mm.c",
    "drivers/fpga/dfl-afu-dma-region.c",
    "drivers/platform/goldfish/goldfish_pipe.c",
    "drivers/xen/privcmd.c",
    "drivers/misc/genwqe/card_utils.c",
    "drivers/misc/genwqe/card_dev.c",
    "drivers/misc/genwqe/card_ddcb.c",
]
DEFENDED_FINDINGS = {
    ("drivers/misc/genwqe/card_dev.c", 411, "GUP004", "warning"),
    ("drivers/misc/genwqe/card_dev.c", 791, "GUP001", "warning"),
    ("drivers/misc/genwqe/card_dev.c", 1073, "GUP005", "warning"),
    ("drivers/misc/genwqe/card_dev.c", 1087, "GUP005", "warning"),
    ("drivers/misc/genwqe/card_dev.c", 1123, "GUP005", "warning"),
}


def test_pinning_drivers_of_6_1_give_only_defended_findings() -> None:
    tree = debian_headers()
    paths = [LINUX_SOURCE / driver for driver in PINNING_DRIVERS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"not extracted (run scripts/setup-kernel.sh): {missing}")
    analysis = analyse([str(p) for p in paths], ALL_RULES, kernel_dir=tree)
    assert not analysis.problems, [str(p) for p in analysis.problems]
    assert all(unit.mode == HeaderMode.KERNEL_TREE and not unit.errors for unit in analysis.units)
    found = {
        (str(Path(f.location.path).relative_to(LINUX_SOURCE)), f.location.line, f.rule_id, f.level.value)
        for f in analysis.findings
    }
    assert found == DEFENDED_FINDINGS
