"""Module context: a file given alone is analysed with the other objects of its module.

A driver's ioctl entry and the helper that pins pages are often in two objects of one module. Given
one of them alone (`gupcheck drivers/tee/tee_shm.c`, a pre-commit hook on the changed files, Kbuild's
`CHECK=`), the analysis would see half of the path and the finding would vanish. So the other sources of
the module are analysed too, as context: their facts link into the program, but findings, parse
warnings and exit status speak only of the files given.

The module's objects come from the Kbuild reader (`gupcheck.frontend.kbuild.KbuildReader.module_sources`)
when a makefile lists the file's object, else from the file's folder (its other `.c` files). A module
larger than `BUDGET` files is cut, with a note.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from gupcheck.model.findings import InputProblem
from gupcheck.output.text import plural

BUDGET = 200  # context files of one run at most
FOLDER_SCAN_LIMIT = 10_000  # entries of a folder looked at for its .c files


@dataclass
class ModuleContext:
    files: list[str] = field(default_factory=list)  # the other sources of the given files' modules
    notes: list[InputProblem] = field(default_factory=list)  # one a module, on its first given file


Reader = Callable[[str], list[str]]  # a C file -> the C files of its module ([]: no makefile lists it)


def module_sources(path: str, reader: Reader | None = None) -> tuple[list[str], str]:
    """The sources of the module the C file `path` (absolute) is an object of, and where that comes
    from: its makefile, as the Kbuild `reader` reads it, else the `.c` files of its folder."""
    listed = _kbuild_sources(path, reader) if reader is not None else []
    if listed:
        return listed, "its Kbuild makefile"
    return _folder_sources(os.path.dirname(path)), "its folder"


def _kbuild_sources(path: str, reader: Reader) -> list[str]:
    try:
        found = reader(path)
    except (OSError, ValueError, RecursionError):  # a makefile the reader cannot take: the folder
        return []
    sources = [os.path.normpath(os.path.abspath(source)) for source in found]
    return [source for source in sources if source.endswith(".c") and os.path.isfile(source)]


def kbuild_reader(directory: str) -> Reader:
    """The Kbuild reader of the kernel tree `directory` (where Kbuild runs its checker), with the
    tree's configuration when it is one; without it otherwise."""
    from gupcheck.frontend.buildconfig import ConfigError, resolve_kernel_dir
    from gupcheck.frontend.kbuild import KbuildReader

    try:
        tree = resolve_kernel_dir(directory)
    except ConfigError:
        tree = None
    return KbuildReader(tree).module_sources


def _folder_sources(folder: str) -> list[str]:
    """The C files of `folder` (not its subfolders), as discovery would find them there."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= FOLDER_SCAN_LIMIT:
                    break
                name = entry.name
                if name.startswith(".") or not name.endswith(".c") or name.endswith(".mod.c"):
                    continue
                if entry.is_file(follow_symlinks=True):
                    found.append(os.path.join(folder, name))
    except OSError:
        return []
    return sorted(found)


def module_context(
    given: list[str],
    analysed: Collection[str],
    usable: Callable[[str], bool] = lambda _path: True,
    budget: int = BUDGET,
    reader: Reader | None = None,
) -> ModuleContext:
    """The sources of the modules of the `given` files (absolute paths of C files given by name) that
    are not `analysed` already and that are `usable` (asked of at most `budget` files: the caller
    prepares their analysis there), and a note a module. `reader`: the Kbuild reader's module_sources."""
    context = ModuleContext()
    taken = {os.path.realpath(path) for path in analysed}
    modules: dict[tuple[str, ...], list[str]] = {}
    origins: dict[tuple[str, ...], str] = {}
    for path in given:
        listed, origin = module_sources(path, reader)
        key = tuple(listed)
        modules.setdefault(key, []).append(path)
        origins[key] = origin
    asked = 0
    for module, members in modules.items():
        added, cut = [], 0
        for source in module:
            real = os.path.realpath(source)
            if real in taken:
                continue
            taken.add(real)
            if asked >= budget:
                cut += 1
                continue
            asked += 1
            if usable(source):
                added.append(source)
                context.files.append(source)
        if not added and not cut:
            continue
        others = plural(len(added), "other file")
        message = (
            f"analysed with {others} of its module (from {origins[module]}) as context; "
            "findings are reported only in the files given"
        )
        if cut:
            message += f" (the context was cut at {budget} files: {cut} more not analysed)"
        context.notes.append(InputProblem(members[0], message, fatal=False, note=True))
    return context


def kbuild_entries(directory: str, source: str, flags: list[str]) -> list[dict[str, object]]:
    """Compile database entries for Kbuild's checker call `CHECK flags source` run in `directory`: the
    file's own, and the same command for each other source of its module (at most BUDGET), its
    object's name (`KBUILD_BASENAME`) changed, so that every object keeps the facts of its own check."""
    path = os.path.normpath(os.path.join(directory, source))
    entries: list[dict[str, object]] = [
        {"directory": directory, "file": source, "arguments": ["cc", *flags, "-c", source]}
    ]
    module = module_sources(path, kbuild_reader(directory))[0]
    others = [other for other in module if os.path.realpath(other) != os.path.realpath(path)]
    stem = _stem(path)
    for other in others[:BUDGET]:
        own = [_renamed(flag, stem, _stem(other)) for flag in flags]
        entries.append({"directory": directory, "file": other, "arguments": ["cc", *own, "-c", other]})
    return entries


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _renamed(flag: str, stem: str, other: str) -> str:
    """`-DKBUILD_BASENAME="a"` -> `-DKBUILD_BASENAME="b"` (also KBUILD_STR(a), of older trees)."""
    if "KBUILD_BASENAME" not in flag:
        return flag
    for old, new in ((f'"{stem}"', f'"{other}"'), (f"({stem})", f"({other})")):
        if old in flag:
            return flag.replace(old, new)
    return flag
