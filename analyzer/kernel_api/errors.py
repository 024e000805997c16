"""The kernel's error conventions."""

from __future__ import annotations

# Tests of a pointer that may carry an errno (`ERR_PTR(-ENOMEM)`): true when it does.
ERROR_POINTER_TESTS = frozenset({"IS_ERR", "IS_ERR_OR_NULL"})
