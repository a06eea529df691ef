"""One publisher per project at a time, and a queue through which the others hand it their work.

The lease is the publish marker itself (``simple/<p>/.published``). Idle, the marker holds the
digest of the plan last published in full, as before; busy, it names its holder and when the
lease lapses. A publisher takes the lease by compare-and-swap from the marker as it read it,
before its first write (the state's commit included), and releases it by swapping in the digest
of what it published. So a marker holding a digest still proves that plan was applied in full,
and a publisher that dies leaves a busy marker, which proves nothing.

A refresh serving an event that finds the lease held writes an *intent* into the project's
queue (``simple/<p>/.queue/<key>``: its paths and what the event said of them) and reads the
marker again; still busy, the event is done: the holder lists the queue after every release and
drains what it finds. The two orders (enqueue, then read the marker; release, then list the
queue) mean one side always sees the other. A holder that dies is replaced by the redelivery of
its own event (it knows its lease) or, once the lease lapses, by anyone.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pypapo.errors import CorruptStateError
from pypapo.layout import object_name_problem, project_dir
from pypapo.listing import Listing, checksum_matches
from pypapo.plan import MARKER_CONTENT_TYPE
from pypapo.storage import ABSENT, ObjectInfo, Storage

LEASE_SECONDS = 300
"""How long a holder may go silent before anyone may take its lease over: longer than a
refresh ever holds it in one go (a drain round is bounded by ``MAX_ROUND_PATHS``)."""

MAX_ROUND_PATHS = 200
"""Paths one drain round takes from the queue; the rest waits for the next round."""

MAX_INTENT_BYTES = 256 * 1024
QUEUE_NAME = ".queue/"
INTENT_CONTENT_TYPE = "application/json"
_BUSY = b"busy "
log = logging.getLogger("pypapo.lease")


def queue_prefix(project: str) -> str:
    return project_dir(project) + QUEUE_NAME


def operator_holder(target: str) -> str:
    """The holder a command line takes leases as: the same for every run by this user on this
    machine against this target, so that a run after one that died takes its lease over at
    once instead of waiting for it to lapse."""
    who = f"{socket.gethostname()}\0{getpass.getuser()}\0{target}"
    return hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def holder_id(event_id: str | None) -> str:
    """Who holds a lease: derived from the event's id, so that its redelivery knows its own
    lease (a hash: an event id is whatever the sender put there); random otherwise."""
    if event_id is None:
        return uuid.uuid4().hex
    return hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Marker:
    """The marker as read: its bytes (``None`` when absent) and token, and the lease they
    describe when busy."""

    data: bytes | None
    token: str
    holder: str | None = None
    expires: int = 0

    @property
    def busy(self) -> bool:
        return self.holder is not None

    def held_by_other(self, holder: str, now: float) -> bool:
        return self.holder is not None and self.holder != holder and self.expires > now


def blocks(marker: Marker, holder: str, *, lost: bool, force: bool) -> bool:
    """Whether ``holder`` must hand over or wait: the lease is another's and has not lapsed
    (unless ``force``: a repair takes any lease over), or it is our own but we ``lost`` it
    (another delivery of our own event took it over: we leave it to that one, not fight)."""
    if lost and marker.holder == holder:
        return True
    return not force and marker.held_by_other(holder, time.time())


def parse_marker(data: bytes | None, token: str) -> Marker:
    """Anything that is not a well-formed busy record counts as a digest (maybe of no known
    plan: then it vouches for nothing, exactly like a missing marker)."""
    if data is None or not data.startswith(_BUSY):
        return Marker(data, token)
    fields = data[len(_BUSY) :].split()
    if len(fields) == 2 and fields[1].isdigit() and len(fields[1]) < 16:
        return Marker(data, token, fields[0].decode("ascii", "replace"), int(fields[1]))
    return Marker(data, token)


def read_marker(
    storage: Storage, path: str, listing: Listing | None = None, known: Iterable[bytes] = ()
) -> Marker:
    """The marker, from a build's listing when its checksum says which of the ``known``
    digests it holds (the token is then the listed generation, so a marker changed since
    fails the compare-and-swap), else read."""
    if listing is not None:
        info = listing.objects.get(path)
        if info is None:
            return Marker(None, ABSENT)
        if info.checksum is not None:
            for data in known:
                if checksum_matches(info.checksum, data):
                    return Marker(data, info.generation)
    blob = storage.get(path)
    return parse_marker(blob.data, blob.token) if blob is not None else Marker(None, ABSENT)


def busy_record(holder: str, now: float) -> bytes:
    return b"%s%s %d\n" % (_BUSY, holder.encode(), int(now) + LEASE_SECONDS)


def take(storage: Storage, path: str, marker: Marker, holder: str) -> Marker | None:
    """Swap the marker as read for a busy record of ``holder``; ``None`` if it changed."""
    now = time.time()
    data = busy_record(holder, now)
    token = storage.put(path, data, content_type=MARKER_CONTENT_TYPE, if_token=marker.token)
    return None if token is None else parse_marker(data, token)


def release(storage: Storage, path: str, held: Marker, digest: bytes | None) -> Marker | None:
    """Swap our busy record for ``digest`` (``None``: no marker): the marker as it is then, or
    ``None`` if our lease was taken over meanwhile."""
    if digest is None:
        return Marker(None, ABSENT) if storage.delete(path, if_token=held.token) else None
    token = storage.put(path, digest, content_type=MARKER_CONTENT_TYPE, if_token=held.token)
    return None if token is None else Marker(digest, token)


def wait_until_free(storage: Storage, path: str, blocked: Callable[[Marker], bool]) -> Marker:
    """For a caller that cannot hand its work off (a command line, a build): poll until the
    lease is released or lapses. Says so once: a command line must not hang in silence."""
    delay = 0.05
    told = False
    while True:
        marker = read_marker(storage, path)
        if not blocked(marker):
            return marker
        if not told:
            told = True
            until = datetime.fromtimestamp(marker.expires, UTC).strftime("%H:%M:%S UTC")
            log.warning(
                "%s: another publisher (%s) holds the lease; waiting until it is done, or "
                "until %s when the lease lapses",
                path,
                marker.holder,
                until,
            )
        time.sleep(delay)
        delay = min(1.0, delay * 2)


@dataclass
class Intent:
    """Paths handed to the lease holder, with what their events said of the objects."""

    paths: set[str]
    hints: dict[str, ObjectInfo] = field(default_factory=dict)
    verify: bool = False
    """Set by a publisher that lost its lease: its writes may have met the new holder's."""

    def to_json(self) -> bytes:
        hints = {
            p: {
                "size": h.size,
                "generation": h.generation,
                "created": h.created.isoformat(),
                "metadata": dict(h.metadata),
            }
            for p, h in sorted(self.hints.items())
        }
        document = {"paths": sorted(self.paths), "hints": hints, "verify": self.verify}
        return json.dumps(document, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Intent:
        """Strict: an intent is pypapo's own object, but in a place others may write."""
        if len(data) > MAX_INTENT_BYTES:
            raise ValueError(f"{len(data)} bytes, more than {MAX_INTENT_BYTES}")
        document = json.loads(data)
        if not isinstance(document, dict) or set(document) != {"paths", "hints", "verify"}:
            raise ValueError("not an intent")
        paths, hints, verify = document["paths"], document["hints"], document["verify"]
        if not isinstance(paths, list) or not isinstance(verify, bool):
            raise TypeError("ill-typed intent")
        if not all(isinstance(p, str) and object_name_problem(p) is None for p in paths):
            raise ValueError("an intent path is not a safe object name")
        if not isinstance(hints, dict) or not set(hints) <= set(paths):
            raise ValueError("intent hints for paths it does not name")
        return cls(set(paths), {p: _hint(p, h) for p, h in hints.items()}, verify)

    def key(self, holder: str) -> str:
        return hashlib.sha256(holder.encode() + b"\0" + self.to_json()).hexdigest()[:32]


def _hint(path: str, raw: object) -> ObjectInfo:
    if not isinstance(raw, dict) or set(raw) != {"size", "generation", "created", "metadata"}:
        raise ValueError("ill-typed intent hint")
    size, generation, metadata = raw["size"], raw["generation"], raw["metadata"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError("ill-typed intent hint size")
    if not isinstance(generation, str) or not isinstance(raw["created"], str):
        raise TypeError("ill-typed intent hint")
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ValueError("ill-typed intent hint metadata")
    created = datetime.fromisoformat(raw["created"])
    if created.tzinfo is None:
        raise ValueError("intent hint time without a zone")
    return ObjectInfo(path, size, generation, created, metadata)


def enqueue(storage: Storage, project: str, intent: Intent, holder: str) -> str:
    path = queue_prefix(project) + intent.key(holder)
    storage.put(path, intent.to_json(), content_type=INTENT_CONTENT_TYPE)
    return path


def queued(storage: Storage, project: str) -> list[str]:
    return sorted(info.path for info in storage.list(queue_prefix(project)))


@dataclass(frozen=True)
class Taken:
    """Intents read from the queue: what they ask for, and their tokens to delete them by."""

    intent: Intent
    tokens: Mapping[str, str]
    errors: list[CorruptStateError]
    carried: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Each intent's own paths: whoever deletes an intent reports what its paths came to."""
    doubted: frozenset[str] = frozenset()
    """Paths whose intents describe them differently (an object's finalized event before its
    metadata changed, its metadataUpdated event after): no description of them is believed."""


def read_queue(storage: Storage, paths: Iterable[str]) -> Taken:
    """Read up to a round's worth of intents; an unreadable one is reported and dropped
    (its paths are lost to the queue, never to the index: a build finds them)."""
    merged = Intent(set())
    tokens: dict[str, str] = {}
    carried: dict[str, frozenset[str]] = {}
    doubted: set[str] = set()
    errors: list[CorruptStateError] = []
    for path in paths:
        if len(merged.paths) >= MAX_ROUND_PATHS:
            break
        blob = storage.get(path)
        if blob is None:
            continue
        tokens[path] = blob.token
        try:
            intent = Intent.from_json(blob.data)
        except (ValueError, TypeError, RecursionError) as e:
            errors.append(CorruptStateError(path, f"unreadable queued intent ({e}); dropped"))
            continue
        carried[path] = frozenset(intent.paths)
        merged.paths |= intent.paths
        doubted |= disagreeing(merged.hints, intent.hints)
        merged.hints.update(intent.hints)
        merged.verify |= intent.verify
    for path in doubted:
        merged.hints.pop(path, None)
    return Taken(merged, tokens, errors, carried, frozenset(doubted))


def disagreeing(known: Mapping[str, ObjectInfo], more: Mapping[str, ObjectInfo]) -> set[str]:
    """Paths that ``more`` describes otherwise than ``known`` does."""
    return {path for path, hint in more.items() if known.get(path, hint) != hint}


def drop(storage: Storage, tokens: Mapping[str, str]) -> set[str]:
    """Remove drained intents (one rewritten meanwhile stays for the next round); return those
    this call removed: of two refreshes that drained the same intent, exactly one did."""
    return {path for path, token in tokens.items() if storage.delete(path, if_token=token)}


def hints_for(paths: Iterable[str], hints: Mapping[str, ObjectInfo]) -> dict[str, ObjectInfo]:
    return {p: hints[p] for p in paths if p in hints}
