"""GUP004: a buffer every opener of the device maps, freed when one file is released while no
`vm_close` callback tracks its mappings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gupcheck.analyses.sharedmem import SharedBuffer, SharedMemory
from gupcheck.kernel_api.entries import Role
from gupcheck.kernel_api.frees import FREES
from gupcheck.model.facts import CallSite, Function
from gupcheck.model.findings import Finding, Level
from gupcheck.rules.unlocked_shared_mapping.report import RULE_ID, exported


@dataclass(eq=False)
class MappedFree:
    function: Function
    call: CallSite
    buffer: SharedBuffer
    release: Function  # the .release handler reaching the free


def findings(shared: SharedMemory) -> Iterator[Finding]:
    for found in mapped_frees(shared):
        yield _finding(found)


def mapped_frees(shared: SharedMemory) -> list[MappedFree]:
    found = []
    for release in shared.kernel:
        if Role.RELEASE not in shared.program.roles(release) or not shared.shares(release.file):
            continue
        if shared.has_vm_close(release.file):
            continue
        for fn in shared.callees(release):
            for _node, call in fn.call_sites():
                position = FREES.get(call.callee)
                if position is None or position >= len(call.args):
                    continue
                arg = call.args[position]
                place = shared.points_into(fn, arg) if arg.path is None else shared.place(fn, arg.path)
                if place is None or place.suffix:
                    continue
                if shared.per_open(fn, arg.path or "", 0) or shared.counted(fn, release):
                    continue
                found.append(MappedFree(fn, call, shared.buffer(fn, place), release))
    return found


def _finding(found: MappedFree) -> Finding:
    buffer = found.buffer
    arg = next((a.text for a in found.call.args if a.path and buffer.key in a.path), buffer.spelling)
    return Finding(
        rule_id=RULE_ID,
        level=Level.WARNING,
        message=(
            f"'{buffer.spelling}' is freed by {found.call.callee}() when a file is released "
            f"({found.release.name}()), but it is shared with every opener of the device through mmap "
            "and no vm_close callback tracks its mappings: another process may still map it"
        ),
        location=found.call.location,
        function=found.function.name,
        snippet_key=f"{found.call.callee}({arg})",
        related=exported(buffer),
        hint="free it when the last mapping and the last opener are gone (count them, e.g. in "
        "vm_open/vm_close and .open/.release), or give each open file its own buffer",
    )
