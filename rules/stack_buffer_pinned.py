"""GUP002 stack-buffer-pinned."""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.analyses.crosslayer import ARG, Link, Origin, cross_layer_flow
from gupcheck.model.findings import Finding, Level, RelatedLocation
from gupcheck.model.rule import Rule, RuleDoc

DOC = RuleDoc(
    id="GUP002",
    name="stack-buffer-pinned",
    level=Level.ERROR,
    cwe=("CWE-562", "CWE-416"),
    summary="A stack buffer is handed to an ioctl whose handler keeps its pages pinned",
    what_it_does="""
Follows each userland `ioctl(fd, REQUEST, arg)` into the driver command that handles REQUEST
(matched by macro and by `_IOC` value) and flags a stack buffer, passed directly or through a
field of the request struct, whose address the driver pins and keeps pinned after the ioctl
returns. A stack buffer the driver pins only during the call is fine.
""",
    why_bad="""
The stack frame is gone when the calling function returns: the device keeps writing into pages
that now hold other frames (return addresses, locals), and `madvise(MADV_DONTFORK)` cannot be
applied to the stack, so a fork() splits the device's page from the process's.
""",
    example="""
int start_capture(int fd)
{
	char frame[4096];
	struct cap_reg reg = { .addr = (uintptr_t)frame, .len = sizeof(frame) };

	return ioctl(fd, CAP_IOC_REGISTER, &reg);	/* driver keeps frame pinned */
}
""",
    use_instead="""
int start_capture(int fd, void **out)
{
	void *frame;
	struct cap_reg reg;

	if (posix_memalign(&frame, 4096, 4096))
		return -1;
	madvise(frame, 4096, MADV_DONTFORK);
	reg = (struct cap_reg){ .addr = (uintptr_t)frame, .len = 4096 };
	*out = frame;
	return ioctl(fd, CAP_IOC_REGISTER, &reg);
}
""",
    references=(
        "https://docs.kernel.org/core-api/pin_user_pages.html",
        "https://man7.org/linux/man-pages/man2/madvise.2.html",
    ),
    links_userland=True,
)


def check(context: Analyses) -> Iterator[Finding]:
    layer = context.cross_layer
    reported: set[tuple[int, str]] = set()
    for link in layer.links:
        request, command = link.request, link.command
        if request.origin.kind != Origin.STACK or not command.kept:
            continue
        key = (id(request.call), request.target)
        if key in reported:
            continue
        reported.add(key)
        yield _finding(link)


RULE = Rule(DOC, check)


def _finding(link: Link) -> Finding:
    request, command = link.request, link.command
    via = "" if request.target == ARG else f" through the '.{request.target}' field of the request"
    name = command.macro or hex(command.value or 0)
    return Finding(
        rule_id=DOC.id,
        level=Level.ERROR,
        message=(
            f"stack buffer '{request.origin.variable}' is passed{via} to {name}, whose handler "
            f"{command.handler_name} keeps its pages pinned after the ioctl returns"
        ),
        location=request.call.location,
        function=request.function.name,
        snippet_key=f"{name}:{request.target}:{request.origin.variable}",
        related=[
            RelatedLocation(request.origin.location, f"'{request.origin.variable}' lives on the stack"),
            RelatedLocation(command.pin_location, f"the driver pins it with {command.api}"),
            *(
                [RelatedLocation(command.kept_at, f"and keeps it in '{command.kept_in}'")]
                if command.kept_at
                else []
            ),
        ],
        flow=cross_layer_flow(link),
        hint="pass a heap buffer that lives as long as the registration (posix_memalign + "
        "madvise(MADV_DONTFORK)), or have the driver copy the data instead of keeping the pin",
    )
