"""The C library: what copies the address space into a child, and madvise's advice.

Allocators are in `allocators` (side USERLAND).
"""

from __future__ import annotations

# Calls that copy the address space into a child. clone() only without CLONE_VM.
FORKS = frozenset({"fork", "daemon", "forkpty", "clone", "clone3", "__clone"})
# Current glibc and musl start system()/popen() children with clone(CLONE_VM|CLONE_VFORK); older C
# libraries used fork(). --spawn-copies-memory counts them as fork for those.
OLD_LIBC_FORKS = frozenset({"system", "popen"})
MADV_DONTFORK = 10
