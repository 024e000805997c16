"""Rule metadata shared by rules, the CLI and output formats."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gupcheck.model.findings import Finding, Level

if TYPE_CHECKING:
    from gupcheck.analyses.context import Analyses


@dataclass(frozen=True)
class RuleDoc:
    """A rule's documentation in fixed sections; feeds `gupcheck explain`, SARIF `help` and the README."""

    id: str
    name: str
    level: Level
    cwe: tuple[str, ...]
    summary: str  # one line: SARIF shortDescription
    what_it_does: str
    why_bad: str
    example: str  # C code, the bug
    use_instead: str  # C code, the fix
    references: tuple[str, ...]
    links_userland: bool = False  # follows userland ioctl calls into drivers (cross-layer)

    @property
    def full_description(self) -> str:
        return f"{self.what_it_does.strip()} {self.why_bad.strip()}"

    def help_text(self) -> str:
        refs = "\n".join(f"  - {r}" for r in self.references)
        return (
            f"{self.id} {self.name}\n\n"
            f"What it does\n  {_indent(self.what_it_does)}\n\n"
            f"Why is this bad?\n  {_indent(self.why_bad)}\n\n"
            f"Example\n{_code_block_text(self.example)}\n\n"
            f"Use instead\n{_code_block_text(self.use_instead)}\n\n"
            f"References\n{refs}\n"
        )

    def help_markdown(self) -> str:
        refs = "\n".join(f"- {r}" for r in self.references)
        return (
            f"## {self.id} {self.name}\n\n"
            f"### What it does\n{self.what_it_does.strip()}\n\n"
            f"### Why is this bad?\n{self.why_bad.strip()}\n\n"
            f"### Example\n```c\n{self.example.strip()}\n```\n\n"
            f"### Use instead\n```c\n{self.use_instead.strip()}\n```\n\n"
            f"### References\n{refs}\n"
        )


@dataclass(frozen=True)
class Rule:
    doc: RuleDoc
    check: Callable[[Analyses], Iterable[Finding]]

    @property
    def id(self) -> str:
        return self.doc.id

    @property
    def name(self) -> str:
        return self.doc.name


@dataclass(frozen=True)
class LazyRule:
    """A rule known by its id and name; its module (which defines `RULE`) is imported the first time
    its documentation or its check is needed, with the analyses that module imports."""

    id: str
    name: str
    module: str  # e.g. "gupcheck.rules.pin_outlives_syscall"

    def load(self) -> Rule:
        rule = importlib.import_module(self.module).RULE
        if (rule.id, rule.name) != (self.id, self.name):
            raise RuntimeError(f"{self.module} defines {rule.id} {rule.name}, not {self.id} {self.name}")
        return rule

    @property
    def doc(self) -> RuleDoc:
        return self.load().doc

    def check(self, context: Analyses) -> Iterable[Finding]:
        return self.load().check(context)


def _indent(text: str) -> str:
    return "\n  ".join(line.strip() for line in text.strip().splitlines())


def _code_block_text(code: str) -> str:
    return "\n".join(f"    {line}" for line in code.strip("\n").splitlines())
