"""What a build's listing already says about an object's bytes, so that a warm build decides
"unchanged" without reading the object.

A GCS listing reports each object's MD5 (CRC32C for a composite object): a page is rendered in
memory, so its checksum is computed and compared. A sidecar's bytes are known only from its
distribution, which a warm build does not read; it is vouched for by the publish marker
instead: the marker is recreated after the last write of a publish, so an object listed as
created no later than a marker holding this plan's digest was in place when the marker vouched
for the plan, and anything written since (a hand edit, a delayed publisher) is newer and is
read. A folder's listing has no checksum: there every verdict is "read it", which is cheap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from pypapo.storage import ObjectInfo


def checksum_matches(checksum: str, data: bytes) -> bool | None:
    """Whether ``data`` has the listed checksum; ``None`` for a kind this process cannot
    compute (CRC32C without the GCS extra's C extension)."""
    kind, _, value = checksum.partition(":")
    if kind == "md5":
        return hashlib.md5(data, usedforsecurity=False).hexdigest() == value
    if kind == "crc32c":
        try:
            import google_crc32c  # noqa: PLC0415 (an extra's dependency)
        except ImportError:
            return None
        return f"{google_crc32c.value(data):08x}" == value
    return None


@dataclass(frozen=True)
class Listing:
    """The listed objects of one project (pages, marker, sidecars, quarantine markers)."""

    objects: Mapping[str, ObjectInfo]

    def holds(self, path: str, data: bytes | None) -> bool | None:
        """Whether ``path`` holds ``data`` (``None``: must not exist); ``None`` when only a
        read can tell."""
        info = self.objects.get(path)
        if info is None or data is None:
            return (info is None) == (data is None)
        if info.checksum is None:
            return None
        return checksum_matches(info.checksum, data)

    def vouched(self, path: str, marker: str | None) -> bool | None:
        """Whether the object at ``path`` is as the marker at ``marker`` vouches (``None``:
        no listed marker holds this plan's digest); ``False`` when it is not listed; ``None``
        when only a read can tell (written after the marker, or no checksums)."""
        info = self.objects.get(path)
        sign = self.objects.get(marker) if marker is not None else None
        if info is None:
            return False
        if sign is None or sign.checksum is None or info.checksum is None:
            return None
        return True if info.created <= sign.created else None
