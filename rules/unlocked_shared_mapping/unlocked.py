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
    update: tuple[str, ...] = ()  # a marked access: the places its function writes without the lock


def findings(shared: SharedMemory) -> Iterator[Finding]:
    for found in unlocked_accesses(shared):
        yield _finding(found)


def unlocked_accesses(shared: SharedMemory) -> list[UnlockedAccess]:
    """The lock discipline of a buffer is inferred from every access to it, marked ones
    (`WRITE_ONCE`, `smp_load_acquire`, atomics) included. A buffer no access holds a lock for
    follows a lockless protocol: nothing is reported. Otherwise a plain access that holds none of
    the locks is reported (a read only against a locked write), and a marked store (`WRITE_ONCE`,
    `smp_store_release`; atomics stay exempt) only when its function writes two or more places of
    the buffer without the lock while a locked access writes it: each store is one access, the
    update of several fields is not."""
    found = []
    by_buffer: dict[tuple[str, str], list[tuple[Access, frozenset]]] = {}
    for fn in shared.kernel:
        for access in shared.accesses(fn):
            if shared.before_sharing(fn, access.place):
                continue
            held = shared.held(access)
            by_buffer.setdefault((fn.file, access.place.key), []).append((access, held))
    for key, accesses in by_buffer.items():
        buffer = shared.buffers[key]
        varying = shared.varying_locks()
        counts = Counter(lock for _access, held in accesses for lock in held if lock not in varying)
        if not counts:
            continue  # a lockless protocol, or no discipline to compare with
        lock = max(sorted(counts), key=lambda name: counts[name])
        example = next(access for access, held in accesses if lock in held)
        spelled, kind = shared.lock_spelling(lock)
        locked_write = any(access.write for access, held in accesses if held)
        unlocked = [(access, held) for access, held in accesses if not held & counts.keys()]
        # per function, the places written without the lock: two or more make a multi-field update
        written: dict[str, set[str]] = {}
        for access, _held in unlocked:
            if access.write and not access.atomic:  # an atomic counter is updated on its own
                written.setdefault(access.function.key, set()).add(access.place.suffix)
        for access, _held in unlocked:
            if not access.marked:
                # two reads do not race: an unlocked read matters only against a locked write
                if access.write or locked_write:
                    found.append(UnlockedAccess(access, buffer, spelled, kind, example))
                continue
            places = written.get(access.function.key, set())
            if access.write and not access.atomic and locked_write and len(places) > 1:
                update = tuple(sorted(places))
                found.append(UnlockedAccess(access, buffer, spelled, kind, example, update))
    return found


def _finding(found: UnlockedAccess) -> Finding:
    access, buffer = found.access, found.buffer
    locked = found.locked_example
    message = (
        f"{describe(access)} '{buffer.spelling}', shared with user space {buffer.export.via}, without "
        f"holding '{found.lock}' (a {found.lock_kind}), which the other accesses to it hold"
    )
    if found.update:
        message += (
            f"; {access.function.name}() writes {len(found.update)} of its fields this way: each "
            "marked store is one access, the update of them all is not"
        )
    return Finding(
        rule_id=RULE_ID,
        level=Level.WARNING,
        message=message,
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
