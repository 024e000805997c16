"""The cache folder as a whole: what gupcheck keeps there, how much, and keeping it under a size limit.

Everything gupcheck writes in the cache folder is an *entry*, counted and removed whole:

- ``facts/xx/<key>.facts``, ``runs/xx/<key>.run`` and ``reports/xx/<key>.report`` (`pipeline.cache`);
- a precompiled header: ``pch/<key>.pch`` with its ``<key>.meta``, ``<key>.h`` and ``<key>.lock``
  (`frontend.pch`);
- ``builtin-include``, the compiler's answer (`frontend.buildconfig`);

and the temporary files entries are written to before they are renamed into place (``.tmp-*``). Files
are recognised by these names only: nothing else in the folder is counted or removed.

An entry's last use is its modification time: reading an entry sets it (`storage.read_entry`), and a
process using a PCH sets its description's while it uses it. After a run has written entries, `trim`
removes the least recently used entries until what gupcheck keeps in the folder is no more than the
limit. Other runs may share the folder at the same time, so a removal is careful:

- a file that vanished meanwhile is skipped (another run removed it);
- an entry used again since the folder was read is kept (its modification time moved on);
- a PCH is removed holding its lock, and left while another process holds it (building it);
- entries are written to a temporary file and renamed, so a removed name is never half an entry;
  temporary files are removed only when nobody has written to them for `IN_FLIGHT_SECONDS` (a
  crashed or killed run's), never one being written.

This module imports neither libclang nor the analyses: `gupcheck cache info` and a warm run stay light.
"""

from __future__ import annotations

import fcntl
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_MIB = 512
MIB = 1 << 20
# A temporary file nobody wrote to for this long belongs to a run that ended before renaming it.
IN_FLIGHT_SECONDS = 15 * 60

KINDS = ("facts", "runs", "reports", "pch", "builtin-include")
_SHARDED = {"facts": ".facts", "runs": ".run", "reports": ".report"}  # <kind>/<xx>/<key><suffix>
_SHARD = re.compile(r"[0-9a-f]{2}")
_KEY = re.compile(r"[0-9a-f]{64}")
_TEMPORARY = re.compile(r"\.tmp-[a-z0-9_]{8}")  # storage.write_entry's (tempfile.mkstemp's names)
_PCH_FILE = re.compile(r"([0-9a-f]{32})\.(pch|meta|h|lock)")
_PCH_TEMPORARY = re.compile(r"\.tmp-[0-9a-f]{32}-[0-9]+\.pch")  # a PCH being saved
_BUILTIN = "builtin-include"


def parse_mib(value: object) -> float:
    """A size limit in MiB: a finite positive number (fractions allowed), from the command line (a
    string) or the configuration (a TOML number). Raises ValueError with the reason."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size in MiB")
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a size in MiB") from None
    elif isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an integer past what a float holds
            raise ValueError(f"{value!r} is not a finite positive size in MiB") from None
    else:
        raise ValueError(f"{value!r} is not a size in MiB")
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{value!r} is not a finite positive size in MiB")
    return number


def limit_bytes(mib: float) -> int:
    return int(mib * MIB)


# ---------------------------------------------------------------------------------------------------
# What is there


@dataclass
class Entry:
    kind: str  # one of KINDS
    files: list[tuple[str, int]]  # (file, modification time in ns) as the folder was read
    size: int  # bytes
    used_ns: int  # last use: the latest modification time of its files
    lock: str | None = None  # a PCH's lock: held while it is removed

    @property
    def name(self) -> str:
        return self.files[0][0]


@dataclass
class Temporary:
    path: str
    size: int
    written_ns: int  # last written to

    def in_flight(self, now_ns: int) -> bool:
        return now_ns - self.written_ns < IN_FLIGHT_SECONDS * 1_000_000_000


@dataclass
class Contents:
    """What gupcheck keeps in a cache folder."""

    root: Path
    entries: list[Entry] = field(default_factory=list)
    temporary: list[Temporary] = field(default_factory=list)

    @property
    def size(self) -> int:
        """Bytes of everything gupcheck wrote there: entries and temporary files."""
        return sum(entry.size for entry in self.entries) + sum(file.size for file in self.temporary)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """Kind -> (entries, bytes), for every kind."""
        counts = {kind: (0, 0) for kind in KINDS}
        for entry in self.entries:
            number, size = counts[entry.kind]
            counts[entry.kind] = (number + 1, size + entry.size)
        return counts


def scan(root: str | os.PathLike[str]) -> Contents:
    """gupcheck's entries and temporary files in `root` (none when it does not exist). Symbolic
    links are neither followed nor counted. One stat a file: some 5 ms a thousand entries."""
    contents = Contents(Path(root))
    base = os.fspath(root)
    entries, temporary = contents.entries, contents.temporary
    for kind, suffix in _SHARDED.items():
        for shard in _folders(os.path.join(base, kind)):
            if not _SHARD.fullmatch(os.path.basename(shard)):
                continue
            for name, path, status in _files(shard):
                if name.endswith(suffix) and _KEY.fullmatch(name[: -len(suffix)]):
                    entries.append(
                        Entry(kind, [(path, status.st_mtime_ns)], status.st_size, status.st_mtime_ns)
                    )
                elif _TEMPORARY.fullmatch(name):
                    temporary.append(Temporary(path, status.st_size, status.st_mtime_ns))
    groups: dict[str, Entry] = {}
    folder = os.path.join(base, "pch")
    for name, path, status in _files(folder):
        if match := _PCH_FILE.fullmatch(name):
            key = match.group(1)
            group = groups.setdefault(key, Entry("pch", [], 0, 0, os.path.join(folder, f"{key}.lock")))
            group.files.append((path, status.st_mtime_ns))
            group.size += status.st_size
            group.used_ns = max(group.used_ns, status.st_mtime_ns)
        elif _PCH_TEMPORARY.fullmatch(name) or _TEMPORARY.fullmatch(name):
            temporary.append(Temporary(path, status.st_size, status.st_mtime_ns))
    for key in sorted(groups):
        group = groups[key]
        group.files.sort(key=lambda file: _PCH_ORDER.index(os.path.splitext(file[0])[1]))
        entries.append(group)
    for name, path, status in _files(base):
        if name == _BUILTIN:
            entries.append(
                Entry("builtin-include", [(path, status.st_mtime_ns)], status.st_size, status.st_mtime_ns)
            )
        elif _TEMPORARY.fullmatch(name):
            temporary.append(Temporary(path, status.st_size, status.st_mtime_ns))
    return contents


# The order a PCH's files are removed in: what tells a process the PCH is there goes first, the lock last.
_PCH_ORDER = (".meta", ".pch", ".h", ".lock")


def _folders(directory: str) -> list[str]:
    try:
        with os.scandir(directory) as found:
            return sorted(item.path for item in found if item.is_dir(follow_symlinks=False))
    except OSError:  # missing, not a folder, unreadable: nothing of ours to see there
        return []


def _files(directory: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """(name, path, status) of the regular files directly in `directory` (one that vanishes is skipped)."""
    try:
        with os.scandir(directory) as found:
            items = [item for item in found if item.is_file(follow_symlinks=False)]
    except OSError:
        return
    for item in items:
        try:
            yield item.name, item.path, item.stat(follow_symlinks=False)
        except OSError:
            continue


# ---------------------------------------------------------------------------------------------------
# Removing


@dataclass
class Removal:
    """What `trim` or `clean` removed, and what it left."""

    entries: int = 0
    bytes: int = 0
    left_in_use: int = 0  # entries used again meanwhile, PCHs being built, temporary files being written
    error: str | None = None  # why a file could not be removed (a read-only cache): the first reason


def trim(root: str | os.PathLike[str], limit: int, *, now_ns: int | None = None) -> Removal:
    """Remove the least recently used entries of `root` until gupcheck's files there take no more than
    `limit` bytes, and the temporary files of runs that ended without renaming them. Safe while other
    runs use the folder (see the module's documentation); stops at the first file it cannot remove."""
    contents = scan(root)
    now_ns = time.time_ns() if now_ns is None else now_ns
    removal = Removal()
    total = contents.size
    for file in contents.temporary:
        if not file.in_flight(now_ns):
            if not _unlink(file.path, removal):
                return removal
            removal.bytes += file.size
            total -= file.size
    for entry in sorted(contents.entries, key=lambda entry: (entry.used_ns, entry.name)):
        if total <= limit:
            break
        if _remove(entry, removal, unless_used=True):
            total -= entry.size
        elif removal.error is not None:
            break
    return removal


def clean(root: str | os.PathLike[str], *, now_ns: int | None = None) -> Removal:
    """Remove every entry gupcheck keeps in `root`, the temporary files of runs that ended, and the
    folders it made that are then empty; nothing else. A PCH being built and temporary files being
    written (another run at work) are left and counted."""
    contents = scan(root)
    now_ns = time.time_ns() if now_ns is None else now_ns
    removal = Removal()
    for file in contents.temporary:
        if file.in_flight(now_ns):
            removal.left_in_use += 1
        elif _unlink(file.path, removal):
            removal.bytes += file.size
    for entry in contents.entries:
        _remove(entry, removal, unless_used=False)
    for kind in (*_SHARDED, "pch"):
        folder = os.path.join(root, kind)
        for shard in _folders(folder):
            if _SHARD.fullmatch(os.path.basename(shard)):
                _rmdir(shard)
        _rmdir(folder)
    return removal


def _remove(entry: Entry, removal: Removal, *, unless_used: bool) -> bool:
    """Remove `entry`'s files; False when it is left: used again since it was read (`unless_used`),
    a PCH whose lock another process holds, or a file that cannot be removed (`removal.error`)."""
    if entry.lock is None:
        return _remove_files(entry, removal, unless_used)
    try:
        lock = open(entry.lock, "a")  # noqa: SIM115 - held while the files go
    except OSError as error:
        removal.error = removal.error or _reason(error)
        return False
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            removal.left_in_use += 1  # being built
            return False
        if not any(path == entry.lock for path, _ in entry.files):
            entry.files.append((entry.lock, _mtime_ns(entry.lock) or 0))  # made just now: ours to remove
        return _remove_files(entry, removal, unless_used)


def _remove_files(entry: Entry, removal: Removal, unless_used: bool) -> bool:
    if unless_used and any((_mtime_ns(path) or 0) > seen for path, seen in entry.files):
        removal.left_in_use += 1
        return False
    for path, _ in entry.files:
        if not _unlink(path, removal):
            return False
    removal.entries += 1
    removal.bytes += entry.size
    return True


def _unlink(path: str, removal: Removal) -> bool:
    """Remove one file; True when it is gone (it may have been already), else the reason is recorded."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        removal.error = removal.error or _reason(error)
        return False
    return True


def _rmdir(directory: str) -> None:
    try:
        os.rmdir(directory)  # only when empty: a folder holding anything else stays
    except OSError:
        pass


def _mtime_ns(path: str) -> int | None:
    try:
        return os.lstat(path).st_mtime_ns
    except OSError:
        return None


def _reason(error: OSError) -> str:
    return f"{error.filename}: {error.strerror or error}" if error.filename else str(error.strerror or error)


def human(size: int) -> str:
    """A size as people read it: 0 B, 812 B, 3.4 KiB, 12.0 MiB, 1.2 GiB."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def mib(limit: float) -> str:
    """A limit in MiB as given (512 MiB, 0.5 MiB)."""
    return f"{limit:g} MiB"
