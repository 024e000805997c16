"""API knowledge the user declares for code gupcheck cannot see (configuration `[api]`).

A driver may pin, release or lock through wrappers defined in a file outside the analysed paths (a
vendor library, another module). Declared here, they count as the kernel APIs they wrap: a declared
pin wrapper is a pin call, a declared release is a release, a declared lock wrapper takes the lock
named by its argument.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gupcheck.kernel_api.pins import FOLL_GET, FOLL_PIN, PinKind
from gupcheck.model.findings import SourceLocation

__all__ = ["FOLL_GET", "FOLL_PIN", "ApiKnowledge", "PinWrapper", "PinningIoctl"]


@dataclass(frozen=True)
class PinWrapper:
    """A function that pins user pages like `get_user_pages*` (FOLL_GET) or `pin_user_pages*` (FOLL_PIN).
    Positions are 0-based argument indexes."""

    name: str
    kind: PinKind
    pages: int  # the struct page ** array it fills
    start: int = 0  # the user address
    nr: int = 1  # the number of pages
    flags: int | None = None  # the gup_flags argument, if the wrapper takes one
    longterm: bool = False  # the wrapper always pins with FOLL_LONGTERM


@dataclass(frozen=True)
class PinningIoctl:
    """An ioctl request whose driver (not analysed) keeps the caller's pages pinned after it returns."""

    macro: str | None  # the request's macro name, as user space spells it
    value: int | None  # or its _IOC value
    field: str | None  # the request struct's field holding the address (None: the argument itself)
    kind: PinKind
    declared_at: SourceLocation  # the configuration entry


@dataclass(frozen=True)
class ApiKnowledge:
    pins: tuple[PinWrapper, ...] = ()
    releases: dict[str, int] = field(default_factory=dict)  # name -> position of the page(s) released
    locks: tuple[str, ...] = ()  # take the lock their first argument points to
    unlocks: tuple[str, ...] = ()  # release it
    pinning_ioctls: tuple[PinningIoctl, ...] = ()
    shared_types: tuple[str, ...] = ()  # every object of these types is shared with user space
    range_checks: tuple[str, ...] = ()  # return whether the user range they are given is valid

    def __hash__(self) -> int:
        return hash(
            (
                self.pins,
                tuple(sorted(self.releases.items())),
                self.locks,
                self.unlocks,
                self.pinning_ioctls,
                self.shared_types,
                self.range_checks,
            )
        )
