"""Case folders and their repros.

A case folder holds a driver (C sources and the `Kbuild` that builds them as modules) and,
in `repro/`, what confirms its findings at run time:

    case/
      driver.c  Kbuild  driver_uapi.h  [app.c ...]
      repro/
        repro.toml        the manifest
        driver_repro.c    the program: `driver_repro NAME` runs scenario NAME and prints
                          `RESULT NAME BUG|OK|ERROR evidence`

The manifest maps every expected finding to the result that confirms it (or to the reasoning
that stands in for a run), and every look-alike to the result that shows it clean:

    program = "driver_repro.c"      # default: the only .c file in repro/
    link = ["../app_lib.c"]         # more sources compiled into the program
    modules = ["driver"]            # default: every obj-m of the case's Kbuild

    [[finding]]
    at = "driver.c:70"
    rule = "GUP001"
    result = "leak-on-partial-chunk"        # or: reasoning = "why it cannot be run"

    [[look-alike]]
    at = "driver.c:100"
    result = "partial-chunk-released"

    [results.leak-on-partial-chunk]
    oops = true         # may oops: runs after the others, and an oops shows the bug
    timeout = 20        # seconds (default 20)

`repro/` is skipped when gupcheck analyses the case folder (its programs exercise the bugs
on purpose), see `gupcheck.frontend.discovery`.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPRO_DIR = "repro"
MANIFEST = "repro.toml"
DEFAULT_TIMEOUT = 20
MAX_TIMEOUT = 300

_RESULT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RULE_ID = re.compile(r"^GUP\d{3}$")
_SITE = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+)$")
_OBJ_M = re.compile(r"^\s*obj-m\s*[:+]?=\s*(?P<objects>.*)$")
_TOP_KEYS = {"program", "link", "modules", "finding", "look-alike", "results"}
_FINDING_KEYS = {"at", "rule", "result", "reasoning"}
_LOOK_ALIKE_KEYS = {"at", "result", "reasoning"}
_RESULT_KEYS = {"oops", "timeout"}


def display_name(path: Path) -> str:
    try:
        relative = path.relative_to(Path.cwd())
    except ValueError:
        return str(path)
    return str(relative) if str(relative) != "." else str(path)


class CaseError(Exception):
    """A case folder that cannot be validated; str() is one line naming the path."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        shown = display_name(Path(path)) if isinstance(path, Path) else str(path)
        super().__init__(f"{shown}: {message}")
        self.path = shown
        self.message = message


@dataclass(frozen=True)
class Expectation:
    """An expected finding (positive) or a look-alike that must stay clean, and what decides it."""

    file: str  # relative to the case folder
    line: int
    rule: str | None  # positives only
    result: str | None  # the result that decides it, or None ...
    reasoning: str | None  # ... when reasoning stands in for a run

    @property
    def positive(self) -> bool:
        return self.rule is not None

    @property
    def site(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ResultSpec:
    name: str
    timeout: int
    oops: bool  # may oops the kernel: run last, reload the modules after it


@dataclass(frozen=True)
class Case:
    path: Path  # the case folder, absolute
    name: str  # as shown in reports
    program: Path | None  # repro/<program>.c; None when reasoning stands in for every result
    link: tuple[Path, ...]
    modules: tuple[str, ...]  # kernel module names the case builds and loads
    results: tuple[ResultSpec, ...]
    expectations: tuple[Expectation, ...]

    @property
    def program_name(self) -> str:
        return self.program.stem if self.program else ""


def kbuild_modules(folder: Path) -> list[str]:
    """Module names of `obj-m` in the folder's Kbuild (or Makefile), in order."""
    for name in ("Kbuild", "Makefile"):
        kbuild = folder / name
        if kbuild.is_file():
            break
    else:
        return []
    text = kbuild.read_text(errors="replace").replace("\\\n", " ")
    modules: list[str] = []
    for line in text.splitlines():
        match = _OBJ_M.match(line)
        if not match:
            continue
        for obj in match.group("objects").split("#", 1)[0].split():
            if obj.endswith(".o") and obj[:-2] not in modules:
                modules.append(obj[:-2])
    return modules


def _site(case: Path, manifest: Path, entry: dict[str, object], kind: str) -> tuple[str, int]:
    at = entry.get("at")
    match = _SITE.match(at) if isinstance(at, str) else None
    if not match:
        raise CaseError(manifest, f"{kind}: 'at' must be \"file.c:LINE\", got {at!r}")
    source = case / match.group("file")
    line = int(match.group("line"))
    if not source.is_file():
        raise CaseError(manifest, f"{kind} at {at}: no file {match.group('file')} in the case folder")
    if not 1 <= line <= len(source.read_text(errors="replace").splitlines()):
        raise CaseError(manifest, f"{kind} at {at}: {match.group('file')} has no line {line}")
    return match.group("file"), line


def _expectation(case: Path, manifest: Path, entry: object, kind: str) -> Expectation:
    allowed = _FINDING_KEYS if kind == "finding" else _LOOK_ALIKE_KEYS
    if not isinstance(entry, dict):
        raise CaseError(manifest, f"each [[{kind}]] must be a table")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise CaseError(manifest, f"[[{kind}]]: unknown key {unknown[0]!r} (known: {known})")
    file, line = _site(case, manifest, entry, kind)
    rule = entry.get("rule")
    if kind == "finding" and not (isinstance(rule, str) and _RULE_ID.match(rule)):
        raise CaseError(manifest, f"finding at {file}:{line}: 'rule' must be a rule id such as GUP001")
    result, reasoning = entry.get("result"), entry.get("reasoning")
    if (result is None) == (reasoning is None):
        raise CaseError(manifest, f"{kind} at {file}:{line}: give either 'result' or 'reasoning'")
    if result is not None and not (isinstance(result, str) and _RESULT_NAME.match(result)):
        raise CaseError(manifest, f"{kind} at {file}:{line}: bad result name {result!r}")
    if reasoning is not None and not (isinstance(reasoning, str) and reasoning.strip()):
        raise CaseError(manifest, f"{kind} at {file}:{line}: 'reasoning' must be a sentence")
    return Expectation(
        file,
        line,
        rule if kind == "finding" else None,
        result,
        reasoning.strip() if isinstance(reasoning, str) else None,
    )


def _result_specs(manifest: Path, table: object, names: list[str]) -> tuple[ResultSpec, ...]:
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise CaseError(manifest, "[results] must be a table of result names")
    for name in table:
        if name not in names:
            raise CaseError(manifest, f"[results.{name}]: no finding or look-alike uses this result")
    specs = []
    for name in names:
        settings = table.get(name, {})
        if not isinstance(settings, dict):
            raise CaseError(manifest, f"[results.{name}] must be a table")
        unknown = sorted(set(settings) - _RESULT_KEYS)
        if unknown:
            raise CaseError(manifest, f"[results.{name}]: unknown key {unknown[0]!r}")
        timeout = settings.get("timeout", DEFAULT_TIMEOUT)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= MAX_TIMEOUT:
            raise CaseError(manifest, f"[results.{name}]: timeout must be 1..{MAX_TIMEOUT} seconds")
        oops = settings.get("oops", False)
        if not isinstance(oops, bool):
            raise CaseError(manifest, f"[results.{name}]: oops must be true or false")
        specs.append(ResultSpec(name, timeout, oops))
    return tuple(specs)


def _string_list(manifest: Path, data: dict[str, object], key: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CaseError(manifest, f"'{key}' must be a list of strings")
    return list(value)


def load_case(folder: Path) -> Case:
    """Reads and checks the repro of one case folder."""
    folder = folder.resolve()
    repro = folder / REPRO_DIR
    manifest = repro / MANIFEST
    if not manifest.is_file():
        raise CaseError(folder, f"no repro: expected {REPRO_DIR}/{MANIFEST} in this case folder")
    try:
        data = tomllib.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError) as error:
        raise CaseError(manifest, f"cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise CaseError(manifest, f"not valid TOML: {error}") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise CaseError(manifest, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_TOP_KEYS))})")

    program_name = data.get("program")
    program: Path | None
    if program_name is None:
        programs = sorted(repro.glob("*.c"))
        if len(programs) > 1:
            raise CaseError(repro, "name the program with 'program' (more than one .c file here)")
        program = programs[0] if programs else None
    elif isinstance(program_name, str):
        program = repro / program_name
        if not program.is_file():
            raise CaseError(manifest, f"program {program_name} not found in {REPRO_DIR}/")
    else:
        raise CaseError(manifest, "'program' must be a file name")
    link = []
    for source in _string_list(manifest, data, "link") or []:
        path = (repro / source).resolve()
        if not path.is_file():
            raise CaseError(manifest, f"link: {source} not found")
        link.append(path)

    built = kbuild_modules(folder)
    modules = _string_list(manifest, data, "modules")
    if modules is None:
        modules = built
    for module in modules:
        if module not in built:
            raise CaseError(manifest, f"module {module} is not built by the case's Kbuild (obj-m)")

    expectations: list[Expectation] = []
    for kind in ("finding", "look-alike"):
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            raise CaseError(manifest, f"'{kind}' must be an array of tables ([[{kind}]])")
        expectations.extend(_expectation(folder, manifest, entry, kind) for entry in entries)
    if not any(e.positive for e in expectations):
        raise CaseError(manifest, "no [[finding]]: a repro confirms at least one expected finding")
    names = list(dict.fromkeys(e.result for e in expectations if e.result))
    results = _result_specs(manifest, data.get("results"), names)
    if results and program is None:
        raise CaseError(repro, "no repro program (a .c file) for the results the manifest names")
    return Case(
        folder,
        display_name(folder),
        program.resolve() if program else None,
        tuple(link),
        tuple(modules),
        results,
        tuple(expectations),
    )


def _case_folders_below(root: Path) -> list[Path]:
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        if Path(directory).name == REPRO_DIR and MANIFEST in files:
            found.append(Path(directory).parent)
            subdirs[:] = []
    return sorted(set(found))


def folders_without_repro(paths: list[str]) -> list[Path]:
    """Folders below the given ones that build a driver (a Kbuild) but carry no repro: they are
    not validated, and a report should say so."""
    found = []
    for raw in paths:
        root = Path(raw).resolve()
        if not root.is_dir() or (root / REPRO_DIR / MANIFEST).is_file() or root.name == REPRO_DIR:
            continue
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d != REPRO_DIR)
            if "Kbuild" in files and not (Path(directory) / REPRO_DIR / MANIFEST).is_file():
                found.append(Path(directory))
    return sorted(set(found))


def load_cases(paths: list[str]) -> list[Case]:
    """The cases named on the command line: case folders, their repro/ or repro.toml, or folders
    holding case folders. Raises CaseError for the first path that has none."""
    cases: list[Case] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise CaseError(raw, "no such file or directory")
        path = path.resolve()
        if path.is_file():
            if path.name != MANIFEST:
                raise CaseError(raw, f"not a case folder (give the folder, or its {REPRO_DIR}/{MANIFEST})")
            path = path.parent
        if path.name == REPRO_DIR and (path / MANIFEST).is_file():
            path = path.parent
        folders = [path] if (path / REPRO_DIR / MANIFEST).is_file() else _case_folders_below(path)
        if not folders:
            raise CaseError(
                raw,
                f"no repro: expected {REPRO_DIR}/{MANIFEST} in this case folder "
                "(or in case folders below it)",
            )
        for folder in folders:
            if folder not in seen:
                seen.add(folder)
                cases.append(load_case(folder))
    return cases
