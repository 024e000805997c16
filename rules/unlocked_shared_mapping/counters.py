"""GUP004: a counter changed with a plain `++`/`--`/`+=`/`-=` without a lock in code a
`vm_operations_struct` callback runs (callbacks of mappings in different processes run concurrently),
when the kernel reads the counter back (a test, a size, a free); a statistic nothing reads but a
copy of its whole structure to user space loses a count, not memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gupcheck.analyses.sharedmem import SharedMemory
from gupcheck.kernel_api.entries import VM_ROLES, Role
from gupcheck.model.facts import Function, root_of
from gupcheck.model.findings import Finding, Level, SourceLocation
from gupcheck.rules.unlocked_shared_mapping.report import RULE_ID


@dataclass(eq=False)
class RacyCounter:
    function: Function
    location: SourceLocation
    target: str
    op: str
    role: Role  # the vm callback reaching it


def findings(shared: SharedMemory) -> Iterator[Finding]:
    for found in racy_counters(shared):
        yield _finding(found)


def racy_counters(shared: SharedMemory) -> list[RacyCounter]:
    found = []
    for fn in shared.kernel:
        roles = shared.reaching_roles(fn) & VM_ROLES
        if not roles:
            continue
        vma_params = {p.name for p in fn.params if "vm_area_struct" in p.type or "vm_fault" in p.type}
        for node, store in fn.stores():
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
            if shared.locks.held(fn, node.id):
                continue
            if not shared.read_back(target):
                continue  # a statistic: a lost count sizes, frees and decides nothing
            found.append(RacyCounter(fn, store.location, target, store.op, sorted(roles)[0]))
    return found


def _finding(found: RacyCounter) -> Finding:
    return Finding(
        rule_id=RULE_ID,
        level=Level.WARNING,
        message=(
            f"'{found.target}' is changed with a plain '{found.op}' in code run by the {found.role} "
            "callback of a vm_operations_struct, without a lock: the callbacks of mappings in "
            "different processes run concurrently"
        ),
        location=found.location,
        function=found.function.name,
        snippet_key=f"{found.target}{found.op}",
        hint="make it an atomic_t or refcount_t (atomic_inc()/atomic_dec_and_test(), refcount_inc()), "
        "a kref, or change it under the driver's lock",
    )
