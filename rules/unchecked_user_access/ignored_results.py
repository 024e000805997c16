"""GUP005 (b): the result of a copy that reports failure is ignored."""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.kernel_api.uaccess import MUST_CHECK
from gupcheck.model.facts import Function
from gupcheck.model.findings import Finding, Level
from gupcheck.rules.unchecked_user_access.report import finding


def findings(fn: Function) -> Iterator[Finding]:
    for _node, call in fn.call_sites():
        if call.callee in MUST_CHECK and not call.result_used:
            yield finding(
                fn,
                call,
                call.location,
                f"result of '{call.callee}' is ignored: a failed copy goes unnoticed",
                f"`if ({call.callee}(...)) return -EFAULT;` — it returns the number of bytes "
                "not copied (or -EFAULT for get_user/put_user)",
                level=Level.WARNING,
            )
