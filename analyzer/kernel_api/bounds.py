"""Calls that bound their result from above whatever their arguments (a clamp)."""

from __future__ import annotations

# "?:" stands for `n > MAX ? MAX : n`, which selects between values (the front end records it as a call).
CLAMPS = frozenset({"min", "min_t", "clamp", "clamp_t", "clamp_val", "array_index_nospec", "?:"})
