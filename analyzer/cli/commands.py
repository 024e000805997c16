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
from gupcheck.model.facts import HeaderMode
from gupcheck.model.findings import Finding, InputProblem
from gupcheck.model.rule import LazyRule
from gupcheck.output.text import relative_path, render_text, should_use_color
from gupcheck.pipeline.baseline import BaselineError, load_baseline
from gupcheck.pipeline.cache import FactCache, default_cache_dir
from gupcheck.pipeline.engine import Analysis, analyse
from gupcheck.pipeline.postprocess import Reporting
from gupcheck.pipeline.projectconfig import ConfigFileError, ProjectConfig, find_config, load_config
from gupcheck.pipeline.workers import DEFAULT_MEMORY_MIB, DEFAULT_TIMEOUT, default_jobs
from gupcheck.rules import ALL_RULES, rule_by_id

if TYPE_CHECKING:
    from gupcheck.pipeline.distributed import DaskExecutor

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_INCOMPLETE = 3  # no findings, but a file was not analysed or a rule stopped: not a clean bill
EXIT_INTERRUPTED = 130  # ^C, as shells report a process ended by SIGINT


class _DefaultToCheck(click.Group):
    """`gupcheck PATH...` means `gupcheck check PATH...`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultToCheck, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gupcheck")
def main() -> None:
    """Find pinned-page, uaccess and shared-mapping bugs where user memory meets a Linux driver.

    Run `gupcheck PATH...` on driver and userland sources (files or folders).
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
            help="Kernel build tree (default: $GUPCHECK_KERNEL_DIR, then "
            "/lib/modules/$(uname -r)/build, else the built-in kernel API model).",
        ),
        click.option(
            "--kernel-model",
            "use_model",
            is_flag=True,
            default=None,
            help="Parse kernel code with the built-in kernel API model even when a kernel tree exists.",
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
            type=click.Choice(["text", "sarif", "json"]),
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
            help="Root that reported paths are relative to (default: the current directory).",
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
            "--baseline",
            type=click.Path(dir_okay=False),
            help="A SARIF report of an earlier run: report only findings it does not contain.",
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


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@_analysis_options
def check(paths: tuple[str, ...], **options: Any) -> None:
    """Analyse the C files under PATHS (default: `paths` from the configuration)."""
    sys.exit(_run(list(paths), options))


@main.command()
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
        rules = _selected_rules(project)
        paths = _paths_to_analyse(paths, project, report_only)
        root = os.path.abspath(options["source_root"] or os.getcwd())
        cache_dir = None if options["no_cache"] else options["cache_dir"] or str(default_cache_dir())
        analysis, executor_summary = _analysis(paths, rules, project, options, report_only, root, cache_dir)
    except (ConfigFileError, ConfigError, BaselineError, _RunError) as error:
        _error(str(error))
        return EXIT_ERROR
    _report_diagnostics(analysis, options, root, executor_summary)
    findings = analysis.findings
    if not _write(_render(findings, rules, root, analysis, cache_dir, options), options["output"]):
        return EXIT_ERROR
    if not any(not unit.errors for unit in analysis.units):
        return EXIT_ERROR  # nothing could be analysed (or only files that do not parse)
    if any(f.suppression is None for f in findings):
        return EXIT_FINDINGS
    return EXIT_INCOMPLETE if analysis.incomplete else EXIT_CLEAN


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
    baseline = load_baseline(options["baseline"]) if options["baseline"] else set()
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


def _report_diagnostics(
    analysis: Analysis, options: dict[str, Any], root: str, executor_summary: str
) -> None:
    """Problems with files, notes, statistics: on standard error, apart from the report."""
    quiet = options["quiet"]
    for problem in analysis.problems:
        if problem.fatal or not quiet:
            _report_problem(problem)
    if options["verbose"] and not quiet:
        for note in analysis.notes:
            click.echo(f"gupcheck: note: {note}", err=True)
    modelled = [unit for unit in analysis.units if unit.mode == HeaderMode.KERNEL_MODEL]
    if modelled and not quiet:
        count = f"{len(modelled)} kernel file{'s' if len(modelled) > 1 else ''}"
        click.echo(
            f"gupcheck: note: {count} parsed with the built-in kernel API model, not real kernel "
            "headers (use --kernel-dir DIR or -p compile_commands.json)",
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
    if output_format == "sarif":
        return _sarif_report(findings, rules, root, analysis, cache_dir)
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
        source_root=root,
        files_analysed=len(analysis.units),
        files_not_analysed=len(analysis.files_not_analysed),
        rules_stopped=sum(1 for problem in analysis.problems if problem.fatal and not problem.path),
    )


# The libraries whose code shapes the SARIF text (a rendered log is reused only with the same ones).
_SARIF_LIBRARIES = ("sarif_om", "jschema_to_python", "attr")


def _sarif_report(
    findings: list[Finding], rules: tuple[LazyRule, ...], root: str, analysis: Analysis, cache_dir: str | None
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
    if cache is not None:
        cache.store_report(key, report)
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


def _selected_rules(project: ProjectConfig) -> tuple:
    """The rules the configuration enables; unknown rule names are errors naming the key."""
    where = f"{project.file}" if project.file else "configuration"
    for key, names in (
        ("enable", project.enable or []),
        ("disable", project.disable),
        ("levels", list(project.levels)),
    ):
        for name in names:
            if rule_by_id(name) is None:
                known = ", ".join(rule.id for rule in ALL_RULES)
                raise ConfigFileError(f"{where}: '{key}': unknown rule '{name}' (known: {known})")
    enabled = [rule_by_id(name) for name in project.enable] if project.enable is not None else list(ALL_RULES)
    disabled = {rule.id for name in project.disable if (rule := rule_by_id(name)) is not None}
    return tuple(rule for rule in ALL_RULES if rule in enabled and rule.id not in disabled)


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
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        "help_option_names": [],
    }
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
    analyses that one file with exactly those flags and prints findings like compiler warnings. It exits
    0 (findings do not stop the build) unless --werror or GUPCHECK_KBUILD_WERROR=1 is given.
    """
    sources = [arg for arg in command if arg.endswith(".c") and not arg.startswith("-")]
    if not sources:
        _error("kbuild: no .c file on the command line (expected: gupcheck kbuild FLAGS... FILE.c)")
        sys.exit(EXIT_ERROR)
    source = sources[-1]
    flags = [arg for arg in command if arg != source and not arg.startswith(_SPARSE_ONLY)]
    directory = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="gupcheck-kbuild-") as scratch:
        database = os.path.join(scratch, "compile_commands.json")
        with open(database, "w", encoding="utf-8") as handle:
            json.dump(
                [{"directory": directory, "file": source, "arguments": ["cc", *flags, "-c", source]}], handle
            )
        try:
            analysis = analyse(
                [source], ALL_RULES, compile_commands=database, jobs=1, cache_dir=str(default_cache_dir())
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
        )
        click.echo(report, err=True, nl=False)
    sys.exit(EXIT_FINDINGS if reported and werror else EXIT_CLEAN)


@main.command("rules")
def list_rules() -> None:
    """List the rules."""
    for rule in ALL_RULES:
        doc = rule.doc
        click.echo(f"{doc.id}  {doc.name:<26} {doc.level.value:<8} {doc.summary}")


@main.command()
@click.argument("rule")
def explain(rule: str) -> None:
    """Print a rule's documentation (by id, e.g. GUP005, or by name)."""
    found = rule_by_id(rule)
    if found is None:
        known = ", ".join(r.id for r in ALL_RULES)
        _error(f"unknown rule '{rule}' (known: {known})")
        sys.exit(EXIT_ERROR)
    click.echo(found.doc.help_text(), nl=False)


def _report_problem(problem: InputProblem) -> None:
    label = "error" if problem.fatal else "warning"
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


@main.command("validate")
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
