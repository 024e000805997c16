"""What is known on every path about user memory in kernel code: which user pointers passed a range
check, which lengths are bounded, and which user data each function fetches (directly or through a
helper) and fetches again.

Path facts (must-facts, on every path to a node), as tuples:
- (CHECKED, p): p passed access_ok (or a checking copy of p succeeded);
- (BOUNDED, v): v has an upper bound (compared, clamped, or assigned from a value user space does not
  control);
- (GREATER, a, b): a > b is known (so `a = b` only lowers a, as in `if (len > n) len = n;`);
- (DERIVED, t, s): t was computed from s (`tmp = buf`, checked later through buf);
- (SUMMED, d, a): d = a + b without overflow (`check_add_overflow(a, b, &d)`), so a bound on d
  bounds a.

A user address goes by the access path it is read from, however it is spelt: `u64_to_user_ptr(x)`,
`compat_ptr(x)` and `(void __user *)(uintptr_t)x` are the address x (`address_keys`). A range
check is `access_ok` and its kin, a helper whose summary says it returns whether a range it was
given passed one (or compares it with stored limits), or a helper the configuration declares
(`[api] range-checks`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial

from gupcheck.analyses.dataflow import facts_along_branches, must_facts, reachable_from
from gupcheck.analyses.usercontrol import FunctionUserData, UserData, mentions
from gupcheck.kernel_api.bounds import OVERFLOW_CHECKED_SUMS, OVERFLOW_CHECKS
from gupcheck.kernel_api.entries import USER_POINTER_PARAMS, USER_SCALAR_PARAMS
from gupcheck.kernel_api.memory import SIZE_ARGUMENTS
from gupcheck.kernel_api.uaccess import ADDRESS_SPELLINGS, CHECKING_COPIES, FETCHES, RANGE_CHECKS, USER_ACCESS
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    Comparison,
    Function,
    NodeKind,
    Value,
    ValueKind,
    Variable,
    balanced,
    last_field,
    record_of,
    root_of,
)
from gupcheck.model.program import CallRef, Program

CHECKED, BOUNDED, GREATER, DERIVED, SUMMED = "checked", "bounded", "greater", "derived", "summed"
CHECKED_IF_ZERO, ZERO = "checked-if-zero", "zero"
PathFact = tuple[str, ...]
RangeChecks = Mapping[str, tuple[int, ...] | None]  # name -> positions it checks (None: every argument)
MAX_CALL_DEPTH = 6  # callers (or callees) followed from one access
MAX_PROVENANCE_STEPS = 24  # assignments and calls followed back from one address


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
    function: str | None = None  # the callee that trusts it, when not the function that fetched


class UserAccessChecks:
    """Path facts per function (computed once each), the range checks (the kernel's, the declared
    ones and the driver helpers found by their summaries), the struct fields only ever set from
    checked pointers, and the helpers that fetch user data from one parameter into another."""

    def __init__(self, program: Program, user: UserData) -> None:
        self.program = program
        self.user = user
        self._facts: dict[str, dict[int, frozenset]] = {}
        # what was found about a value in the callers of a function, at a node: each question is
        # answered once (a cycle of calls answers no: the conservative answer)
        self._bounded_memo: dict[tuple[str, int, tuple[str, ...]], bool] = {}
        self._covered_memo: dict[tuple[str, int, str, tuple[str, ...]], bool] = {}
        self.range_checks: dict[str, tuple[int, ...] | None] = {
            **{name: (position,) for name, position in RANGE_CHECKS.items()},
            **{name: None for name in program.api.range_checks},
        }
        self.range_checks.update(self._range_check_helpers())
        self.errno_checks = self._errno_range_checks()
        self._atom_facts = partial(_atom_facts, self.range_checks, self.errno_checks)
        self.checked_fields = self._checked_fields()
        self._fetching = self._fetching_functions()
        self._field_stores: dict[FieldKey, list[tuple[Function, Value]]] | None = None  # on first use

    def facts(self, fn: Function) -> dict[int, frozenset]:
        """The path facts on entry to each node of `fn`."""
        if fn.key not in self._facts:
            data = self.user.of(fn)
            self._facts[fn.key] = must_facts(
                fn,
                edge_gen=facts_along_branches(self._atom_facts),
                transfer=lambda node, facts: _transfer(node, facts, data, self.errno_checks),
            )
        return self._facts[fn.key]

    def bounded(self, fn: Function, node: CfgNode, value: Value) -> bool:
        """Whether some variable the value reads is bounded from above on every path to `node` (itself,
        or an overflow-checked sum of it)."""
        return self._bounded(fn, node, value, 0, frozenset())

    def _bounded(
        self, fn: Function, node: CfgNode, value: Value, depth: int, visiting: frozenset[str]
    ) -> bool:
        held = self.facts(fn)[node.id]
        if any((BOUNDED, name) in held for name in value.names):
            return True
        if any(fact[0] == SUMMED and fact[2] in value.names and (BOUNDED, fact[1]) in held for fact in held):
            return True
        # a parameter (or a field of one) that every caller bounded before the call
        if depth > MAX_CALL_DEPTH or fn.key in visiting or self.program.roles(fn):
            return False
        memo = (fn.key, node.id, value.names)
        if memo not in self._bounded_memo:
            self._bounded_memo[memo] = False  # while it is being answered
            self._bounded_memo[memo] = self._bounded_in_callers(fn, value, depth, visiting)
        return self._bounded_memo[memo]

    def _bounded_in_callers(self, fn: Function, value: Value, depth: int, visiting: frozenset[str]) -> bool:
        callers = self.program.callers(fn)
        params = {p.name: p.index for p in fn.params}
        for name in value.names:
            root = root_of(name)
            if root not in params or not callers:
                continue
            if all(
                self._bounded_at_call(ref, name, root, params[root], depth, visiting | {fn.key})
                for ref in callers
            ):
                return True
        return False

    def _bounded_at_call(
        self, ref: CallRef, name: str, param: str, index: int, depth: int, visiting: frozenset[str]
    ) -> bool:
        if index >= len(ref.call.args):
            return False
        argument: Value | None = ref.call.args[index]
        if name != param and argument is not None:
            argument = _rebased(name, param, argument)
        return argument is not None and self._bounded(ref.caller, ref.node, argument, depth + 1, visiting)

    # -- range checks ------------------------------------------------------------------------
    def range_checked(self, fn: Function, node: CfgNode, pointer: Value) -> bool:
        """Whether an access_ok (or a checking copy) covers the user pointer on every path to `node`:
        in `fn`, through a field only ever set from checked pointers, or in every caller."""
        return self._covered(fn, node, pointer, depth=0, visiting=set())

    def _covered(self, fn: Function, node: CfgNode, pointer: Value, depth: int, visiting: set[str]) -> bool:
        held = _promoted(self.facts(fn)[node.id])
        keys = address_keys(pointer)
        operand = _pointer_operand(pointer)  # `end - 1` lies in a range checked through `end`
        if operand is not None and operand not in keys:
            keys.append(operand)
        keys += [fact[2] for fact in held if fact[0] == DERIVED and fact[1] in keys]
        if any((CHECKED, key) in held for key in keys):
            return True
        path = spelled_path(pointer) or operand  # `buf + off` is checked where buf is
        if path and self._through_checked_field(fn, path):
            return True
        root = root_of(path) if path else pointer.base
        param = next((p for p in fn.params if p.name == root), None)
        if param is None or depth > MAX_CALL_DEPTH or fn.key in visiting:
            return False
        callers = self.program.callers(fn)
        if not callers or self.program.roles(fn):
            return False  # an entry point, or nobody calls it: nothing checked before
        memo = (fn.key, node.id, path or pointer.text, tuple(keys))
        if memo not in self._covered_memo:
            self._covered_memo[memo] = False  # while it is being answered
            visiting = visiting | {fn.key}
            self._covered_memo[memo] = all(
                self._covered_at_call(ref, path, param, depth, visiting) for ref in callers
            )
        return self._covered_memo[memo]

    def _covered_at_call(
        self, ref: CallRef, path: str | None, param: Variable, depth: int, visiting: set[str]
    ) -> bool:
        """Whether the caller covered what it passed: the argument itself (or the pointer it walks,
        `u + off`), or the same field of it (`req->dst` of the `&req` it passed)."""
        if param.index >= len(ref.call.args):
            return False
        argument: Value | None = ref.call.args[param.index]
        if path is not None and path != param.name and argument is not None:
            argument = _rebased(path, param.name, argument)
        return argument is not None and self._covered(ref.caller, ref.node, argument, depth + 1, visiting)

    # -- where an address comes from ------------------------------------------------------------
    def user_supplied(self, fn: Function, pointer: Value) -> bool:
        """Whether the address may be one user space chose, along a call chain the program holds: it
        is (or is read from, or computed from) user data that reached `fn` (an entry point's user
        parameter, a field of a struct copied from user space), through locals, conversions and the
        parameters of callers. An address read from a field of a kernel object (a device's ring, a
        kernel iovec array a translation helper filled), another function's result, or a parameter of
        a function that no analysed code calls and that is no entry point (reached through an ops
        pointer from code outside the program) has no known origin: the answer is no."""
        return self._supplied(fn, pointer, 0, set())

    def _supplied(self, fn: Function, value: Value, depth: int, visiting: set[tuple[str, str]]) -> bool:
        data = self.user.of(fn)
        keys = address_keys(value)
        operand = _pointer_operand(value)
        if operand is not None and operand not in keys:
            keys.append(operand)
        params = {p.name: p for p in fn.params}
        for key in keys:
            if (fn.key, key) in visiting or depth > MAX_PROVENANCE_STEPS:
                continue
            visiting.add((fn.key, key))
            if mentions(key, data.tainted) is not None:
                return True  # user data: the ioctl argument, a field of a struct copied in
            root = root_of(key)
            param = params.get(root)
            if param is not None and self._param_supplied(fn, param, key, depth, visiting):
                return True
            if param is None and root in fn.locals:
                for _node, store in fn.stores():
                    if store.target.path == key and self._supplied(fn, store.value, depth + 1, visiting):
                        return True
            if key != root and self._field_supplied(fn, key, depth, visiting):
                return True
        return False

    def _field_supplied(self, fn: Function, key: str, depth: int, visiting: set[tuple[str, str]]) -> bool:
        """Whether some store in the program sets the field `key` reads (known as in
        `_checked_fields`) from a user-chosen address: a driver that keeps the address an ioctl gave
        in its device structure and uses it in a later call."""
        if self._field_stores is None:
            self._field_stores = {}
            for other in self.program.kernel_functions():
                for _node, store in other.stores():
                    target = store.target.path or ""
                    if store.op == "=" and last_field(target) != target:
                        for field_key in _field_keys(other, target):
                            self._field_stores.setdefault(field_key, []).append((other, store.value))
        for field_key in _field_keys(fn, key):
            if ("", f"{field_key[0]}.{field_key[1]}") in visiting:
                continue
            visiting.add(("", f"{field_key[0]}.{field_key[1]}"))
            for other, value in self._field_stores.get(field_key, ()):
                if self._supplied(other, value, depth + 1, visiting):
                    return True
        return False

    def _param_supplied(
        self, fn: Function, param: Variable, key: str, depth: int, visiting: set[tuple[str, str]]
    ) -> bool:
        """Whether a parameter (or the field `key` of it) may hold a user-chosen address: an entry
        point's user parameter, or what some caller passed."""
        roles = self.program.roles(fn)
        if roles:
            return key == param.name and (
                param.is_user
                or any(param.index in USER_POINTER_PARAMS.get(role, ()) for role in roles)
                or any(param.index in USER_SCALAR_PARAMS.get(role, ()) for role in roles)
            )
        for ref in self.program.callers(fn):
            if param.index >= len(ref.call.args):
                continue
            argument: Value | None = ref.call.args[param.index]
            if key != param.name and argument is not None:
                argument = _rebased(key, param.name, argument)
            if argument is not None and self._supplied(ref.caller, argument, depth + 1, visiting):
                return True
        return False

    def _range_check_helpers(self) -> dict[str, tuple[int, ...]]:
        """Driver helpers that say whether a range is valid, by their summaries: a function returning
        bool or int that hands a parameter to a range check (`return access_ok(desc, n) && ...`), or
        a function returning bool that compares a parameter with a limit kept in a structure
        (`if (addr + len > dev->limit) return false;`). Their callers test the result, and a true
        result covers the arguments in those positions. Helpers of helpers are found too, one round
        per level of nesting (at most one round per function)."""
        known: dict[str, tuple[int, ...] | None] = dict(self.range_checks)
        found: dict[str, tuple[int, ...]] = {}
        functions = [fn for fn in self.program.kernel_functions() if _returns_truth(fn)]
        for _round in range(len(functions) + 1):
            changed = False
            for fn in functions:
                if fn.name in known and fn.name not in found:
                    continue  # a kernel range check, or a declared one
                positions = _checked_parameters(fn, known)
                if positions and positions != found.get(fn.name):
                    found[fn.name] = known[fn.name] = positions
                    changed = True
            if not changed:
                break
        return found

    def _errno_range_checks(self) -> ErrnoChecks:
        """Driver helpers that range-check what a parameter holds (or a field of it) and return an
        error when the check fails (`if (!access_ok(addr, n)) return -EFAULT;` with `addr` read from
        the parameter): where their result is known to be zero, the caller's argument passed the
        check. The keys are the parameter's own spelling of the address (`entry->relocs_ptr`)."""
        found: dict[str, tuple[tuple[int, str, str], ...]] = {}
        for fn in self.program.kernel_functions():
            if (
                _returns_truth(fn)
                or not re.search(r"\b(int|long)\b", fn.return_type)
                or "*" in fn.return_type
            ):
                continue
            params = {p.name: p for p in fn.params}
            checked: set[tuple[int, str, str]] = set()
            for node in fn.nodes:
                if node.condition is None:
                    continue
                for edge in node.succs:
                    for atom, outcome in node.facts_along(edge):
                        if outcome or atom.op != "call" or atom.call is None:
                            continue
                        positions = self.range_checks.get(atom.call.callee, ())
                        args = atom.call.args
                        chosen = range(len(args)) if positions is None else positions
                        if not chosen or not _returns_error(fn, edge.target):
                            continue
                        for position in chosen:
                            if position >= len(args):
                                continue
                            for key in _sources(fn, address_keys(args[position])):
                                param = params.get(root_of(key))
                                if param is not None:
                                    checked.add((param.index, param.name, key))
            if checked:
                found[fn.name] = tuple(sorted(checked))
        return found

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

    def _checked_fields(self) -> set[FieldKey]:
        """Struct fields that are only ever set from range-checked pointers (or NULL): `state.user_gfn =
        m.arr` after `access_ok(m.arr, ...)`. Accesses through such a field elsewhere (a callback that
        receives the state) are covered; this is field-based, not alias analysis. A field is known by
        its name, and by the type of the variable it is read from where the path says it
        (`vq->used` of a `struct vhost_virtqueue *vq`), so another structure's `used` does not
        spoil it."""
        assigned: dict[FieldKey, bool] = {}
        for fn in self.program.kernel_functions():
            checked_anywhere = {
                fact[1]
                for node in fn.nodes
                if node.condition is not None
                for outcome in (True, False)
                for atom, held in node.condition.facts(outcome)
                for fact in self._atom_facts(atom, held)
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
                if value.const_value == 0 or value.text == "NULL":
                    continue  # no address at all: an access through it faults
                spelled = spelled_path(value)
                ok = spelled is not None and spelled in checked_anywhere
                for key in _field_keys(fn, target):
                    assigned[key] = assigned.get(key, True) and ok
        return {key for key, ok in assigned.items() if ok}

    def _through_checked_field(self, fn: Function, path: str) -> bool:
        """Whether the access path reads an address from a field only ever set from checked ones
        (`vq->used->ring` goes through `vq->used`)."""
        steps = _PATH_STEPS.findall(path)
        for end in range(1, len(steps) + 1):
            prefix = "".join(steps[:end])
            if prefix == root_of(prefix):
                continue
            if any(key in self.checked_fields for key in _field_keys(fn, prefix)):
                return True
        return False

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

    def trusted_use(self, fn: Function, second: UserFetch, first: UserFetch) -> TrustedUse | None:
        """A size argument, loop bound or index after the second fetch that reads the second copy, in
        `fn` or in a callee it hands the second copy to, unless the second copy was compared with (or
        overwritten from) the first."""
        first_root = root_of(first.destination.path or "")
        second_root = root_of(second.destination.path or "")
        later = sorted(reachable_from(fn, second.node.id))
        return self._trusted(fn, later, second_root, first_root, 0, frozenset())

    def _trusted(
        self,
        fn: Function,
        node_ids: list[int],
        second_root: str,
        first_root: str | None,
        depth: int,
        visiting: frozenset[str],
    ) -> TrustedUse | None:
        if _revalidated(fn, node_ids, second_root, first_root):
            return None
        for node_id in node_ids:
            node = fn.nodes[node_id]
            field = _size_use(fn, node, second_root)
            if field is not None:
                return TrustedUse(node, field, fn.name if depth else None)
            if depth >= MAX_CALL_DEPTH:
                continue
            for call in node.calls:
                if call.callee in USER_ACCESS or call.callee in SIZE_ARGUMENTS:
                    continue
                callee = self.program.callee(fn, call)
                if callee is None or callee.key in visiting or callee.key == fn.key:
                    continue
                bound = _bound_parameters(callee, call, second_root, first_root)
                if bound is None:
                    continue
                use = self._trusted(
                    callee, list(range(len(callee.nodes))), bound[0], bound[1], depth + 1, visiting | {fn.key}
                )
                if use is not None:
                    return use
        return None


def _revalidated(fn: Function, node_ids: list[int], second_root: str, first_root: str | None) -> bool:
    """Whether the second copy is compared with the first, or a field of it overwritten from it."""
    if not first_root:
        return False
    for node_id in node_ids:
        node = fn.nodes[node_id]
        if node.condition is not None:
            for atom in node.condition.atoms():
                names = atom.lhs.names + (atom.rhs.names if atom.rhs else ())
                if _reads(names, second_root) and _reads(names, first_root):
                    return True
        for store in node.stores:
            if _reads((store.target.path or "",), second_root) and _reads(store.value.names, first_root):
                return True
    return False


def _size_use(fn: Function, node: CfgNode, root: str) -> str | None:
    """A field of `root` that `node` uses as a size argument, a loop bound or an index."""

    def field_of(names: tuple[str, ...]) -> str | None:
        return next((n for n in names if n != root and mentions(n, {root})), None)

    for call in node.calls:
        for position in SIZE_ARGUMENTS.get(call.callee, ()):
            if position < len(call.args):
                field = field_of(call.args[position].names)
                if field is not None:
                    return field
    if node.condition is not None and _is_loop_test(fn, node):
        for atom in node.condition.atoms():
            field = field_of(atom.lhs.names + (atom.rhs.names if atom.rhs else ()))
            if field is not None:
                return field
    for subscript in node.subscripts:
        if subscript.array.base != root:
            field = field_of(subscript.index.names)
            if field is not None:
                return field
    return None


def _bound_parameters(
    callee: Function, call: CallSite, second_root: str, first_root: str | None
) -> tuple[str, str | None] | None:
    """The callee's parameters that receive the second copy and (if passed too) the first, when the
    call passes the second copy itself (`apply(msg)`, `apply(&msg)`), not a field of it."""
    second = first = None
    for index, arg in enumerate(call.args[: len(callee.params)]):
        path = spelled_path(arg)
        if path == second_root:
            second = callee.params[index].name
        elif first_root and path == first_root:
            first = callee.params[index].name
    return None if second is None else (second, first)


def same_address(first: Value, second: Value) -> bool:
    """The second fetch reads what the first read: the same address, or the whole object the
    first fetched a field of (`get_user(n, &u->nr)` then `copy_from_user(t, u, ...)`)."""
    if not first.path or not second.path:
        return False
    return first.path == second.path or first.path.startswith(second.path + "->")


def pointer_keys(value: Value) -> list[str]:
    """The names a user pointer goes by: its access path, and its root variable when the path
    goes through that pointer (`&u->len`, `u + off`), not when it is a field of a local (`m.arr`)
    nor the value of a field (`args->data_ptr` holds an address of its own)."""
    keys = []
    if value.path:
        keys.append(value.path)
    if value.base and (
        value.path is None
        or value.path == value.base
        or (value.address_of and value.path[len(value.base) :].startswith(("->", "[")))
    ):
        keys.append(value.base)
    return list(dict.fromkeys(keys))


def address_keys(value: Value) -> list[str]:
    """`pointer_keys`, and the access path a converted address is read from when the front end kept
    no path: `u64_to_user_ptr(args->data_ptr)`, `compat_ptr(uptr)`, `(void __user *)(uintptr_t)x`."""
    keys = pointer_keys(value)
    spelled = spelled_path(value)
    if spelled is not None and spelled not in keys:
        keys.insert(0, spelled)
    return keys


_CAST = re.compile(  # `(u64 __user *)`, `(unsigned long)`: words apart, so no backtracking blow-up
    r"\(\s*[A-Za-z_]\w*(?:\s+[A-Za-z_]\w*)*\s*\**\s*(?:(?:const|volatile|__user|__force)\s*)*\)\s*"
)
_ACCESS_PATH = re.compile(r"[A-Za-z_]\w*(?:(?:\.|->)[A-Za-z_]\w*|\[[^\]]*\])*")
_SPELLING = re.compile(r"(\w+)\s*\((.*)\)")
MAX_SPELLING_STEPS = 8  # conversions and casts taken off one address
MAX_SPELLING_LENGTH = 200


def spelled_path(value: Value) -> str | None:
    """The access path a value reads, through the conversions and casts that only respell an address
    (`compat_ptr((u32)x)` reads x); None when it computes something else (`p + 1`, `f(p)`)."""
    if value.path:
        return value.path
    core = value.text.strip()
    if len(core) > MAX_SPELLING_LENGTH:
        return None  # a longer expression computes something
    core = _unspelt(core).replace(" ", "")
    if not _ACCESS_PATH.fullmatch(core):
        return None
    path = re.sub(r"\[[^\]]*\]", "[]", core)
    return path if path in value.names else None


def _unspelt(text: str) -> str:
    """`text` without the casts, parentheses and conversions that only respell an address."""
    core = text.strip()
    for _step in range(MAX_SPELLING_STEPS):
        before = core
        cast = _CAST.match(core)
        if cast and core[cast.end() :] and not core[cast.end() :].startswith(("->", ".", "[")):
            core = core[cast.end() :].strip()
        call = _SPELLING.fullmatch(core)
        if call and call.group(1) in ADDRESS_SPELLINGS and balanced(call.group(2)):
            core = call.group(2).strip()
        if core.startswith("(") and core.endswith(")") and balanced(core[1:-1]):
            core = core[1:-1].strip()
        if core == before:
            break
    return core


def _rebased(path: str, param: str, argument: Value) -> Value | None:
    """`path` (`args->ptr`, read from parameter `param`) as the caller spells it, given the argument
    it passed (`&req` gives `req.ptr`, `ctx->args` gives `ctx->args->ptr`)."""
    rest = path[len(param) :]
    base = spelled_path(argument)
    if base is None or not rest.startswith(("->", ".", "[")):
        return None
    if argument.address_of and rest.startswith("->"):
        rebased = f"{base}.{rest[2:]}"
    elif argument.address_of:
        return None
    else:
        rebased = base + rest
    return Value(text=rebased, kind=ValueKind.UNKNOWN, base=root_of(rebased), path=rebased, names=(rebased,))


_PATH_STEPS = re.compile(r"^\*?[A-Za-z_]\w*|(?:->|\.)[A-Za-z_]\w*|\[\]")
FieldKey = tuple[str, str]  # (struct type, or "" for a field of any type; field name)


def _field_keys(fn: Function, path: str) -> list[FieldKey]:
    """How a stored (or read) field is known: by name, and by its structure when the path is a
    field of a variable of `fn` (`vq->used`)."""
    field = last_field(path)
    keys = [("", field)]
    root = root_of(path)
    if path in (f"{root}->{field}", f"{root}.{field}"):
        var = next((p for p in fn.params if p.name == root), None) or fn.locals.get(root)
        if var is not None:
            keys.append((record_of(var.type), field))
    return keys


def _pointer_operand(value: Value) -> str | None:
    """The pointer of pointer arithmetic (`vq->used->ring + idx` -> vq->used->ring)."""
    if len(value.text) > MAX_SPELLING_LENGTH:
        return None
    match = re.fullmatch(r"\s*(.+?)\s*[-+]\s*[^-+]+", value.text)
    if match is None:
        return None
    operand = _unspelt(match.group(1)).replace(" ", "")
    if not _ACCESS_PATH.fullmatch(operand):
        return None
    operand = re.sub(r"\[[^\]]*\]", "[]", operand)
    return operand if operand in value.names else None


ErrnoChecks = Mapping[str, tuple[tuple[int, str, str], ...]]  # name -> (position, parameter, key)
MAX_ERROR_PATH = 6  # statements walked from a failed check to the return of an error
_ERROR_VALUE = re.compile(r"-\s*E[A-Z0-9]+\b")


def _returns_error(fn: Function, start: int) -> bool:
    """Whether the straight path from `start` returns an errno (`return -EFAULT;`, or `ret = -EFAULT;
    goto out;` to a `return ret;`)."""
    errors: set[str] = set()
    current = start
    for _step in range(MAX_ERROR_PATH):
        node = fn.nodes[current]
        if node.kind == NodeKind.RETURN:
            returned = node.text.removeprefix("return").strip()
            return bool(_ERROR_VALUE.match(returned)) or returned in errors
        for store in node.stores:
            if store.op == "=" and store.target.path and _ERROR_VALUE.match(store.value.text):
                errors.add(store.target.path)
        if len(node.succs) != 1 or node.kind == NodeKind.BRANCH:
            return False
        current = node.succs[0].target
    return False


def _sources(fn: Function, keys: list[str]) -> list[str]:
    """The keys, and the access paths the locals among them were set from (`addr =
    u64_to_user_ptr(entry->relocs_ptr)` gives entry->relocs_ptr), one step back."""
    found = list(keys)
    for key in keys:
        if key not in fn.locals:
            continue
        for _node, store in fn.stores():
            if store.target.path == key and store.op == "=":
                spelled = spelled_path(store.value)
                if spelled is not None and spelled not in found:
                    found.append(spelled)
    return found


def _checked_by_helper(errno_checks: ErrnoChecks, call: CallSite) -> list[str]:
    """What a helper of `errno_checks` checked, as the caller spells it, when its result is zero."""
    keys: list[str] = []
    for position, param, key in errno_checks.get(call.callee, ()):
        if position >= len(call.args):
            continue
        argument = call.args[position]
        if key == param:
            keys.extend(address_keys(argument))
        else:
            rebased = _rebased(key, param, argument)
            if rebased is not None and rebased.path:
                keys.append(rebased.path)
    return keys


def _promoted(facts: frozenset) -> frozenset:
    """The facts, with what a helper checked where its result is known to be zero."""
    pending = [fact for fact in facts if fact[0] == CHECKED_IF_ZERO and (ZERO, fact[1]) in facts]
    if not pending:
        return facts
    return facts | {(CHECKED, fact[2]) for fact in pending}


def _returns_truth(fn: Function) -> bool:
    """A function whose result says yes or no (an int-returning one usually returns 0 on success)."""
    return re.search(r"\b(bool|_Bool)\b", fn.return_type) is not None and "*" not in fn.return_type


def _checked_parameters(fn: Function, known: RangeChecks) -> tuple[int, ...]:
    """The parameters `fn` range-checks (see `UserAccessChecks._range_check_helpers`): those it hands
    to a range check, and an address and a length it compares with a limit kept in a structure in
    one comparison (`addr + len > w->limit`, `*len > r->end - addr`)."""
    params = {p.name: p.index for p in fn.params}
    found: set[int] = set()
    for _node, call in fn.call_sites():
        if call.callee not in known or call.callee == fn.name:
            continue
        positions = known[call.callee]
        for position in range(len(call.args)) if positions is None else positions:
            if position < len(call.args):
                found.update(params[key] for key in address_keys(call.args[position]) if key in params)
    for node in fn.nodes:
        if node.kind != NodeKind.BRANCH or node.condition is None:
            continue
        for atom in node.condition.atoms():
            if atom.op not in ("<", "<=", ">", ">=") or atom.rhs is None:
                continue
            names = atom.lhs.names + atom.rhs.names
            compared = {root_of(name) for name in names if root_of(name) in params and "->" not in name}
            limit = any("->" in name for name in names)
            if limit and len(compared) >= 2:
                found.update(params[name] for name in compared)
    return tuple(sorted(found))


def _transfer(
    node: CfgNode, facts: frozenset, data: FunctionUserData, errno_checks: ErrnoChecks
) -> frozenset:
    """Stores overwrite what was known about their target, except where the stored value keeps it:
    a pointer derived from a checked one stays checked (`tmp++` after `access_ok(tmp, n)`), a
    copy remembers its source (`tmp = buf`, checked later through buf), a value user space does
    not control is bounded, a value computed from bounded ones only is bounded, and `x = y` where
    x > y keeps x's bound. `check_mul_overflow(a, b, &d)` stores into d like `d = a * b`: an
    overflow check alone is no upper bound."""
    facts = _promoted(facts)
    stored = [(store.target.path, store.value) for store in node.stores]
    sums: list[PathFact] = []
    for call in node.calls:
        if call.callee in errno_checks and call.assigned_to:
            sums.extend(
                (CHECKED_IF_ZERO, call.assigned_to, key) for key in _checked_by_helper(errno_checks, call)
            )
        result_position = OVERFLOW_CHECKS.get(call.callee)
        if result_position is not None and result_position < len(call.args):
            operands = call.args[:result_position]
            names = tuple(name for arg in operands for name in arg.names)
            result_path = call.args[result_position].path
            stored.append((result_path, Value(text="", names=names)))
            if result_path and call.callee in OVERFLOW_CHECKED_SUMS:
                sums.extend((SUMMED, result_path, name) for name in names if name != result_path)
    if not stored:
        return facts | frozenset(sums)
    result = set(facts)
    for target, value in stored:
        if not target:
            continue
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
        tainted = [name for name in value.names if data.tainted_name(Value(text=name, names=(name,)))]
        if data.tainted_name(value) is None:
            result.add((BOUNDED, target))
        elif (BOUNDED, target) in before and (GREATER, target, value.path) in before:
            result.add((BOUNDED, target))
        elif tainted and all((BOUNDED, name) in before for name in tainted):
            result.add((BOUNDED, target))
    result.update(sums)
    return frozenset(result)


def _atom_facts(
    range_checks: RangeChecks, errno_checks: ErrnoChecks, atom: Comparison, outcome: bool
) -> list[PathFact]:
    zero = _known_zero(atom, outcome)
    if zero is not None:
        return [(ZERO, zero)]
    if atom.op == "call" and atom.call is not None:
        callee, args = atom.call.callee, atom.call.args
        if not outcome and callee in errno_checks:
            return [(CHECKED, key) for key in _checked_by_helper(errno_checks, atom.call)]
        if outcome and callee in range_checks:
            positions = range_checks[callee]
            checked = range(len(args)) if positions is None else positions
            return [(CHECKED, key) for p in checked if p < len(args) for key in address_keys(args[p])]
        position = CHECKING_COPIES.get(callee) if not outcome else None
        if position is not None and position < len(args):
            return [(CHECKED, key) for key in address_keys(args[position])]
        return []
    facts: list[PathFact] = []
    for bounded, bound in atom.upper_bounds(outcome):
        facts.extend((BOUNDED, name) for name in bounded.names)
        if bounded.path and bound.path:
            facts.append((GREATER, bound.path, bounded.path))
    return facts


def _known_zero(atom: Comparison, outcome: bool) -> str | None:
    """The variable a branch shows to be zero (an errno helper's result that reported no error):
    `if (err)` or `if (err < 0)` not taken, `if (err == 0)` taken."""
    variable = atom.lhs.path
    if not variable or variable != atom.lhs.text.strip():
        return None
    if atom.op == "value":
        return None if outcome else variable
    if atom.rhs is None or atom.rhs.const_value != 0:
        return None
    if (atom.op, outcome) in (("!=", False), ("==", True), ("<", False)):
        return variable
    return None


def _reads(names: tuple[str, ...], root: str) -> bool:
    return any(mentions(name, {root}) for name in names)


def _is_loop_test(fn: Function, node: CfgNode) -> bool:
    return any(other.text == "loop" and any(e.target == node.id for e in other.succs) for other in fn.nodes)
