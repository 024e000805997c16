"""Kernel trees of any architecture gupcheck supports and any version: flags derived from the tree.

The trees are Debian's: the installed amd64 6.1 headers (/usr/src/linux-headers-*-amd64), and, unpacked
by scripts/setup-kernel-trees.sh (run by scripts/setup-kernel.sh) into .cache/kernels/, the arm64
headers of the same 6.1 ABI and the amd64 and arm64 headers of the newest other series apt offers
(6.12 on bookworm). A test that needs a tree skips, naming the script, only when it is missing (the
download needs a network). `make -n` on a dummy module asks Kbuild itself for its compile command: the
flags gupcheck derives are compared with it.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from clang import cindex
from test_cli import gupcheck

from gupcheck.frontend.buildconfig import BuildConfig, ConfigError, KernelTree, builtin_include_dir
from gupcheck.frontend.kernelarch import DEFAULT_ARCH, arch_for, detect_arch, read_kconfig
from gupcheck.model.facts import HeaderMode
from gupcheck.pipeline.engine import analyse
from gupcheck.rules import ALL_RULES

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / ".cache" / "linux-source-6.1"
TESTDATA = REPO / "testdata"
KERNELS = REPO / ".cache" / "kernels" / "usr" / "src"
SETUP = "run scripts/setup-kernel.sh (it downloads them into .cache/kernels/; a network is needed)"


def _tree(pattern: str) -> str | None:
    found = sorted(p for p in glob.glob(pattern) if os.path.isfile(os.path.join(p, "Makefile")))
    return found[-1] if found else None


X86_61 = _tree("/usr/src/linux-headers-6.1.*-amd64")
ARM64_61 = _tree(str(KERNELS / "linux-headers-6.1.*-arm64"))
X86_OTHER = _tree(str(KERNELS / "linux-headers-[0-9]*-amd64"))
ARM64_OTHER = _tree(str(KERNELS / "linux-headers-[0-9]*+*-arm64"))


def need(tree: str | None, what: str) -> str:
    if tree is None:
        pytest.skip(f"no {what} kernel tree: {SETUP}")
    return tree


# The flags KernelTree.args gave every file before trees were read for their architecture (the x86_64
# 6.1 table): the Debian amd64 tree must still get exactly these, in this order.
X86_61_FLAGS = [
    "-fno-strict-aliasing", "-fno-common", "-fshort-wchar", "-fno-PIE", "-m64", "-mno-sse", "-mno-mmx",
    "-mno-sse2", "-mno-3dnow", "-mno-avx", "-mno-80387", "-mno-red-zone", "-mcmodel=kernel",
    "-fno-delete-null-pointer-checks", "-fno-strict-overflow", "-DCC_USING_FENTRY",
    "-Wno-address-of-packed-member", "-Wno-pointer-sign", "-Wno-sign-compare", "-Wno-frame-address",
    "-Wno-format-security", "-Wno-trigraphs", "-Wno-gnu",
]  # fmt: skip

# Real 6.1 drivers of no particular architecture (genwqe: the README's GUP001 example).
GENWQE = [
    "drivers/misc/genwqe/card_dev.c",
    "drivers/misc/genwqe/card_utils.c",
    "drivers/misc/genwqe/card_ddcb.c",
]
PORTABLE_DRIVERS = [
    "drivers/xen/privcmd.c",
    "drivers/misc/genwqe/card_utils.c",
    "drivers/fpga/dfl-afu-dma-region.c",
    "drivers/tee/tee_shm.c",
    "drivers/vfio/vfio_iommu_type1.c",
]


def parse_errors(path: str, args: list[str]) -> list[str]:
    tu = cindex.Index.create().parse(path, args=args)
    return [
        f"{d.location.file}:{d.location.line}: {d.spelling}"
        for d in tu.diagnostics
        if d.severity >= cindex.Diagnostic.Error or d.location.file is None
    ]


def includes_of(args: list[str]) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == "-I"]


# --- the x86_64 6.1 tree: unchanged --------------------------------------------------------------


def test_debian_amd64_6_1_flags_are_unchanged() -> None:
    tree = KernelTree.detect(need(X86_61, "amd64 6.1"))
    path = str(SOURCE / "drivers/xen/privcmd.c")
    args = tree.args(path)
    src, obj = tree.source_dir, tree.build_dir
    head = [
        "-x",
        "c",
        "-std=gnu11",
        "--target=x86_64-linux-gnu",
        "-nostdinc",
        "-isystem",
        builtin_include_dir(),
    ]
    dirs = ["arch/x86/include", "arch/x86/include/generated", "include", "include", "arch/x86/include/uapi",
            "arch/x86/include/generated/uapi", "include/uapi", "include/generated/uapi"]  # fmt: skip
    halves = [src, obj, src, obj, src, obj, src, obj]
    forced = [f"{src}/include/linux/{h}" for h in ("compiler-version.h", "kconfig.h", "compiler_types.h")]
    expected = head + [x for half, d in zip(halves, dirs, strict=True) for x in ("-I", f"{half}/{d}")]
    expected += [x for h in forced for x in ("-include", h)]
    expected += ["-D__KERNEL__", "-DMODULE", '-DKBUILD_MODNAME="privcmd"', '-DKBUILD_BASENAME="privcmd"']
    expected += ["-D__KBUILD_MODNAME=kmod_privcmd", *X86_61_FLAGS]
    assert args == expected
    assert tree.arch.name == "x86_64" and tree.arch.version == (6, 1)
    assert "CONFIG_X86_64" in tree.arch.found_by
    # a tree made without detect (callers that know their tree) gets the same flags
    assert list(DEFAULT_ARCH.flags) == X86_61_FLAGS


# --- arm64 ------------------------------------------------------------------------------------------


def test_arm64_tree_is_detected_with_its_target_and_include_folders() -> None:
    tree = KernelTree.detect(need(ARM64_61, "arm64 6.1"))
    assert tree.arch.name == "arm64" and tree.arch.srcarch == "arm64"
    assert tree.arch.target == "aarch64-linux-gnu" and tree.arch.version == (6, 1)
    assert "CONFIG_ARM64 in include/config/auto.conf" == tree.arch.found_by
    assert tree.source_dir.endswith("-common") and tree.build_dir == os.path.realpath(ARM64_61)
    args = tree.args(str(SOURCE / "drivers/misc/genwqe/card_utils.c"))
    src, obj = tree.source_dir, tree.build_dir
    assert includes_of(args) == [
        f"{src}/arch/arm64/include",
        f"{obj}/arch/arm64/include/generated",
        f"{src}/include",
        f"{obj}/include",
        f"{src}/arch/arm64/include/uapi",
        f"{obj}/arch/arm64/include/generated/uapi",
        f"{src}/include/uapi",
        f"{obj}/include/generated/uapi",
    ]
    assert "--target=aarch64-linux-gnu" in args
    assert {"-mgeneral-regs-only", "-mlittle-endian", "-DCC_USING_PATCHABLE_FUNCTION_ENTRY"} <= set(args)
    assert not {"-m64", "-mcmodel=kernel", "-mno-sse", "-DCC_USING_FENTRY"} & set(args)  # x86's


@pytest.mark.parametrize("driver", PORTABLE_DRIVERS)
def test_real_driver_parses_against_the_arm64_tree(driver: str) -> None:
    tree = KernelTree.detect(need(ARM64_61, "arm64 6.1"))
    path = SOURCE / driver
    if not path.is_file():
        pytest.skip(f"{path} missing: run scripts/setup-kernel.sh")
    assert parse_errors(str(path), tree.args(str(path))) == []


def test_arm64_code_needs_the_arm64_target() -> None:
    """The test above can fail: the same tree parsed for x86_64 has errors (arm64 registers in asm)."""
    tree = KernelTree.detect(need(ARM64_61, "arm64 6.1"))
    wrong = dataclasses.replace(tree, arch=dataclasses.replace(tree.arch, target="x86_64-linux-gnu"))
    path = str(SOURCE / "drivers/misc/genwqe/card_utils.c")
    if not os.path.isfile(path):
        pytest.skip(f"{path} missing: run scripts/setup-kernel.sh")
    assert any("unknown register name" in e for e in parse_errors(path, wrong.args(path)))


def test_genwqe_gives_the_same_findings_on_arm64_as_on_x86() -> None:
    arm64 = need(ARM64_61, "arm64 6.1")
    x86 = need(X86_61, "amd64 6.1")
    paths = [str(SOURCE / d) for d in GENWQE]
    if not all(os.path.isfile(p) for p in paths):
        pytest.skip("genwqe missing: run scripts/setup-kernel.sh")

    def findings(tree: str) -> set[tuple[str, int, str, str]]:
        analysis = analyse(paths, ALL_RULES, kernel_dir=tree)
        assert not analysis.problems, [str(p) for p in analysis.problems]
        assert all(u.mode is HeaderMode.KERNEL_TREE and not u.errors for u in analysis.units)
        return {
            (Path(f.location.path).name, f.location.line, f.rule_id, f.message) for f in analysis.findings
        }

    on_arm64 = findings(arm64)
    assert ("card_dev.c", 791, "GUP001") in {key[:3] for key in on_arm64}
    # arm64's put_user is an object-like alias (`#define put_user __put_user`): still a put_user call
    assert ("card_dev.c", 1073, "GUP005") in {key[:3] for key in on_arm64}
    assert on_arm64 == findings(x86)


def test_testdata_drivers_parse_against_the_arm64_tree() -> None:
    config = BuildConfig(kernel_dir=need(ARM64_61, "arm64 6.1"))
    cases = sorted(p for p in TESTDATA.rglob("*.c") if "#include <linux/module.h>" in p.read_text())
    assert cases
    for path in cases:
        file_config = config.config_for(str(path))
        assert file_config.mode is HeaderMode.KERNEL_TREE
        assert parse_errors(str(path), list(file_config.args)) == [], path


def test_big_endian_arm64_gets_the_big_endian_target() -> None:
    read = read_kconfig(need(ARM64_61, "arm64 6.1"))
    assert read is not None
    config, _ = read
    big = arch_for("arm64", {**config, "CONFIG_CPU_BIG_ENDIAN": "y"}, (6, 1))
    assert big.target == "aarch64_be-linux-gnu" and "-mbig-endian" in big.flags
    assert "-mlittle-endian" not in big.flags


def test_architecture_without_auto_conf_from_the_other_files(tmp_path: Path) -> None:
    """A build tree without include/config/: the architecture comes from autoconf.h, then from
    Debian's .kernelvariables, the arch/*/include/generated folder and the package folder's name."""
    real = Path(KernelTree.detect(need(ARM64_61, "arm64 6.1")).build_dir)
    build = tmp_path / "build"
    (build / "include").mkdir(parents=True)
    (build / "include" / "generated").symlink_to(real / "include" / "generated")
    (build / "arch").symlink_to(real / "arch")
    (build / "Makefile").write_text((real / "Makefile").read_text())
    tree = KernelTree.detect(str(build))
    assert tree.arch.name == "arm64" and tree.arch.found_by == "CONFIG_ARM64 in include/generated/autoconf.h"
    assert tree.arch.flags == KernelTree.detect(str(real)).arch.flags
    source = KernelTree.detect(str(real)).source_dir
    empty = tmp_path / "no-config"
    empty.mkdir()
    (empty / ".kernelvariables").write_text("override ARCH = arm64\n")
    assert detect_arch(str(empty), source).found_by == "ARCH = arm64 in .kernelvariables"
    (empty / ".kernelvariables").unlink()
    (empty / "arch").symlink_to(real / "arch")
    assert detect_arch(str(empty), source).found_by == "arch/arm64/include/generated"
    named = tmp_path / "linux-headers-6.1.0-57-arm64"
    named.mkdir()
    assert detect_arch(str(named), source).found_by == "the package name linux-headers-6.1.0-57-arm64"


# --- another version --------------------------------------------------------------------------------


def test_other_version_tree_is_detected_with_its_version_flags() -> None:
    tree = KernelTree.detect(need(X86_OTHER, "amd64 of another version"))
    assert tree.arch.name == "x86_64" and tree.arch.version is not None and tree.arch.version > (6, 1)
    # its Makefile includes /usr/src/...-common, not installed: the -common sibling is found
    assert tree.source_dir == tree.build_dir.removesuffix("-amd64") + "-common"
    args = tree.args("x.c")
    assert "-funsigned-char" in args  # Kbuild's since 6.2: char is unsigned everywhere
    assert includes_of(args)[0] == f"{tree.source_dir}/arch/x86/include"
    assert all(os.path.isdir(d) for d in includes_of(args))


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_other_version_parses_a_real_driver_and_testdata(arch: str) -> None:
    """6.12: the drivers whose API did not change since 6.1 parse without errors (others, written for
    6.1, meet 6.12's API changes: get_user_pages() lost an argument, vm_flags became const)."""
    tree = KernelTree.detect(need(X86_OTHER if arch == "amd64" else ARM64_OTHER, f"{arch} other version"))
    files = [SOURCE / "drivers/fpga/dfl-afu-dma-region.c", TESTDATA / "example" / "demo_dev.c"]
    for path in files:
        if not path.is_file():
            pytest.skip(f"{path} missing: run scripts/setup-kernel.sh")
        assert parse_errors(str(path), tree.args(str(path))) == [], path


# --- what Kbuild itself says ------------------------------------------------------------------------

# Kbuild flags that change only the generated code or the warnings, not how the code parses. Every
# other -f/-m flag of Kbuild's command must be in gupcheck's flags, and the other way round.
CODEGEN_ONLY = (
    "-fmacro-prefix-map=", "-fcf-protection", "-fno-jump-tables", "-falign-",
    "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fasynchronous-unwind-tables",
    "-fstack-protector", "-fno-stack-clash-protection", "-ftrivial-auto-var-init=",
    "-fpatchable-function-entry=", "-fno-stack-check", "-fconserve-stack", "-fno-builtin-wcslen",
    "-fno-allow-store-data-races", "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls", "-ffixed-",
    "-mpreferred-stack-boundary=", "-mskip-rax-setup", "-mtune=", "-mindirect-branch",
    "-mfunction-return=", "-mharden-sls=", "-mrecord-mcount", "-mfentry", "-mstack-protector-guard",
    "-mbranch-protection=", "-msign-return-address=", "-mno-fp-ret-in-387", "-mabi=",
)  # fmt: skip
_COMMAND = re.compile(r"(\S*(?:gcc|clang)\S*) (-Wp,-MMD,\S*gprobe\.o\.d .*? -c -o \S*gprobe\.o \S*gprobe\.c)")


def kbuild_command(tree: KernelTree, probe: Path) -> list[str]:
    """Kbuild's compile command for a one-file module (make -n: nothing is compiled or written)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    if not os.path.isdir(os.path.join(tree.source_dir, "scripts", "basic")):
        pytest.skip(f"{tree.source_dir}/scripts: Kbuild's scripts are not there")
    (probe / "Kbuild").write_text("obj-m := gprobe.o\n")
    (probe / "gprobe.c").write_text('#include <linux/module.h>\nMODULE_LICENSE("GPL");\n')
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS", "KBUILD", "ARCH", "CROSS"))
    }
    makefile = os.path.join(tree.source_dir, "Makefile")
    argv = ["make", "-C", tree.build_dir, "-f", makefile, f"M={probe}", "V=1", "-n", "modules"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, check=False)
    commands = [m.group(2) for m in _COMMAND.finditer(done.stdout) if "'\\''" not in m.group(2)]
    assert commands, done.stdout[-2000:] + done.stderr[-2000:]
    argv = shlex.split(commands[0])
    return [
        "-I" + os.path.normpath(os.path.join(tree.build_dir, a[2:])) if a.startswith("-I") else a
        for a in argv
    ]


def parse_relevant(argv: list[str]) -> tuple[list[str], list[str], set[str], set[str], str]:
    """(include dirs, forced includes, defines, -f/-m flags that change parsing, -std)."""
    dirs = [a[2:] if a != "-I" else argv[i + 1] for i, a in enumerate(argv) if a.startswith("-I")]
    forced = [argv[i + 1] for i, a in enumerate(argv) if a == "-include"]
    defines = {a for a in argv if a.startswith("-D")}
    lang = {a for a in argv if a.startswith(("-f", "-m")) and not a.startswith(CODEGEN_ONLY)}
    std = next(a for a in argv if a.startswith("-std="))
    return dirs, forced, defines, lang, std


@pytest.mark.parametrize("which", ["amd64 6.1", "arm64 6.1", "amd64 other", "arm64 other"])
def test_derived_flags_are_kbuilds(which: str, tmp_path: Path) -> None:
    """The include folders, forced includes, defines, dialect and language/machine flags gupcheck derives
    from the tree are those of Kbuild's own compile command (-O2, -W and code-generation flags aside)."""
    path = {"amd64 6.1": X86_61, "arm64 6.1": ARM64_61, "amd64 other": X86_OTHER, "arm64 other": ARM64_OTHER}
    tree = KernelTree.detect(need(path[which], which))
    kbuild = parse_relevant(kbuild_command(tree, tmp_path))
    ours = parse_relevant(tree.args(str(tmp_path / "gprobe.c")))
    assert ours[0] == kbuild[0]  # include folders, in order
    assert ours[1] == kbuild[1]  # forced includes
    assert ours[2] == kbuild[2]  # -D (with KBUILD_MODNAME and friends)
    assert ours[3] == kbuild[3]  # -f/-m that change parsing
    assert ours[4] == kbuild[4]  # -std


# --- trees gupcheck cannot use ----------------------------------------------------------------------


def _tree_of(root: Path, config: str, arch: str) -> Path:
    """A configured in-tree build whose configuration names `arch` (written by the test)."""
    for d in ("include/linux", "include/generated", "include/config", f"arch/{arch}/include/generated"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 1\n")
    (root / "include/linux/kconfig.h").write_text("")
    (root / "include/generated/autoconf.h").write_text("")
    (root / "include/config/auto.conf").write_text(config)
    return root


@pytest.mark.parametrize(
    ("config", "arch", "message"),
    [
        ("CONFIG_RISCV=y\nCONFIG_64BIT=y\n", "riscv",
         "architecture riscv (CONFIG_RISCV in include/config/auto.conf) is not supported: "
         "gupcheck parses x86_64 and arm64 trees"),
        ("CONFIG_X86_32=y\nCONFIG_X86=y\n", "x86",
         "architecture i386 (CONFIG_X86_32 in include/config/auto.conf) is not supported"),
        ("CONFIG_64BIT=y\n", "", "cannot tell the tree's architecture"),
    ],
)  # fmt: skip
def test_unsupported_tree_is_refused_in_one_line(
    tmp_path: Path, config: str, arch: str, message: str
) -> None:
    root = _tree_of(tmp_path / "linux", config, arch or "none")
    if not arch:
        (root / "arch" / "none" / "include" / "generated").rmdir()
    with pytest.raises(ConfigError) as refused:
        KernelTree.detect(str(root))
    assert str(refused.value).startswith(f"kernel dir {root}: {message}")
    assert "\n" not in str(refused.value)


def test_unsupported_tree_on_the_command_line_exits_2(tmp_path: Path) -> None:
    root = _tree_of(tmp_path / "linux", "CONFIG_RISCV=y\n", "riscv")
    result = gupcheck("--kernel-dir", str(root), str(TESTDATA / "example"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"kernel dir {root}: architecture riscv" in lines[0]
