"""Calls that bound their result from above whatever their arguments (a clamp)."""

from __future__ import annotations

# "?:" stands for `n > MAX ? MAX : n`, which selects between values (the front end records it as a call).
CLAMPS = frozenset({"min", "min_t", "clamp", "clamp_t", "clamp_val", "array_index_nospec", "?:"})

# Size arithmetic that saturates or reports overflow instead of wrapping: the result is computed
# from the arguments (user-controlled when they are) and is no smaller than they are, so it bounds
# nothing by itself. `array_size`/`struct_size` are macros over `size_mul`/`size_add`.
SIZE_ARITHMETIC = frozenset(
    {
        "size_add", "size_sub", "size_mul", "array_size", "array3_size", "struct_size",
        "flex_array_size", "__must_check_overflow",
    }
)  # fmt: skip
# `check_mul_overflow(a, b, &d)` and kin: the position of the result they store (`d = a * b` unless
# it overflowed).
OVERFLOW_CHECKS: dict[str, int] = {
    name: 2
    for name in (
        "check_add_overflow", "check_sub_overflow", "check_mul_overflow",
        "__builtin_add_overflow", "__builtin_sub_overflow", "__builtin_mul_overflow",
    )
}  # fmt: skip
# Of those, the sums: a bound on the result bounds each (non-negative) operand.
OVERFLOW_CHECKED_SUMS = frozenset({"check_add_overflow", "__builtin_add_overflow"})
