"""GUP004: an access to a shared buffer that holds none of the locks the other accesses to it hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from gupcheck.analyses.sharedmem import Access, SharedBuffer, SharedMemory
from gupcheck.model.findings import Finding, Level, RelatedLocation
from gupcheck.rules.unlocked_shared_mapping.report import RULE_ID, describe, exported


@dataclass(eq=False)
class UnlockedAccess:
    access: Access
    buffer: SharedBuffer
    lock: str  # spelled as the others take it: "dev->lock"
    lock_kind: str
    locked_example: Access  # an access that holds it


def findings(shared: SharedMemory) -> Iterator[Finding]:
    for found in unlocked_accesses(shared):
        yield _finding(found)


def unlocked_accesses(shared: SharedMemory) -> list[UnlockedAccess]:
    found = []
    by_buffer: dict[tuple[str, str], list[tuple[Access, frozenset]]] = {}
    for fn in shared.kernel:
        for access in shared.accesses(fn):
            if access.marked or shared.before_sharing(fn, access.place):
                continue
            held = shared.locks.held(fn, access.node.id)
            by_buffer.setdefault((fn.file, access.place.key), []).append((access, held))
    for key, accesses in by_buffer.items():
        buffer = shared.buffers[key]
        counts = Counter(lock for _access, held in accesses for lock in held)
        if not counts:
            continue
        lock = max(sorted(counts), key=lambda name: counts[name])
        example = next(access for access, held in accesses if lock in held)
        spelled, kind = shared.lock_spelling(lock)
        locked_write = any(access.write for access, held in accesses if held)
        for access, held in accesses:
            # two reads do not race: an unlocked read matters only against a locked write
            if not held & counts.keys() and (access.write or locked_write):
                found.append(UnlockedAccess(access, buffer, spelled, kind, example))
    return found


def _finding(found: UnlockedAccess) -> Finding:
    access, buffer = found.access, found.buffer
    locked = found.locked_example
    return Finding(
        rule_id=RULE_ID,
        level=Level.WARNING,
        message=(
            f"{describe(access)} '{buffer.spelling}', shared with user space through mmap, without "
            f"holding '{found.lock}' (a {found.lock_kind}), which the other accesses to it hold"
        ),
        location=access.location,
        function=access.function.name,
        snippet_key=f"{access.how}:{access.text}",
        related=[
            *exported(buffer),
            RelatedLocation(
                locked.location, f"accessed with '{found.lock}' held in {locked.function.name}()"
            ),
        ],
        hint=f"take '{found.lock}' around this access, as the other accesses to '{buffer.spelling}' do",
    )
