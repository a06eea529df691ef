"""Turn one distribution object into its ``FileRecord`` and PEP 658 metadata bytes.

One streaming read hashes the object (pinned to the generation ``stat`` saw). A ``.tar.gz`` is
parsed during that read; a zip afterwards, from the buffered head and tail, with ranged reads
only for what lies between. No object is read twice in full.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import IO

from pypapo.archive import SdistScanner, is_zip, read_core_metadata
from pypapo.errors import BadDistributionError
from pypapo.layout import DistName, parse_dist_filename
from pypapo.metadata import check_matches_filename, parse_core_metadata, serves_sidecar
from pypapo.model import FileRecord, format_upload_time
from pypapo.reader import SparseFile, StreamDigest
from pypapo.storage import YANK_KEY, ObjectInfo, Storage


@dataclass(frozen=True)
class Parsed:
    """A distribution as indexed, with the sidecar bytes when PEP 658 metadata is served."""

    record: FileRecord
    sidecar: bytes | None


def yank_reason(info: ObjectInfo) -> str | None:
    """The object's yank reason, on one line and printable only: installers print it to a
    terminal, and whoever uploads an object can give it metadata."""
    reason = info.metadata.get(YANK_KEY)
    if reason is None:
        return None
    return " ".join("".join(c for c in reason if c.isprintable() or c.isspace()).split())


def parse_distribution(storage: Storage, info: ObjectInfo) -> Parsed:
    """Read and validate the object; raises a ``BadDistributionError`` naming it on bad input."""
    try:
        return _parse(storage, info)
    except BadDistributionError as e:
        error = type(e)(e.path, e.reason)
    # A refresh keeps the error of every refused file. Raised here, outside the handler, the
    # error carries no traceback from below and no __context__, whose frames would keep the
    # file's metadata alive with it: megabytes each for a hostile file.
    raise error


def _parse(storage: Storage, info: ObjectInfo) -> Parsed:
    dist = parse_dist_filename(info.path)
    read = _read_zip if is_zip(dist) else _read_tar
    digest, raw = read(storage, info, dist)
    return parsed_from(info, dist, digest.hexdigest(), digest.size, raw)


def _read_tar(storage: Storage, info: ObjectInfo, dist: DistName) -> tuple[StreamDigest, bytes]:
    scanner = SdistScanner(info.path, info.size)
    digest = StreamDigest(head=0, tail=0, also=scanner.feed)
    storage.stream(info.path, info.generation, digest)
    return digest, scanner.finish()  # only now: the stream has proved it read one generation


def _read_zip(storage: Storage, info: ObjectInfo, dist: DistName) -> tuple[StreamDigest, bytes]:
    digest = StreamDigest()
    storage.stream(info.path, info.generation, digest)
    fileobj: IO[bytes]
    if digest.size == len(digest.head):  # the whole object is in memory (most distributions)
        fileobj = io.BytesIO(digest.head)
    else:
        view = SparseFile(
            digest.size,
            bytes(digest.head),
            digest.tail,
            lambda start, end: storage.read_range(info.path, start, end, info.generation),
        )
        fileobj = io.BufferedReader(view, buffer_size=1 << 16)
    return digest, read_core_metadata(info.path, dist, fileobj)


def parsed_from(info: ObjectInfo, dist: DistName, sha256: str, size: int, raw: bytes) -> Parsed:
    """Validate metadata against the file name and build the record (pure)."""
    meta = parse_core_metadata(info.path, raw)
    check_matches_filename(info.path, meta, dist)
    sidecar = raw if serves_sidecar(meta, dist) else None
    record = FileRecord(
        path=info.path,
        filename=dist.filename,
        version=str(dist.version),
        size=size,
        sha256=sha256,
        upload_time=format_upload_time(info.created),
        generation=info.generation,
        requires_python=meta.requires_python,
        yanked=yank_reason(info),
        metadata_sha256=hashlib.sha256(sidecar).hexdigest() if sidecar is not None else None,
        summary=meta.summary,
    )
    return Parsed(record, sidecar)
