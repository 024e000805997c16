"""The architecture and version of a kernel build tree, and the Kbuild flags they imply.

Kbuild compiles a module's C file with (``scripts/Makefile.lib``, ``c_flags``): ``-nostdinc``; the
include folders of ``LINUXINCLUDE`` (``arch/$(SRCARCH)/include``, its ``generated`` form,
``include``, and their ``uapi`` forms); the forced includes; ``KBUILD_CPPFLAGS`` and
``KBUILD_CFLAGS``, which the top ``Makefile`` and ``arch/$(SRCARCH)/Makefile`` build from the tree's
configuration (``include/config/auto.conf``). Of those flags gupcheck keeps the ones that change how
the code parses: the target (clang's ``--target``, which also sets ``__x86_64__``/``__aarch64__``),
the C dialect, the machine flags that set or clear predefined macros (``-mno-sse``, ``-mcmodel=kernel``,
``-mgeneral-regs-only``, endianness), the ``-f`` flags that change the language (``-fshort-wchar``,
``-funsigned-char``, ...) and the ``-D`` defines of the arch Makefile. Flags for the generated code
(``-O2``, ``-pg``, ``-mindirect-branch=``, ``-mbranch-protection=``, stack protector, alignment) and
gcc's warning switches are left out; of those only ``-O2`` is seen by the preprocessor
(``__OPTIMIZE__``: without it the string functions are parsed unfortified, as gupcheck always has).

Everything here is read from the tree, without running make or a compiler (`detect_arch`):

* the architecture from the configuration (``CONFIG_X86_64``, ``CONFIG_ARM64``, ... in
  ``include/config/auto.conf``, else ``.config``, else ``include/generated/autoconf.h``); failing
  that Debian's ``.kernelvariables`` (``override ARCH = arm64``), the one
  ``arch/*/include/generated`` folder of the build tree, or a Debian package folder's name
  (``linux-headers-V-arm64``);
* the version (``VERSION``/``PATCHLEVEL`` of the source tree's Makefile), which decides
  ``-std=gnu11`` (5.18 on; ``gnu89`` before) and ``-funsigned-char`` (6.2 on);
* the configuration options the arch Makefiles test (``CONFIG_FUNCTION_TRACER``,
  ``CONFIG_CPU_BIG_ENDIAN``, ``CONFIG_DYNAMIC_FTRACE_WITH_*``, ``CONFIG_KASAN_*``,
  ``CONFIG_AS_HAS_ARMV8_*``).

The flags of each architecture are gupcheck's reading of Kbuild's arch Makefiles, checked against the
command lines Kbuild itself prints (``make -n``) for Debian's 6.1 and 6.12 trees of both
architectures (tests/test_tree_arch.py). Supported: x86_64 and arm64 (little and big endian). Any
other architecture, 32-bit x86 included, is refused with one line (`UnsupportedTree`). Flags that
Kbuild decides by testing the compiler (``cc-option``) are taken as the compiler of the tree's
configuration has them (gcc for Debian's trees).

This module never imports libclang and runs no process.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

MAX_CONFIG_BYTES = 16 << 20  # a configuration larger than this is refused (real ones: ~0.3 MiB)
MAX_MAKEFILE_BYTES = 64 << 10  # the head of a Makefile read for VERSION/PATCHLEVEL
MAX_ARCH_FOLDERS = 256  # entries of <build>/arch read when looking for arch/*/include/generated


class UnsupportedTree(ValueError):
    """The tree's architecture cannot be told or is not one gupcheck parses. The message is one line
    (without the ``kernel dir X:`` prefix, which the caller adds)."""


@dataclass(frozen=True)
class TreeArch:
    """What a kernel tree's architecture and version mean for parsing its code."""

    name: str  # "x86_64", "arm64"
    srcarch: str  # Kbuild's SRCARCH: the folder under arch/ ("x86", "arm64")
    target: str  # clang's target triple
    std: str  # the C dialect flag ("-std=gnu11")
    flags: tuple[str, ...]  # Kbuild's flags that change how code parses, in Kbuild's groups
    version: tuple[int, int] | None = None  # (VERSION, PATCHLEVEL) of the tree, when known
    found_by: str = ""  # how the architecture was told, for messages

    def describe(self) -> str:
        """One line for the user: "arm64 (aarch64-linux-gnu), Linux 6.1"."""
        version = f", Linux {self.version[0]}.{self.version[1]}" if self.version else ""
        return f"{self.name} ({self.target}){version}"


# The architecture a Kconfig symbol names, the first set in the configuration wins. UML comes first:
# a UML configuration for x86 sets CONFIG_X86_64 too.
_ARCH_SYMBOLS: tuple[tuple[str, str], ...] = (
    ("CONFIG_UML", "um"),
    ("CONFIG_ARM64", "arm64"),
    ("CONFIG_X86_64", "x86_64"),
    ("CONFIG_X86_32", "i386"),
    ("CONFIG_X86", "x86_64"),
    ("CONFIG_ARM", "arm"),
    ("CONFIG_RISCV", "riscv"),
    ("CONFIG_PPC", "powerpc"),
    ("CONFIG_S390", "s390"),
    ("CONFIG_MIPS", "mips"),
    ("CONFIG_LOONGARCH", "loongarch"),
    ("CONFIG_SPARC", "sparc"),
    ("CONFIG_PARISC", "parisc"),
    ("CONFIG_ALPHA", "alpha"),
    ("CONFIG_IA64", "ia64"),
    ("CONFIG_M68K", "m68k"),
    ("CONFIG_SUPERH", "sh"),
    ("CONFIG_ARC", "arc"),
    ("CONFIG_CSKY", "csky"),
    ("CONFIG_HEXAGON", "hexagon"),
    ("CONFIG_MICROBLAZE", "microblaze"),
    ("CONFIG_NIOS2", "nios2"),
    ("CONFIG_OPENRISC", "openrisc"),
    ("CONFIG_XTENSA", "xtensa"),
)
# Kbuild's ARCH= (Debian's .kernelvariables, an arch/*/include/generated folder) -> the name above.
# x86 alone does not say 32 or 64 bits: without a configuration that says, 64 is assumed.
_ARCH_FOLDERS = {"x86": "x86_64", "x86_64": "x86_64", "i386": "i386", "arm64": "arm64", "um": "um"}
# The flavour suffix of a Debian linux-headers package folder -> the name above.
_DEBIAN_FLAVOURS = {
    "amd64": "x86_64",
    "cloud-amd64": "x86_64",
    "rt-amd64": "x86_64",
    "arm64": "arm64",
    "arm64-16k": "arm64",
    "cloud-arm64": "arm64",
    "rt-arm64": "arm64",
    "686": "i386",
    "686-pae": "i386",
    "armmp": "arm",
    "armmp-lpae": "arm",
    "powerpc64le": "powerpc",
    "s390x": "s390",
    "riscv64": "riscv",
    "loongson-3": "mips",
}
SUPPORTED = ("x86_64", "arm64")

_CONFIG_FILES = ("include/config/auto.conf", ".config", "include/generated/autoconf.h")
_KCONFIG_LINE = re.compile(r"^(CONFIG_\w+)=(.*)$", re.MULTILINE)
_AUTOCONF_LINE = re.compile(r"^#define (CONFIG_\w+) (.*)$", re.MULTILINE)
_KERNELVARIABLES_ARCH = re.compile(r"^\s*(?:override\s+)?ARCH\s*:?=\s*(\S+)\s*$", re.MULTILINE)
_MAKEFILE_VERSION = re.compile(r"^(VERSION|PATCHLEVEL)\s*=\s*(\d+)\s*$", re.MULTILINE)
_RELEASE_VERSION = re.compile(r"^(\d+)\.(\d+)")


def read_kconfig(build_dir: str) -> tuple[dict[str, str], str] | None:
    """The tree's configuration (``CONFIG_X`` -> ``y``/``m``/value, unset options absent) and the file
    it was read from, or None when none of auto.conf, .config, autoconf.h is readable. Raises
    UnsupportedTree for a file larger than `MAX_CONFIG_BYTES`."""
    for rel in _CONFIG_FILES:
        path = os.path.join(build_dir, rel)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read(MAX_CONFIG_BYTES + 1)
        except OSError:
            continue
        if len(text) > MAX_CONFIG_BYTES:
            raise UnsupportedTree(f"{rel} is larger than {MAX_CONFIG_BYTES >> 20} MiB: not read")
        if rel.endswith(".h"):
            config = {}
            for name, value in _AUTOCONF_LINE.findall(text):
                if name.endswith("_MODULE") and value.strip() == "1":
                    config[name[: -len("_MODULE")]] = "m"
                else:
                    config[name] = "y" if value.strip() == "1" else value.strip()
            return config, rel
        return {name: value.strip() for name, value in _KCONFIG_LINE.findall(text)}, rel
    return None


def tree_version(source_dir: str, release: str = "") -> tuple[int, int] | None:
    """(VERSION, PATCHLEVEL) from the source tree's Makefile, else from the release string."""
    try:
        with open(os.path.join(source_dir, "Makefile"), encoding="utf-8", errors="replace") as f:
            head = f.read(MAX_MAKEFILE_BYTES)
    except OSError:
        head = ""
    found = dict(_MAKEFILE_VERSION.findall(head))
    if "VERSION" in found and "PATCHLEVEL" in found:
        return int(found["VERSION"]), int(found["PATCHLEVEL"])
    m = _RELEASE_VERSION.match(release)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _arch_from_files(build_dir: str, cut: list[str]) -> tuple[str, str] | None:
    """(architecture, how it was told) without a configuration that names it; a bound that stopped
    the look at arch/ short goes to `cut`."""
    try:
        with open(os.path.join(build_dir, ".kernelvariables"), encoding="utf-8", errors="replace") as f:
            m = _KERNELVARIABLES_ARCH.search(f.read(MAX_MAKEFILE_BYTES))
    except OSError:
        m = None
    if m:
        return _ARCH_FOLDERS.get(m.group(1), m.group(1)), f"ARCH = {m.group(1)} in .kernelvariables"
    generated: list[str] = []
    try:
        with os.scandir(os.path.join(build_dir, "arch")) as entries:
            for n, entry in enumerate(entries):
                if n >= MAX_ARCH_FOLDERS:
                    cut.append(f"arch/ has more than {MAX_ARCH_FOLDERS} entries: only the first were read")
                    break
                if os.path.isdir(os.path.join(entry.path, "include", "generated")):
                    generated.append(entry.name)
    except OSError:
        pass
    if len(generated) == 1:
        name = generated[0]
        return _ARCH_FOLDERS.get(name, name), f"arch/{name}/include/generated"
    flavour = re.match(r"^linux-headers-\d[^-]*(?:-\d+)?-(.+)$", os.path.basename(build_dir))
    if flavour and flavour.group(1) in _DEBIAN_FLAVOURS:
        return _DEBIAN_FLAVOURS[flavour.group(1)], f"the package name {os.path.basename(build_dir)}"
    return None


def detect_arch(build_dir: str, source_dir: str, release: str = "") -> TreeArch:
    """The architecture, version and parse flags of a configured tree (module docstring). Raises
    UnsupportedTree with a one-line reason when the architecture cannot be told, is not supported, or
    has no headers in the source tree."""
    read = read_kconfig(build_dir)
    config, config_file = read if read is not None else ({}, "")
    told = next(((arch, f"{sym} in {config_file}") for sym, arch in _ARCH_SYMBOLS if sym in config), None)
    cut: list[str] = []
    if told is None:
        told = _arch_from_files(build_dir, cut)
    if told is None:
        raise UnsupportedTree(
            "cannot tell the tree's architecture (no CONFIG_<ARCH> in include/config/auto.conf, "
            f".config or autoconf.h, no arch/*/include/generated{'; ' + cut[0] if cut else ''})"
        )
    name, found_by = told
    if name not in SUPPORTED:
        raise UnsupportedTree(
            f"architecture {name} ({found_by}) is not supported: gupcheck parses x86_64 and arm64 trees"
        )
    srcarch = "x86" if name == "x86_64" else name
    if not os.path.isdir(os.path.join(source_dir, "arch", srcarch, "include")):
        raise UnsupportedTree(f"no arch/{srcarch}/include in {source_dir} for this {name} tree")
    version = tree_version(source_dir, release)
    return arch_for(name, config, version, found_by)


def arch_for(
    name: str, config: dict[str, str], version: tuple[int, int] | None, found_by: str = ""
) -> TreeArch:
    """The `TreeArch` of a supported architecture `name` under a configuration and version."""

    def on(*symbols: str) -> bool:
        return any(config.get(s) in ("y", "m") for s in symbols)

    new = version is None or version >= (5, 18)
    std = "-std=gnu11" if new else "-std=gnu89"
    # The top Makefile's language flags (KBUILD_CFLAGS), then the arch's, then the top Makefile's
    # later ones, then the defines, then the warnings.
    head = ["-fno-strict-aliasing", "-fno-common", "-fshort-wchar", "-fno-PIE"]
    if version is not None and version >= (6, 2):
        head.append("-funsigned-char")  # "char is unsigned on every architecture" since 6.2
    tail = ["-fno-delete-null-pointer-checks", "-fno-strict-overflow"]
    defines: list[str] = []
    if on("CONFIG_FUNCTION_TRACER") and on("CONFIG_HAVE_FENTRY"):
        defines.append("-DCC_USING_FENTRY")  # top Makefile, with -mfentry; asm/ftrace.h needs it
    if name == "x86_64":
        target = "x86_64-linux-gnu"
        machine = ["-m64", "-mno-sse", "-mno-mmx", "-mno-sse2", "-mno-3dnow", "-mno-avx"]
        machine += ["-mno-80387", "-mno-red-zone", "-mcmodel=kernel"]
    else:  # arm64: arch/arm64/Makefile
        big = on("CONFIG_CPU_BIG_ENDIAN")
        target = "aarch64_be-linux-gnu" if big else "aarch64-linux-gnu"
        machine = ["-mbig-endian" if big else "-mlittle-endian", "-mgeneral-regs-only"]
        ftrace = ("CONFIG_DYNAMIC_FTRACE_WITH_REGS", "CONFIG_DYNAMIC_FTRACE_WITH_ARGS")
        if on(*ftrace, "CONFIG_DYNAMIC_FTRACE_WITH_CALL_OPS"):
            defines.append("-DCC_USING_PATCHABLE_FUNCTION_ENTRY")
        shift = "4" if on("CONFIG_KASAN_SW_TAGS") else "3" if on("CONFIG_KASAN_GENERIC") else ""
        defines.append(f"-DKASAN_SHADOW_SCALE_SHIFT={shift}")
        # Kbuild's probe of the compiler for the "K" asm constraint: gcc and clang 18 have it.
        defines.append("-DCONFIG_CC_HAS_K_CONSTRAINT=1")
        # The newest of the assembler's levels (6.1 reaches 8.3 through CONFIG_AS_HAS_PAC).
        pac = on("CONFIG_ARM64_PTR_AUTH_KERNEL") and on("CONFIG_AS_HAS_PAC")
        levels = {5: on("CONFIG_AS_HAS_ARMV8_5"), 4: on("CONFIG_AS_HAS_ARMV8_4")}
        levels |= {3: on("CONFIG_AS_HAS_ARMV8_3") or pac, 2: on("CONFIG_AS_HAS_ARMV8_2")}
        asm_arch = next((f"armv8.{n}-a" for n, has in levels.items() if has), None)
        if asm_arch:
            defines.append(f'-DARM64_ASM_ARCH="{asm_arch}"')
    warnings = [
        "-Wno-address-of-packed-member",
        "-Wno-pointer-sign",
        "-Wno-sign-compare",
        "-Wno-frame-address",
        "-Wno-format-security",
        "-Wno-trigraphs",
        "-Wno-gnu",  # Kbuild adds it for clang (scripts/Makefile.extrawarn)
    ]
    flags = tuple(head + machine + tail + defines + warnings)
    srcarch = "x86" if name == "x86_64" else name
    return TreeArch(name, srcarch, target, std, flags, version, found_by)


# Debian's 6.1 amd64 configuration as far as the flags above look at it: the architecture of a
# `KernelTree` made without `detect` (tests, callers that know their tree).
DEFAULT_ARCH = arch_for(
    "x86_64", {"CONFIG_FUNCTION_TRACER": "y", "CONFIG_HAVE_FENTRY": "y"}, (6, 1), "default"
)
