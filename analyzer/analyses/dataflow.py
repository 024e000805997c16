"""Path reasoning over a function's statement-level CFG: reachability and must-facts.

A *must-fact* holds at a node when it holds on every path from the function's entry to it.
A node's transfer function maps the facts on entry to the facts after it (a store overwrites
what was checked, or copies a checked pointer); edges add facts (the branch of an `if` on which
a check succeeded).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

from gupcheck.model.facts import CfgNode, Comparison, Edge, Function

Fact = Hashable
Transfer = Callable[[CfgNode, frozenset], frozenset]
EdgeGen = Callable[[CfgNode, Edge], Iterable[Fact]]


def facts_along_branches(facts_of: Callable[[Comparison, bool], Iterable[Fact]]) -> EdgeGen:
    """An edge generator: the facts `facts_of` gives for each atom of a branch condition whose value is
    known along the edge."""

    def along(node: CfgNode, edge: Edge) -> list[Fact]:
        return [fact for atom, outcome in node.facts_along(edge) for fact in facts_of(atom, outcome)]

    return along


def reachable_from(fn: Function, start: int, *, include_start: bool = False) -> set[int]:
    """Nodes reachable from `start` along CFG edges."""
    seen: set[int] = set()
    stack = [edge.target for edge in fn.nodes[start].succs]
    if include_start:
        stack.append(start)
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(edge.target for edge in fn.nodes[current].succs)
    return seen


def predecessors(fn: Function) -> dict[int, list[int]]:
    """Each node's predecessors along CFG edges (nodes without any are left out)."""
    preds: dict[int, list[int]] = {}
    for node in fn.nodes:
        for edge in node.succs:
            preds.setdefault(edge.target, []).append(node.id)
    return preds


def reaching(fn: Function, target: int, preds: dict[int, list[int]] | None = None) -> set[int]:
    """Nodes from which `target` is reachable along one or more CFG edges (`reachable_from`
    backwards: one walk for all nodes instead of one per node). `preds`: `predecessors(fn)`, when
    the caller keeps it."""
    if preds is None:
        preds = predecessors(fn)
    seen: set[int] = set()
    stack = list(preds.get(target, ()))
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(preds.get(current, ()))
    return seen


def must_facts(
    fn: Function,
    edge_gen: EdgeGen | None = None,
    transfer: Transfer | None = None,
    *,
    start: int | None = None,
    initial: frozenset = frozenset(),
) -> dict[int, frozenset]:
    """For each node, the facts that hold on entry to it along every path from the entry (or from
    `start`, where `initial` holds).

    Unreachable nodes get every fact any path could produce (the lattice top), which keeps them
    from being reported.
    """
    origin = fn.entry.id if start is None else start
    state_in: dict[int, frozenset | None] = {node.id: None for node in fn.nodes}  # None: not reached
    state_in[origin] = frozenset(initial)

    worklist = [origin]
    while worklist:
        node_id = worklist.pop()
        node = fn.nodes[node_id]
        current = state_in[node_id]
        if current is None:
            continue
        out = transfer(node, current) if transfer is not None else current
        for edge in node.succs:
            along = out
            if edge_gen is not None:
                extra = frozenset(edge_gen(node, edge))
                if extra:
                    along = out | extra
            previous = state_in[edge.target]
            merged = along if previous is None else previous & along
            if merged != previous:
                state_in[edge.target] = merged
                worklist.append(edge.target)
    universe = frozenset().union(*(s for s in state_in.values() if s is not None))
    return {key: (value if value is not None else universe) for key, value in state_in.items()}
