"""The shared-memory analysis every GUP004 sub-check asks: buffers and places (`buffers`), accesses
and fetches (`accesses`), the locks held on every path, what reaches each function, and who may still
map a buffer when it is freed. It answers; the rule's sub-checks decide what is a bug."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from gupcheck.analyses.dataflow import facts_along_branches, must_facts, reachable_from
from gupcheck.analyses.locksets import LockSets, kernel_lock_classifier, lock_key
from gupcheck.analyses.sharedmem import accesses
from gupcheck.analyses.sharedmem.accesses import Access, Fetch, _is_local
from gupcheck.analyses.sharedmem.buffers import Place, SharedBuffer, SharedBuffers
from gupcheck.kernel_api.allocators import allocates
from gupcheck.kernel_api.atomics import COUNT_DOWNS, COUNT_UPS, MARKED_WRITES
from gupcheck.kernel_api.bounds import CLAMPS
from gupcheck.kernel_api.entries import MODULE_ROLES, Role
from gupcheck.kernel_api.frees import FREES
from gupcheck.kernel_api.locks import ACQUIRE, RELEASE, LockAction
from gupcheck.kernel_api.memory import SIZE_ARGUMENTS
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    Comparison,
    Function,
    OpsTable,
    Side,
    Store,
    Value,
    ValueKind,
    last_field,
    root_of,
)
from gupcheck.model.findings import SourceLocation
from gupcheck.model.program import Program

MASK = re.compile(r"[\w)\]]\s*[&%]\s*[\w(]")  # `head & RING_MASK`, `idx % NSLOTS`


@dataclass(eq=False)
class LockCommand:
    """A driver ioctl command that takes (or drops) a lock it leaves for user space to release."""

    handler: Function
    macro: str | None
    value: int | None
    location: SourceLocation
    key: str  # lock name, or "word:<buffer><path>" for a lock word in the shared page
    action: LockAction
    how: str  # "semaphore 'dev->sem'", "lock word 'hdr->lock'"


class SharedMemory:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.kernel = program.kernel_functions()
        self.index = SharedBuffers(program)
        self.buffers: dict[tuple[str, str], SharedBuffer] = self.index.buffers
        self.locks = LockSets(program, Side.KERNEL, kernel_lock_classifier(program.api))
        self._lock_names = self._spell_locks()
        self._bounded: dict[str, dict[int, frozenset]] = {}
        self._read_fields: frozenset[str] | None = None
        self._varying: frozenset[str] | None = None

    # -- places, accesses and fetches ------------------------------------------------------------
    def place(self, fn: Function, path: str | None) -> Place | None:
        """The shared place an access path names, if any: `dev->ring->len` -> (ring, .len)."""
        return self.index.place(fn, path)

    def points_into(self, fn: Function, value: Value) -> Place | None:
        """The shared place a pointer value points into."""
        return self.index.points_into(fn, value)

    def shares(self, file: str) -> bool:
        return self.index.shares(file)

    def buffer(self, fn: Function, place: Place) -> SharedBuffer:
        return self.index.buffer(fn, place)

    def accesses(self, fn: Function) -> list[Access]:
        """Loads and stores of shared memory in `fn`, one per place and location."""
        return accesses.accesses(self.index, fn)

    def fetches(self, fn: Function) -> list[Fetch]:
        """Values `fn` reads from shared memory (plain loads of a field, or marked reads)."""
        return accesses.fetches(self.index, fn)

    # -- context -------------------------------------------------------------------------------
    def reaching_roles(self, fn: Function) -> frozenset[Role]:
        """Entry roles from which `fn` can be called (its own included)."""
        return self.program.roles_reaching(fn)

    def before_sharing(self, fn: Function, place: Place) -> bool:
        """Code that runs while nobody can map the buffer: module init/exit, or the function that
        allocates it (it is not published yet)."""
        roles = self.reaching_roles(fn)
        if roles and roles <= MODULE_ROLES:
            return True
        allocated = {
            store.target.path
            for _node, store in fn.stores()
            if store.value.kind == ValueKind.HEAP or allocates(store.value.calls)
        }
        return any(
            self.index.place(fn, store.target.path) in (Place(place.key), Place(place.key, "[]"))
            and (
                store.target.path in allocated
                or (store.value.path in allocated and _is_local(fn, store.value.path))
            )
            for _node, store in fn.stores()
        )

    def held(self, access: Access) -> frozenset:
        """Locks held at an access on every path. An access through a helper's parameter that
        points into the buffer counts only the callers passing that buffer (a helper filling the
        entries of several queues holds, for this one, what the callers passing this one hold)."""
        fn = access.function
        held = self.locks.held(fn, access.node.id)
        aliases = self.index.aliased_params(fn)
        if self.program.roles(fn) or not any(place.key == access.place.key for place in aliases.values()):
            return held
        callers = self.program.callers(fn)
        passing = tuple(
            ref
            for ref in callers
            if any(
                place.key == access.place.key
                and param.index < len(ref.call.args)
                and (into := self.points_into(ref.caller, ref.call.args[param.index])) is not None
                and into.key == place.key
                for param in fn.params
                if (place := aliases.get(param.name)) is not None
            )
        )
        if not passing or len(passing) == len(callers):
            return held
        return self.locks.held_from(fn, access.node.id, passing)

    def varying_locks(self) -> frozenset[str]:
        """Locks taken through a pointer parameter (`spin_lock(lock)` in a helper called with
        `&cq->cq_lock` by one caller and `&rq->consumer_lock` by another): the callers choose the
        lock, so the name stands for no one lock and tells nothing of what protects a buffer."""
        if self._varying is None:
            varying: set[str] = set()
            for fn in self.kernel:
                params = {p.name: p for p in fn.params if p.is_pointer}
                for _node, call in fn.call_sites():
                    api = self.program.api.lock(call.callee)
                    if api is None or not call.args:
                        continue
                    param = params.get((call.args[0].path or "").lstrip("*&"))
                    if param is None:
                        continue
                    passed = {
                        lock_key(ref.call.args[param.index])
                        for ref in self.program.callers(fn)
                        if param.index < len(ref.call.args)
                    }
                    if len(passed) > 1:
                        varying |= {event.key for event in self.locks.events(fn, call)}
            self._varying = frozenset(varying)
        return self._varying

    def _spell_locks(self) -> dict[str, tuple[str, str]]:
        """How each lock is spelled where it is taken, and its kind: "lock" -> ("dev->lock", "mutex")."""
        names: dict[str, tuple[str, str]] = {}
        for fn in self.kernel:
            for _node, call in fn.call_sites():
                api = self.program.api.lock(call.callee)
                if api is not None and api.action == ACQUIRE and call.args and call.args[0].path:
                    for event in self.locks.events(fn, call):
                        names.setdefault(event.key, (call.args[0].path.lstrip("*"), api.kind))
        return names

    def lock_spelling(self, key: str) -> tuple[str, str]:
        return self._lock_names.get(key, (key, "lock"))

    def user_writable(self, fetch: Fetch) -> bool:
        fn = fetch.function
        buffer = self.buffers.get((fn.file, fetch.place.key))
        if buffer is None or not buffer.writable:
            return False
        roles = self.reaching_roles(fn)
        return not (roles and roles <= MODULE_ROLES)

    @staticmethod
    def fetched_copies(fn: Function, fetches: list[Fetch]) -> dict[str, Fetch]:
        """Locals holding a value fetched from shared memory, directly or computed from one
        (not through a clamp or a mask)."""
        copies = {f.copied_to: f for f in fetches if f.copied_to}
        changed = True
        while changed:
            changed = False
            for _node, store in fn.stores():
                target = store.target.path
                if target is None or not _is_local(fn, target) or target in copies:
                    continue
                value = store.value
                if set(value.calls) & CLAMPS or MASK.search(value.text):
                    continue
                source = next((copies[name] for name in value.names if name in copies), None)
                if source is not None:
                    copies[target] = source
                    changed = True
        return copies

    def bounded_locals(self, fn: Function) -> dict[int, frozenset]:
        """Locals bounded from above on every path to each node (compared, assigned a constant, a
        clamp or a mask)."""
        if fn.key not in self._bounded:
            self._bounded[fn.key] = must_facts(
                fn, edge_gen=facts_along_branches(_bounded_by), transfer=_bound_transfer
            )
        return self._bounded[fn.key]

    @staticmethod
    def sized_uses(fn: Function) -> Iterator[tuple[CfgNode, Value, str, SourceLocation]]:
        """(node, value, "length"/"index", location) of every size argument and array index."""
        for node in fn.nodes:
            for call in node.calls:
                for position in SIZE_ARGUMENTS.get(call.callee, ()):
                    if position < len(call.args):
                        yield node, call.args[position], "length", call.location
            for subscript in node.subscripts:
                yield node, subscript.index, "index", subscript.location

    def calls_in_sequence(
        self, fn: Function
    ) -> Iterator[tuple[CfgNode, CallSite, Function, CfgNode, CallSite, Function]]:
        """Pairs of calls `fn` makes to two different kernel functions of the program, the second on
        a path after the first (`validate(dev, p); ... patch(dev, p);`), each with its callee."""
        calls = [
            (node, call, callee)
            for node, call in fn.call_sites()
            if (callee := self.program.callee(fn, call)) is not None
            and callee is not fn
            and self.program.side_of(callee) == Side.KERNEL
            and self.shares(callee.file)
        ]
        for node, call, callee in calls:
            if len(calls) < 2:
                return
            later = reachable_from(fn, node.id)
            for other_node, other_call, other in calls:
                if other is not callee and other_node.id in later:
                    yield node, call, callee, other_node, other_call, other

    @staticmethod
    def is_local(fn: Function, name: str | None) -> bool:
        """`name` is an automatic local of `fn` (not a static, a parameter or a global)."""
        return _is_local(fn, name)

    @staticmethod
    def derived_locals(fn: Function, fetch: Fetch) -> set[str]:
        """The locals holding the fetched value or a value computed from it, its bits included
        (`id = (le32_to_cpu(p->hdr) & ID_MASK) >> ID_SHIFT`, `size = sizes[id]`, `total += size`)."""
        derived: set[str] = {
            store.target.path
            for store in fetch.node.stores
            if store.target.path and fetch.text in store.value.names and _is_local(fn, store.target.path)
        }
        if fetch.copied_to:
            derived.add(fetch.copied_to)
        changed = bool(derived)
        while changed:
            changed = False
            for _node, store in fn.stores():
                target = store.target.path
                if (
                    target
                    and target not in derived
                    and _is_local(fn, target)
                    and derived & set(store.value.names)
                ):
                    derived.add(target)
                    changed = True
        return derived

    @staticmethod
    def refetched(fn: Function, fetches: list[Fetch], fetch: Fetch) -> bool:
        """The fetch reads again a place that was checked on a path before it."""
        return any(
            other.checked
            and other.place == fetch.place
            and other.node.id != fetch.node.id
            and fetch.node.id in reachable_from(fn, other.node.id)
            for other in fetches
        )

    def read_back(self, path: str) -> bool:
        """Whether kernel code reads the field a path ends in as a value of its own: in a branch
        condition, a computation, a call argument, an index or a return; its own `++`/`--` and
        copies of the whole structure holding it do not count (a statistic only user space reads)."""
        if self._read_fields is None:
            fields: set[str] = set()
            for fn in self.kernel:
                for node in fn.nodes:
                    values = [s.value for s in node.stores if s.op not in ("++", "--")]
                    values += [arg for call in node.calls for arg in call.args]
                    values += [subscript.index for subscript in node.subscripts]
                    values += [node.returns] if node.returns is not None else []
                    names = {name for value in values for name in value.names}
                    for atom in node.condition.atoms() if node.condition else ():
                        names |= {*atom.lhs.names, *(atom.rhs.names if atom.rhs else ())}
                    fields |= {last_field(name) for name in names}
            self._read_fields = frozenset(fields)
        return last_field(path.lstrip("*")) in self._read_fields

    # -- lifetimes: who may still map a buffer when it is freed --------------------------------
    def has_vm_close(self, file: str) -> bool:
        return any(
            table.struct == "vm_operations_struct" and any(f.field == "close" for f in table.fields)
            for unit in self.program.units
            if unit.path == file
            for table in unit.ops_tables
        )

    def vm_tables(self, file: str) -> list[OpsTable]:
        """The vm_operations_struct tables a file defines."""
        return [
            table
            for unit in self.program.units
            if unit.path == file
            for table in unit.ops_tables
            if table.struct == "vm_operations_struct"
        ]

    def tracks_copies(self, table: OpsTable, file: str) -> bool:
        """Whether a vma of these ops is duplicated only with the driver knowing: a `.open` callback
        that does something (a count, a reference) or a `.may_split` callback. VM_DONTCOPY is not
        enough: it stops the copy at fork, not the split of a partial munmap or mprotect."""
        for entry in table.fields:
            if entry.field == "may_split":
                return True
            if entry.field == "open":
                opener = self.program.resolve(entry.function, file)
                if opener is None or any(node.stores or node.calls for node in opener.nodes):
                    return True
        return False

    def freed_arguments(self, fn: Function, call: CallSite, depth: int = 0) -> list[Value]:
        """The arguments a call frees: the pointer a free function takes, or an argument a driver
        helper passes on to one (`drv_free_buf(dev, size, vaddr)` wrapping dma_free_coherent())."""
        position = FREES.get(call.callee)
        if position is not None:
            return [call.args[position]] if position < len(call.args) else []
        callee = self.program.callee(fn, call)
        if callee is None or depth >= 2 or self.program.side_of(callee) != Side.KERNEL:
            return []
        freed = []
        for _node, inner in callee.call_sites():
            for value in self.freed_arguments(callee, inner, depth + 1):
                param = next((p for p in callee.params if value.path == p.name), None)
                if param is not None and param.index < len(call.args):
                    freed.append(call.args[param.index])
        return freed

    def callees(self, fn: Function) -> list[Function]:
        """`fn` and the kernel functions it calls, a few calls deep."""
        return list(self.program.reached(fn, side=Side.KERNEL, expand_depth=3))

    def per_open(self, fn: Function, path: str, depth: int) -> bool:
        """The freed buffer belongs to the file being released (`ctx = file->private_data`, with
        a context allocated in .open): a mapping holds a reference to its file, so .release runs
        only once every mapping of it is gone."""
        path = path.lstrip("*")
        root = root_of(path)
        if path.endswith("->private_data") or (path != root and root_of(path) in ("file", "filp")):
            return self.open_allocates_context(fn.file)
        if depth > 4:
            return False
        if root in fn.locals:
            sources = [
                store.value.path for node in fn.nodes for store in node.stores if store.target.path == root
            ]
            return bool(sources) and all(
                source and self.per_open(fn, source, depth + 1) for source in sources
            )
        param = next((p for p in fn.params if p.name == root), None)
        if param is not None and not self.program.roles(fn):
            callers = self.program.callers(fn)
            return bool(callers) and all(
                param.index < len(ref.call.args)
                and bool(ref.call.args[param.index].path)
                and self.per_open(ref.caller, ref.call.args[param.index].path or "", depth + 1)
                for ref in callers
            )
        return False

    def open_allocates_context(self, file: str) -> bool:
        for fn in self.kernel:
            if fn.file != file or Role.OPEN not in self.program.roles(fn):
                continue
            for _node, store in fn.stores():
                if (store.target.path or "").endswith("->private_data"):
                    value = store.value
                    if value.kind == ValueKind.HEAP or allocates(value.calls):
                        return True
                    if value.path in fn.locals and any(
                        s.target.path == value.path
                        and (s.value.kind == ValueKind.HEAP or allocates(s.value.calls))
                        for n in fn.nodes
                        for s in n.stores
                    ):
                        return True
        return False

    def counted(self, fn: Function, release: Function) -> bool:
        """The free depends on a count of openers that .open raises (the last close frees), or the
        device admits one opener at a time (an `opened` flag .open sets and .release clears)."""
        ups: set[str] = set()
        for opener in self.kernel:
            if opener.file == release.file and Role.OPEN in self.program.roles(opener):
                for node in opener.nodes:
                    ups |= {last_field(s.target.path or "") for s in node.stores if _raises(s)}
                    ups |= {
                        last_field(c.args[p].path or "")
                        for c in node.calls
                        if (p := COUNT_UPS.get(c.callee)) is not None and p < len(c.args)
                    }
        ups.discard("")
        if not ups:
            return False
        for current in {fn.key: fn, release.key: release}.values():
            for node in current.nodes:
                downs = {last_field(s.target.path or "") for s in node.stores if _lowers(s)}
                downs |= {
                    last_field(c.args[p].path or "")
                    for c in node.calls
                    if (p := COUNT_DOWNS.get(c.callee)) is not None and p < len(c.args)
                }
                if downs & ups:
                    return True
        return False

    # -- lock and unlock commands a driver offers user space ----------------------------------
    def lock_commands(self) -> list[LockCommand]:
        """Commands of drivers that share memory which take a lock (or set a lock word in the shared
        page) and return with it, and the commands that drop it. Only pairs are kept."""
        commands: list[LockCommand] = []
        for handler in self.kernel:
            if not self.shares(handler.file):
                continue
            for macro, value, case in self.program.ioctl_dispatch(handler):
                commands.extend(self._case_locks(handler, macro, value, case))
        keys = {c.key for c in commands if c.action == ACQUIRE} & {
            c.key for c in commands if c.action == RELEASE
        }
        return [c for c in commands if c.key in keys]

    def _case_locks(
        self, handler: Function, macro: str | None, value: int | None, case: CfgNode
    ) -> list[LockCommand]:
        location = case.location or handler.location
        region = reachable_from(handler, case.id) | {case.id}
        before = self.locks.held(handler, case.id)
        commands = []
        for key in sorted(self.locks.returns_holding(handler, case.id, before) - before):
            spelled, kind = self.lock_spelling(key)
            commands.append(LockCommand(handler, macro, value, location, key, ACQUIRE, f"{kind} '{spelled}'"))
        events = [
            event
            for node_id in region
            for call in handler.nodes[node_id].calls
            for event in self.locks.events(handler, call)
        ]
        released = {event.key for event in events if event.action == RELEASE}
        acquired = {event.key for event in events if event.action == ACQUIRE}
        # a command that takes and drops the lock itself is an ordinary locked command
        for key in sorted(released - acquired - before):
            spelled, kind = self.lock_spelling(key)
            commands.append(LockCommand(handler, macro, value, location, key, RELEASE, f"{kind} '{spelled}'"))
        for node_id in sorted(region):
            for key, spelled, written in self._lock_word_writes(handler, handler.nodes[node_id]):
                action = RELEASE if written == 0 else ACQUIRE
                commands.append(
                    LockCommand(handler, macro, value, location, key, action, f"lock word '{spelled}'")
                )
        return commands

    def _lock_word_writes(self, fn: Function, node: CfgNode) -> list[tuple[str, str, int]]:
        """Constants written to a lock word in shared memory (`hdr->lock = 1`,
        `WRITE_ONCE(hdr->lock, 0)`): (key, spelling, value)."""
        writes = [(store.target.path, store.value.const_value) for store in node.stores]
        writes += [
            (call.args[0].path, call.args[1].const_value)
            for call in node.calls
            if call.callee in MARKED_WRITES and len(call.args) > 1
        ]
        found = []
        for path, written in writes:
            place = self.index.place(fn, path)
            if place is None or written is None or "lock" not in place.suffix.rsplit(".", 1)[-1]:
                continue
            found.append((f"word:{place.key}{place.suffix}", path or "", written))
        return found


def _bounded_by(atom: Comparison, outcome: bool) -> list[str]:
    return [name for bounded, _bound in atom.upper_bounds(outcome) for name in bounded.names]


def _bound_transfer(node: CfgNode, facts: frozenset) -> frozenset:
    for store in node.stores:
        target = store.target.path
        if not target:
            continue
        value = store.value
        facts = facts - {target}
        if value.const_value is not None or set(value.calls) & CLAMPS or MASK.search(value.text):
            facts = facts | {target}
    return facts


def _raises(store: Store) -> bool:
    """`users++`, `users += 1`, `opened = 1`."""
    return store.op in ("++", "+=") or (store.op == "=" and store.value.const_value not in (None, 0))


def _lowers(store: Store) -> bool:
    """`users--`, `users -= 1`, `opened = 0`."""
    return store.op in ("--", "-=") or (store.op == "=" and store.value.const_value == 0)
