"""GUP004: a buffer every opener of the device maps, freed when one file is released while no
`vm_close` callback tracks its mappings; or freed by a `vm_close` callback when one vma of several
that map it goes away (the driver never learns of the copies a fork or a partial munmap makes)."""

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
    release: Function  # the .release handler (or the vm_close callback) reaching the free
    closing: bool = False  # freed by a vm_close callback


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
    return found + closing_frees(shared)


def closing_frees(shared: SharedMemory) -> list[MappedFree]:
    """A `vm_close` callback that frees a shared buffer while its ops let a vma be duplicated
    without the driver's knowledge: no `.open` that counts (or one that does nothing), no
    `.may_split`. A fork copies the vma (unless VM_DONTCOPY), a partial munmap or mprotect splits
    it (VM_DONTCOPY or not): each copy's close runs, and the first frees the pages the others
    still map."""
    found = []
    for table in {id(t): t for fn in shared.kernel for t in shared.vm_tables(fn.file)}.values():
        close = next((f for f in table.fields if f.field == "close"), None)
        if close is None:
            continue
        closer = shared.program.resolve(close.function, table.location.path)
        if closer is None or not shared.shares(closer.file) or shared.tracks_copies(table, closer.file):
            continue
        freed: set[str] = set()  # once per buffer: the callback's own call, not the helper's inside
        for fn in shared.callees(closer):
            for _node, call in fn.call_sites():
                for arg in shared.freed_arguments(fn, call):
                    place = shared.points_into(fn, arg) if arg.path is None else shared.place(fn, arg.path)
                    if place is not None and not place.suffix and place.key not in freed:
                        freed.add(place.key)
                        found.append(MappedFree(fn, call, shared.buffer(fn, place), closer, closing=True))
    return found


def _finding(found: MappedFree) -> Finding:
    buffer = found.buffer
    arg = next((a.text for a in found.call.args if a.path and buffer.key in a.path), buffer.spelling)
    if found.closing:
        return Finding(
            rule_id=RULE_ID,
            level=Level.WARNING,
            message=(
                f"'{buffer.spelling}' is freed by {found.call.callee}() when one mapping of it is closed "
                f"({found.release.name}()), but its vm_operations_struct lets a vma be copied without "
                "the driver knowing (no counting .open, no .may_split): after a partial munmap or "
                "mprotect splits it, or a fork copies it, another vma still maps the freed pages"
            ),
            location=found.call.location,
            function=found.function.name,
            snippet_key=f"vm-close:{found.call.callee}({arg})",
            related=exported(buffer),
            hint="count the vmas in .open and .close and free on the last close, or refuse splits "
            "(.may_split) and set VM_DONTCOPY so there is only ever one vma",
        )
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
