"""Missing include folders, repaired before the parse.

A driver's Makefile often adds its own include folders (``-I$(src)/../include``); when gupcheck does not
know them, the driver's own headers are missing and the parse loses what uses them. Before a file is
parsed, `IncludeRepairer.extra_args` reads the ``#include`` lines of the file and, recursively, of the
local headers they reach, resolves each as the compiler would (quoted names against the including file's
folder, then ``-iquote``, ``-I``, ``-isystem``, the system folders unless ``-nostdinc``, ``-idirafter``)
and, for a header that does not resolve, looks for it in the file's tree. The folder that makes it
resolve is added after the folders already given, so it never hides a header they hold: with ``-I`` in
kernel code (``-nostdinc``: after Kbuild's folders, where the shared precompiled header expects a
driver's own folders), with ``-idirafter`` in userland code (after the system folders, so a driver's own
``errno.h`` never hides the C library's). The flags are decided before the parse, so there is no second
parse and the facts stay cacheable by their flags.

The tree of a file is its git work tree (the nearest folder above it holding ``.git``, unless reaching it
crosses a hidden folder such as ``.cache``). Outside git, it is the highest of the file's folder and its
parents, at most `UP_LEVELS` up, that looks like part of a project: it holds a build or project file
(``Makefile``, ``Kbuild``, ``Kconfig``, ``configure``, ``CMakeLists.txt``, ``README``, ``LICENSE``,
``COPYING``, ``dkms.conf``, ...) or C sources. The climb never enters a hidden folder, the home folder or
a folder at the top of the file system (``/tmp``, ``/home``), so ``/tmp/corp/xpmem/kernel/x.c`` has the
tree ``/tmp/corp/xpmem``. The tree is decided from the file's own place, not from the folder the user
named: a file gets the same flags (and cached facts) whether it is named alone or with its folder.

For a missing ``a/b.h`` the candidates are: the file's folder, the including file's folders and its
parents up to the tree root, the ``include/`` folders of those, and any folder of the tree where
``a/b.h`` exists (one walk of the tree, made when a header is missing and no candidate lies within one
folder step, kept for the run). The candidate nearest to the including file wins (fewest folder steps
up and down); on a tie, in that order, then by name.

Not searched for: headers of the kernel itself (``linux/``, ``asm/``, ``asm-generic/``, ``uapi/``,
``generated/``), names with ``..`` or an absolute path, ``#include_next`` and computed includes.
Includes in a branch that the command line's defines rule out (``#ifdef HAVE_CONFIG_H`` without
``-DHAVE_CONFIG_H``, ``#ifndef __KERNEL__`` in kernel code, ``#if 0``, ``#ifdef _WIN32``) are skipped.
A header that the tree does not have and whose name says it is generated (``config.h``,
``version.h``, ``*_autogen.h``, or a name whose ``.in``/``.cmake`` template the tree holds) is named once
per tree in a note, when it is included outside any undecided ``#if``.

Everything is bounded (`Budgets`): the headers scanned for one file and their nesting, the entries and
depth of a tree walk (symbolic links to folders are followed inside the tree only, each folder once);
when a budget cuts something (for the walk: when a header then stays missing), one note per tree says
so. It runs for every file before the fact cache is asked, so it is kept cheap: folder listings, header
scans, resolved names, tree roots and tree walks are kept for the run (`IncludeRepairer` is one per
`BuildConfig`), and a header whose includes all resolve with the flags alone, all the way down, is not
read again for the other files with the same search path (about 1.5 ms a file on a warm run of
atomisp, i915 and QDMA).

This module never imports libclang.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gupcheck.frontend.discovery import read_regular_file

# The first folder of the kernel's own header names: never looked for in a driver's tree.
KERNEL_NAMESPACES = frozenset({"linux", "asm", "asm-generic", "uapi", "generated"})
# Files that say a folder is part of a project (compared in lower case; names starting with these).
_PROJECT_FILES = ("makefile", "kbuild", "kconfig", "configure", "cmakelists.txt", "meson.build", "readme",
                  "license", "licence", "copying", "dkms.conf", "makefile.am", "setup.py")  # fmt: skip
_PROJECT_SUFFIXES = (".c", ".h", ".spec")  # a folder of sources is part of the project too
UP_LEVELS = 8  # folders above a file's folder that its tree may reach (outside git)
# The system folders clang searches for x86_64-linux-gnu when -nostdinc is not given (the builtin
# headers come in the flags, as -isystem).
SYSTEM_DIRS = ("/usr/local/include", "/usr/include/x86_64-linux-gnu", "/usr/include")
# Macros only a command line defines: without a -D they are known to be undefined.
_COMMAND_LINE_ONLY = frozenset({"HAVE_CONFIG_H", "__KERNEL__", "_WIN32", "_WIN64", "WIN32", "_MSC_VER",
                                "__APPLE__", "__MACH__", "__FreeBSD__", "__NetBSD__", "__OpenBSD__",
                                "__CYGWIN__", "__MINGW32__", "__cplusplus", "__sun"})  # fmt: skip
# Macros every target gupcheck parses for predefines (the architecture's own are left undecided).
_PREDEFINED = frozenset({"__linux__", "__linux", "__unix__", "__GNUC__", "__clang__", "__STDC__", "__ELF__"})
GENERATED_NAME = re.compile(
    r"(?:^|/)(?:config|config-host|version|autoconf|build_info|buildinfo)\.h$"
    r"|(?:_autogen|_generated|-generated|\.gen)\.h$"
)
_SEARCH_OPTION_STARTS = frozenset({"-I", "-i", "-D", "-U"})
_I_OPTIONS = ("-iquote", "-isystem", "-idirafter", "-include")
_PER_FILE_MACROS = ("KBUILD_", "__KBUILD_")
_SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__"})
_MAX_HEADER_BYTES = 4 << 20

# One directive a match (a match inside a block comment is dropped afterwards).
_DIRECTIVE = re.compile(
    r"^[ \t]*#[ \t]*(include|include_next|import|if|ifdef|ifndef|elif|else|endif|define)\b"
    r"((?:[^\n/\\]|/(?![*/])|\\\n|\\(?!\n))*)",
    re.MULTILINE,
)
_INCLUDE_NAME = re.compile(r'\s*([<"])([^>"\n]+)[>"]')
_IDENTIFIER = re.compile(r"\s*([A-Za-z_]\w*)")
_DEFINED = re.compile(r"\s*(!?)\s*defined\s*\(?\s*([A-Za-z_]\w*)\s*\)?\s*$")
_BARE = re.compile(r"\s*(!?)\s*([A-Za-z_]\w*)\s*$")  # #if NAME: 0 when NAME is not defined


@dataclass(frozen=True)
class Budgets:
    scan_headers: int = 500  # local headers scanned for one file
    scan_depth: int = 16  # nesting of local headers
    walk_entries: int = 100_000  # files and folders a tree walk lists
    walk_depth: int = 24  # folders below the tree root


@dataclass(frozen=True)
class AddedFolder:
    folder: str  # the folder added with -I
    header: str  # the include as written
    includer: str  # the file whose include it resolves
    how: str  # "the file's folder", "a parent folder", "an include/ folder", "found in the tree"


@dataclass(frozen=True)
class MissingHeader:
    header: str
    includer: str
    generated: bool  # the name says it is generated (config.h, version.h, *_autogen.h, a template)


@dataclass(frozen=True)
class Repair:
    """What the repair did for one file."""

    path: str
    tree: str  # the tree searched
    added: tuple[AddedFolder, ...] = ()
    missing: tuple[MissingHeader, ...] = ()  # not found in the tree either
    cut: tuple[str, ...] = ()  # what a budget cut
    option: str = "-I"  # how the folders are added: -I (kernel code) or -idirafter (userland)

    def args(self) -> list[str]:
        out: list[str] = []
        for added in self.added:
            out += [self.option, added.folder]
        return out

    def describe(self) -> list[str]:
        """One line per repair, as `--show-config` prints them."""
        lines = [
            f"{self.option} {added.folder}  (repaired: {added.header}, included by {added.includer}, "
            f"{added.how})"
            for added in self.added
        ]
        for missing in self.missing:
            what = "generated header, not in the tree" if missing.generated else "not in the tree"
            lines.append(f"missing {missing.header}  ({what}; included by {missing.includer})")
        lines += [f"budget: {cut}" for cut in self.cut]
        return lines


@dataclass
class _Directive:
    kind: str  # include, if, ifdef, ifndef, elif, else, endif, define
    text: str  # the header name (include) or the rest of the line
    angled: bool = False


@dataclass
class _TreeIndex:
    """The folders of a tree holding each file name (a bounded walk)."""

    folders_by_name: dict[str, list[str]] = field(default_factory=dict)
    cut: str = ""  # why the walk stopped early, or ""


@dataclass
class _SearchPath:
    quote: list[str]  # -iquote
    angled: list[str]  # -I, then -isystem, the system folders, -idirafter
    system: frozenset[str]  # the folders whose headers are not scanned (-isystem, system, -idirafter)
    forced: list[str]  # -include
    defined: frozenset[str]
    undefined: frozenset[str]
    nostdinc: bool

    @property
    def key(self) -> tuple[object, ...]:
        return (
            tuple(self.quote),
            tuple(self.angled),
            self.system,
            tuple(self.forced),
            self.defined,
            self.undefined,
            self.nostdinc,
        )


class IncludeRepairer:
    """Repairs missing include folders (see the module's documentation). One per run: it keeps folder
    listings, header scans, tree roots and tree walks. `notes` receives the notes (generated headers,
    budgets), each once."""

    def __init__(self, notes: list[str] | None = None, budgets: Budgets | None = None) -> None:
        self.notes = notes if notes is not None else []
        self.budgets = budgets or Budgets()
        self._noted: set[object] = set()
        self._listings: dict[str, frozenset[str]] = {}
        self._scans: dict[str, list[_Directive]] = {}
        self._roots: dict[str, str] = {}
        self._indexes: dict[str, _TreeIndex] = {}
        self._repairs: dict[str, Repair] = {}
        self._contexts: dict[tuple[object, ...], _Context] = {}

    # --- the entry points ------------------------------------------------------------------------

    def extra_args(self, path: str, text: str | None, args: Sequence[str]) -> list[str]:
        """``-I FOLDER`` for each folder that makes a missing include of `path` resolve (`text` is
        its content, read when None; `args` its flags so far)."""
        return self.repair(path, text, args).args()

    def repairs_for(self, path: str) -> Repair | None:
        """The repair of `path` (absolute) made by the last `extra_args`/`repair` call for it."""
        return self._repairs.get(os.path.normpath(path))

    def repair(self, path: str, text: str | None, args: Sequence[str]) -> Repair:
        path = os.path.normpath(os.path.abspath(path))
        search = _search_path(args)
        context = self._contexts.get(search.key)
        if context is None:
            context = self._contexts[search.key] = _Context(search)
        folder = os.path.dirname(path)
        tree = self.tree_root(folder)
        state = _Scan(path, folder, tree, context)
        directives = _directives(text) if text is not None else self._directives(path)
        for forced in search.forced:
            if self._is_local(forced, tree) and os.path.isfile(forced):
                self._walk_includes(state, forced, self._live_includes(forced, context), 1)
        self._walk_includes(state, path, _live_includes(directives, search), 0)
        option = "-I" if search.nostdinc else "-idirafter"
        repair = Repair(
            path, tree, tuple(state.added), tuple(state.missing), tuple(state.cut.values()), option
        )
        for key, cut in state.cut.items():
            self._note(f"{tree}: {cut}", key=(tree, key))
        self._repairs[path] = repair
        return repair

    def tree_root(self, folder: str) -> str:
        """The tree a file of `folder` is repaired from (see the module's documentation)."""
        folder = os.path.normpath(folder)
        root = self._roots.get(folder)
        if root is None:
            root = self._roots[folder] = self._find_root(folder)
        return root

    # --- scanning --------------------------------------------------------------------------------

    def _walk_includes(
        self, state: _Scan, includer: str, includes: list[tuple[_Directive, bool]], depth: int
    ) -> None:
        """Resolve the includes of one file (in order), repairing and descending into local headers."""
        for directive, certain in includes:
            name = directive.text
            found = self._resolve(name, directive.angled, includer, state)
            if found is None:
                if not _searchable(name):
                    continue
                state.events += 1
                found = self._repair_one(name, includer, certain, state)
                if found is None:
                    continue
            header, via = found
            if via in state.added_folders:
                state.events += 1  # resolved by this file's repair: the header's includer is not clean
            if (
                via in state.context.search.system
                or not self._is_local(header, state.tree)
                or (name.split("/", 1)[0] in KERNEL_NAMESPACES and directive.angled)
                or header in state.context.clean
            ):
                continue
            if header in state.scanned:
                state.events += 1  # not known to be clean (yet): neither is its includer
                continue
            state.events += 1  # counted back below when the header's includes turn out clean
            if depth + 1 > self.budgets.scan_depth:
                state.cut_once(
                    "depth",
                    f"include scan stopped at {self.budgets.scan_depth} nested headers (in {includer})",
                )
                continue
            if len(state.scanned) >= self.budgets.scan_headers:
                state.cut_once(
                    "headers",
                    f"include scan stopped after {self.budgets.scan_headers} headers (of {state.path})",
                )
                return
            state.scanned.add(header)
            events = state.events
            self._walk_includes(state, header, self._live_includes(header, state.context), depth + 1)
            if state.events == events:  # every include below it resolved with the flags alone
                state.context.clean.add(header)
                state.events -= 1

    def _live_includes(self, header: str, context: _Context) -> list[tuple[_Directive, bool]]:
        includes = context.live.get(header)
        if includes is None:
            includes = context.live[header] = _live_includes(self._directives(header), context.search)
        return includes

    def _resolve(self, name: str, angled: bool, includer: str, state: _Scan) -> tuple[str, str] | None:
        """(header path, the folder it was found in) as the compiler resolves `name`, or None."""
        if os.path.isabs(name):
            return (name, "") if self._exists(os.path.normpath(name)) else None
        context = state.context
        key = (name, angled, "" if angled else os.path.dirname(includer))
        if key in context.resolved:
            found = context.resolved[key]
        else:
            search = context.search
            folders = search.angled if angled else [key[2], *search.quote, *search.angled]
            found = context.resolved[key] = self._first(name, folders)
        if found is None and state.added_folders:
            found = self._first(name, state.added_folders)
        return found

    def _first(self, name: str, folders: list[str]) -> tuple[str, str] | None:
        for folder in folders:
            candidate = os.path.normpath(os.path.join(folder, name))
            if self._exists(candidate):
                return candidate, folder
        return None

    def _repair_one(self, name: str, includer: str, certain: bool, state: _Scan) -> tuple[str, str] | None:
        """Find the folder that makes `name` resolve, add it and return (header, folder); or record the
        header as missing."""
        if name in state.unresolved:
            return None
        origin = os.path.dirname(includer)
        best = min(
            (
                (_distance(origin, folder), rank, folder, how)
                for folder, rank, how in self._probes(name, includer, state)
            ),
            default=None,
        )
        if best is None or best[0] > 1:  # a folder of the tree could be nearer: look there too
            best = min(
                [
                    *([best] if best is not None else []),
                    *(
                        (_distance(origin, folder), 3, folder, "found in the tree")
                        for folder in self._found(name, state.tree)
                    ),
                ],
                default=None,
            )
        if best is None:
            state.unresolved.add(name)
            generated = self._generated(name, state.tree)
            state.missing.append(MissingHeader(name, includer, generated))
            index = self._indexes.get(state.tree)
            if index is not None and index.cut:
                state.cut_once("walk", index.cut)
            if generated and certain:
                self._note(
                    f"{state.tree}: needs generated header {name}: run the driver's configure or give -p"
                )
            return None
        _distance_, _rank, folder, how = best
        state.added_folders.append(folder)
        state.added.append(AddedFolder(folder, name, includer, how))
        header = os.path.normpath(os.path.join(folder, name))
        return header, folder

    def _probes(self, name: str, includer: str, state: _Scan) -> list[tuple[str, int, str]]:
        """(folder, rank, how) for the usual places from which `name` may resolve: the file's folder,
        the including file's, their parents up to the tree root and the include/ folders of those."""
        out: list[tuple[str, int, str]] = []
        origin = os.path.dirname(includer)
        for folder in dict.fromkeys((state.folder, origin)):
            if self._exists(os.path.normpath(os.path.join(folder, name))):
                out.append((folder, 0, "the file's folder"))
        for ancestor in [origin, *_ancestors(origin, state.tree)]:
            if ancestor != origin and self._exists(os.path.normpath(os.path.join(ancestor, name))):
                out.append((ancestor, 1, "a parent folder"))
            include = os.path.join(ancestor, "include")
            if self._exists(os.path.normpath(os.path.join(include, name))):
                out.append((include, 2, "an include/ folder"))
        return out

    def _found(self, name: str, tree: str) -> list[str]:
        """The folders of the tree from which `name` resolves (from the tree's walk)."""
        parts = name.split("/")
        out = []
        for holder in self._index(tree).folders_by_name.get(parts[-1], ()):
            base = holder
            for part in reversed(parts[:-1]):
                if os.path.basename(base) != part:
                    break
                base = os.path.dirname(base)
            else:
                out.append(base)
        return out

    def _generated(self, name: str, tree: str) -> bool:
        if GENERATED_NAME.search(name):
            return True
        base = os.path.basename(name)
        stem = base[:-2] if base.endswith(".h") else base
        names = self._index(tree).folders_by_name
        return any(template in names for template in (f"{base}.in", f"{base}.cmake", f"{stem}.h.in"))

    # --- the file system, cached for the run -----------------------------------------------------

    def _exists(self, path: str) -> bool:
        folder, name = os.path.split(path)
        return name in self._listing(folder)

    def _listing(self, folder: str) -> frozenset[str]:
        listing = self._listings.get(folder)
        if listing is None:
            try:
                listing = frozenset(os.listdir(folder))
            except OSError:
                listing = frozenset()
            self._listings[folder] = listing
        return listing

    def _directives(self, path: str) -> list[_Directive]:
        directives = self._scans.get(path)
        if directives is None:
            try:
                text = read_regular_file(path, _MAX_HEADER_BYTES).decode("latin-1")
            except OSError:  # a FIFO or a device among the headers is not read (it could block)
                text = ""
            directives = self._scans[path] = _directives(text)
        return directives

    def _is_local(self, path: str, tree: str) -> bool:
        return path == tree or path.startswith(tree.rstrip("/") + "/")

    def _find_root(self, folder: str) -> str:
        home = os.path.normpath(os.path.expanduser("~"))
        # 1. the git work tree holding the folder, unless a hidden folder lies between
        current = folder
        while True:
            if self._exists(os.path.join(current, ".git")):
                if current not in ("/", home):
                    return current
                break
            parent = os.path.dirname(current)
            if parent == current or os.path.basename(current).startswith(".") or current == home:
                break
            current = parent
        # 2. the folder and its parents that look like one project
        root = current = folder
        for _level in range(UP_LEVELS):
            parent = os.path.dirname(current)
            if (
                parent == current
                or os.path.dirname(parent) == "/"
                or parent == home
                or os.path.basename(parent).startswith(".")
            ):
                break
            if self._looks_like_project(parent):
                root = parent
            current = parent
        return root

    def _looks_like_project(self, folder: str) -> bool:
        return any(
            name.lower().startswith(_PROJECT_FILES) or name.endswith(_PROJECT_SUFFIXES)
            for name in self._listing(folder)
        )

    def _index(self, tree: str) -> _TreeIndex:
        index = self._indexes.get(tree)
        if index is None:
            index = self._indexes[tree] = self._walk_tree(tree)
        return index

    def _walk_tree(self, tree: str) -> _TreeIndex:
        """The folders holding each file name, in a breadth-first walk of the tree (hidden folders
        skipped; links to folders followed inside the tree only; each folder once), within budget."""
        index = _TreeIndex()
        budgets = self.budgets
        real_tree = os.path.realpath(tree)
        seen: set[tuple[int, int]] = set()
        try:
            info = os.stat(tree)
            seen.add((info.st_dev, info.st_ino))
        except OSError:
            return index
        entries = 0
        level: list[str] = [tree]
        depth = 0
        while level:
            next_level: list[str] = []
            for folder in level:
                try:
                    with os.scandir(folder) as scan:
                        listed = sorted(scan, key=lambda entry: entry.name)  # the same walk every time
                except OSError:
                    continue
                entries += len(listed)
                if entries > budgets.walk_entries:
                    index.cut = f"include search stopped after {budgets.walk_entries} entries of the tree"
                    return index
                for entry in listed:
                    name = entry.name
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        continue
                    if not is_dir:
                        index.folders_by_name.setdefault(name, []).append(folder)
                        continue
                    if name.startswith(".") or name in _SKIPPED_FOLDERS:
                        continue
                    try:
                        info = entry.stat()
                    except OSError:
                        continue
                    identity = (info.st_dev, info.st_ino)
                    if identity in seen:
                        continue
                    if entry.is_symlink():
                        target = os.path.realpath(entry.path)
                        if target != real_tree and not target.startswith(real_tree.rstrip("/") + "/"):
                            continue
                    seen.add(identity)
                    next_level.append(entry.path)
            depth += 1
            if next_level and depth > budgets.walk_depth:
                index.cut = f"include search stopped {budgets.walk_depth} folders deep"
                return index
            level = next_level
        return index

    def _note(self, note: str, key: object = None) -> None:
        """Add `note` once (once per `key` when one is given)."""
        mark = note if key is None else key
        if mark not in self._noted:
            self._noted.add(mark)
            self.notes.append(note)


@dataclass
class _Context:
    """What every file with the same search path (and macros) shares: resolved names and the live
    includes of each header."""

    search: _SearchPath
    resolved: dict[tuple[str, bool, str], tuple[str, str] | None] = field(default_factory=dict)
    live: dict[str, list[tuple[_Directive, bool]]] = field(default_factory=dict)
    clean: set[str] = field(default_factory=set)  # headers whose includes, all the way down, resolve


@dataclass
class _Scan:
    """The state of one file's repair."""

    path: str
    folder: str
    tree: str
    context: _Context
    added_folders: list[str] = field(default_factory=list)
    added: list[AddedFolder] = field(default_factory=list)
    missing: list[MissingHeader] = field(default_factory=list)
    unresolved: set[str] = field(default_factory=set)
    scanned: set[str] = field(default_factory=set)
    cut: dict[str, str] = field(default_factory=dict)  # what budget -> what it cut (the first time)
    events: int = 0  # includes that needed a repair, did not resolve, or were not scanned whole

    def cut_once(self, budget: str, what: str) -> None:
        self.cut.setdefault(budget, what)


# --- helpers ---------------------------------------------------------------------------------------


def _searchable(name: str) -> bool:
    """Whether a header that did not resolve is looked for in the tree."""
    if not name or os.path.isabs(name) or ".." in name.split("/"):
        return False
    return name.split("/", 1)[0] not in KERNEL_NAMESPACES


def _ancestors(folder: str, tree: str) -> list[str]:
    """`folder`'s parents up to `tree` (inclusive), nearest first; none when it is outside the tree."""
    out = []
    current = folder
    prefix = tree.rstrip("/") + "/"
    while current != tree and current.startswith(prefix):
        current = os.path.dirname(current)
        out.append(current)
    return out


def _distance(source: str, target: str) -> int:
    """Folder steps (up, then down) from `source` to `target`."""
    a = [part for part in source.split("/") if part]
    b = [part for part in target.split("/") if part]
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return len(a) - common + len(b) - common


def _search_path(args: Sequence[str]) -> _SearchPath:
    quote: list[str] = []
    angled: list[str] = []
    system: list[str] = []
    after: list[str] = []
    forced: list[str] = []
    defined: set[str] = set()
    undefined: set[str] = set()
    nostdinc = "-nostdinc" in args
    lists = {"-I": angled, "-iquote": quote, "-isystem": system, "-idirafter": after, "-include": forced}
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        option: str | None = arg[:2]
        if option not in _SEARCH_OPTION_STARTS:
            continue
        if option == "-i":
            option = next((name for name in _I_OPTIONS if arg.startswith(name)), None)
            if option is None:
                continue
        value = arg[len(option) :]
        if not value:
            if index >= len(args):
                break
            value = args[index]
            index += 1
        if option == "-D":
            name = value.split("=", 1)[0]
            if name.startswith(_PER_FILE_MACROS):
                continue  # never tested by an #if around an include; the same search path for all files
            defined.add(name)
            undefined.discard(name)
        elif option == "-U":
            undefined.add(value)
            defined.discard(value)
        else:
            lists[option].append(os.path.normpath(value))
    if not nostdinc:
        system += [folder for folder in SYSTEM_DIRS if folder not in system]
    not_defined = (_COMMAND_LINE_ONLY - defined) | undefined
    return _SearchPath(
        quote=quote,
        angled=[*angled, *system, *after],
        system=frozenset((*system, *after)),
        forced=forced,
        defined=frozenset(defined | (_PREDEFINED - undefined)),
        undefined=frozenset(not_defined),
        nostdinc=nostdinc,
    )


def _directives(text: str) -> list[_Directive]:
    """The preprocessor directives that matter here, in order (comments skipped)."""
    out: list[_Directive] = []
    position, in_comment = 0, False  # how far the text was read for block comments, and the state there
    for match in _DIRECTIVE.finditer(text):
        start = match.start()
        while True:  # the block comments between the last directive and this one
            mark = text.find("*/" if in_comment else "/*", position, start)
            if mark < 0:
                break
            in_comment, position = not in_comment, mark + 2
        position = max(position, start)
        if in_comment:
            continue  # inside a block comment
        kind, rest = match.group(1), match.group(2)
        if kind in ("include", "import"):
            name = _INCLUDE_NAME.match(rest)
            if name is not None:
                out.append(_Directive("include", name.group(2).strip(), name.group(1) == "<"))
        elif kind == "include_next":
            continue
        else:
            out.append(_Directive(kind, rest.replace("\\\n", " ")))
    return out


def _condition(directive: _Directive, search: _SearchPath, defines: set[str]) -> bool | None:
    """True, False, or None (undecided) for an #if/#ifdef/#ifndef/#elif, from the command line's
    macros and the file's own #defines so far."""

    def known(name: str) -> bool | None:
        if name in defines or name in search.defined:
            return True
        if name in search.undefined:
            return False
        return None

    text = directive.text
    if directive.kind in ("ifdef", "ifndef"):
        match = _IDENTIFIER.match(text)
        if match is None:
            return None
        value = known(match.group(1))
        if value is None or directive.kind == "ifdef":
            return value
        return not value
    stripped = text.strip()
    if stripped in ("0", "1"):
        return stripped == "1"
    match = _DEFINED.match(text) or _BARE.match(text)
    if match is not None:
        value = known(match.group(2))
        if value is None or (value and match.re is _BARE):
            return None  # a defined macro's value is not known here
        return not value if match.group(1) else value
    return None


def _live_includes(directives: list[_Directive], search: _SearchPath) -> list[tuple[_Directive, bool]]:
    """The includes not ruled out by the command line's macros, each with whether it is certain
    (every enclosing condition is known true)."""
    out: list[tuple[_Directive, bool]] = []
    defines: set[str] = set()
    # a frame: (value of the branch taken now: True/False/None, whether an earlier branch was taken:
    # True/False/None)
    stack: list[tuple[bool | None, bool | None]] = []
    for position, directive in enumerate(directives):
        kind = directive.kind
        if kind == "include":
            values = [value for value, _taken in stack]
            if False not in values:
                out.append((directive, None not in values))
        elif kind == "define":
            match = _IDENTIFIER.match(directive.text)
            if match is not None and False not in (value for value, _taken in stack):
                defines.add(match.group(1))
        elif kind in ("if", "ifdef", "ifndef"):
            value = _condition(directive, search, defines)
            if value is None and kind == "ifndef" and position + 1 < len(directives):
                following = directives[position + 1]
                name = _IDENTIFIER.match(directive.text)
                if (
                    name is not None
                    and following.kind == "define"
                    and following.text.split()[:1] == [name.group(1)]
                ):
                    value = True  # an include guard (or a default value), met for the first time
            stack.append((value, value))
        elif kind == "elif" and stack:
            _value, taken = stack[-1]
            if taken is True:
                stack[-1] = (False, True)
            else:
                value = _condition(directive, search, defines) if taken is False else None
                stack[-1] = (value, value if taken is False else None)
        elif kind == "else" and stack:
            _value, taken = stack[-1]
            value = None if taken is None else not taken
            stack[-1] = (value, True if taken is not None else None)
        elif kind == "endif" and stack:
            stack.pop()
    return out
