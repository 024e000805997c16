"""Finding the source files to analyse in the paths given on the command line.

`discover_sources` never raises and never modifies anything. What it decides:

* A directory is searched recursively for ``*.c`` files, in sorted order. Hidden directories (``.git``,
  ``.tmp_versions``, ...), hidden files and Kbuild's generated ``*.mod.c`` are skipped; symbolic
  links to directories are not followed (a tree cannot loop). A directory without any C file is a
  problem. A ``repro/`` folder holding a ``repro.toml`` (the repro of a case, for ``gupcheck
  validate``: programs that trigger the bugs on purpose) is skipped too, unless given by name.
* A file given explicitly must be C source: ``.c``, or ``.h`` (a header given by name, as a
  pre-commit hook passes changed headers, is analysed as a translation unit of its own). Any other
  suffix is a problem.
* A file that does not exist (or a symbolic link whose target does not), that is not a regular file
  (a FIFO, a device, a socket: opening those could block or have side effects), that cannot be read,
  or that holds NUL bytes in its first 8 KiB (a binary file) is a problem, and is not analysed.
* A file that is not valid UTF-8 (old kernel sources have Latin-1 author names in comments) is still
  analysed: `read_source_text` decodes it as Latin-1, which maps every byte to one character, so
  line and column numbers stay right. A non-fatal problem notes it.
* The same file reached twice (given twice, or through a directory and by name, or through a link)
  is analysed once, at its first position.

Problem messages are one line without the path (the path is in `InputProblem.path`).
"""

from __future__ import annotations

import os
import re
import stat

from gupcheck.model.findings import InputProblem

SOURCE_SUFFIXES = (".c", ".h")
BINARY_PROBE = 8192


def _is_generated(name: str) -> bool:
    return name.endswith(".mod.c")


def is_repro_folder(path: str) -> bool:
    """A case's repro for `gupcheck validate` (see gupcheck.validate.cases)."""
    return os.path.basename(path) == "repro" and os.path.isfile(os.path.join(path, "repro.toml"))


def decode_source(data: bytes) -> tuple[str, bool]:
    """Decode source bytes: (text, True) for UTF-8, else (Latin-1 text, False)."""
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("latin-1"), False


def read_source_text(path: str) -> str:
    """The text of a source file, decoded as `discover_sources` describes (UTF-8, else Latin-1).
    Raises OSError if the file cannot be read."""
    with open(path, "rb") as f:
        return decode_source(f.read())[0]


class NotRegularFile(OSError):
    """The path names a FIFO, a device or a socket (reading it could block forever)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"not a regular file (a FIFO, device or socket): {path}")
        self.strerror = "not a regular file (a FIFO, device or socket)"


def read_regular_file(path: str, limit: int = -1) -> bytes:
    """The bytes of a regular file (at most `limit` of them, when given). A path swapped for a FIFO, a
    device or a socket since it was found raises NotRegularFile instead of blocking; other failures
    raise OSError. Every file gupcheck reads that the user's tree names (sources, headers it scans,
    makefiles) is read this way: a FIFO in a tree must not hang a run."""
    # O_NONBLOCK: opening a FIFO does not wait for a writer
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise NotRegularFile(path)
        return handle.read(limit)


def _strerror(e: OSError) -> str:
    msg = e.strerror or str(e)
    return msg[0].lower() + msg[1:] if msg else "unknown error"


def _check_file(path: str, explicit: bool) -> InputProblem | None | str:
    """None when the file is fine; "utf8" when it is fine but not UTF-8; else the problem."""
    if not os.path.lexists(path):
        return InputProblem(path, "no such file or directory")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        target = os.readlink(path) if os.path.islink(path) else "?"
        return InputProblem(path, f"broken symbolic link (its target {target} does not exist)")
    except OSError as e:
        return InputProblem(path, f"cannot access: {_strerror(e)}")
    if not stat.S_ISREG(st.st_mode):
        return InputProblem(path, "not a regular file (a FIFO, device or socket); not analysed")
    if explicit and not path.endswith(SOURCE_SUFFIXES):
        return InputProblem(path, "not a C source file (expected a .c or .h file)")
    try:
        data = read_regular_file(path)
    except OSError as e:
        return InputProblem(path, f"cannot read: {_strerror(e)}")
    if b"\0" in data[:BINARY_PROBE]:
        return InputProblem(path, "binary file (NUL bytes in its first 8 KiB), not C source")
    if not decode_source(data)[1]:
        return "utf8"
    return None


def _walk(directory: str) -> tuple[list[str], list[InputProblem]]:
    found: list[str] = []
    errors: list[InputProblem] = []

    def onerror(e: OSError) -> None:
        where = e.filename or directory
        errors.append(InputProblem(where, f"cannot read directory: {_strerror(e)}"))

    for root, dirs, files in os.walk(directory, onerror=onerror, followlinks=False):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not is_repro_folder(os.path.join(root, d))
        )
        for name in sorted(files):
            if name.startswith(".") or not name.endswith(".c") or _is_generated(name):
                continue
            found.append(os.path.join(root, name))
    return sorted(found), errors


def discover_sources(paths: list[str]) -> tuple[list[str], list[InputProblem]]:
    """Expand `paths` (files and directories) into the C files to analyse.

    Returns (absolute normalised paths, in the order given and sorted within each directory;
    problems). Fatal problems exclude the file; non-fatal ones (not UTF-8) keep it.
    """
    sources: list[str] = []
    problems: list[InputProblem] = []
    seen: set[str] = set()
    named: set[str] = set()  # files given by name

    def add(path: str, explicit: bool) -> None:
        result = _check_file(path, explicit)
        if isinstance(result, InputProblem):
            problems.append(result)
            return
        key = os.path.realpath(path)
        if explicit:
            named.add(key)
        if key in seen:
            return
        seen.add(key)
        sources.append(path)
        if result == "utf8":
            problems.append(InputProblem(path, "not valid UTF-8; read as Latin-1", fatal=False))

    for raw in paths:
        try:
            path = os.path.normpath(os.path.abspath(raw))
            if not raw:
                problems.append(InputProblem(raw, "empty path"))
                continue
            if os.path.isdir(path):
                files, errors = _walk(path)
                problems.extend(errors)
                if not files:
                    if not errors:
                        problems.append(InputProblem(path, "no C source files (*.c) in this directory"))
                    continue
                for f in files:
                    add(f, explicit=False)
            else:
                add(path, explicit=True)
        except (OSError, ValueError) as e:  # e.g. a path with a NUL byte, or a too-long name
            problems.append(InputProblem(str(raw), f"cannot use this path: {e}"))
    return _without_included(sources, named, problems), problems


# `#include "selftests/huge_pages.c"`: a C file that is part of another translation unit
_INCLUDED_SOURCE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*"([^"]+\.c)"', re.MULTILINE)


def _without_included(sources: list[str], named: set[str], problems: list[InputProblem]) -> list[str]:
    """The sources without the C files another of them #includes (i915's selftests, a driver's test
    harness built into the module): those are parsed as part of their includer, under its flags, and
    are not translation units of their own. A file named on the command line is kept."""
    included: dict[str, str] = {}
    for source in sources:
        try:
            text = read_regular_file(source, MAX_SCAN)
        except OSError:
            continue
        if b'.c"' not in text:
            continue
        folder = os.path.dirname(source)
        for match in _INCLUDED_SOURCE.finditer(text):
            name = match.group(1).decode("utf-8", "replace")
            target = os.path.realpath(os.path.join(folder, name))
            included.setdefault(target, source)
    kept = []
    for source in sources:
        includer = included.get(os.path.realpath(source))
        if includer is None or os.path.realpath(source) in named or includer == source:
            kept.append(source)
            continue
        problems.append(
            InputProblem(
                source,
                f"#included by {os.path.basename(includer)}: analysed as part of it, not on its own",
                fatal=False,
                note=True,
            )
        )
    return kept


MAX_SCAN = 4 << 20  # bytes of a source read for its #include "*.c" lines
