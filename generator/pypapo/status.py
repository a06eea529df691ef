"""PEP 792 project status: what an operator's ``status/<project>.json`` says, and what it means
for the files the index serves. Pure: the object's bytes in, a ``Status`` out.

An archived or quarantined project takes no new uploads; a static index cannot refuse a write,
so it refuses to serve what was uploaded after the status was set (``since``, written into the
object by ``pypapo status``). Every reading is a function of the objects alone, so a refresh and
a scratch build agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from pypapo.errors import ProjectStatusError

STATUSES = ("active", "archived", "quarantined", "deprecated")
MAX_REASON = 8 << 10
"""Shown on every page of the project: a paragraph, not a document."""
MAX_DOCUMENT = 64 << 10
_KEYS = frozenset({"status", "reason", "since"})
UNREADABLE_REASON = "the index could not read this project's status object"


def format_time(when: datetime) -> str:
    """PEP 700's upload-time format, so ``since`` compares with upload times as a string."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Status:
    status: str
    reason: str | None
    since: str
    """When it was set, in the upload-time format: files uploaded later are refused."""

    @property
    def quarantined(self) -> bool:
        return self.status == "quarantined"

    def refuses(self, upload_time: str) -> bool:
        """Whether a file uploaded then is refused: quarantine refuses all files, archival
        the ones uploaded after it (PEP 792: neither allows new uploads)."""
        if self.quarantined:
            return True
        return self.status == "archived" and upload_time > self.since

    def to_dict(self) -> dict[str, str | None]:
        return {"reason": self.reason, "since": self.since, "status": self.status}


def unreadable(since: str) -> Status:
    """What a broken status object means: quarantined (fail closed) until it is fixed."""
    return Status("quarantined", UNREADABLE_REASON, since)


def status_document(status: Status) -> bytes:
    text = json.dumps(status.to_dict(), sort_keys=True, ensure_ascii=False, indent=1)
    return (text + "\n").encode()


def parse_status_document(path: str, data: bytes) -> Status:
    """Exactly what ``status_document`` writes; anything else is a ``ProjectStatusError``."""
    if len(data) > MAX_DOCUMENT:
        raise ProjectStatusError(path, f"over {MAX_DOCUMENT} bytes")
    try:
        body = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ProjectStatusError(path, f"not JSON: {e}") from e
    if not isinstance(body, dict):
        raise ProjectStatusError(path, "not a JSON object")
    missing, extra = _KEYS - body.keys(), body.keys() - _KEYS
    if missing or extra:
        what = f"missing {', '.join(sorted(missing))}" if missing else f"extra key {min(extra)!r}"
        raise ProjectStatusError(path, what)
    status, reason, since = body["status"], body["reason"], body["since"]
    if status not in STATUSES:
        raise ProjectStatusError(path, f"status {status!r} is none of {', '.join(STATUSES)}")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise ProjectStatusError(path, f"reason must be a string of at most {MAX_REASON}")
    return Status(status, reason, _since(path, since))


def _since(path: str, value: object) -> str:
    when = None
    if isinstance(value, str) and value.endswith("Z"):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
    if when is None or format_time(when) != value:
        raise ProjectStatusError(path, f"since {value!r} is not a yyyy-mm-ddThh:mm:ss.ffffffZ time")
    return value
