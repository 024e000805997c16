"""Copies between user and kernel memory, the checks they need, and user-address conversions.

`copy_*_user`, `get_user`, `put_user` and `clear_user` check the range themselves (`access_ok`) and
report failure; the `__` variants do not check it and need a dominating `access_ok` on the pointer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    FROM_USER = "from-user"
    TO_USER = "to-user"
    CLEAR = "clear"  # zeroes user memory


@dataclass(frozen=True)
class UserAccess:
    direction: Direction
    user: int  # position of the user pointer
    kernel: int | None = None  # the kernel side: a pointer to the kernel buffer, or (`by_value`) a variable
    by_value: bool = False  # get_user/put_user: `kernel` names the value itself, not memory it points to
    size: int | None = None  # the byte count
    checks_range: bool = True  # validates the user range itself (access_ok inside)
    needs_range_check: bool = False  # must be dominated by access_ok on its pointer (the `__` variants)
    must_check: bool = False  # its result says whether it worked: ignoring it is a bug
    zero_on_success: bool = False  # returns 0 when it copied everything


F, T = Direction.FROM_USER, Direction.TO_USER
_CHECKED = {"checks_range": True, "must_check": True, "zero_on_success": True}
_UNCHECKED = {"checks_range": False, "needs_range_check": True}
# The unchecked copies report failure like the checked ones (bytes not copied, or -EFAULT from
# __get_user/__put_user, when the access faults): only the range check is left out.
_UNCHECKED_REPORTING = {**_UNCHECKED, "must_check": True, "zero_on_success": True}

USER_ACCESS: dict[str, UserAccess] = {
    "copy_from_user": UserAccess(F, 1, 0, size=2, **_CHECKED),
    "copy_to_user": UserAccess(T, 0, 1, size=2, **_CHECKED),
    "get_user": UserAccess(F, 1, 0, by_value=True, **_CHECKED),
    "put_user": UserAccess(T, 1, by_value=True, **_CHECKED),
    "clear_user": UserAccess(Direction.CLEAR, 0, size=1, **_CHECKED),
    "copy_struct_from_user": UserAccess(F, 2, 0, size=1, zero_on_success=True),
    "strncpy_from_user": UserAccess(F, 1, 0, size=2, must_check=True),
    "__copy_from_user": UserAccess(F, 1, 0, size=2, **_UNCHECKED_REPORTING),
    "__copy_from_user_inatomic": UserAccess(F, 1, 0, size=2, **_UNCHECKED_REPORTING),
    "__copy_to_user": UserAccess(T, 0, 1, size=2, **_UNCHECKED_REPORTING),
    "__copy_to_user_inatomic": UserAccess(T, 0, 1, size=2, **_UNCHECKED_REPORTING),
    "__get_user": UserAccess(F, 1, 0, by_value=True, **_UNCHECKED_REPORTING),
    "__put_user": UserAccess(T, 1, by_value=True, **_UNCHECKED_REPORTING),
    "__clear_user": UserAccess(Direction.CLEAR, 0, size=1, **_UNCHECKED),
    # inside user_access_begin() ... user_access_end(), which checked the range
    "unsafe_get_user": UserAccess(F, 1, 0, by_value=True, checks_range=False),
    "simple_read_from_buffer": UserAccess(T, 0, 3),
    "simple_write_to_buffer": UserAccess(F, 3, 0),
}

# Range checks and the position of the pointer they validate.
RANGE_CHECKS: dict[str, int] = {
    "access_ok": 0,
    "user_access_begin": 0,
    "user_read_access_begin": 0,
    "user_write_access_begin": 0,
}

# Calls whose result is a kernel copy of user memory (the position of the user pointer).
FETCHING_RESULTS: dict[str, int] = {
    "memdup_user": 0,
    "vmemdup_user": 0,
    "memdup_user_nul": 0,
    "strndup_user": 0,
}

# Calls that return an address in the calling process's user space (a mapping they made there).
USER_ADDRESS_RESULTS = frozenset({"vm_mmap"})

# Conversions that keep a user address what it is.
USER_ADDRESS_CONVERSIONS = frozenset({"u64_to_user_ptr", "untagged_addr", "PAGE_ALIGN_DOWN"})
# Conversions that only change how a user address is spelt: `compat_ptr(x)` and `u64_to_user_ptr(x)`
# are the address x (as casts are), so a range check of one covers an access through the other.
ADDRESS_SPELLINGS = frozenset({"u64_to_user_ptr", "compat_ptr", "untagged_addr"})

# Macros whose operand is never evaluated (only its type is used): `BITS_PER_TYPE(*p)` reads no
# memory through p. (Recorded as calls only where the macro is not defined.)
UNEVALUATED_OPERANDS = frozenset(
    {"BITS_PER_TYPE", "sizeof_field", "typeof_member", "type_max", "type_min", "is_signed_type"}
)

# Derived views.
FETCHES: dict[str, int] = {
    name: api.kernel for name, api in USER_ACCESS.items() if api.direction == F and api.kernel is not None
}  # calls that fetch user data into their kernel argument
UNCHECKED_ACCESSORS: dict[str, int] = {
    name: api.user for name, api in USER_ACCESS.items() if api.needs_range_check
}  # position of the user pointer that access_ok must cover
CHECKING_COPIES: dict[str, int] = {
    name: api.user for name, api in USER_ACCESS.items() if api.checks_range and api.zero_on_success
}  # when they return 0, the range passed access_ok inside them
MUST_CHECK = frozenset(name for name, api in USER_ACCESS.items() if api.must_check)
# return the number of bytes not copied: never negative, so `if (ret < 0)` never sees a failure
COUNTS_NOT_COPIED = frozenset(
    name
    for name, api in USER_ACCESS.items()
    if api.must_check and api.zero_on_success and api.size is not None
)
BLOCK_COPIES_FROM_USER: dict[str, tuple[int, int]] = {
    name: (api.kernel, api.user)
    for name, api in USER_ACCESS.items()
    if api.direction == F and api.kernel is not None and not api.by_value and api.size is not None
}  # (kernel destination, user source) of copies of a whole buffer or struct

# The checking variant of an unchecked accessor: the same arguments, with the range check inside.
# (The `_inatomic` copies have none that may run where they do.)
CHECKING_VARIANTS: dict[str, str] = {
    "__get_user": "get_user",
    "__put_user": "put_user",
    "__copy_from_user": "copy_from_user",
    "__copy_to_user": "copy_to_user",
    "__clear_user": "clear_user",
}
# Calls whose failure is any nonzero result (bytes not copied, or -EFAULT), and the errno a caller
# returns for it.
FAILS_NONZERO = frozenset(name for name, api in USER_ACCESS.items() if api.must_check and api.zero_on_success)
FAILURE_ERRNO = "-EFAULT"
