"""GUP005 (b): the result of a copy that reports failure is ignored."""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.analyses.results import ResultUse, result_use
from gupcheck.kernel_api.errors import ERRNO_RETURN_TYPES
from gupcheck.kernel_api.uaccess import COUNTS_NOT_COPIED, FAILS_NONZERO, FAILURE_ERRNO, MUST_CHECK
from gupcheck.model.facts import CallSite, CfgNode, EdgeLabel, Function, NodeKind, root_of
from gupcheck.model.findings import Finding, Fix, Level, Replacement, SourceLocation
from gupcheck.rules.edits import call_text
from gupcheck.rules.unchecked_user_access.report import finding


def findings(context: Analyses, fn: Function) -> Iterator[Finding]:
    seen: set[SourceLocation] = set()  # a call in a macro's argument is met at each statement it expands to
    for node, call in fn.call_sites():
        if call.callee not in MUST_CHECK or call.location in seen:
            continue
        seen.add(call.location)
        hint = (
            f"`if ({call.callee}(...)) return -EFAULT;` — it returns the number of bytes "
            "not copied (or -EFAULT for get_user/put_user)"
        )
        if not call.result_used:
            yield finding(
                fn,
                call,
                call.location,
                f"result of '{call.callee}' is ignored: a failed copy goes unnoticed",
                hint,
                level=Level.WARNING,
                fixes=_fixes(context, fn, node, call),
            )
            continue
        variable = call.assigned_to
        if not variable or root_of(variable) != variable or variable not in fn.locals:
            continue
        use = result_use(fn, node, variable, never_negative=call.callee in COUNTS_NOT_COPIED)
        what = _UNNOTICED.get(use)
        if what is not None:
            yield finding(
                fn,
                call,
                call.location,
                f"result of '{call.callee}' in '{variable}' {what}",
                hint,
                level=Level.WARNING,
            )


# How a result kept in a variable can still go unnoticed.
_UNNOTICED = {
    ResultUse.NEVER_TRUE_TEST: "is only tested for a negative value, which it never is (it counts the "
    "bytes not copied): a failed copy goes unnoticed",
    ResultUse.ONLY_LOGGED: "is only logged: the function goes on as if the copy had worked",
    ResultUse.UNUSED: "is never read: a failed copy goes unnoticed",
}


def _fixes(context: Analyses, fn: Function, node: CfgNode, call: CallSite) -> list[Fix]:
    """`if (copy(...)) return -EFAULT;` where that is mechanical and safe: the call is a statement of its
    own (perhaps cast to void) in a function that returns an errno, not the sole body of an `if` (an
    `else` would change hands), and returning there skips nothing that must run."""
    if call.callee not in FAILS_NONZERO or fn.return_type not in ERRNO_RETURN_TYPES:
        return []
    statement, region = node.location, call.location
    if node.kind != NodeKind.STMT or statement is None or statement.path != region.path:
        return []
    spelled = _squeezed(node.text)
    text = _squeezed(call_text(call))
    if spelled not in (text, f"(void){text}") or (statement.end_line, statement.end_column) != (
        region.end_line,
        region.end_column,
    ):
        return []
    if _then_branch(fn, node):
        return []
    if not context.uaccess.returns_cleanly_after(fn, node):
        return []
    name_end = region.column + len(call.callee)
    head = Replacement(
        SourceLocation(region.path, statement.line, statement.column, region.line, name_end),
        f"if ({call.callee}",
        spelled[: len(spelled) - len(text)] + call.callee,
    )
    tail = Replacement(
        SourceLocation(
            region.path, region.end_line, region.end_column - 1, region.end_line, region.end_column
        ),
        f")) return {FAILURE_ERRNO}",
        ")",
    )
    return [Fix(f"return {FAILURE_ERRNO} when {call.callee}() fails", (head, tail))]


def _then_branch(fn: Function, node: CfgNode) -> bool:
    """Whether `node` is where a branch goes when its condition holds (the body of an `if`, with or
    without braces: the facts do not say, so an `else` may follow)."""
    return any(
        edge.target == node.id and edge.label == EdgeLabel.TRUE for other in fn.nodes for edge in other.succs
    )


def _squeezed(text: str) -> str:
    return "".join(text.split())
