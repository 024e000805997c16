"""The rules: one module a rule, each exposing `RULE` (its documentation and its check).

The table below names each rule without importing its module: the module, and the analyses it
imports, are imported the first time the rule's documentation or its check is asked for, so a run
whose findings come from the cache imports none of them.
"""

from __future__ import annotations

from gupcheck.model.rule import LazyRule

ALL_RULES: tuple[LazyRule, ...] = (
    LazyRule("GUP001", "pin-outlives-syscall", f"{__name__}.pin_outlives_syscall"),
    LazyRule("GUP002", "stack-buffer-pinned", f"{__name__}.stack_buffer_pinned"),
    LazyRule("GUP003", "missing-madv-dontfork", f"{__name__}.missing_madv_dontfork"),
    LazyRule("GUP004", "unlocked-shared-mapping", f"{__name__}.unlocked_shared_mapping"),
    LazyRule("GUP005", "unchecked-user-access", f"{__name__}.unchecked_user_access"),
)


def rule_by_id(rule_id: str) -> LazyRule | None:
    wanted = rule_id.upper()
    for rule in ALL_RULES:
        if rule.id == wanted or rule.name == rule_id.lower():
            return rule
    return None
