"""GUP004: a value in a buffer user space can write, checked and then read again (a double fetch)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from gupcheck.analyses.dataflow import reachable_from
from gupcheck.analyses.sharedmem import Fetch, Place, SharedBuffer, SharedMemory
from gupcheck.kernel_api.logs import LOG_CALLS
from gupcheck.model.facts import CallSite, CfgNode, Function, root_of
from gupcheck.model.findings import Finding, FlowStep, Level, RelatedLocation
from gupcheck.rules.unlocked_shared_mapping.report import RULE_ID, exported


@dataclass(eq=False)
class DoubleFetch:
    first: Fetch
    second: Fetch
    buffer: SharedBuffer
    # a check in one function and a re-read in another that the same caller calls after it: the
    # caller and its two calls
    caller: Function | None = None
    calls: tuple[CallSite, CallSite] | None = None


def findings(shared: SharedMemory) -> Iterator[Finding]:
    for found in double_fetches(shared):
        yield _finding(found)
    for found in split_double_fetches(shared):
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


def split_double_fetches(shared: SharedMemory) -> list[DoubleFetch]:
    """A double fetch split over two functions one caller calls in turn with the same buffer
    (`validate(p)` checks a field, `patch(p)` reads it again and uses it): each function reads the
    field once, the caller's sequence reads it twice. One call deep on each side; the pointer both
    read through must be spelled the same from the caller's arguments (`_pointer_in_caller`)."""
    found = []
    reported: set[tuple[str, Place]] = set()
    checked: dict[str, list[Fetch]] = {}
    fetched: dict[str, list[Fetch]] = {}
    for caller in shared.kernel:
        for a_node, a_call, checker, b_node, b_call, user in shared.calls_in_sequence(caller):
            if checker.key not in checked:
                checked[checker.key] = [f for f in _checked_fetches(shared, checker) if f.place.suffix]
            if not checked[checker.key]:
                continue
            if user.key not in fetched:
                # a field the function writes itself is the kernel's (a producer index it advances)
                written = {access.place for access in shared.accesses(user) if access.write}
                fetched[user.key] = [
                    f for f in shared.fetches(user) if shared.user_writable(f) and f.place not in written
                ]
            seconds = fetched[user.key]
            for first in checked[checker.key]:
                pointer = _pointer_in_caller(checker, first, a_call)
                if pointer is None or _moved(caller, a_node, b_node, pointer):
                    continue
                for second in seconds:
                    key = (user.key, second.place)  # one finding a place in each function
                    if (
                        key in reported
                        or second.place != first.place
                        or _part(second) != _part(first)
                        or _pointer_in_caller(user, second, b_call) != pointer
                        or _reduced(second)
                        or not _used_value(shared, user, second)
                        or shared.refetched(user, seconds, second)  # the rule inside `user` sees it
                    ):
                        continue
                    reported.add(key)
                    found.append(
                        DoubleFetch(
                            first, second, shared.buffer(user, second.place), caller, (a_call, b_call)
                        )
                    )
    return found


def _checked_fetches(shared: SharedMemory, fn: Function) -> list[Fetch]:
    """Fetches of `fn` checked as the intra-procedural rule wants (the read itself compared), or
    whose value, through the locals computed from it, is compared or bounds an index or a length."""
    written = {access.place for access in shared.accesses(fn) if access.write}
    fetches = [f for f in shared.fetches(fn) if shared.user_writable(f) and f.place not in written]
    bounds = {name for _node, value, _kind, _location in shared.sized_uses(fn) for name in value.names}
    compared = {
        name
        for node in fn.nodes
        if node.condition is not None
        for atom in node.condition.atoms()
        if atom.op != "call"
        for name in (*atom.lhs.names, *(atom.rhs.names if atom.rhs is not None else ()))
    }
    checked = []
    for fetch in fetches:
        if fetch.checked and (not fetch.through_pointer or _compared(fetch)):
            checked.append(fetch)
        elif shared.derived_locals(fn, fetch) & (bounds | compared):
            checked.append(fetch)
    return checked


def _used_value(shared: SharedMemory, fn: Function, fetch: Fetch) -> bool:
    """The value read again is used (`_used`), and a value kept in a local is used later too: the
    local (or one computed from it) is compared, indexes, sizes, is stored, returned or passed on,
    not only printed."""
    if not _used(fetch):
        return False
    node = fetch.node
    passed = (node.returns is not None and fetch.text in node.returns.names) or any(
        fetch.text in arg.names for call in node.calls if call.callee not in LOG_CALLS for arg in call.args
    )
    if passed:
        return True
    into = {store.target.path for store in node.stores if fetch.text in store.value.names}
    if None in into:
        return False  # a write the front end cannot name (a macro's own temporary): no known use
    if any(not shared.is_local(fn, target) for target in into):
        return True  # kept in a structure
    derived = shared.derived_locals(fn, fetch)
    for other in fn.nodes:
        if other is node or _message(other.text):
            continue
        names: set[str] = set()
        names.update(
            name
            for call in other.calls
            if call.callee not in LOG_CALLS
            for a in call.args
            for name in a.names
        )
        names.update(name for subscript in other.subscripts for name in subscript.index.names)
        names.update(name for store in other.stores for name in store.value.names)
        names.update(other.returns.names if other.returns is not None else ())
        for atom in other.condition.atoms() if other.condition is not None else ():
            names.update((*atom.lhs.names, *(atom.rhs.names if atom.rhs is not None else ())))
        if derived & names:
            return True
    return False


def _reduced(fetch: Fetch) -> bool:
    """The value read again is taken modulo a size where it is read (`mb->head % ring_size`): what
    it is used for stays inside the range whatever user space wrote, and a check made on the first
    read elsewhere is no bound it relies on. (A mask, `& ID_MASK`, picks a part of the word and is
    compared by `_part` instead.)"""
    return re.search(rf"{re.escape(fetch.text)}\s*\)*\s*%", fetch.node.text) is not None


def _message(text: str) -> bool:
    statement = re.match(r"\s*(\w+)\s*\(", text)
    return statement is not None and statement.group(1) in LOG_CALLS


def _pointer_in_caller(fn: Function, fetch: Fetch, call: CallSite) -> str | None:
    """What the pointer a fetch reads through is in the caller's words: `user_pkt->header`, with
    `user_pkt = parser->cb->addr + off` and `parser` the callee's second parameter, is
    `parser->cb->addr + off` with the caller's second argument for `parser`. None when the
    pointer does not come from the parameters alone (a local of the callee's own, a global)."""
    root = root_of(fetch.text)
    params = {param.name: param.index for param in fn.params}
    if root in params:
        sources = [root]
    elif root in fn.locals and not fn.locals[root].is_static:
        sources = sorted({store.value.text for _node, store in fn.stores() if store.target.path == root})
        if not sources or any(
            root_of(store.value.path or "") == root
            for _node, store in fn.stores()
            if store.target.path == root
        ):
            return None
    else:
        return None
    spelled = []
    for source in sources:
        used = [name for name in params if re.search(rf"(?<![\w.>]){name}\b", source)]
        if not used:
            return None
        for name in used:
            index = params[name]
            if index >= len(call.args) or not call.args[index].path:
                return None
            spelling = (call.args[index].path or "").replace("\\", "\\\\")
            source = re.sub(rf"(?<![\w.>]){name}\b", spelling, source)
        spelled.append(source)
    rest = fetch.text[len(root) :]
    return " | ".join(spelled) + " :: " + rest


def _moved(caller: Function, start: CfgNode, end: CfgNode, pointer: str) -> bool:
    """The caller changes what the pointer is made of between the two calls
    (`parser->user_cb = parser->patched_cb;`)."""
    between = reachable_from(caller, start.id) - {end.id}
    for node_id in between:
        for store in caller.nodes[node_id].stores:
            target = store.target.path
            if target and re.search(rf"(?<![\w.>]){re.escape(target)}(?![\w])", pointer):
                return True
    return False


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
    where = f"line {first.location.line}"
    flow = [FlowStep(first.location, f"'{first.text}' fetched and checked")]
    hint = f"read it once into a local (`v = READ_ONCE({first.text});`), check the local and use only it"
    if found.caller is not None and found.calls is not None:
        checker, user = first.function.name, second.function.name
        where = (
            f"line {first.location.line} in {checker}(), which {found.caller.name}() calls before {user}()"
        )
        flow = [
            FlowStep(found.calls[0].location, f"{found.caller.name}() calls {checker}()"),
            *flow,
            FlowStep(found.calls[1].location, f"then {user}() with the same buffer"),
        ]
        hint = (
            f"fetch the value once (copy what {checker}() checks into a private copy, or pass the checked "
            f"value to {user}()) and use only that copy"
        )
    return Finding(
        rule_id=RULE_ID,
        level=Level.ERROR,
        message=(
            f"double fetch: '{second.text}' is read again from '{found.buffer.spelling}', which user "
            f"space can write through its mapping, after it was checked on {where}"
        ),
        location=second.location,
        function=second.function.name,
        snippet_key=f"double-fetch:{second.text}",
        related=[RelatedLocation(first.location, f"'{first.text}' checked here"), *exported(found.buffer)],
        flow=[
            *flow,
            FlowStep(second.location, f"'{second.text}' fetched again: user space may have changed it"),
        ],
        hint=hint,
    )
