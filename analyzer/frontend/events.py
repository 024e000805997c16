"""The events of an expression, in evaluation order: the calls, stores, dereferences and subscripts a
CFG node records."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import clang.cindex as ci

from gupcheck.frontend.cursors import (
    ASSIGNMENT_OPERATORS,
    K,
    binary_operator,
    call_arguments,
    canonical_kind,
    child_cursors,
    cursor_kind,
    is_array_type,
    strip_casts,
    unary_operator,
)
from gupcheck.frontend.macros import MacroIndex, MacroUse, spelled_as_deref
from gupcheck.frontend.values import ExpressionReader
from gupcheck.kernel_api.macros import MACRO_CALLS
from gupcheck.model.facts import CfgNode, Deref, PointerStore, Store, Subscript, Value, record_of

if TYPE_CHECKING:
    from gupcheck.frontend.cfg import FunctionBuilder
    from gupcheck.frontend.unit import UnitWalker


class EventCollector:
    def __init__(self, unit: UnitWalker, macros: MacroIndex, values: ExpressionReader) -> None:
        self.unit = unit
        self.macros = macros
        self.values = values

    def collect(
        self,
        cursor: ci.Cursor,
        node: CfgNode,
        fn: FunctionBuilder,
        *,
        result_used: bool,
        assigned_to: str | None = None,
    ) -> None:
        """Record the calls, stores and dereferences of an expression, in evaluation order."""
        _ExpressionEvents(self, node, fn).visit(cursor, result_used, assigned_to, False, False)

    def nested_statement(self, cursor: ci.Cursor, node: CfgNode, fn: FunctionBuilder) -> None:
        """Statements inside an expression (GNU statement expressions from macros)."""
        for child in child_cursors(cursor):
            if cursor_kind(child) == K.DECL_STMT:
                for decl in child_cursors(child):
                    init = self.unit.initializer(decl) if cursor_kind(decl) == K.VAR_DECL else None
                    if init is not None:
                        self.collect(init, node, fn, result_used=True)
            elif cursor_kind(child).is_expression():
                self.collect(child, node, fn, result_used=True)
            elif cursor_kind(child).is_statement():
                self.nested_statement(child, node, fn)


class _ExpressionEvents:
    """The events of one expression, pyflakes-style: `visit` handles macro uses, then one handler per
    cursor kind. Each handler gets where the expression sits: whether its value is used, the access
    path its value is assigned to, whether it is under `&` (an address, not an access) and whether it
    is written."""

    def __init__(self, collector: EventCollector, node: CfgNode, fn: FunctionBuilder) -> None:
        self.unit = collector.unit
        self.macros = collector.macros
        self.values = collector.values
        self.nested_statement = collector.nested_statement
        self.node = node
        self.fn = fn
        self.macro_stack: list[MacroUse] = []  # the macro uses the expression being visited is inside
        self.seen_macros: set[int] = set()

    def visit(
        self, expr: ci.Cursor, used: bool, target: str | None, under_address: bool, writing: bool
    ) -> None:
        use = self.macros.at(expr)
        if use is not None and use.name in MACRO_CALLS:
            self.node.calls += (self.values.call_site(expr, self.fn, result_used=used, assigned_to=target),)
            return
        handler = _HANDLERS.get(expr._kind_id, _ExpressionEvents.other)
        if use is not None and use.start not in self.seen_macros:
            # Any other macro: its arguments' own macro calls are invisible in the AST.
            self.seen_macros.add(use.start)
            for inner in self.macros.calls_within(use):
                used = self.macros.used_as_value(use, inner)
                self.node.calls += (self.values.text_call(inner, self.fn, result_used=used),)
            self.macro_stack.append(use)
            try:
                handler(self, expr, used, target, under_address, writing)
            finally:
                self.macro_stack.pop()
            return
        handler(self, expr, used, target, under_address, writing)

    # -- events -----------------------------------------------------------------------------
    def add_deref(self, pointer: ci.Cursor, expr: ci.Cursor, writing: bool) -> None:
        value = self.values.value(pointer, self.fn)
        if self.macro_stack and not spelled_as_deref(value, self.macro_stack[-1], self.unit.source):
            return  # the dereference belongs to the macro's own body, not to this code
        accessed = self.values.path_of(strip_casts(expr), self.fn, False)[0]
        self.node.derefs += (Deref(value, self.unit.location(expr), writing, accessed),)

    def add_subscript(self, base: ci.Cursor, index: ci.Cursor, expr: ci.Cursor, writing: bool) -> None:
        array = self.values.value(base, self.fn)
        if self.macro_stack and not spelled_as_deref(array, self.macro_stack[-1], self.unit.source):
            return
        location = self.unit.location(expr)
        self.node.subscripts += (Subscript(array, self.values.value(index, self.fn), location, writing),)

    def pointer_store(self, lhs: ci.Cursor, rhs: ci.Cursor, expr: ci.Cursor, op: str) -> None:
        """`obj->field = fn`: a function stored into a structure's function-pointer field."""
        if op != "=":
            return
        value = strip_casts(rhs)
        if cursor_kind(value) == K.UNARY_OPERATOR and unary_operator(value) == "&":
            value = strip_casts(next(iter(child_cursors(value)), value))
        if cursor_kind(value) != K.DECL_REF_EXPR or value.referenced is None:
            return
        if cursor_kind(value.referenced) != K.FUNCTION_DECL:
            return
        through = _field_of(lhs) or self.unknown_field(lhs)
        if through is not None:
            store = PointerStore(through[0], through[1], value.spelling, self.unit.location(expr))
            self.unit.facts.pointer_stores.append(store)

    def unknown_field(self, lhs: ci.Cursor) -> tuple[str, str] | None:
        """`dev->verb = fn` where the headers' structure has no such field (code written for another
        kernel: ib_device held the RDMA verbs before 5.3): clang keeps only the base, whose type
        still names the structure; the field is the spelling's last."""
        children = child_cursors(lhs)
        recovered = cursor_kind(lhs) == K.UNEXPOSED_EXPR and lhs.type.kind == ci.TypeKind.DEPENDENT
        if not recovered or len(children) != 1:
            return None
        base = children[0].type.get_canonical()
        if base.kind == ci.TypeKind.POINTER:
            base = base.get_pointee().get_canonical()
        spelled = _LAST_FIELD.search(self.unit.text(lhs))
        if base.kind != ci.TypeKind.RECORD or spelled is None:
            return None
        return record_of(base.spelling), spelled.group(1)

    # -- one handler per cursor kind ---------------------------------------------------------
    def unevaluated(
        self, expr: ci.Cursor, used: bool, target: str | None, under: bool, writing: bool
    ) -> None:
        """sizeof/alignof: nothing happens."""

    def call(self, expr: ci.Cursor, used: bool, target: str | None, under: bool, writing: bool) -> None:
        for child in child_cursors(expr)[:1]:
            if cursor_kind(strip_casts(child)) != K.DECL_REF_EXPR:
                self.visit(child, True, None, False, False)  # a call through a computed pointer
        for arg in call_arguments(expr):
            self.visit(arg, True, None, False, False)
        call = self.values.call_site(expr, self.fn, result_used=used, assigned_to=target)
        if call.indirect:
            through = _field_of(next(iter(child_cursors(expr)), None))
            if through is not None:
                call = replace(call, through=f"{through[0]}.{through[1]}")
        self.node.calls += (call,)

    def cast(self, expr: ci.Cursor, used: bool, target: str | None, under: bool, writing: bool) -> None:
        if expr.type.kind == ci.TypeKind.VOID:  # `(void)call()`: the result is discarded
            for child in child_cursors(expr):
                if cursor_kind(child) != K.TYPE_REF:
                    self.visit(child, False, None, under, writing)
            return
        self.transparent(expr, used, target, under, writing)

    def binary(self, expr: ci.Cursor, used: bool, target: str | None, under: bool, writing: bool) -> None:
        op = binary_operator(expr)
        children = child_cursors(expr)
        if op in ASSIGNMENT_OPERATORS and len(children) == 2:
            lhs, rhs = children
            lhs_value = self.values.value(lhs, self.fn)
            self.visit(rhs, True, lhs_value.path if op == "=" else None, False, False)
            self.visit(lhs, True, None, False, True)
            rhs_value = self.values.value(rhs, self.fn)
            if op != "=":  # x op= y reads x too
                rhs_value = Value(
                    text=self.unit.text(expr), names=lhs_value.names + rhs_value.names, calls=rhs_value.calls
                )
            self.node.stores += (Store(lhs_value, rhs_value, self.unit.location(expr), op),)
            self.pointer_store(lhs, rhs, expr, op)
            return
        for child in children:
            # the value of `a, b` is b's: a comma passes on whether its value is used
            self.visit(child, used if op == "," else True, None, False, False)

    def unary(self, expr: ci.Cursor, used: bool, target: str | None, under: bool, writing: bool) -> None:
        op = unary_operator(expr)
        child = next(iter(child_cursors(expr)), None)
        if child is None:
            return
        if op == "&":
            self.visit(child, True, None, True, False)
            return
        if op == "*":
            if not under:
                self.add_deref(child, expr, writing)
            self.visit(child, True, None, False, False)
            return
        if op in ("++", "--", "post++", "post--"):
            target_value = self.values.value(child, self.fn)
            update = Value(text=self.unit.text(expr), names=target_value.names)
            self.node.stores += (
                Store(target_value, update, self.unit.location(expr), op.replace("post", "")),
            )
            self.visit(child, True, None, False, True)
            return
        self.visit(child, True, None, False, False)

    def member(self, expr: ci.Cursor, used: bool, target: str | None, under: bool, writing: bool) -> None:
        children = child_cursors(expr)
        if children:
            base = children[0]
            # p->array only computes an address; p->array[i] reads (see `subscript`)
            if canonical_kind(base) == ci.TypeKind.POINTER and not under and not is_array_type(expr):
                self.add_deref(base, expr, writing)
            self.visit(base, True, None, under, False)

    def subscript(self, expr: ci.Cursor, used: bool, target: str | None, under: bool, writing: bool) -> None:
        children = child_cursors(expr)
        if len(children) != 2:
            return
        base, index = children
        self.add_subscript(base, index, expr, writing)
        stripped = strip_casts(base)
        if not under:
            if canonical_kind(stripped) == ci.TypeKind.POINTER:
                self.add_deref(base, expr, writing)
            elif cursor_kind(stripped) == K.MEMBER_REF_EXPR and is_array_type(stripped):
                owner = next(iter(child_cursors(stripped)), None)
                if owner is not None and canonical_kind(owner) == ci.TypeKind.POINTER:
                    self.add_deref(owner, expr, writing)
        self.visit(base, True, None, under, False)
        self.visit(index, True, None, False, False)

    def transparent(
        self, expr: ci.Cursor, used: bool, target: str | None, under: bool, writing: bool
    ) -> None:
        """Parentheses, implicit and explicit casts: the expression inside is what counts. A call
        clang could not type (the wrong number of arguments for this kernel) is still a call."""
        callee = self.values.recovered_call(expr)
        if callee is not None:
            for arg in child_cursors(expr)[1:]:
                self.visit(arg, True, None, False, False)
            self.node.calls += (
                self.values.recovered_call_site(expr, callee, self.fn, result_used=used, assigned_to=target),
            )
            return
        for child in child_cursors(expr):
            if cursor_kind(child) != K.TYPE_REF:
                self.visit(child, used, target, under, writing)

    def other(self, expr: ci.Cursor, used: bool, target: str | None, under: bool, writing: bool) -> None:
        for child in child_cursors(expr):
            kind = cursor_kind(child)
            if kind.is_statement() and not kind.is_expression():
                self.nested_statement(child, self.node, self.fn)  # a GNU statement expression
            elif kind.is_expression() or kind.is_statement():
                self.visit(child, True, None, False, False)


_LAST_FIELD = re.compile(r"(?:->|\.)\s*([A-Za-z_]\w*)\s*$")


def _field_of(expr: ci.Cursor | None) -> tuple[str, str] | None:
    """(structure type, field) of a member access `x->field` / `x.field`, casts and parentheses
    aside; None for anything else (a variable, a subscript) or a field of an anonymous structure."""
    if expr is None:
        return None
    member = strip_casts(expr)
    if cursor_kind(member) != K.MEMBER_REF_EXPR or member.referenced is None:
        return None
    record = member.referenced.semantic_parent
    name = record.spelling if record is not None else ""
    if not name or " " in name:  # "struct (unnamed at ...)"
        return None
    return name, member.referenced.spelling


_Handler = Callable[[_ExpressionEvents, ci.Cursor, bool, "str | None", bool, bool], None]
_HANDLERS: dict[int, _Handler] = {
    K.CXX_UNARY_EXPR.value: _ExpressionEvents.unevaluated,
    K.CALL_EXPR.value: _ExpressionEvents.call,
    K.CSTYLE_CAST_EXPR.value: _ExpressionEvents.cast,
    K.BINARY_OPERATOR.value: _ExpressionEvents.binary,
    K.COMPOUND_ASSIGNMENT_OPERATOR.value: _ExpressionEvents.binary,
    K.UNARY_OPERATOR.value: _ExpressionEvents.unary,
    K.MEMBER_REF_EXPR.value: _ExpressionEvents.member,
    K.ARRAY_SUBSCRIPT_EXPR.value: _ExpressionEvents.subscript,
    K.PAREN_EXPR.value: _ExpressionEvents.transparent,
    K.UNEXPOSED_EXPR.value: _ExpressionEvents.transparent,
}
