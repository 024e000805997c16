"""GUP005 (d): a user pointer dereferenced directly."""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.analyses.usercontrol import unevaluated
from gupcheck.model.facts import Function
from gupcheck.model.findings import Finding
from gupcheck.rules.unchecked_user_access.report import finding


def findings(context: Analyses, fn: Function) -> Iterator[Finding]:
    data = context.user_data.of(fn)
    for node in fn.nodes:
        reported: set[str] = set()
        for deref in node.derefs:
            pointer = deref.pointer
            if not data.is_user_pointer(pointer) or pointer.base is None or unevaluated(node, deref):
                continue
            if pointer.text in reported:
                continue
            reported.add(pointer.text)
            yield finding(
                fn,
                f"*{pointer.text}",
                deref.location,
                f"user pointer '{pointer.text}' is dereferenced directly",
                "copy the data in with copy_from_user()/get_user() (or out with copy_to_user()/put_user())",
            )
