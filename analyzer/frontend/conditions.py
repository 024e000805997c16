"""Branch conditions as boolean formulas over comparisons (`Condition`), from the syntax tree or, inside
likely()/unlikely(), from their spelling."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import clang.cindex as ci

from gupcheck.frontend.cursors import (
    RELATIONAL_OPERATORS,
    K,
    binary_operator,
    call_arguments,
    child_cursors,
    cursor_kind,
    unary_operator,
)
from gupcheck.frontend.macros import MacroIndex
from gupcheck.frontend.text import matching_paren, split_macro_arguments, split_top_level
from gupcheck.frontend.values import ExpressionReader
from gupcheck.kernel_api.macros import MACRO_CALLS, TRANSPARENT_MACROS
from gupcheck.model.facts import CallSite, Comparison, Condition
from gupcheck.model.findings import SourceLocation

if TYPE_CHECKING:
    from gupcheck.frontend.cfg import FunctionBuilder
    from gupcheck.frontend.unit import UnitWalker


class ConditionReader:
    def __init__(self, unit: UnitWalker, macros: MacroIndex, values: ExpressionReader) -> None:
        self.unit = unit
        self.macros = macros
        self.values = values

    def condition(self, cursor: ci.Cursor, fn: FunctionBuilder) -> Condition:
        use = self.macros.at(cursor)
        if use is not None and use.name in TRANSPARENT_MACROS:
            # The expansion hides the argument's structure: read the condition from its text.
            spelled = split_macro_arguments(self.unit.text(cursor))
            if spelled:
                return self.text_condition(spelled[0], fn, self.unit.location(cursor))
        if use is not None and use.name in MACRO_CALLS:
            macro_call = self.values.call_site(cursor, fn, result_used=True)
            return Condition("atom", atom=Comparison("call", self.values.value(cursor, fn), call=macro_call))
        node = cursor
        if cursor_kind(cursor) in (K.UNEXPOSED_EXPR, K.PAREN_EXPR, K.CSTYLE_CAST_EXPR):
            inner = [c for c in child_cursors(cursor) if cursor_kind(c) != K.TYPE_REF]
            if len(inner) == 1:
                return self.condition(inner[0], fn)
        if cursor_kind(node) == K.CALL_EXPR and self.values.callee_name(node) == "__builtin_expect":
            args = call_arguments(node)
            if args:
                return self.condition(args[0], fn)
        if cursor_kind(node) == K.UNARY_OPERATOR and unary_operator(node) == "!":
            return Condition("not", (self.condition(child_cursors(node)[0], fn),))
        if cursor_kind(node) == K.BINARY_OPERATOR:
            op = binary_operator(node)
            children = child_cursors(node)
            if op in ("&&", "||"):
                # `a && b && c` is one "and" of three, not nested pairs: long chains stay shallow
                kind = "and" if op == "&&" else "or"
                operands: list[Condition] = []
                for child in children[:2]:
                    part = self.condition(child, fn)
                    operands.extend(part.operands if part.op == kind else (part,))
                return Condition(kind, tuple(operands))
            if op in RELATIONAL_OPERATORS:
                return Condition(
                    "atom",
                    atom=Comparison(
                        op, self.values.value(children[0], fn), self.values.value(children[1], fn)
                    ),
                )
        call = self.values.call_site(node, fn, result_used=True) if self.values.is_call(node) else None
        if call is not None:
            return Condition("atom", atom=Comparison("call", self.values.value(node, fn), call=call))
        return Condition("atom", atom=Comparison("value", self.values.value(node, fn)))

    def text_condition(self, text: str, fn: FunctionBuilder | None, location: SourceLocation) -> Condition:
        """A condition read from its spelling, for conditions inside likely()/unlikely()."""
        text = text.strip()
        while text.startswith("(") and matching_paren(text, 0) == len(text) - 1:
            text = text[1:-1].strip()
        for op, name in (("||", "or"), ("&&", "and")):
            parts = split_top_level(text, op)
            if len(parts) > 1:
                return Condition(name, tuple(self.text_condition(p, fn, location) for p in parts))
        if text.startswith("!") and not text.startswith("!="):
            return Condition("not", (self.text_condition(text[1:], fn, location),))
        for op in ("<=", ">=", "==", "!=", "<", ">"):
            parts = split_top_level(text, op)
            if len(parts) == 2:
                return Condition(
                    "atom",
                    atom=Comparison(
                        op, self.values.text_value(parts[0], fn), self.values.text_value(parts[1], fn)
                    ),
                )
        call = re.fullmatch(r"([A-Za-z_]\w*)\s*\((.*)\)", text, re.S)
        if call:
            args = tuple(self.values.text_value(a, fn) for a in split_macro_arguments(text))
            site = CallSite(call.group(1), args, location, via_macro=call.group(1) in MACRO_CALLS)
            return Condition("atom", atom=Comparison("call", self.values.text_value(text, fn), call=site))
        return Condition("atom", atom=Comparison("value", self.values.text_value(text, fn)))
