"""Kernel APIs that are macros (or commonly so).

The front end recognises these by the macro's name at the call site, because their expansion hides
the call (`get_user` expands to a statement expression): a use is recorded as a call of that name
with the macro's arguments read from their spelling.
"""

from __future__ import annotations

MACRO_CALLS = frozenset(
    {
        "get_user", "put_user", "__get_user", "__put_user", "access_ok",
        "unsafe_get_user", "unsafe_put_user",
        "min", "max", "min_t", "max_t", "clamp", "clamp_t", "clamp_val", "array_index_nospec",
        "READ_ONCE", "WRITE_ONCE", "smp_load_acquire", "smp_store_release",
        "spin_lock_irqsave", "read_lock_irqsave", "write_lock_irqsave", "raw_spin_lock_irqsave",
        "module_init", "module_exit", "module_misc_device", "module_platform_driver",
        "list_add", "list_add_tail",
        # page <-> frame number/address conversions (plain arithmetic once expanded on x86)
        "page_to_pfn", "page_to_phys", "page_to_virt", "pfn_to_page", "virt_to_page", "page_address",
    }
)  # fmt: skip

# Macros that only wrap their argument; a condition inside them is read from its spelling.
TRANSPARENT_MACROS = frozenset({"likely", "unlikely", "WARN_ON", "WARN_ON_ONCE", "unlikely_notrace"})
