"""Kernel <-> userland: userland `ioctl()` calls linked to the driver commands that handle them.

Driver side: for each command an ioctl handler dispatches (`switch (cmd)`), what it pins: the
`arg` address itself or field F of the struct copied in from `arg`, with which pin kind, and
whether the pin outlives the syscall (from the pin analysis). Userland side: each `ioctl(fd,
REQUEST, arg)` with the origin of the buffer it hands over (stack, heap, global, the device's own
mapping), directly or through a field of the request struct, through locals and helper
parameters; `madvise(MADV_DONTFORK)` coverage; whether the program can fork.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from gupcheck.analyses.dataflow import reachable_from
from gupcheck.analyses.pins import Pin, PinAnalysis
from gupcheck.kernel_api.allocators import ALLOCATORS, allocates
from gupcheck.kernel_api.libc import FORKS, MADV_DONTFORK, OLD_LIBC_FORKS
from gupcheck.kernel_api.pins import PinKind
from gupcheck.kernel_api.uaccess import BLOCK_COPIES_FROM_USER, USER_ADDRESS_CONVERSIONS
from gupcheck.model.facts import (
    CallSite,
    CfgNode,
    Function,
    Side,
    Value,
    ValueKind,
    last_field,
    record_of,
    root_of,
)
from gupcheck.model.findings import FlowStep, SourceLocation
from gupcheck.model.program import Program


class FromArgument(StrEnum):
    """What a driver value is in terms of the ioctl argument."""

    ARG = "arg"  # the argument itself: the user address
    STRUCT = "struct"  # a struct copied in from the argument


@dataclass(frozen=True)
class ArgumentField:
    """Field `name` of the struct copied in from the ioctl argument."""

    name: str


ArgumentPart = FromArgument | ArgumentField
ARG = FromArgument.ARG  # the pinned address is the ioctl argument itself


class Origin(StrEnum):
    """Where the memory a userland buffer pointer points to comes from."""

    STACK = "stack"
    HEAP = "heap"
    DEVICE = "device"  # the device's own mmap


@dataclass(frozen=True)
class CommandPin:
    """A pin done by a driver command on memory the caller of the ioctl names."""

    handler: Function | None  # None: declared in the configuration, the driver is not analysed
    macro: str | None
    value: int | None
    case_location: SourceLocation  # the case label, or the configuration file of a declared command
    target: str  # ARG, or the name of the request struct's field holding the address
    pin: Pin | None  # None for a declared command
    kept: bool  # still pinned when the ioctl returns
    kept_in: str = ""
    kept_at: SourceLocation | None = None
    declared_kind: PinKind | None = None  # for a declared command

    @property
    def kind(self) -> PinKind | None:
        return self.pin.kind if self.pin is not None else self.declared_kind

    @property
    def api(self) -> str:
        """The pin API, as in "pinned by get_user_pages_fast()"."""
        return f"{self.pin.api}()" if self.pin is not None else "the driver (declared in the configuration)"

    @property
    def pin_location(self) -> SourceLocation:
        return self.pin.call.location if self.pin is not None else self.case_location

    @property
    def handler_name(self) -> str:
        return f"{self.handler.name}()" if self.handler is not None else "its driver (declared)"


@dataclass(frozen=True)
class BufferOrigin:
    kind: Origin
    variable: str
    location: SourceLocation
    function: Function
    dontfork: bool = False


@dataclass(frozen=True)
class UserIoctl:
    function: Function
    node: CfgNode
    call: CallSite
    macro: str | None
    value: int | None
    target: str  # ARG or a field name
    origin: BufferOrigin


@dataclass
class Link:
    request: UserIoctl
    command: CommandPin


@dataclass
class CrossLayer:
    commands: list[CommandPin] = field(default_factory=list)
    requests: list[UserIoctl] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)


def link_program(program: Program, pins: PinAnalysis) -> CrossLayer:
    result = CrossLayer()
    result.commands = driver_commands(program, pins) + declared_commands(program)
    ioctls = _userland_ioctls(program)
    result.requests = ioctls
    for request in result.requests:
        for command in result.commands:
            if (
                same_request(request.macro, request.value, command.macro, command.value)
                and request.target == command.target
            ):
                result.links.append(Link(request, command))
    return result


def unresolved_requests(program: Program) -> list[CallSite]:
    """Userland `ioctl()` calls whose request no analysed driver dispatches and no configuration
    declares."""
    dispatched = [
        (macro, value)
        for fn in program.kernel_functions()
        for macro, value, _node in program.ioctl_dispatch(fn)
    ]
    dispatched += [(declared.macro, declared.value) for declared in program.api.pinning_ioctls]
    return [
        call
        for _fn, _node, call in _all_ioctl_calls(program)
        if not any(same_request(call.args[1].macro, call.args[1].const_value, m, v) for m, v in dispatched)
    ]


def same_request(macro_a: str | None, value_a: int | None, macro_b: str | None, value_b: int | None) -> bool:
    """Requests match by their _IOC value when both sides know it, else by macro name."""
    if value_a is not None and value_b is not None:
        return value_a == value_b
    return macro_a is not None and macro_a == macro_b


# -- driver side -------------------------------------------------------------------------------
def driver_commands(program: Program, pins: PinAnalysis) -> list[CommandPin]:
    found: list[CommandPin] = []
    propagated: Propagated = {}  # each function's environment is worked out once, not once per case
    for handler in program.kernel_functions():
        cases = program.ioctl_dispatch(handler)
        if not cases:
            continue
        arg = handler.params[2].name if len(handler.params) > 2 else None
        for macro, value, case_node in cases:
            env: dict[str, ArgumentPart] = {arg: ARG} if arg else {}
            region = reachable_from(handler, case_node.id) | {case_node.id}
            for pin, target in _pins_from(program, pins, handler, region, env, 0, propagated):
                fate = pins.fate(pin)
                kept = pins.outlives_syscall(pin, fate)
                kept_in, kept_at = ("", None)
                if kept and fate.stored:
                    node, place = fate.stored[0].node, fate.stored[0].place
                    kept_in, kept_at = place, node.location
                found.append(
                    CommandPin(
                        handler,
                        macro,
                        value,
                        case_node.location or handler.location,
                        target,
                        pin,
                        kept,
                        kept_in,
                        kept_at,
                    )
                )
    return found


def declared_commands(program: Program) -> list[CommandPin]:
    """Pinning ioctl requests the configuration declares for drivers whose source is not analysed."""
    return [
        CommandPin(
            None,
            declared.macro,
            declared.value,
            declared.declared_at,
            declared.field or ARG,
            None,
            True,
            declared_kind=declared.kind,
        )
        for declared in program.api.pinning_ioctls
    ]


def _origin(value: Value, env: dict[str, ArgumentPart]) -> ArgumentPart | None:
    """What a driver value is in terms of the ioctl argument: the address itself, a struct copied in
    from it, a field of that struct, or None."""
    for name in (value.path, value.base, *value.names):
        if not name:
            continue
        root = root_of(name)
        kind = env.get(root)
        if kind is None:
            continue
        if kind == FromArgument.STRUCT:
            return FromArgument.STRUCT if name == root else ArgumentField(last_field(name))
        return kind
    return None


Propagated = dict[tuple[str, frozenset[tuple[str, ArgumentPart]], int], dict[str, ArgumentPart]]


def _propagate(
    program: Program, fn: Function, env: dict[str, ArgumentPart], depth: int, propagated: Propagated
) -> dict[str, ArgumentPart]:
    """Extend `env` over `fn` in statement order: copies of arg, and structs copied in from arg
    here or by a helper that fills its parameter (`rr_get_region(&reg, uarg)`). Remembered in
    `propagated`."""
    key = (fn.key, frozenset(env.items()), depth)
    if key not in propagated:
        propagated[key] = _propagate_over(program, fn, env, depth, propagated)
    return propagated[key]


def _propagate_over(
    program: Program, fn: Function, env: dict[str, ArgumentPart], depth: int, propagated: Propagated
) -> dict[str, ArgumentPart]:
    env = dict(env)
    for node in fn.nodes:
        for call in node.calls:
            for position in _filled_from_user(program, fn, call, env, depth, propagated):
                dest = call.args[position]
                if dest.path:
                    env[root_of(dest.path)] = FromArgument.STRUCT
        for store in node.stores:
            target = store.target.path
            if target and target == root_of(target):
                origin = _origin(store.value, env)
                if origin is not None and set(store.value.calls) <= USER_ADDRESS_CONVERSIONS:
                    env.setdefault(target, origin)
    return env


def _filled_from_user(
    program: Program,
    fn: Function,
    call: CallSite,
    env: dict[str, ArgumentPart],
    depth: int,
    propagated: Propagated,
) -> list[int]:
    """Arguments a call fills with a struct copied from the ioctl argument."""
    if call.callee in BLOCK_COPIES_FROM_USER:
        dest, source = BLOCK_COPIES_FROM_USER[call.callee]
        if max(dest, source) < len(call.args) and _origin(call.args[source], env) == ARG:
            return [dest]
        return []
    callee = program.callee(fn, call)
    if callee is None or depth > 4 or program.side_of(callee) != Side.KERNEL:
        return []
    callee_env = {
        callee.params[i].name: origin
        for i, arg in enumerate(call.args)
        if i < len(callee.params) and (origin := _origin(arg, env)) is not None
    }
    if ARG not in callee_env.values():
        return []
    inner = _propagate(program, callee, callee_env, depth + 1, propagated)
    return [
        p.index
        for p in callee.params
        if inner.get(p.name) == FromArgument.STRUCT and p.index < len(call.args)
    ]


def _pins_from(
    program: Program,
    pins: PinAnalysis,
    fn: Function,
    region: set[int],
    env: dict[str, ArgumentPart],
    depth: int,
    propagated: Propagated,
) -> list[tuple[Pin, str]]:
    """Pins reached from `region` of `fn` whose user address comes from the ioctl argument."""
    env = _propagate(program, fn, env, depth, propagated)
    found: list[tuple[Pin, str]] = []
    by_call = {(pin.node.id, id(pin.call)): pin for pin in pins.pins_in(fn)}
    for node_id in sorted(region):
        node = fn.nodes[node_id]
        for call in node.calls:
            api = program.api.pin(call.callee, len(call.args))
            pin = by_call.get((node_id, id(call)))
            if pin is not None and api is not None and api.start < len(call.args):
                origin = _origin(call.args[api.start], env)
                if origin == ARG:
                    found.append((pin, ARG))
                elif isinstance(origin, ArgumentField):
                    found.append((pin, origin.name))
                continue
            callee = program.callee(fn, call)
            if callee is None or depth > 4 or program.side_of(callee) != Side.KERNEL:
                continue
            callee_env: dict[str, ArgumentPart] = {}
            for index, arg in enumerate(call.args):
                if index < len(callee.params):
                    origin = _origin(arg, env)
                    if origin is not None:
                        callee_env[callee.params[index].name] = origin
            if callee_env:
                inner = _pins_from(
                    program, pins, callee, {n.id for n in callee.nodes}, callee_env, depth + 1, propagated
                )
                # a helper that hands its pages out (`rr_pin(&reg->pages, ...)`) leaves the decision to
                # this call: what this function does with them (keeps them, releases them) is the fate
                found.extend(
                    (pin if pin is not None and pins.fate(inner_pin).handed_out else inner_pin, target)
                    for inner_pin, target in inner
                )
    return found


# -- userland side -----------------------------------------------------------------------------
def _all_ioctl_calls(program: Program) -> list[tuple[Function, CfgNode, CallSite]]:
    """The userland `ioctl(fd, request, arg)` calls."""
    return [site for site in program.calls_to("ioctl", Side.USERLAND) if len(site[2].args) >= 3]


def _userland_ioctls(program: Program) -> list[UserIoctl]:
    found = []
    for fn, node, call in _all_ioctl_calls(program):
        request, arg = call.args[1], call.args[2]
        origin = buffer_origin(program, fn, arg, depth=0)
        if origin is not None:
            found.append(UserIoctl(fn, node, call, request.macro, request.const_value, ARG, origin))
        if arg.kind == ValueKind.STACK and arg.address_of and arg.path:
            # a request struct: the buffers its fields point to
            for field_name, value in _struct_fields(fn, arg.path):
                origin = buffer_origin(program, fn, value, depth=0)
                if origin is not None:
                    found.append(
                        UserIoctl(fn, node, call, request.macro, request.const_value, field_name, origin)
                    )
    return found


def _struct_fields(fn: Function, struct: str) -> list[tuple[str, Value]]:
    fields: dict[str, Value] = {}
    for _node, store in fn.stores():
        target = store.target.path or ""
        if target.startswith(struct + ".") and target.count(".") == struct.count(".") + 1:
            fields[target.rsplit(".", 1)[1]] = store.value
    return sorted(fields.items())


def buffer_origin(program: Program, fn: Function, value: Value, depth: int) -> BufferOrigin | None:
    """Where the memory a pointer value points to comes from."""
    if depth > 5:
        return None
    kind = value.kind
    location = fn.location
    if value.kind == ValueKind.HEAP or allocates(value.calls):
        return BufferOrigin(Origin.HEAP, value.text, location, fn, _dontfork(fn, value.text))
    if "mmap" in value.calls:
        return BufferOrigin(_mmap_kind(value.text), value.text, location, fn, _dontfork(fn, value.text))
    name = value.path or value.base
    if not name:
        return None
    variable = fn.locals.get(name)
    if kind == ValueKind.STACK and variable is not None and (variable.is_array or value.address_of):
        return BufferOrigin(Origin.STACK, name, variable.location, fn)
    if kind == ValueKind.GLOBAL:
        return None  # globals live as long as the program: never a stack or fork question here
    param = next((p for p in fn.params if p.name == name), None)
    if param is not None:
        origins = [
            buffer_origin(program, ref.caller, ref.call.args[param.index], depth + 1)
            for ref in program.callers(fn)
            if param.index < len(ref.call.args)
        ]
        origins = [o for o in origins if o is not None]
        return origins[0] if origins else None
    root = root_of(name)
    known_root = root in fn.locals or any(p.name == root for p in fn.params)
    if variable is None and (root == name or not known_root):
        return None
    origin = _assigned_origin(program, fn, name, depth)
    if origin is None and root != name:
        # `s->buf` filled by another function (`setup(s)`: `s->buf = aligned_alloc(...)` or
        # `posix_memalign(&s->buf, ...)`): what the program stores into that field of that type
        for other in _functions_filling(program, fn, name):
            suffix = name[len(root) :]
            for node in other.nodes:
                paths = {store.target.path for store in node.stores}
                paths |= {arg.path for call in node.calls for arg in call.args if arg.address_of}
                for path in paths:
                    if path and path.endswith(suffix) and root_of(path) + suffix == path:
                        origin = _assigned_origin(program, other, path, depth)
                        if origin is not None:
                            return origin
    return origin


def _assigned_origin(program: Program, fn: Function, name: str, depth: int) -> BufferOrigin | None:
    """Where the memory a local or an access path (`s->buf`) of `fn` points to comes from: an
    allocator's out-parameter (`posix_memalign(&s->buf, ...)`) or what is stored into it."""
    for node in fn.nodes:
        for call in node.calls:
            allocator = ALLOCATORS.get(call.callee)
            position = allocator.out if allocator is not None else None
            if position is not None and position < len(call.args) and call.args[position].path == name:
                return BufferOrigin(Origin.HEAP, name, call.location, fn, _dontfork(fn, name))
        for store in node.stores:
            if store.target.path == name and store.value.path != name:
                origin = buffer_origin(program, fn, store.value, depth + 1)
                if origin is not None:
                    alias = origin.kind != Origin.STACK and origin.function is fn
                    return BufferOrigin(
                        origin.kind,
                        name if alias else origin.variable,
                        store.location if origin.kind != Origin.STACK else origin.location,
                        origin.function,
                        origin.dontfork or _dontfork(fn, name),
                    )
    return None


def _functions_filling(program: Program, fn: Function, path: str) -> list[Function]:
    """The userland functions with a variable or parameter of the same type as the root of `path`
    (so their `x->field` is the same field), `fn` aside; at most 64 (bounded)."""
    root = root_of(path)
    declared = fn.locals.get(root) or next((p for p in fn.params if p.name == root), None)
    if declared is None:
        return []
    wanted = record_of(declared.type)
    found = []
    for other in program.functions_of(Side.USERLAND):
        if other is fn:
            continue
        variables = [*other.params, *other.locals.values()]
        if any(record_of(v.type) == wanted for v in variables):
            found.append(other)
            if len(found) >= 64:
                break
    return found


def _mmap_kind(text: str) -> Origin:
    """An anonymous mapping is ordinary memory; a mapping of a device is the device's."""
    arguments = text[text.find("(") + 1 :]
    return Origin.HEAP if "MAP_ANONYMOUS" in arguments or "MAP_ANON" in arguments else Origin.DEVICE


def _dontfork(fn: Function, variable: str) -> bool:
    for _node, call in fn.call_sites():
        if call.callee != "madvise" or len(call.args) < 3:
            continue
        advice = call.args[2]
        if "MADV_DONTFORK" in advice.text or advice.const_value == MADV_DONTFORK:
            if (
                call.args[0].path == variable
                or variable in call.args[0].names
                or call.args[0].text == variable
            ):
                return True
    return False


# -- fork hazards ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ForkHazard:
    call: CallSite
    function: Function


def fork_hazard(program: Program, fn: Function) -> tuple[ForkHazard | None, bool]:
    """A call that copies the address space, reachable from a `main` that reaches `fn`; and
    whether `fn` belongs to a library (no main reaches it: its caller may fork)."""
    mains = [current for current in program.reaching(fn) if current.name == "main"]
    if not mains:
        return None, True
    for main in mains:
        hazard = _fork_from(program, main)
        if hazard is not None:
            return hazard, False
    return None, False


def _fork_from(program: Program, main: Function) -> ForkHazard | None:
    """The first call that copies the address space, in what `main` calls (breadth first)."""
    forks = FORKS | (OLD_LIBC_FORKS if program.spawn_copies_memory else frozenset())
    for current in program.reached(main, side=Side.USERLAND):
        for _node, call in current.call_sites():
            if call.callee in forks and not (
                call.callee.startswith("clone") and any("CLONE_VM" in arg.text for arg in call.args)
            ):
                return ForkHazard(call, current)
    return None


def cross_layer_flow(link: Link) -> list[FlowStep]:
    """userland ioctl -> driver dispatch -> pin site -> where the pin is kept."""
    request, command = link.request, link.command
    flow = [
        FlowStep(request.call.location, f"ioctl({command.macro or 'request'}) in {request.function.name}()"),
        FlowStep(command.case_location, f"dispatched by {command.handler_name}"),
    ]
    if command.pin is not None:
        flow.append(FlowStep(command.pin_location, f"pages pinned by {command.api}"))
    if command.kept_at is not None:
        flow.append(FlowStep(command.kept_at, f"kept in '{command.kept_in}' after the ioctl returns"))
    return flow
