"""Which kernel build tree kernel code is parsed with, when the user did not name one.

In order (`find_kernel_tree`):

1. ``--kernel-dir`` (an unusable folder is an error);
2. the ``GUPCHECK_KERNEL_DIR`` environment variable (likewise);
3. the tree a compile database names (the ``directory`` of its kernel entries, the tree their
   ``-include .../include/linux/kconfig.h`` or ``-I .../include`` point into);
4. the running kernel's ``/lib/modules/$(uname -r)/build``;
5. the trees installed for other kernels: ``/lib/modules/*/build``, ``/usr/src/linux-headers-*``
   (Debian, Ubuntu) and ``/usr/src/kernels/*`` (Fedora), those `KernelTree.detect` accepts whose
   target (`kernelarch`) is this machine's; the newest by version (as ``sort -V`` orders them) wins.

None of them: the built-in kernel API model. Every step after the second leaves a note for the user
(which tree, the others installed, or where gupcheck looked). The folders searched are
``<root>/lib/modules`` and ``<root>/usr/src`` with ``<root>`` from ``GUPCHECK_KERNEL_SEARCH_ROOT``
(default ``/``), or given as `SearchRoots`. The searches are bounded (`MAX_ENTRIES` names a folder,
`MAX_CANDIDATES` trees examined, `MAX_DATABASE_CANDIDATES` folders of a compile database); a note says
when a bound cut one short.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gupcheck.frontend.buildconfig import ENV_KERNEL_DIR, ConfigError, KernelTree

if TYPE_CHECKING:
    from gupcheck.frontend.buildconfig import CompilationDatabase

ENV_SEARCH_ROOT = "GUPCHECK_KERNEL_SEARCH_ROOT"
MAX_ENTRIES = 4096  # names read from one folder
MAX_CANDIDATES = 32  # installed trees examined (the newest first)
MAX_DATABASE_CANDIDATES = 8  # folders a compile database names that are tried as trees
_NAMED = 4  # other installed trees named in a note


@dataclass(frozen=True)
class SearchRoots:
    """Where installed trees are looked for, and the running kernel's release and machine."""

    lib_modules: str = "/lib/modules"
    usr_src: str = "/usr/src"
    release: str = ""  # `uname -r`
    machine: str = ""  # `uname -m`

    @classmethod
    def default(cls) -> SearchRoots:
        root = os.environ.get(ENV_SEARCH_ROOT) or "/"
        uname = os.uname()
        return cls(
            lib_modules=os.path.join(root, "lib", "modules"),
            usr_src=os.path.join(root, "usr", "src"),
            release=getattr(uname, "release", ""),
            machine=getattr(uname, "machine", ""),
        )


@dataclass
class Resolution:
    """The tree chosen (None: the built-in model), how it was found, and the notes for the user."""

    tree: KernelTree | None
    where: str = ""  # the tree as it was named or found (e.g. /lib/modules/V/build)
    origin: str = ""  # "--kernel-dir", "$GUPCHECK_KERNEL_DIR", "compile database", "running kernel", ...
    notes: list[str] = field(default_factory=list)


def find_kernel_tree(
    explicit: str | None,
    database: CompilationDatabase | None = None,
    roots: SearchRoots | None = None,
) -> Resolution:
    """The kernel tree for kernel code, in the order of the module's docstring. Raises ConfigError when
    `explicit` or ``$GUPCHECK_KERNEL_DIR`` names a folder that is not a usable tree."""
    if explicit:
        return Resolution(KernelTree.detect(explicit), explicit, "--kernel-dir")
    env = os.environ.get(ENV_KERNEL_DIR)
    if env:
        try:
            return Resolution(KernelTree.detect(env), env, f"${ENV_KERNEL_DIR}")
        except ConfigError as error:
            raise ConfigError(f"{ENV_KERNEL_DIR}: {error}") from None
    roots = roots or SearchRoots.default()
    looked = [f"${ENV_KERNEL_DIR} (unset)"]
    cut: list[str] = []
    if database is not None:
        found = database_kernel_tree(database, cut)
        if found is not None:
            tree, where = found
            note = f"kernel code is parsed with {where}, the kernel tree the compile database names"
            return Resolution(tree, where, "compile database", [note, *_cut_notes(cut)])
        looked.append(f"the compile database {database.path} (names no kernel tree)")
    unusable: list[tuple[str, str]] = []
    running = os.path.join(roots.lib_modules, roots.release, "build") if roots.release else ""
    if running:
        looked.append(running)
        if os.path.isdir(running):
            try:
                tree = _usable(running, roots)
            except ConfigError as error:
                unusable.append((running, _reason(error)))
            else:
                note = f"kernel code is parsed with {running}, the running kernel's tree"
                return Resolution(tree, running, "running kernel", [note])
    installed = installed_kernel_trees(roots, unusable, cut, skip=running)
    looked += [
        os.path.join(roots.lib_modules, "*", "build"),
        os.path.join(roots.usr_src, "linux-headers-*"),
        os.path.join(roots.usr_src, "kernels", "*"),
    ]
    if installed:
        (where, tree), others = installed[0], [path for path, _tree in installed[1:]]
        if not others:
            note = f"kernel code is parsed with {where}, the only kernel tree installed"
        else:
            named = ", ".join(others[:_NAMED])
            if len(others) > _NAMED:
                named += f" and {len(others) - _NAMED} more"
            note = (
                f"kernel code is parsed with {where}, the newest of {len(installed)} kernel trees "
                f"installed (also: {named})"
            )
        if running:
            unusable_running = any(path == running for path, _reason in unusable)
            note += (
                f"; the running kernel {roots.release} has {'no usable one' if unusable_running else 'none'}"
            )
        note += "; --kernel-dir chooses another"
        return Resolution(tree, where, "installed", [note, *_cut_notes(cut)])
    note = f"no kernel build tree found (looked at {', '.join(looked)})"
    if unusable:
        shown = "; ".join(f"{path}: {reason}" for path, reason in unusable[:_NAMED])
        more = f"; and {len(unusable) - _NAMED} more" if len(unusable) > _NAMED else ""
        note += f"; not usable: {shown}{more}"
    return Resolution(None, "", "model", [note, *_cut_notes(cut)])


def installed_kernel_trees(
    roots: SearchRoots,
    unusable: list[tuple[str, str]] | None = None,
    cut: list[str] | None = None,
    skip: str = "",
) -> list[tuple[str, KernelTree]]:
    """The usable trees installed, newest first, each once (as first named), without `skip`. Folders
    that look like trees but are not usable go to `unusable` with the reason; bounds hit go to `cut`."""
    unusable = unusable if unusable is not None else []
    cut = cut if cut is not None else []
    candidates: list[tuple[str, str]] = []  # (version, path)
    for name in _names(roots.lib_modules, cut):
        path = os.path.join(roots.lib_modules, name, "build")
        if path != skip and os.path.isdir(path):
            candidates.append((name, path))
    for name in _names(roots.usr_src, cut):
        if name.startswith("linux-headers-") and not re.search(r"-common(-rt)?$", name):
            candidates.append((name.removeprefix("linux-headers-"), os.path.join(roots.usr_src, name)))
    fedora = os.path.join(roots.usr_src, "kernels")
    for name in _names(fedora, cut):
        candidates.append((name, os.path.join(fedora, name)))
    candidates.sort(key=lambda candidate: version_key(candidate[0]), reverse=True)
    if len(candidates) > MAX_CANDIDATES:
        cut.append(
            f"{len(candidates)} installed kernel trees: only the newest {MAX_CANDIDATES} were examined"
        )
        candidates = candidates[:MAX_CANDIDATES]
    seen = {os.path.realpath(skip)} if skip else set()
    found: list[tuple[str, KernelTree]] = []
    for _version, path in candidates:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        try:
            found.append((path, _usable(path, roots)))
        except ConfigError as error:
            unusable.append((path, _reason(error)))
    return found


def database_kernel_tree(
    database: CompilationDatabase, cut: list[str] | None = None
) -> tuple[KernelTree, str] | None:
    """The kernel tree a compile database's kernel entries were compiled against, and the folder that
    named it: an entry's ``directory`` (Kbuild runs in the tree: ``make -C KDIR M=...``), then the tree
    of its ``-include .../include/linux/kconfig.h``, then the parents of its ``-I .../include``."""
    tried: set[str] = set()
    for entry in database.entries.values():
        if not any(arg in ("-D__KERNEL__", "-D__KERNEL__=1") for arg in entry.args):
            continue
        for candidate in _database_candidates(entry.directory, entry.args):
            real = os.path.realpath(candidate)
            if real in tried:
                continue
            if len(tried) >= MAX_DATABASE_CANDIDATES:
                if cut is not None:
                    cut.append(
                        f"the compile database names more than {MAX_DATABASE_CANDIDATES} folders that "
                        "could be kernel trees: only the first were tried"
                    )
                return None
            tried.add(real)
            try:
                return KernelTree.detect(candidate), candidate
            except ConfigError:
                continue
    return None


def _database_candidates(directory: str, args: tuple[str, ...]) -> list[str]:
    found = [directory]
    includes: list[str] = []
    for index, arg in enumerate(args):
        value = None
        if arg in ("-include", "-I") and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("-I") and len(arg) > 2:
            value = arg[2:]
        if value is None:
            continue
        value = os.path.normpath(value)
        if arg == "-include" and value.endswith(os.path.join("include", "linux", "kconfig.h")):
            found.append(os.path.dirname(os.path.dirname(os.path.dirname(value))))
        elif arg != "-include" and os.path.basename(value) == "include":
            includes.append(os.path.dirname(value))
    return found + includes


def version_key(text: str) -> tuple[tuple[str, int], ...]:
    """A key that orders versions as ``sort -V`` does for kernel releases: runs of digits compare as
    numbers, the text between them as text ("6.1.0-9" < "6.1.0-57" < "6.10.0-1")."""
    parts = re.split(r"(\d+)", text)
    return tuple((parts[i], int(parts[i + 1]) if i + 1 < len(parts) else -1) for i in range(0, len(parts), 2))


def _names(folder: str, cut: list[str]) -> list[str]:
    names: list[str] = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if len(names) >= MAX_ENTRIES:
                    cut.append(f"{folder}: more than {MAX_ENTRIES} entries, only the first were read")
                    break
                names.append(entry.name)
    except OSError:
        return []
    return sorted(names)


def _usable(path: str, roots: SearchRoots) -> KernelTree:
    """`KernelTree.detect`, and a tree built for another architecture than this machine's refused."""
    tree = KernelTree.detect(path)
    machine = tree_machine(tree)
    running = _MACHINES.get(roots.machine, roots.machine)
    if machine and running and machine != running:
        raise ConfigError(f"kernel dir {path}: built for {machine}, not this machine's {running}")
    return tree


# `uname -m` spellings of the same machine
_MACHINES = {"arm64": "aarch64", "amd64": "x86_64", "i386": "i686", "i586": "i686"}


def tree_machine(tree: KernelTree) -> str:
    """The machine a tree builds for, as `uname -m` names it: the first part of its target triple
    ("x86_64", "aarch64")."""
    machine = tree.arch.target.split("-", 1)[0]
    return _MACHINES.get(machine, machine)


def _reason(error: ConfigError) -> str:
    """A detect error without its "kernel dir X: " prefix (the note names the folder)."""
    return re.sub(r"^kernel dir .*?: ", "", str(error), count=1)


def _cut_notes(cut: list[str]) -> list[str]:
    return [f"kernel tree search cut short: {what}" for what in dict.fromkeys(cut)]
