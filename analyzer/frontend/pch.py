"""A shared precompiled header (PCH) of the kernel headers most drivers include.

Kernel headers dominate a driver's parse: 50k-100k preprocessed lines, of which the driver's own code
is a few thousand. `precompiled_header_for` builds, once per kernel tree and flag set, a PCH of `ROOTS`
and everything they include, with libclang itself (so its format is the one the parsing libclang
reads) and with the detailed preprocessing record, without which the macro names at call sites (the
analyser reads `get_user`, `FOLL_LONGTERM`, ... there) are lost. A parse given the PCH
(``-include-pch``) reads those headers' declarations from it instead of parsing them again.

A PCH stands in for the headers only when the parse it gives is the one the file gets without it.
Clang reads all of the PCH first, so the file also sees headers it never includes, and its own
``#define``s come after those headers instead of before. `PrecompiledHeader.stands_in` checks, after
the parse, that neither matters: no error; no macro used (expanded, or tested with ``#ifdef``) whose
definitions are in a PCH header the file does not include, directly or not; no macro defined by the
file (or its own headers) before it includes a header that defines or tests it; no header macro
undefined before the includes. When the check fails the caller parses without the PCH. The headers
the file does include are computed from the PCH's include graph, so the facts list the same headers
as a parse without it (the fact cache validates entries against them). One difference remains:
identifiers made with ``__COUNTER__`` (``__UNIQUE_ID_ddebug285``) are numbered on from the headers
read before, and the PCH holds more of them; the findings do not depend on those numbers.

Where: ``<cache dir>/pch/<key>.pch`` with ``<key>.meta`` (what the check needs and the size and
modification time of every header inside), or a private directory under the temporary directory when
there is no cache. The key covers the flags (so the kernel tree's paths), the libclang version and the
root list; a PCH whose headers changed since it was built is rebuilt, and so is one whose bytes are
not those it was built with (its digest is in the description, checked when a process loads it). The
PCH is written by a child process: libclang aborts when the write fails (a full disk), and only the
child dies; the build is then recorded as failed, with no partial file left. One process builds it while
the others parse their files without it. A build that fails is recorded, so other files do not retry
it; they are parsed without a PCH. Building one removes the PCHs no run can use again: those an older
gupcheck wrote and those whose headers are gone. `outcomes` counts, per process, how the parses went.
Loading the description, and checking it again while a process uses the PCH, marks it used (its
modification time, never the .pch's): the cache's size limit removes the least recently used first
(`pipeline.cachedir`, which removes a PCH's files together, holding its lock).

``GUPCHECK_NO_PCH=1`` in the environment disables the PCH (for comparisons and benchmarks).
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import importlib.metadata
import os
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import clang.cindex as ci

from gupcheck.frontend.buildconfig import FileConfig
from gupcheck.model.facts import HeaderMode
from gupcheck.storage import file_identity, read_entry, touch, write_entry

ENV_DISABLE = "GUPCHECK_NO_PCH"

# The headers most drivers include, directly or not. Everything they include comes along. A file that
# does not include some of them still gets the PCH, unless it uses what only those define.
ROOTS: tuple[str, ...] = (
    "linux/module.h",
    "linux/kernel.h",
    "linux/init.h",
    "linux/fs.h",
    "linux/mm.h",
    "linux/slab.h",
    "linux/uaccess.h",
    "linux/sched.h",
    "linux/sched/mm.h",
    "linux/sched/signal.h",
    "linux/device.h",
    "linux/platform_device.h",
    "linux/miscdevice.h",
    "linux/cdev.h",
    "linux/file.h",
    "linux/poll.h",
    "linux/idr.h",
    "linux/highmem.h",
    "linux/vmalloc.h",
    "linux/pagemap.h",
    "linux/mman.h",
    "linux/scatterlist.h",
    "linux/dma-mapping.h",
    "linux/dma-buf.h",
    "linux/interrupt.h",
    "linux/io.h",
    "linux/pci.h",
    "linux/uio.h",
    "linux/mmu_notifier.h",
    "linux/workqueue.h",
    "linux/kthread.h",
    "linux/delay.h",
    "linux/wait.h",
    "linux/list.h",
    "linux/mutex.h",
    "linux/spinlock.h",
    "linux/rbtree.h",
    "linux/xarray.h",
    "linux/kref.h",
    "linux/refcount.h",
    "linux/atomic.h",
    "linux/bitops.h",
    "linux/err.h",
    "linux/types.h",
    "linux/anon_inodes.h",
    "linux/eventfd.h",
)

# Macros the kernel headers define only when the file has not (`#ifndef pr_fmt`), to be expanded later
# in the file's own code: defining one before the includes changes nothing the analysis reads.
LATE_BOUND_MACROS = frozenset({"pr_fmt", "dev_fmt"})

_FORMAT = b"gupcheck-pch-v4\n"
_FOR_SERIALIZATION = 0x10  # CXTranslationUnit_ForSerialization, not named by the Python bindings
# The headers' function bodies are not kept: the walk reads only the main file's functions, and a
# body changes nothing a later declaration or expression of the file means. Half the build time.
_SKIP_FUNCTION_BODIES = ci.TranslationUnit.PARSE_SKIP_FUNCTION_BODIES
_REVALIDATE_SECONDS = 10.0

_CONDITIONAL_RE = re.compile(r"^[ \t]*#[ \t]*(?:if|ifdef|ifndef|elif|elifdef|elifndef)\b(.*)$", re.MULTILINE)
_UNDEF_RE = re.compile(r"^[ \t]*#[ \t]*undef[ \t]+([A-Za-z_]\w*)", re.MULTILINE)
_IDENTIFIER_RE = re.compile(r"[A-Za-z_]\w*")
_MACRO_DEFINITION = ci.CursorKind.MACRO_DEFINITION.value
_MACRO_INSTANTIATION = ci.CursorKind.MACRO_INSTANTIATION.value
_INCLUSION_DIRECTIVE = ci.CursorKind.INCLUSION_DIRECTIVE.value
_KEPT_ENTITIES = frozenset({_MACRO_DEFINITION, _INCLUSION_DIRECTIVE})


def enabled() -> bool:
    return os.environ.get(ENV_DISABLE, "") in ("", "0")


def applies(config: FileConfig) -> bool:
    """Kernel code parsed with real kernel headers."""
    if config.mode is HeaderMode.KERNEL_TREE:
        return True
    return config.mode is HeaderMode.COMPILE_COMMANDS and "-D__KERNEL__" in config.args


# ---------------------------------------------------------------------------------------------------
# A file's flags: those the PCH is built with, and the file's own


@dataclass(frozen=True)
class _FileFlags:
    shared: tuple[str, ...]  # the flags the PCH is built with (its key)
    own_macros: tuple[str, ...]  # names of the file's own -D (KBUILD_MODNAME, ...)
    own_dirs: tuple[str, ...]  # include dirs of this driver only (-I$(srctree)/$(src), ...)
    forced: tuple[str, ...]  # -include'd headers


def _is_own_macro(name: str) -> bool:
    """Kbuild's per-file defines: KBUILD_BASENAME, KBUILD_MODNAME, KBUILD_MODFILE, __KBUILD_MODNAME."""
    return name.startswith(("KBUILD_", "__KBUILD_"))


def _is_kernel_include_dir(directory: str) -> bool:
    """`<tree>/include...` or `<tree>/arch/<arch>/include...` of a kernel source or build tree (its
    uapi and generated forms too), as opposed to a driver's own include dir."""
    parts = Path(directory).parts
    if "include" not in parts:
        return False
    at = len(parts) - 1 - parts[::-1].index("include")
    if any(part not in ("generated", "uapi") for part in parts[at + 1 :]):
        return False
    root = Path(*parts[:at])
    if len(parts[:at]) >= 2 and parts[at - 2] == "arch":
        root = Path(*parts[: at - 2])
    return (root / "include" / "linux" / "kconfig.h").is_file() or (
        root / "include" / "generated" / "autoconf.h"
    ).is_file()


def _split_flags(args: tuple[str, ...]) -> _FileFlags:
    shared: list[str] = []
    own_macros: list[str] = []
    own_dirs: list[str] = []
    forced: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        value = None
        if arg in ("-D", "-I", "-include") and index + 1 < len(args):
            value = args[index + 1]
            index += 2
        else:
            index += 1
        if arg == "-D" or (value is None and arg.startswith("-D")):
            definition = value if value is not None else arg[2:]
            name = definition.split("=", 1)[0]
            if _is_own_macro(name):
                own_macros.append(name)
                continue
        elif arg == "-I" or (value is None and arg.startswith("-I")):
            directory = value if value is not None else arg[2:]
            if not _is_kernel_include_dir(directory):
                own_dirs.append(directory)
                continue
        elif arg == "-include" and value is not None:
            forced.append(value)
        shared.append(arg)
        if value is not None:
            shared.append(value)
    return _FileFlags(tuple(shared), tuple(own_macros), tuple(own_dirs), tuple(forced))


def _header_args(shared: tuple[str, ...]) -> list[str]:
    """The shared flags, parsing a header."""
    args = list(shared)
    for index in range(len(args) - 1):
        if args[index] == "-x":
            args[index + 1] = "c-header"
            return args
    return ["-x", "c-header", *args]


def _libclang_identity() -> str:
    """The libclang that writes and reads the PCH (its format is specific to one build)."""
    try:
        version = importlib.metadata.version("libclang")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    library = ci.conf.lib._name
    return f"{version} {library} {file_identity(library)}"


def _key(shared: tuple[str, ...]) -> str:
    digest = hashlib.sha256(_FORMAT)
    for part in (_libclang_identity(), *ROOTS, "\0", *shared):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


# ---------------------------------------------------------------------------------------------------
# The PCH and its description


@dataclass
class PrecompiledHeader:
    path: str  # the .pch file
    headers: list[str]  # every header inside
    includes: list[tuple[int, ...]]  # header index -> the headers it includes (indices)
    spelled: frozenset[str]  # include names as written in the headers (`linux/mm.h`, "internal.h")
    defined_in: dict[str, frozenset[int]]  # macro name -> the headers that define it
    sensitive_in: dict[str, frozenset[int]]  # macro name -> the headers that define, undefine or test it
    identities: list[tuple[str, tuple[int, int] | None]]  # (file, (size, mtime)) of all inputs
    pch_identity: tuple[int, int] | None = None  # (size, mtime) of the .pch file described
    pch_digest: bytes = b""  # sha256 of the .pch file: a corrupted one of the same size is rebuilt
    validated_at: float = 0.0
    _index_of: dict[str, int] = field(default_factory=dict, repr=False)
    _closures: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)
    _shadowing: dict[str, bool] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index_of = {name: index for index, name in enumerate(self.headers)}

    def index_of(self, path: str) -> int | None:
        return self._index_of.get(path)

    def closure(self, header: int) -> frozenset[int]:
        """`header` and every header it includes, directly or not."""
        found = self._closures.get(header)
        if found is None:
            seen = {header}
            stack = [header]
            while stack:
                for child in self.includes[stack.pop()]:
                    if child not in seen:
                        seen.add(child)
                        stack.append(child)
            found = self._closures[header] = frozenset(seen)
        return found

    def is_current(self) -> bool:
        """Whether every input still has the size and modification time it was built from."""
        return file_identity(self.path) == self.pch_identity and all(
            file_identity(path) == identity for path, identity in self.identities
        )

    def is_intact(self) -> bool:
        """Whether the .pch file holds the bytes it was built with (checked once a process loads it:
        a file corrupted in place keeps its size and modification time, and libclang crashes on it)."""
        return _digest_of(self.path) == self.pch_digest

    def accepts_flags(self, flags: _FileFlags) -> bool:
        """Whether the file's own flags leave the PCH's headers as they are: its own macros are not
        tested by them, and its own include dirs hold none of the names they include."""
        if any(name in self.sensitive_in for name in flags.own_macros):
            return False
        for directory in flags.own_dirs:
            shadows = self._shadowing.get(directory)
            if shadows is None:
                shadows = self._shadowing[directory] = any(
                    os.path.exists(os.path.join(directory, name))
                    for name in self.spelled
                    if not os.path.isabs(name)
                )
            if shadows:
                return False
        return True

    def stands_in(
        self, tu: ci.TranslationUnit, entities: list[ci.Cursor], config: FileConfig, source: bytes
    ) -> list[str] | None:
        """The headers the file includes when the PCH stands in for a parse without it, else None.

        `entities` are the parse's own preprocessing entities (those not read from the PCH) in the
        order the preprocessor met them: inclusion directives, macro definitions and expansions.
        """
        refusal, headers = self._examine(tu, entities, config, source)
        outcomes[refusal or "stood in"] += 1
        return headers if refusal is None else None

    def _examine(
        self, tu: ci.TranslationUnit, entities: list[ci.Cursor], config: FileConfig, source: bytes
    ) -> tuple[str | None, list[str]]:
        """(why the PCH does not stand in, or None; the headers the file includes when it does)."""
        if any(diagnostic.severity >= ci.Diagnostic.Error for diagnostic in tu.diagnostics):
            return "errors with the PCH", []
        reached: set[int] = set()
        for path in _split_flags(config.args).forced:
            index = self.index_of(os.path.normpath(path))
            if index is not None:
                reached |= self.closure(index)
        main_file = tu.spelling
        entering: list[tuple[int, frozenset[int]]] = []  # (position, PCH headers a directive brings in)
        main_includes_end = 0  # offset after the main file's last #include
        local_files: list[tuple[int, str]] = []  # (position, header not in the PCH)
        definitions: list[tuple[int, str]] = []
        used: set[str] = set()
        for position, cursor in enumerate(entities):
            kind = cursor._kind_id
            if kind == _MACRO_INSTANTIATION:
                used.add(cursor.spelling)
            elif kind == _MACRO_DEFINITION:
                definitions.append((position, cursor.spelling))
            elif kind == _INCLUSION_DIRECTIVE:
                target = cursor.get_included_file()
                if target is None or not target.obj:
                    continue  # not found: an error, and the parse was refused above
                index = self.index_of(target.name)
                if index is not None:
                    entered = self.closure(index) - reached
                    if entered:  # else the file had them already: the directive does nothing
                        reached |= entered
                        entering.append((position, frozenset(entered)))
                else:
                    local_files.append((position, target.name))
                extent = cursor.extent
                if extent.start.file is not None and extent.start.file.name == main_file:
                    main_includes_end = max(main_includes_end, extent.end.offset)
        # Macros only headers outside the file's includes define: without the PCH they do not exist.
        for name in used:
            homes = self.defined_in.get(name)
            if homes is not None and not homes <= reached:
                return f"uses {name} from a header it does not include", []
        # The file's own #define before it includes a header that tests or defines the macro: without
        # the PCH the header saw it.
        entered_after: set[int] = set()
        later = sorted(entering, reverse=True)
        for position, name in sorted(definitions, reverse=True):
            while later and later[0][0] > position:
                entered_after |= later.pop(0)[1]
            homes = self.sensitive_in.get(name)
            if homes is not None and name not in LATE_BOUND_MACROS and not homes.isdisjoint(entered_after):
                return f"defines {name} before including headers that use it", []
        last_header = entering[-1][0] if entering else -1
        if self._undefines_early(source[:main_includes_end]):
            return "undefines a header macro before its includes", []
        for position, path in local_files:
            if position < last_header and self._undefines_early(_read(path)):
                return f"{os.path.basename(path)} undefines a header macro", []
        local = {inclusion.include.name for inclusion in tu.get_includes() if inclusion.include is not None}
        return None, sorted(local | {self.headers[index] for index in reached})

    def _undefines_early(self, text: bytes) -> bool:
        if b"undef" not in text:
            return False
        decoded = text.decode("utf-8", "replace")
        return any(
            match.group(1) in self.defined_in and match.group(1) not in LATE_BOUND_MACROS
            for match in _UNDEF_RE.finditer(decoded)
        )


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


# ---------------------------------------------------------------------------------------------------
# Finding, building and storing


@dataclass
class _Failed:
    """A build that failed: not retried until one of its inputs changes."""

    reason: str
    identities: list[tuple[str, tuple[int, int] | None]]
    validated_at: float = 0.0
    lasting: bool = True  # False: the build worked but the file could not be written (a full disk)

    def is_current(self) -> bool:
        return all(file_identity(path) == identity for path, identity in self.identities)

    def is_intact(self) -> bool:
        return True  # there is no file to check


_loaded: dict[tuple[str, str], PrecompiledHeader | _Failed] = {}
# How parses of this process went with the PCH: "stood in", or why it did not (for --stats and tests).
outcomes: Counter[str] = Counter()
# Why a PCH built by this process could not be written (for one warning a run: the cache is full).
unsaved: set[str] = set()
_private_dir: str | None = None


def precompiled_header_for(config: FileConfig, cache_dir: str | None) -> PrecompiledHeader | None:
    """The PCH to parse `config` with (built now if needed), or None: PCH disabled, not kernel code
    with real headers, the file's own flags conflict with it, or it could not be built."""
    if not enabled() or not applies(config):
        return None
    flags = _split_flags(config.args)
    directory = _pch_dir(cache_dir)
    if directory is None:
        return None
    key = _key(flags.shared)
    entry = _loaded.get((directory, key))
    now = time.monotonic()
    if entry is not None and now - entry.validated_at > _REVALIDATE_SECONDS:
        if not entry.is_current():
            entry = None
        else:
            entry.validated_at = now
            touch(Path(directory) / f"{key}.meta")  # still in use: the last to go when the cache is trimmed
    if entry is None:
        entry = _load_or_build(Path(directory), key, flags)
        if entry is None:
            outcomes["being built by another process"] += 1
            return None
        entry.validated_at = now
        _loaded[(directory, key)] = entry
    if isinstance(entry, _Failed):
        outcomes[f"not built: {entry.reason}"] += 1
        return None
    if not entry.accepts_flags(flags):
        outcomes["the file's own flags change the headers"] += 1
        return None
    return entry


def _pch_dir(cache_dir: str | None) -> str | None:
    """`<cache dir>/pch`, else a directory of this user under the temporary directory."""
    global _private_dir
    if cache_dir is not None:
        directory = Path(cache_dir) / "pch"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            return str(directory)
        except OSError:
            pass
    shared = Path(tempfile.gettempdir()) / f"gupcheck-pch-{os.getuid()}"
    try:
        shared.mkdir(mode=0o700, exist_ok=True)
        status = os.lstat(shared)
        if status.st_uid == os.getuid() and (status.st_mode & 0o077) == 0 and not shared.is_symlink():
            return str(shared)
    except OSError:
        pass
    if _private_dir is None:  # the shared one is not ours alone: one of this process
        try:
            _private_dir = tempfile.mkdtemp(prefix="gupcheck-pch-")
        except OSError:
            return None
    return _private_dir


def _load_or_build(directory: Path, key: str, flags: _FileFlags) -> PrecompiledHeader | _Failed | None:
    """The PCH of `key`, built if needed; None while another process builds it (the file at hand is
    parsed without it rather than waiting)."""
    entry = _load(directory, key)
    if entry is not None and entry.is_current() and entry.is_intact():
        return entry
    try:
        lock = open(directory / f"{key}.lock", "a")  # noqa: SIM115 - held for the whole build
    except OSError as error:
        return _Failed(f"cannot write in {directory}: {error.strerror}", [])
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        entry = _load(directory, key)
        if entry is not None and entry.is_current() and entry.is_intact():
            return entry
        entry = _build(directory, key, flags)
        if not isinstance(entry, _Failed) or entry.lasting:  # a disk that was full may not be later
            _store(directory, key, entry)
    _prune(directory, keep=key)
    return entry


def _prune(directory: Path, keep: str) -> None:
    """Remove the PCHs no run can use again (about 10 MB each): those an older gupcheck wrote (their
    description does not read in this format) and those built from headers that are gone (a kernel
    tree removed or upgraded to another path). One being built, its lock held, is left alone."""
    for pch_file in directory.glob("*.pch"):
        key = pch_file.stem
        if key == keep:
            continue
        try:
            lock = open(directory / f"{key}.lock", "a")  # noqa: SIM115 - held while removing
        except OSError:
            continue
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            entry = read_entry(directory / f"{key}.meta", _FORMAT, use=False)
            if isinstance(entry, (PrecompiledHeader, _Failed)) and all(
                file_identity(path) is not None for path, _ in entry.identities
            ):
                continue
            for suffix in (".pch", ".meta", ".h"):  # the empty lock file stays: another may hold it open
                try:
                    (directory / f"{key}{suffix}").unlink()
                except OSError:
                    pass


def _load(directory: Path, key: str) -> PrecompiledHeader | _Failed | None:
    entry = read_entry(directory / f"{key}.meta", _FORMAT)
    if isinstance(entry, PrecompiledHeader):
        entry.path = str(directory / f"{key}.pch")  # the directory may have been copied or moved
        entry.__post_init__()
        return entry
    return entry if isinstance(entry, _Failed) else None


def _store(directory: Path, key: str, entry: PrecompiledHeader | _Failed) -> None:
    write_entry(directory / f"{key}.meta", entry, _FORMAT)  # skipped when it cannot be written


def _preprocessing_entities(tu: ci.TranslationUnit) -> list[ci.Cursor]:
    """The macro definitions and inclusion directives at the top level of `tu` (tens of thousands in
    the kernel's headers; the declarations after them are not visited)."""
    found: list[ci.Cursor] = []

    def keep(child: ci.Cursor, _parent: ci.Cursor, _data: object) -> int:
        kind = child._kind_id
        if kind in _KEPT_ENTITIES:
            child._tu = tu
            found.append(child)
        return 1 if 500 <= kind < 600 else 0  # CXChildVisit_Continue; Break at the first declaration

    ci.conf.lib.clang_visitChildren(tu.cursor, ci.callbacks["cursor_visit"](keep), None)
    return found


class _FileOf:
    """The file a cursor is in, by libclang's file handle (a name is looked up once per file)."""

    def __init__(self) -> None:
        self._names: dict[int, str] = {}
        self._handle = ci.c_object_p()

    def __call__(self, cursor: ci.Cursor) -> str | None:
        location = cursor.location
        ci.conf.lib.clang_getInstantiationLocation(location, ctypes.byref(self._handle), None, None, None)
        if not self._handle:
            return None
        address = ctypes.cast(self._handle, ctypes.c_void_p).value
        if address is None:
            return None
        name = self._names.get(address)
        if name is None:
            name = self._names[address] = ci.File(self._handle).name
        return name


def _build(directory: Path, key: str, flags: _FileFlags) -> PrecompiledHeader | _Failed:
    include_dirs = [flags.shared[i + 1] for i, arg in enumerate(flags.shared[:-1]) if arg == "-I"]
    roots = [root for root in ROOTS if any(os.path.isfile(os.path.join(d, root)) for d in include_dirs)]
    prefix = directory / f"{key}.h"
    text = "".join(f"#include <{root}>\n" for root in roots)
    try:
        if not prefix.exists() or prefix.read_text() != text:
            prefix.write_text(text)
    except OSError as error:
        return _Failed(f"cannot write {prefix}: {error.strerror}", [])
    options = (
        ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD
        | ci.TranslationUnit.PARSE_INCOMPLETE
        | _FOR_SERIALIZATION
        | _SKIP_FUNCTION_BODIES
    )
    try:
        tu = ci.Index.create().parse(str(prefix), args=_header_args(flags.shared), options=options)
    except ci.TranslationUnitLoadError as error:
        return _Failed(f"libclang could not parse the headers ({error})", [])
    headers = sorted(
        {inclusion.include.name for inclusion in tu.get_includes() if inclusion.include is not None}
        - {str(prefix)}
    )
    identities = [(path, file_identity(path)) for path in [str(prefix), *headers]]
    errors = [d for d in tu.diagnostics if d.severity >= ci.Diagnostic.Error]
    if errors:
        return _Failed(f"the common headers do not parse alone: {errors[0].spelling}", identities)
    index_of = {path: index for index, path in enumerate(headers)}
    includes: list[set[int]] = [set() for _ in headers]
    spelled: set[str] = set()
    defined_in: dict[str, set[int]] = {}
    file_of = _FileOf()
    for cursor in _preprocessing_entities(tu):
        if cursor.kind == ci.CursorKind.MACRO_DEFINITION:
            index = index_of.get(file_of(cursor))
            if index is not None:
                defined_in.setdefault(cursor.spelling, set()).add(index)
        else:
            spelled.add(cursor.spelling)
            target = cursor.get_included_file()
            includer = index_of.get(file_of(cursor))
            if target is not None and target.obj and includer is not None and target.name in index_of:
                includes[includer].add(index_of[target.name])
    sensitive_in = {name: set(homes) for name, homes in defined_in.items()}
    for index, path in enumerate(headers):
        text_of_header = _read(path).decode("utf-8", "replace").replace("\\\n", " ")
        names = {match.group(1) for match in _UNDEF_RE.finditer(text_of_header)}
        for match in _CONDITIONAL_RE.finditer(text_of_header):
            names.update(_IDENTIFIER_RE.findall(match.group(1)))
        names.discard("defined")
        for name in names:
            sensitive_in.setdefault(name, set()).add(index)
    pch_path = directory / f"{key}.pch"
    temporary = directory / f".tmp-{key}-{os.getpid()}.pch"
    failure = _save_apart(tu, temporary)
    if failure is None:
        try:
            os.replace(temporary, pch_path)
        except OSError as error:
            failure = error.strerror or str(error)
    if failure is not None:
        try:
            temporary.unlink()
        except OSError:
            pass
        reason = f"cannot save the precompiled header in {directory}: {failure}"
        unsaved.add(reason)
        return _Failed(reason, identities, lasting=False)
    return PrecompiledHeader(
        path=str(pch_path),
        headers=headers,
        includes=[tuple(sorted(children)) for children in includes],
        spelled=frozenset(spelled),
        defined_in={name: frozenset(homes) for name, homes in defined_in.items()},
        sensitive_in={name: frozenset(homes) for name, homes in sensitive_in.items()},
        identities=identities,
        pch_identity=file_identity(str(pch_path)),
        pch_digest=_digest_of(str(pch_path)),
    )


def _save_apart(tu: ci.TranslationUnit, path: Path) -> str | None:
    """Save `tu` as a PCH at `path` in a child process; None when saved, else why not. libclang
    aborts the process it runs in when the write fails ("IO failure on output stream": a full disk,
    a quota), so the save runs in a fork, which dies alone, and what it printed becomes the reason."""
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:  # the child: save, say how it went through the exit status, never return
        status = 1
        try:
            os.close(reading)
            os.dup2(writing, 2)
            tu.save(str(path))
            status = 0
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not go on
            pass
        finally:
            os._exit(status)
    os.close(writing)
    with os.fdopen(reading, "rb") as said:
        output = said.read(65536).decode("utf-8", "replace")
    _, status = os.waitpid(child, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    reason = next((line for line in lines if "error" in line.lower()), lines[0] if lines else "")
    if not reason:
        reason = (
            "libclang could not write it" if os.WIFEXITED(status) else "libclang aborted while writing it"
        )
    return reason[:200]


def _digest_of(path: str) -> bytes:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return b""
    return digest.digest()
