"""Locks: the calls that acquire and release each kind of kernel lock.

A conditional acquisition holds the lock on one outcome only: `mutex_lock_interruptible()` and the
`down_*()` family when they return 0, the trylocks when they return non-zero (`down_trylock()` is the
exception: 0 means it got the semaphore).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class LockKind(StrEnum):
    MUTEX = "mutex"
    SPINLOCK = "spinlock"
    RWLOCK = "rwlock"
    RWSEM = "rwsem"
    SEMAPHORE = "semaphore"
    DECLARED = "lock"  # a lock wrapper declared in the configuration


class LockAction(StrEnum):
    ACQUIRE = "acquire"
    RELEASE = "release"


class Holds(StrEnum):
    """On which outcome a conditional acquisition holds the lock."""

    ALWAYS = ""
    IF_ZERO = "if-zero"
    IF_NONZERO = "if-nonzero"


ACQUIRE, RELEASE = LockAction.ACQUIRE, LockAction.RELEASE
IF_ZERO, IF_NONZERO = Holds.IF_ZERO, Holds.IF_NONZERO


@dataclass(frozen=True)
class LockApi:
    kind: LockKind
    action: LockAction
    condition: Holds = Holds.ALWAYS
    mode: str = ""  # "read" or "write" for rw locks and rw semaphores


def _table() -> dict[str, LockApi]:
    table: dict[str, LockApi] = {}

    def add(names: Iterable[str], api: LockApi) -> None:
        for name in names:
            table[name] = api

    add(
        ("mutex_lock", "mutex_lock_nested", "mutex_lock_io", "mutex_lock_io_nested"),
        LockApi(LockKind.MUTEX, ACQUIRE),
    )
    add(
        (
            "mutex_lock_interruptible",
            "mutex_lock_killable",
            "mutex_lock_interruptible_nested",
            "mutex_lock_killable_nested",
        ),
        LockApi(LockKind.MUTEX, ACQUIRE, IF_ZERO),
    )
    add(("mutex_trylock",), LockApi(LockKind.MUTEX, ACQUIRE, IF_NONZERO))
    add(("mutex_unlock",), LockApi(LockKind.MUTEX, RELEASE))
    for prefix in ("spin", "raw_spin", "_raw_spin"):
        add(
            (
                f"{prefix}_lock{suffix}"
                for suffix in ("", "_bh", "_irq", "_irqsave", "_nested", "_irqsave_nested")
            ),
            LockApi(LockKind.SPINLOCK, ACQUIRE),
        )
        add(
            (f"{prefix}_trylock{suffix}" for suffix in ("", "_bh", "_irq", "_irqsave")),
            LockApi(LockKind.SPINLOCK, ACQUIRE, IF_NONZERO),
        )
        add(
            (f"{prefix}_unlock{suffix}" for suffix in ("", "_bh", "_irq", "_irqrestore")),
            LockApi(LockKind.SPINLOCK, RELEASE),
        )
    for mode in ("read", "write"):
        for prefix in ("", "_raw_"):
            add(
                (f"{prefix}{mode}_lock{suffix}" for suffix in ("", "_bh", "_irq", "_irqsave", "_nested")),
                LockApi(LockKind.RWLOCK, ACQUIRE, mode=mode),
            )
            add(
                (f"{prefix}{mode}_trylock{suffix}" for suffix in ("", "_irqsave")),
                LockApi(LockKind.RWLOCK, ACQUIRE, IF_NONZERO, mode),
            )
            add(
                (f"{prefix}{mode}_unlock{suffix}" for suffix in ("", "_bh", "_irq", "_irqrestore")),
                LockApi(LockKind.RWLOCK, RELEASE, mode=mode),
            )
        add((f"down_{mode}", f"down_{mode}_nested"), LockApi(LockKind.RWSEM, ACQUIRE, mode=mode))
        add(
            (f"down_{mode}_interruptible", f"down_{mode}_killable", f"down_{mode}_killable_nested"),
            LockApi(LockKind.RWSEM, ACQUIRE, IF_ZERO, mode),
        )
        add((f"down_{mode}_trylock",), LockApi(LockKind.RWSEM, ACQUIRE, IF_NONZERO, mode))
        add((f"up_{mode}",), LockApi(LockKind.RWSEM, RELEASE, mode=mode))
    add(("down",), LockApi(LockKind.SEMAPHORE, ACQUIRE))
    # down_trylock() returns 0 when it got the semaphore, unlike the other trylocks
    add(
        ("down_interruptible", "down_killable", "down_timeout", "down_trylock"),
        LockApi(LockKind.SEMAPHORE, ACQUIRE, IF_ZERO),
    )
    add(("up",), LockApi(LockKind.SEMAPHORE, RELEASE))
    return table


LOCK_APIS: dict[str, LockApi] = _table()
