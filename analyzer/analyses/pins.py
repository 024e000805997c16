"""Pinned user pages: where they are pinned, where they go, and what helpers do with them.

For every pin site (a call to a `get_user_pages*`/`pin_user_pages*` API, or to a driver helper
that hands pinned pages out) this module follows the pages along the function's control flow:
released, stored in a longer-lived place, handed back to the caller, or lost on some path.
Helpers are summarised bottom-up so they act like the API they wrap.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from gupcheck.analyses.dataflow import must_facts, predecessors, reachable_from, reaching
from gupcheck.kernel_api.allocators import allocates
from gupcheck.kernel_api.containers import LINKERS
from gupcheck.kernel_api.entries import SYSCALL_ROLES
from gupcheck.kernel_api.errors import ERROR_POINTER_TESTS
from gupcheck.kernel_api.memory import MEMORY_ACCESS
from gupcheck.kernel_api.pins import PAGE_USERS, PinKind, foll_longterm_value
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    Edge,
    Function,
    Side,
    Value,
    ValueKind,
    last_field,
    root_of,
)
from gupcheck.model.findings import SourceLocation
from gupcheck.model.program import Program

RETURNED = -1  # summary position: the helper returns the pinned pages


def pages_key(value: Value) -> str | None:
    """The object a pages argument denotes: `pages`, `pages + i` and `pages[i]` -> "pages",
    `&page` -> "page", `dev->pages[i]` -> "dev->pages"."""
    if value.path:
        return value.path.removesuffix("[]").lstrip("*")
    return value.base


@dataclass(frozen=True)
class Pin:
    """Pages pinned at a call: directly through an API, or through a helper that hands them out."""

    function: Function
    node: CfgNode
    call: CallSite
    kind: PinKind
    longterm: bool
    pages: str  # key of the pages object in `function`
    api: str  # the API finally called (through helpers)
    via: tuple[SourceLocation, ...] = ()  # pin calls inside the helpers, innermost last


@dataclass
class Fate:
    """Where the pages of one pin go, over all paths from the pin to the function's return."""

    released: list[tuple[CfgNode, CallSite]] = field(default_factory=list)
    stored: list[tuple[CfgNode, str]] = field(default_factory=list)  # (node, what it was stored into)
    returned: list[CfgNode] = field(default_factory=list)
    leak_path: list[CfgNode] | None = None  # a path from the pin to the return holding the pages
    escaped: list[CfgNode] = field(default_factory=list)  # `&handle` given to code not analysed
    handed_out: list[tuple[int, str]] = field(default_factory=list)  # (parameter, path suffix): a
    #                                            helper's output, `pages` or `region->pages` of a param


@dataclass(frozen=True)
class PinSummary:
    """What a helper does with pages, in terms of its parameters."""

    pins_into: dict[int, tuple[str, str, bool, str, tuple[SourceLocation, ...]]]  # k -> (suffix, kind,
    #                                                                    longterm, api, locations)
    releases: frozenset[int]
    stores: frozenset[int] = frozenset()  # parameters kept in a longer-lived place (list, tree, global)


class PinAnalysis:
    """Pin sites of a program, their fate, and helper summaries."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.summaries: dict[str, PinSummary] = {}
        self._loops: dict[tuple[str, int], frozenset[int]] = {}
        self._preds: dict[str, dict[int, list[int]]] = {}  # function key -> CFG predecessors
        self._field_releases: dict[str, list[tuple[Function, CallSite, str]]] | None = None
        self._conditions: dict[str, dict[int, frozenset]] = {}
        self._owners: dict[tuple[str, str], str | None] = {}
        self._fates: dict[tuple[str, int, int, str], Fate] = {}
        self._summarised = False
        self._pins: dict[str, list[Pin]] = {}
        self._file_globals: dict[str, set[str]] = {}
        self._summarise()
        self._summarised = True

    # -- summaries ----------------------------------------------------------------------
    def _summarise(self) -> None:
        """Bottom-up to a fixpoint: a function is summarised again when a callee's summary
        changes (recursion and mutual recursion converge because summaries only grow)."""
        functions = self.program.kernel_functions()
        pending = deque(functions)
        queued = {fn.key for fn in functions}
        budget = 20 * len(functions) + 100
        while pending and budget > 0:
            budget -= 1
            fn = pending.popleft()
            queued.discard(fn.key)
            summary = self._summary_of(fn)
            if summary == self.summaries.get(fn.key):
                continue
            self.summaries[fn.key] = summary
            for ref in self.program.callers(fn):
                if ref.caller.key not in queued and self.program.side_of(ref.caller) == Side.KERNEL:
                    queued.add(ref.caller.key)
                    pending.append(ref.caller)

    def _summary_of(self, fn: Function) -> PinSummary:
        params = {p.name: p.index for p in fn.params}
        pins_into: dict[int, tuple[str, str, bool, str, tuple[SourceLocation, ...]]] = {}
        if self.program.roles(fn) & SYSCALL_ROLES:
            return PinSummary({}, frozenset())  # an entry point is nobody's helper
        for pin in self.pins_in(fn):
            fate = self.fate(pin)
            outputs = list(fate.handed_out)
            if fate.returned:
                outputs.append((RETURNED, ""))
            for position, suffix in outputs:
                pins_into[position] = (suffix, pin.kind, pin.longterm, pin.api, (*pin.via, pin.call.location))
        releases = set()
        for node in fn.nodes:
            for call in node.calls:
                position = self._release_position(fn, call)
                if position is None or position >= len(call.args):
                    continue
                key = pages_key(call.args[position])
                root = root_of(key) if key else ""
                holder = root if root in params else self._param_holder(fn, root)
                if holder in params:
                    releases.add(params[holder])
        stores = set()
        for name, index in params.items():
            for node in fn.nodes:
                outcome = self._event(fn, node, {name}, None)
                if isinstance(outcome, str) and outcome.startswith("stored:"):
                    stores.add(index)
                    break
        # a helper that releases what it pinned only on its error path is a pinning helper
        return PinSummary(pins_into, frozenset(releases - set(pins_into)), frozenset(stores))

    def _release_position(self, fn: Function, call: CallSite) -> int | None:
        position = self.program.api.release_position(call.callee)
        if position is not None:
            return position
        callee = self.program.callee(fn, call)
        summary = self.summaries.get(callee.key) if callee else None
        if summary and summary.releases:
            return min(summary.releases)
        return None

    # -- pin sites -----------------------------------------------------------------------
    def pins_in(self, fn: Function) -> list[Pin]:
        """Pin sites of `fn` (cached once the helper summaries are complete)."""
        if fn.key in self._pins:
            return self._pins[fn.key]
        pins = self._find_pins(fn)
        if self._summarised:
            self._pins[fn.key] = pins
        return pins

    def _find_pins(self, fn: Function) -> list[Pin]:
        pins: list[Pin] = []
        for node in fn.nodes:
            for call in node.calls:
                api = self.program.api.pin(call.callee, len(call.args))
                if api is not None and api.pages < len(call.args):
                    key = pages_key(call.args[api.pages])
                    if key:
                        flags = (
                            call.args[api.flags]
                            if api.flags is not None and api.flags < len(call.args)
                            else None
                        )
                        longterm = api.longterm or _longterm(
                            fn, node, flags, foll_longterm_value(self.program.target_kernel)
                        )
                        pins.append(Pin(fn, node, call, api.kind, longterm, key, call.callee))
                    continue
                callee = self.program.callee(fn, call)
                summary = self.summaries.get(callee.key) if callee else None
                if not summary:
                    continue
                for position, (suffix, kind, longterm, inner_api, via) in sorted(summary.pins_into.items()):
                    if position == RETURNED:
                        key = call.assigned_to
                    elif position < len(call.args):
                        key = pages_key(call.args[position])
                    else:
                        key = None
                    if key:
                        pins.append(Pin(fn, node, call, kind, longterm, key + suffix, inner_api, via))
        return pins

    def all_pins(self) -> list[Pin]:
        return [pin for fn in self.program.kernel_functions() for pin in self.pins_in(fn)]

    # -- fate along paths ------------------------------------------------------------------
    def fate(self, pin: Pin) -> Fate:
        """The pages' fate along every path (cached once the helper summaries are complete)."""
        key = (pin.function.key, pin.node.id, id(pin.call), pin.pages)
        if key in self._fates:
            return self._fates[key]
        fate = self._follow(pin)
        if self._summarised:
            self._fates[key] = fate
        return fate

    def _follow(self, pin: Pin) -> Fate:
        fn = pin.function
        fate = Fate()
        root = root_of(pin.pages)
        params = {p.name: p.index for p in fn.params}
        # Pages pinned straight into a parameter's array or a long-lived place are still
        # followed: released before the return, they were a short-term pin after all.
        output: tuple[int, str] | None = None
        owner: str | None = None
        holder = self._param_holder(fn, root) if root not in params else root
        if holder in params and (pin.pages == root or self._owner(fn, holder) is None):
            # pinned into the caller's object (`mapped = &bitmap->mapped; ... mapped->pages`)
            output = (params[holder], pin.pages[len(root) :] if holder == root else "")
        else:
            owner = self._owner(fn, root) and pin.pages
        tracked = {pin.pages, root}
        result = pin.call.assigned_to
        zero_on_success = bool(pin.via) and self._returns_zero(fn, pin.call)
        # `if (is_userptr) { pin } ... if (is_userptr) unpin`: a condition that held at the pin
        # still holds at a later test of the same condition (unless its variables change)
        known = {fact[1]: fact[2] for fact in self._branch_facts(fn)[pin.node.id]}
        # A search over (node, whether `result` still holds the pin's return value): once `rc`
        # is reused for another call, tests of `rc` say nothing about the pin.
        State = tuple[int, bool]
        parents: dict[State, State | None] = {}
        queue: deque[State] = deque()

        def follow(node: CfgNode, live: bool) -> None:
            for edge in node.succs:
                if live and self._pin_failed(node, edge, result, pin.call, zero_on_success):
                    continue
                if (
                    node is not pin.node
                    and node.condition is not None
                    and known.get(node.text, edge.label) != edge.label
                ):
                    continue
                state = (edge.target, live)
                if state not in parents:
                    parents[state] = (node.id, live)
                    queue.append(state)

        handles: list[tuple[CfgNode, str]] = []  # page handles kept on the way (page_to_pfn)
        parents[(pin.node.id, True)] = None  # the path starts here
        follow(pin.node, True)
        while queue:
            node_id, live = queue.popleft()
            node = fn.nodes[node_id]
            outcome = self._event(fn, node, tracked, pin)
            if isinstance(outcome, CallSite):
                fate.released.append((node, outcome))
                continue
            if isinstance(outcome, str) and outcome.startswith("handle-"):
                handles.append((node, outcome.removeprefix("handle-")))
                outcome = None
            if outcome is not None and outcome.startswith("stored:"):
                fate.stored.append((node, outcome.removeprefix("stored:")))
                continue
            if outcome is not None and outcome.startswith("handed:"):
                param, suffix = outcome.removeprefix("handed:").split(":", 1)
                fate.handed_out.append((params[param], suffix))
                continue
            if outcome == "returned":
                fate.returned.append(node)
                continue
            if outcome == "escaped":
                fate.escaped.append(node)
                continue
            if node.id == fn.exit.id:
                if output is not None:
                    fate.handed_out.append(output)
                elif owner is not None:
                    fate.stored.append((pin.node, owner))
                elif handles:
                    for handle_node, kept in handles:
                        if kept.startswith("handed:"):
                            param, suffix = kept.removeprefix("handed:").split(":", 1)
                            fate.handed_out.append((params[param], suffix))
                        else:
                            fate.stored.append((handle_node, kept.removeprefix("stored:")))
                elif self._from_lookup(fn, root) or self._object_out_param(fn, pin, root):
                    fate.escaped.append(node)  # pinned into an object a lookup returned: it lives on
                elif fate.leak_path is None:
                    fate.leak_path = self._path(fn, parents, (node_id, live))
                continue
            if live and result and any(store.target.path == result for store in node.stores):
                live = False
            follow(node, live)
        return fate

    def _loop_body(self, fn: Function, test: CfgNode) -> frozenset[int]:
        """The nodes of the loop whose test is `test` (empty for a plain `if`)."""
        key = (fn.key, test.id)
        if key not in self._loops:
            # nodes reached from the true branch before coming back to the test
            seen: set[int] = set()
            back = False
            stack = [e.target for e in test.succs if e.label == "true"]
            while stack:
                current = stack.pop()
                if current == test.id:
                    back = True
                    continue
                if current in seen:
                    continue
                seen.add(current)
                stack.extend(e.target for e in fn.nodes[current].succs)
            body = frozenset()
            if back:
                if fn.key not in self._preds:
                    self._preds[fn.key] = predecessors(fn)
                body = frozenset(seen & reaching(fn, test.id, self._preds[fn.key]))
            self._loops[key] = body
        return self._loops[key]

    @staticmethod
    def _path(fn: Function, parents: dict, end: tuple[int, bool]) -> list[CfgNode]:
        """The nodes from the pin to `end`, following the search's parent links."""
        path = []
        current = end
        while current is not None:
            path.append(fn.nodes[current[0]])
            current = parents.get(current)
        return list(reversed(path))

    def _event(
        self, fn: Function, node: CfgNode, tracked: set[str], pin: Pin | None
    ) -> CallSite | str | None:
        """What happens to the pages (or their holder) at `node`: the release call,
        "stored:<place>", "handed:<param>:<suffix>", "returned", or None."""
        if node.condition is not None and (pin is None or pin.node.id not in self._loop_body(fn, node)):
            # `for (i = 0; i < n; i++) put_page(pages[i]);` releases the pages even on the
            # path that skips the body (n == 0 pinned nothing)
            for body_id in sorted(self._loop_body(fn, node)):
                for call in fn.nodes[body_id].calls:
                    if self._releases(fn, call, tracked):
                        return call
        for call in node.calls:
            if pin is not None and call is pin.call:
                continue
            if self._releases(fn, call, tracked):
                return call
            if (
                self.program.callee(fn, call) is None
                and not self._keeps_nothing(call.callee)
                and any(arg.address_of and (arg.path or arg.base or "") in tracked for arg in call.args)
            ):
                return "escaped"  # an out-parameter of code gupcheck cannot see
            for position in self._storing_positions(fn, call):
                if position < len(call.args) and any(
                    root_of(name) in tracked
                    for name in (*call.args[position].names, call.args[position].base or "")
                ):
                    return f"stored:{call.callee}()"
        for store in node.stores:
            target = store.target.path or ""
            if not target:
                continue
            # the stored value is the pages (or their holder) itself, or a handle computed from
            # them (`*paddr = page_to_phys(page)`), not a field read from them
            value = store.value
            itself = value.path in tracked
            if not itself and not set(value.names) & tracked:
                continue
            if root_of(target) in tracked:
                # a field of the tracked object is set: it stays the tracked object
                continue
            target_root = root_of(target)
            owner = self._owner(fn, target_root)
            # a handle keeps the pin only if the page is not released afterwards: the path goes
            # on, and the handle counts if the pages reach the return
            handle = "" if itself else "handle-"
            # `dev->pages = pages` or a global keeps the pages; `dev = pages` only rebinds a local
            if owner is not None and (target != target_root or target_root in self._globals(fn)):
                return f"{handle}stored:{target}"
            if target_root in {p.name for p in fn.params}:
                # `*out = pages` fills the caller's object: the caller passes &obj
                return f"{handle}handed:{target_root}:{target.lstrip('*')[len(target_root) :]}"
            if itself:
                tracked.add(target_root)  # a local alias of the pages
        if node.returns is not None:
            names = {root_of(n) for n in node.returns.names}
            if names & tracked:
                return "returned"
        return None

    def _keeps_nothing(self, name: str) -> bool:
        """Calls that take `&page` (or the pages array) without keeping it: releases, memory and string
        calls, and the calls that only use a page."""
        return (
            self.program.api.release_position(name) is not None or name in MEMORY_ACCESS or name in PAGE_USERS
        )

    def _storing_positions(self, fn: Function, call: CallSite) -> tuple[int, ...]:
        """Arguments a call keeps: list_add()'s entry, or what a helper stores."""
        if call.callee in LINKERS:
            return (LINKERS[call.callee],)
        callee = self.program.callee(fn, call)
        summary = self.summaries.get(callee.key) if callee else None
        return tuple(sorted(summary.stores)) if summary else ()

    def _releases(self, fn: Function, call: CallSite, tracked: set[str]) -> bool:
        position = self._release_position(fn, call)
        if position is None or position >= len(call.args):
            return False
        key = pages_key(call.args[position])
        return bool(key) and (key in tracked or root_of(key) in tracked)

    @staticmethod
    def _object_out_param(fn: Function, pin: Pin, local: str) -> bool:
        """`helper(..., &entry)` hands back an object the helper created or found (a broker
        entry on a list): the pages live in it, not in this call."""
        variable = fn.locals.get(local)
        return (
            bool(pin.via)
            and variable is not None
            and variable.is_pointer
            and any(arg.address_of and arg.path == local for arg in pin.call.args)
        )

    @staticmethod
    def _from_lookup(fn: Function, local: str) -> bool:
        """A local pointer set from a call that is not an allocator (`entry = find_entry(h)`):
        it points to an object that exists beyond this call."""
        return local in fn.locals and any(
            store.target.path == local
            and store.value.kind == ValueKind.CALL
            and not allocates(store.value.calls)
            for node in fn.nodes
            for store in node.stores
        )

    @staticmethod
    def _param_holder(fn: Function, local: str) -> str | None:
        """The parameter a local pointer points into (`mapped = &bitmap->mapped` -> bitmap)."""
        params = {p.name for p in fn.params}
        for node in fn.nodes:
            for store in node.stores:
                if store.target.path == local and not store.value.calls:
                    roots = {root_of(n) for n in store.value.names} & params
                    if len(roots) == 1:
                        return roots.pop()
        return None

    def _owner(self, fn: Function, root: str, depth: int = 0) -> str | None:
        """The long-lived place a variable lives in or points to, or None for a call-local object:
        a global, a parameter of an entry point or anything reached from one (dev = file->private_data),
        a helper's parameter that every caller fills with such a place. Memoised; a question
        that is still being answered (a cycle) answers None."""
        key = (fn.key, root)
        if key not in self._owners:
            self._owners[key] = None
            self._owners[key] = self._find_owner(fn, root, depth)
        return self._owners[key]

    def _find_owner(self, fn: Function, root: str, depth: int) -> str | None:
        if root in self._globals(fn):
            return root
        if depth > 6:
            return None
        params = {p.name: p.index for p in fn.params}
        if root in params:
            if self.program.roles(fn) & SYSCALL_ROLES:
                return root
            callers = self.program.callers(fn)
            if not callers:
                # called from files not analysed (or through a pointer): a driver object it was
                # handed lives on, as far as this function can tell
                return root
            if depth > 4:
                return None
            for ref in callers:
                index = params[root]
                arg = ref.call.args[index] if index < len(ref.call.args) else None
                key = pages_key(arg) if arg is not None else None
                if not key or self._owner(ref.caller, root_of(key), depth + 1) is None:
                    return None
            return root
        for node in fn.nodes:
            for store in node.stores:
                if store.target.path != root:
                    continue
                value = store.value
                if value.kind == ValueKind.HEAP or allocates(value.calls):
                    return None
                sources = {root_of(n) for n in value.names}
                for source in sources:
                    if source != root and self._owner(fn, source, depth + 1) is not None:
                        return value.text
        return None

    def _globals(self, fn: Function) -> set[str]:
        if not self._file_globals:
            self._file_globals = {unit.path: set(unit.globals) for unit in self.program.units}
        return self._file_globals.get(fn.file, set())

    def _branch_facts(self, fn: Function) -> dict[int, frozenset]:
        """("cond", condition text, "true"/"false") known on every path to each node."""
        if fn.key not in self._conditions:

            def edge_gen(node: CfgNode, edge: Edge):
                if node.condition is not None and edge.label in ("true", "false"):
                    yield ("cond", node.text, edge.label)

            def transfer(node: CfgNode, facts: frozenset) -> frozenset:
                written = {root_of(s.target.path) for s in node.stores if s.target.path}
                if not written:
                    return facts
                return frozenset(f for f in facts if not written & set(re.findall(r"\w+", f[1])))

            self._conditions[fn.key] = must_facts(fn, edge_gen=edge_gen, transfer=transfer)
        return self._conditions[fn.key]

    def _returns_zero(self, fn: Function, call: CallSite) -> bool:
        """A helper with the kernel's 0-or-negative-errno convention (it has a `return 0;`)."""
        callee = self.program.callee(fn, call)
        return callee is not None and any(
            node.returns is not None and node.returns.const_value == 0 for node in callee.nodes
        )

    def _pin_failed(
        self, node: CfgNode, edge: Edge, result: str | None, call: CallSite, zero_on_success: bool = False
    ) -> bool:
        """The branch on which the pin call is known to have pinned nothing: the API returned
        <= 0 (`ret < nr` is a partial pin: `ret` pages are still held), or a helper that returns
        0 on success returned something else."""
        if node.condition is None or edge.label not in ("true", "false"):
            return False
        api = self.program.api.pin(call.callee, len(call.args))
        requested = call.args[api.nr].const_value if api and api.nr < len(call.args) else None
        for atom, outcome in node.condition.facts(edge.label == "true"):
            if atom.op == "call" and atom.call is not None and atom.call.callee in ERROR_POINTER_TESTS:
                if outcome and result and any(result in arg.names for arg in atom.call.args):
                    return True  # a helper that returns pinned pages returned an error pointer
                continue
            subject = atom.lhs
            if not (result and subject.path == result) and call.callee not in subject.calls:
                continue
            if atom.rhs is None:
                if atom.op == "value" and outcome == zero_on_success:  # if (!ret) / if (rc)
                    return True
                continue
            bound = atom.rhs.const_value
            if bound is None:
                continue
            if zero_on_success:
                if bound == 0 and (atom.op, outcome) in (("!=", True), ("==", False), ("<", True)):
                    return True
                continue
            if (atom.op, outcome) in ((">", False), ("<=", True)) and bound <= 0:
                return True  # ret <= bound <= 0
            if (atom.op, outcome) in ((">=", False), ("<", True)) and bound <= 1:
                return True  # ret < bound <= 1
            if bound == 0 and (atom.op, outcome) in (("==", True), ("!=", False)):
                return True
            if bound == 1 and requested == 1 and (atom.op, outcome) in (("!=", True), ("==", False)):
                return True  # one page asked for, not one pinned: none pinned
        return False

    # -- reachability ------------------------------------------------------------------
    def syscall_entries_reaching(self, fn: Function) -> list[tuple[Function, str]]:
        """Syscall entry points from which `fn` can be called (itself included)."""
        found: list[tuple[Function, str]] = []
        seen = {fn.key}
        queue = deque([fn])
        while queue:
            current = queue.popleft()
            for role in sorted(self.program.roles(current) & SYSCALL_ROLES):
                found.append((current, role))
            for ref in self.program.callers(current):
                if ref.caller.key not in seen:
                    seen.add(ref.caller.key)
                    queue.append(ref.caller)
        return found

    def outlives_syscall(self, pin: Pin, fate: Fate | None = None) -> bool:
        """Kept in a longer-lived place by code a syscall runs, and not released by a caller
        before that syscall returns."""
        fate = fate or self.fate(pin)
        if not fate.stored or not self.syscall_entries_reaching(pin.function):
            return False
        field_name = last_field(pin.pages)
        return field_name == pin.pages or not self.released_later_in_syscall(pin.function, field_name)

    def released_later_in_syscall(self, fn: Function, field_name: str) -> bool:
        """Whether a caller of `fn` (up to the entry point) goes on, after the call, to release
        pages reached through a field of that name: `do_execute()` calls `fixups()`, which keeps
        the pages in a list, and then `cleanup()`, which unpins them before the ioctl returns."""
        releasers = {f.key for f, _call in self.releases_of_field(field_name)}
        releasing = self._transitive_callers(releasers)
        seen = {fn.key}
        queue = deque([fn])
        while queue:
            current = queue.popleft()
            if self.program.roles(current) & SYSCALL_ROLES:
                continue  # the syscall returns here
            for ref in self.program.callers(current):
                for node_id in reachable_from(ref.caller, ref.node.id):
                    for call in ref.caller.nodes[node_id].calls:
                        callee = self.program.callee(ref.caller, call)
                        if callee is not None and callee.key in releasing:
                            return True
                if ref.caller.key not in seen:
                    seen.add(ref.caller.key)
                    queue.append(ref.caller)
        return False

    def _transitive_callers(self, keys: set[str]) -> set[str]:
        found = set(keys)
        queue = deque(keys)
        while queue:
            key = queue.popleft()
            fn = self.program.functions.get(key)
            if fn is None:
                continue
            for ref in self.program.callers(fn):
                if ref.caller.key not in found:
                    found.add(ref.caller.key)
                    queue.append(ref.caller.key)
        return found

    def releases_of_field(self, field_name: str) -> list[tuple[Function, CallSite]]:
        """Release calls anywhere whose pages are reached through a field of that name."""
        index = self._field_releases
        if index is None:  # every release call, by the last field of its pages
            index = {}
            for fn in self.program.kernel_functions():
                for node in fn.nodes:
                    for call in node.calls:
                        position = self._release_position(fn, call)
                        if position is None or position >= len(call.args):
                            continue
                        key = pages_key(call.args[position]) or ""
                        index.setdefault(last_field(key), []).append((fn, call, key))
            if self._summarised:  # kept once the helper summaries (wrapped releases) are all known
                self._field_releases = index
        return [(fn, call) for fn, call, key in index.get(field_name, ()) if key != field_name]


def _longterm(fn: Function, node: CfgNode, flags: Value | None, longterm_bit: int) -> bool:
    if flags is None:
        return False
    if "FOLL_LONGTERM" in flags.text:
        return True
    if flags.const_value is not None and not flags.names:  # a literal such as 0x10001
        return bool(flags.const_value & longterm_bit)
    # flags kept in a local variable assigned earlier in the function
    variables = {name for name in flags.names}
    for other in fn.nodes:
        for store in other.stores:
            if store.target.path in variables and "FOLL_LONGTERM" in store.value.text:
                return True
    return False
