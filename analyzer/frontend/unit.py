"""One walk over a translation unit's main file: its top level (functions, globals, ops tables,
ioctl command macros, module_init/exit) into `TranslationUnitFacts`."""

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
    begin_main_file,
    canonical_type,
    child_cursors,
    cursor_extent,
    cursor_kind,
    forget_nodes,
    strip_casts,
    unary_operator,
)
from gupcheck.frontend.events import EventCollector
from gupcheck.frontend.macros import MacroIndex
from gupcheck.frontend.text import declares_user_pointer, normalise, split_macro_arguments
from gupcheck.frontend.values import ExpressionReader
from gupcheck.kernel_api.entries import OPS_STRUCTS
from gupcheck.model.facts import IoctlCommand, OpsField, OpsTable, TranslationUnitFacts, Variable
from gupcheck.model.findings import SourceLocation

# The walk recurses with the code's nesting (expressions, statements). Python 3.11 runs Python calls
# without the C stack, so deep code gets this many frames; a function deeper still is skipped, named
# in the facts, and the rest of the file is analysed.
WALK_RECURSION_LIMIT = 12_000


class UnitWalker:
    """One walk over a translation unit's main file."""

    def __init__(self, tu: ci.TranslationUnit, config: FileConfig, source: bytes) -> None:
        self.tu = tu
        self.config = config
        self.path = config.path
        self.source = source
        self.globals: dict[str, Variable] = {}
        self.facts = TranslationUnitFacts(path=config.path, side=config.side, mode=config.mode)
        self._header_text: dict[str, bytes] = {}
        self.main_file = tu.spelling
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
        if name == self.main_file:
            data = self.source
        else:
            cached = self._header_text.get(name)
            if cached is None:
                try:
                    with open(name, "rb") as handle:
                        cached = handle.read()
                except OSError:
                    cached = b""
                self._header_text[name] = cached
            data = cached
        return data[ext.start : ext.end].decode("utf-8", "replace")

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

    def walk(self, top_level: list[ci.Cursor]) -> TranslationUnitFacts:
        """The facts of the main file, from its cursors at the top level (`top_level_cursors`)."""
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(max(previous, WALK_RECURSION_LIMIT))
        try:
            return self._walk(top_level)
        finally:
            sys.setrecursionlimit(previous)

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
        for cursor in functions:
            key = cursor.spelling
            if cursor.storage_class == ci.StorageClass.STATIC:
                key = f"{self.path}:{cursor.spelling}"
            try:
                self.facts.functions.append(FunctionBuilder(self, cursor, key).build())
            except (RecursionError, ctypes.ArgumentError):  # ArgumentError: a RecursionError in a ctypes call
                line = self.location(cursor).line
                self.facts.skipped.append(f"{cursor.spelling}() at line {line} nests too deeply to analyse")
            finally:
                forget_nodes()
                self.values.forget()
        self._resolve_ioctl_values()
        self.facts.globals = self.globals
        self.facts.source_lines = self.source.count(b"\n") + 1
        return self.facts

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
        struct = cursor.type.get_canonical()
        if struct.kind == ci.TypeKind.CONSTANTARRAY:
            struct = struct.element_type.get_canonical()
        name = struct.spelling.replace("const ", "").replace("struct ", "").strip()
        if name not in OPS_STRUCTS:
            return
        init = self.initializer(cursor)
        if init is None or cursor_kind(init) != K.INIT_LIST_EXPR:
            return
        fields: list[OpsField] = []
        nested: list[tuple[str, str]] = []
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
            if (
                cursor_kind(target) == K.DECL_REF_EXPR
                and target.referenced is not None
                and cursor_kind(target.referenced) == K.FUNCTION_DECL
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
