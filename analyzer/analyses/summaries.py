"""Function summaries computed bottom-up over the call graph, to a fixpoint.

A summary says what a function does for its callers (pins pages into its 3rd parameter, returns with
lock L held). A function is summarised again when the summary of a function it calls changes;
recursion and mutual recursion converge because the analyses' summaries only grow, and a budget of
steps bounds the work whatever the input.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import TypeVar

from gupcheck.model.facts import Function
from gupcheck.model.program import Unfinished

Summary = TypeVar("Summary")

STEPS_PER_FUNCTION = 20  # the budget: this many summaries per function, and a hundred more


def summarise_bottom_up(
    functions: list[Function],
    summaries: dict[str, Summary],
    summary_of: Callable[[Function], Summary],
    callers_of: Callable[[Function], Iterable[Function]],
    *,
    unknown: Summary | None = None,
    what: str = "its summary",
) -> list[Unfinished]:
    """Fill `summaries` (by function key) for `functions`. `summary_of` reads the callees' summaries
    from `summaries` as the work goes on; `callers_of` gives the functions to summarise again when a
    summary changes; a function whose summary stays `unknown` is left out. Returns the functions
    still waiting to be summarised again when the budget ran out (`what` names their summary)."""
    pending = deque(functions)
    queued = {fn.key for fn in functions}
    budget = STEPS_PER_FUNCTION * len(functions) + 100
    while pending and budget > 0:
        budget -= 1
        fn = pending.popleft()
        queued.discard(fn.key)
        summary = summary_of(fn)
        if summary == summaries.get(fn.key, unknown):
            continue
        summaries[fn.key] = summary
        for caller in callers_of(fn):
            if caller.key not in queued:
                queued.add(caller.key)
                pending.append(caller)
    steps = STEPS_PER_FUNCTION * len(functions) + 100
    return [Unfinished(fn, what, f"did not settle within {steps} steps") for fn in pending]
