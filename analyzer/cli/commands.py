"""Command line: `gupcheck PATH...`, `gupcheck rules`, `gupcheck explain RULE`.

Exit status: 0 no findings, 1 findings, 2 usage or input error (nothing could be analysed).
"""

from __future__ import annotations

import atexit
import json
import math
import os
import sys
import tempfile
from typing import TYPE_CHECKING, Any

import click

from gupcheck import __version__
from gupcheck.cli.console import ProgressBar, render_stats
from gupcheck.frontend.buildconfig import ConfigError
from gupcheck.frontend.userflags import FlagSet, UserFlags
from gupcheck.model.facts import HeaderMode, TranslationUnitFacts
from gupcheck.model.findings import Finding, InputProblem, Level
from gupcheck.model.rule import LazyRule
from gupcheck.output.text import display_path, plural, relative_path, render_text, should_use_color
from gupcheck.pipeline.baseline import BaselineError, load_baseline
from gupcheck.pipeline.cache import FactCache, default_cache_dir
from gupcheck.pipeline.cachedir import DEFAULT_MAX_MIB, limit_bytes, parse_mib, trim
from gupcheck.pipeline.engine import Analysis, analyse
from gupcheck.pipeline.modulecontext import kbuild_entries
from gupcheck.pipeline.postprocess import Reporting
from gupcheck.pipeline.projectconfig import ConfigFileError, ProjectConfig, find_config, load_config
from gupcheck.pipeline.workers import DEFAULT_MEMORY_MIB, DEFAULT_TIMEOUT, default_jobs
from gupcheck.rules import ALL_RULES, rule_by_id

if TYPE_CHECKING:
    from gupcheck.pipeline.distributed import DaskExecutor
    from gupcheck.pipeline.fixes import Snapshot

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_INCOMPLETE = 3  # no findings, but a file was not analysed or a rule stopped: not a clean bill
EXIT_INTERRUPTED = 130  # ^C, as shells report a process ended by SIGINT


class _DefaultToCheck(click.Group):
    """`gupcheck PATH...` means `gupcheck check PATH...`, and `gupcheck --help` shows the options of that
    default command beside the other commands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("gupcheck", "[OPTIONS] [PATH]...")
        formatter.write_usage("gupcheck", "COMMAND [ARGS]...", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        default = self.commands["check"]
        options = [
            param for param in (*default.params, *self.get_params(ctx)) if isinstance(param, click.Option)
        ]
        records = [record for option in options if (record := option.get_help_record(ctx))]
        with formatter.section("Options (of `gupcheck [PATH]...`, the same as `gupcheck check`)"):
            formatter.write_dl(records)
        self.format_commands(ctx, formatter)


@click.group(
    cls=_DefaultToCheck,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="gupcheck")
def main() -> None:
    """Find pinned-page, uaccess and shared-mapping bugs where user memory meets a Linux driver.

    `gupcheck PATH...` analyses the driver and userland C sources under PATH (files or folders) and
    exits 0 with no findings, 1 with findings, 2 when nothing could be analysed and 3 when the
    analysis was incomplete. `gupcheck COMMAND --help` explains each command.
    """


def run() -> None:
    """The `gupcheck` command: `main`, then the process ends as soon as its output is out and the
    exit handlers have run. The interpreter's own shutdown would free the analysis's objects one by
    one (hundreds of thousands for a real driver tree: 0.35 s on the 12 drivers of bench/) for no one."""
    code: object
    try:
        returned = main(standalone_mode=False)  # a command's exit status comes as SystemExit
        code = returned if isinstance(returned, int) else 0  # `--help`, `--version`
    except click.ClickException as error:
        error.show()
        code = error.exit_code
    except click.Abort:  # ^C (click turns KeyboardInterrupt into Abort)
        print("gupcheck: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    except SystemExit as done:
        code = done.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (`gupcheck ... | head`)
            code = code or 1
    atexit._run_exitfuncs()
    os._exit(code)


class _Seconds(click.ParamType):
    """A finite positive number of seconds (`inf` and `nan` are refused)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or seconds <= 0:
            self.fail(f"{value!r} is not a finite positive number of seconds", param, ctx)
        return seconds


_SECONDS = _Seconds()


def _analysis_options(function):
    """The options `check` and `hook` share."""
    options = [
        click.option(
            "-p",
            "--compile-commands",
            "compile_commands",
            type=click.Path(),
            help="compile_commands.json, or the folder holding it (as clang-tidy -p).",
        ),
        click.option(
            "--kernel-dir",
            type=click.Path(),
            help="Kernel build tree (default: $GUPCHECK_KERNEL_DIR, the compile database's tree, "
            "/lib/modules/$(uname -r)/build, the newest tree installed, else the built-in kernel API "
            "model; a note names it).",
        ),
        click.option(
            "--kernel-model",
            "use_model",
            is_flag=True,
            default=None,
            help="Parse kernel code with the built-in kernel API model even when a kernel tree exists.",
        ),
        click.option(
            "-I",
            "include_dirs",
            multiple=True,
            metavar="DIR",
            help="Add DIR to every file's include folders, after the others (repeatable).",
        ),
        click.option(
            "-D",
            "defines",
            multiple=True,
            metavar="NAME[=V]",
            help="Define a macro in every file (repeatable).",
        ),
        click.option(
            "-U", "undefines", multiple=True, metavar="NAME", help="Undefine a macro in every file."
        ),
        click.option(
            "--include",
            "includes",
            multiple=True,
            metavar="FILE",
            help="Read FILE before every file, as the compiler's -include (repeatable).",
        ),
        click.option(
            "--extra-arg",
            "extra_args",
            multiple=True,
            metavar="ARG",
            help="Add ARG to every file's parser flags, as clang-tidy's --extra-arg (repeatable).",
        ),
        click.option(
            "--target-kernel",
            metavar="X.Y",
            help="Kernel version the advice is for (default: the kernel tree's version, else 6.1).",
        ),
        click.option(
            "--spawn-copies-memory",
            is_flag=True,
            default=None,
            help="Treat system() and popen() as fork() (C libraries that implement them with fork).",
        ),
        click.option(
            "--format",
            "output_format",
            type=click.Choice(["text", "sarif", "json", "github", "gitlab", "junit"]),
            default="text",
            show_default=True,
        ),
        click.option(
            "-o",
            "--output",
            type=click.Path(dir_okay=False, writable=True),
            help="Write the report to this file instead of standard output.",
        ),
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            help="Also report what the analysis could not follow (ioctl requests no driver handles).",
        ),
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            help="Only findings and errors: no notes, warnings about single files or progress.",
        ),
        click.option(
            "--source-root",
            type=click.Path(file_okay=False),
            help="Root that report paths and baseline fingerprints are relative to (default: the git "
            "work tree holding the current directory, else the current directory; text output: the "
            "current directory).",
        ),
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            help="Configuration file (default: the nearest .gupcheck.toml, or pyproject.toml "
            "with [tool.gupcheck]).",
        ),
        click.option(
            "-j",
            "--jobs",
            type=click.IntRange(min=1),
            help="Parse in N worker processes (default: the number of CPUs).",
        ),
        click.option(
            "--timeout",
            type=_SECONDS,
            metavar="SECONDS",
            help=f"Give up on a file whose parse takes longer (default: {DEFAULT_TIMEOUT:g}).",
        ),
        click.option(
            "--max-memory",
            type=click.IntRange(min=256),
            metavar="MIB",
            help=f"Address space of each parser process; a parse that needs more costs its file "
            f"(default: {DEFAULT_MEMORY_MIB}).",
        ),
        click.option(
            "--cache-dir",
            type=click.Path(file_okay=False),
            help="Where facts are cached between runs (default: $XDG_CACHE_HOME/gupcheck).",
        ),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the fact cache."),
        click.option(
            "--cache-max-size",
            metavar="MIB",
            help="What the cache may hold; after a run the least recently used entries go first "
            f"(default: {DEFAULT_MAX_MIB}).",
        ),
        click.option(
            "--baseline",
            type=click.Path(dir_okay=False),
            help="A SARIF report of an earlier run: report only findings it does not contain.",
        ),
        click.option(
            "--select",
            metavar="RULES",
            multiple=True,
            help="Run only these rules: ids or names, comma-separated (overrides `enable`).",
        ),
        click.option(
            "--ignore",
            metavar="RULES",
            multiple=True,
            help="Do not run these rules: ids or names, comma-separated (added to `disable`).",
        ),
        click.option(
            "--fail-level",
            type=click.Choice([level.value for level in Level]),
            help="Exit 1 only for findings at this level or above (default: note, any finding).",
        ),
        click.option(
            "--exit-zero",
            is_flag=True,
            help="Exit 0 even when there are findings (2 and 3 keep their meaning).",
        ),
        click.option(
            "--strict",
            is_flag=True,
            help="Exit 2 when a file parses with errors (a missing header leaves holes in the analysis).",
        ),
        click.option(
            "--report-unused-suppressions",
            is_flag=True,
            help="Warn about `gupcheck: ignore[...]` comments that match no finding, and exit 1 "
            "when there are any.",
        ),
        click.option(
            "--diff",
            is_flag=True,
            help="Print the fixes of the findings as a unified diff (patch -p1 in the source root "
            "applies it) instead of the report.",
        ),
        click.option(
            "--fix",
            is_flag=True,
            help="Apply the fixes of the findings to the files (never to a file changed since it was "
            "read), then report the findings that remain.",
        ),
        click.option(
            "--stats",
            is_flag=True,
            help="Print files, parse mode per file and time per stage on standard error.",
        ),
        click.option(
            "--executor",
            type=click.Choice(["local", "dask"]),
            default="local",
            show_default=True,
            help="Where facts are computed: local worker processes, or a Dask distributed cluster "
            "(--scheduler; needs gupcheck[dask]).",
        ),
        click.option(
            "--scheduler",
            metavar="ADDRESS",
            help="The Dask scheduler of --executor dask, e.g. tcp://10.0.0.5:8786.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@main.command(short_help="Analyse the C files under PATHS (the default command).")
@click.argument("paths", nargs=-1, type=click.Path())
@_analysis_options
@click.option(
    "--show-config",
    is_flag=True,
    help="Print how each file would be parsed (kernel or userland, mode, kernel tree, the exact flags) "
    "and exit without analysing.",
)
def check(paths: tuple[str, ...], show_config: bool, **options: Any) -> None:
    """Analyse the C files under PATHS (default: `paths` from the configuration)."""
    if show_config:
        from gupcheck.cli.showconfig import show_config as show

        sys.exit(show(list(paths), options))
    sys.exit(_run(list(paths), options))


@main.command(short_help="For pre-commit: report only findings in the committed FILES.")
@click.argument("files", nargs=-1, type=click.Path())
@_analysis_options
def hook(files: tuple[str, ...], **options: Any) -> None:
    """For pre-commit: analyse the project and report only findings in FILES.

    The project is what the configuration's `paths` name (default: the current directory), so that
    cross-layer rules still see both the driver and the programs that call it.
    """
    c_files = [name for name in files if name.endswith(".c")]
    if not c_files:
        sys.exit(EXIT_CLEAN)
    sys.exit(_run([], options, report_only=c_files))


class _RunError(Exception):
    """A bad option, configuration or input that stops the run: one line, exit status 2."""


def _run(paths: list[str], options: dict[str, Any], report_only: list[str] | None = None) -> int:
    try:
        _check_output(options["output"])
        project = _project_config(options["config_file"])
        rules = _selected_rules(project, _rule_names(options["select"]), _rule_names(options["ignore"]))
        paths = _paths_to_analyse(paths, project, report_only)
        snapshot = _fix_snapshot(paths, options)  # before the analysis reads the files
        root = os.path.abspath(options["source_root"] or _git_root(os.getcwd()) or os.getcwd())
        cache_dir = None if options["no_cache"] else options["cache_dir"] or str(default_cache_dir())
        options["cache_max_size"] = _cache_max_size(options["cache_max_size"], project)
        analysis, executor_summary = _analysis(paths, rules, project, options, report_only, root, cache_dir)
    except (ConfigFileError, ConfigError, BaselineError, _RunError) as error:
        _error(str(error))
        return EXIT_ERROR
    if report_only is not None:  # the hook: problems of files outside the commit are not the committer's
        wanted = {os.path.realpath(name) for name in report_only}
        analysis.problems = [p for p in analysis.problems if not p.path or os.path.realpath(p.path) in wanted]
    _report_diagnostics(analysis, options, root, executor_summary, report_only)
    if snapshot is not None:
        diff = _diff_or_fix(analysis, snapshot, root, options)  # --fix: the findings left are reported
        if diff is not None:  # --diff: the diff instead of the report
            if (diff or options["output"]) and not _write(diff, options["output"]):
                return EXIT_ERROR
            return _exit_status(analysis, options, project.fail_level, report_only)
    findings = analysis.findings
    if analysis.units or options["output_format"] != "text":  # a summary of nothing says nothing
        if not _write(_render(findings, rules, root, analysis, cache_dir, options), options["output"]):
            return EXIT_ERROR
    return _exit_status(analysis, options, project.fail_level, report_only)


def _fix_snapshot(paths: list[str], options: dict[str, Any]) -> Snapshot | None:
    """For --diff and --fix: the sources' content before the analysis reads them (a fix is applied only
    to a file still the same)."""
    if not options.get("diff") and not options.get("fix"):
        return None
    if options["diff"] and options["fix"]:
        raise _RunError("--diff shows what --fix would change: give one or the other")
    from gupcheck.pipeline.fixes import Snapshot

    return Snapshot.of_sources(paths)


def _diff_or_fix(analysis: Analysis, snapshot: Snapshot, root: str, options: dict[str, Any]) -> str | None:
    """--diff: the fixes of the reported findings as a unified diff. --fix: apply them, say so on standard
    error, and keep in `analysis.findings` only the findings not fixed: they are reported and count in
    the exit status as usual (1 while any remains)."""
    from gupcheck.pipeline.fixes import apply_fixes, plan_fixes, render_diff

    if options["diff"]:
        plan = plan_fixes(analysis.findings, snapshot, root)
        for warning in plan.warnings:
            click.echo(f"gupcheck: warning: {warning}", err=True)
        if not plan.changes and not options["quiet"]:
            click.echo("gupcheck: no fixes to show", err=True)
        return render_diff(plan, root)
    outcome = apply_fixes(analysis.findings, snapshot, root)
    for warning in outcome.warnings:
        click.echo(f"gupcheck: warning: {warning}", err=True)
    fixed = {id(finding) for finding in outcome.applied}
    analysis.findings = [finding for finding in analysis.findings if id(finding) not in fixed]
    click.echo(f"gupcheck: {outcome.summary()}", err=True)
    return None


def _exit_status(
    analysis: Analysis, options: dict[str, Any], configured_level: Level | None, report_only: list[str] | None
) -> int:
    """The README's table: 1 for findings whatever else happened, 2 only when nothing could be analysed
    (or, with --strict, when a file parsed with errors), 3 when the analysis is incomplete."""
    units = _units_reported(analysis, report_only)
    with_errors = [unit for unit in units if unit.errors]
    if options["strict"] and with_errors:
        _error(f"--strict: {plural(len(with_errors), 'file')} parsed with errors")
        return EXIT_ERROR
    fail_level = _level_order(options["fail_level"] or configured_level or Level.NOTE)
    failing = any(f.suppression is None and _level_order(f.level) >= fail_level for f in analysis.findings)
    if options["report_unused_suppressions"] and analysis.unused_suppressions:
        failing = True
    if failing:
        return EXIT_CLEAN if options["exit_zero"] else EXIT_FINDINGS
    if not analysis.units_given:  # (a module's context, analysed for a file that failed, is not it)
        return EXIT_ERROR  # nothing could be analysed: each file's error line says why
    if with_errors and len(with_errors) == len(units):
        if len(units) > 1:  # one file's own error line says it all
            _error("every file parsed with errors: nothing was analysed whole (see the parse errors above)")
        return EXIT_ERROR
    return EXIT_INCOMPLETE if analysis.incomplete else EXIT_CLEAN


def _units_reported(analysis: Analysis, report_only: list[str] | None) -> list[TranslationUnitFacts]:
    """The files analysed whose problems are the user's: for the hook, the committed ones; never those
    analysed only as module context."""
    if report_only is None:
        return analysis.units_given
    wanted = {os.path.realpath(name) for name in report_only}
    return [unit for unit in analysis.units if os.path.realpath(unit.path) in wanted]


def _parse_error_summary(units: list[TranslationUnitFacts], quiet: bool) -> str | None:
    """One line for the files that parsed with errors, with the headers they missed: with -q, which hides
    each file's line (a missing header leaves holes in what the rules see), or for several files."""
    with_errors = [unit for unit in units if unit.errors]
    if not with_errors or (len(with_errors) == 1 and not quiet):
        return None
    line = f"{plural(len(units), 'file')} analysed, {len(with_errors)} with parse errors"
    missing = sorted({header for unit in with_errors for header in unit.missing_headers})
    if missing:
        shown = ", ".join(missing[:6]) + (", ..." if len(missing) > 6 else "")
        line += f": missing header{'s' if len(missing) > 1 else ''} {shown}"
    return line


def _level_order(level: Level | str) -> int:
    """note < warning < error, for --fail-level."""
    return (Level.NOTE, Level.WARNING, Level.ERROR).index(Level(level))


def _git_root(folder: str) -> str | None:
    """The work tree holding `folder` (a `.git` folder, or the `.git` file of a worktree), if any."""
    current = os.path.abspath(folder)
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _rule_names(values: tuple[str, ...]) -> list[str] | None:
    """`--select GUP001,GUP002 --select pin-outlives-syscall` -> the names (None: the option not given)."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names if values else None


def _paths_to_analyse(paths: list[str], project: ProjectConfig, report_only: list[str] | None) -> list[str]:
    """The command line's paths, else the configuration's; the hook analyses the project's paths (default:
    the current directory) and the files of the commit."""
    if report_only is not None:
        return [*(project.paths or [os.getcwd()]), *report_only]
    if paths:
        return paths
    if not project.paths:
        raise _RunError("no paths given (name files or folders, or set `paths` in .gupcheck.toml)")
    return project.paths


def _analysis(
    paths: list[str],
    rules: tuple[LazyRule, ...],
    project: ProjectConfig,
    options: dict[str, Any],
    report_only: list[str] | None,
    root: str,
    cache_dir: str | None,
) -> tuple[Analysis, str]:
    """The analysis of `paths` with the command line's options over the configuration's, and what the
    executor says of its work."""
    baseline_file = options["baseline"] or project.baseline
    baseline = load_baseline(baseline_file) if baseline_file else set()
    try:
        executor = _executor(options["executor"], options["scheduler"])
    except click.UsageError as error:
        raise _RunError(error.message) from None
    progress = ProgressBar(sys.stderr) if not options["quiet"] and sys.stderr.isatty() else None
    executor_summary = ""
    try:
        analysis = analyse(
            paths,
            rules,
            compile_commands=options["compile_commands"] or project.compile_commands,
            kernel_dir=options["kernel_dir"] or project.kernel_dir,
            use_model=bool(options["use_model"] or project.kernel_model),
            target_kernel=options["target_kernel"] or project.target_kernel,
            spawn_copies_memory=bool(options["spawn_copies_memory"] or project.spawn_copies_memory),
            jobs=options["jobs"] or project.jobs or default_jobs(),
            cache_dir=cache_dir,
            timeout=options["timeout"] or project.timeout or DEFAULT_TIMEOUT,
            max_memory=options["max_memory"] or project.max_memory or DEFAULT_MEMORY_MIB,
            cache_max_size=options["cache_max_size"],
            module_context=True,  # a file given alone: with the rest of its module
            user_flags=_user_flags(options, project),
            excludes=tuple(project.exclude),
            progress=progress,
            api=project.api,
            executor=executor,
            reporting=Reporting(
                levels=project.levels,
                report_only=tuple(report_only) if report_only is not None else None,
                baseline=frozenset(baseline),
                source_root=root,
            ),
        )
    finally:
        if progress is not None:
            progress.finish()
        if executor is not None:
            executor_summary = executor.summary()
            executor.close()
    return analysis, executor_summary


def _user_flags(options: dict[str, Any], project: ProjectConfig) -> UserFlags:
    """The configuration's flags and overrides, and the command line's -I/-D/-U/--include/--extra-arg
    (raises ConfigError for a folder or file that does not exist, or a bad macro)."""
    command_line = FlagSet.from_options(
        include_dirs=options.get("include_dirs", ()),
        defines=options.get("defines", ()),
        undefines=options.get("undefines", ()),
        includes=options.get("includes", ()),
        extra_args=options.get("extra_args", ()),
    )
    return UserFlags(project.flags, tuple(project.overrides), command_line)


def _report_diagnostics(
    analysis: Analysis,
    options: dict[str, Any],
    root: str,
    executor_summary: str,
    report_only: list[str] | None,
) -> None:
    """Problems with files, notes, statistics: on standard error, apart from the report."""
    quiet = options["quiet"]
    for problem in analysis.problems:
        if problem.fatal or not quiet:
            _report_problem(problem)
    if options["verbose"] and not quiet:
        for note in analysis.notes:
            click.echo(f"gupcheck: note: {note}", err=True)
    for note in analysis.build_notes if not quiet else ():  # which kernel tree, or where none was found
        click.echo(f"gupcheck: note: {note}", err=True)
    modelled = [unit for unit in analysis.units_given if unit.mode == HeaderMode.KERNEL_MODEL]
    if modelled and not quiet:
        count = plural(len(modelled), "kernel file")
        click.echo(
            f"gupcheck: note: {count} parsed with the built-in kernel API model, not real kernel "
            "headers (use --kernel-dir DIR or -p compile_commands.json)",
            err=True,
        )
    parse_errors = _parse_error_summary(_units_reported(analysis, report_only), quiet)
    if parse_errors is not None:
        click.echo(f"gupcheck: warning: {parse_errors}", err=True)
    if options["report_unused_suppressions"]:
        for unused in analysis.unused_suppressions:
            where = unused.location
            click.echo(
                f"{display_path(where.path, _display_root(options))}:{where.line}:{where.column}: warning: "
                "suppression matches no finding (remove it, or check the rule it names)",
                err=True,
            )
    if options["output_format"] != "text" and not quiet:
        outside = sum(
            1 for finding in analysis.findings if relative_path(finding.location.path, root) is None
        )
        if outside:
            click.echo(
                f"gupcheck: note: {outside} finding{'s lie' if outside > 1 else ' lies'} outside the source "
                f"root {root}: reported with absolute paths (set --source-root)",
                err=True,
            )
    if options["stats"]:
        click.echo(render_stats(analysis.stats, root), err=True, nl=False)
    if executor_summary and not quiet:
        click.echo(f"gupcheck: {executor_summary}", err=True)


def _render(
    findings: list[Finding],
    rules: tuple[LazyRule, ...],
    root: str,
    analysis: Analysis,
    cache_dir: str | None,
    options: dict[str, Any],
) -> str:
    """The report in the format asked for."""
    output_format = options["output_format"]
    if output_format == "github":
        from gupcheck.output.github import render_github

        return render_github(findings, {rule.id: rule for rule in rules}, source_root=root)
    if output_format == "gitlab":
        from gupcheck.output.gitlab import render_gitlab

        return render_gitlab(findings, source_root=root)
    if output_format == "junit":
        from gupcheck.output.junit import render_junit

        return render_junit(findings, {rule.id: rule for rule in rules}, source_root=root)
    if output_format == "sarif":
        return _sarif_report(findings, rules, root, analysis, cache_dir, options["cache_max_size"])
    if output_format == "json":
        from gupcheck.output.jsonfmt import render_json

        return render_json(
            findings, source_root=root, files_analysed=len(analysis.units), problems=analysis.problems
        )
    stream = sys.stdout if options["output"] is None else None
    color = stream is not None and should_use_color(stream)
    return render_text(
        findings,
        {rule.id: rule for rule in rules},
        color=color,
        source_root=_display_root(options),
        files_analysed=len(analysis.units),
        files_not_analysed=len(analysis.files_not_analysed),
        rules_stopped=sum(1 for problem in analysis.problems if problem.fatal and not problem.path),
        baselined=analysis.baselined,
        unused_suppressions=0 if options["report_unused_suppressions"] else len(analysis.unused_suppressions),
    )


def _display_root(options: dict[str, Any]) -> str:
    """What text output's paths are relative to: --source-root, else the current directory (as a compiler
    prints them, so that terminals and editors open them)."""
    return os.path.abspath(options["source_root"] or os.getcwd())


# The libraries whose code shapes the SARIF text (a rendered log is reused only with the same ones).
_SARIF_LIBRARIES = ("sarif_om", "jschema_to_python", "attr")


def _sarif_report(
    findings: list[Finding],
    rules: tuple[LazyRule, ...],
    root: str,
    analysis: Analysis,
    cache_dir: str | None,
    cache_max_size: float | None = DEFAULT_MAX_MIB,
) -> str:
    """The SARIF log. Rendering imports sarif-om and the rules' documentation, which takes longer than a
    warm run's analysis: with a cache, a log rendered before from the same inputs is reused."""
    notifications: list[str | InputProblem] = [*analysis.problems, *analysis.notes]
    successful = bool(analysis.units)
    cache = FactCache(cache_dir) if cache_dir is not None else None
    key = ""
    if cache is not None:
        paths = {path for finding in findings for path in finding.paths()}
        paths.update(analysis.files_analysed, (problem.path for problem in analysis.problems))
        inputs = (
            findings,
            [rule.id for rule in rules],
            root,
            analysis.files_analysed,
            notifications,
            successful,
            [(path, relative_path(path, root)) for path in sorted(paths)],
        )
        key = FactCache.report_key("sarif", repr(inputs), _SARIF_LIBRARIES)
        report = cache.load_report(key)
        if report is not None:
            return report
    from gupcheck.output.sarif import render_sarif  # sarif-om is only imported when asked for

    report = render_sarif(
        findings,
        [rule.doc for rule in rules],
        source_root=root,
        files_analysed=analysis.files_analysed,
        notifications=notifications,
        execution_successful=successful,
    )
    if cache is not None and cache.store_report(key, report) is None and cache_max_size is not None:
        trim(cache.root, limit_bytes(cache_max_size))  # written: the cache back under its limit
    return report


def _executor(kind: str, scheduler: str | None) -> DaskExecutor | None:
    """The fact executor of `--executor` (None: local workers). Raises click.UsageError."""
    if kind != "dask":
        if scheduler:
            raise click.UsageError("--scheduler is for --executor dask")
        return None
    if not scheduler:
        raise click.UsageError("--executor dask needs --scheduler tcp://HOST:PORT")
    from gupcheck.pipeline.distributed import DaskExecutor, DaskUnavailable

    try:
        return DaskExecutor.connect(scheduler)
    except DaskUnavailable as error:
        raise click.UsageError(str(error)) from error


def _project_config(config_file: str | None) -> ProjectConfig:
    if config_file is not None:
        return load_config(config_file)
    found = find_config()
    return load_config(found) if found is not None else ProjectConfig()


def _selected_rules(
    project: ProjectConfig, select: list[str] | None = None, ignore: list[str] | None = None
) -> tuple:
    """The rules the configuration and `--select`/`--ignore` enable; unknown rule names are errors naming
    the key or option."""
    where = f"{project.file}" if project.file else "configuration"
    known = ", ".join(rule.id for rule in ALL_RULES)
    for key, names in (
        ("enable", project.enable or []),
        ("disable", project.disable),
        ("levels", list(project.levels)),
    ):
        for name in names:
            if rule_by_id(name) is None:
                raise ConfigFileError(f"{where}: '{key}': unknown rule '{name}' (known: {known})")
    for option, names in (("--select", select or []), ("--ignore", ignore or [])):
        for name in names:
            if rule_by_id(name) is None:
                raise _RunError(f"{option}: unknown rule '{name}' (known: {known})")
    wanted = select if select is not None else project.enable
    enabled = [rule_by_id(name) for name in wanted] if wanted is not None else list(ALL_RULES)
    disabled = {
        rule.id for name in [*project.disable, *(ignore or [])] if (rule := rule_by_id(name)) is not None
    }
    selected = tuple(rule for rule in ALL_RULES if rule in enabled and rule.id not in disabled)
    if not selected:
        raise _RunError("no rule left to run (every selected rule is ignored or disabled)")
    return selected


# Flags Kbuild's CHECKFLAGS adds for sparse that no compiler understands.
_SPARSE_ONLY = (
    "--arch=",
    "-Wbitwise",
    "-Wno-return-void",
    "-Wno-unknown-attribute",
    "-mlittle-endian",
    "-mbig-endian",
    "-Wsparse-",
    "-Wno-sparse-",
)


@main.command(
    short_help='Kbuild\'s source checker: make C=1 CHECK="gupcheck kbuild".',
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        "help_option_names": [],
    },
)
@click.option(
    "--werror",
    is_flag=True,
    envvar="GUPCHECK_KBUILD_WERROR",
    help="Exit 1 when there are findings (fails the build).",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def kbuild(werror: bool, command: tuple[str, ...]) -> None:
    """Kbuild's checker: `make C=1 CHECK="gupcheck kbuild"` (C=2: every file).

    Kbuild runs the checker as `$(CHECK) $(CHECKFLAGS) $(c_flags) file.c` from the kernel tree; gupcheck
    analyses that file with exactly those flags, with the other objects of its module as context (the same
    flags), and prints the findings in that file like compiler warnings. It exits
    0 (findings do not stop the build) unless --werror or GUPCHECK_KBUILD_WERROR=1 is given.
    """
    if command in (("--help",), ("-h",)):  # Kbuild's own flags pass through, so help only when alone
        click.echo(click.get_current_context().get_help())
        sys.exit(EXIT_CLEAN)
    sources = [arg for arg in command if arg.endswith(".c") and not arg.startswith("-")]
    if not sources:
        _error("kbuild: no .c file on the command line (expected: gupcheck kbuild FLAGS... FILE.c)")
        sys.exit(EXIT_ERROR)
    source = sources[-1]
    flags = [arg for arg in command if arg != source and not arg.startswith(_SPARSE_ONLY)]
    directory = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="gupcheck-kbuild-") as scratch:
        database = os.path.join(scratch, "compile_commands.json")
        with open(database, "w", encoding="utf-8") as handle:  # the other objects of its module too
            json.dump(kbuild_entries(directory, source, flags), handle)
        try:
            analysis = analyse(
                [source],
                ALL_RULES,
                compile_commands=database,
                jobs=1,
                cache_dir=str(default_cache_dir()),
                module_context=True,
            )
        except ConfigError as error:
            _error(str(error))
            sys.exit(EXIT_ERROR)
    for problem in analysis.problems:
        if problem.fatal:
            _report_problem(problem)
    reported = analysis.reported
    if reported:
        report = render_text(
            reported,
            {rule.id: rule for rule in ALL_RULES},
            color=should_use_color(sys.stderr),
            source_root=directory,
            files_analysed=len(analysis.units),
            diagnostics_only=True,  # one file per call in a build log: no rules or summary lines
        )
        click.echo(report, err=True, nl=False)
    sys.exit(EXIT_FINDINGS if reported and werror else EXIT_CLEAN)


@main.command("rules", short_help="List the rules with their ids, names, levels and summaries.")
def list_rules() -> None:
    """List the rules."""
    for rule in ALL_RULES:
        doc = rule.doc
        click.echo(f"{doc.id}  {doc.name:<26} {doc.level.value:<8} {doc.summary}")


@main.command(short_help="Print the documentation of a rule, by id (GUP005) or name.")
@click.argument("rule")
def explain(rule: str) -> None:
    """Print the documentation of RULE, given by id (GUP005) or by name (unchecked-user-access)."""
    found = rule_by_id(rule)
    if found is None:
        known = ", ".join(r.id for r in ALL_RULES)
        _error(f"unknown rule '{rule}' (known: {known})")
        sys.exit(EXIT_ERROR)
    click.echo(found.doc.help_text(), nl=False)


def _report_problem(problem: InputProblem) -> None:
    label = "error" if problem.fatal else "note" if problem.note else "warning"
    click.echo(f"gupcheck: {label}: {problem}", err=True)


def _error(message: str) -> None:
    click.echo(f"gupcheck: error: {message}", err=True)


def _write(report: str, output: str | None) -> bool:
    """Print the report, or write it to `output` whole or not at all: a temporary file in the same
    folder renamed over it, so an interrupted or failed write never leaves half a report (or spoils
    the previous one)."""
    # A file name that is not UTF-8 reaches the report as surrogates: shown as U+FFFD, not a crash.
    report = report.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if output is None:
        click.echo(report, nl=not report.endswith("\n"))
        return True
    folder = os.path.dirname(os.path.abspath(output))
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".gupcheck-report-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(report)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)  # as open() would have made it, not mkstemp's 0600
            os.replace(temporary, output)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as error:
        _error(f"{output}: cannot write report: {error.strerror or error}")
        return False
    return True


def _check_output(output: str | None) -> None:
    """Refuse, before any analysis, a report path whose folder does not exist or cannot be written."""
    if output is None:
        return
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        raise _RunError(f"{output}: cannot write report: no such folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _RunError(f"{output}: cannot write report: folder {folder} is not writable")
    if os.path.isdir(output):
        raise _RunError(f"{output}: cannot write report: it is a folder")


@main.command("validate", short_help="Confirm findings by running the cases' repros in QEMU.")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--kernel",
    "kernel_spec",
    metavar="VERSION|all",
    help="Installed kernel to boot (/boot/vmlinuz-V with /lib/modules/V/build): a version, "
    "a prefix such as 6.1, or 'all' (default: the newest).",
)
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the report to this file instead of standard output.",
)
@click.option(
    "--sarif-in",
    type=click.Path(dir_okay=False),
    help="A SARIF log from `gupcheck --format sarif` to record the verdicts in (with --sarif-out).",
)
@click.option(
    "--sarif-out",
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the SARIF log with each validated result's verdicts in its properties.",
)
@click.option(
    "--accel",
    type=click.Choice(["auto", "kvm", "tcg"]),
    default="auto",
    show_default=True,
    help="QEMU accelerator: auto tries KVM briefly and falls back to TCG.",
)
@click.option(
    "--timeout",
    type=click.IntRange(30, 7200),
    default=900,
    show_default=True,
    help="Seconds one boot may take at most.",
)
@click.option(
    "--console-log",
    type=click.Path(file_okay=False),
    help="Keep each boot's serial console in this folder (<kernel version>.log).",
)
def validate_command(
    paths: tuple[str, ...],
    kernel_spec: str | None,
    output_format: str,
    output: str | None,
    sarif_in: str | None,
    sarif_out: str | None,
    accel: str,
    timeout: int,
    console_log: str | None,
) -> None:
    """Confirm findings by running the case folders' repros on a real kernel in QEMU.

    Each case folder carries repro/repro.toml and a repro program (see the README). Exit status:
    0 every finding confirmed and every look-alike clean, 1 otherwise, 2 bad input.
    """
    import json
    from pathlib import Path

    from gupcheck.validate import (
        CaseError,
        KernelError,
        display_name,
        folders_without_repro,
        load_cases,
        select_kernels,
        validate,
    )
    from gupcheck.validate.build import ToolError
    from gupcheck.validate.report import merge_into_sarif, render_json, render_table

    if (sarif_in is None) != (sarif_out is None):
        _error("--sarif-in and --sarif-out go together")
        sys.exit(EXIT_ERROR)
    sarif = None
    try:
        cases = load_cases(list(paths))
        kernels = select_kernels(kernel_spec)
        if sarif_in is not None:
            with open(sarif_in, encoding="utf-8") as handle:
                sarif = json.load(handle)
            if not isinstance(sarif, dict) or not isinstance(sarif.get("runs"), list):
                raise ValueError("not a SARIF log (no runs)")
    except (CaseError, KernelError) as error:
        _error(str(error))
        sys.exit(EXIT_ERROR)
    except (OSError, ValueError) as error:
        _error(f"{sarif_in}: cannot read SARIF: {getattr(error, 'strerror', None) or error}")
        sys.exit(EXIT_ERROR)

    def progress(message: str) -> None:
        click.echo(f"gupcheck: {message}", err=True)

    for folder in folders_without_repro(list(paths)):
        progress(f"note: {display_name(folder)}: no repro/repro.toml, not validated")

    try:
        run = validate(
            cases,
            kernels,
            accel=accel,
            timeout=timeout,
            progress=progress,
            console_dir=Path(console_log) if console_log else None,
        )
    except ToolError as error:
        _error(str(error))
        sys.exit(EXIT_ERROR)

    if not _write(render_json(run) if output_format == "json" else render_table(run), output):
        sys.exit(EXIT_ERROR)
    if sarif is not None and sarif_in is not None and sarif_out is not None:
        annotated = merge_into_sarif(sarif, run.verdicts, Path(sarif_in).resolve().parent)
        if not _write(json.dumps(sarif, indent=2) + "\n", sarif_out):
            sys.exit(EXIT_ERROR)
        progress(f"recorded verdicts in {annotated} SARIF results of {sarif_out}")
    sys.exit(EXIT_CLEAN if run.ok else EXIT_FINDINGS)


@main.command("lsp", short_help="Language Server for editors, on standard input and output.")
def lsp_command() -> None:
    """Language Server on standard input and output: findings in your editor as you open and save files.

    The project is analysed as `gupcheck hook` analyses it (the configuration's `paths`, else the
    workspace folder); only findings in open files are shown.
    """
    try:
        from gupcheck.lsp.server import serve
    except ModuleNotFoundError as error:
        if error.name not in ("pygls", "lsprotocol"):
            raise
        _error(f"gupcheck lsp needs {error.name}: pip install pygls")
        sys.exit(EXIT_ERROR)
    sys.exit(serve())


def _cache_max_size(option: str | None, project: ProjectConfig) -> float:
    """The cache's size limit in MiB: --cache-max-size, else the configuration's, else the default."""
    if option is not None:
        try:
            return parse_mib(option)
        except ValueError as error:
            raise _RunError(f"--cache-max-size: {error}") from None
    return project.cache_max_size or DEFAULT_MAX_MIB


_CACHE_DIR_OPTION = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    help="The cache folder (default: $XDG_CACHE_HOME/gupcheck, else ~/.cache/gupcheck).",
)


@main.group("cache", short_help="Show or empty the cache folder.")
def cache_group() -> None:
    """The cache folder: facts, findings and reports of earlier runs, and precompiled headers.

    After a run that wrote to it, the least recently used entries are removed until it holds no more
    than --cache-max-size MiB (`cache-max-size` in the configuration; default 512).
    """


@cache_group.command("info", short_help="Print the cache folder, its entries, their size and the limit.")
@_CACHE_DIR_OPTION
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Configuration file whose `cache-max-size` is the limit (default: the nearest .gupcheck.toml, "
    "or pyproject.toml with [tool.gupcheck]).",
)
def cache_info(cache_dir: str | None, config_file: str | None) -> None:
    """Print the cache folder, the number and size of its entries by kind, the total and the limit."""
    from gupcheck.pipeline.cachedir import human, mib, scan

    try:
        limit = _project_config(config_file).cache_max_size or DEFAULT_MAX_MIB
    except ConfigFileError as error:
        _error(str(error))
        sys.exit(EXIT_ERROR)
    root = cache_dir or str(default_cache_dir())
    contents = scan(root)
    click.echo(f"folder: {root}" + ("" if os.path.isdir(root) else " (not made yet)"))
    for kind, (count, size) in contents.by_kind().items():
        click.echo(f"{kind}: {count} {'entry' if count == 1 else 'entries'}, {human(size)}")
    temporary = sum(file.size for file in contents.temporary)
    click.echo(f"temporary files: {len(contents.temporary)}, {human(temporary)}")
    click.echo(f"total: {human(contents.size)} ({contents.size} bytes), limit {mib(limit)}")
    sys.exit(EXIT_CLEAN)


@cache_group.command("clean", short_help="Remove everything gupcheck keeps in the cache folder.")
@_CACHE_DIR_OPTION
def cache_clean(cache_dir: str | None) -> None:
    """Remove every entry gupcheck keeps in the cache folder, and nothing else that is there.

    Files another gupcheck is writing at the moment, and a precompiled header it is building, are left.
    """
    from gupcheck.pipeline.cachedir import clean, human

    root = cache_dir or str(default_cache_dir())
    removal = clean(root)
    click.echo(
        f"removed {removal.entries} {'entry' if removal.entries == 1 else 'entries'} "
        f"({human(removal.bytes)}) from {root}"
    )
    if removal.left_in_use:
        click.echo(f"left {removal.left_in_use} in use by a gupcheck running now")
    if removal.error is not None:
        _error(f"cannot remove everything from the cache: {removal.error}")
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CLEAN)
