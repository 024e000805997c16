"""Pinning user pages: the pin APIs by signature (they changed across kernel versions), their releases,
and FOLL_LONGTERM's value per kernel version. See the kernel's Documentation/core-api/pin_user_pages.rst.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gupcheck.kernel_api.logs import LOG_CALLS


class PinKind(StrEnum):
    FOLL_GET = "FOLL_GET"  # get_user_pages*: a page reference, released with put_page()
    FOLL_PIN = "FOLL_PIN"  # pin_user_pages*: a pin, released with unpin_user_page(s)()


FOLL_GET, FOLL_PIN = PinKind.FOLL_GET, PinKind.FOLL_PIN


@dataclass(frozen=True)
class PinApi:
    kind: PinKind
    pages: int  # position of the pages array
    flags: int | None  # position of gup_flags (None: an old `int write` signature without flags)
    nr: int = 1  # position of the number of pages
    start: int = 0  # position of the user address
    longterm: bool = False  # always FOLL_LONGTERM, whatever the flags (a declared wrapper)


# Signatures that did not change with the kernel version.
PIN_APIS: dict[str, PinApi] = {
    "get_user_pages_fast": PinApi(FOLL_GET, 3, 2),
    "get_user_pages_fast_only": PinApi(FOLL_GET, 3, 2),
    "__get_user_pages_fast": PinApi(FOLL_GET, 3, 2),
    "get_user_pages_unlocked": PinApi(FOLL_GET, 2, 3),
    "pin_user_pages": PinApi(FOLL_PIN, 3, 2),
    "pin_user_pages_fast": PinApi(FOLL_PIN, 3, 2),
    "pin_user_pages_fast_only": PinApi(FOLL_PIN, 3, 2),
    "pin_user_pages_unlocked": PinApi(FOLL_PIN, 2, 3),
}

# Signatures that did, by argument count.
PIN_APIS_BY_ARITY: dict[tuple[str, int], PinApi] = {
    # (tsk, mm, start, nr, write, force, pages, vmas), before 4.6
    ("get_user_pages", 8): PinApi(FOLL_GET, 6, None, 3, 2),
    # (start, nr, write, force, pages, vmas), 4.6 to 4.8
    ("get_user_pages", 6): PinApi(FOLL_GET, 4, None, 1, 0),
    # (tsk, mm, start, nr, gup_flags, pages, vmas, locked), before 5.9
    ("get_user_pages_remote", 8): PinApi(FOLL_GET, 5, 4, 3, 2),
    ("pin_user_pages_remote", 8): PinApi(FOLL_PIN, 5, 4, 3, 2),
}
PIN_APIS_DEFAULT_ARITY: dict[str, PinApi] = {
    "get_user_pages": PinApi(FOLL_GET, 3, 2),  # (start, nr, gup_flags, pages, vmas)
    "get_user_pages_remote": PinApi(FOLL_GET, 4, 3, 2, 1),  # (mm, start, nr, gup_flags, pages, vmas, locked)
    "pin_user_pages_remote": PinApi(FOLL_PIN, 4, 3, 2, 1),
}


def pin_api(name: str, argc: int) -> PinApi | None:
    """The kernel pin API called `name` with `argc` arguments, or None."""
    return PIN_APIS_BY_ARITY.get((name, argc)) or PIN_APIS_DEFAULT_ARITY.get(name) or PIN_APIS.get(name)


# Releases and the position of the page(s) they release.
RELEASES: dict[str, int] = {
    "put_page": 0,
    "release_pages": 0,
    "unpin_user_page": 0,
    "unpin_user_pages": 0,
    "unpin_user_pages_dirty_lock": 0,
    "unpin_user_page_range_dirty_lock": 0,
    "put_user_page": 0,
    "put_user_pages": 0,
    "put_user_pages_dirty": 0,
    "put_user_pages_dirty_lock": 0,
}


# Calls that drop a reference and run a release function when it was the last: (position of the
# reference, position of the release function). `kref_put(&obj->ref, obj_free)` releases what
# obj_free() releases of the object holding the reference.
RELEASE_CALLBACKS: dict[str, tuple[int, int]] = {
    "kref_put": (0, 1),
    "kref_put_mutex": (0, 1),
    "kref_put_lock": (0, 1),
}


# The pin_user_pages* API that replaces a get_user_pages* one: the same arguments in every signature,
# and the kernel version it first exists in. (`__get_user_pages_fast` has no FOLL_PIN twin.)
FOLL_PIN_COUNTERPARTS: dict[str, tuple[str, tuple[int, int]]] = {
    "get_user_pages": ("pin_user_pages", (5, 6)),
    "get_user_pages_fast": ("pin_user_pages_fast", (5, 6)),
    "get_user_pages_unlocked": ("pin_user_pages_unlocked", (5, 6)),
    "get_user_pages_remote": ("pin_user_pages_remote", (5, 6)),
    "get_user_pages_fast_only": ("pin_user_pages_fast_only", (5, 9)),
}


def foll_pin_counterpart(name: str, target_kernel: tuple[int, int] = (6, 1)) -> str | None:
    """The pin_user_pages* API that replaces the get_user_pages* API `name` on `target_kernel`, or None."""
    counterpart = FOLL_PIN_COUNTERPARTS.get(name)
    if counterpart is None or target_kernel < counterpart[1]:
        return None
    return counterpart[0]


# Pin APIs whose last argument is `int *locked`: FOLL_LONGTERM needs it NULL (-EINVAL otherwise, 5.6+).
LOCKED_LAST_ARGUMENT = frozenset({"get_user_pages_remote", "pin_user_pages_remote"})

# The FOLL_PIN release that replaces a FOLL_GET one, with the same arguments. (put_user_page* are the
# 5.4-5.5 names of the FOLL_PIN releases; `put_user_pages_dirty` has no same-argument replacement.)
PIN_RELEASE_OF: dict[str, str] = {
    "put_page": "unpin_user_page",
    "release_pages": "unpin_user_pages",
    "put_user_page": "unpin_user_page",
    "put_user_pages": "unpin_user_pages",
    "put_user_pages_dirty_lock": "unpin_user_pages_dirty_lock",
}

# The releases of FOLL_PIN pins (5.6+).
FOLL_PIN_RELEASES = frozenset(
    {"unpin_user_page", "unpin_user_pages", "unpin_user_pages_dirty_lock", "unpin_user_page_range_dirty_lock"}
)

# Calls that use a page (or take `&page`) without keeping it.
PAGE_USERS = frozenset({"get_page", "set_page_dirty_lock", "kmap", "kunmap", "kmap_local_page"})

# Calls whose result stands for the page(s) given (an address, a frame number, a DMA address): a
# place holding the result holds the pages (`pfn = page_to_pfn(page)`, released by
# `unpin_user_page(pfn_to_page(pfn))`).
PAGE_HANDLES = frozenset(
    {
        "page_to_pfn", "page_to_phys", "page_to_virt", "page_address", "kmap", "kmap_local_page",
        "pfn_to_page", "virt_to_page", "phys_to_page", "PFN_PHYS", "PHYS_PFN", "__pa", "__va",
        "sg_phys", "sg_virt", "sg_page", "dma_map_page",
    }
)  # fmt: skip

# Tests that hold for every pinned page (its frame number is valid): false, nothing is pinned.
PINNED_PAGE_TESTS = frozenset({"pfn_valid"})

# Calls that take another reference on a page: a put_page() somewhere drops it, not the pin's.
PAGE_REFERENCES = frozenset({"get_page", "try_get_page", "get_page_unless_zero"})

# Calls that use pages (a page, or an array of them) and neither keep nor drop a reference on them.
PAGE_ONLY_USES = (
    frozenset(
        {
            "set_page_dirty",
            "set_page_dirty_lock",
            "SetPageDirty",
            "page_address",
            "kmap",
            "kunmap",
            "kmap_atomic",
            "kunmap_atomic",
            "kmap_local_page",
            "kunmap_local",
            "flush_dcache_page",
            "page_to_pfn",
            "page_to_phys",
            "page_to_virt",
            "lock_page",
            "unlock_page",
            "vmap",
            "memcpy_from_page",
            "memcpy_to_page",
            "memcpy_page",
            "memzero_page",
            "clear_highpage",
            "clear_page",
            "copy_highpage",
            "copy_page",
            "zero_user",
            "zero_user_segment",
            "zero_user_segments",
            "dma_map_page",
            "memset",
            "memzero_explicit",
        }
    )
    | LOG_CALLS
)  # a log call prints a pointer (`%pa`, `&dma_addr`) and keeps nothing

# FOLL_LONGTERM's value: a macro up to 6.1, an enum constant with another value from 6.2.
FOLL_LONGTERM_VALUES: dict[tuple[int, int], int] = {(6, 1): 0x10000, (6, 2): 1 << 8}


def foll_longterm_value(target_kernel: tuple[int, int]) -> int:
    return FOLL_LONGTERM_VALUES[(6, 2)] if target_kernel >= (6, 2) else FOLL_LONGTERM_VALUES[(6, 1)]
