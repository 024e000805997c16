"""`gupcheck --show-config FILE...`: how each file would be parsed, without analysing it.

Per file: kernel or userland, the header mode, the kernel tree (or the built-in model, the compile
database, the system headers), the folder relative includes start from, the exact flags (an option
and its value on one line) and a `clang -fsyntax-only` command that parses the file the same way.
Then where the flags beyond the mode's own came from: the makefile that lists the file (and its
flags), the include folders repaired (`includes.Repair.describe`), the user's options. The notes on
the kernel tree search follow on standard error, as in a run.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

import click

from gupcheck.frontend.buildconfig import BuildConfig, ConfigError, FileConfig, model_include_dir
from gupcheck.frontend.discovery import discover_sources, read_regular_file
from gupcheck.model.facts import HeaderMode, Side
from gupcheck.output.text import display_path
from gupcheck.pipeline.cache import default_cache_dir
from gupcheck.pipeline.engine import is_excluded
from gupcheck.pipeline.projectconfig import ConfigFileError

EXIT_CLEAN, EXIT_ERROR = 0, 2

_MODES = {
    HeaderMode.KERNEL_TREE: "kernel build tree",
    HeaderMode.KERNEL_MODEL: "built-in kernel API model",
    HeaderMode.COMPILE_COMMANDS: "compile database",
    HeaderMode.SYSTEM: "system headers",
}
# Options whose value is the next argument: shown on the same line.
_WITH_VALUE = frozenset(
    {
        "-x",
        "-I",
        "-D",
        "-U",
        "-include",
        "-imacros",
        "-isystem",
        "-iquote",
        "-idirafter",
        "-isysroot",
        "--sysroot",
        "-target",
        "-Xclang",
        "-iprefix",
        "-iwithprefix",
    }
)


def show_config(paths: list[str], options: dict[str, Any]) -> int:
    """Print the configuration of the files under `paths` (default: the configuration's `paths`);
    0 when every file was shown, 2 for a bad option, configuration or path (one line each)."""
    from gupcheck.cli import commands

    try:
        project = commands._project_config(options["config_file"])
        paths = commands._paths_to_analyse(paths, project, None)
        cache_dir = None if options["no_cache"] else options["cache_dir"] or str(default_cache_dir())
        config = BuildConfig(
            compile_commands=options["compile_commands"] or project.compile_commands,
            kernel_dir=options["kernel_dir"] or project.kernel_dir,
            use_model=bool(options["use_model"] or project.kernel_model),
            cache_dir=cache_dir,
            user_flags=commands._user_flags(options, project),
        )
    except (ConfigFileError, ConfigError, commands._RunError) as error:
        commands._error(str(error))
        return EXIT_ERROR
    sources, problems = discover_sources(paths)
    sources = [path for path in sources if not is_excluded(path, tuple(project.exclude))]
    failed = False
    for problem in problems:
        click.echo(f"gupcheck: {'error' if problem.fatal else 'warning'}: {problem}", err=True)
        failed = failed or problem.fatal
    root = os.getcwd()
    blocks = []
    for path in sources:
        try:
            text = read_regular_file(path).decode("utf-8", "replace")
            file_config = config.config_for(os.path.abspath(path), text)
        except OSError as error:
            click.echo(f"gupcheck: error: {path}: cannot read file: {error.strerror or error}", err=True)
            failed = True
            continue
        except ConfigError as error:
            click.echo(f"gupcheck: error: {path}: {error}", err=True)
            failed = True
            continue
        blocks.append(describe(file_config, config, root))
    if blocks:
        click.echo("\n".join(blocks), nl=False)
    if not options["quiet"]:
        for note in config.notes:
            click.echo(f"gupcheck: note: {note}", err=True)
    sys.stdout.flush()
    return EXIT_ERROR if failed or not sources else EXIT_CLEAN


def describe(file_config: FileConfig, config: BuildConfig, root: str) -> str:
    """One file's block of `--show-config`."""
    shown = display_path(file_config.path, root)
    lines = [
        shown,
        f"  kind: {'kernel' if file_config.side is Side.KERNEL else 'userland'}",
        f"  mode: {file_config.mode.value} ({_MODES.get(file_config.mode, file_config.mode.value)})",
        f"  tree: {_tree(file_config, config)}",
        f"  directory: {file_config.directory}",
        "  flags:",
        *(f"    {shlex.join(group)}" for group in flag_groups(file_config.args)),
        *_origins(file_config, config),
        f"  command: cd {shlex.quote(file_config.directory)} && clang -fsyntax-only "
        f"{shlex.join(file_config.args)} {shlex.quote(file_config.path)}",
    ]
    return "\n".join(lines) + "\n"


def _origins(file_config: FileConfig, config: BuildConfig) -> list[str]:
    """Where the flags beyond the mode's own came from: the driver's makefiles, the include repairs,
    the user's options."""
    lines: list[str] = []
    path = file_config.path
    kbuild = getattr(config, "kbuild", None)
    if file_config.mode in (HeaderMode.KERNEL_TREE, HeaderMode.KERNEL_MODEL) and kbuild is not None:
        flags = kbuild.flags_for(path)
        if flags.makefile:
            listed = f"lists {flags.object}" if flags.listed else "the nearest; it does not list the file"
            lines.append(f"  makefile: {flags.makefile} ({listed})")
            lines += [f"    {shlex.join(group)}" for group in flag_groups(flags.args)]
    repairs = getattr(config, "include_repair", None)
    repair = repairs.repairs_for(path) if repairs is not None else None
    if repair is not None and (repair.added or repair.missing or repair.cut):
        lines.append("  include repairs:")
        lines += [f"    {line}" for line in repair.describe()]
    user = config.user_args(path)
    if user:
        lines.append("  from your options and configuration:")
        lines += [f"    {shlex.join(group)}" for group in flag_groups(user)]
    return lines


def flag_groups(args: tuple[str, ...] | list[str]) -> list[list[str]]:
    """The flags with each option that takes a separate value beside its value."""
    groups: list[list[str]] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in _WITH_VALUE and index + 1 < len(args):
            groups.append([arg, args[index + 1]])
            index += 2
        else:
            groups.append([arg])
            index += 1
    return groups


def _tree(file_config: FileConfig, config: BuildConfig) -> str:
    mode = file_config.mode
    if mode is HeaderMode.COMPILE_COMMANDS:
        return f"the compile database {config.database.path if config.database else '?'}"
    if mode is HeaderMode.SYSTEM:
        return "none (userland: the system headers)"
    if mode is HeaderMode.KERNEL_MODEL:
        return f"none (the built-in kernel API model, {model_include_dir()})"
    resolution = config.kernel_resolution
    tree = config.kernel_tree
    if tree is None:
        return "?"
    where = resolution.where if resolution is not None and resolution.where else tree.build_dir
    details = []
    if resolution is not None and resolution.origin in _ORIGINS:
        details.append(_ORIGINS[resolution.origin])
    if os.path.realpath(where) != tree.build_dir:
        details.append(f"build {tree.build_dir}")
    if tree.split:
        details.append(f"sources {tree.source_dir}")
    if tree.release:
        details.append(f"release {tree.release}")
    return f"{where} ({', '.join(details)})" if details else where


_ORIGINS = {
    "--kernel-dir": "--kernel-dir",
    "$GUPCHECK_KERNEL_DIR": "$GUPCHECK_KERNEL_DIR",
    "compile database": "named by the compile database",
    "running kernel": "the running kernel's",
    "installed": "found installed",
}
