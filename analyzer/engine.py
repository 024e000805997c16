"""The pipeline: sources -> build config -> facts -> program -> rules -> findings."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from gupcheck import buildconfig
from gupcheck.crosslayer import link_program
from gupcheck.discovery import discover_sources
from gupcheck.facts import HeaderMode, TranslationUnitFacts
from gupcheck.findings import Finding, InputProblem
from gupcheck.parse import ParseError, extract_facts
from gupcheck.pins import PinAnalysis
from gupcheck.program import Program
from gupcheck.ruleinfo import Rule

MODE_NOTES = {
    HeaderMode.KERNEL_MODEL: "parsed with gupcheck's built-in kernel API model, not real kernel headers "
    "(use --kernel-dir DIR for a kernel build tree)",
}


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    units: list[TranslationUnitFacts] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. ioctl requests no analysed driver handles

    @property
    def files_analysed(self) -> list[str]:
        return [unit.path for unit in self.units]


def analyse(
    paths: list[str],
    rules: tuple[Rule, ...],
    *,
    compile_commands: str | None = None,
    kernel_dir: str | None = None,
    use_model: bool = False,
    target_kernel: str | None = None,
    spawn_copies_memory: bool = False,
) -> Analysis:
    """Analyse the C files under `paths`. Raises buildconfig.ConfigError for bad options.

    `target_kernel` ("X.Y") is the kernel version advice is given for; default: the kernel tree's
    version, else 6.1.
    """
    target = target_kernel
    if target is not None:
        parse_kernel_version(target)  # a bad value is a usage error before any parsing
    result = Analysis()
    sources, problems = discover_sources(paths)
    result.problems.extend(problems)
    config = buildconfig.BuildConfig(compile_commands=compile_commands, kernel_dir=kernel_dir,
                                     use_model=use_model)
    for path in sources:
        unit = _facts_for(path, config, result.problems)
        if unit is not None:
            result.units.append(unit)
    tree_release = config.kernel_tree.release if config.kernel_tree is not None else ""
    program = Program(result.units, target_kernel=parse_kernel_version(target or tree_release or "6.1"),
                      spawn_copies_memory=spawn_copies_memory)
    modes = {unit.path: unit for unit in result.units}
    for rule in rules:
        for finding in rule.check(program):
            unit = modes.get(finding.location.path)
            if unit is not None:
                if unit.mode in MODE_NOTES:
                    finding.notes.append(MODE_NOTES[unit.mode])
                if unit.errors:
                    finding.notes.append(f"the file parsed with {len(unit.errors)} error(s); "
                                         "this finding may be incomplete")
            result.findings.append(finding)
    result.findings.sort(key=Finding.sort_key)
    layer = program.derived("cross-layer", lambda: link_program(program, PinAnalysis.of(program)))
    for call in layer.unresolved:
        request = call.args[1]
        name = request.macro or request.text
        value = f" ({request.const_value:#x})" if request.const_value is not None else ""
        result.notes.append(
            f"{call.location.path}:{call.location.line}: ioctl request {name}{value} is not handled by any "
            "analysed driver: cross-layer rules (GUP002, GUP003) cannot follow it"
        )
    return result


def parse_kernel_version(text: str) -> tuple[int, int]:
    """"6.1", "6.1.0-56-amd64" -> (6, 1). Raises ConfigError for anything else."""
    match = re.match(r"(\d+)\.(\d+)", text.strip())
    if match is None:
        raise buildconfig.ConfigError(f"target kernel '{text}': expected a version such as 6.1")
    return int(match.group(1)), int(match.group(2))


def _facts_for(path: str, config: buildconfig.BuildConfig,
               problems: list[InputProblem]) -> TranslationUnitFacts | None:
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError as error:
        problems.append(InputProblem(path, f"cannot read file: {error.strerror or error}"))
        return None
    try:
        file_config = config.config_for(os.path.abspath(path), source.decode("utf-8", "replace"))
        unit = extract_facts(file_config, source)
    except (ParseError, buildconfig.ConfigError) as error:
        problems.append(InputProblem(path, str(error)))
        return None
    if unit.errors:
        first = unit.errors[0]
        where = f"{first.location.line}:{first.location.column}: " if first.location else ""
        problems.append(InputProblem(
            path, f"parsed with {len(unit.errors)} error(s), analysed anyway (first: {where}{first.message})",
            fatal=False))
    return unit
