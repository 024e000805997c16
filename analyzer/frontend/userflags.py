"""The user's own compiler flags: ``-I``, ``-D``, ``-U``, ``--include`` and ``--extra-arg`` on the
command line, the same keys in the configuration file (``include-dirs``, ``defines``, ``undefines``,
``includes``, ``extra-args``), and those keys per path (``[[overrides]]``).

They are added after every other flag of a file, in every mode (kernel tree, built-in model, compile
database, userland), as Kbuild adds a driver's ``ccflags-y`` after its own: ``-D``/``-U`` of the
command line come last (they win over the configuration's), and its ``-I`` folders are searched first.
Paths are absolute by the time they get here (the command line's relative to the current folder, the
configuration's relative to its file).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gupcheck.frontend.buildconfig import ConfigError

_DEFINE = re.compile(r"^[A-Za-z_]\w*(\([\w\s,.]*\))?(=.*)?$", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z_]\w*$")


def check_define(text: str) -> str:
    """`text` if it is ``NAME``, ``NAME=VALUE`` or ``NAME(ARGS)=BODY``; else ValueError saying why."""
    if not _DEFINE.match(text):
        raise ValueError(f"'{text}' is not NAME or NAME=VALUE")
    return text


def check_undefine(text: str) -> str:
    if not _NAME.match(text):
        raise ValueError(f"'{text}' is not a macro name")
    return text


def include_dir(path: str, base: str) -> str:
    """`path` (relative to `base`) as an absolute folder; ValueError when it is not a folder."""
    full = os.path.normpath(os.path.join(base, os.path.expanduser(path)))
    if not os.path.isdir(full):
        raise ValueError(f"{path}: no such folder" + (f" ({full})" if full != path else ""))
    return full


def include_file(path: str, base: str) -> str:
    """`path` (relative to `base`) as an absolute file; ValueError when it is not a file."""
    full = os.path.normpath(os.path.join(base, os.path.expanduser(path)))
    if not os.path.isfile(full):
        raise ValueError(f"{path}: no such file" + (f" ({full})" if full != path else ""))
    return full


@dataclass(frozen=True)
class FlagSet:
    """One source's flags: the command line, the configuration file, or one override."""

    include_dirs: tuple[str, ...] = ()  # absolute
    defines: tuple[str, ...] = ()  # NAME or NAME=VALUE
    undefines: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()  # absolute: headers read before the file (-include)
    extra_args: tuple[str, ...] = ()  # passed as they are

    def __bool__(self) -> bool:
        return any((self.include_dirs, self.defines, self.undefines, self.includes, self.extra_args))

    @classmethod
    def from_options(
        cls,
        *,
        include_dirs: Iterable[str] = (),
        defines: Iterable[str] = (),
        undefines: Iterable[str] = (),
        includes: Iterable[str] = (),
        extra_args: Iterable[str] = (),
        base: str | None = None,
    ) -> FlagSet:
        """The command line's flags (paths relative to `base`, default the current folder). Raises
        ConfigError naming the option and the value."""
        base = base or os.getcwd()
        try:
            dirs = tuple(include_dir(path, base) for path in include_dirs)
        except ValueError as error:
            raise ConfigError(f"-I {error}") from None
        try:
            files = tuple(include_file(path, base) for path in includes)
        except ValueError as error:
            raise ConfigError(f"--include {error}") from None
        try:
            checked_defines = tuple(check_define(text) for text in defines)
        except ValueError as error:
            raise ConfigError(f"-D {error}") from None
        try:
            checked_undefines = tuple(check_undefine(text) for text in undefines)
        except ValueError as error:
            raise ConfigError(f"-U {error}") from None
        return cls(dirs, checked_defines, checked_undefines, files, tuple(extra_args))


@dataclass(frozen=True)
class Override:
    """Flags for the files whose path (relative to `base`, the configuration file's folder) matches one
    of `patterns`: a glob (``drivers/foo/*.c``) or a folder (``drivers/foo``, every file under it)."""

    patterns: tuple[str, ...]
    base: str
    flags: FlagSet

    def matches(self, path: str) -> bool:
        relative = os.path.relpath(os.path.abspath(path), self.base)
        if relative.startswith(".."):
            return False
        for pattern in self.patterns:
            pattern = pattern.rstrip("/")
            if pattern in (".", ""):
                return True
            if fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(relative, pattern + "/*"):
                return True
        return False


@dataclass(frozen=True)
class UserFlags:
    """Everything the user added: the configuration's flags, its overrides, the command line's."""

    configured: FlagSet = FlagSet()
    overrides: tuple[Override, ...] = ()
    command_line: FlagSet = FlagSet()

    def __bool__(self) -> bool:
        return bool(self.configured or self.overrides or self.command_line)

    def sets_for(self, path: str) -> list[FlagSet]:
        """The flag sets that apply to `path`, weakest first."""
        matching = [override.flags for override in self.overrides if override.matches(path)]
        return [flags for flags in (self.configured, *matching, self.command_line) if flags]

    def args_for(self, path: str) -> list[str]:
        """The arguments to add to `path`'s flags (after all others)."""
        sets = self.sets_for(path)
        args: list[str] = []
        for flags in reversed(sets):  # the strongest's folders are searched first
            for folder in flags.include_dirs:
                args += ["-I", folder]
        for flags in sets:  # the strongest's macros come last, and win
            args += [f"-D{define}" for define in flags.defines]
            args += [f"-U{name}" for name in flags.undefines]
        for flags in sets:
            for header in flags.includes:
                args += ["-include", header]
        for flags in sets:
            args += flags.extra_args
        return args
