"""The API tables with what the configuration declares (`[api]`) merged in, once per run.

A driver may pin, release or lock through wrappers gupcheck cannot see (a vendor library, another
module). Declared, they count as the kernel APIs they wrap: every analysis asks this object, never the
tables and the declarations separately.
"""

from __future__ import annotations

from gupcheck.kernel_api import locks, pins
from gupcheck.kernel_api.declared import ApiKnowledge, PinningIoctl
from gupcheck.kernel_api.locks import LockApi, LockKind
from gupcheck.kernel_api.pins import PinApi


class Api:
    def __init__(self, declared: ApiKnowledge | None = None) -> None:
        self.declared = declared if declared is not None else ApiKnowledge()
        self._wrappers = {
            wrapper.name: PinApi(
                wrapper.kind, wrapper.pages, wrapper.flags, wrapper.nr, wrapper.start, wrapper.longterm
            )
            for wrapper in reversed(self.declared.pins)  # the first declaration of a name wins
        }
        self.releases: dict[str, int] = {**self.declared.releases, **pins.RELEASES}
        self.locks: dict[str, LockApi] = dict(locks.LOCK_APIS)
        self.locks.update({name: LockApi(LockKind.DECLARED, locks.ACQUIRE) for name in self.declared.locks})
        self.locks.update({name: LockApi(LockKind.DECLARED, locks.RELEASE) for name in self.declared.unlocks})

    def pin(self, name: str, argc: int) -> PinApi | None:
        """The pin API (or declared pin wrapper) called `name` with `argc` arguments."""
        return self._wrappers.get(name) or pins.pin_api(name, argc)

    def release_position(self, name: str) -> int | None:
        """The position of the pages a release call releases, or None."""
        return self.releases.get(name)

    def lock(self, name: str) -> LockApi | None:
        return self.locks.get(name)

    @property
    def pinning_ioctls(self) -> tuple[PinningIoctl, ...]:
        return self.declared.pinning_ioctls

    @property
    def range_checks(self) -> tuple[str, ...]:
        """Helpers that return whether the user range they are given is valid (`vq_access_ok`): a true
        result covers every argument, as access_ok covers its pointer."""
        return self.declared.range_checks

    @property
    def shared_types(self) -> tuple[str, ...]:
        """Types whose every object is shared with user space (`struct my_ring`)."""
        return self.declared.shared_types
