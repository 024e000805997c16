"""GUP005 unchecked-user-access."""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.analyses.dataflow import must_facts, reachable_from
from gupcheck.analyses.usercontrol import FunctionUserData, UserData, mentions
from gupcheck.kernel_api.memory import LENGTH_SINKS, SIZE_ARGUMENTS
from gupcheck.kernel_api.uaccess import (
    CHECKING_COPIES,
    FETCHES,
    MUST_CHECK,
    RANGE_CHECKS,
    UNCHECKED_ACCESSORS,
)
from gupcheck.model.facts import CallSite, CfgNode, Comparison, Edge, Function, Value, last_field, root_of
from gupcheck.model.findings import Finding, FlowStep, Level, RelatedLocation
from gupcheck.model.program import Program
from gupcheck.model.rule import Rule, RuleDoc

DOC = RuleDoc(
    id="GUP005",
    name="unchecked-user-access",
    level=Level.ERROR,
    cwe=("CWE-20", "CWE-119", "CWE-252", "CWE-367", "CWE-822"),
    summary="User memory accessed without the checks the uaccess API requires",
    what_it_does="""
Checks every access to user memory in kernel code: `__copy_from_user`, `__copy_to_user`,
`__get_user`, `__put_user` and `__clear_user` on a pointer that no `access_ok` covers on every
path before it (an `access_ok` in every caller counts); an ignored result of `copy_from_user`,
`copy_to_user`, `get_user`, `put_user`, `clear_user` or `strncpy_from_user`; a length that user
space controls (the ioctl argument, a field of a struct copied from user space, the `count` of
read/write) used to copy into or out of a fixed-size kernel object without a bound; a user
pointer dereferenced directly; and a double fetch, where the same user address is copied twice
and the second copy's size or length is trusted.
""",
    why_bad="""
The double-underscore variants skip the range check, so a user-supplied kernel address reads or
overwrites kernel memory. `copy_*_user` return the number of bytes not copied: ignoring it uses
uninitialised data or reports success for a failed copy. An unbounded length overflows the
kernel object. A direct dereference bypasses the fault handling and faults (or oopses under
SMAP). Between two fetches user space can change the data, so a length checked in the first
copy is not the length in the second.
""",
    example="""
static long demo_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct demo_req req;
	char buf[64];

	copy_from_user(&req, (void __user *)arg, sizeof(req));   /* result ignored */
	if (copy_from_user(buf, req.data, req.len))             /* req.len unbounded */
		return -EFAULT;
	return 0;
}
""",
    use_instead="""
static long demo_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct demo_req req;
	char buf[64];

	if (copy_from_user(&req, (void __user *)arg, sizeof(req)))
		return -EFAULT;
	if (req.len > sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, req.data, req.len))
		return -EFAULT;
	return 0;
}
""",
    references=(
        "https://docs.kernel.org/core-api/kernel-api.html#c.copy_from_user",
        "https://www.kernel.org/doc/html/latest/process/deprecated.html",
        "https://cwe.mitre.org/data/definitions/367.html",
    ),
)


def check(context: Analyses) -> Iterator[Finding]:
    program = context.program
    user = context.user_data
    fetchers = _fetching_functions(program)
    path_facts = _PathFacts(program, user)
    for fn in sorted(program.kernel_functions(), key=lambda f: (f.file, f.location.line)):
        data = user.of(fn)
        facts = path_facts(fn)
        yield from _unchecked_accessors(program, fn, path_facts)
        yield from _ignored_results(fn)
        yield from _unbounded_lengths(fn, data, facts)
        yield from _user_pointer_derefs(fn, data)
        yield from _double_fetches(program, fn, fetchers)


RULE = Rule(DOC, check)


# -- path facts -------------------------------------------------------------------------
# ("checked", p): p passed access_ok (or a checking copy of p succeeded) on every path here.
# ("bounded", v): v has an upper bound on every path here (compared, clamped, or assigned from a
#                 value user space does not control).
# ("greater", a, b): a > b is known (so `a = b` only lowers a, as in `if (len > n) len = n;`).
class _PathFacts:
    """Must-facts per function, computed once each."""

    def __init__(self, program: Program, user: UserData) -> None:
        self.user = user
        self._cache: dict[str, dict[int, frozenset]] = {}
        self.checked_fields = self._checked_fields(program)

    def __call__(self, fn: Function) -> dict[int, frozenset]:
        if fn.key not in self._cache:
            data = self.user.of(fn)
            self._cache[fn.key] = must_facts(
                fn, edge_gen=_edge_facts, transfer=lambda node, facts: _transfer(node, facts, data)
            )
        return self._cache[fn.key]

    def _checked_fields(self, program: Program) -> set[str]:
        """Struct fields that are only ever set from range-checked pointers: `state.user_gfn = m.arr`
        after `access_ok(m.arr, ...)`. Accesses through such a field elsewhere (a callback that
        receives the state) are covered; this is field-based, not alias analysis."""
        assigned: dict[str, bool] = {}
        for fn in program.kernel_functions():
            checked_anywhere = {
                fact[1]
                for node in fn.nodes
                if node.condition is not None
                for outcome in (True, False)
                for atom, held in node.condition.facts(outcome)
                for fact in _atom_facts(atom, held)
                if fact[0] == "checked"
            }
            for node in fn.nodes:
                for store in node.stores:
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
        if any(("checked", name) in before for name in sources):
            result.add(("checked", target))
        for source in sources:
            if source == target:  # tmp++ / tmp += n: still derived from what it was derived from
                result.update(f for f in before if f[0] == "derived" and f[1] == target)
            else:
                result.add(("derived", target, source))
        if data.tainted_name(value) is None:
            result.add(("bounded", target))
        elif ("bounded", target) in before and ("greater", target, value.path) in before:
            result.add(("bounded", target))
    return frozenset(result)


def _edge_facts(node: CfgNode, edge: Edge) -> list[tuple[str, ...]]:
    if node.condition is None or edge.label not in ("true", "false"):
        return []
    facts: list[tuple[str, ...]] = []
    for atom, outcome in node.condition.facts(edge.label == "true"):
        facts.extend(_atom_facts(atom, outcome))
    return facts


def _atom_facts(atom: Comparison, outcome: bool) -> list[tuple[str, ...]]:
    if atom.op == "call" and atom.call is not None:
        callee, args = atom.call.callee, atom.call.args
        position = RANGE_CHECKS.get(callee) if outcome else CHECKING_COPIES.get(callee)
        if position is not None and position < len(args):
            return [("checked", key) for key in _pointer_keys(args[position])]
        return []
    facts: list[tuple[str, ...]] = []
    for bounded, bound in atom.upper_bounds(outcome):
        facts.extend(("bounded", name) for name in bounded.names)
        if bounded.path and bound.path:
            facts.append(("greater", bound.path, bounded.path))
    return facts


def _pointer_keys(value: Value) -> list[str]:
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


def _finding(
    fn: Function,
    call_or_text: CallSite | str,
    location,
    message: str,
    hint: str,
    level: Level = Level.ERROR,
    **extra,
) -> Finding:
    key = call_or_text if isinstance(call_or_text, str) else _call_text(call_or_text)
    return Finding(
        rule_id=DOC.id,
        level=level,
        message=message,
        location=location,
        function=fn.name,
        snippet_key=key,
        hint=hint,
        **extra,
    )


def _call_text(call: CallSite) -> str:
    return f"{call.callee}({', '.join(arg.text for arg in call.args)})"


# -- a. unchecked accessors ------------------------------------------------------------
def _unchecked_accessors(program: Program, fn: Function, path_facts: _PathFacts) -> Iterator[Finding]:
    for node in fn.nodes:
        for call in node.calls:
            position = UNCHECKED_ACCESSORS.get(call.callee)
            if position is None or position >= len(call.args):
                continue
            pointer = call.args[position]
            if _covered(program, fn, node, pointer, path_facts, depth=0, visiting=set()):
                continue
            yield _finding(
                fn,
                call,
                call.location,
                f"'{call.callee}' on '{pointer.text}' without an access_ok() that covers it on every path",
                f"check the range first (`if (!access_ok({pointer.text}, size)) return -EFAULT;`) "
                f"or use the checking variant '{call.callee.lstrip('_')}'",
            )


def _covered(
    program: Program,
    fn: Function,
    node: CfgNode,
    pointer: Value,
    path_facts: _PathFacts,
    depth: int,
    visiting: set[str],
) -> bool:
    held = path_facts(fn)[node.id]
    keys = _pointer_keys(pointer)
    keys += [fact[2] for fact in held if fact[0] == "derived" and fact[1] in keys]
    if any(("checked", key) in held for key in keys):
        return True
    field = last_field(pointer.path or "")
    if field and field != pointer.path and field in path_facts.checked_fields:
        return True
    param = next((p for p in fn.params if p.name == pointer.base), None)
    if param is None or depth > 6 or fn.key in visiting:
        return False
    callers = program.callers(fn)
    if not callers or program.roles(fn):
        return False  # an entry point, or nobody calls it: nothing checked before
    visiting = visiting | {fn.key}
    for ref in callers:
        if param.index >= len(ref.call.args):
            return False
        if not _covered(
            program, ref.caller, ref.node, ref.call.args[param.index], path_facts, depth + 1, visiting
        ):
            return False
    return True


# -- b. ignored results ----------------------------------------------------------------
def _ignored_results(fn: Function) -> Iterator[Finding]:
    for node in fn.nodes:
        for call in node.calls:
            if call.callee in MUST_CHECK and not call.result_used:
                yield _finding(
                    fn,
                    call,
                    call.location,
                    f"result of '{call.callee}' is ignored: a failed copy goes unnoticed",
                    f"`if ({call.callee}(...)) return -EFAULT;` — it returns the number of bytes "
                    "not copied (or -EFAULT for get_user/put_user)",
                    level=Level.WARNING,
                )


# -- c. unbounded user-controlled lengths ----------------------------------------------
def _unbounded_lengths(
    fn: Function, data: FunctionUserData, facts: dict[int, frozenset]
) -> Iterator[Finding]:
    for node in fn.nodes:
        for call in node.calls:
            sink = LENGTH_SINKS.get(call.callee)
            if sink is None or sink[0] >= len(call.args):
                continue
            length_position, object_positions = sink
            length = call.args[length_position]
            tainted = data.tainted_name(length)
            if tainted is None:
                continue
            if any(("bounded", name) in facts[node.id] for name in length.names):
                continue
            target = next(
                (
                    call.args[i]
                    for i in object_positions
                    if i < len(call.args) and call.args[i].fixed_size is not None
                ),
                None,
            )
            if target is None:
                continue
            yield _finding(
                fn,
                call,
                call.location,
                f"user-controlled length '{length.text}' copies into or out of '{target.text}' "
                f"({target.fixed_size} bytes) without a bound",
                f"reject larger values first (`if ({length.text} > sizeof({target.text.lstrip('&')})) "
                "return -EINVAL;`) or clamp with min()",
            )


# -- d. direct dereference of user pointers --------------------------------------------
def _user_pointer_derefs(fn: Function, data: FunctionUserData) -> Iterator[Finding]:
    for node in fn.nodes:
        reported: set[str] = set()
        for deref in node.derefs:
            pointer = deref.pointer
            if not data.is_user_pointer(pointer) or pointer.base is None:
                continue
            if pointer.text in reported:
                continue
            reported.add(pointer.text)
            yield _finding(
                fn,
                f"*{pointer.text}",
                deref.location,
                f"user pointer '{pointer.text}' is dereferenced directly",
                "copy the data in with copy_from_user()/get_user() (or out with copy_to_user()/put_user())",
            )


# -- e. double fetch -------------------------------------------------------------------
def _fetching_functions(program: Program) -> dict[str, set[tuple[int, int]]]:
    """Helpers that fetch user data from one parameter into another: (source, destination)
    parameter positions, so a fetch inside `relay_alloc_msg(umsg, &hdr)` counts at its call."""
    summaries: dict[str, set[tuple[int, int]]] = {}
    changed = True
    while changed:
        changed = False
        for fn in program.kernel_functions():
            positions = {p.name: p.index for p in fn.params}
            found = summaries.setdefault(fn.key, set())
            for _node, _call, dest, source in _fetches_in(program, fn, summaries):
                pair = (positions.get(source.base or ""), positions.get(dest.base or ""))
                if None not in pair and pair not in found:
                    found.add(pair)  # type: ignore[arg-type]
                    changed = True
    return summaries


def _fetches_in(program: Program, fn: Function, summaries: dict[str, set[tuple[int, int]]]):
    """(node, call, destination, user source) of every fetch in `fn`, direct or through a helper."""
    for node in fn.nodes:
        for call in node.calls:
            dest_position = FETCHES.get(call.callee)
            if dest_position is not None and len(call.args) > 1:
                yield node, call, call.args[dest_position], call.args[1]
                continue
            callee = program.callee(fn, call)
            for source_position, dest_position in sorted(summaries.get(callee.key, ()) if callee else ()):
                if max(source_position, dest_position) < len(call.args):
                    yield node, call, call.args[dest_position], call.args[source_position]


def _double_fetches(
    program: Program, fn: Function, summaries: dict[str, set[tuple[int, int]]]
) -> Iterator[Finding]:
    fetches = list(_fetches_in(program, fn, summaries))
    for i, (node1, call1, dest1, source1) in enumerate(fetches):
        later = reachable_from(fn, node1.id)
        for node2, call2, dest2, source2 in fetches[i + 1 :]:
            if node2.id not in later or not _same_address(source1, source2):
                continue
            if not dest1.path or not dest2.path or root_of(dest1.path) == root_of(dest2.path):
                continue
            use = _trusted_use(fn, node2, dest1.path, dest2.path)
            if use is None:
                continue
            use_node, use_text = use
            yield _finding(
                fn,
                call2,
                call2.location,
                f"double fetch: '{source2.text}' is copied from user space again and "
                f"'{use_text}' from the second copy is trusted",
                f"use the length from the first copy (or check `{use_text}` against it): user space "
                "can change the data between the two copies",
                related=[RelatedLocation(call1.location, "first fetch from the same user address")],
                flow=[
                    FlowStep(call1.location, "first fetch"),
                    FlowStep(call2.location, "second fetch"),
                    FlowStep(use_node.location or call2.location, f"'{use_text}' used as a size"),
                ],
            )
            break


def _same_address(first: Value, second: Value) -> bool:
    """The second fetch reads what the first read: the same address, or the whole object the
    first fetched a field of (`get_user(n, &u->nr)` then `copy_from_user(t, u, ...)`)."""
    if not first.path or not second.path:
        return False
    return first.path == second.path or first.path.startswith(second.path + "->")


def _trusted_use(fn: Function, fetch_node: CfgNode, first: str, second: str) -> tuple[CfgNode, str] | None:
    """A size argument after the second fetch that reads the second copy, unless the second copy
    was compared with (or overwritten from) the first."""
    first_root, second_root = root_of(first), root_of(second)
    later = reachable_from(fn, fetch_node.id)
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
                        return node, field
        if node.condition is not None and _is_loop_test(fn, node):
            for atom in node.condition.atoms():
                names = atom.lhs.names + (atom.rhs.names if atom.rhs else ())
                field = next((n for n in names if n != second_root and mentions(n, {second_root})), None)
                if field is not None:
                    return node, field
    return None


def _reads(names, root: str) -> bool:
    return any(mentions(name, {root}) for name in names)


def _is_loop_test(fn: Function, node: CfgNode) -> bool:
    return any(other.text == "loop" and any(e.target == node.id for e in other.succs) for other in fn.nodes)
