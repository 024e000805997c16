"""GUP004: a length or index fetched from user-writable shared memory used without a check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gupcheck.analyses.sharedmem import Fetch, Place, SharedBuffer, SharedMemory
from gupcheck.analyses.sharedmem.analysis import MASK
from gupcheck.kernel_api.bounds import CLAMPS
from gupcheck.model.findings import Finding, FlowStep, Level, RelatedLocation, SourceLocation
from gupcheck.rules.unlocked_shared_mapping.report import RULE_ID, exported


@dataclass(eq=False)
class UncheckedUse:
    fetch: Fetch
    use_location: SourceLocation
    use: str  # "length" or "index"
    value_text: str
    buffer: SharedBuffer


def findings(shared: SharedMemory) -> Iterator[Finding]:
    for found in unchecked_uses(shared):
        yield _finding(found)


def unchecked_uses(shared: SharedMemory) -> list[UncheckedUse]:
    """Lengths and indexes taken from user-writable shared memory without a check between the
    (single) fetch and the use."""
    found = []
    for fn in shared.kernel:
        fetches = [f for f in shared.fetches(fn) if shared.user_writable(f) and not f.through_pointer]
        if not fetches:
            continue
        at_node = {(f.node.id, f.text): f for f in fetches}
        copies = shared.fetched_copies(fn, fetches)
        reported: set[Place] = set()
        for node, value, use, location in shared.sized_uses(fn):
            if set(value.calls) & CLAMPS or MASK.search(value.text):
                continue
            fetch = next(
                (at_node[(node.id, name)] for name in value.names if (node.id, name) in at_node), None
            )
            if fetch is None:
                local = next((name for name in value.names if name in copies), None)
                if local is None:
                    continue
                if local in shared.bounded_locals(fn)[node.id]:
                    continue
                fetch = copies[local]
            if shared.refetched(fn, fetches, fetch):
                continue  # checked, then read again: reported as a double fetch
            if fetch.place in reported:
                continue
            reported.add(fetch.place)
            found.append(UncheckedUse(fetch, location, use, value.text, shared.buffer(fn, fetch.place)))
    return found


def _finding(found: UncheckedUse) -> Finding:
    fetch = found.fetch
    via = "" if found.value_text == fetch.text else f" (from '{fetch.text}')"
    use = "a length" if found.use == "length" else "an index"
    return Finding(
        rule_id=RULE_ID,
        level=Level.ERROR,
        message=(
            f"'{found.value_text}'{via} is used as {use} without a check, but user space can write it "
            f"through its mapping of '{found.buffer.spelling}'"
        ),
        location=found.use_location,
        function=fetch.function.name,
        snippet_key=f"unchecked-{found.use}:{found.value_text}",
        related=[
            RelatedLocation(fetch.location, f"'{fetch.text}' fetched from the shared buffer here"),
            *exported(found.buffer),
        ],
        flow=[
            FlowStep(fetch.location, f"'{fetch.text}' fetched from shared memory"),
            FlowStep(found.use_location, f"used as {found.use} without a bound"),
        ],
        hint=(
            f"bound '{found.value_text}' before using it "
            f"(`if ({found.value_text} > LIMIT) return -EINVAL;`, or mask it with the ring size)"
            if fetch.copied_to
            else f"copy it once (`v = READ_ONCE({fetch.text});`) and bound the copy before using it "
            "(or mask it with the ring size)"
        ),
    )
