"""Project configuration: `.gupcheck.toml`, or `[tool.gupcheck]` in `pyproject.toml`.

Found by looking in the current directory and then each parent for `.gupcheck.toml` (preferred) or a
`pyproject.toml` with a `[tool.gupcheck]` table; `--config FILE` names one explicitly. Paths in the
file are relative to the file's directory. Command-line options override the file.

    paths = ["drivers/mydrv", "tools/mydrv-app"]   # what `gupcheck` (and the pre-commit hook) analyse
    exclude = ["*.mod.c", "drivers/mydrv/vendor"]  # glob patterns
    kernel-dir = "/usr/src/linux-headers-6.1.0-56-amd64"
    compile-commands = "build/compile_commands.json"
    kernel-model = false
    target-kernel = "6.1"
    spawn-copies-memory = false
    jobs = 4
    timeout = 300
    max-memory = 4096                # MiB for each parser process
    cache-max-size = 512             # MiB the cache may hold (least recently used entries go first)
    enable = ["GUP001", "GUP002"]     # only these rules (default: all); --select on the command line
    disable = ["GUP005"]              # --ignore on the command line
    fail-level = "warning"            # exit 1 only for findings at this level or above (default: note)
    baseline = "main.sarif"           # report only findings this SARIF log of an earlier run lacks
    include-dirs = ["include"]        # the user's flags, added to every file's (as -I, -D, -U,
    defines = ["DEBUG", "NR=4"]       #   --include and --extra-arg)
    undefines = ["CONFIG_FOO"]
    includes = ["compat.h"]
    extra-args = ["-Wno-unused"]
    [[overrides]]                     # the same keys for the files under these paths (globs or folders)
    paths = ["drivers/foo"]
    include-dirs = ["drivers/foo/inc"]
    [levels]                          # ([tool.gupcheck.levels] in pyproject.toml)
    GUP003 = "warning"                # error, warning or note
    [api]
    pins = [{ name = "mydrv_pin", kind = "FOLL_GET", start = 0, nr = 1, pages = 2 }]
    releases = { mydrv_unpin = 0 }
    locks = ["mydrv_lock"]
    unlocks = ["mydrv_unlock"]
    range-checks = ["vq_access_ok"]   # helpers returning whether the user range they get is valid
    shared-types = ["struct my_ring"] # every object of these types is shared with user space (GUP004)
    pinning-ioctls = [{ request = "MYDRV_IOC_REGISTER", field = "addr", kind = "FOLL_GET" }]

Unknown keys and bad values are errors naming the key (`ConfigFileError`, exit status 2).
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gupcheck.frontend import userflags
from gupcheck.frontend.userflags import FlagSet, Override
from gupcheck.kernel_api.declared import ApiKnowledge, PinningIoctl, PinWrapper
from gupcheck.kernel_api.pins import FOLL_GET, FOLL_PIN, PinKind
from gupcheck.model.findings import Level, SourceLocation
from gupcheck.pipeline.cachedir import parse_mib

CONFIG_FILE = ".gupcheck.toml"


class ConfigFileError(Exception):
    """A configuration file that cannot be used; the message is one line naming the file and key."""


@dataclass
class ProjectConfig:
    file: Path | None = None  # where it was read from (None: no configuration file)
    paths: list[str] = field(default_factory=list)  # absolute
    exclude: list[str] = field(default_factory=list)
    kernel_dir: str | None = None
    compile_commands: str | None = None
    kernel_model: bool = False
    target_kernel: str | None = None
    spawn_copies_memory: bool = False
    jobs: int | None = None
    timeout: float | None = None
    max_memory: int | None = None  # MiB for each parser process
    cache_max_size: float | None = None  # MiB the cache may hold
    enable: list[str] | None = None
    disable: list[str] = field(default_factory=list)
    levels: dict[str, Level] = field(default_factory=dict)
    fail_level: Level | None = None
    baseline: str | None = None  # absolute
    api: ApiKnowledge = field(default_factory=ApiKnowledge)
    flags: FlagSet = field(default_factory=FlagSet)  # include-dirs, defines, ... (paths absolute)
    overrides: list[Override] = field(default_factory=list)  # [[overrides]]: flags for some paths


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest `.gupcheck.toml`, or `pyproject.toml` with a [tool.gupcheck] table, from `start`
    (default: the current directory) upwards."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                document = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue  # not ours to judge unless it has our table
            if "gupcheck" in document.get("tool", {}):
                return pyproject
    return None


def load_config(path: str | os.PathLike[str]) -> ProjectConfig:
    file = Path(path)
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigFileError(f"{file}: cannot read configuration: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"{file}: configuration is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(f"{file}: invalid TOML: {error}") from None
    if file.name == "pyproject.toml":
        table = document.get("tool", {}).get("gupcheck")
        prefix = "tool.gupcheck"
        if table is None:
            raise ConfigFileError(f"{file}: no [tool.gupcheck] table")
    else:
        table, prefix = document, ""
    return _parse(file, table, prefix)


class _Reader:
    def __init__(self, file: Path, prefix: str) -> None:
        self.file = file
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str, problem: str) -> ConfigFileError:
        return ConfigFileError(f"{self.file}: '{self.name(key)}': {problem}")

    def check_keys(self, table: dict, known: set[str], where: str = "") -> None:
        for key in table:
            if key not in known:
                full = f"{where}.{key}" if where else key
                expected = ", ".join(sorted(known))
                raise self.fail(full, f"unknown key (known: {expected})")

    def string(self, table: dict, key: str, where: str = "") -> str | None:
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(_join(where, key), "expected a string")
        return value

    def boolean(self, table: dict, key: str, where: str = "") -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(_join(where, key), "expected true or false")
        return value

    def strings(self, table: dict, key: str, where: str = "") -> list[str] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(_join(where, key), "expected a list of strings")
        return value

    def position(self, table: dict, key: str, where: str, required: bool = False) -> int | None:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(_join(where, key), "missing (an argument position, counted from 0)")
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(_join(where, key), "expected an argument position (an integer from 0)")
        return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


_FLAG_KEYS = ("include-dirs", "defines", "undefines", "includes", "extra-args")  # as -I, -D, -U, ...
_TOP_KEYS = {
    "paths",
    "exclude",
    "kernel-dir",
    "compile-commands",
    "kernel-model",
    "target-kernel",
    "spawn-copies-memory",
    "jobs",
    "timeout",
    "max-memory",
    "cache-max-size",
    "enable",
    "disable",
    "levels",
    "fail-level",
    "baseline",
    "api",
    "overrides",
    *_FLAG_KEYS,
}
_API_KEYS = {"pins", "releases", "locks", "unlocks", "range-checks", "shared-types", "pinning-ioctls"}
_IOCTL_KEYS = {"request", "field", "kind"}
_PIN_KEYS = {"name", "kind", "pages", "start", "nr", "flags", "longterm"}


def _parse(file: Path, table: Any, prefix: str) -> ProjectConfig:
    read = _Reader(file, prefix)
    if not isinstance(table, dict):
        raise ConfigFileError(f"{file}: '{prefix}' must be a table")
    read.check_keys(table, _TOP_KEYS)
    base = file.parent.resolve()
    config = ProjectConfig(file=file)

    def resolve(value: str) -> str:
        return str((base / os.path.expanduser(value)).resolve())

    config.paths = [resolve(item) for item in read.strings(table, "paths") or []]
    config.exclude = read.strings(table, "exclude") or []
    for key, attribute in (
        ("kernel-dir", "kernel_dir"),
        ("compile-commands", "compile_commands"),
        ("baseline", "baseline"),
    ):
        value = read.string(table, key)
        if value is not None:
            setattr(config, attribute, resolve(value))
    config.target_kernel = read.string(table, "target-kernel")
    config.kernel_model = read.boolean(table, "kernel-model")
    config.spawn_copies_memory = read.boolean(table, "spawn-copies-memory")
    jobs = table.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise read.fail("jobs", "expected a number of worker processes (1 or more)")
    config.jobs = jobs
    timeout = table.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, int | float)
        or isinstance(timeout, bool)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise read.fail("timeout", "expected seconds (a positive number)")
    config.timeout = float(timeout) if timeout is not None else None
    memory = table.get("max-memory")
    if memory is not None and (not isinstance(memory, int) or isinstance(memory, bool) or memory < 256):
        raise read.fail("max-memory", "expected MiB for each parser process (256 or more)")
    config.max_memory = memory
    cache_max_size = table.get("cache-max-size")
    if cache_max_size is not None:
        try:
            config.cache_max_size = parse_mib(cache_max_size)
        except ValueError:
            raise read.fail("cache-max-size", "expected MiB the cache may hold (a positive number)") from None
    config.enable = read.strings(table, "enable")
    config.disable = read.strings(table, "disable") or []
    levels = table.get("levels", {})
    if not isinstance(levels, dict):
        raise read.fail("levels", "expected a table of rule = level")
    for rule, level in levels.items():
        try:
            config.levels[rule] = Level(level)
        except ValueError:
            raise read.fail(f"levels.{rule}", 'expected "error", "warning" or "note"') from None
    fail_level = read.string(table, "fail-level")
    if fail_level is not None:
        try:
            config.fail_level = Level(fail_level)
        except ValueError:
            raise read.fail("fail-level", 'expected "error", "warning" or "note"') from None
    config.api = _api(read, table.get("api", {}))
    config.flags = _flags(read, table, str(base))
    config.overrides = _overrides(read, table.get("overrides", []), str(base))
    return config


def _flags(read: _Reader, table: dict, base: str, where: str = "") -> FlagSet:
    """The user's flags of a table (the top level or one override); paths relative to `base`."""

    def each(key: str, check: Any) -> tuple[str, ...]:
        checked = []
        for value in read.strings(table, key, where) or []:
            try:
                checked.append(check(value))
            except ValueError as error:
                raise read.fail(_join(where, key), str(error)) from None
        return tuple(checked)

    return FlagSet(
        include_dirs=each("include-dirs", lambda value: userflags.include_dir(value, base)),
        defines=each("defines", userflags.check_define),
        undefines=each("undefines", userflags.check_undefine),
        includes=each("includes", lambda value: userflags.include_file(value, base)),
        extra_args=each("extra-args", str),
    )


def _overrides(read: _Reader, entries: Any, base: str) -> list[Override]:
    if not isinstance(entries, list):
        raise read.fail("overrides", 'expected a list of tables ([[overrides]] with paths = ["..."])')
    found = []
    for index, entry in enumerate(entries):
        where = f"overrides[{index}]"
        if not isinstance(entry, dict):
            raise read.fail(where, 'expected a table such as { paths = ["drivers/foo"], defines = ["X"] }')
        read.check_keys(entry, {"paths", *_FLAG_KEYS}, where)
        patterns = read.strings(entry, "paths", where)
        if not patterns:
            raise read.fail(f"{where}.paths", "missing (globs or folders, relative to this file)")
        found.append(Override(tuple(patterns), base, _flags(read, entry, base, where)))
    return found


def _api(read: _Reader, table: Any) -> ApiKnowledge:
    if not isinstance(table, dict):
        raise read.fail("api", "expected a table")
    read.check_keys(table, _API_KEYS, "api")
    pins = []
    entries = table.get("pins", [])
    if not isinstance(entries, list):
        raise read.fail("api.pins", "expected a list of tables")
    for index, entry in enumerate(entries):
        where = f"api.pins[{index}]"
        if not isinstance(entry, dict):
            raise read.fail(where, 'expected a table such as { name = "f", kind = "FOLL_GET", pages = 2 }')
        read.check_keys(entry, _PIN_KEYS, where)
        name = read.string(entry, "name", where)
        if not name:
            raise read.fail(f"{where}.name", "missing (the wrapper's function name)")
        kind = read.string(entry, "kind", where) or FOLL_GET
        if kind not in (FOLL_GET, FOLL_PIN):
            raise read.fail(f"{where}.kind", 'expected "FOLL_GET" (get_user_pages-like) or "FOLL_PIN"')
        pins.append(
            PinWrapper(
                name=name,
                kind=PinKind(kind),
                pages=read.position(entry, "pages", where, required=True) or 0,
                start=read.position(entry, "start", where) or 0,
                nr=_default(read.position(entry, "nr", where), 1),
                flags=read.position(entry, "flags", where),
                longterm=read.boolean(entry, "longterm", where),
            )
        )
    releases = table.get("releases", {})
    if not isinstance(releases, dict):
        raise read.fail("api.releases", "expected a table of function = argument position")
    for name in releases:
        read.position(releases, name, "api.releases", required=True)
    return ApiKnowledge(
        pinning_ioctls=tuple(_pinning_ioctls(read, table.get("pinning-ioctls", []))),
        pins=tuple(pins),
        releases=dict(releases),
        locks=tuple(read.strings(table, "locks", "api") or ()),
        unlocks=tuple(read.strings(table, "unlocks", "api") or ()),
        range_checks=tuple(read.strings(table, "range-checks", "api") or ()),
        shared_types=tuple(" ".join(t.split()) for t in read.strings(table, "shared-types", "api") or ()),
    )


def _pinning_ioctls(read: _Reader, entries: Any) -> list[PinningIoctl]:
    if not isinstance(entries, list):
        raise read.fail("api.pinning-ioctls", "expected a list of tables")
    try:
        lines = read.file.read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    found = []
    for index, entry in enumerate(entries):
        where = f"api.pinning-ioctls[{index}]"
        if not isinstance(entry, dict):
            raise read.fail(where, 'expected a table such as { request = "MYDRV_IOC_REG" }')
        read.check_keys(entry, _IOCTL_KEYS, where)
        request = entry.get("request")
        macro, value = None, None
        if isinstance(request, int) and not isinstance(request, bool) and request >= 0:
            value = request
        elif isinstance(request, str) and request.strip():
            try:
                value = int(request, 0)
            except ValueError:
                macro = request.strip()
        else:
            raise read.fail(f"{where}.request", "expected the request's macro name or its number")
        kind = read.string(entry, "kind", where) or FOLL_GET
        if kind not in (FOLL_GET, FOLL_PIN):
            raise read.fail(f"{where}.kind", 'expected "FOLL_GET" or "FOLL_PIN"')
        spelled = macro or (request if isinstance(request, str) else hex(value or 0))
        line = next((number for number, text in enumerate(lines, start=1) if spelled in text), 1)
        found.append(
            PinningIoctl(
                macro,
                value,
                read.string(entry, "field", where),
                PinKind(kind),
                SourceLocation(str(read.file.resolve()), line, 1),
            )
        )
    return found


def _default(value: int | None, default: int) -> int:
    return default if value is None else value
