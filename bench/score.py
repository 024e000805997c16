#!/usr/bin/env python3
"""Recall and precision of one gupcheck rule against a hand-made triage record (run by hand).

    .venv/bin/python bench/score.py [--rule GUP001] [--record FILE] [--sources REPO=DIR ...]
                                    [--only REPO ...] [-j N] [--kernel-dir DIR] [--gupcheck EXE] [--keep DIR]

The record (`bench/corpus/<rule>.toml` unless `--record` names another) lists sites of real code,
each judged by reading it: `repository`, `commit`, `file` (inside the repository), `function`,
optional `line` and `module` (the folder, or the file of a one-file module, that gupcheck analyses;
default the file's folder), `verdict` ("positive": the rule should report it, "negative": the code
is right) and `why`.

For every module folder holding a site, gupcheck runs once, over the whole folder so that helpers in
other files are seen (`gupcheck --format json -q --kernel-dir DIR --source-root REPO FOLDER`). A
finding of the rule hits a site when one of its locations (the primary location, a related location
or a step of its path, but not a step that only names a whole function such as the entry point) lies
inside the site's function in the site's file. Each site is then a true positive (positive and hit),
a false negative (positive, not hit), a false positive (negative and hit) or a true negative; findings
that hit no site are listed so that they can be triaged into the record. Recall is TP / (TP + FN),
precision TP / (TP + FP); findings outside the record are not counted in either.

Where each repository's sources are is configurable: `--sources REPO=DIR` (repeatable) overrides the
defaults below. A missing folder is an error (exit 2) before anything runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path("/tmp/corp")
DEFAULT_SOURCES = {
    "linux-source-6.1": ROOT / ".cache" / "linux-source-6.1-drivers",
    "Xilinx/dma_ip_drivers": Path("/tmp/xil"),
    "hpc/xpmem": CORPUS / "hpc+xpmem",
    "KastnerRG/riffa": CORPUS / "KastnerRG+riffa",
    "enfiskutensykkel/ssd-gpu-dma": CORPUS / "enfiskutensykkel+ssd-gpu-dma",
    "aws-neuron/aws-neuron-driver": CORPUS / "aws-neuron+aws-neuron-driver",
    "bperez77/xilinx_axidma": CORPUS / "bperez77+xilinx_axidma",
    "ikwzm/udmabuf": CORPUS / "ikwzm+udmabuf",
    "intel/linux-sgx-driver": CORPUS / "intel+linux-sgx-driver",
    "zrlio/softiwarp": CORPUS / "zrlio+softiwarp",
}
VERDICTS = ("positive", "negative")
REQUIRED = ("repository", "commit", "file", "function", "verdict", "why")


# --- the record ------------------------------------------------------------------------------------


@dataclass
class Site:
    repository: str
    commit: str
    file: str
    function: str
    verdict: str
    why: str
    line: int | None = None
    module: str = ""
    hits: list[dict] = field(default_factory=list)  # findings that hit it
    analysed: bool = True  # False when its file was not analysed
    parse_error: bool = False  # its file parsed with errors (analysed anyway)

    @property
    def folder(self) -> str:
        return self.module or os.path.dirname(self.file)

    def label(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        note = " (file parsed with errors)" if self.parse_error else ""
        return f"{self.repository} {where} {self.function}(){note}"


def load_record(path: Path, rule: str) -> list[Site]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        sys.exit(f"score: cannot read the record {path}: {error}")
    if data.get("rule", rule) != rule:
        sys.exit(f"score: {path} is a record for {data['rule']}, not {rule}")
    sites, problems = [], []
    for number, entry in enumerate(data.get("site", []), 1):
        missing = [key for key in REQUIRED if not entry.get(key)]
        if missing:
            problems.append(f"site {number}: missing {', '.join(missing)}")
            continue
        if entry["verdict"] not in VERDICTS:
            problems.append(f"site {number}: verdict must be one of {VERDICTS}, not {entry['verdict']!r}")
            continue
        known = set(REQUIRED) | {"line", "module"}
        unknown = sorted(set(entry) - known)
        if unknown:
            problems.append(f"site {number}: unknown keys {', '.join(unknown)}")
            continue
        sites.append(Site(**entry))
    seen: set[tuple[str, str, str]] = set()
    for site in sites:
        key = (site.repository, site.file, site.function)
        if key in seen:
            problems.append(f"{site.label()}: recorded twice")
        seen.add(key)
    if problems:
        sys.exit(f"score: {path}: " + "; ".join(problems))
    return sites


# --- where functions are in a C file ---------------------------------------------------------------


@dataclass(frozen=True)
class Extent:
    name: str
    start: int  # first line of the definition (return type)
    body: int  # line of the opening brace
    end: int  # line of the closing brace

    def holds(self, line: int) -> bool:
        return self.start <= line <= self.end

    def is_whole(self, line: int, end_line: int) -> bool:
        """A location that spans the whole definition (how an entry point is named)."""
        return line <= self.body and end_line >= self.end


LITERALS = re.compile(r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S)
CONDITIONAL = re.compile(r"\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b")
NOT_A_NAME = {"__attribute__", "__acquires", "__releases", "__must_hold", "__printf", "__aligned"}
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "else"}


def _blank(match: re.Match[str]) -> str:
    return re.sub(r"[^\n]", " ", match.group(0))


def _first_branches(text: str) -> str:
    """Blank preprocessor lines, and every branch of an #if but the first (as ctags reads C)."""
    out: list[str] = []
    skipping: list[bool] = []  # per open #if: are we in a later branch?
    continued = False
    for line in text.split("\n"):
        directive = CONDITIONAL.match(line)
        is_directive = continued or line.lstrip().startswith("#")
        continued = is_directive and line.rstrip().endswith("\\")
        if directive and not continued:
            kind = directive.group(1)
            if kind.startswith("if"):
                skipping.append(False)
            elif kind in ("elif", "else") and skipping:
                skipping[-1] = True
            elif kind == "endif" and skipping:
                skipping.pop()
        if is_directive or any(skipping):
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


def function_extents(text: str) -> list[Extent]:
    text = _first_branches(LITERALS.sub(_blank, text))
    line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line_of(offset: int) -> int:
        low, high = 0, len(line_starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if line_starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return low + 1

    extents: list[Extent] = []
    depth, open_at, boundary = 0, -1, 0
    for index, char in enumerate(text):
        if char == "{":
            if depth == 0:
                open_at = index
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
            if depth == 0 and open_at >= 0:
                header = _header(text, boundary, open_at)
                if header is not None:
                    name, start = header
                    extents.append(Extent(name, line_of(start), line_of(open_at), line_of(index)))
                open_at, boundary = -1, index + 1
        elif char == ";" and depth == 0:
            boundary = index + 1
    return extents


def _header(text: str, boundary: int, brace: int) -> tuple[str, int] | None:
    """The function name of a definition whose body opens at `brace`, and where it starts."""
    position = brace - 1
    while True:
        while position >= boundary and text[position].isspace():
            position -= 1
        if position < boundary or text[position] != ")":
            return None
        depth = 0
        while position >= boundary:
            if text[position] == ")":
                depth += 1
            elif text[position] == "(":
                depth -= 1
                if depth == 0:
                    break
            position -= 1
        if position < boundary:
            return None
        name_end = position
        while name_end > boundary and text[name_end - 1].isspace():
            name_end -= 1
        match = re.search(r"[A-Za-z_]\w*$", text[boundary:name_end])
        if match is None:
            return None
        name = match.group(0)
        if name in NOT_A_NAME:  # an attribute after the parameter list: look further back
            position = boundary + match.start() - 1
            continue
        if name in KEYWORDS:
            return None
        start = boundary
        while start < brace and text[start].isspace():
            start += 1
        return name, start


class Sources:
    """Function extents of files, read once."""

    def __init__(self) -> None:
        self._cache: dict[Path, list[Extent]] = {}

    def extents(self, path: Path) -> list[Extent]:
        if path not in self._cache:
            try:
                self._cache[path] = function_extents(path.read_text(errors="replace"))
            except OSError:
                self._cache[path] = []
        return self._cache[path]

    def function(self, path: Path, name: str) -> list[Extent]:
        return [extent for extent in self.extents(path) if extent.name == name]

    def enclosing(self, path: Path, line: int) -> Extent | None:
        inside = [extent for extent in self.extents(path) if extent.holds(line)]
        return min(inside, key=lambda extent: extent.end - extent.start) if inside else None


# --- running gupcheck ------------------------------------------------------------------------------


@dataclass
class Run:
    repository: str
    folder: str
    files: int = 0
    status: int = 0
    seconds: float = 0.0
    analysed: int = 0
    findings: list[dict] = field(default_factory=list)  # of the rule
    parse_errors: list[str] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)


def gupcheck_command(options: argparse.Namespace) -> list[str]:
    if options.gupcheck:
        return [options.gupcheck]
    installed = ROOT / ".venv" / "bin" / "gupcheck"
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "gupcheck"]


def gupcheck_revision() -> str:
    """The commit gupcheck runs from, marked dirty when its tree has uncommitted changes."""
    done = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip() or "unknown"


def kernel_tree() -> str | None:
    trees = sorted(Path("/usr/src").glob("linux-headers-*-amd64"))
    return str(trees[-1]) if trees else None


def run_folder(repository: str, source: Path, folder: str, rule: str, options: argparse.Namespace,
               work: Path) -> Run:  # fmt: skip
    run = Run(repository, folder)
    target = source / folder
    run.files = 1 if target.is_file() else sum(1 for _ in target.rglob("*.c"))
    report = work / (re.sub(r"[^\w.-]+", "_", f"{repository}_{folder}") + ".json")
    argv = [*gupcheck_command(options), "--format", "json", "-q", "-o", str(report),
            "--source-root", str(source), "-j", str(options.jobs)]  # fmt: skip
    if options.kernel_dir:
        argv += ["--kernel-dir", options.kernel_dir]
    if options.cache_dir:
        argv += ["--cache-dir", str(options.cache_dir)]
    argv.append(str(target))
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=source)
    run.seconds = time.perf_counter() - started
    run.status = done.returncode
    try:
        data = json.loads(report.read_text())
    except (OSError, ValueError):
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        run.fatal.append(f"{folder}: no report (exit {done.returncode}): " + (lines[-1] if lines else ""))
        return run
    run.analysed = data.get("filesAnalysed", 0)
    run.findings = [finding for finding in data.get("findings", []) if finding.get("ruleId") == rule]
    for problem in data.get("problems", []):
        text = f"{problem.get('path', '?')}: {problem.get('message', '')}"
        (run.fatal if problem.get("fatal") else run.parse_errors).append(text)
    return run


# --- matching --------------------------------------------------------------------------------------


def locations(finding: dict) -> list[tuple[str, int, int]]:
    """(path, line, end line) of the primary location, the related locations and the path steps."""
    found = [(finding["path"], finding["line"], finding.get("endLine", finding["line"]))]
    for item in [*finding.get("related", []), *finding.get("flow", [])]:
        if item.get("path") and item.get("line"):
            found.append((item["path"], item["line"], item.get("endLine", item["line"])))
    return found


def hits(finding: dict, site: Site, source: Path, sources: Sources) -> bool:
    extents = sources.function(source / site.file, site.function)
    for path, line, end_line in locations(finding):
        if os.path.normpath(path) != os.path.normpath(site.file):
            continue
        for extent in extents:
            if extent.holds(line) and not extent.is_whole(line, end_line):
                return True
    return False


def describe(finding: dict, source: Path, sources: Sources) -> str:
    extent = sources.enclosing(source / finding["path"], finding["line"])
    where = finding.get("function") or (extent.name if extent else "?")
    message = finding.get("message", "")
    if len(message) > 150:
        message = message[:147] + "..."
    return f"{finding['path']}:{finding['line']} {where}(): [{finding.get('level', '?')}] {message}"


# --- report ----------------------------------------------------------------------------------------


def ratio(numerator: int, denominator: int) -> str:
    return f"{numerator}/{denominator} = {numerator / denominator:.2f}" if denominator else "n/a (0/0)"


def print_sites(title: str, sites: list[Site], show_hits: bool, source_of: dict[str, Path],
                sources: Sources) -> None:  # fmt: skip
    print(f"\n{title} ({len(sites)}):")
    for site in sites:
        print(f"  {site.label()} — {site.why}")
        if show_hits:
            for finding in site.hits[:3]:
                print(f"      reported: {describe(finding, source_of[site.repository], sources)}")


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rule", default="GUP001", help="rule id (default GUP001)")
    parser.add_argument("--record", type=Path, help="triage record (default bench/corpus/<rule>.toml)")
    parser.add_argument("--sources", action="append", default=[], metavar="REPO=DIR",
                        help="where a repository's sources are (repeatable)")  # fmt: skip
    parser.add_argument("--only", action="append", default=[], metavar="REPO",
                        help="score only these repositories (repeatable)")  # fmt: skip
    parser.add_argument("-j", "--jobs", type=int, default=1, help="gupcheck parser processes (default 1)")
    parser.add_argument("--kernel-dir", default=None, help="kernel build tree (default the newest "
                        "/usr/src/linux-headers-*-amd64)")  # fmt: skip
    parser.add_argument("--cache-dir", type=Path, help="gupcheck's fact cache (default its own)")
    parser.add_argument("--gupcheck", help="the gupcheck executable (default .venv/bin/gupcheck)")
    parser.add_argument("--keep", type=Path, help="keep the JSON reports in this folder")
    options = parser.parse_args()
    options.rule = options.rule.upper()
    options.record = options.record or ROOT / "bench" / "corpus" / f"{options.rule.lower()}.toml"
    options.kernel_dir = options.kernel_dir or kernel_tree()
    return options


def source_folders(options: argparse.Namespace, sites: list[Site]) -> dict[str, Path]:
    """Each repository's local folder; one error line for each that is unknown or missing (exit 2)."""
    source_of = dict(DEFAULT_SOURCES)
    for item in options.sources:
        repository, sep, folder = item.partition("=")
        if not sep or not repository or not folder:
            sys.exit(f"score: --sources takes REPO=DIR, not {item!r}")
        source_of[repository] = Path(folder).expanduser().resolve()
    missing = False
    for repository in sorted({site.repository for site in sites}):
        if repository not in source_of:
            print(f"score: error: no source folder known for {repository} (pass --sources "
                  f"{repository}=DIR)", file=sys.stderr)  # fmt: skip
            missing = True
        elif not source_of[repository].is_dir():
            print(f"score: error: source folder of {repository} is missing: {source_of[repository]} "
                  f"(extract it there or pass --sources {repository}=DIR)", file=sys.stderr)  # fmt: skip
            missing = True
    if missing:
        sys.exit(2)
    return source_of


def run_all(sites: list[Site], source_of: dict[str, Path], sources: Sources, options: argparse.Namespace,
            work: Path) -> tuple[list[Run], list[tuple[str, dict]]]:  # fmt: skip
    """One gupcheck run per module folder; records the hits on the sites, returns the other findings."""
    folders: dict[tuple[str, str], list[Site]] = defaultdict(list)
    for site in sites:
        folders[(site.repository, site.folder)].append(site)
    runs: list[Run] = []
    unrecorded: list[tuple[str, dict]] = []
    print(f"\n{'repository':30} {'folder':44} files  exit  wall s  {options.rule:>6}  parse err")
    for (repository, folder), here in sorted(folders.items()):
        source = source_of[repository]
        run = run_folder(repository, source, folder, options.rule, options, work)
        runs.append(run)
        shown = (folder or ".")[-44:]
        print(f"{repository[:30]:30} {shown:44} {run.files:5} {run.status:5} {run.seconds:7.1f} "
              f"{len(run.findings):7} {len(run.parse_errors):10}", flush=True)  # fmt: skip
        failed_files = {os.path.normpath(problem.split(":", 1)[0]) for problem in run.fatal}
        broken_files = {os.path.normpath(problem.split(":", 1)[0]) for problem in run.parse_errors}
        for site in here:
            name = os.path.normpath(site.file)
            site.analysed = not run.fatal or (run.analysed > 0 and name not in failed_files)
            site.parse_error = name in broken_files
        for finding in run.findings:
            matched = [site for site in here if hits(finding, site, source, sources)]
            for site in matched:
                site.hits.append(finding)
            if not matched:
                unrecorded.append((repository, finding))
    return runs, unrecorded


def report(rule: str, sites: list[Site], runs: list[Run], unrecorded: list[tuple[str, dict]],
           source_of: dict[str, Path], sources: Sources) -> None:  # fmt: skip
    scored = [site for site in sites if site.analysed]
    true_pos = [s for s in scored if s.verdict == "positive" and s.hits]
    false_neg = [s for s in scored if s.verdict == "positive" and not s.hits]
    false_pos = [s for s in scored if s.verdict == "negative" and s.hits]
    true_neg = [s for s in scored if s.verdict == "negative" and not s.hits]
    print_sites("true positives", true_pos, True, source_of, sources)
    print_sites("false negatives", false_neg, False, source_of, sources)
    print_sites("false positives (findings on negative sites)", false_pos, True, source_of, sources)
    print(f"\ntrue negatives: {len(true_neg)}")
    print(f"\nfindings on sites not in the record ({len(unrecorded)}):")
    for repository, finding in unrecorded:
        print(f"  {repository} {describe(finding, source_of[repository], sources)}")
    not_scored = [site for site in sites if not site.analysed]
    if not_scored:
        print(f"\nsites not scored, their file was not analysed ({len(not_scored)}):")
        for site in not_scored:
            print(f"  {site.label()}")
    site_files = {(site.repository, os.path.normpath(site.file)) for site in sites}
    fatal = [(run.repository, text) for run in runs for text in run.fatal]
    broken = [(run.repository, text) for run in runs for text in run.parse_errors]
    shown = [(repository, text) for repository, text in broken
             if (repository, os.path.normpath(text.split(":", 1)[0])) in site_files]  # fmt: skip
    if fatal or broken:
        print(f"\nfiles not analysed ({len(fatal)}); files parsed with errors ({len(broken)}), "
              f"those holding sites ({len(shown)}):")  # fmt: skip
        for repository, text in fatal + shown:
            print(f"  {repository} {text[:170]}")

    summary = f"TP {len(true_pos)}, FN {len(false_neg)}, FP {len(false_pos)}, TN {len(true_neg)}"
    print(f"\n{rule}: {len(scored)} sites scored: {summary}; {len(unrecorded)} findings outside the record")
    print(f"{rule}: recall    {ratio(len(true_pos), len(true_pos) + len(false_neg))}")
    print(f"{rule}: precision {ratio(len(true_pos), len(true_pos) + len(false_pos))}")


def main() -> None:
    options = parse_options()
    sites = load_record(options.record, options.rule)
    if options.only:
        sites = [site for site in sites if site.repository in options.only]
    if not sites:
        sys.exit(f"score: no sites to score in {options.record}")
    source_of = source_folders(options, sites)
    sources = Sources()
    for site in sites:
        if not sources.function(source_of[site.repository] / site.file, site.function):
            print(f"score: warning: {site.label()}: function not found in the file", file=sys.stderr)

    positives = sum(site.verdict == "positive" for site in sites)
    print(f"score: {options.rule} against {os.path.relpath(options.record, Path.cwd())}: {len(sites)} "
          f"sites ({positives} positive, {len(sites) - positives} negative) in "
          f"{len({site.repository for site in sites})} repositories")  # fmt: skip
    print(f"score: gupcheck at {gupcheck_revision()}, headers {options.kernel_dir or 'the built-in model'}")
    work = options.keep or Path(tempfile.mkdtemp(prefix="gupcheck-score-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        runs, unrecorded = run_all(sites, source_of, sources, options, work)
    finally:
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(options.rule, sites, runs, unrecorded, source_of, sources)


if __name__ == "__main__":
    main()
