"""The parse layer: libclang in, facts out. The only module of gupcheck that imports `clang`.

`extract_facts(config)` parses one file and walks its AST once, producing a
`TranslationUnitFacts` made of plain dataclasses. It is a pure function of the file's content,
its flags and the analyser version.
"""

from __future__ import annotations

import bisect
import ctypes
import re
from dataclasses import dataclass, replace
from typing import NamedTuple

import clang.cindex as ci

from gupcheck.frontend.buildconfig import FileConfig
from gupcheck.frontend.pch import PrecompiledHeader, precompiled_header_for
from gupcheck.kernel_api.allocators import is_allocator
from gupcheck.kernel_api.entries import OPS_STRUCTS
from gupcheck.kernel_api.macros import MACRO_CALLS, TRANSPARENT_MACROS
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    Comparison,
    Condition,
    Deref,
    Diagnostic,
    Edge,
    Function,
    IoctlCommand,
    NodeKind,
    OpsField,
    OpsTable,
    Store,
    Subscript,
    TranslationUnitFacts,
    Value,
    ValueKind,
    Variable,
    root_of,
)
from gupcheck.model.findings import SourceLocation

K = ci.CursorKind


# CXBinaryOperatorKind / CXUnaryOperatorKind (clang-c/Index.h, LLVM 17+), not wrapped by the
# Python bindings of 18.1.
_BINARY_OPS = (
    "",
    ".*",
    "->*",
    "*",
    "/",
    "%",
    "+",
    "-",
    "<<",
    ">>",
    "<=>",
    "<",
    ">",
    "<=",
    ">=",
    "==",
    "!=",
    "&",
    "^",
    "|",
    "&&",
    "||",
    "=",
    "*=",
    "/=",
    "%=",
    "+=",
    "-=",
    "<<=",
    ">>=",
    "&=",
    "^=",
    "|=",
    ",",
)
_UNARY_OPS = (
    "",
    "post++",
    "post--",
    "++",
    "--",
    "&",
    "*",
    "+",
    "-",
    "~",
    "!",
    "__real",
    "__imag",
    "__extension__",
    "co_await",
)
_RELATIONAL = frozenset({"<", ">", "<=", ">=", "==", "!="})
_ASSIGNMENTS = frozenset(_BINARY_OPS[22:33])

_C_KEYWORDS = frozenset(
    """auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef union
    unsigned void volatile while _Bool bool __user __iomem __force typeof __typeof__ NULL true false
    u8 u16 u32 u64 s8 s16 s32 s64 __u8 __u16 __u32 __u64 size_t ssize_t loff_t uintptr_t""".split()
)
_PATH_RE = re.compile(r"[A-Za-z_]\w*(?:\s*(?:\.|->)\s*[A-Za-z_]\w*)*")
_WS_RE = re.compile(r"\s+")

_lib_ready = False


def _lib() -> ctypes.CDLL:
    """libclang with the few entry points the bindings leave unwrapped."""
    global _lib_ready
    lib = ci.conf.lib
    if not _lib_ready:
        lib.clang_getCursorBinaryOperatorKind.argtypes = [ci.Cursor]
        lib.clang_getCursorBinaryOperatorKind.restype = ctypes.c_int
        lib.clang_getCursorUnaryOperatorKind.argtypes = [ci.Cursor]
        lib.clang_getCursorUnaryOperatorKind.restype = ctypes.c_int
        lib.clang_Cursor_Evaluate.argtypes = [ci.Cursor]
        lib.clang_Cursor_Evaluate.restype = ctypes.c_void_p
        lib.clang_EvalResult_getKind.argtypes = [ctypes.c_void_p]
        lib.clang_EvalResult_getKind.restype = ctypes.c_int
        lib.clang_EvalResult_isUnsignedInt.argtypes = [ctypes.c_void_p]
        lib.clang_EvalResult_isUnsignedInt.restype = ctypes.c_uint
        lib.clang_EvalResult_getAsUnsigned.argtypes = [ctypes.c_void_p]
        lib.clang_EvalResult_getAsUnsigned.restype = ctypes.c_ulonglong
        lib.clang_EvalResult_getAsLongLong.argtypes = [ctypes.c_void_p]
        lib.clang_EvalResult_getAsLongLong.restype = ctypes.c_longlong
        lib.clang_EvalResult_dispose.argtypes = [ctypes.c_void_p]
        lib.clang_EvalResult_dispose.restype = None
        lib.clang_Location_isFromMainFile.argtypes = [ci.SourceLocation]
        lib.clang_Location_isFromMainFile.restype = ctypes.c_int
        _lib_ready = True
    return lib


# -- cursors, fast ------------------------------------------------------------------------------
# The walk asks for the same children and extents many times (an argument is described where it is
# visited and again in its call's site), so both are kept for the translation unit being walked,
# keyed by the cursor's bytes, and read with direct libclang calls: the bindings' SourceLocation
# builds a File object and four values for each offset, and their child visitor compares every
# child with the null cursor.


class _Extent(NamedTuple):
    file: str | None  # the file of the start's expansion location
    start: int  # offsets of the start and end expansion locations
    end: int
    line: int
    column: int
    end_line: int
    end_column: int


_VISIT = ci.callbacks["cursor_visit"]
_CONTINUE = 1  # CXChildVisit_Continue
_PREPROCESSING_KINDS = frozenset(
    {K.MACRO_DEFINITION.value, K.MACRO_INSTANTIATION.value, K.INCLUSION_DIRECTIVE.value}
)
_raw: ctypes.CDLL | None = None
_file_id = ctypes.c_void_p()
_line, _column, _offset = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
_extents: dict[bytes, _Extent] = {}
_children_of: dict[bytes, tuple[ci.Cursor, ...]] = {}
_arguments_of: dict[bytes, tuple[ci.Cursor, ...]] = {}
_file_names: dict[int, str] = {}
_canonical_types: dict[bytes, tuple[ci.TypeKind, int]] = {}
_MACRO_BIT = 1 << 31  # in a source location's encoding: a location in a macro expansion
_LINE_END_RE = re.compile(rb"\r\n|\r|\n")


def _raw_lib() -> ctypes.CDLL:
    """libclang under a second handle, so that the prototypes set here leave the bindings' alone."""
    global _raw
    if _raw is None:
        raw = ctypes.CDLL(ci.conf.lib._name)
        raw.clang_getCursorExtent.argtypes = [ci.Cursor]
        raw.clang_getCursorExtent.restype = ci.SourceRange
        for end in (raw.clang_getRangeStart, raw.clang_getRangeEnd):
            end.argtypes = [ci.SourceRange]
            end.restype = ci.SourceLocation
        number = ctypes.POINTER(ctypes.c_uint)
        raw.clang_getInstantiationLocation.argtypes = [
            ci.SourceLocation,
            ctypes.POINTER(ctypes.c_void_p),
            number,
            number,
            number,
        ]
        raw.clang_getInstantiationLocation.restype = None
        raw.clang_getCursorLocation.argtypes = [ci.Cursor]
        raw.clang_getCursorLocation.restype = ci.SourceLocation
        raw.clang_Location_isFromMainFile.argtypes = [ci.SourceLocation]
        raw.clang_Location_isFromMainFile.restype = ctypes.c_int
        raw.clang_visitChildren.argtypes = [ci.Cursor, _VISIT, ctypes.py_object]
        raw.clang_visitChildren.restype = ctypes.c_uint
        _raw = raw
    return _raw


class _MainFile:
    """Where the main file's text lies in the translation unit's source locations.

    A location in a file (not in a macro expansion) is encoded as the file's start in the source
    manager's offset space plus the offset in the file; a source range carries the encodings of its
    ends. Once one location of the main file has been decoded by libclang, the others are read from
    their encoding here, with lines counted as clang counts them."""

    def __init__(self, name: str, source: bytes) -> None:
        self.name = name
        self.size = len(source)
        self.line_starts = [0, *(match.end() for match in _LINE_END_RE.finditer(source))]
        self.base: int | None = None  # encoding of the file's first byte, once known

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1


_main: _MainFile | None = None  # of the translation unit being walked


def _extent(cursor: ci.Cursor) -> _Extent:
    key = bytes(cursor)
    found = _extents.get(key)
    if found is not None:
        return found
    raw = _raw_lib()
    extent = raw.clang_getCursorExtent(cursor)
    main = _main
    start = end = -1  # offsets in the main file's text, when their encoding says so
    if main is not None and main.base is not None:
        start = extent.begin_int_data - main.base
        end = extent.end_int_data - main.base
        start = start if 0 <= start <= main.size else -1
        end = end if 0 <= end <= main.size else -1
    if start >= 0:
        name = main.name
        line, column = main.position(start)
    else:  # in a macro expansion, or in another file: libclang finds the expansion's place
        raw.clang_getInstantiationLocation(
            raw.clang_getRangeStart(extent),
            ctypes.byref(_file_id),
            ctypes.byref(_line),
            ctypes.byref(_column),
            ctypes.byref(_offset),
        )
        file_id, start, line, column = _file_id.value, _offset.value, _line.value, _column.value
        name = None
        if file_id:
            name = _file_names.get(file_id)
            if name is None:
                name = _file_names[file_id] = cursor.extent.start.file.name
        if (
            main is not None
            and main.base is None
            and name == main.name
            and not extent.begin_int_data & _MACRO_BIT
        ):
            main.base = extent.begin_int_data - start
    if end >= 0:
        end_line, end_column = main.position(end)
    else:
        raw.clang_getInstantiationLocation(
            raw.clang_getRangeEnd(extent),
            None,
            ctypes.byref(_line),
            ctypes.byref(_column),
            ctypes.byref(_offset),
        )
        end, end_line, end_column = _offset.value, _line.value, _column.value
    found = _extents[key] = _Extent(name, start, end, line, column, end_line, end_column)
    return found


def _begin_main_file(name: str, source: bytes) -> None:
    global _main
    _main = _MainFile(name, source)


def _collect(child: ci.Cursor, _parent: ci.Cursor, collected: list[ci.Cursor]) -> int:
    collected.append(child)
    return _CONTINUE


_COLLECT = _VISIT(_collect)  # one callback for all visits: making a ctypes callback is slow


_CURSOR_KINDS: list[ci.CursorKind] = ci.CursorKind._kinds


def _kind(cursor: ci.Cursor) -> ci.CursorKind:
    """`cursor.kind`, without the bindings' property and range checks (the walk asks it most)."""
    return _CURSOR_KINDS[cursor._kind_id]


_SCALAR_KINDS = frozenset(
    {
        ci.TypeKind.INT,
        ci.TypeKind.UINT,
        ci.TypeKind.LONG,
        ci.TypeKind.ULONG,
        ci.TypeKind.LONGLONG,
        ci.TypeKind.ULONGLONG,
        ci.TypeKind.SHORT,
        ci.TypeKind.USHORT,
        ci.TypeKind.CHAR_S,
        ci.TypeKind.UCHAR,
        ci.TypeKind.SCHAR,
        ci.TypeKind.CHAR_U,
    }
)
_SIZED_KINDS = _SCALAR_KINDS | {ci.TypeKind.CONSTANTARRAY, ci.TypeKind.RECORD}


def _canonical_type(cursor: ci.Cursor) -> tuple[ci.TypeKind, int]:
    """(kind, size in bytes or -1) of the canonical type of an expression or declaration."""
    key = bytes(cursor)
    found = _canonical_types.get(key)
    if found is None:
        canonical = cursor.type.get_canonical()
        kind = canonical.kind
        found = _canonical_types[key] = (kind, canonical.get_size() if kind in _SIZED_KINDS else -1)
    return found


def _canonical_kind(cursor: ci.Cursor) -> ci.TypeKind:
    """The kind of the canonical type of an expression or declaration."""
    return _canonical_type(cursor)[0]


def _children(cursor: ci.Cursor) -> tuple[ci.Cursor, ...]:
    key = bytes(cursor)
    found = _children_of.get(key)
    if found is None:
        collected: list[ci.Cursor] = []
        _raw_lib().clang_visitChildren(cursor, _COLLECT, collected)
        tu = cursor._tu
        for child in collected:
            child._tu = tu
        found = _children_of[key] = tuple(collected)
    return found


def _arguments(cursor: ci.Cursor) -> tuple[ci.Cursor, ...]:
    key = bytes(cursor)
    found = _arguments_of.get(key)
    if found is None:
        found = _arguments_of[key] = tuple(cursor.get_arguments())
    return found


def _forget_cursors() -> None:
    """Drop what was kept of a translation unit (its memory may hold the next one)."""
    global _main
    _main = None
    _forget_nodes()
    _file_names.clear()


def _forget_nodes() -> None:
    """Drop the children, extents and types kept of the nodes walked so far. A function's walk
    hardly revisits another's nodes, and a generated driver of register writes has hundreds of
    thousands of them (kept to the end of the file, they cost 100 MB on gaudi_security.c)."""
    _extents.clear()
    _children_of.clear()
    _canonical_types.clear()
    _arguments_of.clear()


def _top_level(tu: ci.TranslationUnit, *, with_entities: bool) -> tuple[list[ci.Cursor], list[ci.Cursor]]:
    """The main file's cursors at the top level of `tu` and, `with_entities`, every preprocessing
    entity there (inclusions, macro definitions and expansions), in the order libclang visits them.
    Without a PCH a kernel TU has tens of thousands of them from headers: each costs one callback and
    libclang's own main-file test, nothing more."""
    raw = _raw_lib()
    is_main = raw.clang_Location_isFromMainFile
    location_of = raw.clang_getCursorLocation
    main: list[ci.Cursor] = []
    entities: list[ci.Cursor] = []

    def keep(child: ci.Cursor, _parent: ci.Cursor, _data: object) -> int:
        if with_entities and child._kind_id in _PREPROCESSING_KINDS:
            child._tu = tu
            entities.append(child)
        if is_main(location_of(child)):
            child._tu = tu
            main.append(child)
        return _CONTINUE

    raw.clang_visitChildren(tu.cursor, _VISIT(keep), None)
    return main, entities


def binary_operator(cursor: ci.Cursor) -> str:
    kind = _lib().clang_getCursorBinaryOperatorKind(cursor)
    return _BINARY_OPS[kind] if 0 <= kind < len(_BINARY_OPS) else ""


def unary_operator(cursor: ci.Cursor) -> str:
    kind = _lib().clang_getCursorUnaryOperatorKind(cursor)
    return _UNARY_OPS[kind] if 0 <= kind < len(_UNARY_OPS) else ""


def evaluate_int(cursor: ci.Cursor) -> int | None:
    """The integer value of a constant expression (clang_Cursor_Evaluate), or None."""
    lib = _lib()
    result = lib.clang_Cursor_Evaluate(cursor)
    if not result:
        return None
    try:
        if lib.clang_EvalResult_getKind(result) != 1:  # CXEval_Int
            return None
        if lib.clang_EvalResult_isUnsignedInt(result):
            return int(lib.clang_EvalResult_getAsUnsigned(result))
        return int(lib.clang_EvalResult_getAsLongLong(result))
    finally:
        lib.clang_EvalResult_dispose(result)


class ParseError(Exception):
    """libclang could not produce a translation unit at all."""


_index: ci.Index | None = None


def _get_index() -> ci.Index:
    global _index
    if _index is None:
        _index = ci.Index.create()
    return _index


def split_macro_arguments(text: str) -> list[str]:
    """`name(a, f(b, c), d)` -> ["a", "f(b, c)", "d"]; top-level commas only."""
    open_paren = text.find("(")
    if open_paren < 0:
        return []
    args: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text[open_paren + 1 :]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                break
            depth -= 1
        if ch == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    tail = "".join(current).strip()
    if tail or args:
        args.append(tail)
    return args


def normalise(text: str) -> str:
    return _WS_RE.sub(" ", text).strip()


def paths_in_text(text: str) -> list[str]:
    """Access paths (`req.len`, `dev->buf`) mentioned in a piece of C text."""
    found = []
    for match in _PATH_RE.finditer(text):
        path = _WS_RE.sub("", match.group(0))
        head = root_of(path)
        if head in _C_KEYWORDS or head.isupper():
            continue
        end = match.end()
        if end < len(text) and text[end:].lstrip().startswith("("):
            continue  # a call, not a variable
        found.append(path)
    return found


@dataclass
class _MacroUse:
    name: str
    start: int
    end: int
    line: int
    column: int


class _FunctionBuilder:
    """Builds the statement-level CFG and the events of one function body."""

    def __init__(self, walker: _TUWalker, cursor: ci.Cursor, key: str) -> None:
        self.walker = walker
        self.cursor = cursor
        self.key = key
        self.nodes: list[CfgNode] = []
        self.params: list[Variable] = []
        self.locals: dict[str, Variable] = {}
        self.labels: dict[str, int] = {}
        self.gotos: list[tuple[int, str]] = []
        self.break_targets: list[int] = []
        self.continue_targets: list[int] = []
        self._switch_stack: list[CfgNode] = []
        self.entry = self._new(NodeKind.ENTRY, self.walker.location(cursor))
        self.exit = self._new(NodeKind.EXIT, None)

    # -- graph plumbing -------------------------------------------------------------
    def _new(self, kind: NodeKind, location: SourceLocation | None, text: str = "") -> CfgNode:
        node = CfgNode(id=len(self.nodes), kind=kind, location=location, text=text)
        self.nodes.append(node)
        return node

    @staticmethod
    def _link(preds: list[tuple[CfgNode, str | None]], target: CfgNode) -> None:
        for pred, label in preds:
            pred.succs.append(Edge(target.id, label))

    # -- building -----------------------------------------------------------------
    def build(self) -> Function:
        for index, param in enumerate(_arguments(self.cursor)):
            var = self.walker.variable(param, is_param=True, index=index)
            self.params.append(var)
        body = next((c for c in _children(self.cursor) if _kind(c) == K.COMPOUND_STMT), None)
        preds: list[tuple[CfgNode, str | None]] = [(self.entry, None)]
        if body is not None:
            preds = self.stmt(body, preds)
        self._link(preds, self.exit)
        for source, label in self.gotos:
            if label in self.labels:
                self.nodes[source].succs.append(Edge(self.labels[label]))
        name = self.cursor.spelling
        return Function(
            name=name,
            key=self.key,
            file=self.walker.path,
            location=self.walker.location(self.cursor),
            is_static=self.cursor.storage_class == ci.StorageClass.STATIC,
            params=self.params,
            locals=self.locals,
            return_type=self.cursor.result_type.spelling,
            nodes=self.nodes,
        )

    def stmt(self, cursor: ci.Cursor, preds: list[tuple[CfgNode, str | None]]) -> list:
        """Add `cursor` after `preds`; return the dangling exits (node, edge label)."""
        kind = _kind(cursor)
        if kind == K.COMPOUND_STMT:
            for child in _children(cursor):
                preds = self.stmt(child, preds)
            return preds
        if kind == K.NULL_STMT:
            return preds
        if kind == K.IF_STMT:
            return self._if(cursor, preds)
        if kind in (K.WHILE_STMT, K.FOR_STMT, K.DO_STMT):
            return self._loop(cursor, preds)
        if kind == K.SWITCH_STMT:
            return self._switch(cursor, preds)
        if kind in (K.CASE_STMT, K.DEFAULT_STMT):
            return self._case(cursor, preds)
        if kind == K.RETURN_STMT:
            node = self._new(NodeKind.RETURN, self.walker.location(cursor), self.walker.text(cursor))
            self._link(preds, node)
            children = _children(cursor)
            if children:
                self.walker.events(children[0], node, self, result_used=True)
                node.returns = self.walker.value(children[0], self)
            node.succs.append(Edge(self.exit.id))
            return []
        if kind == K.BREAK_STMT:
            if self.break_targets:
                self._link(preds, self.nodes[self.break_targets[-1]])
            return []
        if kind == K.CONTINUE_STMT:
            if self.continue_targets:
                self._link(preds, self.nodes[self.continue_targets[-1]])
            return []
        if kind == K.GOTO_STMT:
            node = self._new(NodeKind.STMT, self.walker.location(cursor), self.walker.text(cursor))
            self._link(preds, node)
            target = next((c.spelling for c in _children(cursor) if _kind(c) == K.LABEL_REF), None)
            if target:
                self.gotos.append((node.id, target))
            return []
        if kind == K.LABEL_STMT:
            node = self._new(NodeKind.LABEL, self.walker.location(cursor), cursor.spelling)
            self.labels[cursor.spelling] = node.id
            self._link(preds, node)
            preds = [(node, None)]
            for child in _children(cursor):
                preds = self.stmt(child, preds)
            return preds
        if kind == K.DECL_STMT:
            node = self._new(NodeKind.STMT, self.walker.location(cursor), self.walker.text(cursor))
            self._link(preds, node)
            for decl in _children(cursor):
                if _kind(decl) == K.VAR_DECL:
                    self._declare(decl, node)
            return [(node, None)]
        # An expression statement.
        node = self._new(NodeKind.STMT, self.walker.location(cursor), self.walker.text(cursor))
        self._link(preds, node)
        self.walker.events(cursor, node, self, result_used=False)
        return [(node, None)]

    def _declare(self, decl: ci.Cursor, node: CfgNode) -> None:
        var = self.walker.variable(decl)
        self.locals[var.name] = var
        init = self.walker.initializer(decl)
        if init is not None:
            self.walker.events(init, node, self, result_used=True, assigned_to=var.name)
            target = Value(
                text=var.name, kind=ValueKind.LOCAL, base=var.name, path=var.name, names=(var.name,)
            )
            node.stores.append(Store(target, self.walker.value(init, self), node.location))
            # `struct req r = { .addr = (uintptr_t)buf };` also sets r.addr
            for field_name, value in self.walker.initialised_fields(decl, init):
                path = f"{var.name}.{field_name}"
                field_target = Value(text=path, kind=ValueKind.STACK, base=var.name, path=path, names=(path,))
                node.stores.append(Store(field_target, self.walker.value(value, self), node.location))

    def _branch(self, cond: ci.Cursor, preds: list, kind: NodeKind = NodeKind.BRANCH) -> CfgNode:
        node = self._new(kind, self.walker.location(cond), self.walker.text(cond))
        self._link(preds, node)
        self.walker.events(cond, node, self, result_used=True)
        node.condition = self.walker.condition(cond, self)
        return node

    def _if(self, cursor: ci.Cursor, preds: list) -> list:
        children = [c for c in _children(cursor) if _kind(c) != K.DECL_STMT]
        cond, then = children[0], children[1]
        node = self._branch(cond, preds)
        exits = self.stmt(then, [(node, "true")])
        if len(children) > 2:
            exits += self.stmt(children[2], [(node, "false")])
        else:
            exits.append((node, "false"))
        return exits

    def _loop(self, cursor: ci.Cursor, preds: list) -> list:
        children = _children(cursor)
        if _kind(cursor) == K.DO_STMT:
            body, cond = children[0], children[1] if len(children) > 1 else None
            head = self._new(NodeKind.JOIN, self.walker.location(cursor), "do")
            self._link(preds, head)
            after = self._new(NodeKind.JOIN, None, "do-end")
            latch = self._new(NodeKind.JOIN, None, "do-latch")
            self.break_targets.append(after.id)
            self.continue_targets.append(latch.id)
            exits = self.stmt(body, [(head, None)])
            self.break_targets.pop()
            self.continue_targets.pop()
            self._link(exits, latch)
            if cond is not None:
                branch = self._branch(cond, [(latch, None)])
                branch.succs.append(Edge(head.id, "true"))
                return [(branch, "false"), (after, None)]
            latch.succs.append(Edge(head.id))
            return [(after, None)]

        init = cond = inc = None
        body = children[-1] if children else None
        header = children[:-1]
        if _kind(cursor) == K.WHILE_STMT:
            cond = header[-1] if header else None
        else:
            init, cond, inc = self.walker.for_parts(cursor, header)
        if init is not None:
            init_node = self._new(NodeKind.STMT, self.walker.location(init), self.walker.text(init))
            self._link(preds, init_node)
            if _kind(init) == K.DECL_STMT:
                for decl in _children(init):
                    if _kind(decl) == K.VAR_DECL:
                        self._declare(decl, init_node)
            else:
                self.walker.events(init, init_node, self, result_used=False)
            preds = [(init_node, None)]
        head = self._new(NodeKind.JOIN, self.walker.location(cursor), "loop")
        self._link(preds, head)
        after = self._new(NodeKind.JOIN, None, "loop-end")
        latch = self._new(NodeKind.JOIN, None, "loop-latch")
        if cond is not None:
            branch = self._branch(cond, [(head, None)])
            body_preds: list = [(branch, "true")]
            branch.succs.append(Edge(after.id, "false"))
        else:
            body_preds = [(head, None)]
        self.break_targets.append(after.id)
        self.continue_targets.append(latch.id)
        exits = self.stmt(body, body_preds) if body is not None else body_preds
        self.break_targets.pop()
        self.continue_targets.pop()
        self._link(exits, latch)
        if inc is not None:
            inc_node = self._new(NodeKind.STMT, self.walker.location(inc), self.walker.text(inc))
            latch.succs.append(Edge(inc_node.id))
            self.walker.events(inc, inc_node, self, result_used=False)
            inc_node.succs.append(Edge(head.id))
        else:
            latch.succs.append(Edge(head.id))
        return [(after, None)]

    def _switch(self, cursor: ci.Cursor, preds: list) -> list:
        children = _children(cursor)
        cond, body = children[0], children[-1]
        node = self._new(NodeKind.SWITCH, self.walker.location(cursor), self.walker.text(cond))
        self._link(preds, node)
        self.walker.events(cond, node, self, result_used=True)
        node.switch_on = self.walker.value(cond, self)
        after = self._new(NodeKind.JOIN, None, "switch-end")
        self.break_targets.append(after.id)
        self._switch_stack.append(node)
        exits = self.stmt(body, [])
        self._switch_stack.pop()
        self.break_targets.pop()
        if not any(e.label == "default" for e in node.succs):
            node.succs.append(Edge(after.id, "default"))
        self._link(exits, after)
        return [(after, None)]

    def _case(self, cursor: ci.Cursor, preds: list) -> list:
        children = _children(cursor)
        label = self._new(NodeKind.LABEL, self.walker.location(cursor), self.walker.text(cursor)[:80])
        self._link(preds, label)
        switch = self._switch_stack[-1] if self._switch_stack else None
        if _kind(cursor) == K.CASE_STMT:
            value_cursor = children[0]
            value = evaluate_int(value_cursor)
            macro = self.walker.macro_spelling(value_cursor)
            if switch is not None:
                switch.succs.append(Edge(label.id, "case", value, macro))
            sub = children[-1] if len(children) > 1 else None
        else:
            if switch is not None:
                switch.succs.append(Edge(label.id, "default"))
            sub = children[0] if children else None
        preds = [(label, None)]
        if sub is not None:
            preds = self.stmt(sub, preds)
        return preds


class _TUWalker:
    """One walk over a translation unit's main file."""

    def __init__(self, tu: ci.TranslationUnit, config: FileConfig, source: bytes) -> None:
        self.tu = tu
        self.config = config
        self.path = config.path
        self.source = source
        self.globals: dict[str, Variable] = {}
        self.macro_uses: dict[int, _MacroUse] = {}
        self.macro_ranges: list[_MacroUse] = []
        self.facts = TranslationUnitFacts(path=config.path, side=config.side, mode=config.mode)
        self._header_text: dict[str, bytes] = {}
        self.macro_names: set[str] = set()  # macros instantiated in the main file
        self.main_file = tu.spelling
        _begin_main_file(self.main_file, source)
        self._macro_call_starts: list[int] | None = None  # MACRO_CALLS uses by start, for lookups
        self._macro_call_positions: list[int] = []

    # -- small helpers --------------------------------------------------------------
    def in_main_file(self, cursor: ci.Cursor) -> bool:
        """Whether the cursor's expansion location is in the main file."""
        return _extent(cursor).file == self.main_file

    def location(self, cursor: ci.Cursor) -> SourceLocation:
        ext = _extent(cursor)
        if ext.end_line == ext.line and ext.end_column <= ext.column:
            return SourceLocation(self.path, ext.line, ext.column)
        return SourceLocation(self.path, ext.line, ext.column, ext.end_line, ext.end_column)

    def text(self, cursor: ci.Cursor) -> str:
        ext = _extent(cursor)
        if ext.file != self.main_file:
            return ""
        return normalise(self.source[ext.start : ext.end].decode("utf-8", "replace"))

    def macro_at(self, cursor: ci.Cursor) -> _MacroUse | None:
        """The macro instantiation that `cursor` is exactly, if any. Only cursors of main-file
        function bodies get here, so offsets are main-file offsets."""
        ext = _extent(cursor)
        use = self.macro_uses.get(ext.start)
        if use is not None and use.end == ext.end:
            return use
        return None

    def macro_spelling(self, cursor: ci.Cursor) -> str | None:
        """The macro name an expression is spelled with (`FOLL_LONGTERM`, `MYDRV_IOC_PIN`)."""
        text = self.text(cursor)
        match = re.fullmatch(r"\(?\s*([A-Za-z_]\w*)\s*\)?", text)
        if match and match.group(1) in self.macro_names:
            return match.group(1)
        return None

    def decl_text(self, cursor: ci.Cursor) -> str:
        ext = _extent(cursor)
        name = ext.file
        if name is None:
            return ""
        if name == self.main_file:
            data = self.source
        else:
            data = self._header_text.get(name)
            if data is None:
                try:
                    with open(name, "rb") as handle:
                        data = handle.read()
                except OSError:
                    data = b""
                self._header_text[name] = data
        return data[ext.start : ext.end].decode("utf-8", "replace")

    def variable(self, cursor: ci.Cursor, *, is_param: bool = False, index: int = -1) -> Variable:
        kind, raw = _canonical_type(cursor)
        size = raw if raw > 0 and kind in (ci.TypeKind.CONSTANTARRAY, ci.TypeKind.RECORD) else None
        return Variable(
            name=cursor.spelling,
            type=cursor.type.spelling,
            location=self.location(cursor),
            is_param=is_param,
            index=index,
            is_user=_declares_user_pointer(self.decl_text(cursor)),
            is_pointer=kind == ci.TypeKind.POINTER,
            size=size,
            is_array=kind in (ci.TypeKind.CONSTANTARRAY, ci.TypeKind.INCOMPLETEARRAY),
            is_static=cursor.storage_class == ci.StorageClass.STATIC,
        )

    def initializer(self, decl: ci.Cursor) -> ci.Cursor | None:
        """The initialiser of a variable declaration (not an array bound)."""
        text = self.decl_text(decl)
        name_at = text.find(decl.spelling)
        if "=" not in (text[name_at:] if name_at >= 0 else text):
            return None
        init = None
        for child in _children(decl):
            if _kind(child) not in (
                K.TYPE_REF,
                K.STRUCT_DECL,
                K.UNION_DECL,
                K.ENUM_DECL,
                K.PARM_DECL,
                K.ANNOTATE_ATTR,
                K.VISIBILITY_ATTR,
                K.UNEXPOSED_ATTR,
            ):
                if _kind(child).is_expression():
                    init = child
        return init

    def for_parts(self, cursor: ci.Cursor, header: list[ci.Cursor]):
        """Which of a for statement's header children are init, condition and increment."""
        start = _extent(cursor).start
        if start in self.macro_uses or not self.in_main_file(cursor):
            # list_for_each_entry(...) and friends: the header lives in the macro.
            return None, None, None
        text = self.source[start : _extent(cursor).end].decode("utf-8", "replace")
        open_paren = text.find("(")
        depth, semis = 0, []
        for i, ch in enumerate(text[open_paren:], start=open_paren):
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth == 0:
                    break
            elif ch == ";" and depth == 1:
                semis.append(start + i)
        if len(semis) != 2:
            return None, None, None
        init = cond = inc = None
        for child in header:
            offset = _extent(child).start
            if offset < semis[0]:
                init = child
            elif offset < semis[1]:
                cond = child
            else:
                inc = child
        return init, cond, inc

    # -- expressions ----------------------------------------------------------------
    def value(self, cursor: ci.Cursor, fn: _FunctionBuilder | None) -> Value:
        """Describe an expression: what it denotes, its access path, constants and names."""
        text = self.text(cursor)
        macro_use = self.macro_at(cursor)
        if macro_use is not None and macro_use.name in MACRO_CALLS:
            names = tuple(p for p in paths_in_text(text[len(macro_use.name) :]) if self._known(p, fn))
            return Value(
                text=text,
                kind=ValueKind.CALL,
                names=names,
                calls=(macro_use.name,),
                macro=macro_use.name,
                const_value=evaluate_int(cursor),
            )
        inner = cursor
        address_of = False
        while True:
            kind = _kind(inner)
            if kind in (K.UNEXPOSED_EXPR, K.PAREN_EXPR, K.CSTYLE_CAST_EXPR):
                children = [c for c in _children(inner) if _kind(c) != K.TYPE_REF]
                if len(children) != 1:
                    break
                inner = children[0]
            elif kind == K.UNARY_OPERATOR and unary_operator(inner) == "&":
                address_of = True
                inner = _children(inner)[0]
            else:
                break
        names, calls = self._names_and_calls(cursor, fn)
        is_sizeof = _kind(inner) == K.CXX_UNARY_EXPR
        const_value = None
        if _kind(inner) in (
            K.INTEGER_LITERAL,
            K.CXX_UNARY_EXPR,
            K.BINARY_OPERATOR,
            K.DECL_REF_EXPR,
            K.UNARY_OPERATOR,
            K.UNEXPOSED_EXPR,
            K.PAREN_EXPR,
            K.CHARACTER_LITERAL,
        ):
            if not names or is_sizeof:
                const_value = evaluate_int(cursor)
        macro = self.macro_spelling(cursor)
        if macro is None and macro_use is not None:
            macro = macro_use.name
        path, base, vkind, fixed_size, user = self._path_of(inner, fn, address_of)
        if const_value is not None and vkind == ValueKind.UNKNOWN:
            vkind = ValueKind.CONST
        elif _kind(inner) == K.STRING_LITERAL:
            vkind = ValueKind.STRING
        elif _kind(inner) == K.CALL_EXPR:
            callee = self.callee_name(inner)
            vkind = ValueKind.HEAP if is_allocator(callee) else ValueKind.CALL
        if not user and _kind(inner) == K.CSTYLE_CAST_EXPR:
            user = "__user" in text
        return Value(
            text=text,
            kind=vkind,
            base=base,
            path=path,
            address_of=address_of
            or (fixed_size is not None and vkind != ValueKind.CONST and self._is_array(inner)),
            const_value=const_value,
            macro=macro,
            names=names,
            calls=calls,
            fixed_size=fixed_size,
            user_pointer=user,
            is_sizeof=is_sizeof,
        )

    @staticmethod
    def _is_array(cursor: ci.Cursor) -> bool:
        return _canonical_kind(cursor) == ci.TypeKind.CONSTANTARRAY

    def _known(self, path: str, fn: _FunctionBuilder | None) -> bool:
        head = root_of(path)
        if fn is not None and (head in fn.locals or any(p.name == head for p in fn.params)):
            return True
        return head in self.globals

    def _path_of(self, cursor: ci.Cursor, fn: _FunctionBuilder | None, address_of: bool):
        """(path, base, kind, fixed_size, user_pointer) of an lvalue-ish expression."""
        kind = _kind(cursor)
        if kind == K.DECL_REF_EXPR:
            ref = cursor.referenced
            name = cursor.spelling
            if ref is None:
                return name, name, ValueKind.UNKNOWN, None, False
            size = self._object_size(ref, address_of)
            if _kind(ref) == K.PARM_DECL:
                var = self._lookup(name, fn)
                return name, name, ValueKind.PARAM, None, bool(var and var.is_user)
            if _kind(ref) == K.VAR_DECL:
                var = self._lookup(name, fn)
                is_local = fn is not None and name in fn.locals and not (var and var.is_static)
                is_user = bool(var and var.is_user)
                if is_local:
                    array = _canonical_kind(ref) == ci.TypeKind.CONSTANTARRAY
                    vkind = ValueKind.STACK if (address_of or array) else ValueKind.LOCAL
                    return name, name, vkind, size, is_user
                return name, name, ValueKind.GLOBAL, size, is_user
            if _kind(ref) == K.ENUM_CONSTANT_DECL:
                return None, None, ValueKind.CONST, None, False
            return name, name, ValueKind.UNKNOWN, None, False
        if kind == K.MEMBER_REF_EXPR:
            children = _children(cursor)
            if not children:
                return cursor.spelling, None, ValueKind.FIELD, None, False
            base_cursor = _strip(children[0])
            arrow = _canonical_kind(children[0]) == ci.TypeKind.POINTER
            bpath, bbase, bkind, _, _ = self._path_of(base_cursor, fn, False)
            path = f"{bpath}{'->' if arrow else '.'}{cursor.spelling}" if bpath else None
            size = self._object_size(cursor, address_of)
            field_user = False
            ref = cursor.referenced
            if ref is not None and _canonical_kind(cursor) == ci.TypeKind.POINTER:
                field_user = _declares_user_pointer(self.decl_text(ref))
            if bkind == ValueKind.PARAM:
                vkind = ValueKind.PARAM
            elif bkind in (ValueKind.LOCAL, ValueKind.STACK) and not arrow:
                vkind = ValueKind.STACK
            elif bkind == ValueKind.GLOBAL and not arrow:
                vkind = ValueKind.GLOBAL
            else:
                vkind = ValueKind.FIELD
            return path, bbase, vkind, size, field_user
        if kind == K.ARRAY_SUBSCRIPT_EXPR:
            children = _children(cursor)
            bpath, bbase, bkind, _, _ = self._path_of(_strip(children[0]), fn, False)
            size = self._object_size(cursor, address_of)
            return (f"{bpath}[]" if bpath else None), bbase, bkind, size, False
        if kind == K.UNARY_OPERATOR and unary_operator(cursor) in ("++", "--", "post++", "post--"):
            return self._path_of(_strip(_children(cursor)[0]), fn, address_of)
        if kind == K.UNARY_OPERATOR and unary_operator(cursor) == "*":
            bpath, bbase, bkind, _, user = self._path_of(_strip(_children(cursor)[0]), fn, False)
            return (f"*{bpath}" if bpath else None), bbase, bkind, None, False
        if kind == K.BINARY_OPERATOR and binary_operator(cursor) in ("+", "-"):
            # pointer arithmetic: uptr + off keeps uptr's identity as the base
            children = _children(cursor)
            left = _strip(children[0])
            if _canonical_kind(left) == ci.TypeKind.POINTER or self._is_array(left):
                bpath, bbase, bkind, _, user = self._path_of(left, fn, False)
                return None, bbase, bkind, None, user
        return None, None, ValueKind.UNKNOWN, None, False

    @staticmethod
    def _object_size(cursor: ci.Cursor, address_of: bool) -> int | None:
        """The size of the object an expression (or a variable) denotes, when that is what matters:
        an array, or a struct or scalar whose address is taken."""
        kind, size = _canonical_type(cursor)
        if kind == ci.TypeKind.CONSTANTARRAY or (address_of and kind in _SIZED_KINDS):
            return size if size > 0 else None
        return None

    def _lookup(self, name: str, fn: _FunctionBuilder | None) -> Variable | None:
        if fn is not None:
            if name in fn.locals:
                return fn.locals[name]
            for param in fn.params:
                if param.name == name:
                    return param
        return self.globals.get(name)

    def _names_and_calls(self, cursor: ci.Cursor, fn: _FunctionBuilder | None):
        names: list[str] = []
        calls: list[str] = []

        def visit(node: ci.Cursor, in_chain: bool = False) -> None:
            use = self.macro_at(node)
            if use is not None and use.name in MACRO_CALLS:
                calls.append(use.name)
                names.extend(p for p in paths_in_text(self.text(node)[len(use.name) :]) if self._known(p, fn))
                return
            kind = _kind(node)
            if kind == K.CXX_UNARY_EXPR:
                return  # sizeof(x) reads nothing
            if kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR):
                if (
                    kind == K.DECL_REF_EXPR
                    and node.referenced is not None
                    and _kind(node.referenced) == K.FUNCTION_DECL
                ):
                    return
                if not in_chain:  # inside `a->b->c` only the whole path is a name
                    path, *_ = self._path_of(node, fn, False)
                    if path:
                        names.append(path)
                if kind == K.DECL_REF_EXPR:
                    return
            if kind == K.CALL_EXPR:
                calls.append(self.callee_name(node))
            elif kind == K.CONDITIONAL_OPERATOR:
                calls.append("?:")  # `n > MAX ? MAX : n` selects between values: treated as a clamp
            chain = kind == K.MEMBER_REF_EXPR or (
                in_chain and kind in (K.UNEXPOSED_EXPR, K.PAREN_EXPR, K.CSTYLE_CAST_EXPR)
            )
            for child in _children(node):
                visit(child, chain)

        visit(cursor)
        return tuple(dict.fromkeys(names)), tuple(dict.fromkeys(c for c in calls if c))

    def callee_name(self, call: ci.Cursor) -> str:
        ref = call.referenced
        if ref is not None and _kind(ref) == K.FUNCTION_DECL:
            return ref.spelling
        children = _children(call)
        if children:
            path, *_ = self._path_of(_strip(children[0]), None, False)
            if path:
                return path
        return call.spelling

    def condition(self, cursor: ci.Cursor, fn: _FunctionBuilder) -> Condition:
        use = self.macro_at(cursor)
        if use is not None and use.name in TRANSPARENT_MACROS:
            # The expansion hides the argument's structure: read the condition from its text.
            args = split_macro_arguments(self.text(cursor))
            if args:
                return self.text_condition(args[0], fn, self.location(cursor))
        if use is not None and use.name in MACRO_CALLS:
            call = self.call_site(cursor, fn, result_used=True)
            return Condition("atom", atom=Comparison("call", self.value(cursor, fn), call=call))
        node = cursor
        if _kind(cursor) in (K.UNEXPOSED_EXPR, K.PAREN_EXPR, K.CSTYLE_CAST_EXPR):
            children = [c for c in _children(cursor) if _kind(c) != K.TYPE_REF]
            if len(children) == 1:
                return self.condition(children[0], fn)
        if _kind(node) == K.CALL_EXPR and self.callee_name(node) == "__builtin_expect":
            args = _arguments(node)
            if args:
                return self.condition(args[0], fn)
        if _kind(node) == K.UNARY_OPERATOR and unary_operator(node) == "!":
            return Condition("not", (self.condition(_children(node)[0], fn),))
        if _kind(node) == K.BINARY_OPERATOR:
            op = binary_operator(node)
            children = _children(node)
            if op in ("&&", "||"):
                return Condition(
                    "and" if op == "&&" else "or",
                    (self.condition(children[0], fn), self.condition(children[1], fn)),
                )
            if op in _RELATIONAL:
                return Condition(
                    "atom", atom=Comparison(op, self.value(children[0], fn), self.value(children[1], fn))
                )
        call = self.call_site(node, fn, result_used=True) if self._is_call(node) else None
        if call is not None:
            return Condition("atom", atom=Comparison("call", self.value(node, fn), call=call))
        return Condition("atom", atom=Comparison("value", self.value(node, fn)))

    def text_condition(self, text: str, fn: _FunctionBuilder | None, location: SourceLocation) -> Condition:
        """A condition read from its spelling, for conditions inside likely()/unlikely()."""
        text = text.strip()
        while text.startswith("(") and _matching_paren(text, 0) == len(text) - 1:
            text = text[1:-1].strip()
        for op, name in (("||", "or"), ("&&", "and")):
            parts = _split_top_level(text, op)
            if len(parts) > 1:
                return Condition(name, tuple(self.text_condition(p, fn, location) for p in parts))
        if text.startswith("!") and not text.startswith("!="):
            return Condition("not", (self.text_condition(text[1:], fn, location),))
        for op in ("<=", ">=", "==", "!=", "<", ">"):
            parts = _split_top_level(text, op)
            if len(parts) == 2:
                return Condition(
                    "atom",
                    atom=Comparison(op, self._text_value(parts[0], fn), self._text_value(parts[1], fn)),
                )
        call = re.fullmatch(r"([A-Za-z_]\w*)\s*\((.*)\)", text, re.S)
        if call:
            args = tuple(self._text_value(a, fn) for a in split_macro_arguments(text))
            site = CallSite(call.group(1), args, location, via_macro=call.group(1) in MACRO_CALLS)
            return Condition("atom", atom=Comparison("call", self._text_value(text, fn), call=site))
        return Condition("atom", atom=Comparison("value", self._text_value(text, fn)))

    def _is_call(self, node: ci.Cursor) -> bool:
        use = self.macro_at(node)
        return _kind(node) == K.CALL_EXPR or (use is not None and use.name in MACRO_CALLS)

    def call_site(
        self,
        node: ci.Cursor,
        fn: _FunctionBuilder | None,
        *,
        result_used: bool,
        assigned_to: str | None = None,
    ) -> CallSite:
        use = self.macro_at(node)
        location = self.location(node)
        if use is not None and use.name in MACRO_CALLS:
            args = tuple(self._text_value(arg, fn) for arg in split_macro_arguments(self.text(node)))
            return CallSite(
                use.name, args, location, via_macro=True, result_used=result_used, assigned_to=assigned_to
            )
        callee = self.callee_name(node)
        indirect = node.referenced is None or _kind(node.referenced) != K.FUNCTION_DECL
        args = tuple(self.value(arg, fn) for arg in _arguments(node))
        return CallSite(
            callee,
            args,
            location,
            via_macro=False,
            result_used=result_used,
            assigned_to=assigned_to,
            indirect=indirect,
        )

    def macro_calls_within(self, outer: _MacroUse) -> list[_MacroUse]:
        """Outermost MACRO_CALLS instantiations strictly inside another macro's arguments."""
        if self._macro_call_starts is None:
            calls = sorted(
                (use.start, position)
                for position, use in enumerate(self.macro_ranges)
                if use.name in MACRO_CALLS
            )
            self._macro_call_starts = [start for start, _ in calls]
            self._macro_call_positions = [position for _, position in calls]
        first = bisect.bisect_right(self._macro_call_starts, outer.start)
        last = bisect.bisect_right(self._macro_call_starts, outer.end)
        found: list[_MacroUse] = []
        for position in sorted(self._macro_call_positions[first:last]):  # in the order they were met
            use = self.macro_ranges[position]
            if use.end <= outer.end:
                if not any(f.start <= use.start and use.end <= f.end for f in found):
                    found.append(use)
        return found

    def text_call(self, use: _MacroUse, fn: _FunctionBuilder | None) -> CallSite:
        text = self.source[use.start : use.end].decode("utf-8", "replace")
        args = tuple(self._text_value(arg, fn) for arg in split_macro_arguments(text))
        end_line = use.line + text.count("\n")
        end_column = (len(text) - text.rfind("\n")) if "\n" in text else use.column + len(text)
        location = SourceLocation(self.path, use.line, use.column, end_line, end_column)
        return CallSite(use.name, args, location, via_macro=True)

    def _text_value(self, text: str, fn: _FunctionBuilder | None) -> Value:
        """Describe a macro argument from its spelling (the AST of a macro's arguments is
        collapsed onto the macro's location, so the text is all there is)."""
        text = normalise(text)
        stripped = re.sub(r"\(\s*(?:const\s+)?(?:struct\s+)?\w+(?:\s+__user)?\s*\*+\s*\)", "", text).strip()
        user_cast = "__user" in text
        address_of = stripped.startswith("&")
        core = stripped.lstrip("&").strip()
        while core.startswith("(") and core.endswith(")"):
            core = core[1:-1].strip()
        core = re.sub(r"^(\+\+|--)|(\+\+|--)$", "", core).strip()  # `p++` walks p
        names = tuple(p for p in paths_in_text(text) if self._known(p, fn))
        const_value = None
        if re.fullmatch(r"-?(0x[0-9a-fA-F]+|\d+)[uUlL]*", core):
            const_value = int(core.rstrip("uUlL"), 0)
        macro = core if re.fullmatch(r"[A-Z_][A-Z0-9_]*", core) and core in self.macro_names else None
        path = None
        base = None
        vkind = ValueKind.CONST if const_value is not None else ValueKind.UNKNOWN
        fixed_size = None
        user = user_cast
        if re.fullmatch(r"[A-Za-z_]\w*(?:(?:\.|->)[A-Za-z_]\w*|\[[^\]]*\])*", core.replace(" ", "")):
            path = re.sub(r"\[[^\]]*\]", "[]", core.replace(" ", ""))
            base = root_of(path)
            var = self._lookup(base, fn)
            if var is not None:
                user = user or (var.is_user and path == base)
                if var.is_param:
                    vkind = ValueKind.PARAM
                elif fn is not None and base in fn.locals and not var.is_static:
                    if "->" in path:
                        vkind = ValueKind.FIELD
                    elif path == base and not (address_of or var.is_array):
                        vkind = ValueKind.LOCAL
                    else:
                        vkind = ValueKind.STACK
                    if path == base and (address_of or var.is_array):
                        fixed_size = var.size
                else:
                    vkind = ValueKind.GLOBAL
        return Value(
            text=text,
            kind=vkind,
            base=base,
            path=path,
            address_of=address_of,
            const_value=const_value,
            macro=macro,
            names=names,
            fixed_size=fixed_size,
            user_pointer=user,
        )

    def events(
        self,
        cursor: ci.Cursor,
        node: CfgNode,
        fn: _FunctionBuilder,
        *,
        result_used: bool,
        assigned_to: str | None = None,
    ) -> None:
        """Record the calls, stores and dereferences of an expression, in evaluation order."""

        macro_stack: list[_MacroUse] = []

        def add_deref(pointer: ci.Cursor, expr: ci.Cursor, writing: bool) -> None:
            value = self.value(pointer, fn)
            if macro_stack and not _spelled_as_deref(value, macro_stack[-1], self.source):
                return  # the dereference belongs to the macro's own body, not to this code
            accessed = self._path_of(_strip(expr), fn, False)[0]
            node.derefs.append(Deref(value, self.location(expr), writing, accessed))

        def add_subscript(base: ci.Cursor, index: ci.Cursor, expr: ci.Cursor, writing: bool) -> None:
            array = self.value(base, fn)
            if macro_stack and not _spelled_as_deref(array, macro_stack[-1], self.source):
                return
            node.subscripts.append(Subscript(array, self.value(index, fn), self.location(expr), writing))

        def visit(
            expr: ci.Cursor, used: bool, target: str | None, under_address: bool, writing: bool
        ) -> None:
            use = self.macro_at(expr)
            if use is not None and use.name in MACRO_CALLS:
                node.calls.append(self.call_site(expr, fn, result_used=used, assigned_to=target))
                return
            if use is not None and use.start not in seen_macros:
                # Any other macro: its arguments' own macro calls are invisible in the AST.
                seen_macros.add(use.start)
                for inner in self.macro_calls_within(use):
                    node.calls.append(self.text_call(inner, fn))
                macro_stack.append(use)
                try:
                    visit_expression(expr, used, target, under_address, writing)
                finally:
                    macro_stack.pop()
                return
            visit_expression(expr, used, target, under_address, writing)

        def visit_expression(
            expr: ci.Cursor, used: bool, target: str | None, under_address: bool, writing: bool
        ) -> None:
            kind = _kind(expr)
            if kind == K.CXX_UNARY_EXPR:
                return  # sizeof/alignof: unevaluated
            if kind == K.CALL_EXPR:
                callee_children = _children(expr)[:1]
                for child in callee_children:
                    if _kind(_strip(child)) != K.DECL_REF_EXPR:
                        visit(child, True, None, False, False)
                for arg in _arguments(expr):
                    visit(arg, True, None, False, False)
                node.calls.append(self.call_site(expr, fn, result_used=used, assigned_to=target))
                return
            if kind == K.CSTYLE_CAST_EXPR and expr.type.kind == ci.TypeKind.VOID:
                for child in _children(expr):
                    if _kind(child) != K.TYPE_REF:
                        visit(child, False, None, under_address, writing)
                return
            if kind in (K.BINARY_OPERATOR, K.COMPOUND_ASSIGNMENT_OPERATOR):
                op = binary_operator(expr)
                children = _children(expr)
                if op in _ASSIGNMENTS and len(children) == 2:
                    lhs, rhs = children
                    lhs_value = self.value(lhs, fn)
                    visit(rhs, True, lhs_value.path if op == "=" else None, False, False)
                    visit(lhs, True, None, False, True)
                    rhs_value = self.value(rhs, fn)
                    if op != "=":  # x op= y reads x too
                        rhs_value = Value(
                            text=self.text(expr),
                            names=lhs_value.names + rhs_value.names,
                            calls=rhs_value.calls,
                        )
                    node.stores.append(Store(lhs_value, rhs_value, self.location(expr), op))
                    return
                if op == ",":
                    for child in children:
                        visit(child, used, None, False, False)
                    return
                for child in children:
                    visit(child, True, None, False, False)
                return
            if kind == K.UNARY_OPERATOR:
                op = unary_operator(expr)
                child = next(iter(_children(expr)), None)
                if child is None:
                    return
                if op == "&":
                    visit(child, True, None, True, False)
                    return
                if op == "*":
                    if not under_address:
                        add_deref(child, expr, writing)
                    visit(child, True, None, False, False)
                    return
                if op in ("++", "--", "post++", "post--"):
                    target_value = self.value(child, fn)
                    update = Value(text=self.text(expr), names=target_value.names)
                    op = op.replace("post", "")
                    node.stores.append(Store(target_value, update, self.location(expr), op))
                    visit(child, True, None, False, True)
                    return
                visit(child, True, None, False, False)
                return
            if kind == K.MEMBER_REF_EXPR:
                children = _children(expr)
                if children:
                    base = children[0]
                    # p->array only computes an address; p->array[i] reads (see below)
                    if (
                        _canonical_kind(base) == ci.TypeKind.POINTER
                        and not under_address
                        and not _is_array_type(expr)
                    ):
                        add_deref(base, expr, writing)
                    visit(base, True, None, under_address, False)
                return
            if kind == K.ARRAY_SUBSCRIPT_EXPR:
                children = _children(expr)
                if len(children) == 2:
                    base, index = children
                    add_subscript(base, index, expr, writing)
                    stripped = _strip(base)
                    if not under_address:
                        if _canonical_kind(stripped) == ci.TypeKind.POINTER:
                            add_deref(base, expr, writing)
                        elif _kind(stripped) == K.MEMBER_REF_EXPR and _is_array_type(stripped):
                            owner = next(iter(_children(stripped)), None)
                            if owner is not None and _canonical_kind(owner) == ci.TypeKind.POINTER:
                                add_deref(owner, expr, writing)
                    visit(base, True, None, under_address, False)
                    visit(index, True, None, False, False)
                return
            if kind in (K.PAREN_EXPR, K.UNEXPOSED_EXPR, K.CSTYLE_CAST_EXPR):
                for child in _children(expr):
                    if _kind(child) != K.TYPE_REF:
                        visit(child, used, target, under_address, writing)
                return
            for child in _children(expr):
                if _kind(child).is_expression() or _kind(child).is_statement():
                    if _kind(child).is_statement() and not _kind(child).is_expression():
                        self._nested_statement(child, node, fn)
                    else:
                        visit(child, True, None, False, False)

        seen_macros: set[int] = set()
        visit(cursor, result_used, assigned_to, False, False)

    def _nested_statement(self, cursor: ci.Cursor, node: CfgNode, fn: _FunctionBuilder) -> None:
        """Statements inside an expression (GNU statement expressions from macros)."""
        for child in _children(cursor):
            if _kind(child) == K.DECL_STMT:
                for decl in _children(child):
                    init = self.initializer(decl) if _kind(decl) == K.VAR_DECL else None
                    if init is not None:
                        self.events(init, node, fn, result_used=True)
            elif _kind(child).is_expression():
                self.events(child, node, fn, result_used=True)
            elif _kind(child).is_statement():
                self._nested_statement(child, node, fn)

    # -- top level ------------------------------------------------------------------
    def walk(self, top_level: list[ci.Cursor]) -> TranslationUnitFacts:
        """The facts of the main file, from its cursors at the top level (`_top_level`)."""
        self.macro_names = set()
        declarations: list[ci.Cursor] = []
        for cursor in top_level:
            kind = _kind(cursor)
            if kind == K.MACRO_DEFINITION:
                self._ioctl_command(cursor)
            elif kind == K.MACRO_INSTANTIATION:
                self._macro_use(cursor)
            else:
                declarations.append(cursor)
        functions: list[ci.Cursor] = []
        for cursor in declarations:
            kind = _kind(cursor)
            if kind == K.FUNCTION_DECL and cursor.is_definition():
                functions.append(cursor)
            elif kind == K.VAR_DECL:
                var = self.variable(cursor)
                self.globals[var.name] = var
                self._ops_table(cursor)
        for cursor in functions:
            key = cursor.spelling
            if cursor.storage_class == ci.StorageClass.STATIC:
                key = f"{self.path}:{cursor.spelling}"
            builder = _FunctionBuilder(self, cursor, key)
            self.facts.functions.append(builder.build())
            _forget_nodes()
        self._resolve_ioctl_values()
        self.facts.globals = self.globals
        self.facts.source_lines = self.source.count(b"\n") + 1
        return self.facts

    def _macro_use(self, cursor: ci.Cursor) -> None:
        ext = _extent(cursor)
        use = _MacroUse(cursor.spelling, ext.start, ext.end, ext.line, ext.column)
        self.macro_names.add(use.name)
        # keep the outermost use at an offset (nested instantiations share the start)
        if use.start not in self.macro_uses or self.macro_uses[use.start].end < use.end:
            self.macro_uses[use.start] = use
        self.macro_ranges.append(use)
        if use.name in ("module_init", "module_exit"):
            args = split_macro_arguments(self.text(cursor))
            if args:
                target = self.facts.module_init if use.name == "module_init" else self.facts.module_exit
                target.append(args[0])

    def _resolve_ioctl_values(self) -> None:
        """Give each ioctl command the value clang computed where the file uses it."""
        if not self.facts.ioctl_commands:
            return
        values: dict[str, int] = {}
        for fn in self.facts.functions:
            for node in fn.nodes:
                for edge in node.succs:
                    if edge.case_macro and edge.case_value is not None:
                        values.setdefault(edge.case_macro, edge.case_value)
                for call in node.calls:
                    for arg in call.args:
                        if arg.macro and arg.const_value is not None:
                            values.setdefault(arg.macro, arg.const_value)
        self.facts.ioctl_commands = [
            replace(command, value=values.get(command.name)) for command in self.facts.ioctl_commands
        ]

    def _ioctl_command(self, cursor: ci.Cursor) -> None:
        text = self.text(cursor)
        match = re.match(r"([A-Za-z_]\w*)\s+\(?\s*(_IOWR|_IOW|_IOR|_IO)\s*\((.*)\)\s*\)?\s*$", text)
        if not match:
            return
        args = split_macro_arguments(f"x({match.group(3)})")
        while len(args) < 3:
            args.append("")
        self.facts.ioctl_commands.append(
            IoctlCommand(
                name=match.group(1),
                direction=match.group(2),
                type_text=args[0],
                nr_text=args[1],
                size_text=args[2],
                location=self.location(cursor),
            )
        )

    @staticmethod
    def initialised_fields(decl: ci.Cursor, init: ci.Cursor) -> list[tuple[str, ci.Cursor]]:
        """(field, value) of a struct initialiser list, designated or positional."""
        init = _strip(init)
        record = decl.type.get_canonical()
        if _kind(init) != K.INIT_LIST_EXPR or record.kind != ci.TypeKind.RECORD:
            return []
        declared = [f.spelling for f in record.get_fields()]
        fields = []
        for position, item in enumerate(_children(init)):
            parts = _children(item)
            if _kind(item) == K.UNEXPOSED_EXPR and parts and parts[0].kind == K.MEMBER_REF:
                fields.append((parts[0].spelling, parts[-1]))
            elif position < len(declared):
                fields.append((declared[position], item))
        return fields

    def _ops_table(self, cursor: ci.Cursor) -> None:
        struct = cursor.type.get_canonical()
        if struct.kind == ci.TypeKind.CONSTANTARRAY:
            struct = struct.element_type.get_canonical()
        name = struct.spelling.replace("const ", "").replace("struct ", "").strip()
        if name not in OPS_STRUCTS:
            return
        init = self.initializer(cursor)
        if init is None or _kind(init) != K.INIT_LIST_EXPR:
            return
        fields: list[OpsField] = []
        nested: list[tuple[str, str]] = []
        declared = [f.spelling for f in struct.get_fields()]
        for position, item in enumerate(_children(init)):
            field_name = declared[position] if position < len(declared) else None
            value = item
            parts = _children(item)
            if _kind(item) == K.UNEXPOSED_EXPR and parts and parts[0].kind == K.MEMBER_REF:
                field_name = parts[0].spelling
                value = parts[-1]
            if field_name is None:
                continue
            target = _strip(value)
            if _kind(target) == K.UNARY_OPERATOR and unary_operator(target) == "&":
                target = _strip(_children(target)[0])
                if _kind(target) == K.DECL_REF_EXPR:
                    nested.append((field_name, target.spelling))
                continue
            if (
                _kind(target) == K.DECL_REF_EXPR
                and target.referenced is not None
                and _kind(target.referenced) == K.FUNCTION_DECL
            ):
                fields.append(OpsField(field_name, target.spelling, self.location(item)))
        self.facts.ops_tables.append(
            OpsTable(
                variable=cursor.spelling,
                struct=name,
                fields=tuple(fields),
                location=self.location(cursor),
                nested=tuple(nested),
            )
        )


def _matching_paren(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _split_top_level(text: str, op: str) -> list[str]:
    """Split `text` at `op` outside parentheses (a relational op must not be part of a longer one)."""
    parts, depth, last, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(op, i):
            before = text[i - 1] if i else ""
            after = text[i + len(op)] if i + len(op) < len(text) else ""
            if op in ("<", ">") and (after in "<>=" or before in "<>-"):
                i += 1
                continue
            if op in ("==", "!=", "<=", ">=") and (before in "<>=!" or after == "="):
                i += 1
                continue
            parts.append(text[last:i].strip())
            i += len(op)
            last = i
            continue
        i += 1
    parts.append(text[last:].strip())
    return parts if len(parts) > 1 else [text]


def _declares_user_pointer(declaration: str) -> bool:
    """`char __user *buf` declares a user pointer; `void __user **slot` is a kernel pointer to one."""
    match = re.search(r"\b__user\b\s*((?:\*\s*(?:const\s+|volatile\s+|__restrict\s+)?)+)", declaration)
    return match is not None and match.group(1).count("*") == 1


def _spelled_as_deref(pointer: Value, macro: _MacroUse, source: bytes) -> bool:
    """Whether a dereference found inside a macro expansion was written by the caller in the
    macro's arguments (`pr_info("%d", u->len)`), not by the macro's body."""
    base = pointer.path or pointer.base
    if not base:
        return False
    arguments = source[macro.start : macro.end].decode("utf-8", "replace")
    spelled = re.escape(base)
    return re.search(rf"(\*\s*\(?\s*{spelled}\b|\b{spelled}\s*(->|\[))", arguments) is not None


def _is_array_type(cursor: ci.Cursor) -> bool:
    """Whether an expression's (canonical) type is an array."""
    return _canonical_kind(cursor) in (
        ci.TypeKind.CONSTANTARRAY,
        ci.TypeKind.INCOMPLETEARRAY,
        ci.TypeKind.VARIABLEARRAY,
    )


def _strip(cursor: ci.Cursor) -> ci.Cursor:
    """Skip implicit casts, parentheses and explicit casts."""
    while _kind(cursor) in (K.UNEXPOSED_EXPR, K.PAREN_EXPR, K.CSTYLE_CAST_EXPR):
        children = [c for c in _children(cursor) if _kind(c) != K.TYPE_REF]
        if len(children) != 1:
            break
        cursor = children[0]
    return cursor


_SEVERITY = {ci.Diagnostic.Warning: "warning", ci.Diagnostic.Error: "error", ci.Diagnostic.Fatal: "fatal"}


def extract_facts(
    config: FileConfig, source: bytes | None = None, *, cache_dir: str | None = None
) -> TranslationUnitFacts:
    """Parse one file with its flags and return its facts. Raises ParseError when libclang
    produces no translation unit.

    Kernel code with real headers is parsed with the shared precompiled header of the common kernel
    headers (`gupcheck.frontend.pch`; kept under `cache_dir`, else in a temporary directory) when it stands in
    for them: the facts are the same with or without it.
    """
    if source is None:
        with open(config.path, "rb") as handle:
            source = handle.read()
    try:
        precompiled = precompiled_header_for(config, cache_dir)
        if precompiled is not None:
            facts = _facts_with_pch(config, source, precompiled)
            if facts is not None:
                return facts
        tu = _parse(_get_index(), config, list(config.args))
        main, _ = _top_level(tu, with_entities=False)
        facts = _TUWalker(tu, config, source).walk(main)
        facts.headers = sorted(
            {inclusion.include.name for inclusion in tu.get_includes() if inclusion.include is not None}
        )
        _add_diagnostics(facts, tu)
        return facts
    finally:
        _forget_cursors()


_OPTIONS = ci.TranslationUnit.PARSE_DETAILED_PROCESSING_RECORD | ci.TranslationUnit.PARSE_INCOMPLETE
_pch_index: ci.Index | None = None


def _get_pch_index() -> ci.Index:
    """An index whose translation units list only what is not in their PCH at the top level."""
    global _pch_index
    if _pch_index is None:
        _pch_index = ci.Index.create(excludeDecls=True)
    return _pch_index


def _parse(index: ci.Index, config: FileConfig, args: list[str]) -> ci.TranslationUnit:
    try:
        return index.parse(config.path, args=args, options=_OPTIONS)
    except ci.TranslationUnitLoadError as error:
        raise ParseError(f"libclang could not parse the file ({error})") from error


def _facts_with_pch(
    config: FileConfig, source: bytes, precompiled: PrecompiledHeader
) -> TranslationUnitFacts | None:
    """The facts from a parse with the PCH, or None when it does not stand in for the headers."""
    try:
        tu = _parse(_get_pch_index(), config, [*config.args, "-include-pch", precompiled.path])
    except ParseError:
        return None
    main, entities = _top_level(tu, with_entities=True)
    headers = precompiled.stands_in(tu, entities, config, source)
    if headers is None:
        _forget_cursors()
        return None
    facts = _TUWalker(tu, config, source).walk(main)
    facts.headers = headers
    _add_diagnostics(facts, tu)
    return facts


def _add_diagnostics(facts: TranslationUnitFacts, tu: ci.TranslationUnit) -> None:
    for diag in tu.diagnostics:
        severity = _SEVERITY.get(diag.severity)
        if severity is None or severity == "warning":
            continue
        loc = diag.location
        where = None
        if loc.file is not None:
            where = SourceLocation(loc.file.name, loc.line, max(loc.column, 1))
        facts.diagnostics.append(Diagnostic(severity, diag.spelling, where))
