"""The shared precompiled header (gupcheck.frontend.pch): built once per kernel tree and flag set under
the cache directory, rebuilt when a header changes, used only where it stands in for the headers, and
giving the same findings as parsing without it, on testdata and on real 6.1 drivers with Debian's
headers."""

from __future__ import annotations

import glob
import json
import os
import re
import textwrap
from pathlib import Path

import pytest

from gupcheck.frontend import pch
from gupcheck.frontend.buildconfig import BuildConfig
from gupcheck.frontend.parse import extract_facts
from gupcheck.model.facts import HeaderMode, TranslationUnitFacts
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "testdata"
LINUX_SOURCE = ROOT / ".cache" / "linux-source-6.1"
REAL_DRIVERS = [
    "drivers/infiniband/core/umem.c",
    "drivers/vfio/vfio_iommu_type1.c",
    "drivers/media/common/videobuf2/frame_vector.c",
    "drivers/misc/genwqe/card_utils.c",
    "drivers/misc/genwqe/card_dev.c",
    "drivers/misc/genwqe/card_ddcb.c",
    "drivers/fpga/dfl-afu-dma-region.c",
    "drivers/misc/habanalabs/common/memory.c",
    "drivers/virt/acrn/mm.c",
    "drivers/platform/goldfish/goldfish_pipe.c",
    "drivers/xen/privcmd.c",
    "drivers/tee/tee_shm.c",
    "drivers/vhost/vhost.c",
    "drivers/gpu/drm/i915/gem/i915_gem_userptr.c",
]
# Kbuild flags of a driver's own Makefile (subdir-ccflags-y += -I$(srctree)/$(src)).
OWN_FLAGS = {
    "drivers/gpu/drm/i915/gem/i915_gem_userptr.c": ["-I", str(LINUX_SOURCE / "drivers/gpu/drm/i915")],
}


def comparable(unit: TranslationUnitFacts) -> str:
    """The facts, with names made from __COUNTER__ (`__UNIQUE_ID_ddebug285`) numbered alike: the
    counter goes on from the headers a parse read before, and the PCH holds more of them."""
    return re.sub(r"(__UNIQUE_ID_\w*?)\d+\b", r"\1#", repr(unit))


def finding_keys(analysis) -> list[tuple]:
    return [
        (f.location.path, f.location.line, f.location.column, f.rule_id, f.level.value, f.message)
        for f in analysis.findings
    ]


# ---------------------------------------------------------------------------------------------------
# A small kernel tree of our own, to see the PCH built, reused, rebuilt and refused


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "linux"
    write(root / "Makefile", "# kernel\n")
    (root / "arch" / "x86" / "include" / "asm").mkdir(parents=True)
    write(root / "include" / "generated" / "autoconf.h", "#define CONFIG_X86_64 1\n#define CONFIG_MMU 1\n")
    write(root / "include" / "generated" / "utsrelease.h", '#define UTS_RELEASE "6.1.0-test"\n')
    write(root / "include" / "linux" / "kconfig.h", "#include <generated/autoconf.h>\n")
    write(root / "include" / "linux" / "compiler_types.h", "#define __user\n")
    write(
        root / "include" / "linux" / "types.h",
        """\
        #ifndef _LINUX_TYPES_H
        #define _LINUX_TYPES_H
        typedef unsigned long size_t;
        #endif
        """,
    )
    write(
        root / "include" / "linux" / "fs.h",
        """\
        #ifndef _LINUX_FS_H
        #define _LINUX_FS_H
        #include <linux/types.h>
        #ifdef MYDRV_OLD_API
        #define PIN_BATCH 1
        #else
        #define PIN_BATCH 16
        #endif
        struct file { void *private_data; };
        unsigned long copy_from_user(void *to, const void __user *from, unsigned long n);
        #endif
        """,
    )
    write(
        root / "include" / "linux" / "module.h",
        """\
        #ifndef _LINUX_MODULE_H
        #define _LINUX_MODULE_H
        #include <linux/types.h>
        #define THIS_MODULE ((void *)0)
        #define MODULE_ONLY_FLAG 4
        #endif
        """,
    )
    return root


def driver(tmp_path: Path, body: str, name: str = "mydrv.c") -> Path:
    return write(tmp_path / "drv" / name, body)


# Kernel code by its markers (buildconfig.classify_side) without including linux/module.h.
KERNEL_MARKER = "#define EXPORT_SYMBOL(symbol)\nEXPORT_SYMBOL(x);\n"

USES_BOTH = """\
    #include <linux/module.h>
    #include <linux/fs.h>

    static long mydrv_read(struct file *file, void __user *arg)
    {
        char buf[PIN_BATCH];
        return copy_from_user(buf, arg, sizeof(buf)) ? -14 : 0;
    }
    """


def facts_of(path: Path, tree: Path, cache: Path | None) -> TranslationUnitFacts:
    config = BuildConfig(kernel_dir=str(tree)).config_for(str(path))
    assert config.mode == HeaderMode.KERNEL_TREE
    return extract_facts(config, cache_dir=str(cache) if cache else None)


def test_the_pch_is_built_once_under_the_cache_dir_and_reused(tree: Path, tmp_path: Path) -> None:
    first = driver(tmp_path, USES_BOTH, "first.c")
    second = driver(tmp_path, USES_BOTH.replace("mydrv_read", "other_read"), "second.c")
    cache = tmp_path / "cache"
    before = pch.outcomes["stood in"]
    facts = [facts_of(first, tree, cache), facts_of(second, tree, cache)]
    assert pch.outcomes["stood in"] == before + 2
    built = list((cache / "pch").glob("*.pch"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    facts_of(first, tree, cache)
    assert built[0].stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert not facts[0].errors
    assert [call.callee for node in facts[0].functions[0].nodes for call in node.calls] == ["copy_from_user"]


def test_facts_with_the_pch_are_those_without_it(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = driver(tmp_path, USES_BOTH)
    with_pch = facts_of(source, tree, tmp_path / "cache")
    monkeypatch.setenv(pch.ENV_DISABLE, "1")
    without = facts_of(source, tree, tmp_path / "other-cache")
    assert not (tmp_path / "other-cache" / "pch").exists()
    assert comparable(with_pch) == comparable(without)
    assert with_pch.headers == without.headers
    assert any(header.endswith("linux/module.h") for header in with_pch.headers)


def test_the_headers_listed_are_those_the_file_includes_not_all_of_the_pch(
    tree: Path, tmp_path: Path
) -> None:
    source = driver(tmp_path, "#include <linux/fs.h>\nint x = PIN_BATCH;\n" + KERNEL_MARKER)
    before = pch.outcomes["stood in"]
    facts = facts_of(source, tree, tmp_path / "cache")
    assert pch.outcomes["stood in"] == before + 1
    names = [os.path.relpath(header, tree) for header in facts.headers]
    assert "include/linux/fs.h" in names and "include/linux/types.h" in names
    assert "include/linux/module.h" not in names


def test_the_pch_is_rebuilt_when_a_header_changes(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pch, "_REVALIDATE_SECONDS", 0.0)
    source = driver(tmp_path, USES_BOTH)
    cache = tmp_path / "cache"
    facts = facts_of(source, tree, cache)
    assert facts.functions[0].locals["buf"].size == 16
    header = tree / "include" / "linux" / "fs.h"
    header.write_text(header.read_text().replace("#define PIN_BATCH 16", "#define PIN_BATCH 32"))
    later = header.stat().st_mtime_ns + 2_000_000_000
    os.utime(header, ns=(later, later))
    before = pch.outcomes["stood in"]
    facts = facts_of(source, tree, cache)
    assert pch.outcomes["stood in"] == before + 1
    assert facts.functions[0].locals["buf"].size == 32


def test_a_file_defining_a_macro_its_headers_test_is_parsed_without_the_pch(
    tree: Path, tmp_path: Path
) -> None:
    source = driver(tmp_path, "#define MYDRV_OLD_API\n" + USES_BOTH)
    before = dict(pch.outcomes)
    facts = facts_of(source, tree, tmp_path / "cache")
    refusal = "defines MYDRV_OLD_API before including headers that use it"
    assert pch.outcomes[refusal] == before.get(refusal, 0) + 1
    assert facts.functions[0].locals["buf"].size == 1  # what the header said with the macro defined


def test_a_file_using_a_macro_of_a_header_it_does_not_include_is_parsed_without_the_pch(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "#include <linux/fs.h>\n#ifdef MODULE_ONLY_FLAG\nint flag = MODULE_ONLY_FLAG;\n#endif\nint y;\n"
    body += KERNEL_MARKER
    source = driver(tmp_path, body)
    before = dict(pch.outcomes)
    facts = facts_of(source, tree, tmp_path / "cache")
    refusal = "uses MODULE_ONLY_FLAG from a header it does not include"
    assert pch.outcomes[refusal] == before.get(refusal, 0) + 1
    assert "flag" not in facts.globals and "y" in facts.globals
    monkeypatch.setenv(pch.ENV_DISABLE, "1")
    assert comparable(facts) == comparable(facts_of(source, tree, None))


def test_a_pch_that_cannot_be_built_leaves_the_plain_parse(tree: Path, tmp_path: Path) -> None:
    write(tree / "include" / "linux" / "mm.h", "#error this header does not build here\n")
    source = driver(tmp_path, USES_BOTH)
    before = sum(count for outcome, count in pch.outcomes.items() if outcome.startswith("not built"))
    facts = [facts_of(source, tree, tmp_path / "cache") for _ in range(2)]
    after = sum(count for outcome, count in pch.outcomes.items() if outcome.startswith("not built"))
    assert after == before + 2  # the failed build is remembered, not retried for the second file
    assert all(not unit.errors and unit.functions for unit in facts)


# ---------------------------------------------------------------------------------------------------
# Debian's 6.1 headers: testdata and real drivers, with and without the PCH


def debian_headers() -> str:
    trees = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not trees:
        pytest.skip("Debian's linux-headers-amd64 is not installed (make test installs it)")
    return trees[-1]


def kernel_cases() -> list[str]:
    return sorted(
        {str(p.parent) for p in TESTDATA.rglob("*.c") if "#include <linux/module.h>" in p.read_text()}
    )


def compare_with_and_without_pch(
    paths: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **options
) -> tuple[int, int]:
    before = pch.outcomes["stood in"]
    with_pch = analyse(paths, ALL_RULES, cache_dir=str(tmp_path / "with"), **options)
    used = pch.outcomes["stood in"] - before
    monkeypatch.setenv(pch.ENV_DISABLE, "1")
    without = analyse(paths, ALL_RULES, cache_dir=str(tmp_path / "without"), **options)
    monkeypatch.delenv(pch.ENV_DISABLE)
    assert [p.path for p in with_pch.problems] == [p.path for p in without.problems]
    assert finding_keys(with_pch) == finding_keys(without)
    assert [comparable(unit) for unit in with_pch.units] == [comparable(unit) for unit in without.units]
    assert list((tmp_path / "with" / "pch").glob("*.pch"))
    assert not (tmp_path / "without" / "pch").exists()
    return used, len(with_pch.units)


def test_testdata_findings_are_the_same_with_and_without_the_pch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tree = debian_headers()
    used, units = compare_with_and_without_pch(kernel_cases(), monkeypatch, tmp_path, kernel_dir=tree)
    kernel_units = sum(
        1
        for case in kernel_cases()
        for p in Path(case).glob("*.c")
        if "#include <linux/" in p.read_text() and "int main" not in p.read_text()
    )
    assert used >= kernel_units > 10  # the PCH stood in for every driver


def test_real_6_1_drivers_findings_are_the_same_with_and_without_the_pch(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tree = debian_headers()
    missing = [d for d in REAL_DRIVERS if not (LINUX_SOURCE / d).exists()]
    if missing:
        pytest.skip(f"not extracted (run scripts/setup-kernel.sh): {missing}")
    # A compile database, as Kbuild's gen_compile_commands.py gives one: Kbuild's flags and the driver's own.
    config = BuildConfig(kernel_dir=tree)
    entries = []
    for name in REAL_DRIVERS:
        path = str(LINUX_SOURCE / name)
        args = [*config.config_for(path).args, *OWN_FLAGS.get(name, [])]
        entries.append(
            {
                "directory": os.path.dirname(path),
                "file": path,
                "arguments": ["clang", *args, "-c", path, "-o", "/dev/null"],
            }
        )
    database = tmp_path / "compile_commands.json"
    database.write_text(json.dumps(entries))
    used, units = compare_with_and_without_pch(
        [str(LINUX_SOURCE / d) for d in REAL_DRIVERS], monkeypatch, tmp_path, compile_commands=str(database)
    )
    assert units == len(REAL_DRIVERS)
    assert used == len(REAL_DRIVERS)  # every one, i915 with its own -I too


def test_building_a_pch_removes_those_no_run_can_use_again(tree: Path, tmp_path: Path) -> None:
    """PCHs of an older gupcheck, or of a kernel tree that is gone, are removed when one is built; a
    usable PCH of another tree or flag set stays."""
    cache = tmp_path / "cache"
    facts_of(driver(tmp_path, USES_BOTH), tree, cache)
    directory = cache / "pch"
    (current,) = directory.glob("*.pch")
    other_tree = tmp_path / "other-linux"
    other_tree.mkdir()
    (other_tree / "header.h").write_text("#define X 1\n")
    description = pch._load(directory, current.stem)

    def plant(key: str, meta: bytes | None, identities) -> None:
        (directory / f"{key}.pch").write_bytes(current.read_bytes()[:64])
        (directory / f"{key}.h").write_text("#include <linux/fs.h>\n")
        if meta is not None:
            (directory / f"{key}.meta").write_bytes(meta)
        else:
            description.identities = identities
            pch._store(directory, key, description)

    plant("older0format", b"gupcheck-pch-v2\nwhatever", None)
    plant("tree0gone", None, [(str(tmp_path / "removed-linux" / "fs.h"), (1, 2))])
    plant("other0tree", None, [(str(other_tree / "header.h"), (6, 0))])
    current.unlink()  # rebuilt by the next parse (in a new process: this one keeps what it loaded)
    pch._loaded.clear()
    facts_of(driver(tmp_path, USES_BOTH), tree, cache)
    kept = sorted(path.name for path in directory.iterdir() if path.suffix != ".lock")
    assert kept == sorted(
        [
            current.name,
            f"{current.stem}.h",
            f"{current.stem}.meta",
            "other0tree.h",
            "other0tree.meta",
            "other0tree.pch",
        ]
    )


def test_a_pch_corrupted_in_place_is_rebuilt_not_trusted(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = driver(tmp_path, USES_BOTH)
    cache = tmp_path / "cache"
    facts_of(source, tree, cache)
    [built] = (cache / "pch").glob("*.pch")
    good = built.read_bytes()
    stamp = built.stat()
    damaged = bytearray(good)
    middle = len(damaged) // 2
    damaged[middle : middle + 4096] = bytes(255 - b for b in damaged[middle : middle + 4096])
    built.write_bytes(bytes(damaged))  # same size
    os.utime(built, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same modification time
    monkeypatch.setattr(pch, "_loaded", {})  # a new process: nothing of the PCH known yet
    before = pch.outcomes["stood in"]
    facts = facts_of(source, tree, cache)
    assert pch.outcomes["stood in"] == before + 1 and not facts.errors
    assert built.read_bytes() != bytes(damaged)  # rebuilt from the headers
