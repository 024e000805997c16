"""GUP004: a value in a buffer user space can write, checked and then read again (a double fetch)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from gupcheck.analyses.dataflow import reachable_from
from gupcheck.analyses.sharedmem import Fetch, Place, SharedBuffer, SharedMemory
from gupcheck.kernel_api.logs import LOG_CALLS
from gupcheck.model.facts import Function, root_of
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
            if first.through_pointer and not _compared(first):
                continue
            later = reachable_from(fn, first.node.id)
            second = next(
                (
                    f
                    for f in fetches
                    if f.place == first.place
                    and f.node.id != first.node.id
                    and f.node.id in later
                    and (
                        not first.through_pointer
                        or (_same_pointer(fn, first, f) and _used(f) and _part(f) == _part(first))
                    )
                ),
                None,
            )
            if second is not None:
                reported.add(first.place)
                found.append(DoubleFetch(first, second, shared.buffer(fn, first.place)))
    return found


def _same_pointer(fn: Function, first: Fetch, second: Fetch) -> bool:
    """Both reads go through the same pointer into the buffer (`entry->len` twice) and some path
    leads from the first to the second without moving it (a loop that advances the pointer between
    them reads another entry)."""
    pointer = root_of(first.text)
    if second.text != first.text or pointer == first.text:
        return False
    moves = {node.id for node, store in fn.stores() if store.target.path == pointer}
    seen: set[int] = set()
    stack = [edge.target for edge in first.node.succs]
    while stack:
        current = stack.pop()
        if current == second.node.id:
            return True
        if current in seen or current in moves:
            continue
        seen.add(current)
        stack.extend(edge.target for edge in fn.nodes[current].succs)
    return False


def _part(fetch: Fetch) -> str | None:
    """What the statement takes of the value: the helper it is passed to alone (`get_op(e->word)`)
    or the mask it is and-ed with (`e->flags & F_KEEP`). A word tested for one part and read again
    for another (the opcode, then the length) is two values, not one fetched twice."""
    read = re.escape(fetch.text)
    helper = re.search(rf"([A-Za-z_]\w*)\s*\(\s*{read}\s*\)", fetch.node.text)
    if helper is not None:
        return helper.group(1)
    mask = re.search(rf"{read}\s*&\s*([\w()]+)", fetch.node.text)
    return f"& {mask.group(1)}" if mask is not None else None


def _compared(fetch: Fetch) -> bool:
    """The fetch is an operand of a comparison (`len > MAX`, a truth test), not only an argument of
    a call whose result the condition tests (a lookup is no bound)."""
    condition = fetch.node.condition
    return condition is not None and any(
        atom.op != "call"
        and fetch.text in {*atom.lhs.names, *(atom.rhs.names if atom.rhs is not None else ())}
        for atom in condition.atoms()
    )


def _used(fetch: Fetch) -> bool:
    """The value read again is used: stored, returned or passed on, not only tested again or
    printed (a message with a changed value harms nothing)."""
    node = fetch.node
    statement = re.match(r"\s*(\w+)\s*\(", node.text)
    if statement is not None and statement.group(1) in LOG_CALLS:
        return False  # the statement is a message (`WARN_ON(...)`, `pr_err(...)`), macros expanded
    if any(fetch.text in store.value.names for store in node.stores):
        return True
    if node.returns is not None and fetch.text in node.returns.names:
        return True
    passing = [call for call in node.calls if any(fetch.text in arg.names for arg in call.args)]
    # helpers that only format the value for a message (`WARN_ON(get_op(e->word) != OP)`)
    in_message = {
        callee for call in passing if call.callee in LOG_CALLS for arg in call.args for callee in arg.calls
    }
    return any(call.callee not in LOG_CALLS and call.callee not in in_message for call in passing)


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
