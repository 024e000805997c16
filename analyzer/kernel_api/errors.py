"""The kernel's error conventions."""

from __future__ import annotations

# Tests of a pointer that may carry an errno (`ERR_PTR(-ENOMEM)`): true when it does.
ERROR_POINTER_TESTS = frozenset({"IS_ERR", "IS_ERR_OR_NULL"})

# Return types of functions that return 0 or a negative errno (or a count): `return -EFAULT;` fits them.
ERRNO_RETURN_TYPES = frozenset({"int", "long", "long int", "ssize_t", "loff_t", "long long"})
