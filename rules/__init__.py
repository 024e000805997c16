"""The rules: one module a rule, each exposing `RULE` (its documentation and its check)."""

from __future__ import annotations

from gupcheck.ruleinfo import Rule
from gupcheck.rules import (
    missing_madv_dontfork,
    pin_outlives_syscall,
    stack_buffer_pinned,
    unchecked_user_access,
    unlocked_shared_mapping,
)

ALL_RULES: tuple[Rule, ...] = (
    pin_outlives_syscall.RULE,
    stack_buffer_pinned.RULE,
    missing_madv_dontfork.RULE,
    unlocked_shared_mapping.RULE,
    unchecked_user_access.RULE,
)


def rule_by_id(rule_id: str) -> Rule | None:
    wanted = rule_id.upper()
    for rule in ALL_RULES:
        if rule.doc.id == wanted or rule.doc.name == rule_id.lower():
            return rule
    return None
