"""GUP004: a value in a buffer user space can write, checked and then read again (a double fetch)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gupcheck.analyses.dataflow import reachable_from
from gupcheck.analyses.sharedmem import Fetch, Place, SharedBuffer, SharedMemory
from gupcheck.model.findings import Finding, FlowStep, Level, RelatedLocation
from gupcheck.rules.unlocked_shared_mapping.report import RULE_ID, exported


@dataclass(eq=False)
class DoubleFetch:
    first: Fetch
    second: Fetch
    buffer: SharedBuffer


def findings(shared: SharedMemory) -> Iterator[Finding]:
    for found in double_fetches(shared):
        yield _finding(found)


def double_fetches(shared: SharedMemory) -> list[DoubleFetch]:
    found = []
    for fn in shared.kernel:
        fetches = [f for f in shared.fetches(fn) if shared.user_writable(f)]
        written = {access.place for access in shared.accesses(fn) if access.write}
        reported: set[Place] = set()
        for first in fetches:
            if not first.checked or first.place in written or first.place in reported:
                continue
            later = reachable_from(fn, first.node.id)
            second = next(
                (
                    f
                    for f in fetches
                    if f.place == first.place and f.node.id != first.node.id and f.node.id in later
                ),
                None,
            )
            if second is not None:
                reported.add(first.place)
                found.append(DoubleFetch(first, second, shared.buffer(fn, first.place)))
    return found


def _finding(found: DoubleFetch) -> Finding:
    first, second = found.first, found.second
    return Finding(
        rule_id=RULE_ID,
        level=Level.ERROR,
        message=(
            f"double fetch: '{second.text}' is read again from '{found.buffer.spelling}', which user "
            f"space can write through its mapping, after it was checked on line {first.location.line}"
        ),
        location=second.location,
        function=second.function.name,
        snippet_key=f"double-fetch:{second.text}",
        related=[RelatedLocation(first.location, f"'{first.text}' checked here"), *exported(found.buffer)],
        flow=[
            FlowStep(first.location, f"'{first.text}' fetched and checked"),
            FlowStep(second.location, f"'{second.text}' fetched again: user space may have changed it"),
        ],
        hint=f"read it once into a local (`v = READ_ONCE({first.text});`), check the local and use only it",
    )
