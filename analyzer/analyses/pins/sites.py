"""Pin sites: calls that pin user pages, directly through a pin API (or a declared wrapper) or through
a driver helper whose summary says it hands pinned pages out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gupcheck.analyses.pins.events import RETURNED
from gupcheck.kernel_api.pins import PAGE_HANDLES, PinKind, foll_longterm_value
from gupcheck.model.facts import CallSite, CfgNode, Function, Value
from gupcheck.model.findings import SourceLocation

if TYPE_CHECKING:
    from gupcheck.analyses.pins.summaries import PinSummary
    from gupcheck.model.program import Program


@dataclass(frozen=True)
class Pin:
    """Pages pinned at a call: directly through an API, or through a helper that hands them out."""

    function: Function
    node: CfgNode
    call: CallSite
    kind: PinKind
    longterm: bool
    pages: str  # key of the pages object in `function`
    api: str  # the API finally called (through helpers)
    via: tuple[SourceLocation, ...] = ()  # pin calls inside the helpers, innermost last
    nonzero: frozenset[str] = frozenset()  # what the helper made non-zero when it pinned (`batch->nr_ops`)


def pages_key(value: Value) -> str | None:
    """The object a pages argument denotes: `pages`, `pages + i` and `pages[i]` -> "pages",
    `&page` -> "page", `dev->pages[i]` -> "dev->pages", `pfn_to_page(pfn)` -> "pfn"."""
    if value.path:
        return value.path.removesuffix("[]").lstrip("*")
    if not value.base and value.calls and set(value.calls) <= PAGE_HANDLES and len(value.names) == 1:
        return value.names[0].removesuffix("[]")  # the page a frame number or address stands for
    return value.base


def _caller_paths(call: CallSite, fields: tuple[tuple[int, str], ...]) -> frozenset[str]:
    """A helper's fields (parameter, `->nr_ops`) as the caller spells them (`batch->nr_ops`,
    `&req` -> `req.count`)."""
    paths = set()
    for position, suffix in fields:
        arg = call.args[position] if position < len(call.args) else None
        if arg is None or not arg.path:
            continue
        if arg.address_of and suffix.startswith("->"):
            suffix = "." + suffix[2:]
        paths.add(arg.path + suffix)
    return frozenset(paths)


def find_pins(program: Program, summaries: dict[str, PinSummary], fn: Function) -> list[Pin]:
    """The pin sites of `fn`, given the helper summaries known so far."""
    pins: list[Pin] = []
    for node, call in fn.call_sites():
        api = program.api.pin(call.callee, len(call.args))
        if api is not None and api.pages < len(call.args):
            key = pages_key(call.args[api.pages])
            if key:
                flags = call.args[api.flags] if api.flags is not None and api.flags < len(call.args) else None
                longterm = api.longterm or _longterm(fn, flags, foll_longterm_value(program.target_kernel))
                pins.append(Pin(fn, node, call, api.kind, longterm, key, call.callee))
            continue
        callee = program.callee(fn, call)
        summary = summaries.get(callee.key) if callee else None
        if not summary:
            continue
        for position, output in sorted(summary.pins_into.items()):
            if position == RETURNED:
                key = call.assigned_to
            elif position < len(call.args):
                key = pages_key(call.args[position])
            else:
                key = None
            if key:
                pins.append(
                    Pin(
                        fn,
                        node,
                        call,
                        output.kind,
                        output.longterm,
                        key + output.suffix,
                        output.api,
                        output.via,
                        _caller_paths(call, output.nonzero),
                    )
                )
    return pins


def _longterm(fn: Function, flags: Value | None, longterm_bit: int) -> bool:
    """Whether the gup flags carry FOLL_LONGTERM: spelled, a literal with its bit, or a local that was
    assigned it."""
    if flags is None:
        return False
    if "FOLL_LONGTERM" in flags.text:
        return True
    if flags.const_value is not None and not flags.names:  # a literal such as 0x10001
        return bool(flags.const_value & longterm_bit)
    variables = set(flags.names)
    return any(
        store.target.path in variables and "FOLL_LONGTERM" in store.value.text for _node, store in fn.stores()
    )
