"""``pypapo status TARGET PROJECT STATUS [--reason TEXT]``: set a PEP 792 project status.

The status lives in ``status/<project>.json``, outside ``packages/`` where publishers may
write, and is indexed like any other change: the command refreshes the project itself, and in
a bucket the Cloud Function does the same on the object's event.
"""

from __future__ import annotations

from datetime import datetime

from packaging.utils import InvalidName, NormalizedName, canonicalize_name

from pypapo.errors import ProjectStatusError, UsageError
from pypapo.layout import status_path
from pypapo.lease import operator_holder
from pypapo.refresh import refresh
from pypapo.report import Report
from pypapo.status import Status, format_time, parse_status_document, status_document
from pypapo.storage import Storage

CONTENT_TYPE = "application/json"


def set_status(
    storage: Storage, project: str, status: str, reason: str | None, *, now: datetime
) -> Report:
    """Record the status and refresh the project. ``active`` without a reason removes the
    object, so the project's objects return to exactly what they were before any status."""
    path = status_path(project)
    if status == "active" and reason is None:
        storage.delete(path)
    else:
        since = _kept_since(storage, path, status) or format_time(now)
        storage.put(path, status_document(Status(status, reason, since)), content_type=CONTENT_TYPE)
    return refresh(storage, [path], holder=operator_holder(storage.describe()))


def _kept_since(storage: Storage, path: str, status: str) -> str | None:
    """A changed reason keeps the time the status was set: files refused since then must stay
    refused (a new ``since`` would let them in)."""
    blob = storage.get(path)
    if blob is None:
        return None
    try:
        old = parse_status_document(path, blob.data)
    except ProjectStatusError:
        return None
    return old.since if old.status == status else None


def project_name(text: str) -> NormalizedName:
    try:
        return canonicalize_name(text, validate=True)
    except InvalidName as e:
        raise UsageError(f"{text!r} is not a valid project name") from e
