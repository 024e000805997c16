"""API knowledge has one home: a line added to a kernel_api table reaches every view and analysis that
uses that family, and the views agree with each other."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from gupcheck.kernel_api import allocators, memory, uaccess
from gupcheck.kernel_api.declared import ApiKnowledge, PinWrapper
from gupcheck.kernel_api.overlay import Api
from gupcheck.kernel_api.pins import FOLL_GET, FOLL_PIN


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter, so that a table changed before the views are imported shows
    what one more line in that table does."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_one_line_in_a_table_reaches_every_derived_view() -> None:
    done = run_python(
        """
        import sys
        from gupcheck.kernel_api import allocators, locks, pins

        assert "gupcheck.kernel_api.memory" not in sys.modules  # its views are derived when it loads
        allocators.ALLOCATORS["drv_pool_alloc"] = allocators.Allocator(allocators.K, (1,))
        pins.PIN_APIS["get_user_pages_longterm"] = pins.PinApi(pins.FOLL_GET, 3, 2)
        locks.LOCK_APIS["mutex_lock_drv"] = locks.LockApi(locks.LockKind.MUTEX, locks.ACQUIRE)

        from gupcheck.kernel_api import memory
        from gupcheck.kernel_api.overlay import Api

        assert allocators.is_allocator("drv_pool_alloc")
        assert memory.SIZE_ARGUMENTS["drv_pool_alloc"] == (1,)
        api = Api()
        assert api.pin("get_user_pages_longterm", 5).kind == pins.FOLL_GET
        assert api.lock("mutex_lock_drv").action == locks.ACQUIRE
        print("ok")
        """
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_copies_to_and_from_user_are_memory_accesses_sized_like_other_copies() -> None:
    for name, access in uaccess.USER_ACCESS.items():
        if access.kernel is None or access.by_value:
            continue
        view = memory.MEMORY_ACCESS[name]
        kernel_side = view.writes if access.direction == uaccess.Direction.FROM_USER else view.reads
        assert kernel_side == (access.kernel,), name
        if access.size is not None:
            assert memory.LENGTH_SINKS[name] == (access.size, (access.kernel,)), name


def test_every_sized_allocator_is_a_size_argument_and_a_heap_source() -> None:
    for name, allocator in allocators.ALLOCATORS.items():
        if allocator.size:
            assert memory.SIZE_ARGUMENTS[name] == allocator.size, name
        assert allocators.is_allocator(name) == (allocator.out is None), name
    # the drifted tables of the past, now one: each of these sized something for one rule only
    for name in ("vzalloc", "memdup_user", "strncpy_from_user", "kmalloc_node", "kvcalloc"):
        assert name in memory.SIZE_ARGUMENTS, name


def test_unchecked_accessors_are_the_user_accesses_that_do_not_check_the_range() -> None:
    assert set(uaccess.UNCHECKED_ACCESSORS) == {
        "__copy_from_user",
        "__copy_from_user_inatomic",
        "__copy_to_user",
        "__copy_to_user_inatomic",
        "__get_user",
        "__put_user",
        "__clear_user",
    }
    for name in uaccess.CHECKING_COPIES:
        assert uaccess.USER_ACCESS[name].checks_range, name


def test_declared_wrappers_are_merged_once_and_kernel_releases_win() -> None:
    declared = ApiKnowledge(
        pins=(PinWrapper("vendor_pin", FOLL_PIN, pages=2), PinWrapper("vendor_pin", FOLL_GET, pages=1)),
        releases={"vendor_unpin": 0, "put_page": 3},
        locks=("vendor_lock",),
        unlocks=("vendor_unlock",),
    )
    api = Api(declared)
    pin = api.pin("vendor_pin", 3)
    assert pin is not None and pin.kind == FOLL_PIN and pin.pages == 2  # the first declaration
    assert api.release_position("vendor_unpin") == 0
    assert api.release_position("put_page") == 0  # the kernel's own signature is not redeclared
    assert api.lock("vendor_lock").action.value == "acquire"
    assert api.lock("vendor_unlock").action.value == "release"
    assert api.pin("get_user_pages_fast", 4).kind == FOLL_GET
    assert Api().pin("vendor_pin", 3) is None
