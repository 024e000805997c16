"""GUP005 (c): a length user space controls copies into or out of a fixed-size kernel object without
a bound."""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.kernel_api.memory import LENGTH_SINKS
from gupcheck.model.facts import Function
from gupcheck.model.findings import Finding
from gupcheck.rules.unchecked_user_access.report import finding


def findings(context: Analyses, fn: Function) -> Iterator[Finding]:
    data = context.user_data.of(fn)
    for node, call in fn.call_sites():
        sink = LENGTH_SINKS.get(call.callee)
        if sink is None or sink[0] >= len(call.args):
            continue
        length_position, object_positions = sink
        length = call.args[length_position]
        if data.tainted_name(length) is None or context.uaccess.bounded(fn, node, length):
            continue
        target = next(
            (
                call.args[i]
                for i in object_positions
                if i < len(call.args) and call.args[i].fixed_size is not None
            ),
            None,
        )
        if target is None:
            continue
        yield finding(
            fn,
            call,
            call.location,
            f"user-controlled length '{length.text}' copies into or out of '{target.text}' "
            f"({target.fixed_size} bytes) without a bound",
            f"reject larger values first (`if ({length.text} > sizeof({target.text.lstrip('&')})) "
            "return -EINVAL;`) or clamp with min()",
        )
