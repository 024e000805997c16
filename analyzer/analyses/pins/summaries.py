"""Pin summaries: what a helper does with pages, in terms of its parameters, so that a call to it
counts like the API it wraps."""

from __future__ import annotations

from dataclasses import dataclass

from gupcheck.kernel_api.pins import PinKind
from gupcheck.model.findings import SourceLocation


@dataclass(frozen=True)
class PinnedOutput:
    """Pages a helper pins and hands to its caller through one output."""

    suffix: str  # the path below the output: "", "->pages"
    kind: PinKind
    longterm: bool
    api: str  # the pin API finally called
    via: tuple[SourceLocation, ...]  # the pin calls inside the helpers, innermost last
    # fields the helper makes non-zero on every success return with the pages (`batch->nr_ops++`):
    # (parameter position, path below it)
    nonzero: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class PinSummary:
    pins_into: dict[int, PinnedOutput]  # output position (a parameter, or RETURNED) -> what it pins
    releases: frozenset[int]  # parameters whose pages it releases
    stores: frozenset[int] = frozenset()  # parameters kept in a longer-lived place (list, tree, global)
    handle_stores: frozenset[int] = frozenset()  # parameters of which only a handle is kept (pfn, phys)
