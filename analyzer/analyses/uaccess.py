"""What is known on every path about user memory in kernel code: which user pointers passed a range
check, which lengths are bounded, and which user data each function fetches (directly or through a
helper) and fetches again.

Path facts (must-facts, on every path to a node), as tuples:
- (CHECKED, p): p passed access_ok (or a checking copy of p succeeded);
- (BOUNDED, v): v has an upper bound (compared, clamped, or assigned from a value user space does not
  control);
- (GREATER, a, b): a > b is known (so `a = b` only lowers a, as in `if (len > n) len = n;`);
- (DERIVED, t, s): t was computed from s (`tmp = buf`, checked later through buf).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from gupcheck.analyses.dataflow import facts_along_branches, must_facts, reachable_from
from gupcheck.analyses.usercontrol import FunctionUserData, UserData, mentions
from gupcheck.kernel_api.memory import SIZE_ARGUMENTS
from gupcheck.kernel_api.uaccess import CHECKING_COPIES, FETCHES, RANGE_CHECKS, USER_ACCESS
from gupcheck.model.facts import CallSite, CfgNode, Comparison, Function, Value, last_field, root_of
from gupcheck.model.program import Program

CHECKED, BOUNDED, GREATER, DERIVED = "checked", "bounded", "greater", "derived"
PathFact = tuple[str, ...]


@dataclass(frozen=True)
class UserFetch:
    """A copy of user data into a kernel object, by a uaccess call or a helper that does one."""

    node: CfgNode
    call: CallSite
    destination: Value
    source: Value  # the user address


@dataclass(frozen=True)
class TrustedUse:
    node: CfgNode
    text: str  # the field of the second copy used as a size: `msg->len`


class UserAccessChecks:
    """Path facts per function (computed once each), the struct fields only ever set from checked
    pointers, and the helpers that fetch user data from one parameter into another."""

    def __init__(self, program: Program, user: UserData) -> None:
        self.program = program
        self.user = user
        self._facts: dict[str, dict[int, frozenset]] = {}
        self.checked_fields = self._checked_fields()
        self._fetching = self._fetching_functions()

    def facts(self, fn: Function) -> dict[int, frozenset]:
        """The path facts on entry to each node of `fn`."""
        if fn.key not in self._facts:
            data = self.user.of(fn)
            self._facts[fn.key] = must_facts(
                fn,
                edge_gen=facts_along_branches(_atom_facts),
                transfer=lambda node, facts: _transfer(node, facts, data),
            )
        return self._facts[fn.key]

    def bounded(self, fn: Function, node: CfgNode, value: Value) -> bool:
        """Whether some variable the value reads is bounded from above on every path to `node`."""
        held = self.facts(fn)[node.id]
        return any((BOUNDED, name) in held for name in value.names)

    # -- range checks ------------------------------------------------------------------------
    def range_checked(self, fn: Function, node: CfgNode, pointer: Value) -> bool:
        """Whether an access_ok (or a checking copy) covers the user pointer on every path to `node`:
        in `fn`, through a field only ever set from checked pointers, or in every caller."""
        return self._covered(fn, node, pointer, depth=0, visiting=set())

    def _covered(self, fn: Function, node: CfgNode, pointer: Value, depth: int, visiting: set[str]) -> bool:
        held = self.facts(fn)[node.id]
        keys = pointer_keys(pointer)
        keys += [fact[2] for fact in held if fact[0] == DERIVED and fact[1] in keys]
        if any((CHECKED, key) in held for key in keys):
            return True
        field = last_field(pointer.path or "")
        if field and field != pointer.path and field in self.checked_fields:
            return True
        param = next((p for p in fn.params if p.name == pointer.base), None)
        if param is None or depth > 6 or fn.key in visiting:
            return False
        callers = self.program.callers(fn)
        if not callers or self.program.roles(fn):
            return False  # an entry point, or nobody calls it: nothing checked before
        visiting = visiting | {fn.key}
        for ref in callers:
            if param.index >= len(ref.call.args):
                return False
            if not self._covered(ref.caller, ref.node, ref.call.args[param.index], depth + 1, visiting):
                return False
        return True

    # -- an early return ----------------------------------------------------------------------
    @staticmethod
    def returns_cleanly_after(fn: Function, node: CfgNode) -> bool:
        """Whether `fn` could return right after `node` and skip nothing that has to run: on every path
        from `node` to the return there is no call but user copies (an unlock, a free, a release, or a
        helper that does one would be skipped) and no store but to the function's own locals (handing
        an object over would be skipped, and the object leaked)."""
        for node_id in reachable_from(fn, node.id):
            later = fn.nodes[node_id]
            if any(call.callee not in USER_ACCESS for call in later.calls):
                return False
            for store in later.stores:
                target = store.target.path or ""
                if target not in fn.locals or store.target.address_of:
                    return False
        return True

    def _checked_fields(self) -> set[str]:
        """Struct fields that are only ever set from range-checked pointers: `state.user_gfn = m.arr`
        after `access_ok(m.arr, ...)`. Accesses through such a field elsewhere (a callback that
        receives the state) are covered; this is field-based, not alias analysis."""
        assigned: dict[str, bool] = {}
        for fn in self.program.kernel_functions():
            checked_anywhere = {
                fact[1]
                for node in fn.nodes
                if node.condition is not None
                for outcome in (True, False)
                for atom, held in node.condition.facts(outcome)
                for fact in _atom_facts(atom, held)
                if fact[0] == CHECKED
            }
            for _node, store in fn.stores():
                target = store.target.path or ""
                field = last_field(target)
                if field == target or "(" in field:
                    continue
                value = store.value
                if store.op != "=" or target in value.names:
                    continue  # `st->user_gfn++` walks the same checked range
                ok = bool(value.path) and value.path in checked_anywhere
                assigned[field] = assigned.get(field, True) and ok
        return {field for field, ok in assigned.items() if ok}

    # -- fetches -------------------------------------------------------------------------------
    def _fetching_functions(self) -> dict[str, set[tuple[int, int]]]:
        """Helpers that fetch user data from one parameter into another: (source, destination)
        parameter positions, so a fetch inside `relay_alloc_msg(umsg, &hdr)` counts at its call."""
        summaries: dict[str, set[tuple[int, int]]] = {}
        changed = True
        while changed:
            changed = False
            for fn in self.program.kernel_functions():
                positions = {p.name: p.index for p in fn.params}
                found = summaries.setdefault(fn.key, set())
                for fetch in self._fetches_in(fn, summaries):
                    source = positions.get(fetch.source.base or "")
                    destination = positions.get(fetch.destination.base or "")
                    if source is not None and destination is not None and (source, destination) not in found:
                        found.add((source, destination))
                        changed = True
        return summaries

    def fetches(self, fn: Function) -> list[UserFetch]:
        """Every fetch of user data in `fn`, direct or through a helper, in statement order."""
        return list(self._fetches_in(fn, self._fetching))

    def _fetches_in(self, fn: Function, summaries: dict[str, set[tuple[int, int]]]) -> Iterator[UserFetch]:
        for node, call in fn.call_sites():
            dest_position = FETCHES.get(call.callee)
            if dest_position is not None and len(call.args) > 1:
                yield UserFetch(node, call, call.args[dest_position], call.args[1])
                continue
            callee = self.program.callee(fn, call)
            for source_position, dest_position in sorted(summaries.get(callee.key, ()) if callee else ()):
                if max(source_position, dest_position) < len(call.args):
                    yield UserFetch(node, call, call.args[dest_position], call.args[source_position])

    def refetches(self, fn: Function) -> Iterator[tuple[UserFetch, UserFetch]]:
        """(first, second) fetches of the same user address into different kernel objects, the second
        after the first."""
        fetches = self.fetches(fn)
        for i, first in enumerate(fetches):
            later = reachable_from(fn, first.node.id)
            for second in fetches[i + 1 :]:
                if second.node.id not in later or not same_address(first.source, second.source):
                    continue
                if not first.destination.path or not second.destination.path:
                    continue
                if root_of(first.destination.path) == root_of(second.destination.path):
                    continue
                yield first, second

    @staticmethod
    def trusted_use(fn: Function, second: UserFetch, first: UserFetch) -> TrustedUse | None:
        """A size argument (or loop bound) after the second fetch that reads the second copy, unless the
        second copy was compared with (or overwritten from) the first."""
        first_root = root_of(first.destination.path or "")
        second_root = root_of(second.destination.path or "")
        later = reachable_from(fn, second.node.id)
        for node_id in sorted(later):
            node = fn.nodes[node_id]
            if node.condition is not None:
                for atom in node.condition.atoms():
                    names = atom.lhs.names + (atom.rhs.names if atom.rhs else ())
                    if _reads(names, second_root) and _reads(names, first_root):
                        return None
            for store in node.stores:
                if _reads((store.target.path or "",), second_root) and _reads(store.value.names, first_root):
                    return None
        for node_id in sorted(later):
            node = fn.nodes[node_id]
            for call in node.calls:
                for position in SIZE_ARGUMENTS.get(call.callee, ()):
                    if position < len(call.args):
                        arg = call.args[position]
                        field = next(
                            (n for n in arg.names if n != second_root and mentions(n, {second_root})), None
                        )
                        if field is not None:
                            return TrustedUse(node, field)
            if node.condition is not None and _is_loop_test(fn, node):
                for atom in node.condition.atoms():
                    names = atom.lhs.names + (atom.rhs.names if atom.rhs else ())
                    field = next((n for n in names if n != second_root and mentions(n, {second_root})), None)
                    if field is not None:
                        return TrustedUse(node, field)
        return None


def same_address(first: Value, second: Value) -> bool:
    """The second fetch reads what the first read: the same address, or the whole object the
    first fetched a field of (`get_user(n, &u->nr)` then `copy_from_user(t, u, ...)`)."""
    if not first.path or not second.path:
        return False
    return first.path == second.path or first.path.startswith(second.path + "->")


def pointer_keys(value: Value) -> list[str]:
    """The names a user pointer goes by: its access path, and its root variable when the path
    goes through that pointer (`&u->len`, `u + off`), not when it is a field of a local (`m.arr`)."""
    keys = []
    if value.path:
        keys.append(value.path)
    if value.base and (
        value.path is None
        or value.path[len(value.base) :].startswith(("->", "["))
        or value.path == value.base
    ):
        keys.append(value.base)
    return list(dict.fromkeys(keys))


def _transfer(node: CfgNode, facts: frozenset, data: FunctionUserData) -> frozenset:
    """Stores overwrite what was known about their target, except where the stored value keeps it:
    a pointer derived from a checked one stays checked (`tmp++` after `access_ok(tmp, n)`), a
    copy remembers its source (`tmp = buf`, checked later through buf), a value user space does
    not control is bounded, and `x = y` where x > y keeps x's bound."""
    if not node.stores:
        return facts
    result = set(facts)
    for store in node.stores:
        target = store.target.path
        if not target:
            continue
        value = store.value
        before = frozenset(result)
        result = {fact for fact in result if target not in fact[1:]}
        sources = {name for name in (*value.names, value.base or "") if name}
        if any((CHECKED, name) in before for name in sources):
            result.add((CHECKED, target))
        for source in sources:
            if source == target:  # tmp++ / tmp += n: still derived from what it was derived from
                result.update(f for f in before if f[0] == DERIVED and f[1] == target)
            else:
                result.add((DERIVED, target, source))
        if data.tainted_name(value) is None:
            result.add((BOUNDED, target))
        elif (BOUNDED, target) in before and (GREATER, target, value.path) in before:
            result.add((BOUNDED, target))
    return frozenset(result)


def _atom_facts(atom: Comparison, outcome: bool) -> list[PathFact]:
    if atom.op == "call" and atom.call is not None:
        callee, args = atom.call.callee, atom.call.args
        position = RANGE_CHECKS.get(callee) if outcome else CHECKING_COPIES.get(callee)
        if position is not None and position < len(args):
            return [(CHECKED, key) for key in pointer_keys(args[position])]
        return []
    facts: list[PathFact] = []
    for bounded, bound in atom.upper_bounds(outcome):
        facts.extend((BOUNDED, name) for name in bounded.names)
        if bounded.path and bound.path:
            facts.append((GREATER, bound.path, bounded.path))
    return facts


def _reads(names: tuple[str, ...], root: str) -> bool:
    return any(mentions(name, {root}) for name in names)


def _is_loop_test(fn: Function, node: CfgNode) -> bool:
    return any(other.text == "loop" and any(e.target == node.id for e in other.succs) for other in fn.nodes)
