"""What can happen to pinned pages (or the object holding them) at one statement, as typed events,
and the places a helper's pins come out of it."""

from __future__ import annotations

from dataclasses import dataclass

from gupcheck.model.facts import CallSite


@dataclass(frozen=True)
class Released:
    """A release call (put_page, unpin_user_pages, a loop over the pages, a helper that releases)."""

    call: CallSite


@dataclass(frozen=True)
class Stored:
    """Kept in a longer-lived place: a field or global (`dev->pages = pages`) or a container
    (`list_add()`, or a helper that keeps its argument: the place is spelled `helper()`)."""

    place: str


@dataclass(frozen=True)
class HandedOut:
    """Written into the caller's object through a parameter (`*out = pages`, `region->pages`)."""

    param: str
    suffix: str  # the path below the parameter: "", "->pages"


@dataclass(frozen=True)
class Returned:
    """Returned to the caller."""


@dataclass(frozen=True)
class Escaped:
    """Its address given to code gupcheck cannot see (an out-parameter of a function not analysed)."""


@dataclass(frozen=True)
class Handle:
    """A handle computed from the pages (`*paddr = page_to_phys(page)`) kept in a place: it keeps the
    pin only if the pages are still held when the function returns."""

    kept: Stored | HandedOut


PinEvent = Released | Stored | HandedOut | Returned | Escaped | Handle


@dataclass(frozen=True)
class Output:
    """Where a helper's pinned pages end up for its caller: in parameter `param` (below `suffix`), or
    returned (`param` is RETURNED)."""

    param: int
    suffix: str = ""


RETURNED = -1
