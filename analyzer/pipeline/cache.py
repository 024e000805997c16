"""On-disk cache of per-file facts, so a re-run over unchanged sources parses nothing.

An entry is keyed by everything that decides a file's facts: the file's path and content, the clang
arguments and header mode it is parsed with, the installed libclang (its package's file, size and
modification time: a reinstall or an upgrade changes them) and the analyser itself (its version and
the source of the modules that produce facts). The headers a parse included are recorded in the
entry with their size and modification time; an entry whose headers changed since is stale.

Entries are written to a temporary file and renamed into place, so two runs sharing a cache never
see a half-written entry. Each entry carries a digest of its payload: a truncated or corrupt entry is
ignored (and replaced by the next run), never trusted. Reading an entry marks it used; after a run that
wrote entries, `pipeline.cachedir.trim` removes the least recently used until the folder is under its
size limit.

Facts are pickled. The cache directory belongs to the user running gupcheck (by default
``$XDG_CACHE_HOME/gupcheck``, else ``~/.cache/gupcheck``); do not point ``--cache-dir`` at a directory
others can write.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from gupcheck import __version__
from gupcheck.model.facts import TranslationUnitFacts
from gupcheck.pipeline.factcodec import FactDecoder, encode
from gupcheck.storage import file_identity, module_identity, read_entry, write_entry

if TYPE_CHECKING:
    from gupcheck.frontend.buildconfig import FileConfig

MAGIC = b"gupcheck-facts-v3\n"
# The modules whose source decides a file's facts (relative to the package): the front end, the fact
# model and the API tables the front end reads.
_FACT_SOURCES = ("frontend", "model/facts.py", "model/findings.py", "kernel_api", "storage.py")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gupcheck"


def _analyser_identity(whole: bool) -> bytes:
    """gupcheck's version and source: of the modules that produce facts, or (`whole`) of every module,
    rules included, for cached results of whole runs."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).resolve().parent.parent
    if whole:
        import gupcheck.rules

        modules = _python_files(package) + _python_files(Path(gupcheck.rules.__file__).resolve().parent)
    else:
        modules = []
        for name in _FACT_SOURCES:
            source = package / name
            modules += _python_files(source) if source.is_dir() else [source]
    for module in modules:
        digest.update(module.name.encode())
        digest.update(module.read_bytes())
    digest.update(repr(module_identity("clang")).encode())  # libclang, found without importing it
    return digest.digest()


def _python_files(folder: Path) -> list[Path]:
    """The modules below `folder`, in a stable order; the folders that hold none (the kernel model's
    headers, the guest's C, bytecode) are not walked."""
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if d not in _NOT_PYTHON)
        found += [Path(directory) / name for name in sorted(files) if name.endswith(".py")]
    return found


_NOT_PYTHON = frozenset({"__pycache__", "kernel_model", "guest"})
_IDENTITY: dict[bool, bytes] = {}


def analyser_identity(whole: bool = False) -> bytes:
    if whole not in _IDENTITY:
        _IDENTITY[whole] = _analyser_identity(whole)
    return _IDENTITY[whole]


class CachedFacts:
    """A valid cache entry: the file-level facts (path, side, mode, diagnostics) at once, the
    function facts on demand (they are most of the entry, and a run whose findings are cached too
    never needs them)."""

    def __init__(self, summary: TranslationUnitFacts, unit_bytes: bytes) -> None:
        self.summary = summary
        self._unit_bytes = unit_bytes

    def unit(self, decoder: FactDecoder) -> TranslationUnitFacts | None:
        """The full facts, or None if they cannot be decoded (the entry is then treated as a miss)."""
        try:
            unit = decoder.decode(self._unit_bytes)
        except Exception:  # noqa: BLE001 - an undecodable entry is a miss, whatever the reason
            return None
        return unit if isinstance(unit, TranslationUnitFacts) else None


def unwritable_warning(root: str | os.PathLike[str], reason: str) -> str:
    """The warning a run gives, once, when its cache cannot be written."""
    return f"the cache in {root} cannot be written ({reason}): this run's facts are not kept"


class FactCache:
    """Facts of translation units, one file per entry under ``<root>/facts/``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.facts_dir = self.root / "facts"
        self.hits = 0
        self.misses = 0
        self._identities: dict[str, tuple[int, int] | None] = {}  # header -> identity, stat once a run

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

    def load(self, key: str) -> CachedFacts | None:
        """The cached facts for `key`, or None when absent, stale or unreadable. Only the file-level
        summary is decoded here; `CachedFacts.unit()` decodes the function facts when needed."""
        cached = self._read(self._entry(key))
        if cached is None:
            self.misses += 1
        else:
            self.hits += 1
        return cached

    def _read(self, entry: Path) -> CachedFacts | None:
        payload = read_entry(entry, MAGIC)
        if not (isinstance(payload, tuple) and len(payload) == 3):
            return None
        headers, summary, unit_bytes = payload
        if not isinstance(summary, TranslationUnitFacts) or not isinstance(unit_bytes, bytes):
            return None
        known = self._identities
        for path, identity in headers:
            if path not in known:
                known[path] = file_identity(path)
            if known[path] != identity:
                return None  # an included header changed
        return CachedFacts(summary, unit_bytes)

    def store(self, key: str, unit: TranslationUnitFacts) -> str | None:
        """Write an entry atomically. Returns None, or why the cache cannot be written (the run goes
        on without it: it does not depend on it)."""
        if unit.missing_headers:  # the entry could not tell when the header appears: not kept
            return None
        headers = [(path, file_identity(path)) for path in unit.headers]
        summary = TranslationUnitFacts(
            unit.path,
            unit.side,
            unit.mode,
            diagnostics=list(unit.diagnostics),
            source_lines=unit.source_lines,
            headers=list(unit.headers),
            skipped=list(unit.skipped),
            compiled_out=list(unit.compiled_out),
        )
        facts = encode(unit)
        return write_entry(self._entry(key), (headers, summary, facts), MAGIC)

    # -- results of whole runs ------------------------------------------------------------------
    # When every file's facts come from the cache, the findings of the same files with the same rules
    # and options are too: a warm re-run of an unchanged tree neither parses nor runs the rules.

    @staticmethod
    def result_key(fact_keys: list[str], settings: str) -> str:
        digest = hashlib.sha256(b"run\0" + analyser_identity(whole=True) + settings.encode())
        for key in fact_keys:
            digest.update(key.encode())
        return digest.hexdigest()

    def load_result(self, key: str) -> object | None:
        return read_entry(self.root / "runs" / key[:2] / f"{key}.run", MAGIC)

    def store_result(self, key: str, result: object) -> str | None:
        return write_entry(self.root / "runs" / key[:2] / f"{key}.run", result, MAGIC)

    # -- rendered reports -----------------------------------------------------------------------
    # A report is a function of what it is made of, of gupcheck and of the libraries that render it:
    # one rendered before from the same inputs is reused when rendering costs more than reading it.

    @staticmethod
    def report_key(kind: str, inputs: str, libraries: tuple[str, ...] = ()) -> str:
        """The key of a `kind` report rendered from `inputs` (a canonical text of everything the report
        shows) with the installed `libraries` (module names, identified by their files)."""
        digest = hashlib.sha256(b"report\0" + analyser_identity(whole=True) + kind.encode() + b"\0")
        digest.update(repr([module_identity(name) for name in libraries]).encode())
        digest.update(inputs.encode())
        return digest.hexdigest()

    def load_report(self, key: str) -> str | None:
        report = read_entry(self.root / "reports" / key[:2] / f"{key}.report", MAGIC)
        return report if isinstance(report, str) else None

    def store_report(self, key: str, report: str) -> str | None:
        return write_entry(self.root / "reports" / key[:2] / f"{key}.report", report, MAGIC)
