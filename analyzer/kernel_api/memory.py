"""Memory and string calls: which of their pointer arguments they read or write through, and their
byte count. Copies to and from user space are in `uaccess`; `memory_access` answers for both."""

from __future__ import annotations

from dataclasses import dataclass

from gupcheck.kernel_api.allocators import ALLOCATORS
from gupcheck.kernel_api.uaccess import USER_ACCESS, Direction, UserAccess


@dataclass(frozen=True)
class MemoryCall:
    reads: tuple[int, ...] = ()  # pointer arguments whose memory the call reads
    writes: tuple[int, ...] = ()  # pointer arguments whose memory the call writes
    size: int | None = None  # the argument that counts the bytes


MEMORY_CALLS: dict[str, MemoryCall] = {
    # the kernel
    "memcpy": MemoryCall((1,), (0,), 2),
    "__memcpy": MemoryCall((1,), (0,), 2),
    "memmove": MemoryCall((1,), (0,), 2),
    "memset": MemoryCall((), (0,), 2),
    "memzero_explicit": MemoryCall((), (0,), 1),
    "memcmp": MemoryCall((0, 1), (), 2),
    "memcpy_toio": MemoryCall((1,), (), 2),
    "memcpy_fromio": MemoryCall((), (0,), 2),
    "copy_to_iter": MemoryCall((0,), (), 1),
    "copy_from_iter": MemoryCall((), (0,), 1),
    "kmemdup": MemoryCall((0,), ()),  # its size is the allocation's (allocators)
    "strcpy": MemoryCall((1,), (0,)),
    "strncpy": MemoryCall((1,), (0,)),
    "strscpy": MemoryCall((1,), (0,)),
    "strlcpy": MemoryCall((1,), (0,)),
    "strcat": MemoryCall((1,), (0,)),
    "strlen": MemoryCall((0,), ()),
    "strnlen": MemoryCall((0,), ()),
    "strcmp": MemoryCall((0, 1), ()),
    "strncmp": MemoryCall((0, 1), ()),
    "snprintf": MemoryCall((), (0,)),
    "scnprintf": MemoryCall((), (0,)),
    "sprintf": MemoryCall((), (0,)),
    # the C library
    "read": MemoryCall((), (1,)),
    "write": MemoryCall((1,), ()),
    "puts": MemoryCall((0,), ()),
    "fputs": MemoryCall((0,), ()),
    "fwrite": MemoryCall((0,), ()),
    "fread": MemoryCall((), (0,)),
}


def _user_copy(api: UserAccess) -> MemoryCall | None:
    if api.kernel is None or api.by_value:
        return None
    if api.direction == Direction.FROM_USER:
        return MemoryCall((), (api.kernel,), api.size)
    return MemoryCall((api.kernel,), (), api.size)


# Kernel-side memory accesses of every call that has some: memory and string calls, and the kernel
# buffer of copies to and from user space.
MEMORY_ACCESS: dict[str, MemoryCall] = {
    **{name: access for name, api in USER_ACCESS.items() if (access := _user_copy(api)) is not None},
    **MEMORY_CALLS,
}

# Arguments that size something (a copy, a comparison, an allocation): where a trusted length matters.
SIZE_ARGUMENTS: dict[str, tuple[int, ...]] = {
    **{name: allocator.size for name, allocator in ALLOCATORS.items() if allocator.size},
    **{name: (api.size,) for name, api in USER_ACCESS.items() if api.size is not None},
    **{name: (call.size,) for name, call in MEMORY_CALLS.items() if call.size is not None},
}

# Copies of a counted number of bytes into or out of kernel objects: (the count, the kernel objects).
LENGTH_SINKS: dict[str, tuple[int, tuple[int, ...]]] = {
    name: (call.size, (*call.writes, *call.reads))
    for name, call in MEMORY_ACCESS.items()
    if call.size is not None
}
