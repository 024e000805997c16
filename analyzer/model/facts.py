"""The fact model: plain data extracted from one translation unit.

Produced by `gupcheck.frontend.parse` (the only module that knows libclang) and read by the program
and the rules. Everything here is a dataclass of plain values, so facts can be pickled, cached
and computed in worker processes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from gupcheck.model.findings import SourceLocation


class Side(StrEnum):
    KERNEL = "kernel"
    USERLAND = "userland"


class HeaderMode(StrEnum):
    """Where a file's headers came from."""

    KERNEL_TREE = "kernel-tree"  # a real kernel build tree (--kernel-dir or the running kernel's)
    KERNEL_MODEL = "kernel-model"  # gupcheck's built-in model of the kernel API
    COMPILE_COMMANDS = "compile-commands"  # flags from a compile_commands.json
    SYSTEM = "system"  # userland: the system headers


_PATH_STEP = re.compile(r"->|\.|\[")


def root_of(path: str) -> str:
    """The variable an access path starts from: `req.len` -> req, `*pfn` -> pfn, `dev->pages[]` -> dev."""
    return _PATH_STEP.split(path.lstrip("*"), maxsplit=1)[0]


def record_of(spelled: str) -> str:
    """The structure a type spelling names: `const struct session __user *` -> "session"."""
    words = re.split(r"[\s*]+", spelled)
    return " ".join(word for word in words if word and word not in _NOT_THE_RECORD)


_NOT_THE_RECORD = frozenset({"const", "volatile", "__user", "struct"})


def balanced(text: str) -> bool:
    """Whether every parenthesis of `text` is closed, none before it opens."""
    depth = 0
    for character in text:
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth < 0:
            return False
    return depth == 0


def last_field(path: str) -> str:
    """The last field an access path names: `ctx->buf.pages` -> pages (the path itself if none)."""
    return path.rsplit("->", 1)[-1].rsplit(".", 1)[-1]


class ValueKind(StrEnum):
    """What an expression denotes, as far as memory goes."""

    STACK = "stack"  # a local (automatic) object, or its address
    HEAP = "heap"  # result of an allocator
    GLOBAL = "global"  # a global or static object, or its address
    PARAM = "param"  # a function parameter (or something reached through one)
    FIELD = "field"  # a struct field reached through a pointer that is not a parameter
    CONST = "const"  # an integer constant
    STRING = "string"  # a string literal
    CALL = "call"  # result of another call
    LOCAL = "local"  # a local scalar or pointer variable (its value, not its address)
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Value:
    """An expression as the rules see it."""

    text: str  # source spelling, whitespace-normalised
    kind: ValueKind = ValueKind.UNKNOWN
    base: str | None = None  # root variable name ("req" for "&req.len")
    path: str | None = None  # access path without casts/parens/&: "req.len", "info->data"
    address_of: bool = False  # spelled as &x / &x.f, or an array that decays to its address
    const_value: int | None = None
    macro: str | None = None  # the macro the expression is spelled with (e.g. "FOLL_LONGTERM")
    names: tuple[str, ...] = ()  # access paths of every variable/field read in the expression
    calls: tuple[str, ...] = ()  # names of functions/macros called inside the expression
    fixed_size: int | None = None  # byte size when it denotes a fixed-size object (array, &struct)
    user_pointer: bool = False  # declared __user, or derived from an ioctl's integer argument
    is_sizeof: bool = False  # a sizeof expression (a compile-time size)


@dataclass(frozen=True, slots=True)
class CallSite:
    callee: str  # function name, or macro name for calls that are macros in the kernel (get_user, ...)
    args: tuple[Value, ...]
    location: SourceLocation
    via_macro: bool = False  # the call is a macro instantiation (get_user, access_ok, ...)
    result_used: bool = True  # False when the value is discarded (expression statement, (void) cast)
    assigned_to: str | None = None  # access path of the variable the result is stored into
    indirect: bool = False  # call through a function pointer (callee is the pointer's access path)
    # an indirect call through a struct field: "record.field" (`ops->fn(...)` -> "my_ops.fn")
    through: str | None = None


@dataclass(frozen=True, slots=True)
class Store:
    """An assignment `target = value` (also initialised declarations, `x op= y`, `x++`)."""

    target: Value
    value: Value
    location: SourceLocation
    op: str = "="  # "=", "+=", "-=", ..., "++", "--"


@dataclass(frozen=True, slots=True)
class Deref:
    """A dereference of a pointer: *p, p[i], p->f (not inside sizeof/typeof, not under &)."""

    pointer: Value
    location: SourceLocation
    is_write: bool = False
    path: str | None = None  # what is accessed through the pointer: `hdr->len`, `ring->slots[]`, `*p`


@dataclass(frozen=True, slots=True)
class Subscript:
    """An indexed access `a[i]` (also under &): the array or pointer, and the index."""

    array: Value
    index: Value
    location: SourceLocation
    is_write: bool = False


# The side of a comparison that is bounded from above, by (operator, outcome): `a < b` bounds a when
# true and b when false.
_UPPER_BOUNDED = {
    ("<", True): "lhs",
    ("<=", True): "lhs",
    (">", False): "lhs",
    (">=", False): "lhs",
    (">", True): "rhs",
    (">=", True): "rhs",
    ("<", False): "rhs",
    ("<=", False): "rhs",
    ("==", True): "both",
    ("!=", False): "both",
}


@dataclass(frozen=True, slots=True)
class Comparison:
    """An atom of a branch condition."""

    op: str  # "<", "<=", ">", ">=", "==", "!=", "call", "value"
    lhs: Value
    rhs: Value | None = None
    call: CallSite | None = None  # op == "call": the condition is this call's result

    def mirrored(self) -> Comparison:
        """The same comparison with its sides swapped: `0 != x` as `x != 0`, `0 > x` as `x < 0`."""
        op = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(self.op, self.op)
        return Comparison(op, self.rhs, self.lhs, self.call) if self.rhs is not None else self

    def upper_bounds(self, outcome: bool) -> list[tuple[Value, Value]]:
        """(bounded, bound) pairs that hold when the comparison evaluated to `outcome`."""
        side = _UPPER_BOUNDED.get((self.op, outcome))
        if side is None or self.rhs is None:
            return []
        pairs = []
        if side in ("lhs", "both"):
            pairs.append((self.lhs, self.rhs))
        if side in ("rhs", "both"):
            pairs.append((self.rhs, self.lhs))
        return pairs


@dataclass(frozen=True, slots=True)
class Condition:
    """A boolean formula over comparisons: op in "and", "or", "not", "atom"."""

    op: str
    operands: tuple[Condition, ...] = ()
    atom: Comparison | None = None

    def facts(self, outcome: bool) -> list[tuple[Comparison, bool]]:
        """Atoms whose truth value is known when the whole condition evaluated to `outcome`."""
        if self.op == "atom" and self.atom is not None:
            return [(self.atom, outcome)]
        if self.op == "not":
            return self.operands[0].facts(not outcome)
        if (self.op == "and" and outcome) or (self.op == "or" and not outcome):
            return [f for operand in self.operands for f in operand.facts(outcome)]
        return []

    def alternatives(self, outcome: bool, limit: int = 8) -> list[list[tuple[Comparison, bool]]]:
        """The ways the condition can evaluate to `outcome`, each as the atoms known on it: `a && b`
        false is `a` false or `b` false (two alternatives). Past `limit` alternatives, one: the atoms
        known on every way (`facts`)."""
        if self.op == "atom" and self.atom is not None:
            return [[(self.atom, outcome)]]
        if self.op == "not":
            return self.operands[0].alternatives(not outcome, limit)
        ways: list[list[tuple[Comparison, bool]]] = []
        if (self.op == "and" and not outcome) or (self.op == "or" and outcome):
            for operand in self.operands:  # any one operand decides
                ways.extend(operand.alternatives(outcome, limit))
        elif self.op in ("and", "or"):
            ways = [[]]  # every operand holds its value: the product of their ways
            for operand in self.operands:
                ways = [way + more for way in ways for more in operand.alternatives(outcome, limit)]
                if len(ways) > limit:
                    break
        return ways if 0 < len(ways) <= limit else [self.facts(outcome)]

    def atoms(self) -> list[Comparison]:
        if self.op == "atom" and self.atom is not None:
            return [self.atom]
        return [a for operand in self.operands for a in operand.atoms()]


class NodeKind(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    STMT = "stmt"
    BRANCH = "branch"  # if/while/for/do condition, ?:, && / || are folded into the condition
    SWITCH = "switch"
    RETURN = "return"
    LABEL = "label"
    JOIN = "join"


class EdgeLabel(StrEnum):
    TRUE = "true"  # a branch's condition held
    FALSE = "false"
    CASE = "case"  # a switch's case (with its value and macro)
    DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Edge:
    target: int
    label: EdgeLabel | None = None  # None: plain fall-through
    case_value: int | None = None
    case_macro: str | None = None

    @property
    def outcome(self) -> bool | None:
        """The value of the branch condition along this edge (None: not a branch edge)."""
        if self.label == EdgeLabel.TRUE:
            return True
        if self.label == EdgeLabel.FALSE:
            return False
        return None


@dataclass(slots=True)
class CfgNode:
    """A statement-level control flow node; the events happen in order when it executes."""

    id: int
    kind: NodeKind
    location: SourceLocation | None = None
    text: str = ""
    calls: tuple[CallSite, ...] = ()
    stores: tuple[Store, ...] = ()
    derefs: tuple[Deref, ...] = ()
    subscripts: tuple[Subscript, ...] = ()
    condition: Condition | None = None  # BRANCH
    switch_on: Value | None = None  # SWITCH
    returns: Value | None = None  # RETURN (None for `return;`)
    succs: tuple[Edge, ...] = ()

    def facts_along(self, edge: Edge) -> list[tuple[Comparison, bool]]:
        """The atoms of the branch condition whose truth is known along `edge` (none off a branch)."""
        outcome = edge.outcome
        if self.condition is None or outcome is None:
            return []
        return self.condition.facts(outcome)


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    type: str  # spelled type
    location: SourceLocation
    is_param: bool = False
    index: int = -1  # parameter position
    is_user: bool = False  # declared with __user
    is_pointer: bool = False
    size: int | None = None  # sizeof the object when known (arrays, structs)
    is_array: bool = False
    is_static: bool = False  # static local: lives past the call


@dataclass(slots=True)
class Function:
    name: str
    key: str  # unique across the program: "name" for external linkage, "file:name" for static
    file: str  # where it is defined: its unit's file, or one of the code's own headers
    location: SourceLocation
    is_static: bool
    params: list[Variable]
    locals: dict[str, Variable]
    return_type: str
    nodes: list[CfgNode]  # nodes[0] is ENTRY, nodes[1] is EXIT

    @property
    def entry(self) -> CfgNode:
        return self.nodes[0]

    @property
    def exit(self) -> CfgNode:
        return self.nodes[1]

    def call_sites(self) -> list[tuple[CfgNode, CallSite]]:
        """Every call, in node order."""
        return [(node, call) for node in self.nodes for call in node.calls]

    def stores(self) -> Iterator[tuple[CfgNode, Store]]:
        """Every store, in node order."""
        for node in self.nodes:
            for store in node.stores:
                yield node, store

    def stores_to(self, path: str) -> Iterator[Store]:
        """The stores whose target is exactly `path`."""
        for _node, store in self.stores():
            if store.target.path == path:
                yield store


@dataclass(frozen=True, slots=True)
class OpsField:
    field: str  # "unlocked_ioctl" ("" for an element of an array of function pointers)
    function: str  # handler name
    location: SourceLocation
    element: int = -1  # position in an array table (-1: the variable is one structure)
    command: str | None = None  # the element's command macro: `{CMD, fn}`, `[_IOC_NR(CMD)] = fn`
    command_value: int | None = None  # that command's value, when clang computed it


@dataclass(frozen=True, slots=True)
class PointerStore:
    """`obj->field = fn` in code (also inside macros such as INIT_WORK): a function stored into a
    function-pointer field of a structure type."""

    record: str  # the structure type, without `struct`: "work_struct"
    field: str  # "func"
    function: str  # "my_worker"
    location: SourceLocation


@dataclass(frozen=True, slots=True)
class OpsTable:
    """An initialised global whose initialiser names functions: an ops structure (file_operations,
    vm_operations_struct, miscdevice, ...), or an array of them, or of function pointers (a command
    table), whatever its type."""

    variable: str
    struct: str  # "file_operations"
    fields: tuple[OpsField, ...]
    location: SourceLocation
    nested: tuple[tuple[str, str], ...] = ()  # (field, variable): e.g. miscdevice .fops = &my_fops
    is_array: bool = False  # an array: each field has its element's position


@dataclass(frozen=True, slots=True)
class IoctlCommand:
    """`#define NAME _IOWR(type, nr, size)` or `_IO(type, nr)`."""

    name: str
    direction: str  # "_IO", "_IOR", "_IOW", "_IOWR"
    type_text: str
    nr_text: str
    size_text: str
    location: SourceLocation
    value: int | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: str  # "error", "warning", "fatal"
    message: str
    location: SourceLocation | None


@dataclass(frozen=True, slots=True)
class CompiledOutCall:
    """A pin, uaccess or mmap-export call in code the preprocessor skipped."""

    family: str  # "pin", "uaccess", "mmap" (the kernel_api table that names it)
    name: str
    line: int


@dataclass(frozen=True, slots=True)
class CompiledOut:
    """A preprocessor branch of the file that the build skipped, holding calls the rules care about."""

    macro: str  # the macro controlling it, from the directive that decided ("CONFIG_FOO")
    is_set: bool | None  # skipped as the macro is set (#ifndef X) or not (#ifdef X); None: a longer test
    directive: str  # that directive, comments and continuations removed ("#if IS_ENABLED(CONFIG_FOO)")
    taken: bool  # the directive's own branch was taken (the skipped one is its #else/#elif)
    line: int  # of the first skipped directive
    calls: tuple[CompiledOutCall, ...]


@dataclass(slots=True)
class TranslationUnitFacts:
    path: str
    side: Side
    mode: HeaderMode
    functions: list[Function] = field(default_factory=list)
    globals: dict[str, Variable] = field(default_factory=dict)
    ops_tables: list[OpsTable] = field(default_factory=list)
    pointer_stores: list[PointerStore] = field(default_factory=list)  # `obj->field = fn` in code
    ioctl_commands: list[IoctlCommand] = field(default_factory=list)
    module_init: list[str] = field(default_factory=list)
    module_exit: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    source_lines: int = 0
    headers: list[str] = field(default_factory=list)  # every file the parse included (for the fact cache)
    skipped: list[str] = field(default_factory=list)  # parts not analysed, a line each (too deep)
    compiled_out: list[CompiledOut] = field(default_factory=list)  # skipped branches with API calls

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity in ("error", "fatal")]

    @property
    def missing_headers(self) -> list[str]:
        """The headers the parse could not find, as the `#include` named them."""
        return [found.group(1) for d in self.errors if (found := _MISSING_HEADER.search(d.message))]


_MISSING_HEADER = re.compile(r"'([^']+)' file not found")  # clang's diagnostic for an #include
