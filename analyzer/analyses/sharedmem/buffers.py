"""Where a driver shares memory with user space: the buffers it exports through mmap and the names
of the places inside them.

A buffer is named by its access path: a struct field by its name (`dev->ring` and `d->ring` are the
same buffer), a global by its own. Only what the driver treats as memory counts (it allocates, frees,
dereferences, indexes or copies it), never an offset, a physical address or a context pointer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gupcheck.kernel_api.allocators import ALLOCATORS, allocates
from gupcheck.kernel_api.entries import FAULT_ROLES, Role
from gupcheck.kernel_api.frees import FREES
from gupcheck.kernel_api.mapping import CONTEXT_FIELDS, EXPORTS, KERNEL_ADDRESS_CONVERSIONS
from gupcheck.kernel_api.memory import MEMORY_ACCESS, MemoryCall
from gupcheck.model.facts import Function, Side, Value, ValueKind, last_field, root_of
from gupcheck.model.findings import SourceLocation
from gupcheck.model.program import Program


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


class SharedBuffers:
    """The shared buffers of the kernel side of a program, and the places access paths name in them."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.kernel = program.kernel_functions()
        self._globals = {unit.path: set(unit.globals) for unit in program.units}
        self.buffers: dict[tuple[str, str], SharedBuffer] = {}
        self.keys: dict[str, set[str]] = {}  # file -> buffer keys
        self._find_exports()
        self._aliases: dict[str, dict[str, Place]] = {}
        self._find_aliases()

    def shares(self, file: str) -> bool:
        """Whether the file exports any buffer."""
        return file in self.keys

    def buffer(self, fn: Function, place: Place) -> SharedBuffer:
        return self.buffers[(fn.file, place.key)]

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
                self.keys[file].discard(key)
                continue
            buffer.writable = not self._refuses_write(buffer.file)
        self.keys = {file: keys for file, keys in self.keys.items() if keys}

    def _memory_keys(self) -> dict[str, set[str]]:
        """Per file, the names of what the driver treats as memory: allocates, frees, dereferences,
        indexes or copies to or from."""
        keys: dict[str, set[str]] = {}
        for fn in self.kernel:
            if fn.file not in self.keys:
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
                    reads, writes = reads_writes(call.callee)
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
            for _node, store in fn.stores():
                if store.target.path == root and store.value.path and not store.value.calls:
                    origins |= self._pointer_origins(fn, store.value.path, depth + 1)
        elif param is not None:
            for ref in self.program.callers(fn):
                arg = ref.call.args[param.index] if param.index < len(ref.call.args) else None
                if arg is not None and arg.path and not arg.calls:
                    origins |= self._pointer_origins(ref.caller, arg.path, depth + 1)
        return origins

    @staticmethod
    def _is_fault_page(fn: Function, roles: set[Role], target: str) -> bool:
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
            self.keys.setdefault(fn.file, set()).add(key)
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
                for _node, store in fn.stores():
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
        handlers = [fn for fn in self.kernel if fn.file == file and Role.MMAP in self.program.roles(fn)]
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
        functions = [fn for fn in self.kernel if fn.file in self.keys]
        for fn in functions:
            self._aliases[fn.key] = {}
        for _round in range(8):
            changed = False
            for fn in functions:
                aliases = self._aliases[fn.key]
                for _node, store in fn.stores():
                    target = store.target.path or ""
                    variable = fn.locals.get(target)
                    if (
                        variable is None
                        or not (variable.is_pointer or variable.is_array)
                        or target in aliases
                    ):
                        continue
                    place = self.points_into(fn, store.value)
                    if place is not None:
                        aliases[target] = place
                        changed = True
                for param in fn.params:
                    if not param.is_pointer or param.name in aliases:
                        continue
                    for ref in self.program.callers(fn):
                        if param.index < len(ref.call.args) and ref.caller.file == fn.file:
                            place = self.points_into(ref.caller, ref.call.args[param.index])
                            if place is not None:
                                aliases[param.name] = place
                                changed = True
                                break
            if not changed:
                break

    def points_into(self, fn: Function, value: Value) -> Place | None:
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
        keys = self.keys.get(fn.file)
        if not keys:
            return None
        if root in keys and root in self._globals.get(fn.file, ()):
            return Place(root, _normal(rest))
        for match in re.finditer(r"(?:->|\.)([A-Za-z_]\w*)", rest):
            if match.group(1) in keys:
                return Place(match.group(1), _normal(rest[match.end() :]))
        return None


def reads_writes(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
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
