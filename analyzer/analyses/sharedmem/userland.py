"""The userland half of shared memory: programs that map a device whose driver offers lock and unlock
ioctls, which variables point into their `MAP_SHARED` mapping, their accesses to it, and the locks
(the driver's lock commands) they hold there."""

from __future__ import annotations

from gupcheck.analyses.crosslayer import same_request
from gupcheck.analyses.locksets import LockEvent, LockSets
from gupcheck.analyses.sharedmem.accesses import Access
from gupcheck.analyses.sharedmem.analysis import LockCommand
from gupcheck.analyses.sharedmem.buffers import Place, reads_writes
from gupcheck.model.facts import CallSite, CfgNode, Function, Side, Value, ValueKind, root_of
from gupcheck.model.findings import SourceLocation
from gupcheck.model.program import Program


class UserMappings:
    """Userland programs that map a device with lock and unlock commands, and their accesses to the
    mapping."""

    def __init__(self, program: Program, commands: list[LockCommand]) -> None:
        self.program = program
        self.commands = commands
        self.userland = program.functions_of(Side.USERLAND)
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

    def driver_of(self, file: str) -> str | None:
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

    def mappings(self) -> dict[str, dict[str, SourceLocation]]:
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
                for _node, store in fn.stores():
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

    def accesses(self, fn: Function, names: dict[str, SourceLocation]) -> list[Access]:
        """The loads, stores and memory calls of `fn` through the mapped variables `names`."""
        return _user_accesses(fn, names)


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
            reads, writes = reads_writes(call.callee)
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
