"""Start a new rule: its module with TODO documentation, a first testdata case, its registry line.

    python scripts/new_rule.py pin-in-atomic-context [--id GUP006] [--level error|warning|note]
                               [--root DIR]

writes rules/pin_in_atomic_context.py, testdata/gup006/first-case/{Kbuild,first_case.c} and adds
`LazyRule("GUP006", "pin-in-atomic-context", ...)` at the end of ALL_RULES in rules/__init__.py.
The id defaults to the one after the highest in the registry. Nothing is ever overwritten: an id,
a name or a module that exists already is refused (exit status 2) before anything is written.
The registry is read as text, so the script works on any copy of the repository (--root).
"""

from __future__ import annotations

import argparse
import ast
import keyword
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROG = "new_rule.py"
NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
RULE_ID = re.compile(r"GUP(\d{3})")
LINE_LENGTH = 110
LEVELS = {"error": "ERROR", "warning": "WARNING", "note": "NOTE"}


class Refused(Exception):
    """The rule cannot be created as asked; the message is one line."""


@dataclass(frozen=True)
class Entry:
    id: str
    name: str
    module: str  # the last part of the module path: the file or package under rules/
    node: ast.Call


def registry_entries(source: str) -> list[Entry]:
    """The LazyRule(...) entries of ALL_RULES in the text of rules/__init__.py, in order."""
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == "ALL_RULES":
            if not isinstance(value, ast.Tuple):
                raise Refused("ALL_RULES in rules/__init__.py is not a tuple")
            return [_entry(element) for element in value.elts]
    raise Refused("rules/__init__.py has no ALL_RULES")


def _entry(node: ast.expr) -> Entry:
    if not (isinstance(node, ast.Call) and len(node.args) == 3):
        raise Refused(f"rules/__init__.py:{node.lineno}: not a LazyRule(id, name, module) entry")
    rule_id, name, module = node.args
    if not (isinstance(rule_id, ast.Constant) and isinstance(name, ast.Constant)):
        raise Refused(f"rules/__init__.py:{node.lineno}: the rule's id and name must be plain strings")
    if isinstance(module, ast.JoinedStr) and isinstance(module.values[-1], ast.Constant):
        path = str(module.values[-1].value)
    elif isinstance(module, ast.Constant):
        path = str(module.value)
    else:
        raise Refused(f"rules/__init__.py:{node.lineno}: cannot read the rule's module path")
    return Entry(str(rule_id.value), str(name.value), path.rsplit(".", 1)[-1], node)


def next_free_id(entries: Sequence[Entry]) -> str:
    numbers = [int(m.group(1)) for e in entries if (m := RULE_ID.fullmatch(e.id))]
    number = max(numbers, default=0) + 1
    if number > 999:
        raise Refused("no free rule id after GUP999: give one with --id")
    return f"GUP{number:03d}"


def registry_line(indent: str, rule_id: str, name: str, module: str) -> str:
    arguments = [f'"{rule_id}"', f'"{name}"', f'f"{{__name__}}.{module}"']
    line = f"{indent}LazyRule({', '.join(arguments)}),"
    if len(line) <= LINE_LENGTH:
        return line + "\n"
    inner = "".join(f"{indent}    {argument},\n" for argument in arguments)
    return f"{indent}LazyRule(\n{inner}{indent}),\n"


def add_to_registry(source: str, entries: Sequence[Entry], rule_id: str, name: str, module: str) -> str:
    """`source` with the new rule's line after the last entry of ALL_RULES."""
    if not entries:
        raise Refused("ALL_RULES in rules/__init__.py is empty: add the first rule by hand")
    last = entries[-1].node
    assert last.end_lineno is not None and last.end_col_offset is not None
    lines = source.splitlines(keepends=True)
    end = lines[last.end_lineno - 1]
    rest = end[last.end_col_offset :]
    after = re.fullmatch(r"\s*(,?)\s*(#.*)?\n?", rest)
    if after is None:
        raise Refused(f"rules/__init__.py:{last.end_lineno}: put the last entry on lines of its own")
    if not after.group(1):  # the last entry had no trailing comma
        lines[last.end_lineno - 1] = end[: last.end_col_offset] + "," + rest
    indent = lines[last.lineno - 1][: last.col_offset]
    lines.insert(last.end_lineno, registry_line(indent, rule_id, name, module))
    updated = "".join(lines)
    ast.parse(updated)  # never write a registry that does not parse
    return updated


# ---- what is written ----------------------------------------------------------------------------


def rule_module(rule_id: str, name: str, level: str) -> str:
    return f'''"""{rule_id} {name}.

TODO: what the rule looks for, in a sentence or two, and which analyses of `Analyses` it uses.
"""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.model.findings import Finding, Level
from gupcheck.model.rule import Rule, RuleDoc

DOC = RuleDoc(
    id="{rule_id}",
    name="{name}",
    level=Level.{LEVELS[level]},
    cwe=(),  # TODO: the weaknesses, like ("CWE-416",)
    summary="TODO: one line for the README's rule table and the SARIF short description",
    what_it_does="""
TODO (what it does): what the rule flags and how it finds it, and what it leaves alone.
""",
    why_bad="""
TODO (why is this bad): what goes wrong when the code runs, for the kernel and for user space.
""",
    example="""
/* TODO (example): the smallest C code with the bug. */
""",
    use_instead="""
/* TODO (use instead): the same code, fixed. */
""",
    references=(),  # TODO (references): links to the kernel documentation or man pages
)


def check(context: Analyses) -> Iterator[Finding]:
    """TODO: find the bug and yield one Finding per occurrence; this skeleton finds nothing.

    Ask `context` for what the analyses know (`context.program` for the functions and the call
    graph, `context.pins`, `context.cross_layer`, `context.shared_memory`, `context.user_data`,
    `context.uaccess`); each is computed on first use. Give each Finding `rule_id=DOC.id`, a level,
    a message, the location of the line that has the bug and the function it is in, and a hint
    that says how to fix it (rules/stack_buffer_pinned.py is a complete small rule). Make the
    `/* expect: ... */` lines of testdata/{rule_id.lower()}/ pass, then run
    `python scripts/readme_rules.py` to give the rule its README section.
    """
    yield from ()


RULE = Rule(DOC, check)
'''


def case_source(rule_id: str) -> str:
    return f"""/*
 * README: {rule_id} case "first-case". TODO: say in two or three sentences what this
 * driver does, which line has the bug, and what the look-alikes next to it do differently.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>

// TODO: write the driver here, then delete this comment. Put the bug on a line of its own
// and end that line with
//	/* expect: GUPnnn */
// with {rule_id} for GUPnnn. Next to it put a look-alike: the same code done right, or the
// near miss the rule must leave alone, with no such comment; every line without one must stay
// clean (tests/test_testdata.py). The case also needs repro/ (repro/repro.toml and a program)
// that shows the bug in QEMU: see "Validating findings in QEMU" in README.md.

static int __init first_case_init(void)
{{
	return 0;
}}

static void __exit first_case_exit(void)
{{
}}

module_init(first_case_init);
module_exit(first_case_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gupcheck testdata: {rule_id} first-case");
"""


# ---- the command --------------------------------------------------------------------------------


def create(root: Path, name: str, rule_id: str | None, level: str) -> list[str]:
    """Create the rule's files and registry line under `root`; what was done, one line each."""
    if not NAME.fullmatch(name):
        raise Refused(f"rule name {name!r}: use lower-case words joined by '-', like pin-in-atomic-context")
    module = name.replace("-", "_")
    if keyword.iskeyword(module):
        raise Refused(f"rule name {name!r}: {module!r} is a Python keyword, not a module name")
    registry = root / "rules" / "__init__.py"
    if not registry.is_file():
        raise Refused(f"{registry}: no rule registry there (see --root)")
    source = registry.read_text()
    try:
        entries = registry_entries(source)
    except SyntaxError as error:
        raise Refused(f"{registry}:{error.lineno}: does not parse: {error.msg}") from None

    if rule_id is None:
        rule_id = next_free_id(entries)
    rule_id = rule_id.upper()
    if not RULE_ID.fullmatch(rule_id):
        raise Refused(f"rule id {rule_id!r}: use GUP and three digits, like GUP006")
    for entry in entries:
        if entry.id == rule_id:
            raise Refused(f"{rule_id} exists already: it is {entry.name} in {registry}")
        if entry.name == name:
            raise Refused(f"a rule named {name} exists already: {entry.id} in {registry}")
        if entry.module == module:
            raise Refused(f"the registry already has a rule in module {module}: {entry.id} {entry.name}")
    rule_file = root / "rules" / f"{module}.py"
    case = root / "testdata" / rule_id.lower() / "first-case"
    for existing in (rule_file, root / "rules" / module, case):
        if existing.exists():
            raise Refused(f"{existing} exists already; nothing was written")
    updated = add_to_registry(source, entries, rule_id, name, module)

    case.mkdir(parents=True)
    written = []
    for path, text in (
        (rule_file, rule_module(rule_id, name, level)),
        (case / "Kbuild", "obj-m += first_case.o\n"),
        (case / "first_case.c", case_source(rule_id)),
    ):
        with path.open("x") as file:
            file.write(text)
        written.append(f"created {_shown(path, root)}")
    registry.write_text(updated)
    written.append(f"added {rule_id} {name} at the end of ALL_RULES in {_shown(registry, root)}")
    return written


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Start a new gupcheck rule.")
    parser.add_argument("name", help="the rule's name, like pin-in-atomic-context")
    parser.add_argument("--id", dest="rule_id", help="GUPnnn (default: the next free id)")
    parser.add_argument("--level", choices=sorted(LEVELS), default="error", help="default level (error)")
    parser.add_argument(
        "--root", type=Path, default=REPO, help="the repository to write into (default: this one)"
    )
    args = parser.parse_args(argv)
    try:
        done = create(args.root, args.name, args.rule_id, args.level)
    except Refused as refusal:
        print(f"{PROG}: error: {refusal}", file=sys.stderr)
        return 2
    for line in done:
        print(line)
    print(
        "next: fill in the TODOs of the rule and of the case, add the case's repro/, "
        "then run python scripts/readme_rules.py"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
