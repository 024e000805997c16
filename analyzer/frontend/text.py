"""Reading C from its spelling, where the syntax tree has nothing: a macro's arguments, conditions
inside likely()/unlikely(), access paths mentioned in a piece of code."""

from __future__ import annotations

import re

from gupcheck.model.facts import root_of

_C_KEYWORDS = frozenset(
    """auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef union
    unsigned void volatile while _Bool bool __user __iomem __force typeof __typeof__ NULL true false
    u8 u16 u32 u64 s8 s16 s32 s64 __u8 __u16 __u32 __u64 size_t ssize_t loff_t uintptr_t""".split()
)
_PATH_RE = re.compile(r"[A-Za-z_]\w*(?:\s*(?:\.|->)\s*[A-Za-z_]\w*)*")
_WS_RE = re.compile(r"\s+")


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


def matching_paren(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def split_top_level(text: str, op: str) -> list[str]:
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


def declares_user_pointer(declaration: str) -> bool:
    """`char __user *buf` declares a user pointer; `void __user **slot` is a kernel pointer to one."""
    match = re.search(r"\b__user\b\s*((?:\*\s*(?:const\s+|volatile\s+|__restrict\s+)?)+)", declaration)
    return match is not None and match.group(1).count("*") == 1
