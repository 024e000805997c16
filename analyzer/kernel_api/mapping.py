"""Mapping kernel memory into user space, and the conversions between a kernel address, its page and
its pfn."""

from __future__ import annotations

# Calls that map kernel memory into a user mapping: position of the memory (an address, a pfn, a page
# or an array of pages).
EXPORTS: dict[str, int] = {
    "remap_pfn_range": 2,
    "remap_pfn_range_notrack": 2,
    "io_remap_pfn_range": 2,
    "vm_insert_page": 2,
    "vmf_insert_page": 2,
    "vm_insert_pages": 2,
    "vm_map_pages": 1,
    "vm_map_pages_zero": 1,
    "vmf_insert_pfn": 2,
    "vmf_insert_pfn_prot": 2,
    "vmf_insert_mixed": 2,
    "remap_vmalloc_range": 1,
    "remap_vmalloc_range_partial": 2,
    "vm_iomap_memory": 1,
    "dma_mmap_coherent": 2,
    "dma_mmap_attrs": 2,
    "dma_mmap_wc": 2,
}

# Conversions between a kernel address, its page and its pfn (with the helpers real headers expand them
# to): an export computed through them still names the memory.
KERNEL_ADDRESS_CONVERSIONS = frozenset(
    {
        "virt_to_phys", "__pa", "__phys_addr", "__phys_addr_nodebug", "__phys_addr_symbol", "virt_to_page",
        "vmalloc_to_page", "vmalloc_to_pfn", "page_to_pfn", "pfn_to_page", "virt_to_pfn", "page_to_phys",
        "page_address", "PFN_DOWN", "PFN_PHYS", "__va", "phys_to_virt", "offset_in_page", "PAGE_ALIGN",
    }
)  # fmt: skip

# Calls that give a kernel address for the memory of a page (or of an array of pages): position of the
# page(s). The address names the same memory as the page: a pinned user page mapped this way is memory
# user space can write at any time, a shared page mapped this way is the shared memory.
PAGE_ADDRESSES: dict[str, int] = {
    "page_address": 0,
    "lowmem_page_address": 0,
    "page_to_virt": 0,
    "kmap": 0,
    "kmap_local_page": 0,
    "kmap_atomic": 0,
    "vmap": 0,
    "vm_map_ram": 0,
}

# Fields that point to a context object, never to the shared memory itself.
CONTEXT_FIELDS = frozenset({"private_data", "vm_private_data", "driver_data", "platform_data", "vm_file"})
