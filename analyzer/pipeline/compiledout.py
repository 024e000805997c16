"""Notes on code the build compiled out: one a file and controlling macro.

The front end records, in each file's facts, the preprocessor branches the build skipped that hold
pin, uaccess or mmap-export calls (`TranslationUnitFacts.compiled_out`). The rules cannot see those
calls; the user should know, and know which switch turns them on:

    drivers/rapidio/devices/rio_mport_cdev.c: note: `CONFIG_RAPIDIO_DMA_ENGINE` is not set in this kernel
    tree: 3 pin calls not analysed (lines 540, 861, 880; turn it on with -D CONFIG_RAPIDIO_DMA_ENGINE)
"""

from __future__ import annotations

import re

from gupcheck.model.facts import CompiledOut, HeaderMode, TranslationUnitFacts
from gupcheck.model.findings import InputProblem
from gupcheck.output.text import plural

_WHERE = {
    HeaderMode.KERNEL_TREE: "in this kernel tree",
    HeaderMode.KERNEL_MODEL: "in the built-in kernel model",
    HeaderMode.COMPILE_COMMANDS: "by its compile command",
    HeaderMode.SYSTEM: "in this build",
}
_NOUNS = {"pin": "pin", "uaccess": "uaccess", "mmap": "mmap-export"}
# Version tests pick the code of another kernel: their skipped branch has its twin in the one taken.
_VERSION_MACRO = re.compile(r"(^|_)(VERSION|RELEASE)_CODE$")
LINES_NAMED = 3


def compiled_out_notes(unit: TranslationUnitFacts) -> list[InputProblem]:
    """One note for each macro whose setting left calls of `unit` out of the analysis."""
    groups: dict[tuple[str, bool | None, str], list[CompiledOut]] = {}
    for branch in unit.compiled_out:
        if _VERSION_MACRO.search(branch.macro):
            continue
        test = "" if branch.is_set is not None else branch.directive  # a longer test is named whole
        groups.setdefault((branch.macro, branch.is_set, test), []).append(branch)
    return [
        InputProblem(unit.path, _message(macro, is_set, branches, _WHERE[unit.mode]), fatal=False, note=True)
        for (macro, is_set, _test), branches in groups.items()
    ]


def _message(macro: str, is_set: bool | None, branches: list[CompiledOut], where: str) -> str:
    calls = [call for branch in branches for call in branch.calls]
    counts: dict[str, int] = {}
    for call in calls:
        counts[call.family] = counts.get(call.family, 0) + 1
    parts = [plural(count, f"{_NOUNS[family]} call") for family, count in counts.items()]
    what = " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)
    lines = sorted({call.line for call in calls})
    shown = ", ".join(str(line) for line in lines[:LINES_NAMED]) + (
        ", ..." if len(lines) > LINES_NAMED else ""
    )
    at = f"line{'s' if len(lines) > 1 else ''} {shown}"
    if is_set is False:
        return f"`{macro}` is not set {where}: {what} not analysed ({at}; turn it on with -D {macro})"
    if is_set is True:  # a kernel configuration's option cannot be unset: it comes with its autoconf.h
        advice = f"; turn it off with -U {macro}" if not macro.startswith("CONFIG_") else ""
        return f"`{macro}` is set {where}: {what} not analysed ({at}{advice})"
    branch = branches[0]
    state = "holds" if branch.taken else "is false"
    return (
        f"`{branch.directive}` {state} {where}: {what} in {'its other branch' if branch.taken else 'it'} "
        f"not analysed ({at}; "
        f"its macros, such as {macro}, can be set with -D or unset with -U)"
    )
