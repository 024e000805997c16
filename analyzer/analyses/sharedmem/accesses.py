"""How kernel code touches shared memory: loads and stores (plain or marked), copies, atomics, and
the values it fetches from a buffer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gupcheck.analyses.sharedmem.buffers import Place, SharedBuffers, reads_writes
from gupcheck.kernel_api.atomics import MARKED_READS, MARKED_WRITES, is_atomic
from gupcheck.model.facts import CallSite, CfgNode, Function, Store, root_of
from gupcheck.model.findings import SourceLocation


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
    atomic: bool = False  # an atomic read-modify-write (atomic_inc(), set_bit()), not a marked load/store


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
    # read through a pointer to somewhere in the buffer (`entry = ring + off; entry->len`): the
    # place is known up to the pointer's offset, so only the same pointer reads it again
    through_pointer: bool = False


def accesses(buffers: SharedBuffers, fn: Function) -> list[Access]:
    """Loads and stores of shared memory in `fn`, one per place and location."""
    if not buffers.shares(fn.file):
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
        atomic: bool = False,
    ) -> None:
        if place is not None:
            found.setdefault(
                (location, place, write), Access(fn, node, location, place, write, marked, how, text, atomic)
            )

    for node in fn.nodes:
        indexed = {s.location: f"{s.array.text}[{s.index.text}]" for s in node.subscripts}
        for deref in node.derefs:
            if buffers.place(fn, deref.pointer.path) is not None:
                place = buffers.place(fn, deref.path) or buffers.place(fn, deref.pointer.path)
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
                place = buffers.place(fn, f"{array.path}[]" if array.path else None)
                if place is not None and not place.suffix:
                    continue  # an element of an array of pointers into the memory (`q->va[i]`)
                add(
                    node,
                    subscript.location,
                    place,
                    subscript.is_write,
                    False,
                    "store to" if subscript.is_write else "load of",
                    f"{array.text}[{subscript.index.text}]",
                )
        for call in node.calls:
            for access in _call_accesses(buffers, fn, node, call):
                add(
                    node,
                    access.location,
                    access.place,
                    access.write,
                    access.marked,
                    access.how,
                    access.text,
                    access.atomic,
                )
        for store in node.stores:
            _store_access(buffers, fn, node, store, found)
    return list(found.values())


def _store_access(
    buffers: SharedBuffers, fn: Function, node: CfgNode, store: Store, found: dict[tuple, Access]
) -> None:
    """`h->slots[i].seq = 1` writes `.slots[].seq`, where the parse saw only a load of the
    element `h->slots[i]`: the store names the place written."""
    place = buffers.place(fn, store.target.path)
    if (
        place is None
        or not place.suffix
        or store.target.path == root_of(store.target.path or "")
        or buffers.holds_pointer(fn, store.target.path)
    ):
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
    if not any(access.node is node and access.place == place and access.write for access in found.values()):
        found[(store.location, place, True)] = Access(
            fn, node, store.location, place, True, False, "store to", store.target.text
        )


def _call_accesses(buffers: SharedBuffers, fn: Function, node: CfgNode, call: CallSite) -> list[Access]:
    accesses = []
    marked = {
        **{k: (v, False) for k, v in MARKED_READS.items()},
        **{k: (v, True) for k, v in MARKED_WRITES.items()},
    }
    if call.callee in marked:
        position, write = marked[call.callee]
        if position < len(call.args):
            place = buffers.place(fn, call.args[position].path)
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
            place = buffers.place(fn, arg.path) if arg.address_of else None
            if place is not None:
                accesses.append(
                    Access(fn, node, call.location, place, True, True, f"{call.callee}()", arg.text, True)
                )
        return accesses
    reads, writes = reads_writes(call.callee)
    for positions, write in ((reads, False), (writes, True)):
        for position in positions:
            if position < len(call.args):
                place = buffers.points_into(fn, call.args[position])
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


def fetches(buffers: SharedBuffers, fn: Function) -> list[Fetch]:
    if not buffers.shares(fn.file):
        return []
    found: dict[tuple, Fetch] = {}
    for node in fn.nodes:
        condition_names = {
            name
            for atom in (node.condition.atoms() if node.condition else ())
            for name in (*atom.lhs.names, *(atom.rhs.names if atom.rhs else ()))
        }
        read_names = condition_names | {
            name
            for value in [*(s.value for s in node.stores), *(a for c in node.calls for a in c.args)]
            for name in value.names
        }
        for deref in node.derefs:
            if deref.is_write or buffers.place(fn, deref.pointer.path) is None:
                continue
            path = _member(deref.path or "", read_names)
            place = buffers.place(fn, path)
            if place is None or not place.suffix:
                continue
            through_pointer = "[" in place.suffix
            if through_pointer and ("[" in path or not place.suffix.startswith("[].")):
                continue  # an element a subscript picks: another index, another place
            copied = next(
                (
                    store.target.path
                    for store in node.stores
                    if store.value.path in (deref.path, path) and _is_local(fn, store.target.path)
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
                    path,
                    copied,
                    path in condition_names,
                    through_pointer,
                ),
            )
        for call in node.calls:
            position = MARKED_READS.get(call.callee)
            if position is None or position >= len(call.args):
                continue
            arg = call.args[position]
            place = buffers.place(fn, arg.path)
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


def _member(path: str, names: set[str]) -> str:
    """The member of a dereferenced structure the node reads: `entry->rsp` is read as
    `entry->rsp.read_len` when that is the one longer name the node reads."""
    longer = {
        name for name in names if name.startswith(f"{path}.") and not re.search(r"->|\[", name[len(path) :])
    }
    return longer.pop() if len(longer) == 1 else path


def _is_local(fn: Function, name: str | None) -> bool:
    return bool(name) and name in fn.locals and not fn.locals[name].is_static
