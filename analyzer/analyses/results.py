"""What a function does with the result of a call it keeps in a variable (`rv = copy_from_user(...)`):
acts on it, only tests it in a way that is never true, or only logs it."""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from gupcheck.kernel_api.logs import LOG_CALLS
from gupcheck.model.facts import CfgNode, Comparison, Edge, EdgeLabel, Function, NodeKind

# How far a branch that only logs is followed before it must have rejoined (nodes); how many nodes
# after the call are looked at (bounded in a function of any size).
_LOG_BRANCH_LIMIT = 12
_SEARCH_LIMIT = 4000


class ResultUse(StrEnum):
    ACTED_ON = "acted-on"  # tested, returned, stored or passed on: the function does something with it
    NEVER_TRUE_TEST = "never-true-test"  # every test is one a non-negative count never passes (`< 0`)
    ONLY_LOGGED = "only-logged"  # tested, but the failure branch only prints and rejoins the success path
    UNUSED = "unused"  # kept in the variable and never read


def result_use(fn: Function, node: CfgNode, variable: str, *, never_negative: bool) -> ResultUse:
    """What `fn` does with `variable` after `node` assigned it a call's result, on every path until the
    variable is assigned again. `never_negative`: the call returns a count (bytes not copied), so a
    test for a negative value never holds."""
    if node.condition is not None:
        # `if ((rv = copy_to_user(...)) != 0)`: tested where it is assigned
        atoms = node.condition.atoms()
        if not (never_negative and atoms and all(_negative_test(atom, variable) for atom in atoms)):
            return ResultUse.ACTED_ON
    seen = {node.id}
    pending = deque(edge.target for edge in node.succs)
    uses: set[ResultUse] = set()
    while pending and len(seen) < _SEARCH_LIMIT:
        current = fn.nodes[pending.popleft()]
        if current.id in seen:
            continue
        seen.add(current.id)
        use = _use_at(fn, current, variable, never_negative)
        if use is ResultUse.ACTED_ON:
            return use
        if use is not None:
            uses.add(use)
        if any(store.target.path == variable for store in current.stores):
            continue  # assigned again: what follows reads another value
        pending.extend(edge.target for edge in current.succs)
    if pending:
        return ResultUse.ACTED_ON  # past the budget: say nothing
    for use in (ResultUse.ONLY_LOGGED, ResultUse.NEVER_TRUE_TEST):
        if use in uses:
            return use
    return ResultUse.UNUSED


def _use_at(fn: Function, node: CfgNode, variable: str, never_negative: bool) -> ResultUse | None:
    if node.returns is not None and variable in node.returns.names:
        return ResultUse.ACTED_ON
    if any(variable in store.value.names for store in node.stores):
        return ResultUse.ACTED_ON
    for call in node.calls:
        if call.callee not in LOG_CALLS and any(variable in arg.names for arg in call.args):
            return ResultUse.ACTED_ON
    if node.condition is None:
        return None
    atoms = [atom for atom in node.condition.atoms() if _reads(atom, variable)]
    if not atoms:
        return None
    if never_negative and all(_negative_test(atom, variable) for atom in atoms):
        return ResultUse.NEVER_TRUE_TEST
    if len(node.succs) == 2 and _failure_only_logged(fn, node, variable):
        return ResultUse.ONLY_LOGGED
    return ResultUse.ACTED_ON


def _reads(atom: Comparison, variable: str) -> bool:
    return variable in atom.lhs.names or (atom.rhs is not None and variable in atom.rhs.names)


def _negative_test(atom: Comparison, variable: str) -> bool:
    """`rv < 0`, `rv <= -1`, `0 > rv`: true only for a negative value."""
    if atom.rhs is not None and atom.rhs.path == variable:
        atom = atom.mirrored()  # `0 > rv`
    if atom.rhs is None or atom.lhs.path != variable or atom.rhs.const_value is None:
        return False
    bound = atom.rhs.const_value
    return (atom.op == "<" and bound <= 0) or (atom.op == "<=" and bound < 0)


def _failure_only_logged(fn: Function, node: CfgNode, variable: str) -> bool:
    """The branch taken when the variable is non-zero (the copy failed) only prints, and comes back to
    where the other branch goes: `if (rv) pr_info("copy failed, continuing");`."""
    failure: Edge | None = None
    for edge in node.succs:
        for atom, outcome in node.facts_along(edge):
            if atom.lhs.path == variable and _says_nonzero(atom, outcome):
                failure = edge
    if failure is None:
        return False
    other = next(edge.target for edge in node.succs if edge is not failure)
    current = failure.target
    for _step in range(_LOG_BRANCH_LIMIT):
        if current == other:
            return True
        step = fn.nodes[current]
        if step.kind == NodeKind.RETURN or step.stores:
            return False
        if any(call.callee not in LOG_CALLS for call in step.calls):
            return False
        following = _constant_branch(step) if len(step.succs) == 2 else None
        if following is None and len(step.succs) != 1:
            return False
        current = following if following is not None else step.succs[0].target
    return False


def _constant_branch(node: CfgNode) -> int | None:
    """Where a test of a constant goes (`do { } while (0)`, what an empty debug macro leaves)."""
    if node.condition is None:
        return None
    atoms = node.condition.atoms()
    if len(atoms) != 1 or atoms[0].op != "value" or atoms[0].lhs.const_value is None:
        return None
    taken = EdgeLabel.TRUE if atoms[0].lhs.const_value else EdgeLabel.FALSE
    return next((edge.target for edge in node.succs if edge.label == taken), None)


def _says_nonzero(atom: Comparison, outcome: bool) -> bool:
    if atom.rhs is None:
        return atom.op == "value" and outcome
    if atom.rhs.const_value != 0:
        return False
    return (atom.op, outcome) in (("!=", True), ("==", False), (">", True))
