"""GUP005 (e): the same user address copied twice, and a size, loop bound or index from the second copy
trusted (here, or in a function the second copy is handed to)."""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.model.facts import Function
from gupcheck.model.findings import Finding, FlowStep, RelatedLocation
from gupcheck.rules.unchecked_user_access.report import finding


def findings(context: Analyses, fn: Function) -> Iterator[Finding]:
    reported = None  # the first fetch of the last finding: one finding per first fetch
    for first, second in context.uaccess.refetches(fn):
        if first is reported:
            continue
        use = context.uaccess.trusted_use(fn, second, first)
        if use is None:
            continue
        reported = first
        where = f" by '{use.function}'" if use.function else ""
        yield finding(
            fn,
            second.call,
            second.call.location,
            f"double fetch: '{second.source.text}' is copied from user space again and "
            f"'{use.text}' from the second copy is trusted{where}",
            f"use the length from the first copy (or check `{use.text}` against it): user space "
            "can change the data between the two copies",
            related=[RelatedLocation(first.call.location, "first fetch from the same user address")],
            flow=[
                FlowStep(first.call.location, "first fetch"),
                FlowStep(second.call.location, "second fetch"),
                FlowStep(use.node.location or second.call.location, f"'{use.text}' trusted{where}"),
            ],
        )
