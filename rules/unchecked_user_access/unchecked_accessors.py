"""GUP005 (a): `__copy_from_user`, `__get_user`, ... on an address user space may have chosen (along a
call chain the program holds) that no access_ok covers on every path."""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.kernel_api.uaccess import CHECKING_VARIANTS, UNCHECKED_ACCESSORS
from gupcheck.model.facts import Function
from gupcheck.model.findings import Finding, Fix
from gupcheck.rules.edits import rename
from gupcheck.rules.unchecked_user_access.report import finding


def findings(context: Analyses, fn: Function) -> Iterator[Finding]:
    for node, call in fn.call_sites():
        position = UNCHECKED_ACCESSORS.get(call.callee)
        if position is None or position >= len(call.args):
            continue
        pointer = call.args[position]
        if context.uaccess.range_checked(fn, node, pointer):
            continue
        if not context.uaccess.user_supplied(fn, pointer):
            continue  # an address of unknown origin: a kernel object's field, a helper's result
        checking = CHECKING_VARIANTS.get(call.callee)
        yield finding(
            fn,
            call,
            call.location,
            f"'{call.callee}' on '{pointer.text}' without an access_ok() that covers it on every path",
            f"check the range first (`if (!access_ok({pointer.text}, size)) return -EFAULT;`) "
            f"or use the checking variant '{call.callee.lstrip('_')}'",
            fixes=[Fix(f"use {checking}(), which checks the range", (rename(call, checking),))]
            if checking is not None
            else [],
        )
