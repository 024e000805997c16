"""Which values and pointers in the kernel come from user space.

User-controlled *values*: the `arg` of an ioctl handler, the `count` of read/write, whatever
`copy_from_user`/`get_user`/`memdup_user` fetched, and anything computed from those (except
through a clamp such as `min()`; size arithmetic such as `array_size()` or `check_mul_overflow()`
keeps them user-controlled). User *pointers*: `__user`-annotated variables, the ioctl `arg`, an
address `vm_mmap()` returned, and pointers cast from them. A pointer not declared `__user` that an
entry point receives (the `struct iov_iter *` of `read_iter`) is kernel memory, and so is what is
read through a user pointer's fields (`io->iov`, unless its own type says `__user`). Both flow into
callees through their parameters.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gupcheck.kernel_api.bounds import CLAMPS, OVERFLOW_CHECKS, SIZE_ARITHMETIC
from gupcheck.kernel_api.entries import USER_POINTER_PARAMS, USER_SCALAR_PARAMS
from gupcheck.kernel_api.uaccess import FETCHES, FETCHING_RESULTS, UNEVALUATED_OPERANDS, USER_ADDRESS_RESULTS
from gupcheck.model.facts import CfgNode, Deref, Function, Value, ValueKind, Variable
from gupcheck.model.findings import SourceLocation
from gupcheck.model.program import Program

# Updates that cannot raise an (unsigned) value: `avail -= len` does not make avail user-controlled.
LOWERING = frozenset({"-=", "/=", ">>=", "&=", "%=", "--"})


def mentions(name: str, tainted: set[str]) -> str | None:
    """The tainted path that `name` reads, if any: `req.len` reads tainted `req`."""
    if name in tainted:
        return name
    for candidate in tainted:
        if name.startswith(candidate) and name[len(candidate) : len(candidate) + 1] in (".", "-", "["):
            return candidate
    return None


@dataclass
class FunctionUserData:
    tainted: set[str] = field(default_factory=set)  # access paths holding user-controlled values
    user_pointers: set[str] = field(default_factory=set)  # variables holding user-space addresses

    def tainted_name(self, value: Value) -> str | None:
        """The user-controlled path the value is computed from, unless a clamp bounds it."""
        if value.const_value is not None or value.is_sizeof:
            return None
        if any(call in CLAMPS for call in value.calls):
            return None
        arithmetic = bool(value.calls) and set(value.calls) <= SIZE_ARITHMETIC
        if value.kind == ValueKind.HEAP or (
            value.kind == ValueKind.CALL and value.macro != "READ_ONCE" and not arithmetic
        ):
            return None  # a fresh allocation or another function's result
        for name in value.names:
            hit = mentions(name, self.tainted)
            if hit is not None:
                return name
        return None

    def is_user_pointer(self, value: Value) -> bool:
        if value.user_pointer:
            return True
        base = value.base or ""
        return (
            bool(base)
            and base in self.user_pointers
            and (value.path in (None, base) or (value.address_of and (value.path or "").startswith(base)))
        )


def _may_hold_user_address(param: Variable) -> bool:
    """A `__user` pointer, or an integer carrying an address (the ioctl `arg`); not a kernel pointer."""
    return param.is_user or not param.is_pointer


def unevaluated(node: CfgNode, deref: Deref) -> bool:
    """Whether a dereference lies in an operand that is never evaluated (`BITS_PER_TYPE(*p)`,
    `typeof(*p)`, spelt as a call when the macro is not defined where the file was parsed)."""
    return any(
        call.callee in UNEVALUATED_OPERANDS and _inside(deref.location, call.location) for call in node.calls
    )


def _inside(inner: SourceLocation, outer: SourceLocation) -> bool:
    return (
        inner.path == outer.path
        and (outer.line, outer.column) <= (inner.line, inner.column)
        and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column)
    )


class UserData:
    """User-controlled values and user pointers for every kernel function of a program."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.functions: dict[str, FunctionUserData] = {
            fn.key: FunctionUserData() for fn in program.kernel_functions()
        }
        for fn in program.kernel_functions():
            data = self.functions[fn.key]
            for role in program.roles(fn):
                for index in USER_SCALAR_PARAMS.get(role, ()):
                    if index < len(fn.params):
                        data.tainted.add(fn.params[index].name)
                for index in USER_POINTER_PARAMS.get(role, ()):
                    if index < len(fn.params) and _may_hold_user_address(fn.params[index]):
                        data.user_pointers.add(fn.params[index].name)
            for param in fn.params:
                if param.is_user:
                    data.user_pointers.add(param.name)
            for var in fn.locals.values():
                if var.is_user:
                    data.user_pointers.add(var.name)
        self._propagate()

    def of(self, fn: Function) -> FunctionUserData:
        return self.functions.setdefault(fn.key, FunctionUserData())

    def _propagate(self) -> None:
        """Taint within each function and into its callees until nothing changes: a function is
        looked at again only when a caller passed it something new (the sets only grow)."""
        functions = {fn.key: fn for fn in self.program.kernel_functions()}
        pending = deque(functions)
        queued = set(pending)
        while pending:
            key = pending.popleft()
            queued.discard(key)
            fn = functions[key]
            while self._local(fn):
                pass
            for callee in self._into_callees(fn):
                if callee not in queued:
                    queued.add(callee)
                    pending.append(callee)

    def _local(self, fn: Function) -> bool:
        data = self.of(fn)
        before = (len(data.tainted), len(data.user_pointers))
        for node in fn.nodes:
            for call in node.calls:
                position = FETCHES.get(call.callee)
                if position is not None and position < len(call.args):
                    dest = call.args[position]
                    if dest.path:
                        data.tainted.add(dest.path)
                if call.callee in FETCHING_RESULTS and call.assigned_to:
                    data.tainted.add(call.assigned_to)
                if call.callee in USER_ADDRESS_RESULTS and call.assigned_to:
                    data.user_pointers.add(call.assigned_to)
                result = OVERFLOW_CHECKS.get(call.callee)
                if result is not None and result < len(call.args) and call.args[result].path:
                    if any(data.tainted_name(arg) is not None for arg in call.args[:result]):
                        data.tainted.add(call.args[result].path or "")
            for store in node.stores:
                target = store.target.path
                if not target:
                    continue
                if store.op not in LOWERING and data.tainted_name(store.value) is not None:
                    data.tainted.add(target)
                value = store.value
                if value.user_pointer or (value.base in data.user_pointers and not value.calls):
                    if "*" in value.text or value.path == value.base:
                        data.user_pointers.add(target)
        return (len(data.tainted), len(data.user_pointers)) != before

    def _into_callees(self, fn: Function) -> set[str]:
        """Pass what is user-controlled at `fn`'s call sites to its callees' parameters; the keys of
        the callees that learnt something."""
        data = self.of(fn)
        changed: set[str] = set()
        for _node, call in fn.call_sites():
            callee = self.program.callee(fn, call)
            if callee is None or callee.key not in self.functions:
                continue
            target = self.functions[callee.key]
            for index, arg in enumerate(call.args):
                if index >= len(callee.params):
                    break
                name = callee.params[index].name
                if data.tainted_name(arg) is not None and name not in target.tainted:
                    target.tainted.add(name)
                    changed.add(callee.key)
                if data.is_user_pointer(arg) and not arg.address_of and name not in target.user_pointers:
                    target.user_pointers.add(name)
                    changed.add(callee.key)
        return changed
