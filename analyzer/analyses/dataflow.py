"""Path reasoning over a function's statement-level CFG: reachability and must-facts.

A *must-fact* holds at a node when it holds on every path from the function's entry to it.
A node's transfer function maps the facts on entry to the facts after it (a store overwrites
what was checked, or copies a checked pointer); edges add facts (the branch of an `if` on which
a check succeeded).
"""

from __future__ import annotations

import heapq
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


def cycles(fn: Function) -> dict[int, frozenset[int]]:
    """The nodes that lie on a cycle of the CFG (a loop, or a goto back), each with its strongly
    connected component: the nodes it can reach that can reach it back. (Tarjan's algorithm with an
    explicit stack: a function may have thousands of nodes in a row.)"""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    component_stack: list[int] = []
    found: dict[int, frozenset[int]] = {}
    for root in range(len(fn.nodes)):
        if root in index:
            continue
        work = [(root, 0)]  # (node, index of its next successor to look at)
        index[root] = low[root] = len(index)
        component_stack.append(root)
        on_stack.add(root)
        while work:
            node_id, next_edge = work[-1]
            succs = fn.nodes[node_id].succs
            if next_edge < len(succs):
                work[-1] = (node_id, next_edge + 1)
                target = succs[next_edge].target
                if target not in index:
                    index[target] = low[target] = len(index)
                    component_stack.append(target)
                    on_stack.add(target)
                    work.append((target, 0))
                elif target in on_stack:
                    low[node_id] = min(low[node_id], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
            if low[node_id] == index[node_id]:
                members = []
                while True:
                    member = component_stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node_id:
                        break
                looping = len(members) > 1 or any(e.target == node_id for e in succs)
                if looping:
                    component = frozenset(members)
                    found.update(dict.fromkeys(component, component))
    return found


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

    Nodes are visited in reverse postorder from the origin (a node before its successors, apart
    from loop back edges), each at most once per round of changes: the facts are gen/kill sets, so
    the states settle after a few passes over the function (about its loop nesting depth), however
    many gotos and labels it has. A node's facts only ever shrink, which bounds the work in any case.
    """
    origin = fn.entry.id if start is None else start
    rank = _reverse_postorder(fn, origin)
    state_in: dict[int, frozenset | None] = {node.id: None for node in fn.nodes}  # None: not reached
    state_in[origin] = frozenset(initial)
    along_edge: dict[tuple[int, int], frozenset] = {}  # what an edge adds depends on the edge only

    pending = [(rank[origin], origin)]
    queued = {origin}
    while pending:
        _, node_id = heapq.heappop(pending)
        queued.discard(node_id)
        node = fn.nodes[node_id]
        current = state_in[node_id]
        if current is None:
            continue
        out = transfer(node, current) if transfer is not None else current
        for index, edge in enumerate(node.succs):
            along = out
            if edge_gen is not None:
                extra = along_edge.get((node_id, index))
                if extra is None:
                    extra = along_edge[node_id, index] = frozenset(edge_gen(node, edge))
                if extra:
                    along = out | extra
            previous = state_in[edge.target]
            merged = along if previous is None else previous & along
            if merged != previous:
                state_in[edge.target] = merged
                if edge.target not in queued:
                    queued.add(edge.target)
                    heapq.heappush(pending, (rank[edge.target], edge.target))
    universe = frozenset().union(*(s for s in state_in.values() if s is not None))
    return {key: (value if value is not None else universe) for key, value in state_in.items()}


def _reverse_postorder(fn: Function, origin: int) -> dict[int, int]:
    """The rank of each node reachable from `origin` in a reverse postorder of a depth-first search
    (an explicit stack: a function may have thousands of nodes in a row)."""
    postorder: list[int] = []
    visited = {origin}
    stack: list[tuple[int, int]] = [(origin, 0)]  # (node, index of its next successor to visit)
    while stack:
        node_id, next_edge = stack[-1]
        succs = fn.nodes[node_id].succs
        if next_edge < len(succs):
            stack[-1] = (node_id, next_edge + 1)
            target = succs[next_edge].target
            if target not in visited:
                visited.add(target)
                stack.append((target, 0))
        else:
            stack.pop()
            postorder.append(node_id)
    return {node_id: rank for rank, node_id in enumerate(reversed(postorder))}
