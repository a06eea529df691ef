"""Cloud Function (2nd gen) entry point: a Cloud Storage object event -> ``pypapo.refresh``.

Configuration (environment variables):
- ``PYPAPO_BUCKET``: the bucket holding the index; events from other buckets are ignored.
  Defaults to the event's own bucket.
- ``PYPAPO_PREFIX``: the index root inside the bucket (default: the bucket root).
- ``PYPAPO_LOG_LEVEL``: DEBUG, INFO (default), WARNING or ERROR.
- ``PYPAPO_RETRY_TIMEOUT``: seconds one storage call retries transient errors (default 60); past
  it the invocation fails and Eventarc redelivers the event.

Error policy under at-least-once delivery: a bad distribution is logged as an ERROR naming the
object and the reason, and the event is acknowledged (retrying cannot fix the file); anything
else (storage errors, timeouts, CAS conflicts past the retry budget) raises, so Eventarc
redelivers the event and the state-based refresh converges.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from functools import cache
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from pypapo.events import EventError, from_cloudevent, object_hint, object_path
from pypapo.layout import is_own_write
from pypapo.refresh import refresh
from pypapo.storage import Storage
from pypapo.storage.gcs import GCSStorage

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


def log(severity: str, message: str, **fields: Any) -> None:
    """One JSON line on stdout, the structured format Cloud Logging parses."""
    threshold = _LEVELS.get(os.environ.get("PYPAPO_LOG_LEVEL", "INFO").upper(), 20)
    if _LEVELS[severity] < threshold:
        return
    line = {"severity": severity, "message": message, "component": "pypapo-function", **fields}
    sys.stdout.write(json.dumps(line, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


@cache
def storage_for(bucket: str, prefix: str) -> Storage:
    """One client per instance and bucket: created on first use, reused across events."""
    timeout = float(os.environ.get("PYPAPO_RETRY_TIMEOUT", "60"))
    return GCSStorage.from_url(f"gs://{bucket}/{prefix}".rstrip("/"), retry_timeout=timeout)


def handle(attributes: Mapping[str, Any], data: Mapping[str, Any] | None) -> str:
    """Process one event; returns the outcome. Raises only for trouble worth a retry."""
    started = time.monotonic()
    try:
        event = from_cloudevent(attributes, data)
    except EventError as e:
        log("WARNING", f"ignored event: {e}", event_id=attributes.get("id"), outcome="ignored")
        return "ignored"
    fields: dict[str, Any] = {
        "event_id": event.event_id,
        "event": event.kind,
        "object": f"gs://{event.bucket}/{event.name}",
    }
    bucket = os.environ.get("PYPAPO_BUCKET") or event.bucket
    path = object_path(event, os.environ.get("PYPAPO_PREFIX", ""))
    if event.bucket != bucket or path is None:
        log("DEBUG", "object outside the index", outcome="ignored", **fields)
        return "ignored"
    if is_own_write(path):  # loop guard: decided from the name alone, before any storage call
        log("DEBUG", "ignored pypapo's own write", outcome="own-write", **fields)
        return "own-write"
    hint = object_hint(event, path)
    report = refresh(
        storage_for(bucket, os.environ.get("PYPAPO_PREFIX", "")),
        [path],
        hints={path: hint} if hint is not None else None,
    )
    duration_ms = round((time.monotonic() - started) * 1000, 1)
    for error in report.errors:
        log(
            "ERROR",
            f"skipped {error.path}: {error.reason}",
            outcome="bad-input",
            reason=error.reason,
            kind=error.kind,
            duration_ms=duration_ms,
            **fields,
        )
    outcome = "bad-input" if report.errors else ("ignored" if report.ignored else "refreshed")
    log(
        "INFO",
        f"{outcome} {path}",
        outcome=outcome,
        projects=sorted(report.projects),
        writes=report.writes,
        conflicts=report.conflicts,
        duration_ms=duration_ms,
        **fields,
    )
    return outcome


@functions_framework.cloud_event
def on_storage_event(cloud_event: CloudEvent) -> None:
    attributes = dict(cloud_event.get_attributes())
    data = cloud_event.get_data()
    handle(attributes, data if isinstance(data, dict) else None)
