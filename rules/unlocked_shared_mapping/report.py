"""How GUP004's sub-checks word what they share: where the buffer is exported, and an access."""

from __future__ import annotations

from gupcheck.analyses.sharedmem import Access, SharedBuffer
from gupcheck.model.findings import RelatedLocation

RULE_ID = "GUP004"


def exported(buffer: SharedBuffer) -> list[RelatedLocation]:
    return [RelatedLocation(buffer.export.location, buffer.export.describe(buffer.spelling))]


def describe(access: Access) -> str:
    """ "memcpy() writes", "a load of 'hdr->len' reads"."""
    verb = "writes" if access.write else "reads"
    if access.how.endswith("()"):
        return f"{access.how} {verb}"
    return f"the {access.how} '{access.text}' {verb}"
