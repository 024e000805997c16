"""The fate of one pin: the pages followed along every path from the pin call to the function's return
(released, kept, handed to the caller, returned, given to code not analysed, or lost)."""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from gupcheck.analyses.dataflow import cycles, must_facts, reachable_from
from gupcheck.analyses.pins.events import Escaped, HandedOut, Handle, Output, Released, Returned, Stored
from gupcheck.analyses.pins.sites import Pin
from gupcheck.kernel_api.errors import ERROR_POINTER_TESTS
from gupcheck.kernel_api.pins import PINNED_PAGE_TESTS
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    Comparison,
    Condition,
    Edge,
    EdgeLabel,
    Function,
    Store,
    Value,
    root_of,
)

if TYPE_CHECKING:
    from gupcheck.analyses.pins.analysis import PinAnalysis


@dataclass(frozen=True)
class Keep:
    """Pages kept in a place at a node."""

    node: CfgNode
    place: str  # what they were stored into: "ctx->pages", "list_add()"


@dataclass
class Fate:
    """Where the pages of one pin go, over all paths from the pin to the function's return."""

    released: list[tuple[CfgNode, CallSite]] = field(default_factory=list)
    stored: list[Keep] = field(default_factory=list)
    returned: list[CfgNode] = field(default_factory=list)
    leak_path: list[CfgNode] | None = None  # a path from the pin to the return holding the pages
    escaped: list[CfgNode] = field(default_factory=list)  # `&handle` given to code not analysed
    handed_out: list[Output] = field(default_factory=list)  # a helper's output: `pages`, `region->pages`
    # the parameters' fields non-zero on every `return 0` reached holding the pages (None: no such return)
    nonzero_on_success: frozenset[str] | None = None


class SearchState(NamedTuple):
    node: int
    live: bool  # the pin call's result variable still holds its return value
    forgotten: frozenset[str] = frozenset()  # branch outcomes known at the pin that a write undid
    nonzero: frozenset[str] = frozenset()  # locals known not to be 0 here (`nchunks++`, `ret = -ENOMEM`)
    zero: frozenset[str] = frozenset()  # loop indexes `i < pinned` still 0 here (`i = 0`)
    kept: frozenset[int] = frozenset()  # the places (indexes into `handles`) keeping the pages on this path


# At most this many conditions known at the pin are told apart by whether a write on the path undid
# them (2**N sets of them per node); past it, they are all forgotten from the pin on.
KNOWN_TRACKED = 6

# At most this many locals are followed for being known non-zero (2**N sets of them per node).
NONZERO_TRACKED = 4

# At most this many search states (node and path facts) a pin; past it, the pages' fate is what the
# states searched found, and the function is named as not fully analysed.
STATE_BUDGET = 100_000

# At most this many places keeping the pages are followed along the paths after them (a later release
# undoes them); past it, a store ends its path as a keep.
KEEPS_TRACKED = 8


def follow(analysis: PinAnalysis, pin: Pin) -> Fate:
    return _PathSearch(analysis, pin).run()


class _PathSearch:
    """A search from the pin call over (node, whether the call's result variable still holds its
    return value): once `rc` is reused for another call, tests of `rc` say nothing about the pin."""

    def __init__(self, analysis: PinAnalysis, pin: Pin) -> None:
        fn = pin.function
        self.analysis = analysis
        self.pin = pin
        self.fn = fn
        self.fate = Fate()
        self.root = root_of(pin.pages)
        self.params = {p.name: p.index for p in fn.params}
        ownership = analysis.ownership
        # Pages pinned straight into a parameter's array or a long-lived place are still
        # followed: released before the return, they were a short-term pin after all.
        self.output: Output | None = None
        self.owner: str | None = None
        holder = ownership.param_holder(fn, self.root) if self.root not in self.params else self.root
        # `ev = &eb->vma[i]; pin into ev->vma->obj`: the pages are in an object the caller's struct only
        # points to (it existed before the call and lives on), not in the caller's struct itself
        self.pointed_object = (
            holder in self.params and holder != self.root and "->" in pin.pages[len(self.root) + 2 :]
        )
        if self.pointed_object:
            holder = None
        if holder in self.params and (pin.pages == self.root or ownership.owner(fn, holder) is None):
            # pinned into the caller's object (`mapped = &bitmap->mapped; ... mapped->pages`)
            self.output = Output(
                self.params[holder], pin.pages[len(self.root) :] if holder == self.root else ""
            )
        else:
            self.owner = ownership.owner(fn, self.root) and pin.pages
        facts = analysis.function_facts(fn)
        self.tracked = {pin.pages, self.root} | set(facts.windows.get(self.root, ()))
        self.releases_seen: set[tuple[int, int]] = set()
        self.handle_holders: set[str] = set()  # tracked locals that hold a handle, not the pages
        self.result = pin.call.assigned_to
        self.zero_on_success = bool(pin.via) and returns_zero(analysis, fn, pin.call)
        # `if (is_userptr) { pin } ... if (is_userptr) unpin`: a condition that held at the pin
        # still holds at a later test of the same condition (unless its variables change)
        self.known = _known_outcomes(analysis.branch_facts(fn)[pin.node.id])
        self.undoes = _undoing_writes(fn, pin.node, self.known)
        # locals known non-zero on a path, and fields of the parameters a helper counts in after
        # the pin (`batch->nr_ops++`): its callers may test them for what it pinned
        self.zero_tested, self.never_zero = facts.zero_tested | facts.counted_fields, facts.never_zero
        # the variable the pin fills with a page or frame number (`&pfn`), when nothing else writes it
        # after the pin (decided when a branch first tests it)
        self._pages_kept_name: frozenset[str] | None = None
        # `i < pinned` or `i < nr_pages` (the count asked for): either being 0 pinned nothing
        api = analysis.program.api.pin(pin.call.callee, len(pin.call.args))
        asked = pin.call.args[api.nr].path if api is not None and api.nr < len(pin.call.args) else None
        self.counts = frozenset(name for name in (self.result, asked) if name)
        self.indexes = facts.indexes_below.get("", frozenset()).union(
            *(facts.indexes_below.get(count, frozenset()) for count in self.counts)
        )
        self.parents: dict[SearchState, SearchState | None] = {}
        self.queue: deque[SearchState] = deque()
        self.handles: list[tuple[CfgNode, Stored | HandedOut]] = []  # the places keeping the pages on the way
        self.keep_index: dict[
            tuple[int, Stored | HandedOut], int
        ] = {}  # (node, place) -> its index in `handles`

    def _tests_pages(self, node: CfgNode) -> bool:
        """Whether a branch tests the variable the pin filled (`if (pfn && pfn_valid(pfn))`)."""
        name = self.pin.pages
        return node.condition is not None and any(
            atom.lhs.path == name
            or (atom.call is not None and any(name in arg.names for arg in atom.call.args))
            for atom in node.condition.atoms()
        )

    @property
    def pages_kept_name(self) -> frozenset[str]:
        if self._pages_kept_name is None:
            name = self.pin.pages
            self._pages_kept_name = frozenset(
                {name}
                if name in self.fn.locals
                and not any(
                    store.target.path == name
                    for node_id in reachable_from(self.fn, self.pin.node.id, include_start=False)
                    for store in self.fn.nodes[node_id].stores
                )
                else ()
            )
        return self._pages_kept_name

    def run(self) -> Fate:
        start = SearchState(
            self.pin.node.id,
            True,
            self.undoes.get(self.pin.node.id, frozenset()),
            self.never_zero | self.pin.nonzero,
        )
        self.parents[start] = None  # the path starts here
        self.expand(start, self.pin.node, True, start.forgotten, start.kept)
        while self.queue:
            if len(self.parents) > STATE_BUDGET:
                self.analysis.search_stopped(self.fn, len(self.parents))
                break
            state = self.queue.popleft()
            node = self.fn.nodes[state.node]
            kept = self.ends_at(node, state.kept)
            if kept is None:
                continue
            if node.id == self.fn.exit.id:
                self.returns(node, state._replace(kept=kept))
                continue
            live = state.live
            if live and self.result and any(store.target.path == self.result for store in node.stores):
                live = False
            self.expand(state, node, live, state.forgotten | self.undoes.get(node.id, frozenset()), kept)
        return self.fate

    def nonzero_after(self, node: CfgNode, nonzero: frozenset[str]) -> frozenset[str]:
        """The followed locals known not to be 0 after `node`'s statement: incremented, set to a
        non-zero constant or to a local known non-zero (`ret = pinned` where `pinned < 0`)."""
        for store in node.stores:
            name = store.target.path
            if name and nonzero and any(root_of(known) == name and known != name for known in nonzero):
                nonzero = frozenset(known for known in nonzero if root_of(known) != name or known == name)
            if name in self.zero_tested or name in nonzero:
                value = store.value
                known = _makes_nonzero(store) or (
                    store.op == "=" and value.path in nonzero and value.path == value.text
                )
                nonzero = nonzero | {name} if known else nonzero - {name}
        return nonzero

    def zero_after(self, node: CfgNode, zero: frozenset[str]) -> frozenset[str]:
        """The loop indexes still 0 after `node` (`i = 0`, not written since)."""
        for store in node.stores:
            name = store.target.path
            if name in self.indexes:
                zero = zero | {name} if store.op == "=" and store.value.const_value == 0 else zero - {name}
        return zero

    def infeasible(
        self, node: CfgNode, edge: Edge, live: bool, nonzero: frozenset[str], zero: frozenset[str]
    ) -> bool:
        """A branch no execution holding the pages takes: a local known non-zero tested as 0, or the
        first test of `for (i = 0; i < pinned; i++)` false while `pinned` pages are held."""
        if node.condition is None or edge.outcome is None:
            return False
        if nonzero and _branch_says_zero(node.condition, edge.outcome, nonzero):
            return True
        atom = node.condition.atom
        index = _index_below(atom, self.counts) if atom is not None and not edge.outcome else None
        return (
            index is not None
            and index.lhs.path in zero
            and index.rhs is not None
            and (live or index.rhs.path != self.result)
        )

    def nonzero_on(self, node: CfgNode, edge: Edge, nonzero: frozenset[str]) -> frozenset[str]:
        """What the branch taken says: `if (pinned < 0)` true, `if (ret)` true."""
        if node.condition is None or edge.outcome is None:
            return nonzero
        for atom, outcome in node.condition.facts(edge.outcome):
            if atom.lhs.path in self.zero_tested and _says_nonzero(atom, outcome):
                nonzero = nonzero | {atom.lhs.path}
        return nonzero

    def expand(
        self, state: SearchState, node: CfgNode, live: bool, forgotten: frozenset[str], kept: frozenset[int]
    ) -> None:
        """Queue the successors of `node` (reached as `state`) the pin's outcome and the known branches
        allow, `live` telling whether the result variable still holds the pin's value after `node`,
        `forgotten` which known branches a write on the path undid and `kept` where the pages are kept
        on it. Each new state's parent is the state it was found from, so the parent links form a tree."""
        nonzero = self.nonzero_after(node, state.nonzero) if self.zero_tested else state.nonzero
        zero = self.zero_after(node, state.zero) if self.indexes else state.zero
        for edge in node.succs:
            if live and call_failed(
                self.analysis, node, edge, self.result, self.pin.call, self.zero_on_success, self.pin.pages
            ):
                continue
            condition = node.condition
            if (
                condition is not None
                and edge.outcome is not None
                and self._tests_pages(node)
                and self.pages_kept_name
            ):
                # `if (pfn && pfn_valid(pfn))` false with `pfn` untouched since the pin: nothing held
                if _branch_says_zero(condition, edge.outcome, self.pages_kept_name, pages=True):
                    continue
            if node is not self.pin.node and node.condition is not None:
                text, label = condition_key(node.text, edge.label)
                if self.known.get(text, label) != label and text not in forgotten:
                    continue
                if self.infeasible(node, edge, live, nonzero, zero):
                    continue
            taken = self.nonzero_on(node, edge, nonzero) if self.zero_tested else nonzero
            successor = SearchState(edge.target, live, forgotten, taken, zero, kept)
            if successor not in self.parents:
                self.parents[successor] = state
                self.queue.append(successor)

    def ends_at(self, node: CfgNode, kept: frozenset[int]) -> frozenset[int] | None:
        """Record what happens to the pages at `node`: None if this path of the search ends there,
        else where the pages are kept on it from there on. A place keeping them (`dev->pages = pages`,
        `list_add(&req->node, &dev->queue)`, `dev->pfn = page_to_pfn(page)`) does not end the path:
        released later on it, they were not kept after all."""
        fate = self.fate
        match self.analysis.event(self.fn, node, self.tracked, self.pin, self.handle_holders):
            case Released(call):
                if (node.id, id(call)) not in self.releases_seen:
                    self.releases_seen.add((node.id, id(call)))
                    fate.released.append((node, call))
            case Handle(keeper) | (Stored() as keeper) | (HandedOut() as keeper):
                index = self.keep_index.get((node.id, keeper))
                if index is None:
                    if len(self.handles) >= KEEPS_TRACKED:  # bounded: this keep ends its path
                        if isinstance(keeper, Stored):
                            fate.stored.append(Keep(node, keeper.place))
                            return None
                        if isinstance(keeper, HandedOut):
                            fate.handed_out.append(Output(self.params[keeper.param], keeper.suffix))
                            return None
                        return kept
                    index = self.keep_index[(node.id, keeper)] = len(self.handles)
                    self.handles.append((node, keeper))
                return kept | {index}
            case Returned() | Escaped() if self.keeps(kept):
                pass  # `idr_replace(&idr, obj, id); return obj;`: kept here, whoever else gets them
            case Returned():
                fate.returned.append(node)
            case Escaped():
                fate.escaped.append(node)
            case None:
                return kept
        return None

    def keeps(self, kept: frozenset[int]) -> bool:
        """The pages reach the end of a path kept in these places; whether one of them is a
        long-lived place. Kept there, they are not the caller's to decide about: the caller's
        object is recorded only when nothing longer-lived holds them."""
        keepers = [self.handles[index] for index in sorted(kept)]
        stored = [Keep(node, keeper.place) for node, keeper in keepers if isinstance(keeper, Stored)]
        for keep in stored:
            if keep not in self.fate.stored:
                self.fate.stored.append(keep)
        if not stored:
            for _node, handed in keepers:
                if isinstance(handed, HandedOut):
                    self.fate.handed_out.append(Output(self.params[handed.param], handed.suffix))
        return bool(stored)

    def returns(self, node: CfgNode, state: SearchState) -> None:
        """The function returns with the pages still held on this path."""
        fate, ownership = self.fate, self.analysis.ownership
        handed = self.output is not None or any(
            isinstance(self.handles[index][1], HandedOut) for index in state.kept
        )
        if handed:
            parent = self.parents.get(state)
            returned = self.fn.nodes[parent.node].returns if parent is not None else None
            if returned is not None and returned.const_value == 0:  # a success return
                fields = frozenset(name for name in state.nonzero if root_of(name) in self.params)
                known = fate.nonzero_on_success
                fate.nonzero_on_success = fields if known is None else known & fields
        if self.output is not None:
            fate.handed_out.append(self.output)
        elif self.owner is not None:
            fate.stored.append(Keep(self.pin.node, self.owner))
        elif state.kept:
            self.keeps(state.kept)
        elif (
            self.pointed_object
            or ownership.from_lookup(self.fn, self.root)
            or ownership.object_out_param(self.fn, self.pin, self.root)
        ):
            fate.escaped.append(node)  # pinned into an object a lookup returned: it lives on
        elif fate.leak_path is None:
            fate.leak_path = _path(self.fn, self.parents, state)


@dataclass(frozen=True)
class FunctionFacts:
    """What the path search of every pin of a function asks about the function (computed once)."""

    windows: dict[str, tuple[str, ...]]  # local page pointer -> the arrays it is a window into
    zero_tested: frozenset[str]  # locals worth knowing non-zero (see `function_facts`)
    never_zero: frozenset[str]  # of those, the ones no store ever makes 0
    counted_fields: frozenset[str]  # fields of the parameters incremented (`batch->nr_ops++`)
    # bound -> the locals compared below it (`i < n`: "n" -> {i}); "" for positive constant bounds
    indexes_below: dict[str, frozenset[str]]


def function_facts(fn: Function) -> FunctionFacts:
    """The function-wide facts the path searches use.

    Windows: the arrays (by their root) a local page pointer points into (`struct page **pages =
    pvec + done;`, `pages = &chunk->p[done]`): pages pinned through it are held in them.

    Locals worth knowing non-zero: those tested against 0 by a branch (`if (nchunks)`, `if (ret)`,
    `pinned < 0`, `prev != NULL`), and the locals copied into those (`ret = pinned`, `prev = cur`);
    fields of a local or parameter object a write sets non-zero (`ctx->mapped = 1`) and a branch
    tests likewise.
    At most NONZERO_TRACKED of them, so the search stays bounded: first those a write makes
    non-zero (`nchunks++`, `ret = -ENOMEM`, `cur = &tbl[i]`), then the copied ones, then the others."""
    windows: dict[str, list[str]] = {}
    rank: dict[str, int] = {}  # local -> 0: made non-zero by a write, 1: copied into one, 2: written
    copies: list[tuple[str, str]] = []
    counted: set[str] = set()
    params = {p.name for p in fn.params}
    for _node, store in fn.stores():
        name, value = store.target.path, store.value
        if not name:
            continue
        root = root_of(name)
        if name != root and root in params and "[" not in name and store.op in ("++", "+="):
            counted.add(name)
        if name != root and "[" not in name and (root in fn.locals or root in params):
            # a flag a field keeps (`ctx->mapped = 1;` after the pin, `if (ctx->mapped)` before
            # the release): followed like a local when a write makes it non-zero
            if _makes_nonzero(store):
                rank[name] = 0
            continue
        if name not in fn.locals:
            continue
        rank[name] = min(rank.get(name, 2), 0 if _makes_nonzero(store) else 2)
        if store.op == "=" and value.path in fn.locals and value.path == value.text:
            copies.append((name, value.path))
        if value.base and value.base != name:
            arithmetic = value.path is None and value.calls == ()  # pvec + done
            element = value.address_of and (value.path or "").endswith("[]")  # &pvec[done], &c->p[i]
            if (arithmetic or element) and value.base not in windows.setdefault(name, []):
                windows[name].append(value.base)
    below: dict[str, set[str]] = {}
    for node in fn.nodes:
        atom = node.condition.atom if node.condition is not None else None
        index = (
            _index_below(atom, frozenset({atom.rhs.path}))
            if atom is not None and atom.rhs and atom.rhs.path
            else None
        )
        if index is None and atom is not None:
            index = _index_below(atom, frozenset())  # a positive constant bound
            if index is not None:
                below.setdefault("", set()).add(index.lhs.path or "")
        elif index is not None and index.rhs is not None and index.rhs.path:
            below.setdefault(index.rhs.path, set()).add(index.lhs.path or "")
    tested = {
        atom.lhs.path
        for node in fn.nodes
        if node.condition is not None
        for atom in node.condition.atoms()
        if atom.lhs.path in rank and (atom.rhs is None or _constant(atom.rhs) in (0, 1))
    }
    for target, source in copies:
        if target in tested and source in rank:
            rank[source] = min(rank[source], 1)
            tested.add(source)
    chosen = frozenset(sorted(tested, key=lambda name: (rank[name], name))[:NONZERO_TRACKED])
    never_zero = frozenset(
        name
        for name in chosen
        if name in fn.locals  # a field may be cleared where this function cannot see
        and all(_makes_nonzero(store) and store.op == "=" for store in fn.stores_to(name))
    )
    return FunctionFacts(
        {name: tuple(arrays) for name, arrays in windows.items()},
        chosen,
        never_zero,
        frozenset(sorted(counted)[:2]),
        {bound: frozenset(names) for bound, names in below.items()},
    )


def _constant(value: Value) -> int | None:
    """An integer constant, NULL included."""
    return 0 if value.const_value is None and value.text == "NULL" else value.const_value


def _makes_nonzero(store: Store) -> bool:
    """`n++`, `n += 2`, `ret = -ENOMEM`, `cur = &tbl[i]`."""
    value = store.value
    return (
        store.op == "++"
        or (store.op == "+=" and (value.const_value or 0) > 0)
        or (
            store.op == "="
            and (value.const_value not in (None, 0) or (value.address_of and value.path is not None))
        )
    )


def _says_nonzero(atom: Comparison, outcome: bool) -> bool:
    """Whether `atom` evaluating to `outcome` says its left side is not 0."""
    if atom.rhs is None:
        return atom.op == "value" and outcome
    bound = _constant(atom.rhs)
    if bound is None:
        return False
    return (
        (bound == 0 and (atom.op, outcome) in (("!=", True), ("==", False), ("<", True), (">", True)))
        or (bound == 0 and (atom.op, outcome) in ((">=", False), ("<=", False)))
        or (bound == 1 and (atom.op, outcome) in ((">=", True), ("<", False)))
    )


def _index_below(atom: Comparison, counts: frozenset[str]) -> Comparison | None:
    """`i < n` (or `n > i`) with `n` the pin's result, the count it asked for or a positive constant,
    as `i < n`."""
    if atom.rhs is None:
        return None
    if atom.op == ">":
        atom = atom.mirrored()
    bound = atom.rhs
    below = (
        atom.op == "<"
        and bound is not None
        and (bound.path in counts or (bound.const_value or 0) > 0)
        and bool(atom.lhs.path)
    )
    return atom if below else None


def _branch_says_zero(
    condition: Condition, outcome: bool, names: frozenset[str], pages: bool = False
) -> bool:
    """Whether every way `condition` can evaluate to `outcome` says one of `names` is 0."""
    return all(
        any(_says_zero(atom, value, names, pages) for atom, value in way)
        for way in condition.alternatives(outcome)
    )


def _says_zero(atom: Comparison, outcome: bool, nonzero: frozenset[str], pages: bool = False) -> bool:
    """Whether `atom` evaluating to `outcome` says a local in `nonzero` is 0 (or, for `pages`, a page
    or frame number the pin filled, not a pinned one: `pfn_valid(pfn)` false)."""
    if pages and atom.op == "call" and atom.call is not None and atom.call.callee in PINNED_PAGE_TESTS:
        return not outcome and any(set(arg.names) & nonzero for arg in atom.call.args)
    if atom.lhs.path not in nonzero:
        return False
    if atom.rhs is None:
        return atom.op == "value" and not outcome
    return _constant(atom.rhs) == 0 and (atom.op, outcome) in (("==", True), ("!=", False))


def _known_outcomes(facts: frozenset) -> dict[str, EdgeLabel | None]:
    """Condition text -> the outcome it had on every path, for the conditions with one outcome (the
    same text seen true and false, as on a path no input can take, says nothing: whichever came
    last would depend on the order of a set)."""
    outcomes: dict[str, set[EdgeLabel | None]] = {}
    for _cond, text, label in facts:
        outcomes.setdefault(text, set()).add(label)
    return {text: labels.pop() for text, labels in outcomes.items() if len(labels) == 1}


def _undoing_writes(
    fn: Function, pin: CfgNode, known: dict[str, EdgeLabel | None]
) -> dict[int, frozenset[str]]:
    """Node -> the conditions known at the pin whose outcome a write at that node (the pin's own, or a
    later one: `rc = ...`, `i++` in a loop) may change. Past KNOWN_TRACKED such conditions, all of them
    are undone from the pin on (bounded, and never prunes a path that might be taken)."""
    if not known:
        return {}
    undoes: dict[int, set[str]] = {}
    for node_id in sorted(reachable_from(fn, pin.id, include_start=True)):
        written = {root_of(store.target.path) for store in fn.nodes[node_id].stores if store.target.path}
        for text in known:
            if not written.isdisjoint(_names_in(text)):
                undoes.setdefault(node_id, set()).add(text)
    undone = set().union(*undoes.values()) if undoes else set()
    if len(undone) > KNOWN_TRACKED:  # bounded: the states of a node do not grow past 2**KNOWN_TRACKED
        return {pin.id: frozenset(undone)}
    return {node_id: frozenset(texts) for node_id, texts in undoes.items()}


def condition_key(text: str, label: EdgeLabel | None) -> tuple[str, EdgeLabel | None]:
    """A condition and a branch of it, with negations taken off: `if (!pvec)`'s false branch is
    `if (pvec)`'s true branch."""
    negated = False
    while True:
        text = text.strip()
        if text.startswith("!") and not text.startswith("!="):
            text, negated = text[1:], not negated
        elif text.startswith("(") and _closes_at_end(text):
            text = text[1:-1]
        else:
            break
    if negated and label in (EdgeLabel.TRUE, EdgeLabel.FALSE):
        label = EdgeLabel.FALSE if label is EdgeLabel.TRUE else EdgeLabel.TRUE
    return text, label


def _closes_at_end(text: str) -> bool:
    """`(a && b)`, not `(a) && (b)`: the opening parenthesis is closed by the last character."""
    depth = 0
    for position, character in enumerate(text):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth == 0:
            return position == len(text) - 1
    return False


def _names_in(condition: str) -> frozenset[str]:
    return frozenset(re.findall(r"\w+", condition))


def _path(fn: Function, parents: dict[SearchState, SearchState | None], end: SearchState) -> list[CfgNode]:
    """The nodes from the pin to `end`, following the search's parent links."""
    path = []
    current: SearchState | None = end
    while current is not None:
        path.append(fn.nodes[current.node])
        current = parents.get(current)
    return list(reversed(path))


def branch_facts(fn: Function) -> dict[int, frozenset]:
    """("cond", condition text, "true"/"false") known on every path to each node, for the conditions
    a later test can repeat: those the function tests more than once, or in a loop. (Facts of the
    others are never asked for; leaving them out keeps the work linear in a function of thousands
    of `if (...) goto` tests.)"""
    tested = Counter(condition_key(node.text, None)[0] for node in fn.nodes if node.condition is not None)
    looping = cycles(fn)

    def edge_gen(node: CfgNode, edge: Edge) -> Iterator[tuple[str, str, EdgeLabel | None]]:
        if node.condition is not None and edge.outcome is not None:
            text, label = condition_key(node.text, edge.label)
            if tested[text] > 1 or node.id in looping:
                yield ("cond", text, label)

    words: dict[str, frozenset[str]] = {}  # the names a condition reads, by its text

    def names_in(condition: str) -> frozenset[str]:
        if condition not in words:
            words[condition] = _names_in(condition)
        return words[condition]

    def transfer(node: CfgNode, facts: frozenset) -> frozenset:
        written = {root_of(s.target.path) for s in node.stores if s.target.path}
        if not written:
            return facts
        return frozenset(f for f in facts if written.isdisjoint(names_in(f[1])))

    return must_facts(fn, edge_gen=edge_gen, transfer=transfer)


def returns_zero(analysis: PinAnalysis, fn: Function, call: CallSite, depth: int = 0) -> bool:
    """A helper with the kernel's 0-or-negative-errno convention: it has a `return 0;`, returns a
    variable it sets to 0, or returns what such a helper returned (`ret = pin_helper(...); return
    ret;`), up to 3 helpers down."""
    callee = analysis.program.callee(fn, call)
    if callee is None:
        return False
    returned: set[str] = set()
    for node in callee.nodes:
        if node.returns is None:
            continue
        if node.returns.const_value == 0:
            return True
        if node.returns.path and node.returns.path == root_of(node.returns.path):
            returned.add(node.returns.path)
    # `ret = pin(...); if (ret == 1) { *pfn = ...; ret = 0; } return ret;`: a count made 0 on
    # success (a 0 it starts from, before the count is stored, says nothing)
    counted = [node for node in callee.nodes for call in node.calls if call.assigned_to in returned]
    after = set().union(*(reachable_from(callee, node.id, include_start=False) for node in counted[:4]))
    if any(
        store.target.path in returned and store.op == "=" and store.value.const_value == 0
        for node_id in after
        for store in callee.nodes[node_id].stores
    ):
        return True
    if depth >= 3 or not returned:
        return False
    for node in callee.nodes:
        for inner in node.calls:
            if inner.assigned_to in returned and returns_zero(analysis, callee, inner, depth + 1):
                return True
    return False


def call_failed(
    analysis: PinAnalysis,
    node: CfgNode,
    edge: Edge,
    result: str | None,
    call: CallSite,
    zero_on_success: bool = False,
    pages: str | None = None,
) -> bool:
    """The branch on which a pinning call (an API or a helper) is known to have pinned nothing: the
    API returned <= 0 (`ret < nr` is a partial pin: `ret` pages are still held), a helper that returns
    0 on success returned something else, or the array the pages went into is NULL. A branch
    taken in several ways (`if (pages && ret > 0)` false) is one when each way is."""
    if node.condition is None or edge.outcome is None:
        return False
    api = analysis.program.api.pin(call.callee, len(call.args))
    requested = call.args[api.nr].const_value if api and api.nr < len(call.args) else None
    return all(
        any(
            _says_nothing_pinned(atom, outcome, result, call, zero_on_success, requested, pages)
            for atom, outcome in way
        )
        for way in node.condition.alternatives(edge.outcome)
    )


def _says_nothing_pinned(
    atom: Comparison,
    outcome: bool,
    result: str | None,
    call: CallSite,
    zero_on_success: bool,
    requested: int | None,
    pages: str | None,
) -> bool:
    """Whether `atom` evaluating to `outcome` means the pin call pinned nothing."""
    if atom.op == "call" and atom.call is not None and atom.call.callee in ERROR_POINTER_TESTS:
        # a helper that returns pinned pages returned an error pointer
        return bool(outcome and result and any(result in arg.names for arg in atom.call.args))
    if atom.rhs is not None and atom.lhs.const_value is not None and atom.rhs.const_value is None:
        # `0 != (ret = helper(...))`: the constant on the left, as `(ret = helper(...)) != 0`
        atom = atom.mirrored()
    subject = atom.lhs
    if atom.op == "value" and not outcome and pages and subject.path == pages:
        return True  # the page array is NULL: nothing was pinned into it
    if not (result and subject.path == result) and call.callee not in subject.calls:
        return False
    if atom.rhs is None:
        return atom.op == "value" and outcome == zero_on_success  # if (!ret) / if (rc)
    bound = atom.rhs.const_value
    if bound is None:
        return False
    if zero_on_success:
        return bound == 0 and (atom.op, outcome) in (("!=", True), ("==", False), ("<", True))
    if (atom.op, outcome) in ((">", False), ("<=", True)) and bound <= 0:
        return True  # ret <= bound <= 0
    if (atom.op, outcome) in ((">=", False), ("<", True)) and bound <= 1:
        return True  # ret < bound <= 1
    if bound == 0 and (atom.op, outcome) in (("==", True), ("!=", False)):
        return True
    # one page asked for, not one pinned: none pinned
    return bound == 1 and requested == 1 and (atom.op, outcome) in (("!=", True), ("==", False))
