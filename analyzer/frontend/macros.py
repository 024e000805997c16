"""The macro index of the main file: every macro instantiation with its range, so that a cursor that
is exactly a macro use (`get_user(...)`, `FOLL_LONGTERM`) is recognised by name."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import clang.cindex as ci

from gupcheck.frontend.cursors import cursor_extent
from gupcheck.kernel_api.macros import MACRO_CALLS
from gupcheck.model.facts import Value

if TYPE_CHECKING:
    from gupcheck.frontend.unit import UnitWalker


@dataclass
class MacroUse:
    name: str
    start: int
    end: int
    line: int
    column: int


class MacroIndex:
    def __init__(self, unit: UnitWalker) -> None:
        self.unit = unit
        self.uses: dict[int, MacroUse] = {}  # the outermost use at each start offset
        self.ranges: list[MacroUse] = []  # every use, in the order met
        self.names: set[str] = set()  # macros instantiated in the main file
        self._macro_call_starts: list[int] | None = None  # MACRO_CALLS uses by start, for lookups
        self._macro_call_positions: list[int] = []
        self._definitions: dict[str, tuple[list[str], str] | None] = {}  # main-file macros, on first use

    def record(self, cursor: ci.Cursor) -> MacroUse:
        """Index a MACRO_INSTANTIATION cursor of the main file."""
        ext = cursor_extent(cursor)
        end = ext.end
        if cursor.spelling in MACRO_CALLS and end - ext.start == len(cursor.spelling):
            # An object-like alias of a function-like macro (arm64: `#define put_user __put_user`):
            # clang records the name alone; the use is the name and its arguments, as on x86.
            end = _arguments_end(self.unit.source, end) or end
        use = MacroUse(cursor.spelling, ext.start, end, ext.line, ext.column)
        self.names.add(use.name)
        # keep the outermost use at an offset (nested instantiations share the start)
        if use.start not in self.uses or self.uses[use.start].end < use.end:
            self.uses[use.start] = use
        self.ranges.append(use)
        return use

    def at(self, cursor: ci.Cursor) -> MacroUse | None:
        """The macro instantiation that `cursor` is exactly, if any. Only cursors of main-file
        function bodies get here, so offsets are main-file offsets."""
        ext = cursor_extent(cursor)
        use = self.uses.get(ext.start)
        if use is not None and use.end == ext.end:
            return use
        return None

    def spelling(self, cursor: ci.Cursor) -> str | None:
        """The macro name an expression is spelled with (`FOLL_LONGTERM`, `MYDRV_IOC_PIN`)."""
        text = self.unit.text(cursor)
        match = re.fullmatch(r"\(?\s*([A-Za-z_]\w*)\s*\)?", text)
        if match and match.group(1) in self.names:
            return match.group(1)
        return None

    def calls_within(self, outer: MacroUse) -> list[MacroUse]:
        """Outermost MACRO_CALLS instantiations strictly inside another macro's arguments."""
        if self._macro_call_starts is None:
            calls = sorted(
                (use.start, position) for position, use in enumerate(self.ranges) if use.name in MACRO_CALLS
            )
            self._macro_call_starts = [start for start, _ in calls]
            self._macro_call_positions = [position for _, position in calls]
        first = bisect.bisect_right(self._macro_call_starts, outer.start)
        last = bisect.bisect_right(self._macro_call_starts, outer.end)
        found: list[MacroUse] = []
        for position in sorted(self._macro_call_positions[first:last]):  # in the order they were met
            use = self.ranges[position]
            if use.end <= outer.end:
                if not any(f.start <= use.start and use.end <= f.end for f in found):
                    found.append(use)
        return found

    def used_as_value(self, outer: MacroUse, inner: MacroUse) -> bool:
        """Whether the value of a call written in another macro's argument is used. It is not when the
        call is a statement of its own there: followed by `;` in the argument (`put_user(a, p);
        put_user(b, q)`), or the whole argument (or its last statement) where the outer macro, one
        of the main file's own, runs that argument as a statement (`f;` in its body). Whatever
        cannot be read counts as used."""
        span = _argument_span(self.unit.source, outer, inner)
        if span is None:
            return True
        index, start, end = span
        before = self.unit.source[start : inner.start].strip()
        after = self.unit.source[inner.end : end].strip()
        if before and not before.endswith((b";", b"{", b"}")):
            return True  # part of an expression
        if after.startswith(b";"):
            return False
        if after:
            return True
        definition = self._definition(outer.name)
        if definition is None or index >= len(definition[0]):
            return True
        params, body = definition
        uses = list(re.finditer(rf"\b{re.escape(params[index])}\b", body))
        return not uses or not all(_is_statement(body, use.start(), use.end()) for use in uses)

    def _definition(self, name: str) -> tuple[list[str], str] | None:
        """The parameters and body of a function-like macro the main file defines."""
        if name not in self._definitions:
            self._definitions[name] = None
            text = self.unit.source.decode("utf-8", "replace")
            match = re.search(
                rf"^[ \t]*#[ \t]*define[ \t]+{re.escape(name)}\(([^)]*)\)((?:[^\n]*\\\n)*[^\n]*)",
                text,
                re.MULTILINE,
            )
            if match is not None and len(match.group(2)) <= MAX_ARGUMENTS_BYTES:
                params = [param.strip() for param in match.group(1).split(",")]
                self._definitions[name] = (params, match.group(2).replace("\\\n", " "))
        return self._definitions[name]


MAX_ARGUMENTS_BYTES = 65536  # the longest macro argument list (or macro body) looked through


def _argument_span(source: bytes, outer: MacroUse, inner: MacroUse) -> tuple[int, int, int] | None:
    """(index, start, end) of the argument of `outer` that holds `inner`, by top-level commas."""
    open_paren = source.find(b"(", outer.start, outer.end)
    if open_paren < 0 or not open_paren < inner.start < inner.end <= outer.end:
        return None
    depth, index, start = 0, 0, open_paren + 1
    for offset in range(open_paren + 1, min(outer.end, open_paren + MAX_ARGUMENTS_BYTES)):
        char = source[offset : offset + 1]
        if char in (b"(", b"[", b"{"):
            depth += 1
        elif char in (b")", b"]", b"}") and depth > 0:
            depth -= 1
        elif (char == b"," and depth == 0) or char == b")":
            if start <= inner.start and inner.end <= offset:
                return index, start, offset
            index, start = index + 1, offset + 1
    return None


def _is_statement(body: str, start: int, end: int) -> bool:
    """Whether the text at [start, end) of a macro body stands as a statement of its own (`f;`)."""
    before = body[:start].rstrip()
    return (not before or before[-1] in ";{}") and body[end:].lstrip().startswith(";")


def _arguments_end(source: bytes, at: int) -> int | None:
    """The offset after the `)` closing the argument list that opens at `at` (after blanks), or None
    when no `(` follows or it does not close within `MAX_ARGUMENTS_BYTES`."""
    n = len(source)
    i = at
    while i < n and source[i] in b" \t\r\n":
        i += 1
    if i >= n or source[i] != ord("("):
        return None
    depth = 0
    quote = 0
    limit = min(n, i + MAX_ARGUMENTS_BYTES)
    while i < limit:
        c = source[i]
        if quote:
            if c == ord("\\"):
                i += 1
            elif c == quote:
                quote = 0
        elif c in b"\"'":
            quote = c
        elif c == ord("("):
            depth += 1
        elif c == ord(")"):
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def spelled_as_deref(pointer: Value, macro: MacroUse, source: bytes) -> bool:
    """Whether a dereference found inside a macro expansion was written by the caller in the
    macro's arguments (`pr_info("%d", u->len)`), not by the macro's body."""
    base = pointer.path or pointer.base
    if not base:
        return False
    arguments = source[macro.start : macro.end].decode("utf-8", "replace")
    spelled = re.escape(base)
    return re.search(rf"(\*\s*\(?\s*{spelled}\b|\b{spelled}\s*(->|\[))", arguments) is not None
