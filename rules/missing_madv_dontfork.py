"""GUP003 missing-madv-dontfork."""

from __future__ import annotations

from collections.abc import Iterator

from gupcheck.analyses.context import Analyses
from gupcheck.analyses.crosslayer import ARG, ForkHazard, Link, Origin, cross_layer_flow, fork_hazard
from gupcheck.kernel_api.pins import FOLL_GET
from gupcheck.model.findings import Finding, Level, RelatedLocation
from gupcheck.model.rule import Rule, RuleDoc

DOC = RuleDoc(
    id="GUP003",
    name="missing-madv-dontfork",
    level=Level.ERROR,
    cwe=("CWE-362", "CWE-664"),
    summary="A buffer kept pinned by a driver, in a program that can fork, without MADV_DONTFORK",
    what_it_does="""
Flags a heap buffer registered with an ioctl whose driver keeps the buffer's pages pinned after
the ioctl returns, when the program can fork (`fork`, `clone` without `CLONE_VM`, `daemon`,
`forkpty` reachable from `main`) and no `madvise(MADV_DONTFORK)` covers the buffer. FOLL_GET pins
(`get_user_pages*`) are an error on every kernel; FOLL_PIN pins only on kernels before 5.9
(`--target-kernel`). `vfork`, `posix_spawn`, `system` and `popen` copy no address space and are
no hazard; a buffer from the device's own `mmap` is fine.
""",
    why_bad="""
After fork() the parent's pages are write-protected and shared with the child; the parent's next
write copies the page, and a device holding a FOLL_GET reference keeps the old page: the device
and the process stop seeing the same memory. Since 5.9 fork copies FOLL_PIN-pinned pages for the
child eagerly, so those stay coherent in the parent.
""",
    example="""
buf = malloc(len);
reg.addr = (uintptr_t)buf;
ioctl(fd, DEV_IOC_REGISTER, &reg);	/* driver: get_user_pages_fast(), kept */
if (fork() == 0)
	exec_helper();
""",
    use_instead="""
if (posix_memalign(&buf, 4096, len))
	return -1;
madvise(buf, len, MADV_DONTFORK);	/* the child never shares these pages */
reg.addr = (uintptr_t)buf;
ioctl(fd, DEV_IOC_REGISTER, &reg);
""",
    references=(
        "https://man7.org/linux/man-pages/man2/madvise.2.html",
        "https://lwn.net/Articles/849638/",
        "https://docs.kernel.org/core-api/pin_user_pages.html",
    ),
    links_userland=True,
)


def check(context: Analyses) -> Iterator[Finding]:
    program = context.program
    layer = context.cross_layer
    reported: set[tuple[int, str]] = set()
    for link in layer.links:
        request, command = link.request, link.command
        if request.origin.kind != Origin.HEAP or request.origin.dontfork or not command.kept:
            continue
        if command.kind != FOLL_GET and program.target_kernel >= (5, 9):
            continue  # fork copies FOLL_PIN-pinned pages for the child since 5.9
        hazard, library = fork_hazard(program, request.function)
        if hazard is None and not library:
            continue
        key = (id(request.call), request.target)
        if key in reported:
            continue
        reported.add(key)
        yield _finding(link, hazard, library, program.target_kernel)


RULE = Rule(DOC, check)


def _finding(link: Link, hazard: ForkHazard | None, library: bool, target: tuple[int, int]) -> Finding:
    request, command = link.request, link.command
    via = "" if request.target == ARG else f" (through '.{request.target}')"
    name = command.macro or hex(command.value or 0)
    if command.kind == FOLL_GET:
        level, why = Level.ERROR, f"a FOLL_GET pin by {command.api}"
    else:
        level, why = Level.WARNING, f"a FOLL_PIN pin by {command.api} on a kernel before 5.9"
    related = [
        RelatedLocation(request.origin.location, f"'{request.origin.variable}' is allocated here"),
        RelatedLocation(command.pin_location, f"the driver keeps {why}"),
    ]
    if hazard is not None:
        related.append(
            RelatedLocation(
                hazard.call.location,
                f"{hazard.call.callee}() in {hazard.function.name}() copies the address space",
            )
        )
        context = f"and the program forks ({hazard.call.callee}() in {hazard.function.name}())"
    else:
        level = Level.NOTE
        context = "in a library: its caller may fork"
    return Finding(
        rule_id=DOC.id,
        level=level,
        message=(
            f"buffer '{request.origin.variable}'{via} is registered with {name}, whose driver keeps "
            f"{why}, without madvise(MADV_DONTFORK) {context}"
        ),
        location=request.call.location,
        function=request.function.name,
        snippet_key=f"{name}:{request.target}:{request.origin.variable}",
        related=related,
        flow=cross_layer_flow(link),
        hint=f"madvise({request.origin.variable}, len, MADV_DONTFORK) before registering the buffer"
        + (
            ""
            if command.kind != FOLL_GET
            else ", and have the driver pin with pin_user_pages*(..., FOLL_LONGTERM)"
        ),
    )
