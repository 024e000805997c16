"""libclang, fast: cursor kinds, children, extents and types read with direct libclang calls and
kept for the translation unit being walked, and the few entry points the Python bindings leave
unwrapped (operator kinds, constant evaluation). The only module of the walk that calls libclang's C
functions directly.
"""

from __future__ import annotations

import bisect
import ctypes
import re
from collections.abc import Callable
from typing import NamedTuple

import clang.cindex as ci

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
RELATIONAL_OPERATORS = frozenset({"<", ">", "<=", ">=", "==", "!="})
ASSIGNMENT_OPERATORS = frozenset(_BINARY_OPS[22:33])


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


class Extent(NamedTuple):
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
_extents: dict[bytes, Extent] = {}
_children_of: dict[bytes, tuple[ci.Cursor, ...]] = {}
_arguments_of: dict[bytes, tuple[ci.Cursor, ...]] = {}
_file_names: dict[int, str] = {}
_canonical_types: dict[bytes, tuple[ci.TypeKind, int]] = {}
_MACRO_BIT = 1 << 31  # in a source location's encoding: a location in a macro expansion
_LINE_END_RE = re.compile(rb"\r\n|\r|\n")


def raw_lib() -> ctypes.CDLL:
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


def cursor_extent(cursor: ci.Cursor) -> Extent:
    key = bytes(cursor)
    found = _extents.get(key)
    if found is not None:
        return found
    raw = raw_lib()
    extent = raw.clang_getCursorExtent(cursor)
    main = _main
    start = end = -1  # offsets in the main file's text, when their encoding says so
    if main is not None and main.base is not None:
        start = extent.begin_int_data - main.base
        end = extent.end_int_data - main.base
        start = start if 0 <= start <= main.size else -1
        end = end if 0 <= end <= main.size else -1
    if start >= 0 and main is not None:
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
    if end >= 0 and main is not None:
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
    found = _extents[key] = Extent(name, start, end, line, column, end_line, end_column)
    return found


def begin_main_file(name: str, source: bytes) -> None:
    global _main
    _main = _MainFile(name, source)


def _collect(child: ci.Cursor, _parent: ci.Cursor, collected: list[ci.Cursor]) -> int:
    collected.append(child)
    return _CONTINUE


_COLLECT = _VISIT(_collect)  # one callback for all visits: making a ctypes callback is slow


_CURSOR_KINDS: list[ci.CursorKind] = ci.CursorKind._kinds


def cursor_kind(cursor: ci.Cursor) -> ci.CursorKind:
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
SIZED_KINDS = _SCALAR_KINDS | {ci.TypeKind.CONSTANTARRAY, ci.TypeKind.RECORD}


def canonical_type(cursor: ci.Cursor) -> tuple[ci.TypeKind, int]:
    """(kind, size in bytes or -1) of the canonical type of an expression or declaration."""
    key = bytes(cursor)
    found = _canonical_types.get(key)
    if found is None:
        canonical = cursor.type.get_canonical()
        kind = canonical.kind
        found = _canonical_types[key] = (kind, canonical.get_size() if kind in SIZED_KINDS else -1)
    return found


def canonical_kind(cursor: ci.Cursor) -> ci.TypeKind:
    """The kind of the canonical type of an expression or declaration."""
    return canonical_type(cursor)[0]


def child_cursors(cursor: ci.Cursor) -> tuple[ci.Cursor, ...]:
    key = bytes(cursor)
    found = _children_of.get(key)
    if found is None:
        collected: list[ci.Cursor] = []
        raw_lib().clang_visitChildren(cursor, _COLLECT, collected)
        tu = cursor._tu
        for child in collected:
            child._tu = tu
        found = _children_of[key] = tuple(collected)
    return found


def call_arguments(cursor: ci.Cursor) -> tuple[ci.Cursor, ...]:
    key = bytes(cursor)
    found = _arguments_of.get(key)
    if found is None:
        found = _arguments_of[key] = tuple(cursor.get_arguments())
    return found


def forget_cursors() -> None:
    """Drop what was kept of a translation unit (its memory may hold the next one)."""
    global _main
    _main = None
    forget_nodes()
    _file_names.clear()


def forget_nodes() -> None:
    """Drop the children, extents and types kept of the nodes walked so far. A function's walk
    hardly revisits another's nodes, and a generated driver of register writes has hundreds of
    thousands of them (kept to the end of the file, they cost 100 MB on gaudi_security.c)."""
    _extents.clear()
    _children_of.clear()
    _canonical_types.clear()
    _arguments_of.clear()


class OwnFileCursors(NamedTuple):
    """The top-level cursors of one of the analysed code's own files other than the main file (a
    driver's header): function definitions and macro instantiations, in the order libclang visits
    them."""

    name: str  # the file, as libclang names it
    cursors: list[ci.Cursor]


_OWN_FILE_KINDS = frozenset({K.FUNCTION_DECL.value, K.MACRO_INSTANTIATION.value})


def top_level_cursors(
    tu: ci.TranslationUnit, *, with_entities: bool, own_file: Callable[[str], bool] | None = None
) -> tuple[list[ci.Cursor], list[ci.Cursor], list[OwnFileCursors]]:
    """The main file's cursors at the top level of `tu`; `with_entities`, every preprocessing entity
    there (inclusions, macro definitions and expansions), in the order libclang visits them; and, for
    each other file `own_file` accepts (by the name libclang gives it), its function declarations and
    macro instantiations. Without a PCH a kernel TU has tens of thousands of cursors from headers:
    each costs one callback and libclang's own main-file test, and a function or a macro use one more
    call for its file (whose answer is kept per file)."""
    raw = raw_lib()
    is_main = raw.clang_Location_isFromMainFile
    location_of = raw.clang_getCursorLocation
    expansion = raw.clang_getInstantiationLocation
    main: list[ci.Cursor] = []
    entities: list[ci.Cursor] = []
    others: dict[int, OwnFileCursors | None] = {}  # file id -> its cursors, None: not an own file
    file_id = ctypes.c_void_p()

    def keep(child: ci.Cursor, _parent: ci.Cursor, _data: object) -> int:
        kind = child._kind_id
        if with_entities and kind in _PREPROCESSING_KINDS:
            child._tu = tu
            entities.append(child)
        location = location_of(child)
        if is_main(location):
            child._tu = tu
            main.append(child)
        elif own_file is not None and kind in _OWN_FILE_KINDS:
            expansion(location, ctypes.byref(file_id), None, None, None)
            if not file_id.value:
                return _CONTINUE
            key = file_id.value
            if key not in others:
                name = location.file.name if location.file is not None else ""
                others[key] = OwnFileCursors(name, []) if name and own_file(name) else None
            found = others[key]
            if found is not None:
                child._tu = tu
                found.cursors.append(child)
        return _CONTINUE

    raw.clang_visitChildren(tu.cursor, _VISIT(keep), None)
    return main, entities, [found for found in others.values() if found is not None]


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


def is_array_type(cursor: ci.Cursor) -> bool:
    """Whether an expression's (canonical) type is an array."""
    return canonical_kind(cursor) in (
        ci.TypeKind.CONSTANTARRAY,
        ci.TypeKind.INCOMPLETEARRAY,
        ci.TypeKind.VARIABLEARRAY,
    )


def strip_casts(cursor: ci.Cursor) -> ci.Cursor:
    """Skip implicit casts, parentheses and explicit casts."""
    while cursor_kind(cursor) in (K.UNEXPOSED_EXPR, K.PAREN_EXPR, K.CSTYLE_CAST_EXPR):
        children = [c for c in child_cursors(cursor) if cursor_kind(c) != K.TYPE_REF]
        if len(children) != 1:
            break
        cursor = children[0]
    return cursor
