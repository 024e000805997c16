"""Build configuration: the compiler flags each file is parsed with.

Four modes (`HeaderMode`), chosen per file by `BuildConfig.config_for` / `configure`:

* ``COMPILE_COMMANDS``: the file has an entry in a ``compile_commands.json`` given with ``-p``
  (a file, or a directory holding one, as clang-tidy takes it). Its flags are used after removing what
  libclang cannot or should not see (the compiler, ``-c``, ``-o``, dependency-file flags, gcc-only
  options; see `clang_args_from_command`). Whether the file is kernel code is decided by
  ``-D__KERNEL__`` in those flags.
* ``KERNEL_TREE``: kernel code, and a kernel build tree resolved (``--kernel-dir``, else the
  ``GUPCHECK_KERNEL_DIR`` environment variable, else the compile database's tree, the running kernel's
  ``/lib/modules/$(uname -r)/build`` or the newest installed one: `kerneltrees.find_kernel_tree`):
  Kbuild's own include dirs, forced includes and defines (`KernelTree.args`).
* ``KERNEL_MODEL``: kernel code and no kernel tree: gupcheck's bundled model of the kernel API
  (`model_args`), so a user with nothing installed still gets results.
* ``SYSTEM``: userland code: the system headers (`userland_args`).

Kernel or userland is decided from the flags when a compile database has the file, else from the
file's includes and markers (`classify_side`).

Clang's builtin headers (stddef.h, stdarg.h, ...) come from an installed clang or, failing that, gcc
(`builtin_include_dir`), because the libclang wheel ships none.

This module never imports libclang: it only computes argument lists.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gupcheck.frontend.includes import IncludeRepairer
from gupcheck.frontend.kbuild import KbuildReader
from gupcheck.frontend.kernelarch import DEFAULT_ARCH, TreeArch, UnsupportedTree, detect_arch
from gupcheck.model.facts import HeaderMode, Side
from gupcheck.storage import file_identity, read_entry, write_entry

if TYPE_CHECKING:
    from gupcheck.frontend.kerneltrees import Resolution, SearchRoots
    from gupcheck.frontend.userflags import UserFlags


@dataclass(frozen=True)
class FileConfig:
    path: str  # absolute path of the source file
    args: tuple[str, ...]  # clang arguments, without the file name
    mode: HeaderMode
    side: Side
    directory: str  # working directory for relative include paths


class ConfigError(Exception):
    """A build configuration the user gave cannot be used (bad --kernel-dir, unreadable or malformed
    compile database). The message is one line and names the offending path."""


TARGET = "x86_64-linux-gnu"
ENV_KERNEL_DIR = "GUPCHECK_KERNEL_DIR"


# ---------------------------------------------------------------------------------------------------
# Builtin headers and the bundled model


def _run_first_line(argv: list[str]) -> str | None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    out = proc.stdout.strip().splitlines()
    return out[0].strip() if out else None


# The compilers asked for their builtin headers, in order: an installed clang's, else gcc's.
_CLANGS = ("clang", "clang-18", "clang-19", "clang-17", "clang-16", "clang-15", "clang-14")
_GCCS = ("gcc", "cc", "gcc-14", "gcc-13", "gcc-12")
_BUILTIN_ENTRY = "builtin-include"  # the remembered answer, in the cache directory
_BUILTIN_MAGIC = b"gupcheck-builtin-include-v1\n"
_builtin_answer: list[str | None] = []  # the answer, once known in this process
_Compiler = tuple[str, str, tuple[int, int] | None]  # name, path on PATH, (size, mtime)


def builtin_include_dir(cache_dir: str | os.PathLike[str] | None = None) -> str | None:
    """The compiler's builtin header directory (stddef.h, stdarg.h, ...), or None if none is found.

    Clang's (``clang -print-resource-dir``/include) when a clang is installed, else gcc's
    (``gcc -print-file-name=include``). Asking a compiler takes a process: the answer is kept for the
    life of the process and, given `cache_dir`, in ``<cache_dir>/builtin-include`` for later runs,
    as long as the compilers on PATH are the same files (path, size, modification time) and the
    headers checked on the way are still there or still missing.
    """
    if not _builtin_answer:
        _builtin_answer.append(_find_builtin_include_dir(cache_dir))
    return _builtin_answer[0]


def _find_builtin_include_dir(cache_dir: str | os.PathLike[str] | None) -> str | None:
    compilers: tuple[_Compiler, ...] = tuple(
        (name, exe, file_identity(exe)) for name in (*_CLANGS, *_GCCS) if (exe := shutil.which(name))
    )
    entry = Path(cache_dir) / _BUILTIN_ENTRY if cache_dir is not None else None
    stored = read_entry(entry, _BUILTIN_MAGIC) if entry is not None else None
    if isinstance(stored, tuple) and len(stored) == 3 and stored[0] == compilers:
        _compilers, checked, answer = stored
        if all(os.path.isfile(header) == present for header, present in checked):
            return answer
    answer, checked = _ask_compilers(compilers)
    if entry is not None:
        write_entry(entry, (compilers, checked, answer), _BUILTIN_MAGIC)
    return answer


def _ask_compilers(compilers: tuple[_Compiler, ...]) -> tuple[str | None, list[tuple[str, bool]]]:
    """The first builtin header directory a compiler names that holds stddef.h, and the stddef.h
    paths checked on the way (with whether each was there)."""
    checked: list[tuple[str, bool]] = []
    for name, exe, _identity in compilers:
        if name in _CLANGS:
            resource = _run_first_line([exe, "-print-resource-dir"])
            include = os.path.join(resource, "include") if resource else None
        else:
            include = _run_first_line([exe, "-print-file-name=include"])
            if include and not os.path.isabs(include):
                include = None  # gcc echoes the bare name back when it does not know the file
        if include:
            stddef = os.path.join(include, "stddef.h")
            checked.append((stddef, os.path.isfile(stddef)))
            if checked[-1][1]:
                return include, checked
    return None, checked


def _builtin_args() -> list[str]:
    inc = builtin_include_dir()
    return ["-isystem", inc] if inc else []


def model_include_dir() -> str:
    """The bundled kernel API model: package data folder ``gupcheck/kernel_model/include``."""
    return str(Path(__file__).resolve().parent.parent / "kernel_model" / "include")


def _stem(path: str) -> str:
    """Kbuild's basename for a source file: the name without directory and suffix, with '-' kept
    as Kbuild keeps it in KBUILD_BASENAME (it only substitutes in __KBUILD_MODNAME)."""
    return Path(path).stem


def _kbuild_name_defines(path: str) -> list[str]:
    stem = _stem(path)
    # Kbuild passes -DKBUILD_BASENAME='"stem"': the macro value includes the double quotes.
    return [f'-DKBUILD_MODNAME="{stem}"', f'-DKBUILD_BASENAME="{stem}"']


def model_args(path: str) -> list[str]:
    """Arguments for KERNEL_MODEL mode (the bundled kernel API model)."""
    model = model_include_dir()
    args = ["-x", "c", "-std=gnu11", f"--target={TARGET}", "-nostdinc"]
    args += _builtin_args()
    args += ["-I", model, "-include", os.path.join(model, "linux", "compiler_types.h")]
    args += ["-D__KERNEL__", "-DMODULE"]
    args += _kbuild_name_defines(path)
    return args


def userland_args(path: str | None = None) -> list[str]:
    """Arguments for SYSTEM mode (userland: the system headers from /usr/include)."""
    return ["-x", "c", "-std=gnu11"] + _builtin_args()


# ---------------------------------------------------------------------------------------------------
# Kernel build trees

# Kbuild's LINUXINCLUDE + USERINCLUDE (3.7 to 6.12), in Kbuild's order, with {arch} for SRCARCH. The
# flag says which half of a split tree holds the directory: "src" = the source tree (Debian's
# -common), "obj" = the build tree (Debian's -amd64, which holds the generated files and the .config).
_KBUILD_INCLUDE_DIRS: tuple[tuple[str, str], ...] = (
    ("src", "arch/{arch}/include"),
    ("obj", "arch/{arch}/include/generated"),
    ("src", "include"),
    ("obj", "include"),
    ("src", "arch/{arch}/include/uapi"),
    ("obj", "arch/{arch}/include/generated/uapi"),
    ("src", "include/uapi"),
    ("obj", "include/generated/uapi"),
)

# Kbuild's C flags that change how the code parses (target, dialect, machine flags, defines) come from
# the tree's architecture, version and configuration: `kernelarch.detect_arch`.

_MAKEFILE_INCLUDE = re.compile(r"^\s*-?include\s+(\S+)/Makefile\s*$", re.MULTILINE)


@dataclass(frozen=True)
class KernelTree:
    """A configured kernel build tree (x86_64 or arm64: ``arch``, see `kernelarch.detect_arch`).

    ``build_dir`` is Kbuild's objtree (where the .config and include/generated live); ``source_dir`` its
    srctree. They are the same directory for an in-tree build. Debian's linux-headers packages split
    them: ``/usr/src/linux-headers-V-amd64`` (objtree, whose Makefile includes the ``-common`` sibling's)
    and ``/usr/src/linux-headers-V-common`` (srctree).
    """

    build_dir: str
    source_dir: str
    release: str = ""  # UTS_RELEASE, e.g. "6.1.0-56-amd64"
    arch: TreeArch = DEFAULT_ARCH  # architecture, version and Kbuild's parse flags

    @classmethod
    def detect(cls, directory: str) -> KernelTree:
        """Recognise a kernel build tree in `directory`; raise ConfigError saying what is missing."""
        raw = directory
        if not os.path.exists(directory):
            raise ConfigError(f"kernel dir {raw}: no such directory")
        if not os.path.isdir(directory):
            raise ConfigError(f"kernel dir {raw}: not a directory")
        build = os.path.realpath(directory)
        if not os.path.isfile(os.path.join(build, "Makefile")):
            raise ConfigError(f"kernel dir {raw}: not a kernel build tree (no Makefile)")
        source = _find_source_dir(build)
        if source is None:
            raise ConfigError(
                f"kernel dir {raw}: kernel sources not found (no include/linux/kconfig.h here, "
                "through a 'source' link, or in the tree its Makefile includes)"
            )
        autoconf = os.path.join(build, "include", "generated", "autoconf.h")
        if not os.path.isfile(autoconf):
            raise ConfigError(
                f"kernel dir {raw}: not a configured build tree (include/generated/autoconf.h missing; "
                "run 'make modules_prepare')"
            )
        release = _read_release(build)
        try:
            arch = detect_arch(build, source, release)
        except UnsupportedTree as e:
            raise ConfigError(f"kernel dir {raw}: {e}") from None
        return cls(build_dir=build, source_dir=source, release=release, arch=arch)

    @property
    def split(self) -> bool:
        return self.build_dir != self.source_dir

    @property
    def auto_conf(self) -> str:
        """Kconfig's answers as make reads them (the Kbuild reader's CONFIG_ values)."""
        return os.path.join(self.build_dir, "include", "config", "auto.conf")

    def include_dirs(self) -> list[str]:
        """Kbuild's include dirs, in Kbuild's order, that exist in this tree."""
        dirs: list[str] = []
        for half, rel in _KBUILD_INCLUDE_DIRS:
            base = self.source_dir if half == "src" else self.build_dir
            if half == "obj" and rel == "include" and not self.split:
                continue  # Kbuild adds -I$(objtree)/include once for an in-tree build
            d = os.path.join(base, rel.format(arch=self.arch.srcarch))
            if os.path.isdir(d) and d not in dirs:
                dirs.append(d)
        return dirs

    def forced_includes(self) -> list[str]:
        """The headers Kbuild force-includes (-include), those that exist in this version."""
        out = []
        for name in ("compiler-version.h", "kconfig.h", "compiler_types.h"):
            for base in (self.source_dir, self.build_dir):
                p = os.path.join(base, "include", "linux", name)
                if os.path.isfile(p):
                    out.append(p)
                    break
        return out

    def args(self, path: str) -> list[str]:
        """Arguments for KERNEL_TREE mode for the source file `path`."""
        args = ["-x", "c", self.arch.std, f"--target={self.arch.target}", "-nostdinc"]
        args += _builtin_args()
        for d in self.include_dirs():
            args += ["-I", d]
        for h in self.forced_includes():
            args += ["-include", h]
        args += ["-D__KERNEL__", "-DMODULE"]
        args += _kbuild_name_defines(path)
        args.append("-D__KBUILD_MODNAME=kmod_" + re.sub(r"[^A-Za-z0-9_]", "_", _stem(path)))
        args += self.arch.flags
        return args


def _is_source_tree(d: str) -> bool:
    return os.path.isfile(os.path.join(d, "include", "linux", "kconfig.h"))


def _find_source_dir(build: str) -> str | None:
    # 1. A full out-of-tree build (and /lib/modules/V/build) has a 'source' link to the srctree.
    src_link = os.path.join(build, "source")
    if os.path.isdir(src_link) and _is_source_tree(src_link):
        return os.path.realpath(src_link)
    # 2. The Makefile of Debian's -amd64 headers (and of a Kbuild O= output dir) includes the srctree's.
    try:
        with open(os.path.join(build, "Makefile"), encoding="utf-8", errors="replace") as f:
            text = f.read(65536)
    except OSError:
        text = ""
    for m in _MAKEFILE_INCLUDE.finditer(text):
        cand = m.group(1)
        if "$" in cand:
            continue
        cand = os.path.realpath(os.path.join(build, cand))
        if cand != build and _is_source_tree(cand):
            return cand
    # 3. An in-tree build.
    if _is_source_tree(build):
        return build
    # 4. Debian's naming convention, if the Makefile did not say: linux-headers-V-FLAVOUR -> -common.
    debian = re.match(r"^(linux-headers-.+?)-[^-]+$", os.path.basename(build))
    if debian:
        cand = os.path.join(os.path.dirname(build), debian.group(1) + "-common")
        if _is_source_tree(cand):
            return os.path.realpath(cand)
    return None


def _read_release(build: str) -> str:
    try:
        with open(os.path.join(build, "include", "generated", "utsrelease.h"), encoding="utf-8") as f:
            m = re.search(r'UTS_RELEASE\s+"([^"]*)"', f.read())
            if m:
                return m.group(1)
    except OSError:
        pass
    try:
        with open(os.path.join(build, "include", "config", "kernel.release"), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def resolve_kernel_dir(explicit: str | None, notes: list[str] | None = None) -> KernelTree | None:
    """The kernel build tree to parse kernel code with, or None (then the bundled model is used).

    In order: `explicit` (``--kernel-dir``), the ``GUPCHECK_KERNEL_DIR`` environment variable,
    ``/lib/modules/$(uname -r)/build``, then the trees installed for other kernels, the newest first
    (see `kerneltrees.find_kernel_tree`, which also takes a compile database). A given directory
    (explicit or from the environment) that is not a usable tree raises ConfigError. The notes for the
    user (which tree was found, or where gupcheck looked) go to `notes`.
    """
    from gupcheck.frontend.kerneltrees import find_kernel_tree

    found = find_kernel_tree(explicit)
    if notes is not None:
        notes.extend(found.notes)
    return found.tree


# ---------------------------------------------------------------------------------------------------
# compile_commands.json

# gcc options clang rejects ("unknown argument", "unsupported option": an error diagnostic in every
# TU) or warns about ("unknown warning option", "optimization flag ... is not supported"), taken from
# Kbuild 6.1 command lines (x86_64, gcc 12) and checked one by one against libclang 18.1.
_GCC_ONLY_EXACT = frozenset(
    {
        "-mindirect-branch-register",
        "-fno-allow-store-data-races",
        "-fallow-store-data-races",
        "-fconserve-stack",
        "-mrecord-mcount",
        "-mnop-mcount",
        "-fno-var-tracking-assignments",
        "-fvar-tracking-assignments",
        "-fno-inline-functions-called-once",
        "-fno-partial-inlining",
        "-fno-reorder-blocks",
        "-fno-code-hoisting",
        "-fsched-pressure",
        "-fno-schedule-insns",
        "-fno-schedule-insns2",
        "-fno-guess-branch-probability",
        "-fsanitize=bounds-strict",
        "-maccumulate-outgoing-args",
    }
)
_GCC_ONLY_PREFIXES = (
    "-mindirect-branch=",
    "-mpreferred-stack-boundary=",
    "-mincoming-stack-boundary=",
    "-fmin-function-alignment=",
    "-falign-jumps=",
    "-falign-labels=",
    "-mabi=",
    "-fno-ipa-",
    "-fipa-",
    "-fno-tree-",
    "-ftree-",
    "-fasan-shadow-offset=",
    "-fplugin=",  # a gcc plugin: clang would dlopen it into this process
    "-fplugin-arg-",
    "--param=",
    "-gz",
    "-Wl,",
)
# gcc warning names clang does not know, in any -W form (-Wx, -Wno-x, -Werror=x, -Wx=N).
_GCC_ONLY_WARNINGS = frozenset(
    {
        "maybe-uninitialized",
        "alloc-size-larger-than",
        "packed-not-aligned",
        "designated-init",
        "dangling-pointer",
        "restrict",
        "enum-int-mismatch",
        "array-compare",
        "zero-length-bounds",
        "logical-op",
        "stringop-truncation",
        "stringop-overflow",
        "stringop-overread",
        "format-signedness",
        "suggest-attribute",
        "packed-bitfield-compat",
        "old-style-declaration",
        "missing-parameter-type",
        "jump-misses-init",
        "implicit-fallthrough",  # only its gcc form -Wimplicit-fallthrough=N (see below)
    }
)
_WARNING_FLAG = re.compile(r"^-W(?:no-|error=|no-error=)?([a-z0-9-]+)(=.*)?$")

# Options that take the next argument as their value, and whose pair is removed.
_DROP_WITH_VALUE = frozenset({"-o", "-MF", "-MT", "-MQ", "--param"})
_DROP_ALONE = frozenset({"-c", "-S", "-E", "-MD", "-MMD", "-MP", "-MG", "-M", "-MM", "-pipe"})
# Options whose following argument is a path, made absolute relative to the entry's directory.
_PATH_OPTIONS = ("-I", "-include", "-isystem", "-iquote", "-idirafter", "-imacros", "-isysroot", "--sysroot")
_COMPILER_WRAPPERS = frozenset({"ccache", "distcc", "sccache", "icecc"})
_SHELL_SEPARATORS = frozenset({";", "&&", "||", "|"})


def is_gcc_only_flag(arg: str) -> bool:
    """True for a gcc option that libclang rejects or warns about (it is dropped from the flags)."""
    if arg in _GCC_ONLY_EXACT or arg.startswith(_GCC_ONLY_PREFIXES):
        return True
    if arg.startswith("-Wp,-M"):  # -Wp,-MMD,dep-file / -Wp,-MD,dep-file
        return True
    m = _WARNING_FLAG.match(arg)
    if m:
        name, value = m.group(1), m.group(2)
        if name == "implicit-fallthrough":
            return value is not None  # -Wimplicit-fallthrough=5 is gcc's; the bare form is clang's too
        if name in _GCC_ONLY_WARNINGS or name.startswith("stringop-"):
            return True
    return False


def _absolute(path: str, directory: str) -> str:
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(directory, path))


def _split_command(command: str) -> list[str]:
    argv = shlex.split(command)
    for i, tok in enumerate(argv):
        if tok in _SHELL_SEPARATORS:
            return argv[:i]
        if tok.endswith(";"):  # "file.c;" with no space before the separator
            return argv[:i] + [tok[:-1]]
    return argv


def clang_args_from_command(argv: list[str], file: str, directory: str) -> list[str]:
    """Turn one compile command (argv, compiler first) into libclang arguments.

    Removed: the compiler (and a ccache-style wrapper), ``-c``/``-S``/``-E``, ``-o X``, the source
    file, dependency-file flags (``-MD -MMD -MP -MF X -MT X -MQ X -Wp,-MMD,X``) and the gcc-only
    options of `is_gcc_only_flag`. Relative paths of ``-I``/``-include``/``-isystem``/``-iquote``/...
    are made absolute against `directory`. Added: ``-isystem <builtin>`` (the libclang wheel has no
    builtin headers: right after ``-nostdinc`` when present, else after a userland entry's flags),
    ``--target=x86_64-linux-gnu`` when no target is given, and ``-Wno-unknown-warning-option`` (other
    gcc warning names then stay silent).
    """
    argv = list(argv)
    while argv and not argv[0].startswith("-") and os.path.basename(argv[0]) in _COMPILER_WRAPPERS:
        argv.pop(0)
    if argv and not argv[0].startswith("-"):
        argv.pop(0)  # the compiler
    file_abs = _absolute(file, directory)
    out: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a in _DROP_WITH_VALUE:
            i += 1
            continue
        if a in _DROP_ALONE:
            continue
        if a.startswith(("-MF", "-MT", "-MQ")) or (a.startswith("-o") and len(a) > 2):
            continue
        if is_gcc_only_flag(a):
            continue
        if a in _PATH_OPTIONS:
            if i < len(argv):
                out += [a, _absolute(argv[i], directory)]
                i += 1
            continue
        joined = next((p for p in ("-I", "-iquote", "-isystem", "-idirafter") if a.startswith(p)), None)
        if joined and len(a) > len(joined) and not a.startswith("-include"):
            out.append(joined + _absolute(a[len(joined) :], directory))
            continue
        if not a.startswith("-") and _absolute(a, directory) == file_abs:
            continue  # the source file itself
        out.append(a)
    inc = builtin_include_dir()
    if inc and "-nostdinc" in out:
        out[out.index("-nostdinc") + 1 : out.index("-nostdinc") + 1] = ["-isystem", inc]
    elif inc and not any(a in ("-D__KERNEL__", "-D__KERNEL__=1") for a in out):
        out += ["-isystem", inc]  # userland: after the entry's own -isystem, as the compiler has them
    if not any(a.startswith("--target=") or a == "-target" for a in out):
        out.insert(0, f"--target={TARGET}")
    out.append("-Wno-unknown-warning-option")
    return out


@dataclass(frozen=True)
class CompileEntry:
    file: str  # absolute, normalised
    directory: str
    args: tuple[str, ...]  # clang arguments (see clang_args_from_command)

    @property
    def side(self) -> Side:
        """Kernel code is compiled with -D__KERNEL__ (Kbuild always passes it)."""
        return (
            Side.KERNEL if any(a in ("-D__KERNEL__", "-D__KERNEL__=1") for a in self.args) else Side.USERLAND
        )


@dataclass
class CompilationDatabase:
    path: str  # the compile_commands.json file
    entries: dict[str, CompileEntry] = field(default_factory=dict)

    def lookup(self, path: str) -> CompileEntry | None:
        """The entry for a source file (by normalised absolute path, then by resolved path)."""
        p = os.path.normpath(os.path.abspath(path))
        entry = self.entries.get(p)
        if entry is None:
            entry = self.entries.get(os.path.realpath(p))
        return entry

    def __len__(self) -> int:
        return len(self.entries)


def load_compile_commands(path: str) -> CompilationDatabase:
    """Read a compile database: `path` is a ``compile_commands.json`` or a directory holding one.

    Entries need ``directory``, ``file`` and ``arguments`` (a list) or ``command`` (a shell string,
    split with shlex and cut at the first ``;``/``&&``/``|``). A later entry for the same file
    replaces an earlier one. Raises ConfigError naming the file and the problem.
    """
    db_path = path
    if os.path.isdir(path):
        db_path = os.path.join(path, "compile_commands.json")
    if not os.path.exists(db_path):
        raise ConfigError(
            f"{db_path}: no such file (expected a compile_commands.json or a directory holding one)"
        )
    try:
        with open(db_path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ConfigError(
            f"{db_path}: malformed compile database: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{db_path}: cannot read compile database: {e}") from None
    if not isinstance(data, list):
        raise ConfigError(f"{db_path}: malformed compile database: expected a JSON array of entries")
    db = CompilationDatabase(path=os.path.abspath(db_path))
    base = os.path.dirname(db.path)
    for n, entry in enumerate(data):
        where = f"{db_path}: entry {n}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected an object")
        for key in ("directory", "file"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ConfigError(f"{where}: missing or invalid '{key}'")
        directory = _absolute(entry["directory"], base)
        if "arguments" in entry:
            argv = entry["arguments"]
            if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv) or not argv:
                raise ConfigError(f"{where}: 'arguments' must be a non-empty list of strings")
        elif "command" in entry:
            if not isinstance(entry["command"], str):
                raise ConfigError(f"{where}: 'command' must be a string")
            try:
                argv = _split_command(entry["command"])
            except ValueError as e:
                raise ConfigError(f"{where}: cannot split 'command': {e}") from None
            if not argv:
                raise ConfigError(f"{where}: empty 'command'")
        else:
            raise ConfigError(f"{where}: missing 'arguments' or 'command'")
        file_abs = _absolute(entry["file"], directory)
        args = clang_args_from_command(argv, entry["file"], directory)
        db.entries[file_abs] = CompileEntry(file=file_abs, directory=directory, args=tuple(args))
    return db


# ---------------------------------------------------------------------------------------------------
# Kernel or userland

# Headers under linux/ and asm/ that exist in the uapi (installed in /usr/include by linux-libc-dev),
# so userland programs include them too: their presence alone does not make a file kernel code.
_UAPI_LINUX = frozenset(
    """
    types ioctl fs limits errno fcntl mman stat param posix_types stddef const swab byteorder
    capability sched time time_types signal wait uio un socket if in in6 ip ipv6 tcp udp netlink
    rtnetlink if_ether if_packet if_arp if_link if_tun if_vlan ethtool sockios net neighbour
    input input-event-codes uinput hidraw hiddev joystick serial termios tty loop fd cdrom hdreg
    blkzoned blkpg major kdev_t mount falloc fiemap userfaultfd memfd sysinfo utsname version
    perf_event hw_breakpoint bpf bpf_common filter seccomp ptrace prctl futex eventpoll inotify
    fanotify auxvec elf elf-em personality reboot random resource securebits audit aio_abi io_uring
    vfio vfio_ccw iommu kvm kvm_para virtio_ids virtio_config virtio_ring vhost vhost_types
    videodev2 v4l2-controls v4l2-common media dma-buf dma-heap udmabuf sync_file gpio i2c i2c-dev
    spi/spidev watchdog rtc pci pci_regs usbdevice_fs usb/ch9 usb/functionfs mmc/ioctl nvme_ioctl
    fb vt kd keyboard gfp_types magic stat time sysctl unistd vm_sockets if_alg if_xdp
    fsverity fscrypt nbd ublk_cmd kcov pidfd close_range openat2 sched/types misc/xilinx_sdfec
    android/binder genwqe/genwqe_card xen/privcmd fpga-dfl acrn psp-sev sev-guest
    """.split()
)
_UAPI_ASM = frozenset(
    """
    ioctl ioctls types posix_types byteorder errno fcntl mman param poll sembuf shmbuf msgbuf
    sigcontext siginfo signal socket sockios stat statfs termbits termios unistd auxvec bitsperlong
    ptrace ptrace-abi setup bootparam boot e820 kvm kvm_para mce mtrr perf_regs prctl processor-flags
    hw_breakpoint ldt debugreg vsyscall ist sgx amd_hsmp resource swab ucontext vm86 svm vmx
    """.split()
)
# Headers of the C library (or POSIX): kernel code never includes them.
_LIBC_HEADERS = frozenset(
    """
    stdio stdlib string strings unistd fcntl errno err signal pthread time assert ctype getopt
    locale setjmp math inttypes poll dirent dlfcn fnmatch glob grp pwd libgen limits malloc
    mqueue netdb regex sched search semaphore spawn syslog termios wchar wctype pty utmp
    arpa/inet netinet/in netinet/tcp
    """.split()
)
# Include directories that only the kernel's own include/ has.
_KERNEL_ONLY_DIRS = ("generated/", "trace/", "crypto/", "kunit/", "soc/", "acpi/", "clocksource/", "vdso/")
_INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.MULTILINE)
_KERNEL_MARKERS = re.compile(
    r"\b(?:MODULE_LICENSE|MODULE_AUTHOR|MODULE_DESCRIPTION|module_init|module_exit|"
    r"module_(?:platform|pci|usb|i2c|spi|misc|virtio)_driver|EXPORT_SYMBOL(?:_GPL)?|"
    r"__init|__exit|__initdata|late_initcall|subsys_initcall|device_initcall)\b"
)
_MAIN_RE = re.compile(r"^[ \t]*(?:(?:static|extern)\s+)?int\s+main\s*\(", re.MULTILINE)


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", "", text)


def _side_signals(text: str) -> tuple[bool, bool, bool, bool, list[str]]:
    """(kernel markers, userland markers, kernel-only include, uapi include, local includes)."""
    text = _strip_comments(text)
    kernel_marker = bool(_KERNEL_MARKERS.search(text))
    user_marker = bool(_MAIN_RE.search(text))
    kernel_include = uapi_include = False
    local: list[str] = []
    for m in _INCLUDE_RE.finditer(text):
        quote, name = m.group(1), m.group(2).strip()
        if quote == '"':
            local.append(name)
        stem = name[:-2] if name.endswith(".h") else name
        if stem in _LIBC_HEADERS or stem.startswith(("sys/", "bits/")):
            user_marker = True
        elif stem.startswith("linux/"):
            if stem[len("linux/") :] in _UAPI_LINUX:
                uapi_include = True
            else:
                kernel_include = True
        elif stem.startswith("asm/") or stem.startswith("asm-generic/"):
            if stem.split("/", 1)[1] in _UAPI_ASM:
                uapi_include = True
            else:
                kernel_include = True
        elif stem.startswith(_KERNEL_ONLY_DIRS):
            kernel_include = True
    return kernel_marker, user_marker, kernel_include, uapi_include, local


def classify_side(path: str, text: str) -> Side:
    """Decide whether a source file is kernel or userland code from its text.

    In order: kernel markers (``MODULE_LICENSE``, ``module_init``, ``EXPORT_SYMBOL``, ``__init``, ...)
    → kernel; userland markers (``int main(``, a C library or ``<sys/...>`` include) → userland; an
    include of a kernel-internal header (``<linux/...>``/``<asm/...>`` that is not a uapi header such as
    ``<linux/types.h>`` or ``<linux/ioctl.h>``) → kernel. Undecided files are decided by the local
    (``"..."``) headers they include, two levels deep; then a file that includes only uapi headers is
    userland, and a file with no signal at all is kernel (the driver side is what gupcheck is for).
    With a compile database, ``-D__KERNEL__`` decides instead (see `CompileEntry.side`).
    """
    side = _decide(path, text, depth=0, seen=set())
    return side if side is not None else Side.KERNEL


def _decide(path: str, text: str, depth: int, seen: set[str]) -> Side | None:
    kmark, umark, kinc, uinc, local = _side_signals(text)
    if kmark:
        return Side.KERNEL
    if umark:
        return Side.USERLAND
    if kinc:
        return Side.KERNEL
    if depth < 2:
        base = os.path.dirname(os.path.abspath(path))
        for name in local:
            hdr = os.path.normpath(os.path.join(base, name))
            if hdr in seen or not os.path.isfile(hdr):
                continue
            seen.add(hdr)
            try:
                with open(hdr, encoding="utf-8", errors="replace") as f:
                    sub = f.read(262144)
            except OSError:
                continue
            side = _decide(hdr, sub, depth + 1, seen)
            if side is not None:
                return side
    if uinc and depth == 0:
        return Side.USERLAND
    return None


# ---------------------------------------------------------------------------------------------------
# Putting it together


class BuildConfig:
    """Chooses the mode and flags for each file.

    ``compile_commands``: a compile database path (``-p``), or None. ``kernel_dir``: ``--kernel-dir``,
    or None to fall back to ``GUPCHECK_KERNEL_DIR`` and the running kernel's tree (see
    `resolve_kernel_dir`). Both raise ConfigError at construction if unusable. ``use_model``: parse
    kernel code with the built-in model even when a kernel tree exists (``--kernel-model``).
    ``cache_dir``: where the compiler's builtin header directory is remembered between runs (see
    `builtin_include_dir`), or None. ``user_flags``: the user's -I/-D/-U/--include/--extra-arg and
    their configuration keys (`userflags.UserFlags`), added to every file's flags. ``search``: where
    installed kernel trees are looked for (`kerneltrees.SearchRoots`; default: this machine's).

    Without ``--kernel-dir`` or ``GUPCHECK_KERNEL_DIR``, the kernel tree is searched for when the first
    kernel file needs it (`kerneltrees.find_kernel_tree`); ``notes`` then says which tree was found, or
    where gupcheck looked.
    """

    def __init__(
        self,
        *,
        compile_commands: str | None = None,
        kernel_dir: str | None = None,
        use_model: bool = False,
        cache_dir: str | None = None,
        user_flags: UserFlags | None = None,
        search: SearchRoots | None = None,
    ) -> None:
        from gupcheck.frontend.kerneltrees import Resolution, find_kernel_tree

        if cache_dir is not None:
            builtin_include_dir(cache_dir)  # the flags below then get the answer remembered there
        self.database = load_compile_commands(compile_commands) if compile_commands else None
        self.notes: list[str] = []  # for the user, printed unless -q
        self.user_flags = user_flags
        self._search = search
        self.kernel_resolution: Resolution | None = None  # None: not searched for yet
        self._kbuild: KbuildReader | None = None
        # missing include folders found in the file's tree; `include_repair.repairs_for(path)` says which
        self.include_repair = IncludeRepairer(self.notes)
        if use_model:
            self.kernel_resolution = Resolution(None, origin="--kernel-model")
        elif kernel_dir or os.environ.get(ENV_KERNEL_DIR):  # a bad folder is an error before any parse
            self.kernel_resolution = find_kernel_tree(kernel_dir, self.database, search)

    @property
    def kernel_tree(self) -> KernelTree | None:
        """The kernel tree kernel code is parsed with (None: the built-in model)."""
        if self.kernel_resolution is None:
            from gupcheck.frontend.kerneltrees import find_kernel_tree

            self.kernel_resolution = find_kernel_tree(None, self.database, self._search)
            self.notes += self.kernel_resolution.notes
        return self.kernel_resolution.tree

    @kernel_tree.setter
    def kernel_tree(self, tree: KernelTree | None) -> None:
        from gupcheck.frontend.kerneltrees import Resolution

        self.kernel_resolution = Resolution(tree, tree.build_dir if tree else "", "set")

    @property
    def kbuild(self) -> KbuildReader:
        """The driver makefiles' reader (`kbuild.KbuildReader`; ``flags_for(path)`` says which makefile
        gave a file's flags, ``module_sources(path)`` its module), for the kernel tree once `config_for`
        resolved it (a userland file alone does not make gupcheck look for a tree)."""
        tree = self.kernel_resolution.tree if self.kernel_resolution is not None else None
        if self._kbuild is None or self._kbuild.tree is not tree:
            self._kbuild = KbuildReader(tree)
        return self._kbuild

    def user_args(self, path: str) -> tuple[str, ...]:
        """The user's flags for `path` (added after all others)."""
        return tuple(self.user_flags.args_for(path)) if self.user_flags else ()

    def config_for(self, path: str, text: str | None = None) -> FileConfig:
        """The configuration of one file.

        A file in the compile database → COMPILE_COMMANDS (side from ``-D__KERNEL__``); else kernel code
        (`classify_side` on `text`, read from disk when None) → KERNEL_TREE if a kernel tree resolved,
        else KERNEL_MODEL; userland code → SYSTEM.
        """
        abspath = os.path.normpath(os.path.abspath(path))
        if self.database is not None:
            entry = self.database.lookup(abspath)
            if entry is not None:
                listed = entry.args + self.user_args(abspath)
                return FileConfig(abspath, listed, HeaderMode.COMPILE_COMMANDS, entry.side, entry.directory)
        if text is None:
            try:
                with open(abspath, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError:
                text = ""
        side = classify_side(abspath, text)
        if side is Side.USERLAND and self.kbuild.builds(abspath):  # a Kbuild object is kernel code
            side = Side.KERNEL
        directory = os.path.dirname(abspath)
        if side is Side.USERLAND:
            mode, args = HeaderMode.SYSTEM, userland_args(abspath)
        elif self.kernel_tree is not None:
            mode, args = HeaderMode.KERNEL_TREE, self.kernel_tree.args(abspath)
        else:
            mode, args = HeaderMode.KERNEL_MODEL, model_args(abspath)
        if side is Side.KERNEL:  # the driver's own Kbuild/Makefile flags (frontend/kbuild.py)
            args = self.kbuild.flags_for(abspath).around(args)
        args += self.include_repair.extra_args(abspath, text, [*args, *self.user_args(abspath)])
        args += self.user_args(abspath)  # the user's -I/-D/-U/--include/--extra-arg, last
        return FileConfig(abspath, tuple(args), mode, side, directory)


def configure(
    paths: list[str], *, compile_commands: str | None = None, kernel_dir: str | None = None
) -> list[FileConfig]:
    """`BuildConfig.config_for` for each path, in order (texts are read from disk)."""
    bc = BuildConfig(compile_commands=compile_commands, kernel_dir=kernel_dir)
    return [bc.config_for(p) for p in paths]
