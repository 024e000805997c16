"""The program: facts of every translation unit linked into one call graph with entry points."""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from gupcheck.kernel_api.declared import ApiKnowledge
from gupcheck.kernel_api.entries import (
    ALL_FIELDS_ROLES,
    CALLBACK_ARGUMENTS,
    ENTRY_ROLES,
    IOCTL_ROLES,
    MAX_INDIRECT_TARGETS,
    STORED_CALLBACK_ROLES,
    SYSCALL_ROLES,
    Role,
)
from gupcheck.kernel_api.overlay import Api
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    EdgeLabel,
    Function,
    OpsTable,
    Side,
    TranslationUnitFacts,
    root_of,
)
from gupcheck.model.findings import SourceLocation

_MACRO_SPELLING = re.compile(r"([A-Za-z_]\w*)\s*\((.*)\)", re.DOTALL)


@dataclass(frozen=True)
class EntryPoint:
    function: str  # function key
    role: Role
    table: str  # the ops variable ("" for module_init/exit)
    location: SourceLocation  # where the function is registered


@dataclass(frozen=True)
class CallRef:
    """A call site together with the function and CFG node it sits in."""

    caller: Function
    node: CfgNode
    call: CallSite


class Program:
    """All functions of all analysed files, the call graph and the entry points."""

    def __init__(
        self,
        units: list[TranslationUnitFacts],
        target_kernel: tuple[int, int] = (6, 1),
        spawn_copies_memory: bool = False,
        api: ApiKnowledge | None = None,
    ) -> None:
        self.units = units
        self.api = Api(api)  # the API tables, with the wrappers declared in the configuration
        self.target_kernel = target_kernel  # the kernel version advice is given for
        # old C libraries implement system()/popen() with fork(): they copy the address space
        self.spawn_copies_memory = spawn_copies_memory
        self.functions: dict[str, Function] = {}
        self._by_name: dict[str, list[Function]] = {}
        self._resolved: dict[tuple[str, str], Function | None] = {}  # (name, calling file) -> callee
        self._unit_of: dict[str, TranslationUnitFacts] = {}
        self._includes: dict[str, frozenset[str] | TranslationUnitFacts] = {}  # file -> the headers it sees
        for unit in units:
            self._includes.setdefault(unit.path, unit)
            for fn in unit.functions:
                if fn.file != unit.path:  # defined in a header of the code: one function, however many
                    self._includes.setdefault(fn.file, unit)  # files include it
                    if fn.key in self.functions and self.functions[fn.key].file == fn.file:
                        continue
                if fn.key in self.functions:
                    # two definitions of one external name: separate programs (each app's main)
                    # or a name reused by two drivers; keep both, told apart by file
                    fn.key = f"{fn.file}:{fn.name}"
                self.functions[fn.key] = fn
                self._by_name.setdefault(fn.name, []).append(fn)
                self._unit_of[fn.key] = unit
        # (caller, callee, attributes) of the call graph: direct calls, entry points (`<ioctl>` to
        # the handler) and callbacks an mmap handler installs; as a networkx graph in `callgraph`
        self._edges: list[tuple[str, str, dict[str, Any]]] = []
        self._callgraph: Any = None
        self.entry_points: dict[str, list[EntryPoint]] = {}
        self._callers: dict[str, list[CallRef]] = {}
        self._calls_by_name: dict[str, list[tuple[Function, CfgNode, CallSite]]] | None = None
        self._roles_reaching: dict[str, frozenset[Role]] | None = None
        self.unfinished: list[Unfinished] = []  # what the analyses left at their budgets, in order
        self._build()

    @property
    def callgraph(self) -> Any:
        """The call graph as a networkx MultiDiGraph, built on first use: the rules walk callers and
        callees through `callers()`/`callee()`, so a run never pays for importing networkx."""
        if self._callgraph is None:
            import networkx

            graph = networkx.MultiDiGraph()
            graph.add_nodes_from(self.functions)
            for source, target, attributes in self._edges:
                graph.add_edge(source, target, **attributes)
            self._callgraph = graph
        return self._callgraph

    # -- queries --------------------------------------------------------------------
    def side_of(self, fn: Function) -> Side:
        return self._unit_of[fn.key].side

    def resolve(self, name: str, from_file: str) -> Function | None:
        """The function a call to `name` in `from_file` reaches: a static one in the same file
        first, then one with external linkage."""
        key = (name, from_file)
        if key in self._resolved:
            return self._resolved[key]
        found = self._resolved[key] = self._find(name, from_file)
        return found

    def _find(self, name: str, from_file: str) -> Function | None:
        candidates = self._by_name.get(name, [])
        for fn in candidates:
            if fn.is_static and fn.file == from_file:
                return fn
        for fn in candidates:  # a static function of a header the calling file includes
            if fn.is_static and fn.file in self._headers_seen(from_file):
                return fn
        external = [fn for fn in candidates if not fn.is_static]
        for fn in external:
            if fn.file == from_file:
                return fn
        return external[0] if external else None

    def _headers_seen(self, file: str) -> frozenset[str]:
        """The headers code in `file` sees: those its translation unit includes (for a header, those of
        the first unit whose functions came from it)."""
        found = self._includes.get(file)
        if isinstance(found, TranslationUnitFacts):
            found = self._includes[file] = frozenset(os.path.abspath(h) for h in found.headers)
        return found or frozenset()

    def callers(self, fn: Function) -> list[CallRef]:
        return self._callers.get(fn.key, [])

    def callee(self, ref_caller: Function, call: CallSite) -> Function | None:
        """The function a call reaches: a direct call's, or the one function a call through a
        pointer can reach (None when it can reach several: see `targets`)."""
        if call.indirect:
            found = self._indirect.get((ref_caller.key, call.location), ())
            return found[0] if len(found) == 1 else None
        return self.resolve(call.callee, ref_caller.file)

    def targets(self, ref_caller: Function, call: CallSite) -> tuple[Function, ...]:
        """Every function a call can reach: a direct call's callee, or what the pointer it calls
        through can hold (`resolve_indirect`)."""
        if call.indirect:
            return self._indirect.get((ref_caller.key, call.location), ())
        found = self.resolve(call.callee, ref_caller.file)
        return (found,) if found is not None else ()

    def roles(self, fn: Function) -> set[Role]:
        return {entry.role for entry in self.entry_points.get(fn.key, [])}

    def roles_reaching(self, fn: Function) -> frozenset[Role]:
        """The entry roles from which `fn` can be called (its own included): the roles of `fn` and of
        every function in `reaching(fn)`. Worked out for all functions at once, from each entry
        point down its callees, so a chain of n helpers costs n steps rather than n²."""
        if self._roles_reaching is None:
            reached: dict[str, set[Role]] = {}
            pending: deque[Function] = deque()
            for current in self.functions.values():
                own = self.roles(current)
                if own:
                    reached[current.key] = own
                    pending.append(current)
            while pending:  # a function is queued again only when it gains a role: a bounded number
                current = pending.popleft()
                flowing = reached[current.key]
                for _node, _call, callee in self.callees(current):
                    known = reached.setdefault(callee.key, set())
                    if not flowing <= known:
                        known |= flowing
                        pending.append(callee)
            self._roles_reaching = {key: frozenset(roles) for key, roles in reached.items()}
        return self._roles_reaching.get(fn.key, frozenset())

    def syscall_entry_points(self) -> list[tuple[Function, EntryPoint]]:
        return [
            (self.functions[key], entry)
            for key, entries in sorted(self.entry_points.items())
            for entry in entries
            if entry.role in SYSCALL_ROLES
        ]

    def ioctl_dispatch(self, fn: Function) -> list[tuple[str | None, int | None, CfgNode]]:
        """The commands an ioctl handler dispatches: (command macro, value, first node of the case)
        of `switch (cmd)`, and (macro, value, the call) of each command of a table the handler
        calls through (`{CMD, fn}` searched by a loop, `[_IOC_NR(CMD)] = fn` indexed)."""
        roles = self.roles(fn)
        if not roles & IOCTL_ROLES or len(fn.params) < 2:
            return []
        command = fn.params[1].name
        cases: list[tuple[str | None, int | None, CfgNode]] = []
        for node in fn.nodes:
            if node.switch_on is not None and command in node.switch_on.names:
                cases.extend(
                    (edge.case_macro, edge.case_value, fn.nodes[edge.target])
                    for edge in node.succs
                    if edge.label == EdgeLabel.CASE
                )
        for macro, value, node, _handler in self.ioctl_table_commands(fn):
            cases.append((macro, value, node))
        return cases

    def ioctl_table_commands(self, fn: Function) -> list[tuple[str | None, int | None, CfgNode, Function]]:
        """The commands `fn` dispatches through a command table: (command macro, value, the call
        through the table, the handler the table gives for that command)."""
        found: list[tuple[str | None, int | None, CfgNode, Function]] = []
        for node, call in fn.call_sites():
            for table, field_name in self._tables_called.get((fn.key, call.location), ()):
                unit = self._unit_of[fn.key]
                for entry in table.fields:
                    if entry.field != field_name or (entry.command is None and entry.command_value is None):
                        continue
                    handler = self.resolve(entry.function, unit.path)
                    if handler is not None:
                        value = entry.command_value
                        if value is None:
                            value = self._command_values.get(entry.command or "")
                        found.append((entry.command, value, node, handler))
        return found

    def kernel_functions(self) -> list[Function]:
        return self.functions_of(Side.KERNEL)

    def functions_of(self, side: Side) -> list[Function]:
        return [fn for fn in self.functions.values() if self.side_of(fn) == side]

    # -- graph queries ----------------------------------------------------------------
    def call_sites(self, side: Side | None = None) -> Iterator[tuple[Function, CfgNode, CallSite]]:
        """Every call of every function (of one side), in program order."""
        for fn in self.functions.values():
            if side is None or self.side_of(fn) == side:
                for node, call in fn.call_sites():
                    yield fn, node, call

    def calls_to(self, name: str, side: Side | None = None) -> list[tuple[Function, CfgNode, CallSite]]:
        """The calls to `name` (a function or an API, resolved or not), in program order."""
        if self._calls_by_name is None:
            index: dict[str, list[tuple[Function, CfgNode, CallSite]]] = {}
            for fn, node, call in self.call_sites():
                index.setdefault(call.callee, []).append((fn, node, call))
            self._calls_by_name = index
        calls = self._calls_by_name.get(name, [])
        return calls if side is None else [site for site in calls if self.side_of(site[0]) == side]

    def callees(self, fn: Function) -> Iterator[tuple[CfgNode, CallSite, Function]]:
        """The calls of `fn` to functions of the program, with each function a call can reach (all
        the targets of a call through a pointer)."""
        for node, call in fn.call_sites():
            for callee in self.targets(fn, call):
                yield node, call, callee

    def reaching(
        self, *functions: Function, stop: Callable[[Function], bool] | None = None
    ) -> Iterator[Function]:
        """The functions, then every function that calls one of them directly or through others,
        breadth first; the callers of a function `stop` is true for are not followed."""
        return _breadth_first(functions, lambda fn: (ref.caller for ref in self.callers(fn)), stop)

    def reached(
        self, fn: Function, *, side: Side | None = None, expand_depth: int | None = None
    ) -> Iterator[Function]:
        """`fn`, then every function it calls directly or through others (of `side`), breadth first;
        with `expand_depth`, the callees of functions deeper than it are not followed."""

        def callees(current: Function) -> Iterator[Function]:
            for _node, _call, callee in self.callees(current):
                if side is None or self.side_of(callee) == side:
                    yield callee

        return _breadth_first((fn,), callees, None, expand_depth)

    # -- building -------------------------------------------------------------------
    def _build(self) -> None:
        self._indirect: dict[tuple[str, SourceLocation], tuple[Function, ...]] = {}
        self._tables_called: dict[tuple[str, SourceLocation], list[tuple[OpsTable, str]]] = {}
        self._command_values: dict[str, int] = {}
        self._command_tables: dict[str, list[OpsTable]] = {}  # arrays of commands, by element type
        for fn in self.functions.values():
            for node, call in fn.call_sites():
                target = self.callee(fn, call)
                if target is None:
                    continue
                self._edges.append((fn.key, target.key, {"kind": "call", "line": call.location.line}))
                self._callers.setdefault(target.key, []).append(CallRef(fn, node, call))
        self._resolve_indirect()
        for unit in self.units:
            tables = {table.variable: table for table in unit.ops_tables}
            for table in unit.ops_tables:
                # a miscdevice's .fops = &my_fops is a table of its own: registered with the rest
                self._register_table(unit, table)
            self._register_stored_callbacks(unit)
            for name in unit.module_init:
                self._register(unit.path, name, Role.MODULE_INIT, "", None)
            for name in unit.module_exit:
                self._register(unit.path, name, Role.MODULE_EXIT, "", None)
            self._link_installed_tables(unit, tables)

    def _register_table(self, unit: TranslationUnitFacts, table: OpsTable) -> None:
        roles = ENTRY_ROLES.get(table.struct, {})
        every_field = ALL_FIELDS_ROLES.get(table.struct)
        for field in table.fields:
            role = roles.get(field.field, every_field)
            if role is not None:
                self._register(unit.path, field.function, role, table.variable, field.location)

    def _register_stored_callbacks(self, unit: TranslationUnitFacts) -> None:
        """`INIT_WORK(&w, fn)` stores `w.func = fn`: fn runs later, as a work item."""
        for store in unit.pointer_stores:
            role = (
                STORED_CALLBACK_ROLES.get(store.record, {}).get(store.field)
                or ENTRY_ROLES.get(store.record, {}).get(store.field)
                or ALL_FIELDS_ROLES.get(store.record)
            )
            if role is not None:  # `fops->unlocked_ioctl = fn`, `ibdev->reg_user_mr = fn` in code
                self._register(unit.path, store.function, role, "", store.location)
        for fn in unit.functions:
            for _node, call in fn.call_sites():
                registers = CALLBACK_ARGUMENTS.get(call.callee)
                if registers is None or registers[0] >= len(call.args):
                    continue
                name = call.args[registers[0]].text
                spelled = _MACRO_SPELLING.fullmatch(name)  # the call is a macro's: `INIT_WORK(w, fn)`
                if spelled and spelled.group(1) in CALLBACK_ARGUMENTS:
                    position, _role = CALLBACK_ARGUMENTS[spelled.group(1)]
                    parts = spelled.group(2).split(",")
                    name = parts[position] if position < len(parts) else ""
                self._register(unit.path, name.strip().lstrip("&"), registers[1], "", call.location)

    # -- calls through pointers -----------------------------------------------------------
    def _resolve_indirect(self) -> None:
        """Link each call through a pointer to what the pointer can hold, once, with no fixpoint:
        a global table the call indexes (`table[i].fn(...)`, `table[nr](...)`), a structure field
        (the functions initialised into that field of any table of the structure type), a
        function-pointer parameter (the functions its direct callers pass).
        A call that can reach more than MAX_INDIRECT_TARGETS functions stays unresolved."""
        self._command_values = {
            command.name: command.value
            for unit in self.units
            for command in unit.ioctl_commands
            if command.value is not None
        }
        for unit in self.units:
            for table in unit.ops_tables:
                if table.is_array and any(entry.command for entry in table.fields):
                    self._command_tables.setdefault(table.struct, []).append(table)
                for entry in table.fields:
                    if entry.command is not None and entry.command_value is not None:
                        self._command_values.setdefault(entry.command, entry.command_value)
        tables: dict[str, list[tuple[TranslationUnitFacts, OpsTable]]] = {}
        by_field: dict[str, list[tuple[str, str]]] = {}  # "record.field" -> (file, function name)
        for unit in self.units:
            for table in unit.ops_tables:
                tables.setdefault(table.variable, []).append((unit, table))
                for entry in table.fields:
                    if entry.field:
                        stored = by_field.setdefault(f"{table.struct}.{entry.field}", [])
                        stored.append((unit.path, entry.function))
            # Functions code stores into a field (`cb->io_done = fn`) are callbacks, registered for
            # later (a completion, a work item): not linked as what a call through the field reaches.
            # A completion callback that the submit path also calls on its error path would otherwise
            # count as releasing the pages inside the syscall (XDMA's cdev_aio_write, measured).
        for fn in list(self.functions.values()):
            for node, call in fn.call_sites():
                if not call.indirect:
                    continue
                found = self._pointer_targets(fn, call, tables, by_field)
                if len(found) > MAX_INDIRECT_TARGETS:
                    self._tables_called.pop((fn.key, call.location), None)
                    self.unfinished.append(
                        Unfinished(
                            fn,
                            f"the call through '{call.callee}' at line {call.location.line}",
                            f"can reach {len(found)} functions (more than {MAX_INDIRECT_TARGETS})",
                        )
                    )
                    continue
                if not found:
                    continue
                self._indirect[(fn.key, call.location)] = found
                for target in found:
                    self._edges.append((fn.key, target.key, {"kind": "indirect", "line": call.location.line}))
                    self._callers.setdefault(target.key, []).append(CallRef(fn, node, call))

    def _pointer_targets(
        self,
        fn: Function,
        call: CallSite,
        tables: dict[str, list[tuple[TranslationUnitFacts, OpsTable]]],
        by_field: dict[str, list[tuple[str, str]]],
    ) -> tuple[Function, ...]:
        names: list[tuple[str, str]] = []  # (file, function name)
        path = call.callee.lstrip("*")
        root = root_of(path)
        shadowed = root in fn.locals or any(p.name == root for p in fn.params)
        if "[" in path and root in tables and not shadowed:
            field_name = path.split("]", 1)[1].lstrip(".").lstrip("->") if "]" in path else ""
            candidates = [(u, t) for u, t in tables[root] if u.path == fn.file] or tables[root]
            unit, table = candidates[0]
            names = [(unit.path, entry.function) for entry in table.fields if entry.field == field_name]
            self._tables_called.setdefault((fn.key, call.location), []).append((table, field_name))
        elif call.through is not None:
            names = by_field.get(call.through, [])
            record, _dot, field_name = call.through.rpartition(".")
            for table in self._command_tables.get(record, ()):
                # `for (c = cmds; ...) if (c->code == cmd) c->run(...)`: a command table searched
                self._tables_called.setdefault((fn.key, call.location), []).append((table, field_name))
        else:
            param = next((p for p in fn.params if p.name == path), None)
            if param is not None:
                for ref in self._callers.get(fn.key, []):
                    if param.index < len(ref.call.args) and not ref.call.indirect:
                        names.append((ref.caller.file, ref.call.args[param.index].text.lstrip("&")))
        found: dict[str, Function] = {}
        for file, name in names:
            target = self.resolve(name, file)
            if target is not None and self.side_of(target) == self.side_of(fn):
                found.setdefault(target.key, target)
                if len(found) > MAX_INDIRECT_TARGETS:
                    break
        return tuple(found.values())

    def _register(
        self, path: str, name: str, role: Role, table: str, location: SourceLocation | None
    ) -> None:
        fn = self.resolve(name, path)
        if fn is None:
            return
        entry = EntryPoint(fn.key, role, table, location or fn.location)
        if entry not in self.entry_points.setdefault(fn.key, []):
            self.entry_points[fn.key].append(entry)
            source = f"<{role}>"
            self._edges.append((source, fn.key, {"kind": "entry", "table": table}))

    def _link_installed_tables(self, unit: TranslationUnitFacts, tables: dict[str, OpsTable]) -> None:
        """`vma->vm_ops = &my_vm_ops` in an mmap handler: the handler installs those callbacks."""
        for fn in unit.functions:
            for _node, store in fn.stores():
                target = store.target.path or ""
                if not target.endswith(("vm_ops", "f_op")):
                    continue
                table = tables.get(store.value.base or "")
                if table is None:
                    continue
                for field in table.fields:
                    handler = self.resolve(field.function, unit.path)
                    if handler is not None:
                        self._edges.append((fn.key, handler.key, {"kind": "installs", "field": field.field}))


@dataclass(frozen=True)
class Unfinished:
    """A function an analysis of the program stopped on at its budget: what it says of the function
    may be incomplete. The analyses record these in `Program.unfinished`; the run reports them."""

    function: Function
    what: str  # "its pin summary"
    reason: str  # "did not settle within 300 steps"


def _breadth_first(
    start: Iterable[Function],
    neighbours: Callable[[Function], Iterable[Function]],
    stop: Callable[[Function], bool] | None,
    expand_depth: int | None = None,
) -> Iterator[Function]:
    """Each function once, in breadth-first order from `start`."""
    queue = deque((fn, 0) for fn in start)
    seen = {fn.key for fn, _depth in queue}
    while queue:
        current, depth = queue.popleft()
        yield current
        if (stop is not None and stop(current)) or (expand_depth is not None and depth > expand_depth):
            continue
        for neighbour in neighbours(current):
            if neighbour.key not in seen:
                seen.add(neighbour.key)
                queue.append((neighbour, depth + 1))
