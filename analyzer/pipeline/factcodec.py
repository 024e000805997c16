"""How facts travel from a worker to the main process, and to and from the fact cache.

Facts are pickled, but a plain pickle gives the main process a private copy of every repeated piece
of every file: the name `ret` thousands of times, the same kernel header paths in every file's
header list, the same `Value` of a local variable at each of its uses, the same fall-through `Edge`
in every function. The main process holds the facts of the whole tree while the rules run, so the
repeats are most of its memory (on 100 files of 6.1 `drivers/`: 117 MiB decoded plainly, about 70
MiB shared).

`encode` marks the values that can be shared (strings, large integers and the immutable facts that
carry no location: `Value`, `Edge`) as pickle persistent ids; a `FactDecoder` replaces each by the
one equal instance it has seen in the whole run. Sharing changes nothing the analyses can observe:
these objects are immutable and compared by value, never by identity.
"""

from __future__ import annotations

import io
import pickle

from gupcheck.model.facts import Edge, Value

_SHARED_TYPES = frozenset({str, Value, Edge})
_SMALL_INTS = range(-5, 257)  # CPython keeps one copy of these already


class _SharingPickler(pickle.Pickler):
    def persistent_id(self, obj: object) -> object | None:
        kind = type(obj)
        if kind in _SHARED_TYPES or (kind is int and obj not in _SMALL_INTS):
            return obj  # pickled as itself, then replaced by the shared copy when decoded
        return None


def encode(value: object) -> bytes:
    """`value` (facts, or a worker's result holding facts) pickled for a `FactDecoder`."""
    buffer = io.BytesIO()
    _SharingPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


class _SharingUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, shared: dict[object, object]) -> None:
        super().__init__(io.BytesIO(data))
        self._shared = shared

    def persistent_load(self, pid: object) -> object:
        return self._shared.setdefault(pid, pid)


class FactDecoder:
    """Decodes what `encode` wrote, sharing equal immutable values across everything it decodes.
    One decoder serves one analysis; dropping it frees only its index, not the facts."""

    def __init__(self) -> None:
        self._shared: dict[object, object] = {}

    def decode(self, data: bytes) -> object:
        """The value `data` encodes. Raises what unpickling raises on data that is not an encoding."""
        return _SharingUnpickler(data, self._shared).load()
