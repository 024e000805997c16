"""Describing an expression as the rules see it (a `Value`): what it denotes, its access path, its
constant and macro spelling, the names and calls it reads; and a call as a `CallSite`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import clang.cindex as ci

from gupcheck.frontend.cursors import (
    SIZED_KINDS,
    K,
    binary_operator,
    call_arguments,
    canonical_kind,
    canonical_type,
    child_cursors,
    cursor_kind,
    evaluate_int,
    strip_casts,
    unary_operator,
)
from gupcheck.frontend.macros import MacroIndex, MacroUse
from gupcheck.frontend.text import declares_user_pointer, normalise, paths_in_text, split_macro_arguments
from gupcheck.kernel_api.allocators import is_allocator
from gupcheck.kernel_api.macros import MACRO_CALLS
from gupcheck.model.facts import CallSite, Value, ValueKind, Variable, root_of
from gupcheck.model.findings import SourceLocation

if TYPE_CHECKING:
    from gupcheck.frontend.cfg import FunctionBuilder
    from gupcheck.frontend.unit import UnitWalker


PathFacts = tuple[str | None, str | None, ValueKind, int | None, bool]  # see ExpressionReader.path_of


class ExpressionReader:
    def __init__(self, unit: UnitWalker, macros: MacroIndex) -> None:
        self.unit = unit
        self.macros = macros
        # path_of() of the function being walked, by cursor: a chain `a->b->...->z` asks for the path
        # of each of its prefixes, once (not once per longer prefix)
        self._paths: dict[tuple[bytes, bool, bool], PathFacts] = {}

    def forget(self) -> None:
        """Drop what is kept of the function walked so far."""
        self._paths.clear()

    def value(self, cursor: ci.Cursor, fn: FunctionBuilder | None) -> Value:
        """Describe an expression: what it denotes, its access path, constants and names."""
        text = self.unit.text(cursor)
        macro_use = self.macros.at(cursor)
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
            kind = cursor_kind(inner)
            if kind in (K.UNEXPOSED_EXPR, K.PAREN_EXPR, K.CSTYLE_CAST_EXPR):
                children = [c for c in child_cursors(inner) if cursor_kind(c) != K.TYPE_REF]
                if len(children) != 1:
                    break
                inner = children[0]
            elif kind == K.UNARY_OPERATOR and unary_operator(inner) == "&":
                address_of = True
                inner = child_cursors(inner)[0]
            else:
                break
        names, calls = self._names_and_calls(cursor, fn)
        is_sizeof = cursor_kind(inner) == K.CXX_UNARY_EXPR
        const_value = None
        if cursor_kind(inner) in (
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
        macro = self.macros.spelling(cursor)
        if macro is None and macro_use is not None:
            macro = macro_use.name
        path, base, vkind, fixed_size, user = self.path_of(inner, fn, address_of)
        if const_value is not None and vkind == ValueKind.UNKNOWN:
            vkind = ValueKind.CONST
        elif cursor_kind(inner) == K.STRING_LITERAL:
            vkind = ValueKind.STRING
        elif cursor_kind(inner) == K.CALL_EXPR:
            callee = self.callee_name(inner)
            vkind = ValueKind.HEAP if is_allocator(callee) else ValueKind.CALL
        if not user and cursor_kind(inner) == K.CSTYLE_CAST_EXPR:
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
        return canonical_kind(cursor) == ci.TypeKind.CONSTANTARRAY

    def _known(self, path: str, fn: FunctionBuilder | None) -> bool:
        head = root_of(path)
        if fn is not None and (head in fn.locals or any(p.name == head for p in fn.params)):
            return True
        return head in self.unit.globals

    def path_of(self, cursor: ci.Cursor, fn: FunctionBuilder | None, address_of: bool) -> PathFacts:
        """(path, base, kind, fixed_size, user_pointer) of an lvalue-ish expression."""
        key = (bytes(cursor), address_of, fn is None)
        found = self._paths.get(key)
        if found is None:
            found = self._paths[key] = self._path_of(cursor, fn, address_of)
        return found

    def _path_of(self, cursor: ci.Cursor, fn: FunctionBuilder | None, address_of: bool) -> PathFacts:
        kind = cursor_kind(cursor)
        if kind == K.DECL_REF_EXPR:
            ref = cursor.referenced
            name = cursor.spelling
            if ref is None:
                return name, name, ValueKind.UNKNOWN, None, False
            size = self._object_size(ref, address_of)
            if cursor_kind(ref) == K.PARM_DECL:
                var = self._lookup(name, fn)
                return name, name, ValueKind.PARAM, None, bool(var and var.is_user)
            if cursor_kind(ref) == K.VAR_DECL:
                var = self._lookup(name, fn)
                is_local = fn is not None and name in fn.locals and not (var and var.is_static)
                is_user = bool(var and var.is_user)
                if is_local:
                    array = canonical_kind(ref) == ci.TypeKind.CONSTANTARRAY
                    vkind = ValueKind.STACK if (address_of or array) else ValueKind.LOCAL
                    return name, name, vkind, size, is_user
                return name, name, ValueKind.GLOBAL, size, is_user
            if cursor_kind(ref) == K.ENUM_CONSTANT_DECL:
                return None, None, ValueKind.CONST, None, False
            return name, name, ValueKind.UNKNOWN, None, False
        if kind == K.MEMBER_REF_EXPR:
            children = child_cursors(cursor)
            if not children:
                return cursor.spelling, None, ValueKind.FIELD, None, False
            base_cursor = strip_casts(children[0])
            arrow = canonical_kind(children[0]) == ci.TypeKind.POINTER
            bpath, bbase, bkind, _, _ = self.path_of(base_cursor, fn, False)
            path = f"{bpath}{'->' if arrow else '.'}{cursor.spelling}" if bpath else None
            size = self._object_size(cursor, address_of)
            field_user = False
            ref = cursor.referenced
            if ref is not None and canonical_kind(cursor) == ci.TypeKind.POINTER:
                field_user = declares_user_pointer(self.unit.decl_text(ref))
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
            children = child_cursors(cursor)
            array = strip_casts(children[0])
            bpath, bbase, bkind, _, _ = self.path_of(array, fn, False)
            # from `&a[i]` a copy may fill the rest of the array: the array's size bounds it (none for
            # a flexible array member or an array reached through a pointer)
            size = self._object_size(array, False) if address_of else self._object_size(cursor, False)
            return (f"{bpath}[]" if bpath else None), bbase, bkind, size, False
        if kind == K.UNARY_OPERATOR and unary_operator(cursor) in ("++", "--", "post++", "post--"):
            return self.path_of(strip_casts(child_cursors(cursor)[0]), fn, address_of)
        if kind == K.UNARY_OPERATOR and unary_operator(cursor) == "*":
            bpath, bbase, bkind, _, user = self.path_of(strip_casts(child_cursors(cursor)[0]), fn, False)
            return (f"*{bpath}" if bpath else None), bbase, bkind, None, False
        if kind == K.BINARY_OPERATOR and binary_operator(cursor) in ("+", "-"):
            # pointer arithmetic: uptr + off keeps uptr's identity as the base
            children = child_cursors(cursor)
            left = strip_casts(children[0])
            if canonical_kind(left) == ci.TypeKind.POINTER or self._is_array(left):
                bpath, bbase, bkind, _, user = self.path_of(left, fn, False)
                return None, bbase, bkind, None, user
        return None, None, ValueKind.UNKNOWN, None, False

    @staticmethod
    def _object_size(cursor: ci.Cursor, address_of: bool) -> int | None:
        """The size of the object an expression (or a variable) denotes, when that is what matters:
        an array, or a struct or scalar whose address is taken."""
        kind, size = canonical_type(cursor)
        if kind == ci.TypeKind.CONSTANTARRAY or (address_of and kind in SIZED_KINDS):
            return size if size > 0 else None
        return None

    def _lookup(self, name: str, fn: FunctionBuilder | None) -> Variable | None:
        if fn is not None:
            if name in fn.locals:
                return fn.locals[name]
            for param in fn.params:
                if param.name == name:
                    return param
        return self.unit.globals.get(name)

    def _names_and_calls(
        self, cursor: ci.Cursor, fn: FunctionBuilder | None
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        names: list[str] = []
        calls: list[str] = []

        def visit(node: ci.Cursor, in_chain: bool = False) -> None:
            use = self.macros.at(node)
            if use is not None and use.name in MACRO_CALLS:
                calls.append(use.name)
                names.extend(
                    p for p in paths_in_text(self.unit.text(node)[len(use.name) :]) if self._known(p, fn)
                )
                return
            kind = cursor_kind(node)
            if kind == K.CXX_UNARY_EXPR:
                return  # sizeof(x) reads nothing
            if kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR):
                if (
                    kind == K.DECL_REF_EXPR
                    and node.referenced is not None
                    and cursor_kind(node.referenced) == K.FUNCTION_DECL
                ):
                    return
                if not in_chain:  # inside `a->b->c` only the whole path is a name
                    path, *_ = self.path_of(node, fn, False)
                    if path:
                        names.append(path)
                if kind == K.DECL_REF_EXPR:
                    return
            if kind == K.CALL_EXPR:
                calls.append(self.callee_name(node))
            elif (recovered := self.recovered_call(node)) is not None:
                calls.append(recovered.spelling)
            elif kind == K.CONDITIONAL_OPERATOR:
                calls.append("?:")  # `n > MAX ? MAX : n` selects between values: treated as a clamp
            chain = kind == K.MEMBER_REF_EXPR or (
                in_chain and kind in (K.UNEXPOSED_EXPR, K.PAREN_EXPR, K.CSTYLE_CAST_EXPR)
            )
            for child in child_cursors(node):
                visit(child, chain)

        visit(cursor)
        return tuple(dict.fromkeys(names)), tuple(dict.fromkeys(c for c in calls if c))

    def callee_name(self, call: ci.Cursor) -> str:
        ref = call.referenced
        if ref is not None and cursor_kind(ref) == K.FUNCTION_DECL:
            return ref.spelling
        children = child_cursors(call)
        if children:
            path, *_ = self.path_of(strip_casts(children[0]), None, False)
            if path:
                return path
        return call.spelling

    def is_call(self, node: ci.Cursor) -> bool:
        use = self.macros.at(node)
        return cursor_kind(node) == K.CALL_EXPR or (use is not None and use.name in MACRO_CALLS)

    def call_site(
        self,
        node: ci.Cursor,
        fn: FunctionBuilder | None,
        *,
        result_used: bool,
        assigned_to: str | None = None,
    ) -> CallSite:
        use = self.macros.at(node)
        location = self.unit.location(node)
        if use is not None and use.name in MACRO_CALLS:
            args = tuple(self.text_value(arg, fn) for arg in split_macro_arguments(self.unit.text(node)))
            return CallSite(
                use.name, args, location, via_macro=True, result_used=result_used, assigned_to=assigned_to
            )
        callee = self.callee_name(node)
        indirect = node.referenced is None or cursor_kind(node.referenced) != K.FUNCTION_DECL
        args = tuple(self.value(arg, fn) for arg in call_arguments(node))
        return CallSite(
            callee,
            args,
            location,
            via_macro=False,
            result_used=result_used,
            assigned_to=assigned_to,
            indirect=indirect,
        )

    def recovered_call(self, node: ci.Cursor) -> ci.Cursor | None:
        """The callee of a call clang could not type (`get_user_pages()` given the arguments of
        another kernel version's signature): a dependent-typed expression whose first child names a
        function and whose spelling is that call. None for anything else."""
        if cursor_kind(node) != K.UNEXPOSED_EXPR or node.type.kind != ci.TypeKind.DEPENDENT:
            return None
        children = child_cursors(node)
        callee = children[0] if children else None
        if (
            callee is None
            or cursor_kind(callee) != K.DECL_REF_EXPR
            or callee.referenced is None
            or cursor_kind(callee.referenced) != K.FUNCTION_DECL
        ):
            return None
        return callee if self.unit.text(node).startswith(callee.spelling) else None

    def recovered_call_site(
        self,
        node: ci.Cursor,
        callee: ci.Cursor,
        fn: FunctionBuilder | None,
        *,
        result_used: bool,
        assigned_to: str | None = None,
    ) -> CallSite:
        """The call `recovered_call()` found, with the arguments as written."""
        args = tuple(self.value(arg, fn) for arg in child_cursors(node)[1:])
        location = self.unit.location(node)
        return CallSite(callee.spelling, args, location, result_used=result_used, assigned_to=assigned_to)

    def text_call(self, use: MacroUse, fn: FunctionBuilder | None, *, result_used: bool = True) -> CallSite:
        text = self.unit.source[use.start : use.end].decode("utf-8", "replace")
        args = tuple(self.text_value(arg, fn) for arg in split_macro_arguments(text))
        end_line = use.line + text.count("\n")
        end_column = (len(text) - text.rfind("\n")) if "\n" in text else use.column + len(text)
        location = SourceLocation(self.unit.path, use.line, use.column, end_line, end_column)
        return CallSite(use.name, args, location, via_macro=True, result_used=result_used)

    def text_value(self, text: str, fn: FunctionBuilder | None) -> Value:
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
        macro = core if re.fullmatch(r"[A-Z_][A-Z0-9_]*", core) and core in self.macros.names else None
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
