"""GUP001 pin-outlives-syscall."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.analyses.pins import Fate, Pin, PinAnalysis
from gupcheck.kernel_api.entries import context_words
from gupcheck.kernel_api.pins import (
    FOLL_GET,
    FOLL_PIN_RELEASES,
    LOCKED_LAST_ARGUMENT,
    PIN_RELEASE_OF,
    foll_pin_counterpart,
    pin_api,
)
from gupcheck.model.facts import Function, NodeKind, last_field
from gupcheck.model.findings import Finding, Fix, FlowStep, Level, RelatedLocation
from gupcheck.model.rule import Rule, RuleDoc
from gupcheck.rules.edits import rebuildable, rename, rewrite

DOC = RuleDoc(
    id="GUP001",
    name="pin-outlives-syscall",
    level=Level.ERROR,
    cwe=("CWE-401", "CWE-416", "CWE-662"),
    summary="User pages stay pinned after the syscall returns without a proper long-term pin, or leak",
    what_it_does="""
Follows every pin of user pages (`get_user_pages*`, `pin_user_pages*`, or a driver helper that
wraps them) along each path to the return of the syscall that pinned them: released, stored in
a longer-lived place (a global, the per-file context, a list or xarray), handed back to the
caller, or lost. Pages kept after the syscall returns must be a long-term pin:
`pin_user_pages*(..., FOLL_LONGTERM)`, released with `unpin_user_pages*()`. A FOLL_GET reference
kept past the syscall is an error, a FOLL_PIN without FOLL_LONGTERM a warning, and pages that
are neither released nor kept on some path a leak.
""",
    why_bad="""
A FOLL_GET reference (`get_user_pages*`) does not keep the device's page and the process's page
the same: after fork() the parent's next write copies the page and the device keeps the old one,
and the page can be migrated or reclaimed under it. Long-term FOLL_PIN pins are accounted and
kept out of movable zones and CMA. A leaked pin never lets the page go.
""",
    example="""
static long buf_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct buf_ctx *ctx = file->private_data;

	/* kept until .release: a FOLL_GET reference used as a long-term pin */
	if (get_user_pages_fast(arg, ctx->nr, FOLL_WRITE, ctx->pages) != ctx->nr)
		return -EFAULT;
	return 0;
}
""",
    use_instead="""
static long buf_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct buf_ctx *ctx = file->private_data;
	int pinned;

	pinned = pin_user_pages_fast(arg, ctx->nr, FOLL_WRITE | FOLL_LONGTERM, ctx->pages);
	if (pinned < 0)
		return pinned;
	if (pinned != ctx->nr) {
		unpin_user_pages(ctx->pages, pinned);
		return -EFAULT;
	}
	return 0;	/* unpin_user_pages() in .release */
}
""",
    references=(
        "https://docs.kernel.org/core-api/pin_user_pages.html",
        "https://lwn.net/Articles/807108/",
    ),
)


def check(context: Analyses) -> Iterator[Finding]:
    analysis = context.pins
    for pin in sorted(analysis.all_pins(), key=lambda p: (p.function.file, p.call.location.line)):
        fate = analysis.fate(pin)
        if fate.handed_out or (fate.returned and not fate.stored) or fate.escaped:
            continue  # a helper: its callers decide (or code gupcheck cannot see keeps it)
        entries = analysis.syscalls_keeping(pin, fate)
        if entries:
            finding = _outlives(analysis, pin, fate, entries[0])
            if finding is not None:
                yield finding
        if fate.leak_path is not None:
            yield _leak(pin, fate)


RULE = Rule(DOC, check)


def _outlives(analysis: PinAnalysis, pin: Pin, fate: Fate, entry: tuple[Function, str]) -> Finding | None:
    if not pin.longterm and analysis.mirrored_by_notifier(pin):
        return None  # Case 3: an MMU notifier drops the pages when user space's mapping changes
    # held until the transfer completes (Case 1, direct I/O): FOLL_PIN is right there, without LONGTERM
    for_io = analysis.released_at_completion(pin, fate)
    if pin.kind == FOLL_GET:
        level = Level.ERROR
        what = (
            f"a FOLL_GET reference from {pin.api}() is kept after {context_words(entry[1])} returns: "
            "it is not a long-term pin"
        )
        hint = (
            "pin with pin_user_pages*() and release with unpin_user_pages*() where the I/O completes: "
            "pages held for a transfer need FOLL_PIN (Case 1 of pin_user_pages.rst), not FOLL_LONGTERM"
            if for_io
            else "pin with pin_user_pages*(..., FOLL_LONGTERM) and release with unpin_user_pages*(), "
            "or stop keeping the pages (an MMU notifier mirrors memory without pinning it)"
        )
    elif not pin.longterm and for_io:
        return None  # FOLL_PIN held until the I/O completes: what Case 1 asks for
    elif not pin.longterm:
        level = Level.WARNING
        context = context_words(entry[1])
        what = f"pages pinned by {pin.api}() without FOLL_LONGTERM are kept after {context} returns"
        hint = "add FOLL_LONGTERM to the gup flags: the pin lasts beyond the syscall"
    else:
        return None
    target = analysis.program.target_kernel
    if target < (5, 6):
        hint = (
            "this kernel has no pin_user_pages(): pass FOLL_LONGTERM to get_user_pages() "
            "(5.2+) or stop keeping the pages"
            if target >= (5, 2)
            else "this kernel has neither pin_user_pages() nor FOLL_LONGTERM: do not keep the pages "
            "past the syscall, or use an MMU notifier"
        )
    store_node, stored_in = fate.stored[0].node, fate.stored[0].place
    stored_at = store_node.location or pin.call.location
    field = last_field(stored_in).rstrip("()")
    related = [RelatedLocation(stored_at, f"the pages are kept in '{stored_in}'")]
    releases = analysis.releases_of_field(field) if field else []
    for fn, call in releases[:3]:
        roles = sorted({role for _entry, role in analysis.syscall_entries_reaching(fn)})
        where = f"reached from {', '.join(roles)}" if roles else "not reached from a syscall"
        related.append(RelatedLocation(call.location, f"released here, in {fn.name}() ({where})"))
    entry_fn = entry[0]
    flow = [
        FlowStep(entry_fn.location, f"{entry[1]} entry point {entry_fn.name}()"),
        *(FlowStep(location, "pinned inside this helper") for location in pin.via),
        FlowStep(pin.call.location, f"pages pinned ({pin.kind}{', LONGTERM' if pin.longterm else ''})"),
        FlowStep(stored_at, f"kept in '{stored_in}'"),
        FlowStep(entry_fn.location, f"{entry_fn.name}() returns with the pages pinned"),
    ]
    return Finding(
        rule_id=DOC.id,
        level=level,
        message=f"{what} (kept in '{stored_in}')",
        location=pin.call.location,
        function=pin.function.name,
        snippet_key=f"{pin.call.callee}:{pin.pages}",
        related=related,
        flow=flow,
        hint=hint,
        fixes=_fixes(analysis, pin),
    )


def _leak(pin: Pin, fate: Fate) -> Finding:
    path = fate.leak_path or []
    flow = [FlowStep(pin.call.location, f"pages pinned by {pin.api}()")]
    flow += [
        FlowStep(node.location, node.text[:60] or node.kind.value)
        for node in path
        if node.location is not None and node.text
    ]
    returns = [n.location for n in path if n.location is not None and n.kind == NodeKind.RETURN]
    exit_line = returns[-1] if returns else None
    message = (
        f"pages '{pin.pages}' pinned by {pin.api}() leak on a path that neither releases, keeps "
        "nor returns them"
    )
    if exit_line is not None:
        message += f" (returns at line {exit_line.line})"
    return Finding(
        rule_id=DOC.id,
        level=Level.ERROR,
        message=message,
        location=pin.call.location,
        function=pin.function.name,
        snippet_key=f"leak:{pin.call.callee}:{pin.pages}",
        related=[RelatedLocation(exit_line, "the function returns here with the pages still pinned")]
        if exit_line is not None
        else [],
        flow=flow,
        hint="release the pages on this path (unpin_user_pages() / put_page() on each pinned page; "
        "a partial pin holds the pages it returned)",
    )


def _fixes(analysis: PinAnalysis, pin: Pin) -> list[Fix]:
    """FOLL_PIN | FOLL_LONGTERM at a direct API call; for a FOLL_GET reference, also unpin_user_page(s)()
    at every release of its pages, when the analysis names them all and they release nothing else."""
    call = pin.call
    target = analysis.program.target_kernel
    if pin.via or call.via_macro or not rebuildable(call):
        return []
    api = pin_api(call.callee, len(call.args))
    if api is None or api.flags is None or api.flags >= len(call.args):
        return []
    if call.callee in LOCKED_LAST_ARGUMENT and call.args[-1].text not in ("NULL", "0"):
        return []  # FOLL_LONGTERM refuses a `locked` argument
    name = foll_pin_counterpart(call.callee, target) if pin.kind == FOLL_GET else call.callee
    if name is None or target < (5, 6):
        return []
    args = [arg.text for arg in call.args]
    if not pin.longterm:
        if "FOLL_LONGTERM" in args[api.flags]:
            return []  # spelled but not set (`flags & ~FOLL_LONGTERM`): not mechanical
        args[api.flags] = _with_longterm(args[api.flags])
    replacements = [rewrite(call, name, args)]
    if pin.kind == FOLL_GET:
        releases = analysis.releases(pin)
        if not releases.complete or any(other.kind == FOLL_GET for other in releases.shared):
            return []  # a release the fix cannot see, or one that also drops other references
        for _fn, release in releases.calls:
            if release.callee in FOLL_PIN_RELEASES:
                continue  # already unpins (a branch for pages pinned the other way)
            new = PIN_RELEASE_OF.get(release.callee)
            if new is None or release.via_macro:
                return []  # a helper or a release without a same-argument FOLL_PIN twin
            replacements.append(rename(release, new))
    description = f"pin with {name}(..., FOLL_LONGTERM)" + (
        " and release with unpin_user_page(s)()" if len(replacements) > 1 else ""
    )
    return [Fix(description, tuple(replacements))]


def _with_longterm(flags: str) -> str:
    """The gup flags with FOLL_LONGTERM added (in parentheses unless they are a plain `A | B`)."""
    if flags == "0":
        return "FOLL_LONGTERM"
    if re.fullmatch(r"\w+(\s*\|\s*\w+)*", flags):
        return f"{flags} | FOLL_LONGTERM"
    return f"({flags}) | FOLL_LONGTERM"
