"""Locksets: which locks are held at each statement, on every path.

A lock is named by its access path's last field (`dev->lock` and `d->lock` are the same lock, as
the driver's own discipline uses one lock field per structure) or, for a global, by its name.
Acquire and release calls come from a classifier, so the same machinery serves the kernel (the
lock API: mutexes, spinlocks in all their `_irqsave`/`_irq`/`_bh` forms, rw locks, rw semaphores,
semaphores) and userland (lock and unlock ioctls of a driver). Helpers are summarised bottom-up
("returns with L held", "releases L"); a function's context is what every caller holds at its
call sites.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from gupcheck.analyses.dataflow import must_facts, reachable_from
from gupcheck.analyses.summaries import summarise_bottom_up
from gupcheck.kernel_api.locks import ACQUIRE, IF_NONZERO, IF_ZERO, RELEASE, Holds, LockAction, LockApi
from gupcheck.kernel_api.overlay import Api
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    Comparison,
    Edge,
    Function,
    NodeKind,
    Side,
    Value,
    last_field,
)
from gupcheck.model.program import CallRef, Program


def lock_key(value: Value) -> str | None:
    """The name of the lock an argument denotes: `&dev->lock` -> "lock", `&buf_lock` -> "buf_lock"."""
    path = (value.path or "").lstrip("*")
    if path:
        return last_field(path).removesuffix("[]")
    # no access path when a call is on the way (`&to_gt(i915)->ggtt->vm.mutex`): the last field spelled
    spelled = re.search(r"(?:->|\.)\s*([A-Za-z_]\w*)\s*\)*\s*$", value.text)
    return spelled.group(1) if spelled else None


@dataclass(frozen=True)
class LockEvent:
    """A lock operation at a call: acquire or release `key`, maybe only on one outcome."""

    action: LockAction
    key: str
    condition: Holds = Holds.ALWAYS


Classifier = Callable[[Function, CallSite], list[LockEvent]]


def kernel_lock_classifier(api: Api) -> Classifier:
    """The lock API calls of kernel code, declared lock wrappers included."""
    return lambda fn, call: _events(api.lock(call.callee), call)


def _events(lock: LockApi | None, call: CallSite) -> list[LockEvent]:
    if lock is None or not call.args:
        return []
    key = lock_key(call.args[0])
    return [LockEvent(lock.action, key, lock.condition)] if key else []


@dataclass(frozen=True)
class LockSummary:
    """What a helper does to its caller's lockset."""

    acquires: frozenset[str] = frozenset()  # held when it returns, on every path
    releases: frozenset[str] = frozenset()  # released on some path (held before, not after)


class LockSets:
    """Must-locksets for the functions of one side of a program."""

    def __init__(self, program: Program, side: Side, classify: Classifier) -> None:
        self.program = program
        self.side = side
        self.classify = classify
        self.functions = program.functions_of(side)
        self.summaries: dict[str, LockSummary] = {}
        self._states: dict[str, dict[int, frozenset]] = {}
        self._contexts: dict[str, frozenset | None] = {}
        self._partial: dict[tuple, dict[int, frozenset]] = {}
        self._summarise()

    # -- events ---------------------------------------------------------------------------
    def events(self, fn: Function, call: CallSite) -> list[LockEvent]:
        """Lock events of a call: the classifier's, or the callee's summary."""
        direct = self.classify(fn, call)
        if direct:
            return direct
        callee = self.program.callee(fn, call)
        summary = self.summaries.get(callee.key) if callee is not None else None
        if summary is None:
            return []
        return [LockEvent(RELEASE, key) for key in sorted(summary.releases)] + [
            LockEvent(ACQUIRE, key) for key in sorted(summary.acquires)
        ]

    def transfer(self, fn: Function) -> Callable[[CfgNode, frozenset], frozenset]:
        def apply(node: CfgNode, held: frozenset) -> frozenset:
            tested = _tested_calls(node)
            for call in node.calls:
                for event in self.events(fn, call):
                    if event.condition and call.callee in tested:
                        continue  # decided on the branch edges
                    if event.action == ACQUIRE:
                        held = held | {event.key}
                    else:
                        held = held - {event.key}
            return held

        return apply

    def edge_facts(self, fn: Function) -> Callable[[CfgNode, Edge], list[str]]:
        def gen(node: CfgNode, edge: Edge) -> list[str]:
            gained = []
            for atom, outcome in node.facts_along(edge):
                callee, nonzero = _call_outcome(atom, outcome)
                if callee is None:
                    continue
                for call in node.calls:
                    if call.callee != callee:
                        continue
                    for event in self.events(fn, call):
                        if event.action == ACQUIRE and (
                            (event.condition == IF_ZERO and nonzero is False)
                            or (event.condition == IF_NONZERO and nonzero is True)
                        ):
                            gained.append(event.key)
            return gained

        return gen

    def analyse(
        self, fn: Function, *, start: int | None = None, initial: frozenset = frozenset()
    ) -> dict[int, frozenset]:
        """Locks held on entry to each node, on every path from the entry (or `start`)."""
        return must_facts(
            fn, edge_gen=self.edge_facts(fn), transfer=self.transfer(fn), start=start, initial=initial
        )

    # -- summaries ------------------------------------------------------------------------
    def _summarise(self) -> None:
        self.program.unfinished += summarise_bottom_up(
            self.functions,
            self.summaries,
            self._summary_of,
            lambda fn: (
                ref.caller
                for ref in self.program.callers(fn)
                if self.program.side_of(ref.caller) == self.side
            ),
            unknown=LockSummary(),
            what="its lock summary",
        )

    def _summary_of(self, fn: Function) -> LockSummary:
        if self.program.roles(fn):
            return LockSummary()  # an entry point is nobody's helper
        if not self._exit_reached(fn):
            return LockSummary()
        events = [event for node in fn.nodes for call in node.calls for event in self.events(fn, call)]
        # a helper that takes and drops a lock itself leaves its caller's lockset alone
        released = frozenset(event.key for event in events if event.action == RELEASE) - {
            event.key for event in events if event.action == ACQUIRE
        }
        acquired = self.analyse(fn)[fn.exit.id]
        if released:
            released = released - self.analyse(fn, initial=released)[fn.exit.id]
        return LockSummary(frozenset(acquired), released)

    @staticmethod
    def _exit_reached(fn: Function) -> bool:
        return any(edge.target == fn.exit.id for node in fn.nodes for edge in node.succs)

    # -- locksets with the callers' context -------------------------------------------------
    def held(self, fn: Function, node_id: int) -> frozenset:
        """Locks held on entry to the node on every path, including what every caller holds."""
        return self.states(fn)[node_id]

    def held_from(self, fn: Function, node_id: int, callers: tuple[CallRef, ...]) -> frozenset:
        """Locks held on entry to the node when `fn` is called from these call sites only (what
        each of them holds, on every path from the entry)."""
        key = (fn.key, tuple(sorted((ref.caller.key, ref.node.id) for ref in callers)))
        if key not in self._partial:
            context: frozenset | None = None
            for ref in callers:
                held = self.held(ref.caller, ref.node.id)
                context = held if context is None else context & held
            self._partial[key] = self.analyse(fn, initial=context or frozenset())
        return self._partial[key][node_id]

    def states(self, fn: Function) -> dict[int, frozenset]:
        if fn.key not in self._states:
            self._states[fn.key] = self.analyse(fn, initial=self.context(fn))
        return self._states[fn.key]

    def held_after(self, fn: Function, node: CfgNode, before: frozenset) -> frozenset:
        return self.transfer(fn)(node, before)

    def context(self, fn: Function) -> frozenset:
        """Locks every caller holds when it calls `fn` (nothing for entry points, for functions
        nobody calls and inside recursion)."""
        if fn.key in self._contexts:
            return self._contexts[fn.key] or frozenset()
        self._contexts[fn.key] = None  # in progress: a cycle answers "nothing held"
        callers = [ref for ref in self.program.callers(fn) if self.program.side_of(ref.caller) == self.side]
        context: frozenset | None = None
        if callers and not self.program.roles(fn):
            for ref in callers:
                held = self.held(ref.caller, ref.node.id)
                context = held if context is None else context & held
        self._contexts[fn.key] = context or frozenset()
        return self._contexts[fn.key] or frozenset()

    def returns_holding(self, fn: Function, start: int, initial: frozenset) -> set[str]:
        """Locks held when `fn` returns on some path from `start` (a case of an ioctl switch)."""
        states = self.analyse(fn, start=start, initial=initial)
        reached = reachable_from(fn, start, include_start=True)
        held: set[str] = set()
        for node_id in reached:
            node = fn.nodes[node_id]
            if node.kind == NodeKind.RETURN:
                held |= self.held_after(fn, node, states[node_id])
        if fn.exit.id in reached:
            held |= states[fn.exit.id]
        return held


def _tested_calls(node: CfgNode) -> set[str]:
    """Calls whose result the node's branch condition tests."""
    if node.condition is None:
        return set()
    tested = set()
    for atom in node.condition.atoms():
        if atom.call is not None:
            tested.add(atom.call.callee)
        tested.update(atom.lhs.calls)
    return tested


def _call_outcome(atom: Comparison, outcome: bool) -> tuple[str | None, bool | None]:
    """(callee, whether it returned non-zero) when the atom tests a call's result: `if (call)`,
    `if (call < 0)`, `if (call != 0)`, `if (call == 0)`."""
    if atom.op == "call" and atom.call is not None:
        return atom.call.callee, outcome
    if atom.op == "value" and len(atom.lhs.calls) == 1:
        return atom.lhs.calls[0], outcome
    if atom.rhs is None or atom.rhs.const_value != 0 or len(atom.lhs.calls) != 1:
        return None, None
    callee = atom.lhs.calls[0]
    if atom.op == "!=":
        return callee, outcome
    if atom.op == "==":
        return callee, not outcome
    if atom.op == "<" and not outcome:
        return callee, False  # `ret < 0` false: these calls return 0 or a negative errno
    if atom.op == "<" and outcome:
        return callee, True
    return None, None
