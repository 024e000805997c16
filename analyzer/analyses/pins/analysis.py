"""The pin analysis: helper summaries bottom-up, pin sites, what happens to pages at each statement,
each pin's fate, and whether kept pages outlive the syscall that pinned them."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gupcheck.analyses.dataflow import cycles, reachable_from
from gupcheck.analyses.pins import fate as fates
from gupcheck.analyses.pins.events import (
    RETURNED,
    Escaped,
    HandedOut,
    Handle,
    Output,
    PinEvent,
    Released,
    Returned,
    Stored,
)
from gupcheck.analyses.pins.fate import Fate
from gupcheck.analyses.pins.ownership import Ownership
from gupcheck.analyses.pins.sites import Pin, find_pins, pages_key
from gupcheck.analyses.pins.summaries import PinnedOutput, PinSummary
from gupcheck.analyses.summaries import summarise_bottom_up
from gupcheck.kernel_api.allocators import PAGE_ALLOCATORS, allocates
from gupcheck.kernel_api.containers import LINKERS, PAGE_HOLDERS
from gupcheck.kernel_api.entries import COMPLETION_ROLES, MIRROR_ROLES, SYSCALL_ROLES, Role
from gupcheck.kernel_api.frees import FREES
from gupcheck.kernel_api.mapping import EXPORTS
from gupcheck.kernel_api.memory import MEMORY_ACCESS
from gupcheck.kernel_api.pins import (
    PAGE_HANDLES,
    PAGE_ONLY_USES,
    PAGE_REFERENCES,
    PAGE_USERS,
    RELEASE_CALLBACKS,
)
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    EdgeLabel,
    Function,
    Side,
    Store,
    Value,
    ValueKind,
    Variable,
    last_field,
    root_of,
)
from gupcheck.model.program import Program, Unfinished

# A helper's locals that take its parameter are gathered in at most this many passes over its body.
ALIAS_PASSES = 3


def _held(value: Value, tracked: set[str]) -> set[str]:
    """The tracked variables an argument reads (`pages[i]`, `&sgl[i]`, `PFN_PHYS(pfn)`), by root."""
    return {root_of(name) for name in (*value.names, value.base or "")} & tracked


@dataclass(frozen=True)
class PinReleases:
    """The calls that may release the pages of one pin: after the pin in its own function (the pages
    or a local alias of them), and anywhere the field or global they are kept in is released."""

    calls: tuple[tuple[Function, CallSite], ...]
    # every release of the pages is among `calls`, and those calls release nothing but such pages:
    # False when the pages go to a container, a caller or unseen code, when a release in the pin's
    # function frees something else of the same object, when another page reference is taken on
    # them, or when their field or global is also filled with pages from elsewhere
    complete: bool
    shared: tuple[Pin, ...] = ()  # other pins whose pages some of the same calls release


class PinAnalysis:
    """Pin sites of a program, their fate, and helper summaries."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.ownership = Ownership(program)
        self.summaries: dict[str, PinSummary] = {}
        self._loops: dict[tuple[str, int], tuple[int, ...]] = {}
        self._cycles: dict[str, dict[int, frozenset[int]]] = {}  # function key -> its CFG's cycles
        self._field_releases: dict[str, list[tuple[Function, CallSite, str]]] | None = None
        self._own_releases: dict[tuple[str, int, int, str], tuple[list[tuple[Function, CallSite]], bool]] = {}
        self._other_pages: dict[_Place, bool] = {}
        self._place_releases: dict[_Place, tuple[list[tuple[Function, CallSite]], bool]] = {}
        self._param_releases: dict[tuple[str, int], tuple[list[tuple[Function, CallSite]], bool]] = {}
        self._unit_globals = {unit.path: unit.globals for unit in program.units}
        self._keep_nodes: set[int] | None = None
        self._naming: dict[str, list[Function]] | None = None
        self._conditions: dict[str, dict[int, frozenset]] = {}
        self._fates: dict[tuple[str, int, int, str], Fate] = {}
        self._pins: dict[str, list[Pin]] = {}
        self._mirroring: dict[str, bool] = {}  # folder -> an MMU notifier there drops page references
        self._stopped: set[str] = set()  # functions whose pin search ran past its budget
        self._function_facts: dict[str, fates.FunctionFacts] = {}
        self._summarised = False
        program.unfinished += summarise_bottom_up(
            program.kernel_functions(),
            self.summaries,
            self._summary_of,
            lambda fn: (
                ref.caller for ref in program.callers(fn) if program.side_of(ref.caller) == Side.KERNEL
            ),
            what="its pin summary",
        )
        self._summarised = True

    # -- summaries ----------------------------------------------------------------------
    def _summary_of(self, fn: Function) -> PinSummary:
        params = {p.name: p.index for p in fn.params}
        pins_into: dict[int, PinnedOutput] = {}
        if self.program.roles(fn) & SYSCALL_ROLES:
            return PinSummary({}, frozenset())  # an entry point is nobody's helper
        for pin in self.pins_in(fn):
            fate = self.fate(pin)
            outputs = list(fate.handed_out)
            if fate.returned:
                outputs.append(Output(RETURNED))
            nonzero = tuple(
                (params[root_of(name)], name[len(root_of(name)) :])
                for name in sorted(fate.nonzero_on_success or ())
                if root_of(name) in params
            )
            for output in outputs:
                pins_into[output.param] = PinnedOutput(
                    output.suffix, pin.kind, pin.longterm, pin.api, (*pin.via, pin.call.location), nonzero
                )
        releases: set[int] = set()
        for _node, call in fn.call_sites():
            for position in self.release_positions(fn, call):
                key = pages_key(call.args[position])
                root = root_of(key) if key else ""
                holders = [root] if root in params else self.ownership.param_holders(fn, root)
                releases.update(params[holder] for holder in holders if holder in params)
        kept = {index: self._stores_param(fn, name) for name, index in params.items()}
        stores = {index for index, what in kept.items() if what is Stored}
        handle_stores = {index for index, what in kept.items() if what is Handle}
        # a helper that releases what it pinned only on its error path is a pinning helper
        return PinSummary(
            pins_into, frozenset(releases - set(pins_into)), frozenset(stores), frozenset(handle_stores)
        )

    def _stores_param(self, fn: Function, name: str) -> type[Stored] | type[Handle] | None:
        """Whether `fn` keeps what its parameter `name` holds in a longer-lived place (Stored), or only
        a handle of it (Handle: `cmd->addr = page_to_phys(pages[i])`), directly or through a local
        that took it (`map->addr = addr; list_add_tail(&map->link, ...)`). The locals are gathered
        whatever the order of the statements (a few passes, bounded): a helper that keeps its
        argument on some path keeps it."""
        tracked, handles = {name}, set[str]()
        kept: type[Stored] | type[Handle] | None = None
        for _ in range(ALIAS_PASSES):
            before = len(tracked)
            for node in fn.nodes:
                event = self.event(fn, node, tracked, None, handles)
                if isinstance(event, Stored):
                    return Stored
                if isinstance(event, Handle) and isinstance(event.kept, Stored):
                    kept = Handle
            if len(tracked) == before:
                break
        return kept

    def release_position(self, fn: Function, call: CallSite) -> int | None:
        """The position of the pages a call releases (the first, for a helper that releases several)."""
        positions = self.release_positions(fn, call)
        return positions[0] if positions else None

    def release_positions(self, fn: Function, call: CallSite) -> tuple[int, ...]:
        """Every argument whose pages a call releases (a helper may release several: the finished
        transfer's pages and, on its error path, the next one's)."""
        position = self.program.api.release_position(call.callee)
        if position is not None:
            positions: tuple[int, ...] = (position,)
        elif call.callee in RELEASE_CALLBACKS:
            positions = self._released_by_callback(fn, call)
        else:
            callee = self.program.callee(fn, call)
            summary = self.summaries.get(callee.key) if callee else None
            positions = tuple(sorted(summary.releases)) if summary else ()
        return tuple(position for position in positions if position < len(call.args))

    def _released_by_callback(self, fn: Function, call: CallSite) -> tuple[int, ...]:
        """`kref_put(&obj->ref, obj_free)`: the object's pages, when obj_free() releases those of the
        object its parameter is in."""
        reference, callback = RELEASE_CALLBACKS[call.callee]
        if callback >= len(call.args):
            return ()
        name = call.args[callback].path or call.args[callback].text
        target = self.program.resolve(name, fn.file) if name else None
        summary = self.summaries.get(target.key) if target is not None else None
        return (reference,) if summary is not None and 0 in summary.releases else ()

    def _storing_positions(self, fn: Function, call: CallSite) -> tuple[frozenset[int], frozenset[int]]:
        """Arguments a call keeps: list_add()'s entry, or what a helper stores; and those of which it
        keeps only a handle (`dev->cmd.addr = page_to_phys(pages[0])`)."""
        if call.callee in LINKERS:
            return frozenset({LINKERS[call.callee]}), frozenset()
        callee = self.program.callee(fn, call)
        summary = self.summaries.get(callee.key) if callee else None
        return (summary.stores, summary.handle_stores) if summary else (frozenset(), frozenset())

    def _keeps_nothing(self, name: str) -> bool:
        """Calls that take `&page` (or the pages array) without keeping it: releases, memory and string
        calls, and the calls that only use a page."""
        return (
            self.program.api.release_position(name) is not None
            or name in MEMORY_ACCESS
            or name in PAGE_USERS
            or name in PAGE_ONLY_USES  # printk("%pa", &dma_addr) among them
        )

    # -- pin sites -----------------------------------------------------------------------
    def pins_in(self, fn: Function) -> list[Pin]:
        """Pin sites of `fn` (cached once the helper summaries are complete)."""
        if fn.key in self._pins:
            return self._pins[fn.key]
        pins = find_pins(self.program, self.summaries, fn)
        if self._summarised:
            self._pins[fn.key] = pins
        return pins

    def all_pins(self) -> list[Pin]:
        return [pin for fn in self.program.kernel_functions() for pin in self.pins_in(fn)]

    # -- what happens at a statement -------------------------------------------------------
    def event(
        self, fn: Function, node: CfgNode, tracked: set[str], pin: Pin | None, handles: set[str] | None = None
    ) -> PinEvent | None:
        """What happens to the pages (or their holder) at `node`. A local alias of them found on the
        way joins `tracked`; one that holds a handle of them (`pfn = page_to_pfn(page)`, and its
        copies) joins `handles` too: keeping it keeps the pages only if they are not released later."""
        if node.condition is not None and (pin is None or pin.node.id not in self.loop_body(fn, node)):
            # `for (i = 0; i < n; i++) put_page(pages[i]);` releases the pages even on the
            # path that skips the body (n == 0 pinned nothing)
            for body_id in self.loop_body(fn, node):
                for call in fn.nodes[body_id].calls:
                    if self._releases(fn, call, tracked):
                        return Released(call)
        for call in node.calls:
            if pin is None or call is not pin.call:
                found = self._call_event(fn, call, tracked, handles)
                if found is not None:
                    return found
        for store in node.stores:
            found = self._store_event(fn, store, tracked, handles)
            if found is not None:
                return found
        returned = node.returns
        if returned is not None:
            # `return pages;`, `return ctx;` — not `return register(&ctx->notifier, ...);` (its result)
            names = returned.names if returned.kind != ValueKind.CALL else ()
            if {root_of(name) for name in names} & tracked:
                return Returned()
        return None

    def _call_event(
        self, fn: Function, call: CallSite, tracked: set[str], handles: set[str] | None = None
    ) -> PinEvent | None:
        """A call that releases, keeps, or takes the address of the pages. A structure the pages are put
        into (`sg_set_page(&sgl[i], pages[i], ...)`) joins `tracked`."""
        if self._releases(fn, call, tracked):
            return Released(call)
        mapped = EXPORTS.get(call.callee)
        if mapped is not None and mapped < len(call.args):
            arg = call.args[mapped]
            if _held(arg, tracked):
                # `remap_pfn_range(vma, addr, pfn, ...)`: the user mapping keeps the pages until it goes
                return Handle(Stored(f"{call.callee}()"))
        holder = PAGE_HOLDERS.get(call.callee)
        if holder is not None and max(holder) < len(call.args):
            container, pages = call.args[holder[0]], call.args[holder[1]]
            if _held(pages, tracked):
                place = container.path or container.base or ""
                if not place:
                    return None
                kept = self._keeper(fn, place)
                tracked.add(root_of(place))
                # `sg_set_page(&obj->sg, page, ...)`: the object keeps them unless released later
                return Handle(kept) if kept is not None else None
        if (
            self.program.callee(fn, call) is None
            and not self._keeps_nothing(call.callee)
            and any(arg.address_of and (arg.path or arg.base or "") in tracked for arg in call.args)
        ):
            return Escaped()  # an out-parameter of code gupcheck cannot see
        pages_kept, handles_kept = self._storing_positions(fn, call)
        for position in sorted(pages_kept | handles_kept):
            if position >= len(call.args):
                continue
            held = _held(call.args[position], tracked)
            if held:
                kept = Stored(f"{call.callee}()")
                handle = position not in pages_kept or (handles is not None and held <= handles)
                return Handle(kept) if handle else kept
        return None

    def _store_event(
        self, fn: Function, store: Store, tracked: set[str], handles: set[str] | None = None
    ) -> PinEvent | None:
        """A store of the pages, or of a handle computed from them (`*paddr = page_to_phys(page)`),
        into a place: kept, handed to the caller, or a local alias (added to `tracked`)."""
        target = store.target.path or ""
        value = store.value
        # a copy of a local holding a handle (`last_pfn = pfn`) holds the handle, not the pages
        itself = value.path in tracked and not (handles is not None and value.path in handles)
        if not target or (not itself and not set(value.names) & tracked):
            return None
        target_root = root_of(target)
        if target_root in tracked:
            return None  # a field of the tracked object is set: it stays the tracked object
        kept = self._keeper(fn, target)
        if kept is not None:
            # a handle keeps the pin only if the page is not released afterwards: the path goes
            # on, and the handle counts if the pages reach the return
            return kept if itself else Handle(kept)
        if itself:
            tracked.add(target_root)  # a local alias of the pages: what becomes of it is what becomes of them
        elif target_root in fn.locals and (
            (value.calls and set(value.calls) <= PAGE_HANDLES)
            or (handles is not None and value.path in handles)
        ):
            # a local (or an object a local points to) holding a handle of them (`pfn =
            # page_to_pfn(page)`, `desc->ppn[i] = page_to_pfn(...)`, `last = pfn`)
            tracked.add(target_root)
            if handles is not None:
                handles.add(target_root)
        return None

    def _keeper(self, fn: Function, target: str) -> Stored | HandedOut | None:
        """What keeps pages put into `target`: a field of a long-lived object or a global (kept), the
        caller's object through a parameter (handed out), or nothing (a local)."""
        target_root = root_of(target)
        # `dev->pages = pages` or a global keeps the pages; `dev = pages` only rebinds a local
        if self.ownership.owner(fn, target_root) is not None and (
            target != target_root or target_root in self.ownership.globals_of(fn)
        ):
            return Stored(target)
        if target_root in {p.name for p in fn.params}:
            # `*out = pages` fills the caller's object: the caller passes &obj
            return HandedOut(target_root, target.lstrip("*")[len(target_root) :])
        if target != target_root and self.ownership.from_lookup(fn, target_root):
            return Stored(target)  # `obj = find(...); obj->pages = pages`: an object that lives on
        return None

    def _releases(self, fn: Function, call: CallSite, tracked: set[str]) -> bool:
        for position in self.release_positions(fn, call):
            key = pages_key(call.args[position])
            if key and (key in tracked or root_of(key) in tracked):
                return True
        return False

    def loop_body(self, fn: Function, test: CfgNode) -> tuple[int, ...]:
        """The nodes of the loop whose test is `test` that make calls, in order (empty for a plain
        `if`): nodes reached from its true branch, without passing the test, that lead back to it.
        They lie in the test's strongly connected component, so the search never leaves it (and
        a component without calls, such as a web of gotos, is not searched at all)."""
        key = (fn.key, test.id)
        if key not in self._loops:
            if fn.key not in self._cycles:
                self._cycles[fn.key] = cycles(fn)
            component = self._cycles[fn.key].get(test.id, frozenset())
            seen: set[int] = set()
            back = False
            if any(fn.nodes[member].calls for member in component):
                stack = [e.target for e in test.succs if e.label == EdgeLabel.TRUE]
                while stack:
                    current = stack.pop()
                    if current == test.id:
                        back = True
                    elif current in component and current not in seen:
                        seen.add(current)
                        stack.extend(e.target for e in fn.nodes[current].succs)
            calling = sorted(member for member in seen if fn.nodes[member].calls)
            self._loops[key] = tuple(calling) if back else ()
        return self._loops[key]

    def branch_facts(self, fn: Function) -> dict[int, frozenset]:
        """The branch outcomes known on every path to each node of `fn` (computed once)."""
        if fn.key not in self._conditions:
            self._conditions[fn.key] = fates.branch_facts(fn)
        return self._conditions[fn.key]

    # -- fate along paths ------------------------------------------------------------------
    def fate(self, pin: Pin) -> Fate:
        """The pages' fate along every path (cached once the helper summaries are complete)."""
        key = (pin.function.key, pin.node.id, id(pin.call), pin.pages)
        if key in self._fates:
            return self._fates[key]
        fate = fates.follow(self, pin)
        if self._summarised:
            self._fates[key] = fate
        return fate

    # -- reachability ------------------------------------------------------------------
    def syscall_entries_reaching(self, fn: Function) -> list[tuple[Function, Role]]:
        """Syscall entry points from which `fn` can be called (itself included)."""
        return [
            (current, role)
            for current in self.program.reaching(fn)
            for role in sorted(self.program.roles(current) & SYSCALL_ROLES)
        ]

    def outlives_syscall(self, pin: Pin, fate: Fate | None = None) -> bool:
        """Kept in a longer-lived place by code a syscall runs, and not released by a caller
        before that syscall returns."""
        return bool(self.syscalls_keeping(pin, fate))

    def syscalls_keeping(self, pin: Pin, fate: Fate | None = None) -> list[tuple[Function, Role]]:
        """The syscall entries after whose return the pages kept by `pin` are still held: every entry
        reaching the pin, but those whose callers of the pinning function (up to the entry) go on to
        release the field the pages are kept in."""
        fate = fate or self.fate(pin)
        entries = self.syscall_entries_reaching(pin.function)
        if not fate.stored or not entries:
            return []
        # the field each keeper holds them in (`STbp->mapped_pages = pages`: mapped_pages; pinned
        # straight into `dev->pages`: pages); a container call (`list_add()`) has none
        fields: set[str] = set()
        for place in {keep.place for keep in fate.stored}:
            if place.endswith("()"):
                continue  # a container: the field the pages are in says how they are released
            if last_field(place) == place:
                return entries  # a global or a bare variable: no field to look for releases of
            fields.add(last_field(place))
        if last_field(pin.pages) != pin.pages:
            fields.add(last_field(pin.pages))
        if not fields:
            return entries
        keeping: set[str] = set()
        for name in fields:
            keeping |= self._entries_not_releasing(pin.function, name)
        return [(entry, role) for entry, role in entries if entry.key in keeping]

    def function_facts(self, fn: Function) -> fates.FunctionFacts:
        """What every pin's path search in `fn` asks about it (computed once a function)."""
        if fn.key not in self._function_facts:
            self._function_facts[fn.key] = fates.function_facts(fn)
        return self._function_facts[fn.key]

    def search_stopped(self, fn: Function, states: int) -> None:
        """A pin's path search in `fn` ran past its budget (named once a function)."""
        if fn.key not in self._stopped:
            self._stopped.add(fn.key)
            self.program.unfinished.append(
                Unfinished(fn, "the paths of its pins", f"stopped after {states} path states")
            )

    def mirrored_by_notifier(self, pin: Pin) -> bool:
        """Case 3 of pin_user_pages.rst: the driver mirrors user memory under an MMU notifier whose
        invalidation (reached from its `invalidate*` or `release` callback) drops the device's page
        references, so the kept pages follow user space's page tables."""
        folder = os.path.dirname(pin.function.file)
        if folder not in self._mirroring:
            self._mirroring[folder] = any(
                self.program.api.release_position(call.callee) is not None
                for fn in self.program.kernel_functions()
                if os.path.dirname(fn.file) == folder and self.program.roles(fn) & MIRROR_ROLES
                for reached in self.program.reached(fn, side=Side.KERNEL)
                for _node, call in reached.call_sites()
            )
        return self._mirroring[folder]

    def released_at_completion(self, pin: Pin, fate: Fate | None = None) -> bool:
        """Held until the I/O completes (Case 1 of pin_user_pages.rst): the pages the syscall keeps are
        released where the transfer completes (a work item), and by no syscall but the ones that pin
        (on their error paths) — no unregister command, no `.release`."""
        fate = fate or self.fate(pin)
        fields = {last_field(pin.pages)} | {last_field(keep.place).rstrip("()") for keep in fate.stored}
        releasing = {fn.key: fn for fn, _call in self.releases(pin).calls}
        folder = os.path.dirname(pin.function.file)  # the same driver: a field name is no wider a key
        for name in fields - {""}:
            for fn, _call in self.releases_of_field(name):
                if os.path.dirname(fn.file) == folder:
                    releasing[fn.key] = fn
        if not releasing:
            return False
        roles: set[Role] = set()
        for fn in releasing.values():
            roles |= self.program.roles_reaching(fn)
        pinning = {role for _entry, role in self.syscall_entries_reaching(pin.function)}
        return bool(roles & COMPLETION_ROLES) and roles - COMPLETION_ROLES <= pinning

    def _entries_not_releasing(self, fn: Function, field_name: str) -> set[str]:
        """The keys of the syscall entries from which a call chain reaches `fn` with no release of
        the field after any of its calls (`do_execute()` calls `fixups()`, which keeps the pages in a
        list, and then `cleanup()`, which unpins them before the ioctl returns: not such an entry).
        Each function is visited once (bounded by the program)."""
        releasers = [f for f, _call in self.releases_of_field(field_name)]
        releasing = {f.key for f in self.program.reaching(*releasers)}
        unreleased: set[str] = set()
        seen: set[str] = set()
        pending = [fn]
        while pending:
            current = pending.pop()
            if current.key in seen:
                continue
            seen.add(current.key)
            if self.program.roles(current) & SYSCALL_ROLES:
                unreleased.add(current.key)  # the syscall returns here with the pages kept
            for ref in self.program.callers(current):
                if not self.program.roles_reaching(ref.caller) & SYSCALL_ROLES:
                    continue
                if not self._releases_after(ref.caller, ref.node, ref.call, releasing):
                    pending.append(ref.caller)
        return unreleased

    def _releases_after(self, caller: Function, node: CfgNode, call: CallSite, releasing: set[str]) -> bool:
        """Whether every path from `call` (at `node`) to the caller's return passes a call to a
        function that releases the pages; the paths on which `call` reports that it failed (and so
        kept nothing) aside. Each (node, whether the call's result is still in its variable) is
        visited once."""
        result = call.assigned_to
        zero_on_success = fates.returns_zero(self, caller, call)
        seen: set[tuple[int, bool]] = set()
        pending = [(node.id, True)]
        while pending:
            node_id, live = pending.pop()
            current = caller.nodes[node_id]
            if node_id != node.id:
                if any(
                    (target := self.program.callee(caller, later)) is not None and target.key in releasing
                    for later in current.calls
                ):
                    continue  # released on this path
                if node_id == caller.exit.id:
                    return False  # the caller returns with the pages still kept
                if live and result and any(store.target.path == result for store in current.stores):
                    live = False
            for edge in current.succs:
                if live and fates.call_failed(self, current, edge, result, call, zero_on_success):
                    continue
                if (edge.target, live) not in seen:
                    seen.add((edge.target, live))
                    pending.append((edge.target, live))
        return True

    def releases_of_field(self, field_name: str) -> list[tuple[Function, CallSite]]:
        """Release calls anywhere whose pages are reached through a field of that name."""
        return [
            (fn, call) for fn, call, key in self._release_index().get(field_name, ()) if key != field_name
        ]

    def _release_index(self) -> dict[str, list[tuple[Function, CallSite, str]]]:
        """Every release call, by the last field of its pages (their key)."""
        index = self._field_releases
        if index is None:
            index = {}
            for fn, _node, call in self.program.call_sites(Side.KERNEL):
                position = self.release_position(fn, call)
                if position is None:
                    continue
                key = pages_key(call.args[position]) or ""
                index.setdefault(last_field(key), []).append((fn, call, key))
            if self._summarised:  # kept once the helper summaries (wrapped releases) are all known
                self._field_releases = index
        return index

    # -- every release of a pin's pages ------------------------------------------------------
    def releases(self, pin: Pin) -> PinReleases:
        """The calls that may release the pages of `pin` (see `PinReleases`), and the other pins that
        share some of them."""
        calls, complete = self._releases_of_pin(pin)
        mine = {id(call) for _fn, call in calls}
        shared = tuple(
            other
            for other in self.all_pins()
            if (other.call is not pin.call or other.pages != pin.pages)
            and mine & {id(call) for _fn, call in self._releases_of_pin(other)[0]}
        )
        return PinReleases(tuple(calls), complete, shared)

    def _releases_of_pin(self, pin: Pin) -> tuple[list[tuple[Function, CallSite]], bool]:
        key = (pin.function.key, pin.node.id, id(pin.call), pin.pages)
        if key not in self._own_releases:
            self._own_releases[key] = self._find_releases(pin)
        return self._own_releases[key]

    def _find_releases(self, pin: Pin) -> tuple[list[tuple[Function, CallSite]], bool]:
        fn = pin.function
        fate = self.fate(pin)
        complete = not (fate.escaped or fate.handed_out or fate.returned)
        aliases = self._aliases(fn, {pin.pages})
        roots = {root_of(alias) for alias in aliases}
        reachable = sorted(reachable_from(fn, pin.node.id, include_start=True))
        found: dict[int, tuple[Function, CallSite]] = {}
        releases, safe = self._uses(fn, aliases.__contains__, reachable, skip=pin.call)
        complete &= safe
        for release in releases:
            found[id(release[1])] = release
        for node_id in reachable:
            for call in fn.nodes[node_id].calls:
                position = self.release_position(fn, call)
                if position is not None:
                    released = pages_key(call.args[position]) or ""
                    if released not in aliases and root_of(released) in roots:
                        complete = False  # releases something else of the same object: which is unclear
        # where the kept pages are found later: their own field, or the field or global they were
        # stored into
        places: set[_Place] = set()
        own = self._place_of(fn, pin.pages)
        if own is not None:
            places.add(own)
        holder = root_of(pin.pages) if last_field(pin.pages) != pin.pages else None
        for keep in fate.stored:
            if keep.place.endswith("()"):
                complete = False  # a container: the releases reach the pages through its entries
                continue
            values = [store.value.path for store in keep.node.stores if store.target.path == keep.place]
            if keep.place == pin.pages or (holder is not None and values and set(values) <= {holder}):
                continue  # the pages themselves, or the object that holds them in their own field
            place = self._place_of(fn, keep.place)
            if place is None or not values or not set(values) <= aliases:
                complete = False  # something derived from the pages, or a place without a name
                continue
            places.add(place)
        if not places and fate.stored:
            complete = False
        for place in sorted(places, key=repr):
            releases, safe = self._place_uses(place)
            complete &= safe and not self._holds_other_pages(place)
            for release in releases:
                found.setdefault(id(release[1]), release)
        return list(found.values()), complete

    def _place_uses(self, place: _Place) -> tuple[list[tuple[Function, CallSite]], bool]:
        """The calls anywhere that release the pages kept in `place` (named through it, or through a
        local loaded from it), and whether every other use of them is known to keep no reference."""
        if place not in self._place_releases:
            releases: list[tuple[Function, CallSite]] = []
            safe = True
            for fn in self._functions_naming(place.name):
                named = {
                    path
                    for _node, store in fn.stores()
                    for path in (store.value.path, store.target.path)
                    if path and place.holds(self._place_of(fn, path.removesuffix("[]").lstrip("*")))
                }
                named |= {
                    key
                    for _node, call in fn.call_sites()
                    for arg in call.args
                    if (key := pages_key(arg)) and place.holds(self._place_of(fn, key))
                }
                if not named:
                    continue
                aliases = self._aliases(fn, named)
                found, fine = self._uses(fn, aliases.__contains__, range(len(fn.nodes)))
                releases += found
                safe &= fine
                for _node, store in fn.stores():  # copied into another long-lived place
                    target = store.target.path or ""
                    if store.value.path in aliases and target not in fn.locals and target not in aliases:
                        safe = False
            self._place_releases[place] = (releases, safe)
        return self._place_releases[place]

    def _param_uses(
        self, fn: Function, index: int, depth: int
    ) -> tuple[list[tuple[Function, CallSite]], bool]:
        """What a helper does with the pages passed as its parameter `index` (see `_uses`)."""
        key = (fn.key, index)
        if key not in self._param_releases:
            self._param_releases[key] = ([], False)  # a recursion answers "not known"
            aliases = self._aliases(fn, {fn.params[index].name})
            found, safe = self._uses(fn, aliases.__contains__, range(len(fn.nodes)), depth=depth)
            for _node, store in fn.stores():
                if store.value.path in aliases and (store.target.path or "") not in fn.locals:
                    safe = False  # kept somewhere
            self._param_releases[key] = (found, safe)
        return self._param_releases[key]

    def _uses(
        self,
        fn: Function,
        names: Callable[[str], bool],
        node_ids: Iterable[int],
        skip: CallSite | None = None,
        depth: int = 0,
    ) -> tuple[list[tuple[Function, CallSite]], bool]:
        """The calls at `node_ids` of `fn` that release the pages a key for which `names` holds denotes,
        and whether every other call that takes them is known to keep no reference: a pin into them, a
        call that only uses pages, a free of the array, or a helper of the program that does the same
        (followed a few calls deep). Another reference taken on them, or an API gupcheck does not know,
        answers False."""
        releases: list[tuple[Function, CallSite]] = []
        safe = True
        for node_id in node_ids:
            for call in fn.nodes[node_id].calls:
                if call is skip or self.program.api.pin(call.callee, len(call.args)) is not None:
                    continue
                release_at = self.release_position(fn, call)
                for position, arg in enumerate(call.args):
                    if not names(pages_key(arg) or ""):
                        continue
                    if position == release_at:
                        releases.append((fn, call))
                    elif call.callee in PAGE_REFERENCES:
                        safe = False
                    elif call.callee in PAGE_ONLY_USES or call.callee in FREES:
                        continue
                    else:
                        callee = self.program.callee(fn, call)
                        if callee is None or depth >= 3 or position >= len(callee.params):
                            safe = False
                            continue
                        found, fine = self._param_uses(callee, position, depth + 1)
                        releases += found
                        safe &= fine
        return releases, safe

    def _functions_naming(self, name: str) -> list[Function]:
        """The kernel functions that store to, store, or pass to a call something whose last field (or
        whose name) is `name` (indexed once for every name)."""
        if self._naming is None:
            naming: dict[str, list[Function]] = {}
            for fn in self.program.kernel_functions():
                names = {
                    last_field(path.removesuffix("[]").lstrip("*"))
                    for _node, store in fn.stores()
                    for path in (store.value.path, store.target.path)
                    if path
                }
                names |= {
                    last_field(key)
                    for _node, call in fn.call_sites()
                    for arg in call.args
                    if (key := pages_key(arg))
                }
                for found in names:
                    naming.setdefault(found, []).append(fn)
            self._naming = naming
        return self._naming.get(name, [])

    def _place_of(self, fn: Function, key: str) -> _Place | None:
        """The place an access path names in `fn`: a field (with the struct it belongs to when `key` is
        `var->field` or `var.field` of a typed variable), or a global (a static one with its file)."""
        field = last_field(key)
        if field != key:
            struct = None
            step = re.fullmatch(r"(\w+)(?:->|\.)\w+", key)
            if step is not None:
                variable = self._variable(fn, step.group(1))
                found = re.search(r"\bstruct\s+(\w+)", variable.type) if variable is not None else None
                struct = found.group(1) if found is not None else None
            return _Place(field, struct=struct)
        if key in fn.locals or any(p.name == key for p in fn.params):
            return None
        variable = self._unit_globals.get(fn.file, {}).get(key)
        if variable is None:
            return None
        return _Place(key, is_global=True, file=fn.file if variable.is_static else None)

    def _variable(self, fn: Function, name: str) -> Variable | None:
        if name in fn.locals:
            return fn.locals[name]
        for param in fn.params:
            if param.name == name:
                return param
        return self._unit_globals.get(fn.file, {}).get(name)

    @staticmethod
    def _aliases(fn: Function, pages: set[str]) -> set[str]:
        """`pages` and the locals of `fn` that are assigned one of them (`p = pages`), transitively."""
        aliases = set(pages)
        changed = True
        while changed:
            changed = False
            for _node, store in fn.stores():
                target = store.target.path or ""
                if (
                    target in fn.locals
                    and target not in aliases
                    and not store.value.address_of
                    and store.value.path in aliases
                ):
                    aliases.add(target)
                    changed = True
        return aliases

    def _holds_other_pages(self, place: _Place) -> bool:
        """Whether `place` is also given pages other than pinned ones anywhere: a store of one of its
        elements, or of a value that is neither NULL, a new array nor pinned pages kept there."""
        if place in self._other_pages:
            return self._other_pages[place]
        if self._keep_nodes is None:
            self._keep_nodes = {
                id(keep.node) for other in self.all_pins() for keep in self.fate(other).stored
            }
        found = False
        for fn in self._functions_naming(place.name):
            for node, store in fn.stores():
                target = store.target.path or ""
                element = target.endswith("[]")
                target = target.removesuffix("[]").lstrip("*")
                if last_field(target) != place.name or not place.holds(self._place_of(fn, target)):
                    continue
                if element or not (_empty_or_array(store.value) or id(node) in self._keep_nodes):
                    found = True
                    break
            if found:
                break
        self._other_pages[place] = found
        return found


@dataclass(frozen=True)
class _Place:
    """Where kept pages are found again: a field (of a struct, when known) or a global (of a file, when
    static)."""

    name: str
    struct: str | None = None
    is_global: bool = False
    file: str | None = None

    def holds(self, other: _Place | None) -> bool:
        """Whether `other` may be the same place (an unknown struct may be any)."""
        if other is None or other.name != self.name or other.is_global != self.is_global:
            return False
        if self.is_global:
            return self.file == other.file
        return self.struct is None or other.struct is None or self.struct == other.struct


def _empty_or_array(value: Value) -> bool:
    """NULL, 0, or a newly allocated array (of page pointers): no pages in it yet."""
    if value.const_value == 0 or value.text in ("NULL", "0"):
        return True
    return (value.kind == ValueKind.HEAP or allocates(value.calls)) and not PAGE_ALLOCATORS & set(value.calls)
