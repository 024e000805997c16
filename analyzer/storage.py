"""Files on disk that gupcheck keeps between runs (the fact cache, precompiled headers, remembered
compiler answers): entries written atomically and checked against a digest, and file identities.

An entry is a format marker (`magic`), the sha256 of the payload, then the pickled payload. It is
written to a temporary file and renamed into place, so concurrent runs never see half an entry; a
truncated or corrupt entry reads as missing, never as data. Reading a valid entry sets its modification
time: that is when it was last used, which `pipeline.cachedir` evicts by (least recently used first).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import tempfile
from pathlib import Path

_DIGEST_SIZE = 32


def file_identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def module_identity(name: str) -> tuple[str, tuple[int, int] | None] | None:
    """Where an installed module's file is and its identity (a reinstall changes it), found without
    importing the module; None when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin:
        return None
    return spec.origin, file_identity(spec.origin)


def touch(path: str | os.PathLike[str]) -> None:
    """Mark a cache file as used now (its modification time), if it can be: a read-only cache, or a
    file another run just removed, is used all the same."""
    try:
        os.utime(path)
    except OSError:
        pass


def read_entry(entry: Path, magic: bytes, *, use: bool = True) -> object | None:
    """An entry's payload, or None when it is missing, truncated or corrupt (never trusted).

    An entry is `magic`, the sha256 of the payload, then the pickled payload. A valid entry read is
    marked as used (`touch`) unless `use` is false (looked at, not used)."""
    try:
        data = entry.read_bytes()
    except OSError:
        return None
    header = len(magic) + _DIGEST_SIZE
    if len(data) <= header or not data.startswith(magic):
        return None
    payload = data[header:]
    if hashlib.sha256(payload).digest() != data[len(magic) : header]:
        return None
    if use:
        touch(entry)
    try:
        return pickle.loads(payload)
    except Exception:  # noqa: BLE001 - any unreadable payload is a miss, whatever the reason
        return None


def write_entry(entry: Path, value: object, magic: bytes) -> str | None:
    """Write `value` as an entry atomically (a temporary file renamed into place, removed if the
    write fails: a full disk leaves no partial file). Returns None when written, else why not
    ("No space left on device"): a cache is an optimisation, so the caller decides whether to say so."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        except FileNotFoundError:  # the folder was removed in between (`gupcheck cache clean`)
            entry.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(magic)
                out.write(hashlib.sha256(payload).digest())
                out.write(payload)
            os.replace(temporary, entry)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        return error.strerror or str(error)
    return None
