"""Frees: calls that give memory back, with the position of the memory they free."""

from __future__ import annotations

FREES: dict[str, int] = {
    "kfree": 0,
    "kvfree": 0,
    "vfree": 0,
    "vunmap": 0,
    "free_pages": 0,
    "free_page": 0,
    "__free_pages": 0,
    "__free_page": 0,
    "free_pages_exact": 0,
    "dma_free_coherent": 2,
    "dma_free_attrs": 2,
    "dma_free_wc": 2,
}
