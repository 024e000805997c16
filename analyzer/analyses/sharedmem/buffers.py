"""Where a driver shares memory with user space: the buffers it exports through mmap and the names
of the places inside them.

A buffer is named by its access path: a struct field by its name (`dev->ring` and `d->ring` are the
same buffer), a global by its own. When one field name holds exported memory in structures of
different types (`qp->recvq` of a queue pair, `srq->recvq` of a shared receive queue), each type's
field is a buffer of its own ("siw_qp::recvq"): the owner is the type of the variable the field is
read from, known when the field is the path's first step. Only what the driver treats as memory
counts (it allocates, frees, dereferences, indexes or copies it), never an offset, a physical address
or a context pointer.

Besides mmap exports, memory is shared when it is user pages pinned and mapped into the kernel
(`vmap`, `kmap`, `page_address` of pages a pin call filled: user space writes them at any time), or
an object of a type the configuration declares shared (`[api] shared-types`). A buffer is also
reached through the pointers into it the driver keeps: locals and parameters, struct fields
(`q->info = vaddr` makes `q->info->head` a place in the buffer `vaddr`) and arrays of page addresses
(`q->va[i] = page_address(q->pages[i])`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gupcheck.kernel_api.allocators import ALLOCATORS, allocates
from gupcheck.kernel_api.entries import FAULT_ROLES, Role
from gupcheck.kernel_api.frees import FREES
from gupcheck.kernel_api.mapping import CONTEXT_FIELDS, EXPORTS, KERNEL_ADDRESS_CONVERSIONS, PAGE_ADDRESSES
from gupcheck.kernel_api.memory import MEMORY_ACCESS, MemoryCall
from gupcheck.model.facts import Function, Side, Value, ValueKind, last_field, record_of, root_of
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
    how: str | None = None  # how else it is shared, with `{spelling}` for the buffer's name
    via: str = "through mmap"  # how user space reaches it, for messages

    def describe(self, spelling: str) -> str:
        if self.how is not None:
            return self.how.format(spelling=spelling)
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
    indirect: bool = False  # an array of pointers into the memory (`q->va[i]`): only what they point to

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
        self._global_variables = {unit.path: unit.globals for unit in program.units}
        self.buffers: dict[tuple[str, str], SharedBuffer] = {}
        self.keys: dict[str, set[str]] = {}  # file -> buffer keys
        self._pinned_locals: dict[str, dict[str, Place]] = {}  # function -> local -> the pinned page
        self._split: dict[str, set[str]] = {}  # file -> field names exported in several owner types
        self._find_exports()
        self._find_pinned_mappings()
        self._aliases: dict[str, dict[str, Place]] = {}
        self._fields: dict[str, dict[str, Place]] = {}  # file -> field ("info") -> the place it points to
        self._find_declared_types()
        self._find_aliases()

    def shares(self, file: str) -> bool:
        """Whether the file exports any buffer."""
        return file in self.keys

    def buffer(self, fn: Function, place: Place) -> SharedBuffer:
        return self.buffers[(fn.file, place.key)]

    def _find_exports(self) -> None:
        found: list[tuple[Function, str, Export]] = []
        for fn in self.kernel:
            roles = self.program.roles(fn)
            for node in fn.nodes:
                for call in node.calls:
                    position = EXPORTS.get(call.callee)
                    if position is not None and position < len(call.args):
                        for path in self._sources(fn, call.args[position], 0):
                            found.append((fn, path, Export(fn, call.location, f"{call.callee}()")))
                    if _user_mappable(call.callee) and call.assigned_to:
                        for path in self._holders(fn, call.assigned_to):
                            found.append((fn, path, Export(fn, call.location, f"{call.callee}()", False)))
                for store in node.stores:
                    if self._is_fault_page(fn, roles, store.target.path or ""):
                        for path in self._sources(fn, store.value, 0):
                            found.append((fn, path, Export(fn, store.location, "a .fault handler")))
        found += self._copied_from(found)
        owners: dict[tuple[str, str], set[str]] = {}
        for fn, path, _export in found:
            owner = self._owner(fn, path)
            if owner is not None:
                owners.setdefault((fn.file, self._buffer_key(fn, path) or ""), set()).add(owner)
        for (file, name), types in owners.items():
            if len(types) > 1:
                self._split.setdefault(file, set()).add(name)
        for fn, path, export in found:
            self._add_buffer(fn, path, export)
        memory = self._memory_keys()
        for (file, key), buffer in list(self.buffers.items()):
            name = key.rsplit("::", 1)[-1]
            if name in CONTEXT_FIELDS or name not in memory.get(file, ()):
                del self.buffers[(file, key)]  # an offset, a physical address or a context pointer
                self.keys[file].discard(key)
                continue
            buffer.writable = not self._refuses_write(buffer.file)
        self.keys = {file: keys for file, keys in self.keys.items() if keys}

    def _copied_from(self, found: list[tuple[Function, str, Export]]) -> list[tuple[Function, str, Export]]:
        """The fields an exported field is copied from (`info->mem[0].addr = (uintptr_t)udev->mb_addr`
        with `info->mem[i].addr` mapped by a .fault handler): the memory is the same, one step."""
        exported: dict[tuple[str, str], Export] = {}
        for fn, path, export in found:
            name = last_field(path).split("[")[0]
            if path != root_of(path) and name:
                exported.setdefault((fn.file, name), export)
        copies = []
        for fn in self.kernel:
            for _node, store in fn.stores():
                target, source = store.target.path or "", store.value.path or ""
                copied = exported.get((fn.file, last_field(target).split("[")[0]))
                if (
                    copied is not None
                    and target != root_of(target)
                    and source != root_of(source)
                    and not store.value.calls
                    and store.value.const_value is None
                    and last_field(source) != last_field(target)
                ):
                    copies.append((fn, source, copied))
        return copies

    def _find_pinned_mappings(self) -> None:
        """User pages a pin call filled, mapped into the kernel (`dev->kva = vmap(pages, n, ...)`,
        `va = kmap_local_page(pages[0])`): memory user space can write at any time, as if exported."""
        pinned: dict[str, dict[str, str]] = {}  # file -> page array -> the pin call
        for fn in self.kernel:
            for _node, call in fn.call_sites():
                api = self.program.api.pin(call.callee, len(call.args))
                if api is not None and api.pages < len(call.args):
                    name = self._page_array(fn, call.args[api.pages])
                    if name is None:
                        continue
                    filled = pinned.setdefault(fn.file, {})
                    filled.setdefault(name, call.callee)
                    # kept in a field (`ctx->pages = pages`): the field names them everywhere
                    local = call.args[api.pages].path or ""
                    for path in self._holders(fn, local) if local in fn.locals else ():
                        filled.setdefault(last_field(path).split("[")[0], call.callee)
        for fn in self.kernel:
            arrays = pinned.get(fn.file)
            if not arrays:
                continue
            for _node, call in fn.call_sites():
                position = PAGE_ADDRESSES.get(call.callee)
                if position is None or position >= len(call.args) or not call.assigned_to:
                    continue
                pin = arrays.get(self._page_array(fn, call.args[position]) or "")
                if pin is None:
                    pin = self._filled_from_pinned(fn, call.args[position], arrays)
                if pin is None:
                    continue
                how = (
                    f"'{{spelling}}' maps user pages pinned by {pin}() into the kernel ({call.callee}()): "
                    "user space can write them at any time"
                )
                export = Export(fn, call.location, f"{call.callee}()", True, how, "as pinned user pages")
                holders = [path for path in self._holders(fn, call.assigned_to) if path != root_of(path)]
                for path in holders:
                    self._add_buffer(fn, path, export)
                array = call.args[position].path or ""
                if holders or call.assigned_to not in fn.locals or array.lstrip("&") == root_of(array):
                    continue
                # `hdr = kmap_local_page(ctx->pages[0])`: the pages the field holds are the buffer
                name = self._page_array(fn, call.args[position]) or ""
                buffer = self.buffers.get((fn.file, name))
                if buffer is None:
                    spelling = array.lstrip("&").removesuffix("[]") + "[]"
                    buffer = self.buffers[(fn.file, name)] = SharedBuffer(
                        fn.file, name, spelling, indirect=True
                    )
                    self.keys.setdefault(fn.file, set()).add(name)
                buffer.exports.append(export)
                self._pinned_locals.setdefault(fn.key, {})[call.assigned_to] = Place(name)

    def _filled_from_pinned(self, fn: Function, value: Value, arrays: dict[str, str]) -> str | None:
        """A local array of pages whose elements are copied from pinned ones
        (`headers[0] = *q->header_page; vmap(headers, ...)`): the pin call that filled them."""
        local = (value.path or "").lstrip("&").removesuffix("[]")
        if local not in fn.locals:
            return None
        for _node, store in fn.stores():
            target = store.target.path or ""
            if target != local and root_of(target) == local and target.startswith(f"{local}["):
                pin = arrays.get(self._page_array(fn, store.value) or "")
                if pin is not None:
                    return pin
        return None

    def _page_array(self, fn: Function, value: Value) -> str | None:
        """The name of the pages array (or page) an argument denotes: `pages`, `&pages[0]` and
        `pages[i]` in one function are the same array, `dev->pages` in any function of the file."""
        path = value.path or (value.names[0] if len(value.names) == 1 else None)
        if not path:
            return None
        path = path.lstrip("*&")
        while path.endswith("[]"):
            path = path[:-2]
        root = root_of(path)
        if path == root:
            if root in fn.locals or any(p.name == root for p in fn.params):
                return f"{fn.key}:{root}"
            return root if root in self._globals.get(fn.file, ()) else None
        return last_field(path).split("[")[0] or None

    def _find_declared_types(self) -> None:
        """Objects of a type the configuration declares shared (`[api] shared-types`): every
        pointer to one, and every global of the type, names a place in a buffer named by the type."""
        types = self.program.api.shared_types
        if not types:
            return
        patterns = {t: re.compile(rf"^(?:const\s+)?{re.escape(t)}\s*(?:\*\s*(?:const\s*)?)?$") for t in types}
        for unit in self.program.units:
            for name, variable in unit.globals.items():
                for declared, pattern in patterns.items():
                    if pattern.match(variable.type) and "*" not in variable.type:
                        self._declare(unit.path, declared, name, variable.location)
        for fn in self.kernel:
            typed: dict[str, Place] = {}
            for variable in [*fn.params, *fn.locals.values()]:
                for declared, pattern in patterns.items():
                    if variable.is_pointer and pattern.match(variable.type):
                        self._declare(fn.file, declared, variable.name, variable.location)
                        typed[variable.name] = Place(declared)
            if not typed:
                continue
            self._aliases.setdefault(fn.key, {}).update(typed)
            # `ring = h->ring`: the field holds objects of the type wherever it is used
            for _node, store in fn.stores():
                source = store.value.path or ""
                if store.target.path in typed and source != root_of(source) and not store.value.calls:
                    field_name = last_field(source)
                    if field_name.isidentifier() and field_name not in CONTEXT_FIELDS:
                        self._fields.setdefault(fn.file, {}).setdefault(field_name, typed[store.target.path])

    def _declare(self, file: str, declared: str, spelling: str, location: SourceLocation) -> None:
        if (file, declared) in self.buffers:
            return
        owner = next((fn for fn in self.kernel if fn.file == file), None)
        if owner is None:
            return
        how = f"'{{spelling}}' is a '{declared}', declared shared with user space ([api] shared-types)"
        buffer = self.buffers[(file, declared)] = SharedBuffer(file, declared, spelling)
        buffer.exports.append(Export(owner, location, "[api] shared-types", True, how, "by declaration"))
        self.keys.setdefault(file, set()).add(declared)

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
        if key in self._split.get(fn.file, ()):
            owner = self._owner(fn, path)
            key = f"{owner}::{key}" if owner is not None else key
        buffer = self.buffers.get((fn.file, key))
        if buffer is None:
            buffer = self.buffers[(fn.file, key)] = SharedBuffer(fn.file, key, path.removesuffix("[]"))
            self.keys.setdefault(fn.file, set()).add(key)
        buffer.exports.append(export)

    def _owner(self, fn: Function, path: str) -> str | None:
        """The structure type a path's field belongs to, when the field is its first step
        (`qp->recvq` with `struct siw_qp *qp` -> "siw_qp")."""
        path = path.lstrip("*&")
        root = root_of(path)
        if not re.fullmatch(r"(?:->|\.)\w+(?:\[\])*", path[len(root) :]):
            return None
        variable = fn.locals.get(root) or next((p for p in fn.params if p.name == root), None)
        if variable is None:
            variable = self._global_variables.get(fn.file, {}).get(root)
        if variable is None:
            return None
        owner = record_of(variable.type)
        return owner if owner.isidentifier() else None

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
        """Pointer locals, parameters and struct fields that point into a shared buffer
        (`hdr = dev->ring`, `p = dev->buf + off`, a helper called with `dev->buf`, `q->info = vaddr`,
        `q->va[i] = page_address(q->pages[i])`), and locals holding a buffer's own address
        (`q->vaddr = vaddr`), to a fixpoint."""
        functions = [fn for fn in self.kernel if fn.file in self.keys]
        for fn in functions:
            self._aliases.setdefault(fn.key, {}).update(self._pinned_locals.get(fn.key, {}))
        for _round in range(8):
            changed = False
            for fn in functions:
                aliases = self._aliases[fn.key]
                for _node, store in fn.stores():
                    target = store.target.path or ""
                    if target != root_of(target):
                        changed |= self._field_alias(fn, target, store.value)
                        continue
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

    def _field_alias(self, fn: Function, target: str, value: Value) -> bool:
        """A store to a struct field: `q->info = vaddr` (the field points into a buffer),
        `q->va[i] = page_address(q->pages[i])` (its elements point to a buffer's pages, kept as a
        buffer of their own: the array holds pointers), or `q->vaddr = vaddr` (the local holds the
        buffer's own address). Whether it taught anything new."""
        field_name = last_field(target)
        name = field_name.split("[")[0]
        keys = self.keys.get(fn.file, set())
        if not name or name in CONTEXT_FIELDS:
            return False
        root = root_of(target)
        first = re.fullmatch(r"(?:->|\.)\w+", target[len(root) :]) is not None
        if self._key_named(fn, root, name, first) is not None:
            local = value.path if value.path and value.path == root_of(value.path) else None
            aliases = self._aliases[fn.key]
            variable = fn.locals.get(local or "")
            held = self.place(fn, target)
            if (
                local is None
                or variable is None
                or not variable.is_pointer
                or local in aliases
                or held is None
                or held.suffix
            ):
                return False
            aliases[local] = held
            return True
        fields = self._fields.setdefault(fn.file, {})
        if name in fields or field_name not in (name, f"{name}[]"):
            return False
        place = self.points_into(fn, value) if field_name == name else None
        if place is not None and place.suffix and not place.suffix.endswith("[]") and not value.address_of:
            place = None  # a value read from the buffer (`q->index = q->buf->prod`), not a pointer into it
        if place is not None:
            fields[name] = place
            return True
        page = self._mapped_page(fn, value)
        if page is None:
            return False
        # the kernel address of a shared page: a buffer of its own, as the page pointer is not
        # the memory (`q->pages[i]` is read to hand a page out, `q->va[i][j]` is the memory)
        source = self.buffers[(fn.file, page.key)]
        indirect = field_name != name
        buffer = SharedBuffer(fn.file, name, target, list(source.exports), source.writable, indirect)
        self.buffers[(fn.file, name)] = buffer
        keys.add(name)
        return True

    def _mapped_page(self, fn: Function, value: Value) -> Place | None:
        """The buffer whose page a kernel address is computed from: `page_address(q->pages[i])`."""
        calls = set(value.calls)
        if (
            not calls & PAGE_ADDRESSES.keys()
            or not calls <= KERNEL_ADDRESS_CONVERSIONS | PAGE_ADDRESSES.keys()
        ):
            return None
        for name in value.names:
            place = self.place(fn, name)
            if place is not None:
                return Place(place.key)
        return None

    def holds_pointer(self, fn: Function, path: str | None) -> bool:
        """The path is a field that holds a pointer into a buffer (`udev->cmdr` after
        `udev->cmdr = mb + off`): storing to it changes the pointer, not the memory."""
        if not path or path == root_of(path):
            return False
        name = last_field(path)
        return name in self._fields.get(fn.file, {}) and path.endswith(("->" + name, "." + name))

    def aliased_params(self, fn: Function) -> dict[str, Place]:
        """The parameters of `fn` that point into a shared buffer, and where."""
        names = {param.name for param in fn.params}
        return {name: place for name, place in self._aliases.get(fn.key, {}).items() if name in names}

    def points_into(self, fn: Function, value: Value) -> Place | None:
        """The shared place a pointer value points into: `dev->buf`, `&ring->slots[i]`,
        `(char *)dev->buf + off` (somewhere in the buffer)."""
        if value.kind in (ValueKind.CALL, ValueKind.HEAP, ValueKind.CONST, ValueKind.STRING) or value.calls:
            return None  # a call's result (virt_to_page() gives a struct page, not the memory)
        if value.path:
            return self.place(fn, value.path)
        for name in value.names:
            place = self.place(fn, name)
            if place is not None and place.suffix in ("", "[]"):
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
        fields = self._fields.get(fn.file, {})
        for match in re.finditer(r"(?:->|\.)([A-Za-z_]\w*)", rest):
            name, after = match.group(1), rest[match.end() :]
            key = self._key_named(fn, root, name, match.start() == 0)
            if key is not None:
                if self.buffers[(fn.file, key)].indirect:
                    # `q->va[i]` is a pointer to the memory, `q->va[i][j]` the memory
                    return Place(key, _normal(after[2:])) if after.startswith("[]") else None
                return Place(key, _normal(after))
            if name in fields:
                alias = fields[name]
                return Place(alias.key, _normal(alias.suffix + after))
        return None

    def _key_named(self, fn: Function, root: str, name: str, first: bool) -> str | None:
        """The buffer a field name denotes in a path from `root` (`first`: the field is the path's
        first step, so its owner is the type of `root`). A field exported in several owner types
        is known only by its owner: from a deeper path, only when one owner exports it."""
        keys = self.keys.get(fn.file, set())
        if name not in self._split.get(fn.file, ()):
            return name if name in keys else None
        if first:
            owner = self._owner(fn, f"{root}->{name}")
            key = f"{owner}::{name}"
            return key if key in keys else None
        owned = [key for key in keys if key.endswith(f"::{name}")]
        return owned[0] if len(owned) == 1 else None


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
