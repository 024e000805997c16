"""Kbuild and Makefiles read without running make: a driver's own flags and its modules' objects.

`KbuildReader.flags_for(path)` gives the preprocessor flags the driver's Kbuild file (or Makefile)
adds for one source file; `KbuildReader.module_of(path)` / `module_sources(path)` the module that file
is linked into and the sources of its other objects. Nothing here runs make, a shell or a compiler,
and nothing imports libclang.

Which makefile. For ``dir/foo.c`` the object is ``dir/foo.o``. The makefile that lists it is looked
for in ``dir``, then in up to `SEARCH_PARENTS` parent folders (which list it as ``dir/foo.o``), then in
the other folders of ``dir``'s parent (``../dir/foo.o``, a sibling's makefile). A folder's makefile is
its ``Kbuild`` when it has one, else its ``Makefile`` (Kbuild's own precedence), else an autoconf
``Kbuild.in`` (its ``@top_srcdir@``-style words replaced as configure would). The first that lists the
object wins, unless no parent's makefile descends into its folder and a parent's makefile lists the
object too (a backport's top-level Kbuild listing ``drivers/fpga/x.o`` beside an upstream copy of
drivers/fpga/Makefile that Kbuild never reads). A file no makefile lists gets the flags of the nearest
makefile above it that lists some object (``listed`` is then False).

How it is read: as Kbuild reads it, with ``KERNELRELEASE`` set, ``src``/``obj`` the makefile's folder
(relative to the source tree for an in-tree driver, absolute for an external module, as Kbuild 6.1
sets them), ``srctree``/``objtree`` the kernel tree, ``M``/``KBUILD_EXTMOD``/``PWD`` the external
module's top folder, the ``CONFIG_`` values of the tree's ``include/config/auto.conf`` (unset when no
tree is known), ``VERSION``/``PATCHLEVEL``/``SUBLEVEL`` of the tree's Makefile, ``MAKEFILE_LIST``, and
Kbuild's empty ``obj-y``, ``ccflags-y``, ... . The subset of GNU make understood:
``=``, ``:=``, ``::=``, ``+=``, ``?=``, ``!=``, ``override``/``export``/``private``, ``define``/``endef``,
``undefine``, ``$(VAR)``, ``${VAR}``, ``$(VAR:a=b)``, ``ifeq``/``ifneq``/``ifdef``/``ifndef``/``else``/
``endif``, ``include``/``-include``/``sinclude`` (`MAX_INCLUDE_DEPTH` deep, cycles skipped), line
continuations, comments, recipes (skipped), and the functions ``subst patsubst strip findstring filter
filter-out sort word wordlist words firstword lastword dir notdir suffix basename addsuffix addprefix
join wildcard realpath abspath if or and foreach call value origin flavor eval`` and ``shell`` for
``pwd``, ``cd DIR && pwd``, ``uname -r`` (the tree's release), ``dirname``, ``basename`` and a plain
``echo``. Kbuild's helpers ``cc-option`` (its first choice) and ``cc-disable-warning`` and the like
(nothing) need no compiler. Anything else expands to nothing and is counted in ``not_understood``; a
conditional whose test expands such a thing (``ifeq ($(shell grep -c X $(KINC)/linux/y.h),0)``, a
probe of the kernel's headers) takes neither branch. Errors (``$(error ...)``) do not stop the
reading.

Which flags. Kbuild's order: what the makefile and the parents Kbuild descends through to it (a parent
whose makefile names ``folder/``) add to Kbuild's exported ``NOSTDINC_FLAGS`` and in front of
``LINUXINCLUDE`` (`KbuildFlags.first_args`, before the kernel's include folders, where a backport's
``include_next`` shims must be); then what they add after ``LINUXINCLUDE`` and to ``KBUILD_CPPFLAGS``
and ``KBUILD_CFLAGS``; every ``subdir-ccflags-y`` of those parents, outermost first, then the makefile's own
``subdir-ccflags-y``, ``ccflags-y``, ``EXTRA_CFLAGS``, ``CFLAGS_<object>.o``, less ``ccflags-remove-y``
and ``CFLAGS_REMOVE_<object>.o``. Only ``-I``, ``-iquote``, ``-isystem``, ``-idirafter``, ``-D``,
``-U``, ``-include`` and ``-imacros`` are kept. A relative path is taken from the folder Kbuild's
compiler runs in: the kernel's object tree (the top of the source tree for an in-tree driver), then
its source tree (Debian splits the two); a path inside the driver's source tree that only the kernel
tree has is taken from there. An include folder or forced header that does not exist is left out and
named in ``notes`` (a forced include clang cannot find would stop the parse).

Limits (documented in the README): variables given on make's command line or exported by an outer
make (``make -C KDIR M=... FOO=bar``, the driver's own top-level Makefile) are not known;
``$(shell ...)`` beyond the forms above is empty; target-specific variables are ignored.

Everything is bounded: the makefiles evaluated per run (`CACHE_SIZE`, least recently used first),
the folders searched for one object (`MAX_CANDIDATES`), the lines (`MAX_LINES`) and expansions
(`MAX_STEPS`) of one evaluation, the depth of variable references (`MAX_EXPANSION_DEPTH`), the length
of a value (`MAX_VALUE_CHARS`), ``$(wildcard)`` results (`MAX_WILDCARD`); a cut is named in ``notes``.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gupcheck.frontend.discovery import read_regular_file

if TYPE_CHECKING:
    from gupcheck.frontend.buildconfig import KernelTree

MAX_INCLUDE_DEPTH = 8  # makefiles including makefiles
MAX_MAKEFILE_BYTES = 1 << 20  # read of one makefile
MAX_LINES = 20_000  # logical lines one evaluation processes (its includes and $(eval)s too)
MAX_STEPS = 200_000  # variable references and function calls one evaluation expands
MAX_EXPANSION_DEPTH = 64  # nested references (a variable that refers to itself ends here)
MAX_VALUE_CHARS = 1 << 20  # one expanded value
MAX_WILDCARD = 4096  # names one $(wildcard) returns
SEARCH_PARENTS = 8  # parent folders whose makefiles may list a file's object
SEARCH_SIBLINGS = 64  # sibling folders looked at (a sibling's makefile lists ../dir/foo.o)
MAX_CANDIDATES = 48  # makefiles evaluated looking for one object
DESCENT_DEPTH = 12  # parent folders followed for subdir-ccflags-y
CACHE_SIZE = 256  # evaluated makefiles kept per reader
LOCATED_SIZE = 65_536  # files whose makefile is remembered per reader (then forgotten all at once)
_ROOT_DEPTH = 16  # parent folders looked at for a kernel source tree

# Kbuild's top-level folders: a driver below one of them, in a tree whose folder holds the kernel's
# Kconfig for it, is in-tree code (src is then relative to that tree, as Kbuild sets it).
_KERNEL_TOP_DIRS = frozenset(
    "drivers sound net fs arch block crypto lib mm kernel security virt samples ipc io_uring init "
    "certs usr rust".split()
)
# Kbuild's variables a makefile starts with (scripts/Makefile.build: "do not inherit any value").
_KBUILD_RESETS = (
    "obj-y obj-m lib-y lib-m always-y always-m targets subdir-y subdir-m EXTRA_AFLAGS EXTRA_CFLAGS "
    "EXTRA_CPPFLAGS EXTRA_LDFLAGS asflags-y ccflags-y rustflags-y cppflags-y ldflags-y "
    "subdir-asflags-y subdir-ccflags-y"
).split()
# Kbuild's helpers (scripts/Kbuild.include, Makefile.compiler): they only ask the compiler which
# options it takes. cc-option gives its first choice; the others give nothing a preprocessor needs.
_KBUILD_HELPERS = frozenset(
    "cc-option cc-option-yn cc-disable-warning cc-ifversion cc-min-version gcc-min-version "
    "clang-min-version cc-cross-prefix ld-option ld-ifversion as-option as-instr rustc-option "
    "cc-option-align cc-version cc-fullversion try-run".split()
)
_FIRST_CHOICE_HELPERS = frozenset({"cc-option", "as-option"})
_NOT_IMPLEMENTED = frozenset({"file", "guile", "let", "intcmp"})
_CONDITIONALS = frozenset({"ifeq", "ifneq", "ifdef", "ifndef"})
# Variables whose words are not objects, although their names look like a composite's.
_NOT_OBJECT_LISTS = (
    "ccflags",
    "subdir-ccflags",
    "asflags",
    "subdir-asflags",
    "ldflags",
    "cppflags",
    "rustflags",
    "always",
    "extra",
    "hostprogs",
    "userprogs",
    "targets",
    "clean-files",
    "subdir-",
    "CFLAGS_",
    "AFLAGS_",
    "header-test",
)
_PATH_OPTIONS = ("-include", "-imacros", "-isystem", "-iquote", "-idirafter")
# Kbuild's exported flags a makefile may change for its folder and those below: NOSTDINC_FLAGS and
# LINUXINCLUDE come before the kernel's include folders (a backport's include_next shims), the others
# after. LINUXINCLUDE starts as this word, standing for the kernel's own folders.
_LINUXINCLUDE = "__gupcheck_LINUXINCLUDE__"
_EXPORTED_FLAGS = ("NOSTDINC_FLAGS", "LINUXINCLUDE", "KBUILD_CPPFLAGS", "KBUILD_CFLAGS")
_AUTOCONF_WORD = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)@")
# What a construct not understood expands to: a character no makefile holds, carried along by the
# text functions, so that a test comparing it takes neither branch and a flag or object holding it is
# left out (``DEB_API := $(shell ./abi.sh)`` then ``ifneq ($(DEB_API),0)`` / ``-DAPI=$(DEB_API)``).
_UNKNOWN = "\x00"


class _Budget(Exception):
    """An evaluation went past one of its budgets: what was read so far stands."""


@dataclass
class _Var:
    value: str
    recursive: bool
    origin: str = "file"


@dataclass(frozen=True)
class _Context:
    """Where Kbuild stands when it reads a makefile of `folder`."""

    folder: str
    src: str  # $(src) and $(obj): relative to srctree in-tree, absolute for an external module
    srctree: str
    objtree: str
    cwd: str  # the folder make runs in: relative paths start here
    module_root: str  # M / KBUILD_EXTMOD / PWD of an external module; "" in-tree
    in_tree: bool
    alternatives: tuple[tuple[str, str], ...] = ()  # (prefix, replacement) for paths that do not exist


# ---------------------------------------------------------------------------------------------------
# Text: logical lines, comments, references


def _logical_lines(text: str) -> list[str]:
    """The lines of a makefile with backslash-newline continuations joined by one space."""
    raw = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(raw):
        line = raw[i].rstrip("\r")
        while _continued(line) and i + 1 < len(raw):
            i += 1
            line = line[:-1].rstrip() + " " + raw[i].rstrip("\r").lstrip()
        if _continued(line):
            line = line[:-1]
        out.append(line)
        i += 1
    return out


def _continued(line: str) -> bool:
    n = len(line) - len(line.rstrip("\\"))
    return n % 2 == 1


def _strip_comment(line: str) -> str:
    """The line without its comment: a '#' outside variable references and function calls, unless
    escaped as '\\#' (which stands for '#')."""
    out: list[str] = []
    depth = 0
    i = 0
    n = len(line)
    while i < n:
        ch = line[i]
        if ch == "\\" and i + 1 < n and line[i + 1] == "#":
            out.append("#")
            i += 2
            continue
        if ch == "$" and i + 1 < n and line[i + 1] in "({":
            depth += 1
            out.append(line[i : i + 2])
            i += 2
            continue
        if depth and ch in ")}":
            depth -= 1
        elif depth and ch in "({":
            depth += 1
        elif ch == "#" and not depth:
            break
        out.append(ch)
        i += 1
    return "".join(out)


def _matching(text: str, start: int) -> int:
    """The index of the bracket closing the one at `start` (same kind counted), or -1."""
    open_ch = text[start]
    close_ch = ")" if open_ch == "(" else "}"
    depth = 0
    for k in range(start, len(text)):
        ch = text[k]
        if ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return k
    return -1


def _split_args(text: str, limit: int) -> list[str]:
    """A function's arguments: split at commas outside brackets; past `limit` arguments (0: none)
    the commas belong to the last one."""
    args: list[str] = []
    depth = 0
    start = 0
    for k, ch in enumerate(text):
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        elif ch == "," and depth == 0 and (limit == 0 or len(args) < limit - 1):
            args.append(text[start:k])
            start = k + 1
    args.append(text[start:])
    return args


def _top_level(text: str, chars: str) -> int:
    """The index of the first of `chars` outside variable references, or -1."""
    depth = 0
    k = 0
    n = len(text)
    while k < n:
        ch = text[k]
        if ch == "$" and k + 1 < n and text[k + 1] in "({":
            depth += 1
            k += 2
            continue
        if depth and ch in "({":
            depth += 1
        elif depth and ch in ")}":
            depth -= 1
        elif not depth and ch in chars:
            return k
        k += 1
    return -1


def _pattern_match(pattern: str, word: str) -> str | None:
    """The stem `word` matches `pattern` with (a '%' in the pattern), or None."""
    pct = pattern.find("%")
    if pct < 0:
        return "" if pattern == word else None
    head, tail = pattern[:pct], pattern[pct + 1 :]
    if len(word) >= len(head) + len(tail) and word.startswith(head) and word.endswith(tail):
        return word[len(head) : len(word) - len(tail)]
    return None


def _patsubst(pattern: str, replacement: str, text: str) -> str:
    out = []
    for word in text.split():
        stem = _pattern_match(pattern, word)
        if stem is None:
            out.append(word)
        elif "%" in replacement:
            out.append(replacement.replace("%", stem, 1))
        else:
            out.append(replacement)
    return " ".join(out)


def _split_word(text: str) -> tuple[str, str]:
    parts = text.split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


def _eq_args(rest: str) -> tuple[str, str] | None:
    """The two arguments of ifeq/ifneq: ``(a,b)``, ``"a" "b"`` or ``'a' 'b'``."""
    rest = rest.strip()
    if rest.startswith("("):
        end = _matching(rest, 0)
        if end < 0:
            return None
        inner = rest[1:end]
        comma = _top_level(inner, ",")
        if comma < 0:
            return None
        return inner[:comma].strip(), inner[comma + 1 :].strip()
    m = re.fullmatch(r"""(["'])(.*?)\1\s+(["'])(.*?)\3""", rest)
    if m:
        return m.group(2), m.group(4)
    return None


# ---------------------------------------------------------------------------------------------------
# One evaluation


class _Make:
    """The state of make reading one makefile (and what it includes)."""

    def __init__(self, base: dict[str, _Var], scope: dict[str, _Var], cwd: str, release: str) -> None:
        self.base = base  # the kernel tree's variables, shared by every evaluation: never written
        self.scope = scope  # this makefile's src, obj, srctree, ...: never written
        self.vars: dict[str, _Var] = {}  # what the makefile sets
        self.cwd = cwd
        self.release = release
        self.unknown: Counter[str] = Counter()
        self.notes: list[str] = []
        self.read: list[str] = []
        self.stack: list[str] = []
        self.lines = 0
        self.steps = 0
        self.skip_prefixes: tuple[str, ...] = ()  # Kbuild's own makefiles: their effect is modelled

    # variables

    def lookup(self, name: str) -> _Var | None:
        var = self.vars.get(name)
        if var is None:
            var = self.scope.get(name)
        if var is None and name == "MAKEFILE_LIST":
            return _Var(" ".join(self.read), False)
        return var if var is not None else self.base.get(name)

    def value(self, name: str, depth: int = 0) -> str:
        var = self.lookup(name)
        if var is None:
            return ""
        return self.expand(var.value, depth + 1) if var.recursive else var.value

    def words(self, name: str) -> list[str]:
        return self.value(name).split()

    def local_names(self) -> list[str]:
        return list(self.vars)

    def assign(self, name: str, op: str, value: str) -> None:
        if op == "=":
            self.vars[name] = _Var(value, True)
        elif op in (":=", "::=", ":::="):
            self.vars[name] = _Var(self.expand(value), False)
        elif op == "?=":
            if self.lookup(name) is None:
                self.vars[name] = _Var(value, True)
        elif op == "!=":
            self.vars[name] = _Var(self.shell(self.expand(value)), False)
        elif op == "+=":
            var = self.lookup(name)
            if var is None:
                self.vars[name] = _Var(value, True)
                return
            if name not in self.vars:  # Kbuild's or the tree's variable: this makefile's own copy
                var = self.vars[name] = _Var(var.value, var.recursive, var.origin)
            added = value if var.recursive else self.expand(value)
            var.value = f"{var.value} {added}" if var.value else added
            if len(var.value) > MAX_VALUE_CHARS:
                raise _Budget(f"the value of {name} grew past {MAX_VALUE_CHARS} characters")

    # expansion

    def expand(self, text: str, depth: int = 0) -> str:
        if "$" not in text:
            return text
        if depth > MAX_EXPANSION_DEPTH:
            self.unknown["variable references nested too deep (a variable refers to itself?)"] += 1
            return _UNKNOWN
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            j = text.find("$", i)
            if j < 0:
                out.append(text[i:])
                break
            out.append(text[i:j])
            if j + 1 >= n:
                break
            ch = text[j + 1]
            if ch == "$":
                out.append("$")
                i = j + 2
            elif ch in "({":
                end = _matching(text, j + 1)
                if end < 0:
                    self.unknown["unterminated variable reference"] += 1
                    out.append(_UNKNOWN)
                    break
                out.append(self.reference(text[j + 2 : end], depth))
                i = end + 1
            else:
                out.append(self.value(ch, depth))
                i = j + 2
        result = "".join(out)
        if len(result) > MAX_VALUE_CHARS:
            raise _Budget(f"an expanded value grew past {MAX_VALUE_CHARS} characters")
        return result

    def reference(self, body: str, depth: int) -> str:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Budget(f"more than {MAX_STEPS} variable references and function calls")
        m = re.match(r"([a-z][a-z-]*)[ \t]", body)
        if m and (m.group(1) in _FUNCTIONS or m.group(1) in _NOT_IMPLEMENTED):
            name = m.group(1)
            if name in _NOT_IMPLEMENTED:
                self.unknown[f"$({name} ...)"] += 1
                return _UNKNOWN
            limit, function = _FUNCTIONS[name]
            args = _split_args(body[m.end() :].lstrip(" \t"), limit)
            return function(self, args, depth + 1)
        colon = _top_level(body, ":")
        if colon >= 0 and "=" in body[colon:]:  # a substitution reference $(VAR:a=b)
            rest = body[colon + 1 :]
            eq = _top_level(rest, "=")
            name = self.expand(body[:colon], depth + 1)
            frm, to = self.expand(rest[:eq], depth + 1), self.expand(rest[eq + 1 :], depth + 1)
            if "%" not in frm:
                frm, to = "%" + frm, "%" + to
            return _patsubst(frm, to, self.value(name, depth))
        return self.value(self.expand(body, depth + 1), depth)

    def shell(self, command: str) -> str:
        """$(shell COMMAND) for the commands make files use to name folders, without a shell."""
        cmd = command.strip()
        if _UNKNOWN in cmd:
            self.unknown[f"$(shell {cmd[:60]})".replace(_UNKNOWN, "?")] += 1
            return _UNKNOWN
        if cmd in ("pwd", "pwd -L", "pwd -P"):
            return self.cwd
        m = re.fullmatch(r"cd\s+(\S+)\s*(?:&&|;)\s*pwd(?:\s+-[LP])?\s*;?", cmd)
        if m:
            target = os.path.normpath(os.path.join(self.cwd, m.group(1).strip("'\"")))
            return target if os.path.isdir(target) else ""
        if re.fullmatch(r"uname\s+-r", cmd) and self.release:
            return self.release
        m = re.fullmatch(r"(dirname|basename)((?:\s+[^\s;&|`$<>()'\"\\*?]+)+)", cmd)
        if m:
            names = m.group(2).split()
            if m.group(1) == "dirname":
                return " ".join(os.path.dirname(n.rstrip("/")) or "." for n in names)
            if len(names) <= 2:
                base = os.path.basename(names[0].rstrip("/")) or "/"
                if len(names) == 2 and base.endswith(names[1]) and base != names[1]:
                    base = base[: -len(names[1])]
                return base
        m = re.fullmatch(r"echo\s+([^;&|`$<>()'\"\\*?]*)", cmd)
        if m:
            return " ".join(m.group(1).split())
        self.unknown[f"$(shell {cmd[:60]})".replace(_UNKNOWN, "?")] += 1
        return _UNKNOWN

    # statements

    def process(self, text: str, path: str, depth: int) -> None:
        """Read the statements of `text` (a makefile, or what $(eval) gives)."""
        conds: list[list[bool]] = []  # [active, a branch was taken, the enclosing block is active]
        define: list[str] | None = None
        define_head = ("", "")
        define_depth = 0
        in_recipe = False
        for raw in _logical_lines(text):
            self.lines += 1
            if self.lines > MAX_LINES:
                raise _Budget(f"more than {MAX_LINES} lines")
            if define is not None:
                word = raw.strip().split(None, 1)[0] if raw.strip() else ""
                if word == "define":
                    define_depth += 1
                elif word == "endef":
                    define_depth -= 1
                    if define_depth == 0:
                        if define_head[0] and all(c[0] for c in conds):
                            self.assign(define_head[0], define_head[1], "\n".join(define))
                        define = None
                        continue
                define.append(raw)
                continue
            tab = raw.startswith("\t")
            line = _strip_comment(raw)
            stripped = line.strip()
            if not stripped:
                continue
            word, rest = _split_word(stripped)
            if word in _CONDITIONALS or word in ("else", "endif"):
                self.conditional(conds, word, rest, path)
                continue
            if tab and in_recipe:
                continue  # a recipe line
            active = all(c[0] for c in conds)
            if word == "define":
                define, define_depth = [], 1
                define_head = self.define_head(rest) if active else ("", "")
                continue
            if not active:
                continue
            in_recipe = self.statement(stripped, path, depth)
        if define is not None:
            self.notes.append(f"{path}: 'define' without 'endef'")
        if conds:
            self.notes.append(f"{path}: {len(conds)} conditional(s) without 'endif'")

    def conditional(self, conds: list[list[bool]], word: str, rest: str, path: str) -> None:
        """ifeq/ifneq/ifdef/ifndef/else/endif. A block is [active, a branch was taken, the enclosing
        block is active]; a test that depends on something not understood takes no branch at all."""
        if word in _CONDITIONALS:
            enclosing = all(c[0] for c in conds)
            value = self.condition(word, rest) if enclosing else False
            conds.append([value is True, value is not False, enclosing])
        elif not conds:
            self.notes.append(f"{path}: '{word}' without a conditional")
        elif word == "endif":
            conds.pop()
        else:  # else [ifeq ...]
            top = conds[-1]
            inner, inner_rest = _split_word(rest)
            if top[1] or not top[2]:
                top[0] = False
            elif inner in _CONDITIONALS:
                value = self.condition(inner, inner_rest)
                top[0], top[1] = value is True, value is not False
            else:
                top[0] = top[1] = True

    def condition(self, word: str, rest: str) -> bool | None:
        """A test's outcome; None when it expands something not understood (a $(shell grep ...) that
        probes the kernel's headers, say): then neither branch is read."""
        if word in ("ifdef", "ifndef"):
            name = self.expand(rest).strip()
            var = self.lookup(name)
            if _UNKNOWN in name or (var is not None and _UNKNOWN in var.value):
                self.unknown[f"{word} {rest[:60]}: neither branch read"] += 1
                return None
            defined = var is not None and var.value != ""
            return defined if word == "ifdef" else not defined
        args = _eq_args(rest)
        if args is None:
            self.unknown[f"{word} {rest[:60]}"] += 1
            return None
        left, right = self.expand(args[0]), self.expand(args[1])
        if _UNKNOWN in left or _UNKNOWN in right:
            self.unknown[f"{word} {rest[:60]}: neither branch read"] += 1
            return None
        return (left == right) == (word == "ifeq")

    def define_head(self, rest: str) -> tuple[str, str]:
        m = re.fullmatch(r"(.*?)\s*(=|:=|::=|:::=|\+=|\?=)?\s*", rest)
        name = self.expand(m.group(1) if m else rest).strip()
        return name, (m.group(2) if m and m.group(2) else "=")

    def statement(self, line: str, path: str, depth: int) -> bool:
        """One statement in an active block; True when it is a rule (its recipe follows)."""
        word, rest = _split_word(line)
        if word in ("include", "-include", "sinclude"):
            for name in self.expand(rest).split():
                if _UNKNOWN in name:
                    self.notes.append(f"{path}: include {rest.strip()[:60]}: a name not understood")
                    continue
                self.include(name, path, depth, optional=word != "include")
            return False
        exported = False
        while word in ("override", "export", "private", "unexport"):
            if word == "unexport":
                return False
            exported = exported or word == "export"
            line = rest
            word, rest = _split_word(line)
        if not line or word == "vpath":
            return False
        if word == "undefine":
            self.vars.pop(self.expand(rest).strip(), None)
            return False
        at = _top_level(line, ":=")
        if at >= 0 and (line[at] == "=" or line.startswith((":=", "::=", ":::="), at)):
            if line[at] == "=":
                op_start = at - 1 if at > 0 and line[at - 1] in "+?!" else at
                op = line[op_start : at + 1]
            else:
                op_start = at
                op = next(o for o in (":::=", "::=", ":=") if line.startswith(o, at))
            name = self.expand(line[:op_start]).strip()
            if not name or any(c.isspace() for c in name) or _UNKNOWN in name:
                self.unknown[f"assignment: {line[:60]}"] += 1
                return False
            self.assign(name, op, line[op_start + len(op) :].lstrip())
            return False
        if at >= 0:
            return True  # a rule: its target-specific variables and recipe are not read
        if not exported and self.expand(line).replace(_UNKNOWN, "").strip():  # $(info), $(eval)...
            self.unknown[f"line: {line[:60]}"] += 1
        return False

    def include(self, name: str, path: str, depth: int, *, optional: bool) -> None:
        if os.path.isabs(name):
            candidates = [name]
        else:
            candidates = [os.path.join(self.cwd, name), os.path.join(os.path.dirname(path), name)]
        found = next((os.path.normpath(c) for c in candidates if os.path.isfile(c)), None)
        if found is None:
            if not optional:
                self.notes.append(f"{path}: include {name}: no such file")
            return
        if self.skip_prefixes and found.startswith(self.skip_prefixes):
            return
        real = os.path.realpath(found)
        if real in self.stack:
            self.notes.append(f"{path}: include {name}: an include cycle, not read again")
            return
        if depth + 1 > MAX_INCLUDE_DEPTH:
            self.notes.append(f"{path}: include {name}: more than {MAX_INCLUDE_DEPTH} includes deep")
            return
        self.read_file(found, depth + 1)

    def read_file(self, path: str, depth: int, text: str | None = None) -> None:
        if text is None:
            text = _read_text(path)
            if text is None:
                self.notes.append(f"{path}: cannot read")
                return
        self.read.append(path)
        self.stack.append(os.path.realpath(path))
        try:
            self.process(text, path, depth)
        finally:
            self.stack.pop()


def _read_text(path: str) -> str | None:
    try:  # a FIFO named Makefile is not read: it could block
        return read_regular_file(path, MAX_MAKEFILE_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------------
# Functions: (argument limit, implementation); arguments arrive unexpanded


_Function = Callable[[_Make, list[str], int], str]


def _words_fn(fn: Callable[[_Make, list[str]], object]) -> _Function:
    """A function of expanded arguments."""

    def call(make: _Make, args: list[str], depth: int) -> str:
        return str(fn(make, [make.expand(a, depth) for a in args]))

    return call


def _fn_subst(make: _Make, a: list[str]) -> str:
    if len(a) < 3 or not a[0]:
        return a[-1] if a else ""
    return a[2].replace(a[0], a[1])


def _fn_patsubst(make: _Make, a: list[str]) -> str:
    return _patsubst(a[0], a[1], a[2]) if len(a) >= 3 else ""


def _fn_filter(make: _Make, a: list[str], keep: bool = True) -> str:
    if len(a) < 2:
        return ""
    patterns = a[0].split()
    return " ".join(
        w for w in a[1].split() if any(_pattern_match(p, w) is not None for p in patterns) == keep
    )


def _number(make: _Make, text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        make.unknown[f"not a number: {text.strip()[:30]}"] += 1
        return None


def _fn_word(make: _Make, a: list[str]) -> str:
    n = _number(make, a[0]) if a else None
    words = a[1].split() if len(a) > 1 else []
    return words[n - 1] if n is not None and 0 < n <= len(words) else ""


def _fn_wordlist(make: _Make, a: list[str]) -> str:
    if len(a) < 3:
        return ""
    start, end = _number(make, a[0]), _number(make, a[1])
    if start is None or end is None or start < 1:
        return ""
    return " ".join(a[2].split()[start - 1 : end])


def _fn_dir(make: _Make, a: list[str]) -> str:
    return " ".join(w[: w.rfind("/") + 1] if "/" in w else "./" for w in a[0].split())


def _fn_notdir(make: _Make, a: list[str]) -> str:
    return " ".join(w[w.rfind("/") + 1 :] for w in a[0].split())


def _suffix_at(word: str) -> int:
    dot = word.rfind(".")
    return dot if dot > word.rfind("/") else -1


def _fn_suffix(make: _Make, a: list[str]) -> str:
    return " ".join(w[_suffix_at(w) :] for w in a[0].split() if _suffix_at(w) >= 0)


def _fn_basename(make: _Make, a: list[str]) -> str:
    return " ".join(w[: _suffix_at(w)] if _suffix_at(w) >= 0 else w for w in a[0].split())


def _fn_join(make: _Make, a: list[str]) -> str:
    left, right = a[0].split(), (a[1].split() if len(a) > 1 else [])
    n = max(len(left), len(right))
    left += [""] * (n - len(left))
    right += [""] * (n - len(right))
    return " ".join(x + y for x, y in zip(left, right, strict=True))


def _fn_wildcard(make: _Make, a: list[str]) -> str:
    out: list[str] = []
    for pattern in a[0].split():
        if _UNKNOWN in pattern:
            out.append(_UNKNOWN)
            continue
        if os.path.isabs(pattern):
            found = sorted(glob.glob(pattern))
        else:
            found = sorted(glob.glob(pattern, root_dir=make.cwd))
        out.extend(found)
        if len(out) > MAX_WILDCARD:
            make.notes.append(f"$(wildcard {pattern}): more than {MAX_WILDCARD} names, cut")
            del out[MAX_WILDCARD:]
            break
    return " ".join(out)


def _fn_realpath(make: _Make, a: list[str]) -> str:
    out = []
    for w in a[0].split():
        p = os.path.join(make.cwd, w)
        if _UNKNOWN in w:
            out.append(_UNKNOWN)
        elif os.path.exists(p):
            out.append(os.path.realpath(p))
    return " ".join(out)


def _fn_abspath(make: _Make, a: list[str]) -> str:
    return " ".join(os.path.normpath(os.path.join(make.cwd, w)) for w in a[0].split())


def _fn_origin(make: _Make, a: list[str]) -> str:
    var = make.lookup(a[0].strip())
    return "undefined" if var is None else var.origin


def _fn_flavor(make: _Make, a: list[str]) -> str:
    var = make.lookup(a[0].strip())
    return "undefined" if var is None else ("recursive" if var.recursive else "simple")


def _fn_value(make: _Make, a: list[str]) -> str:
    var = make.lookup(a[0].strip())
    return var.value if var is not None else ""


def _fn_if(make: _Make, args: list[str], depth: int) -> str:
    test = make.expand(args[0], depth).strip()
    if _UNKNOWN in test:
        return _UNKNOWN
    if test:
        return make.expand(args[1], depth) if len(args) > 1 else ""
    return make.expand(args[2], depth) if len(args) > 2 else ""


def _fn_or(make: _Make, args: list[str], depth: int) -> str:
    for arg in args:
        value = make.expand(arg, depth).strip()
        if value:
            return value  # an unknown value first: unknown as well
    return ""


def _fn_and(make: _Make, args: list[str], depth: int) -> str:
    value = ""
    for arg in args:
        value = make.expand(arg, depth).strip()
        if not value:
            return ""
    return value


def _with_vars(make: _Make, values: dict[str, str], body: str, depth: int) -> str:
    saved = {name: make.vars.get(name) for name in values}
    try:
        for name, value in values.items():
            make.vars[name] = _Var(value, False, "automatic")
        return make.expand(body, depth)
    finally:
        for name, old in saved.items():
            if old is None:
                make.vars.pop(name, None)
            else:
                make.vars[name] = old


def _fn_foreach(make: _Make, args: list[str], depth: int) -> str:
    if len(args) < 3:
        return ""
    name = make.expand(args[0], depth).strip()
    return " ".join(
        _with_vars(make, {name: word}, args[2], depth) for word in make.expand(args[1], depth).split()
    )


def _fn_call(make: _Make, args: list[str], depth: int) -> str:
    values = [make.expand(a, depth) for a in args]
    name = values[0].strip()
    var = make.lookup(name)
    if var is None:
        if name in _FIRST_CHOICE_HELPERS:
            return values[1].strip() if len(values) > 1 else ""
        if name not in _KBUILD_HELPERS:
            make.unknown[f"$(call {name[:40]})".replace(_UNKNOWN, "?")] += 1
            return _UNKNOWN
        return ""
    numbered = {str(n): "" for n in range(10)}
    numbered.update({str(n): v for n, v in enumerate(values)})
    numbered["0"] = name
    return _with_vars(make, numbered, var.value, depth) if var.recursive else var.value


def _fn_shell(make: _Make, args: list[str], depth: int) -> str:
    return make.shell(make.expand(",".join(args), depth))


def _fn_message(make: _Make, args: list[str], depth: int) -> str:
    return ""  # $(error), $(warning), $(info): nothing to read; an error does not stop the reading


def _fn_eval(make: _Make, args: list[str], depth: int) -> str:
    text = make.expand(",".join(args), depth)
    make.process(text, "$(eval)", len(make.stack))
    return ""


_FUNCTIONS: dict[str, tuple[int, _Function]] = {
    "subst": (3, _words_fn(_fn_subst)),
    "patsubst": (3, _words_fn(_fn_patsubst)),
    "strip": (1, _words_fn(lambda m, a: " ".join(a[0].split()))),
    "findstring": (2, _words_fn(lambda m, a: a[0] if len(a) > 1 and a[0] in a[1] else "")),
    "filter": (2, _words_fn(_fn_filter)),
    "filter-out": (2, _words_fn(lambda m, a: _fn_filter(m, a, keep=False))),
    "sort": (1, _words_fn(lambda m, a: " ".join(sorted(set(a[0].split()))))),
    "word": (2, _words_fn(_fn_word)),
    "wordlist": (3, _words_fn(_fn_wordlist)),
    "words": (1, _words_fn(lambda m, a: len(a[0].split()))),
    "firstword": (1, _words_fn(lambda m, a: (a[0].split() or [""])[0])),
    "lastword": (1, _words_fn(lambda m, a: (a[0].split() or [""])[-1])),
    "dir": (1, _words_fn(_fn_dir)),
    "notdir": (1, _words_fn(_fn_notdir)),
    "suffix": (1, _words_fn(_fn_suffix)),
    "basename": (1, _words_fn(_fn_basename)),
    "addsuffix": (2, _words_fn(lambda m, a: " ".join(w + a[0] for w in a[1].split()) if len(a) > 1 else "")),
    "addprefix": (2, _words_fn(lambda m, a: " ".join(a[0] + w for w in a[1].split()) if len(a) > 1 else "")),
    "join": (2, _words_fn(_fn_join)),
    "wildcard": (1, _words_fn(_fn_wildcard)),
    "realpath": (1, _words_fn(_fn_realpath)),
    "abspath": (1, _words_fn(_fn_abspath)),
    "origin": (1, _words_fn(_fn_origin)),
    "flavor": (1, _words_fn(_fn_flavor)),
    "value": (1, _words_fn(_fn_value)),
    "if": (3, _fn_if),
    "or": (0, _fn_or),
    "and": (0, _fn_and),
    "foreach": (3, _fn_foreach),
    "call": (0, _fn_call),
    "shell": (1, _fn_shell),
    "error": (1, _fn_message),
    "warning": (1, _fn_message),
    "info": (1, _fn_message),
    "eval": (1, _fn_eval),
}


# ---------------------------------------------------------------------------------------------------
# The reader


@dataclass(frozen=True)
class KbuildFlags:
    """What a driver's makefiles add for one source file."""

    args: tuple[str, ...] = ()  # clang arguments: -I/-iquote/-isystem/-idirafter DIR, -D, -U, -include
    first_args: tuple[str, ...] = ()  # the same, that go before the kernel's include folders
    makefile: str | None = None  # the makefile whose flags these are
    object: str = ""  # the object as that makefile names it ("pci/foo.o")
    listed: bool = False  # False: no makefile lists the object; the nearest makefile's flags
    makefiles: tuple[str, ...] = ()  # every makefile read for them (includes, parents)
    not_understood: tuple[str, ...] = ()  # constructs read as empty, with their counts
    notes: tuple[str, ...] = ()  # budgets cut, includes not found, folders that do not exist

    def around(self, base: list[str]) -> list[str]:
        """`base` (the tree's or the model's arguments) with these flags where Kbuild puts them:
        NOSTDINC_FLAGS and a LINUXINCLUDE prefix before, everything else after."""
        return [*self.first_args, *base, *self.args]


@dataclass(frozen=True)
class KbuildModule:
    """A module (or built-in object) and the sources of its objects, as its makefile lists them."""

    name: str  # "i915"
    makefile: str
    sources: tuple[str, ...]  # absolute paths of the objects' C files that exist


@dataclass
class _Evaluated:
    makefile: str
    context: _Context
    make: _Make
    notes: list[str] = field(default_factory=list)
    lists: dict[str, list[str]] | None = None  # object_lists(), once computed

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def value(self, name: str) -> str:
        """A variable's value after the makefile was read ("" when unset or past a budget)."""
        try:
            return self.make.value(name).replace(_UNKNOWN, "")
        except _Budget as e:
            self.note(f"{self.makefile}: {e}; $({name}) not read")
            return ""

    def words(self, name: str) -> list[str]:
        try:
            return [w for w in self.make.words(name) if _UNKNOWN not in w]
        except _Budget as e:
            self.note(f"{self.makefile}: {e}; $({name}) not read")
            return []

    def flag_words(self, name: str) -> list[str]:
        try:
            text = self.make.value(name)
        except _Budget as e:
            self.note(f"{self.makefile}: {e}; $({name}) not read")
            return []
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        unknown = [w.replace(_UNKNOWN, "?") for w in words if _UNKNOWN in w]
        if unknown:
            shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
            self.note(f"{self.makefile}: left out, holding what was not understood: {shown}")
        return [w for w in words if _UNKNOWN not in w]

    def object_lists(self) -> dict[str, list[str]]:
        """Every variable this makefile set that lists objects: obj-*, lib-*, <mod>-y/-m/-objs/-."""
        if self.lists is not None:
            return self.lists
        lists: dict[str, list[str]] = {}
        for name in self.make.local_names():
            if name.startswith(_NOT_OBJECT_LISTS):
                continue
            if name.startswith(("obj-", "lib-")) or re.search(r"-(?:y|m|objs|n|)$", name):
                objects = [w for w in self.words(name) if w.endswith(".o")]
                if objects:
                    lists[name] = objects
        self.lists = lists
        return lists


class KbuildReader:
    """Reads the makefiles of driver folders, each once per run (`CACHE_SIZE` kept).

    `tree` is the kernel tree (its ``source_dir``, ``build_dir``, ``release`` and ``auto_conf``) or
    None; then the CONFIG_ options are unset and srctree/objtree are unknown, unless the driver lies in
    a kernel source tree of its own.
    """

    def __init__(self, tree: KernelTree | None = None) -> None:
        self.tree = tree
        self._cache: OrderedDict[str, _Evaluated | None] = OrderedDict()
        self._roots: dict[str, str | None] = {}
        self._descents: dict[str, list[str]] = {}
        self._located: dict[str, tuple[tuple[_Evaluated, str] | None, list[str]]] = {}
        self._base: dict[str, _Var] | None = None
        self.config_known = False

    # the kernel tree's variables

    def base_variables(self) -> dict[str, _Var]:
        if self._base is None:
            base: dict[str, _Var] = {}
            if self.tree is not None:
                conf = read_auto_conf(self.tree.auto_conf)
                self.config_known = bool(conf)
                base.update({name: _Var(value, False) for name, value in conf.items()})
                for name, value in _tree_version(self.tree.source_dir).items():
                    base[name] = _Var(value, False)
            release = self.tree.release if self.tree is not None and self.tree.release else "gupcheck"
            srcarch = getattr(getattr(self.tree, "arch", None), "srcarch", "") or "x86"
            specials = {
                "KERNELRELEASE": release,
                "ARCH": srcarch,
                "SRCARCH": srcarch,
                "CC": "gcc",
                "MAKE": "make",
                "SHELL": "/bin/sh",
                "MAKELEVEL": "2",
                "comma": ",",
                "empty": "",
                "space": " ",
                "pound": "#",
                "squote": "'",
                "quote": '"',
            }
            base.update({name: _Var(value, False, "default") for name, value in specials.items()})
            base.update({name: _Var("", False) for name in (*_KBUILD_RESETS, *_EXPORTED_FLAGS)})
            base["LINUXINCLUDE"] = _Var(_LINUXINCLUDE, False)
            self._base = base
        return self._base

    # where Kbuild stands for a folder

    def source_root(self, folder: str) -> str | None:
        """The kernel source tree `folder` lies in (it is then in-tree code), or None."""
        if folder in self._roots:
            return self._roots[folder]
        root = None
        d = folder
        for _ in range(_ROOT_DEPTH):
            parent = os.path.dirname(d)
            if parent == d:
                break
            if os.path.basename(d) in _KERNEL_TOP_DIRS and _is_kernel_root(parent, self.tree):
                root = parent
                break
            d = parent
        self._roots[folder] = root
        return root

    def context(self, folder: str) -> _Context:
        """Where Kbuild stands when it reads the makefile of `folder` (see the module's docstring)."""
        root = self.source_root(folder)
        tree = self.tree
        alternatives: tuple[tuple[str, str], ...] = ()
        if root is not None:
            objtree = tree.build_dir if tree is not None and tree.source_dir == root else root
            if tree is not None and tree.source_dir != root:
                alternatives = ((root, tree.source_dir), (root, tree.build_dir))
            rel = os.path.relpath(folder, root)
            return _Context(folder, rel, root, objtree, objtree, "", True, alternatives)
        chain = self.descent(folder)
        module_root = chain[-1] if chain else folder
        srctree = tree.source_dir if tree is not None else ""
        objtree = tree.build_dir if tree is not None else ""
        if objtree and srctree and objtree != srctree:
            alternatives = ((objtree, srctree),)
        cwd = objtree or module_root
        return _Context(folder, folder, srctree, objtree, cwd, module_root, False, alternatives)

    def descent(self, folder: str) -> list[str]:
        """The folders Kbuild descends through to `folder` (nearest first): each one's makefile names
        the next as ``child/`` or ``child/grandchild/`` (obj-y, obj-m, subdir-y), read from its text."""
        if folder in self._descents:
            return self._descents[folder]
        chain: list[str] = []
        root = self.source_root(folder)
        d = folder
        while len(chain) < DESCENT_DEPTH:
            above = self._descends_into(d, root)
            if above is None:
                break
            chain.append(above)
            d = above
        self._descents[folder] = chain
        return chain

    def _descends_into(self, folder: str, root: str | None) -> str | None:
        """The folder up to 3 levels above `folder` whose makefile names it, or None."""
        d = folder
        for _ in range(3):
            parent = os.path.dirname(d)
            if parent == d or (root is not None and parent == root):
                return None
            makefile = makefile_in(parent)
            text = _read_text(makefile) if makefile else None
            if text and _names_subdir(text, os.path.relpath(folder, parent)):
                return parent
            d = parent
        return None

    # evaluation

    def evaluate(self, folder: str) -> _Evaluated | None:
        """The makefile of `folder`, read as Kbuild reads it (None: the folder has none)."""
        folder = os.path.normpath(folder)
        if folder in self._cache:
            self._cache.move_to_end(folder)
            return self._cache[folder]
        makefile = makefile_in(folder)
        result = None
        if makefile is not None:
            result = self._evaluate(folder, makefile)
        self._cache[folder] = result
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return result

    def _evaluate(self, folder: str, makefile: str) -> _Evaluated:
        ctx = self.context(folder)
        release = self.tree.release if self.tree is not None else ""
        own = {"src": ctx.src, "obj": ctx.src, "srctree": ctx.srctree, "objtree": ctx.objtree}
        own["CURDIR"] = ctx.cwd
        if ctx.module_root:
            own.update({"M": ctx.module_root, "KBUILD_EXTMOD": ctx.module_root})
        scope = {name: _Var(value, False) for name, value in own.items()}
        scope["PWD"] = _Var(ctx.module_root or ctx.cwd, False, "environment")
        make = _Make(self.base_variables(), scope, ctx.cwd, release)
        if ctx.srctree:
            make.skip_prefixes = (os.path.join(ctx.srctree, "scripts") + os.sep,)
        evaluated = _Evaluated(makefile, ctx, make)
        text = _read_text(makefile)
        if text is not None and os.path.basename(makefile) == "Kbuild.in":
            text = self._autoconf(text, folder, make)
        try:
            make.read_file(makefile, 0, text)
        except _Budget as e:
            evaluated.notes.append(f"{makefile}: {e}; read up to there")
        return evaluated

    def _autoconf(self, text: str, folder: str, make: _Make) -> str:
        top = folder
        d = folder
        for _ in range(6):
            if any(os.path.isfile(os.path.join(d, n)) for n in ("configure.ac", "configure.in", "configure")):
                top = d
                break
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        values = {
            "top_srcdir": os.path.relpath(top, folder),
            "top_builddir": os.path.relpath(top, folder),
            "abs_top_srcdir": top,
            "abs_top_builddir": top,
            "srcdir": ".",
            "builddir": ".",
            "abs_srcdir": folder,
            "abs_builddir": folder,
        }

        def substitute(m: re.Match[str]) -> str:
            if m.group(1) in values:
                return values[m.group(1)]
            make.unknown[f"@{m.group(1)}@ (configure's)"] += 1
            return ""

        return _AUTOCONF_WORD.sub(substitute, text)

    # which makefile lists a file

    def locate(self, path: str) -> tuple[tuple[_Evaluated, str] | None, list[str]]:
        """The makefile that lists `path`'s object and that object's name there (or None), and notes
        (a search cut short)."""
        path = os.path.normpath(os.path.abspath(path))
        if path in self._located:
            return self._located[path]
        if len(self._located) >= LOCATED_SIZE:
            self._located.clear()
        answer = self._locate(path)
        self._located[path] = answer
        return answer

    def _locate(self, path: str) -> tuple[tuple[_Evaluated, str] | None, list[str]]:
        target = os.path.splitext(path)[0] + ".o"
        folder = os.path.dirname(path)
        notes: list[str] = []
        evaluated = 0
        found: tuple[_Evaluated, str] | None = None
        for candidate in self._candidates(folder):
            if found is not None and not found[0].context.folder.startswith(candidate + os.sep):
                continue  # only a parent can take the place of a makefile nobody descends into
            if evaluated >= MAX_CANDIDATES:
                notes.append(f"{path}: stopped looking for the makefile listing it after {MAX_CANDIDATES}")
                break
            if makefile_in(candidate) is None:
                continue
            evaluated += 1
            ev = self.evaluate(candidate)
            if ev is None:
                continue
            word = next(
                (w for ws in ev.object_lists().values() for w in ws if _joined(candidate, w) == target), None
            )
            if word is None:
                continue
            if found is not None or self.descent(candidate) or self._under_root(candidate):
                return (ev, word), notes
            # A makefile whose parent does not descend into its folder may be a copy Kbuild never
            # reads (a backport's top-level Kbuild lists drivers/fpga/x.o itself): a parent that
            # lists the object too is the one read.
            found = (ev, word)
        return found, notes

    def _under_root(self, folder: str) -> bool:
        root = self.source_root(folder)
        return root is not None and os.path.dirname(folder) == root

    def _candidates(self, folder: str) -> Iterator[str]:
        """The folders whose makefiles may list an object of `folder`, nearest first."""
        parents = [folder]
        d = folder
        root = self.source_root(folder)
        for _ in range(SEARCH_PARENTS):
            parent = os.path.dirname(d)
            if parent == d or (root is not None and not parent.startswith(root + os.sep)):
                break
            parents.append(parent)
            d = parent
        yield from parents
        if len(parents) < 2:
            return
        try:  # the siblings only when no parent lists the object (looked at lazily)
            names = sorted(e.name for e in os.scandir(parents[1]) if e.is_dir() and e.name[0] != ".")
        except OSError:
            return
        for name in names[:SEARCH_SIBLINGS]:
            sub = os.path.join(parents[1], name)
            if sub != folder:
                yield sub

    def nearest(self, path: str) -> _Evaluated | None:
        """The nearest makefile above `path` that lists some object."""
        d = os.path.dirname(os.path.normpath(os.path.abspath(path)))
        for _ in range(SEARCH_PARENTS + 1):
            ev = self.evaluate(d)
            if ev is not None and ev.object_lists():
                return ev
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
        return None

    # answers

    def flags_for(self, path: str) -> KbuildFlags:
        """The preprocessor flags the driver's makefiles give `path` (see the module's docstring)."""
        path = os.path.normpath(os.path.abspath(path))
        found, notes = self.locate(path)
        if found is not None:
            ev, word = found
            listed = True
        else:
            nearest = self.nearest(path)
            if nearest is None:
                return KbuildFlags(notes=tuple(notes))
            ev, listed = nearest, False
            word = os.path.relpath(os.path.splitext(path)[0] + ".o", ev.context.folder)
        parents = [e for e in (self.evaluate(p) for p in reversed(self.descent(ev.context.folder))) if e]
        first: list[str] = []  # before the kernel's include folders
        words: list[str] = []
        for e in (*parents, ev):  # Kbuild's exported flags, as each makefile changed them
            first += e.flag_words("NOSTDINC_FLAGS")
            linux = e.flag_words("LINUXINCLUDE")
            at = linux.index(_LINUXINCLUDE) if _LINUXINCLUDE in linux else len(linux)
            first += linux[:at]
            words += linux[at + 1 :] + e.flag_words("KBUILD_CPPFLAGS") + e.flag_words("KBUILD_CFLAGS")
        for parent in parents:
            words += parent.flag_words("subdir-ccflags-y")
        for name in ("subdir-ccflags-y", "ccflags-y", "EXTRA_CFLAGS", f"CFLAGS_{word}"):
            words += ev.flag_words(name)
        removed = set(ev.flag_words("ccflags-remove-y")) | set(ev.flag_words(f"CFLAGS_REMOVE_{word}"))
        first_args = _preprocessor_args(first, ev.context, notes)
        args = _preprocessor_args([w for w in words if w not in removed], ev.context, notes)
        unknown: Counter[str] = Counter()
        makefiles: list[str] = []
        for e in (*parents, ev):
            unknown.update(e.make.unknown)
            notes.extend(e.notes + e.make.notes)
            makefiles.extend(m for m in e.make.read if m not in makefiles)
        return KbuildFlags(
            args=tuple(args),
            first_args=tuple(first_args),
            makefile=ev.makefile,
            object=word,
            listed=listed,
            makefiles=tuple(makefiles),
            not_understood=tuple(f"{what} (x{n})" if n > 1 else what for what, n in unknown.most_common()),
            notes=tuple(dict.fromkeys(notes)),
        )

    def module_of(self, path: str) -> KbuildModule | None:
        """The module (or built-in object) `path` is linked into, as its makefile lists it: a
        composite ``<mod>-y``/``-objs``/``-m`` whose ``<mod>.o`` is in an ``obj-*``/``lib-*`` list
        (``<mod>-$(CONFIG_X)`` parts count when the CONFIG is set, or when no configuration is known; a
        file configured out still gets its module), or a single-object ``obj-m += foo.o``. None when no
        makefile lists the file as a kernel object (host programs are not)."""
        path = os.path.normpath(os.path.abspath(path))
        found, _notes = self.locate(path)
        if found is None:
            return None
        ev, word = found
        lists = ev.object_lists()
        folder = ev.context.folder
        tops = [w for name, objects in lists.items() if name.startswith(("obj-", "lib-")) for w in objects]
        for top in dict.fromkeys(tops):
            stem = top[:-2]
            built = [w for suffix in ("-objs", "-y", "-m") for w in lists.get(stem + suffix, [])]
            off = [w for suffix in ("-", "-n") for w in lists.get(stem + suffix, [])]
            name = os.path.basename(stem)
            if not built and not off:
                if top == word:
                    return KbuildModule(name, ev.makefile, _sources(folder, [word]))
                continue
            if word in built or (word in off and not self.config_known):
                parts = built if self.config_known else built + off
                return KbuildModule(name, ev.makefile, _sources(folder, parts))
            if word in off:  # configured out: its module all the same, with the file among its sources
                return KbuildModule(name, ev.makefile, _sources(folder, [*built, word]))
        return None

    def module_sources(self, path: str) -> list[str]:
        """The C files of the module `path` belongs to (`path` among them); [] when no makefile
        lists it."""
        module = self.module_of(path)
        return list(module.sources) if module is not None else []

    def builds(self, path: str) -> bool:
        """Whether a makefile lists `path` as a kernel object: Kbuild compiles it as kernel code."""
        return self.module_of(path) is not None


def _joined(folder: str, word: str) -> str:
    return os.path.normpath(os.path.join(folder, word))


def _sources(folder: str, objects: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for word in objects:
        source = os.path.normpath(os.path.join(folder, word[:-2] + ".c"))
        if os.path.isfile(source) and source not in out:
            out.append(source)
    return tuple(out)


def makefile_in(folder: str) -> str | None:
    """The makefile Kbuild reads in `folder`: Kbuild, else Makefile; else an autoconf Kbuild.in."""
    for name in ("Kbuild", "Makefile", "Kbuild.in"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def _names_subdir(text: str, name: str) -> bool:
    """Whether a makefile's text descends into `name` (``name/`` as a word, or subdir-y += name)."""
    word = re.escape(name)
    if re.search(rf"(?:^|[\s=]){word}/(?=\s|$|\\)", text, re.MULTILINE):
        return True
    return bool(re.search(rf"^\s*subdir-\S*\s*[:+]?=.*(?<![\w./-]){word}(?![\w./-])", text, re.MULTILINE))


def _is_kernel_root(folder: str, tree: KernelTree | None) -> bool:
    if tree is not None and folder in (tree.source_dir, tree.build_dir):
        return True
    if os.path.isfile(os.path.join(folder, "include", "linux", "kconfig.h")):
        return True
    text = _read_head(os.path.join(folder, "drivers", "Kconfig"))
    return 'menu "Device Drivers"' in text


def _read_head(path: str, size: int = 512) -> str:
    try:
        return read_regular_file(path, size).decode("utf-8", "replace")
    except OSError:
        return ""


def _tree_version(source_dir: str) -> dict[str, str]:
    """VERSION, PATCHLEVEL, SUBLEVEL, EXTRAVERSION of the tree's top Makefile."""
    head = _read_head(os.path.join(source_dir, "Makefile"), 4096)
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=[ \t]*(.*)$", head, re.M)
    }


def read_auto_conf(path: str) -> dict[str, str]:
    """Kconfig's answers as make reads them: ``CONFIG_X=value`` lines (values as written, strings
    with their quotes). {} when the file does not exist."""
    text = _read_text(path)
    if text is None:
        return {}
    conf: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$", line)
        if m:
            conf[m.group(1)] = m.group(2)
    return conf


def _resolve(path: str, ctx: _Context, *, directory: bool) -> str | None:
    """An include folder or forced header as Kbuild's compiler finds it, or None if it does not exist."""
    if not path:
        return None
    bases = [ctx.cwd] + ([ctx.srctree] if ctx.srctree and ctx.srctree != ctx.cwd else [])
    candidates = [path] if os.path.isabs(path) else [os.path.join(b, path) for b in bases if b]
    check = os.path.isdir if directory else os.path.isfile
    for candidate in candidates:
        candidate = os.path.normpath(candidate)
        if check(candidate):
            return candidate
        for prefix, replacement in ctx.alternatives:
            if candidate.startswith(prefix + os.sep):
                alternative = os.path.join(replacement, os.path.relpath(candidate, prefix))
                if check(alternative):
                    return alternative
    return None


def _preprocessor_args(words: list[str], ctx: _Context, notes: list[str]) -> list[str]:
    """The -I/-iquote/-isystem/-idirafter/-D/-U/-include/-imacros of compiler words, paths resolved."""
    args: list[str] = []
    seen: set[tuple[str, str]] = set()
    missing: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        option, value = "", ""
        for opt in (*_PATH_OPTIONS, "-I", "-D", "-U"):
            if word == opt:
                option = opt
                if i < len(words):
                    value = words[i]
                    i += 1
                break
            if word.startswith(opt) and (opt != "-I" or not word.startswith("-I-")):
                option, value = opt, word[len(opt) :]
                break
        if not option or not value:
            continue
        if option in ("-D", "-U"):
            if (option, value) not in seen:
                seen.add((option, value))
                args.append(option + value)
            continue
        directory = option not in ("-include", "-imacros")
        resolved = _resolve(value, ctx, directory=directory)
        if resolved is None:
            missing.append(f"{option} {value}")
            continue
        if (option, resolved) in seen:
            continue
        seen.add((option, resolved))
        args += ["-I" if option == "-I" else option, resolved]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        notes.append(f"left out, not found: {shown}")
    return args
