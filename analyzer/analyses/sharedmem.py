"""Memory a driver shares with user space through mmap, and how each side touches it.

Driver side: the buffers a driver exports (pages handed out by a `.fault` handler,
`remap_pfn_range`, `vm_insert_page(s)`, `remap_vmalloc_range`, `dma_mmap_coherent`, `vmalloc_user`
buffers), named by their access path (`dev->ring` and `d->ring` are the same buffer: a struct
field is matched by its name, a global by its own), every kernel access to them with the locks
held on every path, the values the kernel fetches from them, counters changed in
`vm_operations_struct` callbacks, and buffers freed when a file is released.

Userland side: lock and unlock ioctls a driver offers around its shared buffer (a command that
returns with a lock held that another command releases, or that sets and clears a lock word in
the shared page), and the accesses a program makes to its `MAP_SHARED` mapping of the device
outside such a bracket.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from dataclasses import dataclass, field

from gupcheck.analyses.crosslayer import same_request
from gupcheck.analyses.dataflow import must_facts, reachable_from
from gupcheck.analyses.locksets import LockEvent, LockSets, kernel_lock_classifier
from gupcheck.kernel_api.allocators import ALLOCATORS, allocates
from gupcheck.kernel_api.atomics import COUNT_DOWNS, COUNT_UPS, MARKED_READS, MARKED_WRITES, is_atomic
from gupcheck.kernel_api.bounds import CLAMPS
from gupcheck.kernel_api.entries import FAULT_ROLES, MODULE_ROLES, VM_ROLES
from gupcheck.kernel_api.frees import FREES
from gupcheck.kernel_api.locks import ACQUIRE, RELEASE
from gupcheck.kernel_api.mapping import CONTEXT_FIELDS, EXPORTS, KERNEL_ADDRESS_CONVERSIONS
from gupcheck.kernel_api.memory import MEMORY_ACCESS, SIZE_ARGUMENTS, MemoryCall
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    Comparison,
    Edge,
    Function,
    Side,
    Store,
    Value,
    ValueKind,
    last_field,
    root_of,
)
from gupcheck.model.findings import SourceLocation
from gupcheck.model.program import Program

_MASK = re.compile(r"[\w)\]]\s*[&%]\s*[\w(]")  # `head & RING_MASK`, `idx % NSLOTS`


@dataclass(frozen=True)
class Place:
    """A place in shared memory: the buffer and the path inside it (`.len`, `[]`, `.slots[].seq`;
    "" for the buffer itself)."""

    key: str
    suffix: str = ""


@dataclass(eq=False)
class Export:
    function: Function
    location: SourceLocation
    api: str  # "remap_pfn_range()", "a .fault handler", "vmalloc_user()"
    mapped: bool = True  # mapped here; False: allocated for mapping (vmalloc_user)

    def describe(self, spelling: str) -> str:
        if self.mapped:
            return f"'{spelling}' is mapped into user space by {self.api}"
        return f"'{spelling}' is allocated by {self.api}, memory made to be mapped into user space"


@dataclass(eq=False)
class SharedBuffer:
    file: str
    key: str
    spelling: str  # the access path as first exported: "dev->ring"
    exports: list[Export] = field(default_factory=list)
    writable: bool = True  # user space may write it (the mmap handler does not refuse VM_WRITE)

    @property
    def export(self) -> Export:
        """The place that best shows the sharing: a mapping call rather than the allocation."""
        return next((e for e in self.exports if e.mapped), self.exports[0])


@dataclass(eq=False)
class Access:
    """A kernel (or userland) load or store of shared memory."""

    function: Function
    node: CfgNode
    location: SourceLocation
    place: Place
    write: bool
    marked: bool  # READ_ONCE/WRITE_ONCE/smp_*/atomic_*: one access on purpose
    how: str  # "memcpy()", "load of", "store to"
    text: str


@dataclass(eq=False)
class Fetch:
    """A value the kernel reads from shared memory."""

    function: Function
    node: CfgNode
    location: SourceLocation
    place: Place
    marked: bool
    text: str  # "hdr->len"
    copied_to: str | None = None  # the local the value is copied into
    checked: bool = False  # read by a branch condition


# -- findings of the analysis --------------------------------------------------------------
@dataclass(eq=False)
class UnlockedAccess:
    access: Access
    buffer: SharedBuffer
    lock: str  # spelled as the others take it: "dev->lock"
    lock_kind: str
    locked_example: Access  # an access that holds it


@dataclass(eq=False)
class RacyCounter:
    function: Function
    location: SourceLocation
    target: str
    op: str
    role: str  # the vm callback reaching it: "vm_open"


@dataclass(eq=False)
class DoubleFetch:
    first: Fetch
    second: Fetch
    buffer: SharedBuffer


@dataclass(eq=False)
class UncheckedUse:
    fetch: Fetch
    use_location: SourceLocation
    use: str  # "length" or "index"
    value_text: str
    buffer: SharedBuffer


@dataclass(eq=False)
class MappedFree:
    function: Function
    call: CallSite
    buffer: SharedBuffer
    release: Function  # the .release handler reaching the free


@dataclass(eq=False)
class LockCommand:
    """A driver ioctl command that takes (or drops) a lock it leaves for user space to release."""

    handler: Function
    macro: str | None
    value: int | None
    location: SourceLocation
    key: str  # lock name, or "word:<buffer><path>" for a lock word in the shared page
    action: str  # ACQUIRE or RELEASE
    how: str  # "semaphore 'dev->sem'", "lock word 'hdr->lock'"


@dataclass(eq=False)
class UnbracketedAccess:
    access: Access
    lock_command: LockCommand
    unlock_command: LockCommand
    mapped_at: SourceLocation


class SharedMemory:
    """Shared buffers of the kernel side of a program, their accesses and what is wrong with them."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.kernel = program.kernel_functions()
        self._globals = {unit.path: set(unit.globals) for unit in program.units}
        self.buffers: dict[tuple[str, str], SharedBuffer] = {}
        self._keys: dict[str, set[str]] = {}  # file -> buffer keys
        self._find_exports()
        self._aliases: dict[str, dict[str, Place]] = {}
        self._find_aliases()
        self.locks = LockSets(program, Side.KERNEL, kernel_lock_classifier(program.api))
        self._lock_names = self._spell_locks()
        self._roles: dict[str, frozenset[str]] = {}

    # -- buffers ----------------------------------------------------------------------------
    def _find_exports(self) -> None:
        for fn in self.kernel:
            roles = self.program.roles(fn)
            for node in fn.nodes:
                for call in node.calls:
                    position = EXPORTS.get(call.callee)
                    if position is not None and position < len(call.args):
                        for path in self._sources(fn, call.args[position], 0):
                            self._add_buffer(fn, path, Export(fn, call.location, f"{call.callee}()"))
                    if _user_mappable(call.callee) and call.assigned_to:
                        for path in self._holders(fn, call.assigned_to):
                            self._add_buffer(fn, path, Export(fn, call.location, f"{call.callee}()", False))
                for store in node.stores:
                    if self._is_fault_page(fn, roles, store.target.path or ""):
                        for path in self._sources(fn, store.value, 0):
                            self._add_buffer(fn, path, Export(fn, store.location, "a .fault handler"))
        memory = self._memory_keys()
        for (file, key), buffer in list(self.buffers.items()):
            if key in CONTEXT_FIELDS or key not in memory.get(file, ()):
                del self.buffers[(file, key)]  # an offset, a physical address or a context pointer
                self._keys[file].discard(key)
                continue
            buffer.writable = not self._refuses_write(buffer.file)
        self._keys = {file: keys for file, keys in self._keys.items() if keys}

    def _memory_keys(self) -> dict[str, set[str]]:
        """Per file, the names of what the driver treats as memory: allocates, frees, dereferences,
        indexes or copies to or from."""
        keys: dict[str, set[str]] = {}
        for fn in self.kernel:
            if fn.file not in self._keys:
                continue
            paths: list[str | None] = []
            for node in fn.nodes:
                paths += [deref.pointer.path for deref in node.derefs]
                paths += [subscript.array.path for subscript in node.subscripts]
                paths += [
                    store.target.path
                    for store in node.stores
                    if store.value.kind == ValueKind.HEAP or allocates(store.value.calls)
                ]
                for call in node.calls:
                    reads, writes = _reads_writes(call.callee)
                    positions = (*reads, *writes, *([FREES[call.callee]] if call.callee in FREES else []))
                    for position in positions:
                        if position < len(call.args):
                            arg = call.args[position]
                            paths += [arg.path] if arg.path else list(arg.names)
                    if allocates((call.callee,)) and call.assigned_to:
                        paths.append(call.assigned_to)
            found = keys.setdefault(fn.file, set())
            for path in paths:
                for origin in self._pointer_origins(fn, path or "", 0):
                    key = self._buffer_key(fn, origin)
                    if key:
                        found.add(key)
        return keys

    def _pointer_origins(self, fn: Function, path: str, depth: int) -> set[str]:
        """Where a pointer comes from: `h` in `h = c->ring` -> c->ring, a helper's parameter -> what
        its callers pass."""
        path = path.lstrip("*")
        root = root_of(path)
        if not path or path.removesuffix("[]") != root or depth > 3:
            return {path} if path else set()
        origins = {path}
        param = next((p for p in fn.params if p.name == root), None)
        if root in fn.locals and not fn.locals[root].is_static:
            for node in fn.nodes:
                for store in node.stores:
                    if store.target.path == root and store.value.path and not store.value.calls:
                        origins |= self._pointer_origins(fn, store.value.path, depth + 1)
        elif param is not None:
            for ref in self.program.callers(fn):
                arg = ref.call.args[param.index] if param.index < len(ref.call.args) else None
                if arg is not None and arg.path and not arg.calls:
                    origins |= self._pointer_origins(ref.caller, arg.path, depth + 1)
        return origins

    @staticmethod
    def _is_fault_page(fn: Function, roles: set[str], target: str) -> bool:
        """`vmf->page = ...` in a fault handler."""
        root = root_of(target)
        param = next((p for p in fn.params if p.name == root), None)
        return (
            param is not None
            and target == f"{root}->page"
            and (bool(roles & FAULT_ROLES) or "vm_fault" in param.type)
        )

    def _add_buffer(self, fn: Function, path: str, export: Export) -> None:
        key = self._buffer_key(fn, path)
        if key is None:
            return
        buffer = self.buffers.get((fn.file, key))
        if buffer is None:
            buffer = self.buffers[(fn.file, key)] = SharedBuffer(fn.file, key, path.removesuffix("[]"))
            self._keys.setdefault(fn.file, set()).add(key)
        buffer.exports.append(export)

    def _buffer_key(self, fn: Function, path: str) -> str | None:
        path = path.lstrip("*")
        root = root_of(path)
        if path.removesuffix("[]") == root:
            return root if root in self._globals.get(fn.file, ()) else None
        return last_field(path).split("[")[0] or None

    def _sources(self, fn: Function, value: Value, depth: int) -> set[str]:
        """Access paths of the kernel memory an export argument is computed from:
        `page_to_pfn(virt_to_page(dev->buf))` -> dev->buf, through locals and helper parameters."""
        found: set[str] = set()
        if depth > 5:
            return found
        helpers = set(value.calls) - KERNEL_ADDRESS_CONVERSIONS
        if helpers:
            # computed by a driver helper (`vmf->page = drv_page(dev, off)`): what it returns
            for name in sorted(helpers):
                callee = self.program.resolve(name, fn.file)
                if callee is None or self.program.side_of(callee) != Side.KERNEL:
                    return set()
                for node in callee.nodes:
                    if node.returns is not None:
                        found |= self._sources(callee, node.returns, depth + 1)
            return found
        vm_params = {p.name for p in fn.params if "vm_area_struct" in p.type or "vm_fault" in p.type}
        names = {*value.names, *([value.path] if value.path else [])}
        # `mem[i].addr` also names the array `mem`: only the longer path is what is mapped
        names = {
            name
            for name in names
            if not any(
                other != name and other.startswith((f"{name}[", f"{name}.", f"{name}->")) for other in names
            )
        }
        for name in names:
            path = name.lstrip("*")
            root = root_of(path)
            if root in vm_params:
                continue
            if path != root:
                found.add(path)
                continue
            param = next((p for p in fn.params if p.name == root), None)
            if root in fn.locals and not fn.locals[root].is_static:
                for node in fn.nodes:
                    for store in node.stores:
                        if store.target.path == root and store.value.path != root:
                            found |= self._sources(fn, store.value, depth + 1)
            elif param is not None:
                for ref in self.program.callers(fn):
                    if param.index < len(ref.call.args):
                        found |= self._sources(ref.caller, ref.call.args[param.index], depth + 1)
            elif root in self._globals.get(fn.file, ()):
                found.add(path)
        return found

    @staticmethod
    def _holders(fn: Function, assigned: str) -> list[str]:
        """Where an allocation is kept: `dev->buf = vmalloc_user(n)`, or a local stored there."""
        if assigned != root_of(assigned) or assigned not in fn.locals:
            return [assigned]
        return [
            store.target.path
            for node in fn.nodes
            for store in node.stores
            if store.value.path == assigned and store.target.path and store.target.path != assigned
        ]

    def _refuses_write(self, file: str) -> bool:
        """Every mmap handler of the file refuses writable mappings (tests VM_WRITE and fails, or
        clears VM_MAYWRITE)."""
        handlers = [fn for fn in self.kernel if fn.file == file and "mmap" in self.program.roles(fn)]
        return bool(handlers) and all(
            any(
                (node.condition is not None and "VM_WRITE" in node.text) or "~VM_MAYWRITE" in node.text
                for node in fn.nodes
            )
            for fn in handlers
        )

    # -- naming places ----------------------------------------------------------------------
    def _find_aliases(self) -> None:
        """Pointer locals and parameters that point into a shared buffer (`hdr = dev->ring`,
        `p = dev->buf + off`, a helper called with `dev->buf`), to a fixpoint."""
        functions = [fn for fn in self.kernel if fn.file in self._keys]
        for fn in functions:
            self._aliases[fn.key] = {}
        for _round in range(8):
            changed = False
            for fn in functions:
                aliases = self._aliases[fn.key]
                for node in fn.nodes:
                    for store in node.stores:
                        target = store.target.path or ""
                        variable = fn.locals.get(target)
                        if (
                            variable is None
                            or not (variable.is_pointer or variable.is_array)
                            or target in aliases
                        ):
                            continue
                        place = self._points_into(fn, store.value)
                        if place is not None:
                            aliases[target] = place
                            changed = True
                for param in fn.params:
                    if not param.is_pointer or param.name in aliases:
                        continue
                    for ref in self.program.callers(fn):
                        if param.index < len(ref.call.args) and ref.caller.file == fn.file:
                            place = self._points_into(ref.caller, ref.call.args[param.index])
                            if place is not None:
                                aliases[param.name] = place
                                changed = True
                                break
            if not changed:
                break

    def _points_into(self, fn: Function, value: Value) -> Place | None:
        """The shared place a pointer value points into: `dev->buf`, `&ring->slots[i]`,
        `(char *)dev->buf + off` (somewhere in the buffer)."""
        if value.kind in (ValueKind.CALL, ValueKind.HEAP, ValueKind.CONST, ValueKind.STRING) or value.calls:
            return None  # a call's result (virt_to_page() gives a struct page, not the memory)
        if value.path:
            return self.place(fn, value.path)
        for name in value.names:
            place = self.place(fn, name)
            if place is not None and place.suffix == "":
                return Place(place.key, "[]")
        return None

    def place(self, fn: Function, path: str | None) -> Place | None:
        """The shared place an access path names, if any: `dev->ring->len` -> (ring, .len)."""
        if not path:
            return None
        path = path.lstrip("*")
        root = root_of(path)
        rest = path[len(root) :]
        alias = self._aliases.get(fn.key, {}).get(root)
        if alias is not None:
            return Place(alias.key, _normal(alias.suffix + rest))
        keys = self._keys.get(fn.file)
        if not keys:
            return None
        if root in keys and root in self._globals.get(fn.file, ()):
            return Place(root, _normal(rest))
        for match in re.finditer(r"(?:->|\.)([A-Za-z_]\w*)", rest):
            if match.group(1) in keys:
                return Place(match.group(1), _normal(rest[match.end() :]))
        return None

    # -- accesses ---------------------------------------------------------------------------
    def accesses(self, fn: Function) -> list[Access]:
        """Loads and stores of shared memory in `fn`, one per place and location."""
        if fn.file not in self._keys:
            return []
        found: dict[tuple, Access] = {}

        def add(
            node: CfgNode,
            location: SourceLocation,
            place: Place | None,
            write: bool,
            marked: bool,
            how: str,
            text: str,
        ) -> None:
            if place is not None:
                found.setdefault(
                    (location, place, write), Access(fn, node, location, place, write, marked, how, text)
                )

        for node in fn.nodes:
            indexed = {s.location: f"{s.array.text}[{s.index.text}]" for s in node.subscripts}
            for deref in node.derefs:
                if self.place(fn, deref.pointer.path) is not None:
                    place = self.place(fn, deref.path) or self.place(fn, deref.pointer.path)
                    add(
                        node,
                        deref.location,
                        place,
                        deref.is_write,
                        False,
                        "store to" if deref.is_write else "load of",
                        indexed.get(deref.location) or deref.path or deref.pointer.text,
                    )
            for subscript in node.subscripts:
                array = subscript.array
                if array.address_of and array.fixed_size is not None:  # an array: no pointer deref
                    add(
                        node,
                        subscript.location,
                        self.place(fn, f"{array.path}[]" if array.path else None),
                        subscript.is_write,
                        False,
                        "store to" if subscript.is_write else "load of",
                        f"{array.text}[{subscript.index.text}]",
                    )
            for call in node.calls:
                for access in self._call_accesses(fn, node, call):
                    add(
                        node,
                        access.location,
                        access.place,
                        access.write,
                        access.marked,
                        access.how,
                        access.text,
                    )
            for store in node.stores:
                self._store_access(fn, node, store, found)
        return list(found.values())

    def _store_access(self, fn: Function, node: CfgNode, store: Store, found: dict[tuple, Access]) -> None:
        """`h->slots[i].seq = 1` writes `.slots[].seq`, where the parse saw only a load of the
        element `h->slots[i]`: the store names the place written."""
        place = self.place(fn, store.target.path)
        if place is None or not place.suffix or store.target.path == root_of(store.target.path or ""):
            return
        for key, access in list(found.items()):
            if (
                access.node is node
                and access.place.key == place.key
                and not access.write
                and place.suffix.startswith(access.place.suffix)
                and access.place != place
            ):
                del found[key]
                found[(access.location, place, True)] = Access(
                    fn, node, access.location, place, True, False, "store to", store.target.text
                )
                return
        if not any(
            access.node is node and access.place == place and access.write for access in found.values()
        ):
            found[(store.location, place, True)] = Access(
                fn, node, store.location, place, True, False, "store to", store.target.text
            )

    def _call_accesses(self, fn: Function, node: CfgNode, call: CallSite) -> list[Access]:
        accesses = []
        marked = {
            **{k: (v, False) for k, v in MARKED_READS.items()},
            **{k: (v, True) for k, v in MARKED_WRITES.items()},
        }
        if call.callee in marked:
            position, write = marked[call.callee]
            if position < len(call.args):
                place = self.place(fn, call.args[position].path)
                if place is not None:
                    accesses.append(
                        Access(
                            fn,
                            node,
                            call.location,
                            place,
                            write,
                            True,
                            f"{call.callee}()",
                            call.args[position].text,
                        )
                    )
            return accesses
        if is_atomic(call.callee):
            for arg in call.args:
                place = self.place(fn, arg.path) if arg.address_of else None
                if place is not None:
                    accesses.append(
                        Access(fn, node, call.location, place, True, True, f"{call.callee}()", arg.text)
                    )
            return accesses
        reads, writes = _reads_writes(call.callee)
        for positions, write in ((reads, False), (writes, True)):
            for position in positions:
                if position < len(call.args):
                    place = self._points_into(fn, call.args[position])
                    if place is not None:
                        accesses.append(
                            Access(
                                fn,
                                node,
                                call.location,
                                place,
                                write,
                                False,
                                f"{call.callee}()",
                                call.args[position].text,
                            )
                        )
        return accesses

    def reaching_roles(self, fn: Function) -> frozenset[str]:
        """Entry roles from which `fn` can be called (its own included)."""
        if fn.key not in self._roles:
            roles: set[str] = set()
            seen = {fn.key}
            queue = deque([fn])
            while queue:
                current = queue.popleft()
                roles |= self.program.roles(current)
                for ref in self.program.callers(current):
                    if ref.caller.key not in seen:
                        seen.add(ref.caller.key)
                        queue.append(ref.caller)
            self._roles[fn.key] = frozenset(roles)
        return self._roles[fn.key]

    def _before_sharing(self, fn: Function, place: Place) -> bool:
        """Code that runs while nobody can map the buffer: module init/exit, or the function that
        allocates it (it is not published yet)."""
        roles = self.reaching_roles(fn)
        if roles and roles <= MODULE_ROLES:
            return True
        return any(
            self.place(fn, store.target.path) == Place(place.key)
            and (store.value.kind == ValueKind.HEAP or allocates(store.value.calls))
            for node in fn.nodes
            for store in node.stores
        )

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

    # -- sub-check 1: unlocked accesses -------------------------------------------------------
    def unlocked_accesses(self) -> list[UnlockedAccess]:
        found = []
        by_buffer: dict[tuple[str, str], list[tuple[Access, frozenset]]] = {}
        for fn in self.kernel:
            for access in self.accesses(fn):
                if access.marked or self._before_sharing(fn, access.place):
                    continue
                held = self.locks.held(fn, access.node.id)
                by_buffer.setdefault((fn.file, access.place.key), []).append((access, held))
        for key, accesses in by_buffer.items():
            buffer = self.buffers[key]
            counts = Counter(lock for _access, held in accesses for lock in held)
            if not counts:
                continue
            lock = max(sorted(counts), key=lambda name: counts[name])
            example = next(access for access, held in accesses if lock in held)
            spelled, kind = self.lock_spelling(lock)
            locked_write = any(access.write for access, held in accesses if held)
            for access, held in accesses:
                # two reads do not race: an unlocked read matters only against a locked write
                if not held & counts.keys() and (access.write or locked_write):
                    found.append(UnlockedAccess(access, buffer, spelled, kind, example))
        return found

    # -- sub-check 2: counters in vm callbacks ------------------------------------------------
    def racy_counters(self) -> list[RacyCounter]:
        found = []
        for fn in self.kernel:
            roles = self.reaching_roles(fn) & VM_ROLES
            if not roles:
                continue
            vma_params = {p.name for p in fn.params if "vm_area_struct" in p.type or "vm_fault" in p.type}
            for node in fn.nodes:
                for store in node.stores:
                    target = store.target.path or ""
                    if store.op not in ("++", "--", "+=", "-=") or not target:
                        continue
                    bare = target.lstrip("*")
                    root = root_of(bare)
                    variable = fn.locals.get(root) or next((p for p in fn.params if p.name == root), None)
                    if (
                        variable is not None
                        and not variable.is_static
                        and (bare == root or not variable.is_pointer or "->" not in target)
                    ):
                        continue  # a local or a parameter, or a field of a struct held by value
                    if root in vma_params and target.count("->") == 1 and "." not in target:
                        continue  # the vma's own fields: mmap_lock is held for writing
                    if self.locks.held(fn, node.id):
                        continue
                    found.append(RacyCounter(fn, store.location, target, store.op, sorted(roles)[0]))
        return found

    # -- sub-check 3: fetches from user-writable memory ---------------------------------------
    def fetches(self, fn: Function) -> list[Fetch]:
        if fn.file not in self._keys:
            return []
        found: dict[tuple, Fetch] = {}
        for node in fn.nodes:
            condition_names = {
                name
                for atom in (node.condition.atoms() if node.condition else ())
                for name in (*atom.lhs.names, *(atom.rhs.names if atom.rhs else ()))
            }
            for deref in node.derefs:
                if deref.is_write or self.place(fn, deref.pointer.path) is None:
                    continue
                place = self.place(fn, deref.path)
                if place is None or not place.suffix or "[" in place.suffix:
                    continue
                copied = next(
                    (
                        store.target.path
                        for store in node.stores
                        if store.value.path == deref.path and _is_local(fn, store.target.path)
                    ),
                    None,
                )
                found.setdefault(
                    (deref.location, place),
                    Fetch(
                        fn,
                        node,
                        deref.location,
                        place,
                        False,
                        deref.path or "",
                        copied,
                        deref.path in condition_names,
                    ),
                )
            for call in node.calls:
                position = MARKED_READS.get(call.callee)
                if position is None or position >= len(call.args):
                    continue
                arg = call.args[position]
                place = self.place(fn, arg.path)
                if place is None or not place.suffix or "[" in place.suffix:
                    continue
                copied = call.assigned_to if _is_local(fn, call.assigned_to) else None
                checked = node.condition is not None and any(
                    atom.call is not None and atom.call.callee == call.callee or call.callee in atom.lhs.calls
                    for atom in node.condition.atoms()
                )
                text = (arg.path or arg.text).lstrip("&")
                found.setdefault(
                    (call.location, place), Fetch(fn, node, call.location, place, True, text, copied, checked)
                )
        return list(found.values())

    def double_fetches(self) -> list[DoubleFetch]:
        found = []
        for fn in self.kernel:
            fetches = [f for f in self.fetches(fn) if self._user_writable(f)]
            written = {access.place for access in self.accesses(fn) if access.write}
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
                    found.append(DoubleFetch(first, second, self.buffers[(fn.file, first.place.key)]))
        return found

    def _user_writable(self, fetch: Fetch) -> bool:
        fn = fetch.function
        buffer = self.buffers.get((fn.file, fetch.place.key))
        if buffer is None or not buffer.writable:
            return False
        roles = self.reaching_roles(fn)
        return not (roles and roles <= MODULE_ROLES)

    def unchecked_uses(self) -> list[UncheckedUse]:
        """Lengths and indexes taken from user-writable shared memory without a check between the
        (single) fetch and the use."""
        found = []
        for fn in self.kernel:
            fetches = [f for f in self.fetches(fn) if self._user_writable(f)]
            if not fetches:
                continue
            at_node = {(f.node.id, f.text): f for f in fetches}
            copies = self._fetched_copies(fn, fetches)
            bounded = None
            reported: set[Place] = set()
            for node, value, use, location in _sized_uses(fn):
                if set(value.calls) & CLAMPS or _MASK.search(value.text):
                    continue
                fetch = next(
                    (at_node[(node.id, name)] for name in value.names if (node.id, name) in at_node), None
                )
                if fetch is None:
                    local = next((name for name in value.names if name in copies), None)
                    if local is None:
                        continue
                    if bounded is None:
                        bounded = must_facts(fn, edge_gen=_bound_facts, transfer=_bound_transfer)
                    if local in bounded[node.id]:
                        continue
                    fetch = copies[local]
                if _refetched(fn, fetches, fetch):
                    continue  # checked, then read again: reported as a double fetch
                if fetch.place in reported:
                    continue
                reported.add(fetch.place)
                found.append(
                    UncheckedUse(fetch, location, use, value.text, self.buffers[(fn.file, fetch.place.key)])
                )
        return found

    @staticmethod
    def _fetched_copies(fn: Function, fetches: list[Fetch]) -> dict[str, Fetch]:
        """Locals holding a value fetched from shared memory, directly or computed from one
        (not through a clamp or a mask)."""
        copies = {f.copied_to: f for f in fetches if f.copied_to}
        changed = True
        while changed:
            changed = False
            for node in fn.nodes:
                for store in node.stores:
                    target = store.target.path
                    if not _is_local(fn, target) or target in copies:
                        continue
                    value = store.value
                    if set(value.calls) & CLAMPS or _MASK.search(value.text):
                        continue
                    source = next((copies[name] for name in value.names if name in copies), None)
                    if source is not None:
                        copies[target] = source
                        changed = True
        return copies

    # -- sub-check 4: buffers freed while still mapped -----------------------------------------
    def mapped_frees(self) -> list[MappedFree]:
        found = []
        for release in self.kernel:
            if "release" not in self.program.roles(release) or release.file not in self._keys:
                continue
            if self._has_vm_close(release.file):
                continue
            for fn in self._callees(release):
                for node in fn.nodes:
                    for call in node.calls:
                        position = FREES.get(call.callee)
                        if position is None or position >= len(call.args):
                            continue
                        arg = call.args[position]
                        place = self._points_into(fn, arg) if arg.path is None else self.place(fn, arg.path)
                        if place is None or place.suffix:
                            continue
                        if self._per_open(fn, arg.path or "", 0) or self._counted(fn, release):
                            continue
                        found.append(MappedFree(fn, call, self.buffers[(fn.file, place.key)], release))
        return found

    def _has_vm_close(self, file: str) -> bool:
        return any(
            table.struct == "vm_operations_struct" and any(f.field == "close" for f in table.fields)
            for unit in self.program.units
            if unit.path == file
            for table in unit.ops_tables
        )

    def _callees(self, fn: Function) -> list[Function]:
        found = [fn]
        seen = {fn.key}
        queue = deque([(fn, 0)])
        while queue:
            current, depth = queue.popleft()
            if depth > 3:
                continue
            for _node, call in current.call_sites():
                callee = self.program.callee(current, call)
                if (
                    callee is not None
                    and callee.key not in seen
                    and self.program.side_of(callee) == Side.KERNEL
                ):
                    seen.add(callee.key)
                    found.append(callee)
                    queue.append((callee, depth + 1))
        return found

    def _per_open(self, fn: Function, path: str, depth: int) -> bool:
        """The freed buffer belongs to the file being released (`ctx = file->private_data`, with
        a context allocated in .open): a mapping holds a reference to its file, so .release runs
        only once every mapping of it is gone."""
        path = path.lstrip("*")
        root = root_of(path)
        if path.endswith("->private_data") or (path != root and root_of(path) in ("file", "filp")):
            return self._open_allocates_context(fn.file)
        if depth > 4:
            return False
        if root in fn.locals:
            sources = [
                store.value.path for node in fn.nodes for store in node.stores if store.target.path == root
            ]
            return bool(sources) and all(
                source and self._per_open(fn, source, depth + 1) for source in sources
            )
        param = next((p for p in fn.params if p.name == root), None)
        if param is not None and not self.program.roles(fn):
            callers = self.program.callers(fn)
            return bool(callers) and all(
                param.index < len(ref.call.args)
                and bool(ref.call.args[param.index].path)
                and self._per_open(ref.caller, ref.call.args[param.index].path or "", depth + 1)
                for ref in callers
            )
        return False

    def _open_allocates_context(self, file: str) -> bool:
        for fn in self.kernel:
            if fn.file != file or "open" not in self.program.roles(fn):
                continue
            for node in fn.nodes:
                for store in node.stores:
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

    def _counted(self, fn: Function, release: Function) -> bool:
        """The free depends on a count of openers that .open raises (the last close frees), or the
        device admits one opener at a time (an `opened` flag .open sets and .release clears)."""
        ups: set[str] = set()
        for opener in self.kernel:
            if opener.file == release.file and "open" in self.program.roles(opener):
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

    # -- the userland half: lock and unlock commands ---------------------------------------------
    def lock_commands(self) -> list[LockCommand]:
        """Commands of drivers that share memory which take a lock (or set a lock word in the shared
        page) and return with it, and the commands that drop it. Only pairs are kept."""
        commands: list[LockCommand] = []
        for handler in self.kernel:
            if handler.file not in self._keys:
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
            place = self.place(fn, path)
            if place is None or written is None or "lock" not in place.suffix.rsplit(".", 1)[-1]:
                continue
            found.append((f"word:{place.key}{place.suffix}", path or "", written))
        return found

    def unbracketed_accesses(self) -> list[UnbracketedAccess]:
        commands = self.lock_commands()
        if not commands:
            return []
        return UserMappings(self.program, commands).unbracketed()


class UserMappings:
    """Userland programs that map a device with lock and unlock commands, and their accesses to the
    mapping."""

    def __init__(self, program: Program, commands: list[LockCommand]) -> None:
        self.program = program
        self.commands = commands
        self.userland = [fn for fn in program.functions.values() if program.side_of(fn) == Side.USERLAND]
        self.locks = LockSets(program, Side.USERLAND, self._lock_events)

    def _command(self, call: CallSite) -> list[LockCommand]:
        if call.callee != "ioctl" or len(call.args) < 2:
            return []
        request = call.args[1]
        return [
            c for c in self.commands if same_request(request.macro, request.const_value, c.macro, c.value)
        ]

    def _lock_events(self, fn: Function, call: CallSite) -> list[LockEvent]:
        return [LockEvent(c.action, f"{c.handler.file}:{c.key}") for c in self._command(call)]

    def _driver_of(self, file: str) -> str | None:
        """The driver with lock commands that a userland file talks to (an ioctl it handles)."""
        for fn in self.userland:
            if fn.file != file:
                continue
            for _node, call in fn.call_sites():
                if call.callee != "ioctl" or len(call.args) < 2:
                    continue
                request = call.args[1]
                for handler in self.program.kernel_functions():
                    if any(
                        same_request(request.macro, request.const_value, m, v)
                        for m, v, _case in self.program.ioctl_dispatch(handler)
                    ) and any(c.handler.file == handler.file for c in self.commands):
                        return handler.file
        return None

    def _mappings(self) -> dict[str, dict[str, SourceLocation]]:
        """Per function: variables pointing into a MAP_SHARED mapping of a device, and where it was
        mapped (locals, globals, helper parameters)."""
        mapped: dict[str, dict[str, SourceLocation]] = {fn.key: {} for fn in self.userland}
        global_maps: dict[str, dict[str, SourceLocation]] = {}
        for fn in self.userland:
            for _node, call in fn.call_sites():
                if call.callee == "mmap" and len(call.args) > 3 and call.assigned_to and _shared_device(call):
                    target = call.assigned_to
                    if target in fn.locals:
                        mapped[fn.key][target] = call.location
                    else:
                        global_maps.setdefault(fn.file, {})[target] = call.location
        for fn in self.userland:
            mapped[fn.key].update(
                {name: where for name, where in global_maps.get(fn.file, {}).items() if name not in fn.locals}
            )
        for _round in range(6):
            changed = False
            for fn in self.userland:
                names = mapped[fn.key]
                for node in fn.nodes:
                    for store in node.stores:
                        target = store.target.path or ""
                        variable = fn.locals.get(target)
                        if variable is None or not variable.is_pointer or target in names:
                            continue
                        source = _mapped_source(store.value, names)
                        if source is not None:
                            names[target] = names[source]
                            changed = True
                for param in fn.params:
                    if not param.is_pointer or param.name in names:
                        continue
                    for ref in self.program.callers(fn):
                        if param.index < len(ref.call.args):
                            source = _mapped_source(ref.call.args[param.index], mapped[ref.caller.key])
                            if source is not None:
                                names[param.name] = mapped[ref.caller.key][source]
                                changed = True
                                break
            if not changed:
                break
        return mapped

    def unbracketed(self) -> list[UnbracketedAccess]:
        found: list[UnbracketedAccess] = []
        mapped = self._mappings()
        drivers: dict[str, str | None] = {}
        for fn in self.userland:
            names = mapped[fn.key]
            if not names:
                continue
            if fn.file not in drivers:
                drivers[fn.file] = self._driver_of(fn.file)
            driver = drivers[fn.file]
            if driver is None:
                continue
            locks = [c for c in self.commands if c.handler.file == driver and c.action == ACQUIRE]
            unlocks = [c for c in self.commands if c.handler.file == driver and c.action == RELEASE]
            keys = {f"{driver}:{c.key}" for c in locks}
            for access in _user_accesses(fn, names):
                if self.locks.held(fn, access.node.id) & keys:
                    continue
                root = root_of(access.place.key)
                found.append(UnbracketedAccess(access, locks[0], unlocks[0], names.get(root, fn.location)))
        return found


# -- helpers ------------------------------------------------------------------------------------
def _reads_writes(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The pointer arguments a call reads and writes memory through."""
    access = MEMORY_ACCESS.get(name, _NO_ACCESS)
    return access.reads, access.writes


_NO_ACCESS = MemoryCall()


def _user_mappable(name: str) -> bool:
    allocator = ALLOCATORS.get(name)
    return allocator is not None and allocator.user_mappable


def _normal(suffix: str) -> str:
    """`->slots[].seq` and `.slots[].seq` are the same place inside a buffer."""
    return suffix.replace("->", ".")


def _is_local(fn: Function, name: str | None) -> bool:
    return bool(name) and name in fn.locals and not fn.locals[name].is_static


def _refetched(fn: Function, fetches: list[Fetch], fetch: Fetch) -> bool:
    """The fetch reads again a place that was checked on a path before it."""
    return any(
        other.checked
        and other.place == fetch.place
        and other.node.id != fetch.node.id
        and fetch.node.id in reachable_from(fn, other.node.id)
        for other in fetches
    )


def _sized_uses(fn: Function):
    """(node, value, "length"/"index", location) of every size argument and array index."""
    for node in fn.nodes:
        for call in node.calls:
            for position in SIZE_ARGUMENTS.get(call.callee, ()):
                if position < len(call.args):
                    yield node, call.args[position], "length", call.location
        for subscript in node.subscripts:
            yield node, subscript.index, "index", subscript.location


def _bound_facts(node: CfgNode, edge: Edge) -> list[str]:
    if node.condition is None or edge.label not in ("true", "false"):
        return []
    bounded: list[str] = []
    for atom, outcome in node.condition.facts(edge.label == "true"):
        bounded.extend(_bounded_by(atom, outcome))
    return bounded


def _bounded_by(atom: Comparison, outcome: bool) -> list[str]:
    return [name for bounded, _bound in atom.upper_bounds(outcome) for name in bounded.names]


def _bound_transfer(node: CfgNode, facts: frozenset) -> frozenset:
    for store in node.stores:
        target = store.target.path
        if not target:
            continue
        value = store.value
        facts = facts - {target}
        if value.const_value is not None or set(value.calls) & CLAMPS or _MASK.search(value.text):
            facts = facts | {target}
    return facts


def _raises(store: Store) -> bool:
    """`users++`, `users += 1`, `opened = 1`."""
    return store.op in ("++", "+=") or (store.op == "=" and store.value.const_value not in (None, 0))


def _lowers(store: Store) -> bool:
    """`users--`, `users -= 1`, `opened = 0`."""
    return store.op in ("--", "-=") or (store.op == "=" and store.value.const_value == 0)


def _shared_device(call: CallSite) -> bool:
    flags = call.args[3].text
    return "MAP_SHARED" in flags and "MAP_ANON" not in flags


def _mapped_source(value: Value, names: dict[str, SourceLocation]) -> str | None:
    """The mapped variable a pointer value is computed from (`(struct shm *)map`, `map + off`)."""
    if value.kind in (ValueKind.CALL, ValueKind.HEAP):
        return None
    candidates = [value.path] if value.path else list(value.names)
    for name in candidates:
        root = root_of(name or "")
        if root in names and (name == root or value.address_of or value.path is None):
            return root
    return None


def _user_accesses(fn: Function, names: dict[str, SourceLocation]) -> list[Access]:
    found: dict[tuple, Access] = {}

    def add(node: CfgNode, location: SourceLocation, root: str, write: bool, how: str, text: str) -> None:
        found.setdefault((location, write), Access(fn, node, location, Place(root), write, False, how, text))

    for node in fn.nodes:
        indexed = {s.location: f"{s.array.text}[{s.index.text}]" for s in node.subscripts}
        for deref in node.derefs:
            root = root_of((deref.pointer.path or "").lstrip("*"))
            if root in names:
                add(
                    node,
                    deref.location,
                    root,
                    deref.is_write,
                    "store to" if deref.is_write else "load of",
                    indexed.get(deref.location) or deref.path or deref.pointer.text,
                )
        for call in node.calls:
            reads, writes = _reads_writes(call.callee)
            for positions, write in ((reads, False), (writes, True)):
                for position in positions:
                    if position < len(call.args):
                        source = _mapped_source(call.args[position], names)
                        if source is not None:
                            add(
                                node,
                                call.location,
                                source,
                                write,
                                f"{call.callee}()",
                                call.args[position].text,
                            )
    return list(found.values())
