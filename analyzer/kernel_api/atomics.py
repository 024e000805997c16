"""Marked accesses (one access of shared memory by design), atomics, and counters."""

from __future__ import annotations

import re

# READ_ONCE(x) and friends: the position of the place read or written.
MARKED_READS: dict[str, int] = {"READ_ONCE": 0, "smp_load_acquire": 0}
MARKED_WRITES: dict[str, int] = {"WRITE_ONCE": 0, "smp_store_release": 0}

_ATOMIC = re.compile(
    r"^(atomic(64|_long)?_\w+|refcount_\w+|kref_\w+|(test_and_)?(set|clear|change)_bit(_lock|_unlock)?)$"
)


def is_atomic(name: str) -> bool:
    """atomic_*(), refcount_*(), kref_*() and the bit operations: read-modify-writes done atomically."""
    return _ATOMIC.match(name) is not None


# Counts and flags of openers, raised in .open and lowered in .release: position of the counter.
COUNT_UPS: dict[str, int] = {
    "atomic_inc": 0,
    "atomic_inc_return": 0,
    "refcount_inc": 0,
    "kref_get": 0,
    "atomic_add": 1,
    "test_and_set_bit": 1,
    "test_and_set_bit_lock": 1,
    "atomic_cmpxchg": 0,
    "atomic_xchg": 0,
}
COUNT_DOWNS: dict[str, int] = {
    "atomic_dec_and_test": 0,
    "refcount_dec_and_test": 0,
    "atomic_dec_return": 0,
    "atomic_sub_and_test": 1,
    "kref_put": 0,
    "atomic_dec": 0,
    "refcount_dec": 0,
    "clear_bit": 1,
    "clear_bit_unlock": 1,
}
