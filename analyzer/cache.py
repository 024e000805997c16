"""On-disk cache of per-file facts, so a re-run over unchanged sources parses nothing.

An entry is keyed by everything that decides a file's facts: the file's path and content, the clang
arguments and header mode it is parsed with, the libclang version and the analyser itself (its version
and the source of the modules that produce facts). The headers a parse included are recorded in the
entry with their size and modification time; an entry whose headers changed since is stale.

Entries are written to a temporary file and renamed into place, so two runs sharing a cache never
see a half-written entry. Each entry carries a digest of its payload: a truncated or corrupt entry is
ignored (and replaced by the next run), never trusted.

Facts are pickled. The cache directory belongs to the user running gupcheck (by default
``$XDG_CACHE_HOME/gupcheck``, else ``~/.cache/gupcheck``); do not point ``--cache-dir`` at a directory
others can write.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import pickle
import tempfile
from pathlib import Path

from gupcheck import __version__
from gupcheck.buildconfig import FileConfig
from gupcheck.facts import TranslationUnitFacts

MAGIC = b"gupcheck-facts-v1\n"
_DIGEST_SIZE = 32
_FACT_MODULES = ("facts.py", "parse.py")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gupcheck"


def _analyser_identity() -> bytes:
    digest = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent
    for name in _FACT_MODULES:
        digest.update(name.encode())
        digest.update((here / name).read_bytes())
    try:
        digest.update(importlib.metadata.version("libclang").encode())
    except importlib.metadata.PackageNotFoundError:
        digest.update(b"libclang-unknown")
    return digest.digest()


_IDENTITY: bytes | None = None


def analyser_identity() -> bytes:
    global _IDENTITY
    if _IDENTITY is None:
        _IDENTITY = _analyser_identity()
    return _IDENTITY


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


class FactCache:
    """Facts of translation units, one file per entry under ``<root>/facts/``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.facts_dir = self.root / "facts"
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(config: FileConfig, source: bytes) -> str:
        digest = hashlib.sha256(analyser_identity())
        for part in (config.path, config.mode.value, config.side.value, config.directory, *config.args):
            digest.update(part.encode("utf-8", "surrogateescape"))
            digest.update(b"\0")
        digest.update(hashlib.sha256(source).digest())
        return digest.hexdigest()

    def _entry(self, key: str) -> Path:
        return self.facts_dir / key[:2] / f"{key}.facts"

    def load(self, key: str) -> TranslationUnitFacts | None:
        """The cached facts for `key`, or None when absent, stale or unreadable."""
        unit = self._read(self._entry(key))
        if unit is None:
            self.misses += 1
        else:
            self.hits += 1
        return unit

    def _read(self, entry: Path) -> TranslationUnitFacts | None:
        try:
            data = entry.read_bytes()
        except OSError:
            return None
        header = len(MAGIC) + _DIGEST_SIZE
        if len(data) <= header or not data.startswith(MAGIC):
            return None
        payload = data[header:]
        if hashlib.sha256(payload).digest() != data[len(MAGIC):header]:
            return None  # truncated or corrupt: rebuilt by this run
        try:
            headers, unit = pickle.loads(payload)
        except Exception:  # noqa: BLE001 - any unreadable payload is a miss, whatever the reason
            return None
        if not isinstance(unit, TranslationUnitFacts):
            return None
        for path, identity in headers:
            if _file_identity(path) != identity:
                return None  # an included header changed
        return unit

    def store(self, key: str, unit: TranslationUnitFacts) -> None:
        """Write an entry atomically. A cache that cannot be written is skipped silently: the run
        itself does not depend on it."""
        headers = [(path, _file_identity(path)) for path in unit.headers]
        payload = pickle.dumps((headers, unit), protocol=pickle.HIGHEST_PROTOCOL)
        entry = self._entry(key)
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(MAGIC)
                    out.write(hashlib.sha256(payload).digest())
                    out.write(payload)
                os.replace(temporary, entry)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError:
            return
