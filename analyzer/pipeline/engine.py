"""The pipeline: sources -> build config -> facts -> program -> rules -> findings."""

from __future__ import annotations

import fnmatch
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING

from gupcheck.frontend import buildconfig
from gupcheck.frontend.discovery import discover_sources, read_regular_file
from gupcheck.kernel_api.declared import ApiKnowledge
from gupcheck.model.facts import Side, TranslationUnitFacts
from gupcheck.model.findings import Finding, InputProblem, Suppression
from gupcheck.model.rule import LazyRule, Rule
from gupcheck.pipeline.cache import CachedFacts, FactCache, unwritable_warning
from gupcheck.pipeline.cachedir import DEFAULT_MAX_MIB, limit_bytes, trim
from gupcheck.pipeline.compiledout import compiled_out_notes
from gupcheck.pipeline.factcodec import FactDecoder
from gupcheck.pipeline.gcpause import keep_what_exists, kept_for_the_analysis, releases_kept_objects
from gupcheck.pipeline.isolation import RuleBudget, run_rule
from gupcheck.pipeline.modulecontext import module_context as find_module_context
from gupcheck.pipeline.postprocess import Reporting, postprocess
from gupcheck.pipeline.workers import (
    DEFAULT_MEMORY_MIB,
    DEFAULT_TIMEOUT,
    FactJob,
    FactResult,
    WorkerPool,
    run_in_process,
)
from gupcheck.rules import ALL_RULES

if TYPE_CHECKING:
    from gupcheck.frontend.userflags import UserFlags
    from gupcheck.model.program import Unfinished

FactExecutor = Callable[[list[FactJob]], Iterable[FactResult]]  # computes facts, results in any order


@dataclass
class FileStats:
    path: str
    mode: str  # the header mode the file was parsed with
    origin: str  # "parsed" or "cache"
    seconds: float  # time to compute the facts (0 for a cache hit)


@dataclass
class RunStats:
    files: list[FileStats] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds
    jobs: int = 0  # worker processes (0: parsed in this process)
    cache_hits: int = 0
    cache_misses: int = 0
    worker_peak_rss_kib: list[int] = field(default_factory=list)


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)
    units: list[TranslationUnitFacts] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. ioctl requests no analysed driver handles
    context: list[str] = field(default_factory=list)  # analysed as the module context of files given alone
    build_notes: list[str] = field(default_factory=list)  # the kernel tree found, or where none was
    cache_problems: set[str] = field(default_factory=set)  # warnings: the cache could not be written
    baselined: int = 0  # findings the baseline hides
    unused_suppressions: list[Suppression] = field(default_factory=list)  # matched no finding
    stats: RunStats = field(default_factory=RunStats)

    @property
    def files_analysed(self) -> list[str]:
        return [unit.path for unit in self.units]

    @property
    def units_given(self) -> list[TranslationUnitFacts]:
        """The files analysed that were asked for: not those only analysed as module context."""
        context = set(self.context)
        return [unit for unit in self.units if unit.path not in context]

    @property
    def files_not_analysed(self) -> list[str]:
        """Files named in a fatal problem: unreadable, refused, or whose parse crashed or timed out."""
        return sorted({problem.path for problem in self.problems if problem.fatal and problem.path})

    @property
    def incomplete(self) -> bool:
        """Some file was not analysed, or some rule stopped before its end."""
        return any(problem.fatal for problem in self.problems)

    @property
    def reported(self) -> list[Finding]:
        """The findings no inline comment suppresses: what text output shows and the exit status counts."""
        return [finding for finding in self.findings if finding.suppression is None]


Progress = Callable[[int, int], None]  # (files done, files in all)


@releases_kept_objects
def analyse(
    paths: list[str],
    rules: tuple[Rule | LazyRule, ...],
    *,
    compile_commands: str | None = None,
    kernel_dir: str | None = None,
    use_model: bool = False,
    target_kernel: str | None = None,
    spawn_copies_memory: bool = False,
    jobs: int = 0,
    cache_dir: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    excludes: tuple[str, ...] = (),
    progress: Progress | None = None,
    executor: FactExecutor | None = None,
    api: ApiKnowledge | None = None,
    reporting: Reporting | None = None,
    max_memory: int | None = DEFAULT_MEMORY_MIB,
    rule_budget: RuleBudget | None = None,
    cache_max_size: float | None = DEFAULT_MAX_MIB,
    module_context: bool = False,
    user_flags: UserFlags | None = None,
) -> Analysis:
    """Analyse the C files under `paths`. Raises buildconfig.ConfigError for bad options.

    `target_kernel` ("X.Y") is the kernel version advice is given for; default: the kernel tree's
    version, else 6.1. `jobs` worker processes compute facts (0: in this process); `cache_dir` keeps
    facts between runs (None: no cache); `timeout` bounds one file's parse in a worker; `excludes` are
    glob patterns of paths to skip; `executor` replaces the local workers (for example a cluster);
    `api` declares wrappers gupcheck cannot see (from the configuration); `reporting` says what of the
    findings to report (levels, files, baseline); `max_memory` bounds each worker's address space (MiB);
    `rule_budget` each rule's time and memory; `cache_max_size` (MiB, None: no limit) is what the cache
    may hold after the run has written to it (least recently used entries go first). `user_flags` are
    the user's -I/-D/-U/--include/--extra-arg, added to every file's flags. `Analysis.build_notes` says
    which kernel tree was found, or where gupcheck looked. `module_context`: a kernel file given by name
    is analysed with the other sources of its module (`pipeline.modulecontext`; `Analysis.context`),
    whose findings and problems are not reported.
    """
    target = target_kernel
    if target is not None:
        parse_kernel_version(target)  # a bad value is a usage error before any parsing
    result = Analysis()
    stats = result.stats
    clock = time.perf_counter()
    sources, problems = discover_sources(paths)
    sources = [path for path in sources if not is_excluded(path, excludes)]
    result.problems.extend(problems)
    config = buildconfig.BuildConfig(
        compile_commands=compile_commands,
        kernel_dir=kernel_dir,
        use_model=use_model,
        cache_dir=cache_dir,
        user_flags=user_flags,
    )
    cache = FactCache(cache_dir) if cache_dir is not None else None
    jobs_by_path: dict[str, FactJob] = {}
    entries: dict[str, CachedFacts] = {}
    for path in sources:
        job = _job_for(path, config, cache, result.problems)
        if job is None:
            continue
        jobs_by_path[path] = job
        entry = cache.load(job.cache_key) if cache is not None and job.cache_key else None
        if entry is not None:
            entries[path] = entry
    if module_context:  # files given alone: the rest of their modules, analysed as context
        sources = sources + _module_context(
            result, paths, sources, jobs_by_path, entries, config, cache, excludes
        )
    result.build_notes = list(config.notes)
    stats.stages["discover and configure"] = time.perf_counter() - clock

    # The same facts with the same rules and options give the same findings: a run whose every file
    # comes from the cache looks for the findings of an identical earlier run.
    if cache is not None and jobs_by_path:
        settings = repr(
            (tuple(rule.id for rule in rules), target, _tree_release(config), spawn_copies_memory, api)
        )
        if len(entries) == len(jobs_by_path):
            clock = time.perf_counter()
            run_key = FactCache.result_key([job.cache_key or "" for job in jobs_by_path.values()], settings)
            cached_run = cache.load_result(run_key)
            if isinstance(cached_run, tuple) and len(cached_run) == 2:
                findings, result.notes = cached_run
                result.units = [entries[path].summary for path in jobs_by_path]
                for unit in result.units:
                    _account(result, unit, "cache")
                _finish_stats(result, cache, None)
                _report(result, findings, rules, reporting)
                stats.stages["findings (cached)"] = time.perf_counter() - clock
                return result

    clock = time.perf_counter()
    pool = _compute_facts(
        result,
        sources,
        jobs_by_path,
        entries,
        WorkerPool(jobs, timeout, max_memory) if jobs > 0 else None,
        progress,
        executor,
    )
    _finish_stats(result, cache, pool)
    stats.stages["facts"] = time.perf_counter() - clock
    cache_keys = {path: job.cache_key or "" for path, job in jobs_by_path.items()}
    del jobs_by_path, entries, pool  # the sources' bytes are not needed by the rules

    clock = time.perf_counter()
    keep_what_exists()  # the facts live till the end: the collector's passes while rules run skip them
    failed = len(result.problems)
    findings = _run_rules(
        result, rules, config, target, spawn_copies_memory, api, rule_budget or RuleBudget()
    )
    if cache is not None and result.units and len(result.problems) == failed:  # a stopped rule is not cached
        analysed = [cache_keys[unit.path] for unit in result.units]
        unwritable = cache.store_result(FactCache.result_key(analysed, settings), (findings, result.notes))
        if unwritable is not None:
            result.cache_problems.add(unwritable_warning(cache.root, unwritable))
    if cache is not None and cache_max_size is not None:  # this run wrote to it: back under the limit
        trim(cache.root, limit_bytes(cache_max_size))
    # one warning for each thing that went wrong, whatever the number of writes that failed
    result.problems += [InputProblem("", warning, fatal=False) for warning in sorted(result.cache_problems)]
    _report(result, findings, rules, reporting)
    stats.stages["link and rules"] = time.perf_counter() - clock
    return result


def _report(
    result: Analysis, findings: list[Finding], rules: tuple[Rule | LazyRule, ...], reporting: Reporting | None
) -> None:
    """What of `findings` the run reports, and warnings for suppressions that name no rule. Of the files
    analysed as module context, neither findings nor problems."""
    reporting = reporting or Reporting()
    if result.context:
        context = set(result.context)
        result.problems = [problem for problem in result.problems if problem.path not in context]
        if reporting.report_only is None:
            reporting = replace(reporting, report_only=tuple(unit.path for unit in result.units_given))
    reported = postprocess(findings, result.units, _names(rules), reporting)
    result.findings = reported.findings
    result.baselined = reported.baselined
    result.unused_suppressions = reported.suppressions.unused
    result.problems += [
        InputProblem(
            unknown.location.path,
            f"line {unknown.location.line}: suppression names unknown rule '{unknown.name}' "
            f"(known: {', '.join(rule.id for rule in ALL_RULES)})",
            fatal=False,
        )
        for unknown in reported.suppressions.unknown
    ]


def _compute_facts(
    result: Analysis,
    sources: list[str],
    jobs_by_path: dict[str, FactJob],
    entries: dict[str, CachedFacts],
    workers: WorkerPool | None,
    progress: Progress | None,
    executor: FactExecutor | None,
) -> WorkerPool | None:
    """The facts of every file into `result.units` (in the order of `sources`): decoded from the cache,
    or computed by the executor, the worker pool (every parse, even of a single file: a libclang crash
    or a runaway parse then costs that file, not the run) or, without workers, this process. Returns
    the pool, if one ran."""
    units: dict[str, TranslationUnitFacts] = {}
    pending: list[FactJob] = []
    decoder = FactDecoder()  # one for the run: what repeats across files is held once
    for path, job in jobs_by_path.items():
        entry = entries.pop(path, None)  # its encoded facts are not kept once decoded
        with kept_for_the_analysis():  # decoded facts live till the end of the analysis
            decoded = entry.unit(decoder) if entry is not None else None
        if decoded is None:
            pending.append(job)
            continue
        units[path] = decoded
        _account(result, decoded, "cache")
    done, total = len(units), len(units) + len(pending)
    if progress is not None and total:
        progress(done, total)
    pool = None
    if executor is not None:
        computed = executor(pending)
    elif workers is not None and pending:
        pool = workers
        result.stats.jobs = min(workers.jobs, len(pending))
        # largest files first, so that no worker starts a long parse when the others are done
        computed = pool.run(sorted(pending, key=lambda job: -len(job.source)), decoder)
    else:
        computed = run_in_process(pending)
    for outcome in computed:
        done += 1
        if progress is not None:
            progress(done, total)
        result.cache_problems.update(outcome.cache_problems)
        if outcome.unit is None:
            result.problems.append(InputProblem(outcome.path, outcome.problem or "no facts"))
            continue
        units[outcome.path] = outcome.unit
        _account(result, outcome.unit, "parsed", outcome.seconds)
    result.units = [units[path] for path in sources if path in units]
    return pool


def _account(result: Analysis, unit: TranslationUnitFacts, origin: str, seconds: float = 0.0) -> None:
    """Record where a file's facts came from, and its parse errors."""
    result.stats.files.append(FileStats(unit.path, unit.mode.value, origin, seconds))
    _report_parse_errors(unit, result.problems)
    result.problems += compiled_out_notes(unit)


def _finish_stats(result: Analysis, cache: FactCache | None, pool: WorkerPool | None) -> None:
    stats = result.stats
    if pool is not None:
        stats.worker_peak_rss_kib = sorted(pool.peak_rss_kib.values())
    if cache is not None:
        stats.cache_hits, stats.cache_misses = cache.hits, cache.misses
    result.problems.sort(key=lambda problem: (problem.path, problem.message))
    stats.files.sort(key=lambda entry: entry.path)


def _tree_release(config: buildconfig.BuildConfig) -> str:
    return config.kernel_tree.release if config.kernel_tree is not None else ""


def _run_rules(
    result: Analysis,
    rules: tuple[Rule | LazyRule, ...],
    config: buildconfig.BuildConfig,
    target: str | None,
    spawn_copies_memory: bool,
    api: ApiKnowledge | None,
    budget: RuleBudget,
) -> list[Finding]:
    """The findings of every rule (as the rules word them), and notes on what the rules that link
    userland to drivers could not follow. A rule that fails, or runs past its budget, is stopped and
    named in a problem; the others still run."""
    from gupcheck.analyses.context import Analyses  # the analyses are imported when they are needed
    from gupcheck.model.program import Program

    release = target or _tree_release(config) or "6.1"
    program = Program(
        result.units,
        target_kernel=parse_kernel_version(release),
        spawn_copies_memory=spawn_copies_memory,
        api=api,
    )
    context = Analyses(program)
    findings: list[Finding] = []
    # what linking the program left unresolved (a call through a pointer that could reach too many
    # functions): before any rule runs, `unfinished` holds only that
    result.notes += _unfinished_notes("call graph", program.unfinished)
    for rule in rules:
        reported = len(program.unfinished)
        outcome = run_rule(partial(rule.check, context), budget)
        findings.extend(outcome.findings)
        if outcome.failure is not None:
            result.problems.append(
                InputProblem("", f"{rule.id} ({rule.name}) {outcome.failure}; its findings are incomplete")
            )
        result.notes += _unfinished_notes(rule.id, program.unfinished[reported:])
    linking = [rule.id for rule in rules if rule.doc.links_userland]
    if linking:
        for call in context.unresolved_requests:
            request = call.args[1]
            name = request.macro or request.text
            value = f" ({request.const_value:#x})" if request.const_value is not None else ""
            result.notes.append(
                f"{call.location.path}:{call.location.line}: ioctl request {name}{value} is not handled by "
                f"any analysed driver: cross-layer rules ({', '.join(linking)}) cannot follow it"
            )
    return findings


def _unfinished_notes(rule_id: str, unfinished: list[Unfinished], named: int = 3) -> list[str]:
    """Notes on the functions an analysis a rule used (or the linking of the call graph, `rule_id`
    "call graph") left at its budget: one a function, or one for them all when there are more than
    `named` for the same reason."""
    groups: dict[tuple[str, str], list[Unfinished]] = {}
    for left in unfinished:
        groups.setdefault((left.what, left.reason), []).append(left)
    notes = []
    for (what, reason), lefts in groups.items():
        if len(lefts) <= named:
            for left in lefts:
                where = left.function.location
                notes.append(
                    f"{where.path}:{where.line}: {rule_id}: {left.function.name}() not fully analysed: "
                    f"{what} {reason}"
                )
        else:
            names = ", ".join(f"{left.function.name}()" for left in lefts[:named])
            notes.append(
                f"{rule_id}: {len(lefts)} functions not fully analysed ({what} {reason}): {names} "
                f"and {len(lefts) - named} more"
            )
    return notes


def _names(rules: tuple[Rule | LazyRule, ...]) -> dict[str, str]:
    return {rule.id: rule.name for rule in rules}


def is_excluded(path: str, patterns: tuple[str, ...]) -> bool:
    """True when `path` (absolute) matches one of the glob `patterns`: matched against the path
    relative to the current directory and against each trailing part (`*.mod.c`, `vendor/*`)."""
    if not patterns:
        return False
    relative = os.path.relpath(path)
    parts = relative.split(os.sep)
    candidates = {relative, path, *("/".join(parts[i:]) for i in range(len(parts)))}
    return any(
        fnmatch.fnmatchcase(candidate, pattern.rstrip("/"))
        or fnmatch.fnmatchcase(candidate, pattern.rstrip("/") + "/*")
        for pattern in patterns
        for candidate in candidates
    )


def parse_kernel_version(text: str) -> tuple[int, int]:
    """ "6.1", "6.1.0-56-amd64" -> (6, 1). Raises ConfigError for anything else."""
    match = re.match(r"(\d+)\.(\d+)", text.strip())
    if match is None:
        raise buildconfig.ConfigError(f"target kernel '{text}': expected a version such as 6.1")
    return int(match.group(1)), int(match.group(2))


def _job_for(
    path: str, config: buildconfig.BuildConfig, cache: FactCache | None, problems: list[InputProblem]
) -> FactJob | None:
    try:
        source = read_regular_file(path)  # never blocks: a file swapped for a FIFO is refused
    except OSError as error:
        problems.append(InputProblem(path, f"cannot read file: {error.strerror or error}"))
        return None
    try:
        file_config = config.config_for(os.path.abspath(path), source.decode("utf-8", "replace"))
    except buildconfig.ConfigError as error:
        problems.append(InputProblem(path, str(error)))
        return None
    if cache is None:
        return FactJob(file_config, source)
    return FactJob(file_config, source, FactCache.key(file_config, source), str(cache.root))


def _module_context(
    result: Analysis,
    paths: list[str],
    sources: list[str],
    jobs_by_path: dict[str, FactJob],
    entries: dict[str, CachedFacts],
    config: buildconfig.BuildConfig,
    cache: FactCache | None,
    excludes: tuple[str, ...],
) -> list[str]:
    """The other sources of the modules of the kernel files given by name, configured (their jobs and
    cache entries added) and recorded in `result.context`; a note a module. Their own problems are
    not the user's: they are dropped."""
    named = {os.path.normpath(os.path.abspath(path)) for path in paths if not os.path.isdir(path)}
    given = [
        path
        for path in sources
        if path in named
        and path.endswith(".c")
        and path in jobs_by_path
        and jobs_by_path[path].config.side is Side.KERNEL
    ]
    if not given:
        return []

    def usable(path: str) -> bool:
        job = None if is_excluded(path, excludes) else _job_for(path, config, cache, [])
        if job is None or job.config.side is not Side.KERNEL:
            return False
        jobs_by_path[path] = job
        entry = cache.load(job.cache_key) if cache is not None and job.cache_key else None
        if entry is not None:
            entries[path] = entry
        return True

    context = find_module_context(given, sources, usable, reader=config.kbuild.module_sources)
    result.context = context.files
    result.problems += context.notes
    return context.files


def _report_parse_errors(unit: TranslationUnitFacts, problems: list[InputProblem]) -> None:
    for skipped in unit.skipped:
        problems.append(InputProblem(unit.path, f"partly analysed: {skipped}", fatal=False))
    if unit.errors:
        first = unit.errors[0]
        where = ""
        if first.location is not None:  # an error inside a header names the header
            in_header = first.location.path and first.location.path != unit.path
            where = f"{first.location.path}:" if in_header else ""
            where += f"{first.location.line}:{first.location.column}: "
        message = f"parsed with {len(unit.errors)} error(s), analysed anyway (first: {where}{first.message})"
        problems.append(InputProblem(unit.path, message, fatal=False))
