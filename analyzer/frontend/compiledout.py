"""Code the preprocessor skipped: pin, uaccess and mmap-export calls in branches the build left out.

A driver's `#ifdef CONFIG_RAPIDIO_DMA_ENGINE` around its pinning code means that, in a tree where the
option is not set, libclang never sees those calls: the rules cannot report what they do. libclang
records the ranges it skipped (`clang_getSkippedRanges`, kept with the detailed preprocessing record);
the Python bindings do not wrap it, so it is registered here as the bindings register their own
functions. Each skipped range of the main file that holds calls the kernel_api tables name (pins,
uaccess, mapping) becomes a `CompiledOut` naming the macro of the directive that decided it.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass

import clang.cindex as ci

from gupcheck.kernel_api import mapping, pins, uaccess
from gupcheck.model.facts import CompiledOut, CompiledOutCall, balanced

# Which calls count, by family: the one home of this knowledge is kernel_api.
FAMILIES: dict[str, str] = {
    **{name: "mmap" for name in mapping.EXPORTS},
    **{name: "uaccess" for name in uaccess.USER_ACCESS},
    **{name: "pin" for name in pins.PIN_APIS},
    **{name: "pin" for name in pins.PIN_APIS_DEFAULT_ARITY},
    **{name: "pin" for name, _argc in pins.PIN_APIS_BY_ARITY},
}

MAX_RANGES = 10_000  # skipped ranges of one file looked at (a generated file could have more)


class _RangeList(ctypes.Structure):
    _fields_ = [("count", ctypes.c_uint), ("ranges", ctypes.POINTER(ci.SourceRange))]


_registered = False


def _lib() -> ctypes.CDLL:
    """libclang with clang_getSkippedRanges and clang_disposeSourceRangeList registered."""
    global _registered
    lib = ci.conf.lib
    if not _registered:
        lib.clang_getSkippedRanges.argtypes = [ci.TranslationUnit, ci.File]
        lib.clang_getSkippedRanges.restype = ctypes.POINTER(_RangeList)
        lib.clang_disposeSourceRangeList.argtypes = [ctypes.POINTER(_RangeList)]
        lib.clang_disposeSourceRangeList.restype = None
        _registered = True
    return lib


def skipped_ranges(tu: ci.TranslationUnit, name: str) -> list[tuple[int, int, int]]:
    """(first line, start offset, end offset) of each range of the file `name` the preprocessor
    skipped, in file order (offsets into the bytes libclang parsed)."""
    try:
        handle = tu.get_file(name)
    except ci.TranslationUnitLoadError:  # the file is not part of the unit
        return []
    lib = _lib()
    found = lib.clang_getSkippedRanges(tu, handle)
    if not found:
        return []
    try:
        ranges = []
        for index in range(min(found.contents.count, MAX_RANGES)):
            extent = found.contents.ranges[index]
            start, end = extent.start, extent.end
            ranges.append((start.line, start.offset, end.offset))
    finally:
        lib.clang_disposeSourceRangeList(found)
    return sorted(ranges)


def compiled_out(tu: ci.TranslationUnit, name: str, source: bytes) -> list[CompiledOut]:
    """The skipped branches of the main file (parsed under `name` from `source`) that hold calls of
    the families in FAMILIES, each with the macro that decided it."""
    ranges = skipped_ranges(tu, name)
    if not ranges:
        return []
    text = _blank(source.decode("latin-1"))  # one character a byte: libclang's offsets index it
    directives: _Directives | None = None
    found = []
    for line, start, end in ranges:
        calls = _calls(text, start, end, line)
        if not calls:
            continue
        if directives is None:
            directives = _Directives(text)
        decided = directives.deciding(line, {first for first, _start, _end in ranges})
        if decided is None:
            continue
        directive, taken = decided
        macro, is_set = _controlling_macro(directive)
        if not macro:  # `#if 0`: switched off on purpose, no option turns it on
            continue
        if taken and is_set is not None:
            is_set = not is_set
        found.append(CompiledOut(macro, is_set, directive.text, taken, line, calls))
    return found


_CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def _calls(text: str, start: int, end: int, first_line: int) -> tuple[CompiledOutCall, ...]:
    """The calls of FAMILIES spelled in text[start:end], with their lines."""
    calls = []
    line, counted = first_line, start
    for match in _CALL.finditer(text, start, end):
        family = FAMILIES.get(match.group(1))
        if family is None:
            continue
        line += text.count("\n", counted, match.start())
        counted = match.start()
        calls.append(CompiledOutCall(family, match.group(1), line))
    return tuple(calls)


_OPENERS = re.compile(r"/\*|//|[\"']")


def _blank(text: str) -> str:
    """`text` with comments and string and character literals replaced by spaces (newlines kept), so
    that offsets and lines stay where they were."""
    out: list[str] = []
    done, n = 0, len(text)
    while (found := _OPENERS.search(text, done)) is not None:
        start = found.start()
        opener = found.group()
        if opener == "/*":
            end = text.find("*/", start + 2)
            end = n if end < 0 else end + 2
        elif opener == "//":
            end = text.find("\n", start)
            end = n if end < 0 else end
        else:
            end = start + 1
            while end < n and text[end] != opener and text[end] != "\n":
                end += 2 if text[end] == "\\" else 1
            end = min(end + 1, n)
        out.append(text[done:start])
        out.append(re.sub(r"[^\n]", " ", text[start:end]))
        done = end
    out.append(text[done:])
    return "".join(out)


@dataclass(frozen=True)
class _Directive:
    line: int
    keyword: str  # "if", "ifdef", "ifndef", "elif", "else", "endif" (also elifdef, elifndef)
    condition: str
    text: str  # normalised: "#ifdef CONFIG_FOO"


_DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|elifdef|elifndef|else|endif)\b(.*)$")
_OPENING = ("if", "ifdef", "ifndef")


class _Directives:
    """The conditional directives of a file, each branch with the chain (#if, #elif..., #else) it
    belongs to."""

    def __init__(self, text: str) -> None:
        self.chain_of: dict[int, list[_Directive]] = {}  # line of a branch's directive -> its chain
        open_chains: list[list[_Directive]] = []
        lines = text.split("\n")
        index = 0
        while index < len(lines):
            first = index
            logical = lines[index]
            while logical.endswith("\\") and index + 1 < len(lines):  # continued directive
                index += 1
                logical = logical[:-1] + " " + lines[index]
            index += 1
            match = _DIRECTIVE.match(logical)
            if match is None:
                continue
            keyword, condition = match.group(1), " ".join(match.group(2).split())
            directive = _Directive(first + 1, keyword, condition, f"#{keyword} {condition}".strip())
            if keyword in _OPENING:
                open_chains.append([directive])
                self.chain_of[directive.line] = open_chains[-1]
            elif keyword == "endif":
                if open_chains:
                    open_chains.pop()
            elif open_chains:
                open_chains[-1].append(directive)
                self.chain_of[directive.line] = open_chains[-1]

    def deciding(self, line: int, skipped_lines: set[int]) -> tuple[_Directive, bool] | None:
        """The directive that decided the branch opening at `line` was skipped, and whether its own
        branch was taken: an earlier branch of the chain that was not skipped, else the branch's own
        test (which was false)."""
        chain = self.chain_of.get(line)
        if chain is None:
            return None
        for directive in chain:
            if directive.line == line:
                return directive, False
            if directive.line not in skipped_lines:
                return directive, True
        return None


_TESTS = ("IS_ENABLED", "IS_BUILTIN", "IS_MODULE", "IS_REACHABLE", "defined")
_ONE_MACRO = re.compile(
    r"^(?P<not>!\s*)?(?:defined\s*\(\s*(?P<a>\w+)\s*\)|defined\s+(?P<b>\w+)"
    r"|(?:IS_ENABLED|IS_BUILTIN|IS_MODULE|IS_REACHABLE)\s*\(\s*(?P<c>\w+)\s*\)|(?P<d>[A-Za-z_]\w*))$"
)
_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")
_NOT_MACROS = frozenset({*_TESTS, "KERNEL_VERSION", "__has_include", "__has_attribute", "__has_builtin"})


def _controlling_macro(directive: _Directive) -> tuple[str, bool | None]:
    """The macro a directive tests, and whether its branch is skipped because the macro is set (True),
    not set (False), or for a longer test (None). ("", None): it tests no macro (`#if 0`)."""
    condition = directive.condition
    if directive.keyword in ("ifdef", "elifdef"):
        return condition.split(" ")[0], False
    if directive.keyword in ("ifndef", "elifndef"):
        return condition.split(" ")[0], True
    if directive.keyword == "else":
        return "", None
    while condition.startswith("(") and condition.endswith(")") and balanced(condition[1:-1]):
        condition = condition[1:-1].strip()
    single = _ONE_MACRO.match(condition)
    if single is not None:
        macro = single.group("a") or single.group("b") or single.group("c") or single.group("d")
        return macro, single.group("not") is not None
    for name in _IDENTIFIER.findall(condition):
        if name not in _NOT_MACROS:
            return name, None
    return "", None
