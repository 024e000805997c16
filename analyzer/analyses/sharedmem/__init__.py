"""Memory a driver shares with user space through mmap, and how each side touches it.

Driver side (`buffers`, `accesses`, `analysis`): the buffers a driver exports (pages handed out by a
`.fault` handler, `remap_pfn_range`, `vm_insert_page(s)`, `remap_vmalloc_range`, `dma_mmap_coherent`,
`vmalloc_user` buffers) and the places inside them, every kernel access to them with the locks held on
every path, the values the kernel fetches from them, and the lock and unlock commands the driver offers.
Userland side (`userland`): the accesses a program makes to its `MAP_SHARED` mapping of the device and
the driver's lock commands it holds there.
"""

from gupcheck.analyses.sharedmem.accesses import Access, Fetch
from gupcheck.analyses.sharedmem.analysis import LockCommand, SharedMemory
from gupcheck.analyses.sharedmem.buffers import Export, Place, SharedBuffer

__all__ = ["Access", "Export", "Fetch", "LockCommand", "Place", "SharedBuffer", "SharedMemory"]
