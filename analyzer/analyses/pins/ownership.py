"""Who owns the object pages are pinned into: a long-lived place (a global, what an entry point is
handed, what every caller passes), the caller (a parameter), or nobody beyond this call."""

from __future__ import annotations

from gupcheck.analyses.pins.sites import Pin, pages_key
from gupcheck.kernel_api.allocators import allocates
from gupcheck.kernel_api.entries import SYSCALL_ROLES
from gupcheck.model.facts import Function, ValueKind, root_of
from gupcheck.model.program import Program


class Ownership:
    def __init__(self, program: Program) -> None:
        self.program = program
        self._owners: dict[tuple[str, str], str | None] = {}
        self._file_globals = {unit.path: set(unit.globals) for unit in program.units}

    def globals_of(self, fn: Function) -> set[str]:
        """The globals of `fn`'s file."""
        return self._file_globals.get(fn.file, set())

    def owner(self, fn: Function, root: str, depth: int = 0) -> str | None:
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
        if root in self.globals_of(fn):
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
                if not key or self.owner(ref.caller, root_of(key), depth + 1) is None:
                    return None
            return root
        for store in fn.stores_to(root):
            value = store.value
            if value.kind == ValueKind.HEAP or allocates(value.calls):
                return None
            # `p = pvec + done` points into pvec; what `done` counts says nothing of where p points
            sources = {value.base} if value.base else {root_of(n) for n in value.names}
            for source in sources:
                if source != root and self.owner(fn, source, depth + 1) is not None:
                    return value.text
        return None

    @staticmethod
    def param_holder(fn: Function, local: str) -> str | None:
        """The parameter a local pointer points into (`mapped = &bitmap->mapped` -> bitmap)."""
        holders = Ownership.param_holders(fn, local)
        return holders[0] if holders else None

    @staticmethod
    def param_holders(fn: Function, local: str) -> list[str]:
        """Every parameter a local pointer points into, in the order of the stores (`pages =
        &node->pages[idx]` on one branch, `pages = &buf->pages[idx]` on the other)."""
        params = {p.name for p in fn.params}
        holders: list[str] = []
        for store in fn.stores_to(local):
            value = store.value
            if value.calls:
                continue
            roots = {root_of(n) for n in value.names} & params
            if value.base in params and (value.path or "").startswith(f"{value.base}-"):
                roots = {value.base}  # `&node->pages[idx]`: node, whatever indexes it
            if len(roots) == 1 and (holder := roots.pop()) not in holders:
                holders.append(holder)
        return holders

    @staticmethod
    def from_lookup(fn: Function, local: str) -> bool:
        """A local pointer set from a call that is not an allocator (`entry = find_entry(h)`):
        it points to an object that exists beyond this call."""
        return local in fn.locals and any(
            store.value.kind == ValueKind.CALL and not allocates(store.value.calls)
            for store in fn.stores_to(local)
        )

    @staticmethod
    def object_out_param(fn: Function, pin: Pin, local: str) -> bool:
        """`helper(..., &entry)` hands back an object the helper created or found (a broker
        entry on a list): the pages live in it, not in this call."""
        variable = fn.locals.get(local)
        return (
            bool(pin.via)
            and variable is not None
            and variable.is_pointer
            and any(arg.address_of and arg.path == local for arg in pin.call.args)
        )
