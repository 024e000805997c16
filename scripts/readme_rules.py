"""Keep the README's rule documentation in step with the rules' own documentation (their RuleDoc).

Two kinds of regions of README.md are generated, each between a begin and an end marker:

- the rule table of the "## Rules" section (id, name, default level, summary);
- one block a rule: its "### GUPnnn name" heading, its `what_it_does` text and its example
  ("Bad:") and fix ("Good:") as C code blocks.

Everything outside the markers is written by hand and left alone. A rule that has no block yet (a
new rule) gets one appended at the end of the "## Rules" section.

    python scripts/readme_rules.py            rewrite README.md in place
    python scripts/readme_rules.py --check    exit 1 naming the first region that differs, else 0
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gupcheck.model.rule import RuleDoc

README = Path(__file__).resolve().parent.parent / "README.md"
SCRIPT = "scripts/readme_rules.py"
TABLE = "rules table"
BEGIN_PREFIX = "<!-- begin generated: "
BEGIN_SUFFIX = f" ({SCRIPT}) -->"
END = "<!-- end generated -->"
RULES_HEADING = "## Rules"


class ReadmeError(Exception):
    """README.md cannot be read as regions: markers unmatched, repeated or malformed."""


@dataclass(frozen=True)
class Region:
    key: str  # TABLE or a rule id
    start: int  # offset of the begin marker's line
    end: int  # offset just past the end marker's line
    body: str  # the lines between the two markers


def begin_marker(key: str) -> str:
    return f"{BEGIN_PREFIX}{key}{BEGIN_SUFFIX}"


# ---- what the regions should hold ---------------------------------------------------------------


def load_docs() -> list[RuleDoc]:
    from gupcheck.rules import ALL_RULES

    return [rule.doc for rule in ALL_RULES]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_table(docs: Iterable[RuleDoc]) -> str:
    lines = ["| id | name | default level | summary |", "|---|---|---|---|"]
    for doc in docs:
        lines.append(f"| {doc.id} | {doc.name} | {doc.level.value} | {_cell(doc.summary)} |")
    return "\n".join(lines) + "\n"


def _code(code: str) -> str:
    body = code.strip("\n").rstrip()
    return f"```c\n{body}\n```"


def render_rule(doc: RuleDoc) -> str:
    parts = [
        f"### {doc.id} {doc.name}",
        doc.what_it_does.strip(),
        "Bad:",
        _code(doc.example),
        "Good:",
        _code(doc.use_instead),
    ]
    return "\n\n".join(parts) + "\n"


def expected_bodies(docs: Sequence[RuleDoc]) -> dict[str, str]:
    """Region key -> what the region should hold, the table first, then the rules in registry order."""
    bodies = {TABLE: render_table(docs)}
    for doc in docs:
        bodies[doc.id] = render_rule(doc)
    return bodies


# ---- reading the README -------------------------------------------------------------------------


def parse_regions(text: str) -> dict[str, Region]:
    regions: dict[str, Region] = {}
    open_key: str | None = None
    open_start = body_start = 0
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.rstrip("\n")
        if stripped.startswith("<!-- begin generated"):
            if not (stripped.startswith(BEGIN_PREFIX) and stripped.endswith(BEGIN_SUFFIX)):
                raise ReadmeError(f"line {number}: malformed begin marker {stripped!r}")
            if open_key is not None:
                raise ReadmeError(f"line {number}: begin marker inside the generated {open_key} block")
            open_key = stripped[len(BEGIN_PREFIX) : -len(BEGIN_SUFFIX)]
            if open_key in regions:
                raise ReadmeError(f"line {number}: a second generated {open_key} block")
            open_start, body_start = offset, offset + len(line)
        elif stripped.startswith("<!-- end generated"):
            if stripped != END:
                raise ReadmeError(f"line {number}: malformed end marker {stripped!r}")
            if open_key is None:
                raise ReadmeError(f"line {number}: end marker without a begin marker")
            regions[open_key] = Region(open_key, open_start, offset + len(line), text[body_start:offset])
            open_key = None
        offset += len(line)
    if open_key is not None:
        raise ReadmeError(f"the generated {open_key} block has no end marker")
    return regions


def _region_text(key: str, body: str) -> str:
    return f"{begin_marker(key)}\n{body}{END}\n"


def _rules_section_end(text: str) -> int:
    """Offset of the heading that follows "## Rules" (the end of the text if none does)."""
    lines = text.splitlines(keepends=True)
    offset = 0
    in_rules = in_fence = False
    for line in lines:
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith("## "):
            if in_rules:
                return offset
            in_rules = line.rstrip("\n") == RULES_HEADING
        offset += len(line)
    if not in_rules:
        raise ReadmeError(f"no {RULES_HEADING!r} section")
    return len(text)


# ---- comparing and rewriting --------------------------------------------------------------------


def first_difference(text: str, docs: Sequence[RuleDoc]) -> str | None:
    """A one-line description of the first region of `text` that is not what the docs give, or None."""
    try:
        regions = parse_regions(text)
    except ReadmeError as error:
        return str(error)
    known = {doc.id for doc in docs}
    for key, body in expected_bodies(docs).items():
        what = "the rules table" if key == TABLE else f"the generated block of {key}"
        if key not in regions:
            return f"{what} is missing"
        if regions[key].body != body:
            first = _first_differing_line(regions[key].body, body)
            return f"{what} differs from the rule documentation ({first})"
    for key in regions:
        if key != TABLE and key not in known:
            return f"a generated block for {key}, which is not in the rule registry"
    return None


def _first_differing_line(actual: str, wanted: str) -> str:
    pairs = itertools.zip_longest(actual.splitlines(), wanted.splitlines())
    for index, (have, want) in enumerate(pairs, start=1):
        if have != want:
            return f"line {index} of it is {_show(have)}, expected {_show(want)}"
    return "it differs in its line ends"


def _show(line: str | None) -> str:
    if line is None:
        return "missing"
    line = line.strip()
    return repr(line if len(line) <= 70 else line[:67] + "...")


def update(text: str, docs: Sequence[RuleDoc]) -> str:
    """`text` with every generated region rewritten and the blocks of rules that have none (new rules)
    appended to the Rules section."""
    regions = parse_regions(text)
    known = {doc.id for doc in docs}
    stale = [key for key in regions if key != TABLE and key not in known]
    if stale:
        raise ReadmeError(
            f"a generated block for {stale[0]}, which is not in the rule registry: remove its section by hand"
        )
    if TABLE not in regions:
        raise ReadmeError(f"no generated {TABLE}: put its two markers where the table belongs")
    bodies = expected_bodies(docs)
    pieces: list[str] = []
    position = 0
    for region in sorted(regions.values(), key=lambda r: r.start):
        pieces.append(text[position : region.start])
        pieces.append(_region_text(region.key, bodies[region.key]))
        position = region.end
    pieces.append(text[position:])
    result = "".join(pieces)
    new_blocks = "".join(f"\n{_region_text(key, bodies[key])}" for key in bodies if key not in regions)
    if new_blocks:
        at = _rules_section_end(result)
        result = result[:at].rstrip("\n") + "\n" + new_blocks + "\n" + result[at:]
    return result


# ---- the command --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=SCRIPT, description="Generate the README's rule table and rule examples from the rules."
    )
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 when README.md differs")
    parser.add_argument("--readme", type=Path, default=README, help="the README (default: the repo's)")
    args = parser.parse_args(argv)

    text = args.readme.read_text()
    docs = load_docs()
    if args.check:
        difference = first_difference(text, docs)
        if difference is None:
            return 0
        print(f"{args.readme.name}: {difference}; run python {SCRIPT}", file=sys.stderr)
        return 1
    try:
        new_text = update(text, docs)
    except ReadmeError as error:
        print(f"{SCRIPT}: error: {args.readme.name}: {error}", file=sys.stderr)
        return 1
    if new_text != text:
        args.readme.write_text(new_text)
        print(f"updated {args.readme}")
    else:
        print(f"{args.readme} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
