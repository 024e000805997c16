"""GUP004 with the userland programs: when the driver offers lock and unlock ioctls around its shared
buffer, a program's reads and writes of its `MAP_SHARED` mapping of the device made outside a
lock...unlock bracket."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gupcheck.analyses.sharedmem import Access, LockCommand, SharedMemory
from gupcheck.analyses.sharedmem.userland import UserMappings
from gupcheck.kernel_api.locks import ACQUIRE, RELEASE
from gupcheck.model.facts import root_of
from gupcheck.model.findings import Finding, Level, RelatedLocation, SourceLocation
from gupcheck.model.program import Program
from gupcheck.rules.unlocked_shared_mapping.report import RULE_ID, describe


@dataclass(eq=False)
class UnbracketedAccess:
    access: Access
    lock_command: LockCommand
    unlock_command: LockCommand
    mapped_at: SourceLocation


def findings(program: Program, shared: SharedMemory) -> Iterator[Finding]:
    for found in unbracketed_accesses(program, shared):
        yield _finding(found)


def unbracketed_accesses(program: Program, shared: SharedMemory) -> list[UnbracketedAccess]:
    commands = shared.lock_commands()
    if not commands:
        return []
    mappings = UserMappings(program, commands)
    found: list[UnbracketedAccess] = []
    mapped = mappings.mappings()
    drivers: dict[str, str | None] = {}
    for fn in mappings.userland:
        names = mapped[fn.key]
        if not names:
            continue
        if fn.file not in drivers:
            drivers[fn.file] = mappings.driver_of(fn.file)
        driver = drivers[fn.file]
        if driver is None:
            continue
        locks = [c for c in commands if c.handler.file == driver and c.action == ACQUIRE]
        unlocks = [c for c in commands if c.handler.file == driver and c.action == RELEASE]
        keys = {f"{driver}:{c.key}" for c in locks}
        for access in mappings.accesses(fn, names):
            if mappings.locks.held(fn, access.node.id) & keys:
                continue
            root = root_of(access.place.key)
            found.append(UnbracketedAccess(access, locks[0], unlocks[0], names.get(root, fn.location)))
    return found


def _finding(found: UnbracketedAccess) -> Finding:
    access, lock, unlock = found.access, found.lock_command, found.unlock_command
    lock_name = lock.macro or hex(lock.value or 0)
    unlock_name = unlock.macro or hex(unlock.value or 0)
    return Finding(
        rule_id=RULE_ID,
        level=Level.WARNING,
        message=(
            f"{describe(access)} the device's shared mapping outside the {lock_name}...{unlock_name} "
            f"ioctl bracket the driver {Path(lock.handler.file).name} provides for it"
        ),
        location=access.location,
        function=access.function.name,
        snippet_key=f"{access.how}:{access.text}",
        related=[
            RelatedLocation(lock.location, f"the driver's lock command {lock_name} ({lock.how})"),
            RelatedLocation(unlock.location, f"the driver's unlock command {unlock_name}"),
            RelatedLocation(found.mapped_at, "mapped with MAP_SHARED here"),
        ],
        hint=f"call ioctl(fd, {lock_name}) before touching the mapping and ioctl(fd, {unlock_name}) after",
    )
