"""Command line: `gupcheck PATH...`, `gupcheck rules`, `gupcheck explain RULE`.

Exit status: 0 no findings, 1 findings, 2 usage or input error (nothing could be analysed).
"""

from __future__ import annotations

import os
import sys

import click

from gupcheck import __version__
from gupcheck.buildconfig import ConfigError
from gupcheck.engine import analyse
from gupcheck.facts import HeaderMode
from gupcheck.findings import InputProblem
from gupcheck.output.jsonfmt import render_json
from gupcheck.output.sarif import render_sarif
from gupcheck.output.text import render_text, should_use_color
from gupcheck.rules import ALL_RULES, rule_by_id

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


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


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-p", "--compile-commands", "compile_commands", type=click.Path(),
              help="compile_commands.json, or the folder holding it (as clang-tidy -p).")
@click.option("--kernel-dir", type=click.Path(),
              help="Kernel build tree (default: $GUPCHECK_KERNEL_DIR, then /lib/modules/$(uname -r)/build, "
                   "else the built-in kernel API model).")
@click.option("--kernel-model", "use_model", is_flag=True,
              help="Parse kernel code with the built-in kernel API model even when a kernel tree exists.")
@click.option("--target-kernel", metavar="X.Y",
              help="Kernel version the advice is for (default: the kernel tree's version, else 6.1).")
@click.option("--spawn-copies-memory", is_flag=True,
              help="Treat system() and popen() as fork() (C libraries that implement them with fork).")
@click.option("--format", "output_format", type=click.Choice(["text", "sarif", "json"]), default="text",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write the report to this file instead of standard output.")
@click.option("-v", "--verbose", is_flag=True,
              help="Also report what the analysis could not follow (ioctl requests no driver handles).")
@click.option("--source-root", type=click.Path(file_okay=False),
              help="Root that reported paths are relative to (default: the current directory).")
def check(paths: tuple[str, ...], compile_commands: str | None, kernel_dir: str | None, use_model: bool,
          target_kernel: str | None, spawn_copies_memory: bool, output_format: str, output: str | None,
          verbose: bool,
          source_root: str | None) -> None:
    """Analyse the C files under PATHS."""
    root = os.path.abspath(source_root or os.getcwd())
    try:
        analysis = analyse(list(paths), ALL_RULES, compile_commands=compile_commands,
                           kernel_dir=kernel_dir, use_model=use_model, target_kernel=target_kernel,
                           spawn_copies_memory=spawn_copies_memory)
    except ConfigError as error:
        _error(str(error))
        sys.exit(EXIT_ERROR)

    for problem in analysis.problems:
        _report_problem(problem)
    if verbose:
        for note in analysis.notes:
            click.echo(f"gupcheck: note: {note}", err=True)
    modelled = [unit for unit in analysis.units if unit.mode == HeaderMode.KERNEL_MODEL]
    if modelled:
        count = f"{len(modelled)} kernel file{'s' if len(modelled) > 1 else ''}"
        click.echo(f"gupcheck: note: {count} parsed with the built-in kernel API model, not real kernel "
                   "headers (use --kernel-dir DIR or -p compile_commands.json)", err=True)

    docs = [rule.doc for rule in ALL_RULES]
    if output_format == "sarif":
        report = render_sarif(analysis.findings, docs, source_root=root,
                              files_analysed=analysis.files_analysed,
                              notifications=[*analysis.problems, *analysis.notes],
                              execution_successful=bool(analysis.units))
    elif output_format == "json":
        report = render_json(analysis.findings, source_root=root, files_analysed=len(analysis.units),
                             problems=analysis.problems)
    else:
        stream = sys.stdout if output is None else None
        color = stream is not None and should_use_color(stream)
        report = render_text(analysis.findings, {doc.id: doc for doc in docs}, color=color, source_root=root,
                             files_analysed=len(analysis.units))
    _write(report, output)

    if not any(not unit.errors for unit in analysis.units):
        sys.exit(EXIT_ERROR)  # nothing could be analysed (or only files that do not parse)
    sys.exit(EXIT_FINDINGS if analysis.findings else EXIT_CLEAN)


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
        known = ", ".join(r.doc.id for r in ALL_RULES)
        _error(f"unknown rule '{rule}' (known: {known})")
        sys.exit(EXIT_ERROR)
    click.echo(found.doc.help_text(), nl=False)


def _report_problem(problem: InputProblem) -> None:
    label = "error" if problem.fatal else "warning"
    click.echo(f"gupcheck: {label}: {problem}", err=True)


def _error(message: str) -> None:
    click.echo(f"gupcheck: error: {message}", err=True)


def _write(report: str, output: str | None) -> None:
    if output is None:
        click.echo(report, nl=not report.endswith("\n"))
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(report)
    except OSError as error:
        _error(f"{output}: cannot write report: {error.strerror or error}")
        sys.exit(EXIT_ERROR)
