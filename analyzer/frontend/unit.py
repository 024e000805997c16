"""One walk over a translation unit's main file: its top level (functions, globals, ops tables,
ioctl command macros, module_init/exit) into `TranslationUnitFacts`; then the functions defined in the
code's own headers (`ownfiles`), each walked as part of its own file."""

from __future__ import annotations

import ctypes
import re
import sys
from collections.abc import Sequence
from dataclasses import replace

import clang.cindex as ci

from gupcheck.frontend.buildconfig import FileConfig
from gupcheck.frontend.cfg import FunctionBuilder
from gupcheck.frontend.conditions import ConditionReader
from gupcheck.frontend.cursors import (
    K,
    OwnFileCursors,
    begin_main_file,
    canonical_type,
    child_cursors,
    cursor_extent,
    cursor_kind,
    evaluate_int,
    forget_nodes,
    strip_casts,
    unary_operator,
)
from gupcheck.frontend.events import EventCollector
from gupcheck.frontend.macros import MacroIndex
from gupcheck.frontend.ownfiles import file_path
from gupcheck.frontend.text import declares_user_pointer, normalise, split_macro_arguments
from gupcheck.frontend.values import ExpressionReader
from gupcheck.kernel_api.entries import OPS_STRUCTS, TABLE_ENTRY_MACROS
from gupcheck.model.facts import (
    Function,
    IoctlCommand,
    OpsField,
    OpsTable,
    TranslationUnitFacts,
    Variable,
    record_of,
)
from gupcheck.model.findings import SourceLocation

# At most this many elements of one table are read (a table of thousands of entries is data).
MAX_TABLE_ELEMENTS = 4096
_INTEGERS = frozenset(
    {ci.TypeKind.INT, ci.TypeKind.UINT, ci.TypeKind.LONG, ci.TypeKind.ULONG, ci.TypeKind.ENUM}
)


_FUNCTION_TYPES = (ci.TypeKind.FUNCTIONPROTO, ci.TypeKind.FUNCTIONNOPROTO)


def _may_hold_functions(struct: ci.Type) -> bool:
    """A function pointer, or a structure with a function-pointer field (one level of nesting)."""
    if struct.kind == ci.TypeKind.POINTER:
        return struct.get_pointee().get_canonical().kind in _FUNCTION_TYPES
    if struct.kind != ci.TypeKind.RECORD:
        return False
    for field in struct.get_fields():
        kind = field.type.get_canonical()
        if kind.kind == ci.TypeKind.POINTER and kind.get_pointee().get_canonical().kind in _FUNCTION_TYPES:
            return True
    return False


def _function_named(target: ci.Cursor) -> str | None:
    """The function an initialiser's value names (`fn`, `&fn`, a cast of either), if any."""
    if cursor_kind(target) == K.UNARY_OPERATOR and unary_operator(target) == "&":
        children = child_cursors(target)
        target = strip_casts(children[0]) if children else target
    if (
        cursor_kind(target) == K.DECL_REF_EXPR
        and target.referenced is not None
        and cursor_kind(target.referenced) == K.FUNCTION_DECL
    ):
        return str(target.spelling)
    return None


# The walk recurses with the code's nesting (expressions, statements). Python 3.11 runs Python calls
# without the C stack, so deep code gets this many frames; a function deeper still is skipped, named
# in the facts, and the rest of the file is analysed.
WALK_RECURSION_LIMIT = 12_000
# The most functions of the code's own headers walked with one file (a generated register header can
# define thousands); those beyond are named in the facts' skipped notes.
MAX_OWN_FILE_FUNCTIONS = 2000


_IDENTIFIER = re.compile(rb"[A-Za-z_]\w*")


def _callees(functions: Sequence[Function]) -> set[bytes]:
    """The names the functions call (a call a macro expands to included)."""
    return {call.callee.encode() for fn in functions for node in fn.nodes for call in node.calls}


class UnitWalker:
    """One walk over a translation unit's main file."""

    def __init__(
        self,
        tu: ci.TranslationUnit,
        config: FileConfig,
        source: bytes,
        *,
        within: UnitWalker | None = None,
        file: str = "",
    ) -> None:
        """A walker of the main file, or (`within` the main file's walker) of another of the code's own
        files, `file` as libclang names it, whose text is `source`: its functions go to the same facts,
        named by the file's path."""
        self.tu = tu
        self.config = config
        self.path = file_path(file) if within is not None else config.path
        self.source = source
        self.globals: dict[str, Variable] = within.globals if within is not None else {}
        self.facts: TranslationUnitFacts = (
            within.facts
            if within is not None
            else TranslationUnitFacts(path=config.path, side=config.side, mode=config.mode)
        )
        self._header_text: dict[str, bytes] = within._header_text if within is not None else {}
        self.main_file = file if within is not None else tu.spelling  # the file walked
        begin_main_file(self.main_file, source)
        self.macros = MacroIndex(self)
        self.values = ExpressionReader(self, self.macros)
        self.conditions = ConditionReader(self, self.macros, self.values)
        self.events = EventCollector(self, self.macros, self.values)

    def in_main_file(self, cursor: ci.Cursor) -> bool:
        """Whether the cursor's expansion location is in the main file."""
        return cursor_extent(cursor).file == self.main_file

    def location(self, cursor: ci.Cursor) -> SourceLocation:
        ext = cursor_extent(cursor)
        if ext.end_line == ext.line and ext.end_column <= ext.column:
            return SourceLocation(self.path, ext.line, ext.column)
        return SourceLocation(self.path, ext.line, ext.column, ext.end_line, ext.end_column)

    def text(self, cursor: ci.Cursor) -> str:
        ext = cursor_extent(cursor)
        if ext.file != self.main_file:
            return ""
        return normalise(self.source[ext.start : ext.end].decode("utf-8", "replace"))

    def decl_text(self, cursor: ci.Cursor) -> str:
        ext = cursor_extent(cursor)
        name = ext.file
        if name is None:
            return ""
        data = self.source if name == self.main_file else self._file_text(name)
        return data[ext.start : ext.end].decode("utf-8", "replace")

    def _file_text(self, name: str) -> bytes:
        """The bytes of an included file, read once a translation unit."""
        cached = self._header_text.get(name)
        if cached is None:
            try:
                with open(name, "rb") as handle:
                    cached = handle.read()
            except OSError:
                cached = b""
            self._header_text[name] = cached
        return cached

    def variable(self, cursor: ci.Cursor, *, is_param: bool = False, index: int = -1) -> Variable:
        kind, raw = canonical_type(cursor)
        size = raw if raw > 0 and kind in (ci.TypeKind.CONSTANTARRAY, ci.TypeKind.RECORD) else None
        return Variable(
            name=cursor.spelling,
            type=cursor.type.spelling,
            location=self.location(cursor),
            is_param=is_param,
            index=index,
            is_user=declares_user_pointer(self.decl_text(cursor)),
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
        for child in child_cursors(decl):
            if cursor_kind(child) not in (
                K.TYPE_REF,
                K.STRUCT_DECL,
                K.UNION_DECL,
                K.ENUM_DECL,
                K.PARM_DECL,
                K.ANNOTATE_ATTR,
                K.VISIBILITY_ATTR,
                K.UNEXPOSED_ATTR,
            ):
                if cursor_kind(child).is_expression():
                    init = child
        return init

    def for_parts(
        self, cursor: ci.Cursor, header: Sequence[ci.Cursor]
    ) -> tuple[ci.Cursor | None, ci.Cursor | None, ci.Cursor | None]:
        """Which of a for statement's header children are init, condition and increment."""
        start = cursor_extent(cursor).start
        if start in self.macros.uses or not self.in_main_file(cursor):
            # list_for_each_entry(...) and friends: the header lives in the macro.
            return None, None, None
        text = self.source[start : cursor_extent(cursor).end].decode("utf-8", "replace")
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
            offset = cursor_extent(child).start
            if offset < semis[0]:
                init = child
            elif offset < semis[1]:
                cond = child
            else:
                inc = child
        return init, cond, inc

    def walk(self, top_level: list[ci.Cursor], own: Sequence[OwnFileCursors] = ()) -> TranslationUnitFacts:
        """The facts of the main file, from its cursors at the top level (`top_level_cursors`), with
        the functions the code's `own` other files (its headers) define."""
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(max(previous, WALK_RECURSION_LIMIT))
        try:
            facts = self._walk(top_level)
            self._walk_own_files(own)
            return facts
        finally:
            sys.setrecursionlimit(previous)

    def _walk_own_files(self, own: Sequence[OwnFileCursors]) -> None:
        """The functions defined in the code's own headers that this file can reach: those named in
        its text or called from its functions (through macros too), then those these name or call,
        and so on. Each header is walked by one walker of that file (its locations, text and macro
        uses); at most `MAX_OWN_FILE_FUNCTIONS` functions, the rest named as skipped. A header
        function nothing here names is dead code in this translation unit and is not walked."""
        definitions = [
            (found, cursor)
            for found in own
            for cursor in found.cursors
            if cursor_kind(cursor) == K.FUNCTION_DECL and cursor.is_definition()
        ]
        if not definitions:
            return
        by_name: dict[bytes, list[int]] = {}
        for position, (_found, cursor) in enumerate(definitions):
            by_name.setdefault(cursor.spelling.encode(), []).append(position)
        names = set(_IDENTIFIER.findall(self.source)) | _callees(self.facts.functions)
        walkers: dict[str, UnitWalker] = {}
        walked = left_out = 0
        while names:
            batch = sorted(position for name in names for position in by_name.pop(name, ()))
            names = set()
            for position in batch:
                if walked >= MAX_OWN_FILE_FUNCTIONS:
                    left_out += 1
                    continue
                found, cursor = definitions[position]
                walker = walkers.get(found.name)
                if walker is None:
                    source = self._file_text(found.name)
                    walker = walkers[found.name] = UnitWalker(
                        self.tu, self.config, source, within=self, file=found.name
                    )
                    for use in found.cursors:
                        if cursor_kind(use) == K.MACRO_INSTANTIATION:
                            walker.macros.record(use)
                begin_main_file(walker.main_file, walker.source)
                extent = cursor_extent(cursor)
                names |= set(_IDENTIFIER.findall(walker.source, extent.start, extent.end))
                before = len(self.facts.functions)
                walker._functions([cursor])
                names |= _callees(self.facts.functions[before:])
                walked += 1
        if left_out:
            self.facts.skipped.append(
                f"{left_out} functions of the code's own headers not analysed "
                f"(at most {MAX_OWN_FILE_FUNCTIONS} a translation unit)"
            )
        begin_main_file(self.main_file, self.source)

    def _walk(self, top_level: list[ci.Cursor]) -> TranslationUnitFacts:
        declarations: list[ci.Cursor] = []
        for cursor in top_level:
            kind = cursor_kind(cursor)
            if kind == K.MACRO_DEFINITION:
                self._ioctl_command(cursor)
            elif kind == K.MACRO_INSTANTIATION:
                self._macro_use(cursor)
            else:
                declarations.append(cursor)
        functions: list[ci.Cursor] = []
        for cursor in declarations:
            kind = cursor_kind(cursor)
            if kind == K.FUNCTION_DECL and cursor.is_definition():
                functions.append(cursor)
            elif kind == K.VAR_DECL:
                var = self.variable(cursor)
                self.globals[var.name] = var
                self._ops_table(cursor)
        self._functions(functions)
        self._resolve_ioctl_values()
        self.facts.globals = self.globals
        self.facts.source_lines = self.source.count(b"\n") + 1
        return self.facts

    def _functions(self, functions: list[ci.Cursor]) -> None:
        """Build the function facts of definitions in the file walked."""
        for cursor in functions:
            key = cursor.spelling
            if cursor.storage_class == ci.StorageClass.STATIC:
                key = f"{self.path}:{cursor.spelling}"
            try:
                self.facts.functions.append(FunctionBuilder(self, cursor, key).build())
            except (RecursionError, ctypes.ArgumentError):  # ArgumentError: a RecursionError in a ctypes call
                where = self.location(cursor)
                at = f"line {where.line}" if self.path == self.facts.path else f"{where.path}:{where.line}"
                self.facts.skipped.append(f"{cursor.spelling}() at {at} nests too deeply to analyse")
            finally:
                forget_nodes()
                self.values.forget()

    def _macro_use(self, cursor: ci.Cursor) -> None:
        use = self.macros.record(cursor)
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
        init = strip_casts(init)
        record = decl.type.get_canonical()
        if cursor_kind(init) != K.INIT_LIST_EXPR or record.kind != ci.TypeKind.RECORD:
            return []
        declared = [f.spelling for f in record.get_fields()]
        fields = []
        for position, item in enumerate(child_cursors(init)):
            parts = child_cursors(item)
            if cursor_kind(item) == K.UNEXPOSED_EXPR and parts and parts[0].kind == K.MEMBER_REF:
                fields.append((parts[0].spelling, parts[-1]))
            elif position < len(declared):
                fields.append((declared[position], item))
        return fields

    def _ops_table(self, cursor: ci.Cursor) -> None:
        """An initialised global that names functions: an ops structure, an array of them, or an
        array of function pointers (a command table), with each element's position and command."""
        declared_type = cursor.type.get_canonical()
        is_array = declared_type.kind in (ci.TypeKind.CONSTANTARRAY, ci.TypeKind.INCOMPLETEARRAY)
        struct = declared_type.element_type.get_canonical() if is_array else declared_type
        name = record_of(struct.spelling)
        if name not in OPS_STRUCTS and not _may_hold_functions(struct):
            return
        init = self.initializer(cursor)
        if init is None or cursor_kind(init) != K.INIT_LIST_EXPR:
            return
        fields: list[OpsField] = []
        nested: list[tuple[str, str]] = []
        if is_array:
            position = 0
            for item in child_cursors(init)[:MAX_TABLE_ELEMENTS]:
                parts = child_cursors(item)
                value, index = item, None
                designator = len(parts) == 2 and parts[0].kind != K.MEMBER_REF
                if cursor_kind(item) == K.UNEXPOSED_EXPR and designator:
                    index, value = parts  # `[NR] = value`
                    designated = evaluate_int(index)
                    if designated is not None:
                        position = designated
                command = self._element_command(item, index)
                value = strip_casts(value)
                if cursor_kind(value) == K.INIT_LIST_EXPR:
                    fields += self._struct_fields(struct, value, nested, position, command)
                elif (function := _function_named(value)) is not None:
                    fields.append(OpsField("", function, self.location(item), position, *command))
                position += 1
        else:
            fields = self._struct_fields(struct, init, nested, -1, (None, None))
        if name not in OPS_STRUCTS and not fields:
            return
        self.facts.ops_tables.append(
            OpsTable(
                variable=cursor.spelling,
                struct=name,
                fields=tuple(fields),
                location=self.location(cursor),
                nested=tuple(nested),
                is_array=is_array,
            )
        )

    def _struct_fields(
        self,
        struct: ci.Type,
        init: ci.Cursor,
        nested: list[tuple[str, str]],
        element: int,
        command: tuple[str | None, int | None],
    ) -> list[OpsField]:
        """The functions a structure initialiser names, by field; `&var` fields go to `nested`. In a
        table's element without a command macro, the first named integer constant is its command."""
        fields: list[OpsField] = []
        declared = [f.spelling for f in struct.get_fields()]
        for position, item in enumerate(child_cursors(init)):
            field_name = declared[position] if position < len(declared) else None
            value = item
            parts = child_cursors(item)
            if cursor_kind(item) == K.UNEXPOSED_EXPR and parts and parts[0].kind == K.MEMBER_REF:
                field_name = parts[0].spelling
                value = parts[-1]
            if field_name is None:
                continue
            target = strip_casts(value)
            if cursor_kind(target) == K.UNARY_OPERATOR and unary_operator(target) == "&":
                target = strip_casts(child_cursors(target)[0])
                if cursor_kind(target) == K.DECL_REF_EXPR:
                    nested.append((field_name, target.spelling))
                continue
            function = _function_named(target)
            if function is not None:
                fields.append(OpsField(field_name, function, self.location(item), element, *command))
            elif element >= 0 and command == (None, None) and target.type.get_canonical().kind in _INTEGERS:
                macro = self.macros.spelling(value)
                number = evaluate_int(value)
                if macro is not None and number is not None:
                    command = (macro, number)
        if element >= 0 and command != (None, None):
            fields = [replace(f, command=command[0], command_value=command[1]) for f in fields]
        return fields

    def _element_command(self, item: ci.Cursor, index: ci.Cursor | None) -> tuple[str | None, int | None]:
        """The command a table element is for, from the macro that spells it (DRM_IOCTL_DEF_DRV) or
        from its designated index (`[_IOC_NR(CMD)] = fn`)."""
        spelled = re.match(r"\s*([A-Za-z_]\w*)\s*\(", self.text(item))
        if spelled and spelled.group(1) in TABLE_ENTRY_MACROS:
            args = split_macro_arguments(self.text(item))
            if args:
                return TABLE_ENTRY_MACROS[spelled.group(1)].format(*args), None
        if index is not None:
            inner = re.fullmatch(r"\s*[A-Za-z_]\w*\s*\(\s*([A-Za-z_]\w*)\s*\)\s*", self.text(index))
            if inner:
                return inner.group(1), None
        return None, None
