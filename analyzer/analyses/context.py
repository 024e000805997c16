"""The one way rules reach the analyses: each is computed on first use and shared by every rule of a
run, so an analysis runs only when a rule asks for it."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from gupcheck.model.facts import CallSite
from gupcheck.model.program import Program

if TYPE_CHECKING:  # the analyses are imported when a rule first asks for one
    from gupcheck.analyses.crosslayer import CrossLayer
    from gupcheck.analyses.pins import PinAnalysis
    from gupcheck.analyses.sharedmem import SharedMemory
    from gupcheck.analyses.uaccess import UserAccessChecks
    from gupcheck.analyses.usercontrol import UserData


class Analyses:
    def __init__(self, program: Program) -> None:
        self.program = program

    @cached_property
    def pins(self) -> PinAnalysis:
        """Pin sites, where their pages go, and helper summaries (GUP001, and the driver side of the
        cross-layer rules)."""
        from gupcheck.analyses.pins import PinAnalysis

        return PinAnalysis(self.program)

    @cached_property
    def cross_layer(self) -> CrossLayer:
        """Userland ioctl calls linked to the driver commands that pin what they pass."""
        from gupcheck.analyses.crosslayer import link_program

        return link_program(self.program, self.pins)

    @cached_property
    def unresolved_requests(self) -> list[CallSite]:
        """Userland ioctl requests no analysed (or declared) driver handles."""
        from gupcheck.analyses.crosslayer import unresolved_requests

        return unresolved_requests(self.program)

    @cached_property
    def shared_memory(self) -> SharedMemory:
        """Memory shared with user space through mmap, its accesses and the locks held there."""
        from gupcheck.analyses.sharedmem import SharedMemory

        return SharedMemory(self.program)

    @cached_property
    def user_data(self) -> UserData:
        """User-controlled values and user pointers in kernel code."""
        from gupcheck.analyses.usercontrol import UserData

        return UserData(self.program)

    @cached_property
    def uaccess(self) -> UserAccessChecks:
        """What is known on every path about user pointers and lengths: range checks, bounds, fetches."""
        from gupcheck.analyses.uaccess import UserAccessChecks

        return UserAccessChecks(self.program, self.user_data)
