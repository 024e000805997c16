"""Building and reading large graphs of objects that all stay alive, without Python's cycle collector.

The collector runs every few hundred allocations and, as objects pile up, rescans the older ones: a
full pass over the facts of a tree such as drivers/misc takes a few tenths of a second, and the rules
used to trigger dozens. Nearly every object made while facts are built (the walk) or decoded (a
worker's result, a cache entry) is kept, so those scans find nothing.

- `collector_paused`: no collection inside (the walk in a worker: about a third faster). The little
  cyclic garbage made meanwhile (recursive inner functions) is collected once the collector runs again.
- `kept_for_the_analysis`: no collection inside, and what was made inside is then put out of the
  collector's sight (`gc.freeze`), for facts that live till the analysis ends.
- `keep_what_exists`: the same for whatever exists, before the rules run.
- `releases_kept_objects`: around the analysis; at its end those objects are handed back to the
  collector (`gc.unfreeze`), so a process that runs many analyses frees them as usual.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def kept_for_the_analysis() -> Iterator[None]:
    """No collection inside; afterwards every object that exists (those made inside among them) is
    left out of the collector's passes until `releases_kept_objects` ends. The objects are frozen
    before the collector runs again, which would otherwise scan them all at once."""
    with collector_paused():
        try:
            yield
        finally:
            gc.freeze()


def keep_what_exists() -> None:
    """Leave every object that exists out of the collector's passes until `releases_kept_objects`
    ends (facts made in this process, or handed back by an executor)."""
    gc.freeze()


def releases_kept_objects(function: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(function)
    def analysis(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return function(*args, **kwargs)
        finally:
            gc.unfreeze()

    return analysis
