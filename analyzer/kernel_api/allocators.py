"""Allocators: calls whose result is freshly allocated memory (kernel and C library)."""

from __future__ import annotations

from dataclasses import dataclass

from gupcheck.model.facts import Side

K, U = Side.KERNEL, Side.USERLAND


@dataclass(frozen=True)
class Allocator:
    side: Side
    size: tuple[int, ...] = ()  # arguments that size the allocation (all multiplied together)
    zeroing: bool = False  # the memory comes zeroed
    user_mappable: bool = False  # made to be mapped into user space (vmalloc_user)
    out: int | None = None  # the allocation is stored through this argument (posix_memalign(&p, ...))


ALLOCATORS: dict[str, Allocator] = {
    # slab and vmalloc
    "kmalloc": Allocator(K, (0,)),
    "kmalloc_node": Allocator(K, (0,)),
    "kzalloc": Allocator(K, (0,), zeroing=True),
    "kzalloc_node": Allocator(K, (0,), zeroing=True),
    "kcalloc": Allocator(K, (0, 1), zeroing=True),
    "kmalloc_array": Allocator(K, (0, 1)),
    "krealloc": Allocator(K, (1,)),
    "kvmalloc": Allocator(K, (0,)),
    "kvzalloc": Allocator(K, (0,), zeroing=True),
    "kvcalloc": Allocator(K, (0, 1), zeroing=True),
    "kvmalloc_array": Allocator(K, (0, 1)),
    "vmalloc": Allocator(K, (0,)),
    "vzalloc": Allocator(K, (0,), zeroing=True),
    "vmalloc_array": Allocator(K, (0, 1)),
    "vcalloc": Allocator(K, (0, 1), zeroing=True),
    "vmalloc_user": Allocator(K, (0,), zeroing=True, user_mappable=True),
    "vmalloc_32_user": Allocator(K, (0,), zeroing=True, user_mappable=True),
    "kmemdup": Allocator(K, (1,)),
    "devm_kmalloc": Allocator(K, (1,)),
    "devm_kzalloc": Allocator(K, (1,), zeroing=True),
    "kmem_cache_alloc": Allocator(K),
    "kmem_cache_zalloc": Allocator(K, zeroing=True),
    # copies of user memory (see uaccess.FETCHING_RESULTS)
    "memdup_user": Allocator(K, (1,)),
    "vmemdup_user": Allocator(K, (1,)),
    "memdup_user_nul": Allocator(K, (1,)),
    "strndup_user": Allocator(K, (1,)),
    # pages
    "__get_free_pages": Allocator(K),
    "__get_free_page": Allocator(K),
    "get_zeroed_page": Allocator(K, zeroing=True),
    "alloc_pages": Allocator(K),
    "alloc_page": Allocator(K),
    "alloc_pages_exact": Allocator(K, (0,)),
    # DMA-coherent memory
    "dma_alloc_coherent": Allocator(K, (1,)),
    "dma_alloc_attrs": Allocator(K, (1,)),
    "dma_alloc_wc": Allocator(K, (1,)),
    # the C library
    "malloc": Allocator(U, (0,)),
    "calloc": Allocator(U, (0, 1), zeroing=True),
    "realloc": Allocator(U, (1,)),
    "reallocarray": Allocator(U, (1, 2)),
    "aligned_alloc": Allocator(U, (1,)),
    "memalign": Allocator(U, (1,)),
    "valloc": Allocator(U, (0,)),
    "pvalloc": Allocator(U, (0,)),
    "strdup": Allocator(U),
    "posix_memalign": Allocator(U, (2,), out=0),
}


# The allocators whose result is pages (not an array that will hold page pointers).
PAGE_ALLOCATORS = frozenset(
    {
        "__get_free_pages",
        "__get_free_page",
        "get_zeroed_page",
        "alloc_pages",
        "alloc_page",
        "alloc_pages_exact",
    }
)


def is_allocator(name: str) -> bool:
    """Whether a call's result is fresh memory (not a lookup of an existing object)."""
    allocator = ALLOCATORS.get(name)
    return allocator is not None and allocator.out is None


def allocates(calls: tuple[str, ...] | list[str]) -> bool:
    """Whether an expression calling `calls` allocates."""
    return any(is_allocator(name) for name in calls)
