"""Cloud Function (2nd gen) entry point: a Cloud Storage object event -> ``pypapo.refresh``.

Configuration (environment variables):
- ``PYPAPO_BUCKET``: the bucket holding the index; events from other buckets are ignored.
  Defaults to the event's own bucket.
- ``PYPAPO_PREFIX``: the index root inside the bucket (default: the bucket root).
- ``PYPAPO_PUBLIC_URL``: the URL the index root is served at (``https://pypi.example.com/``):
  pages link PEP 740 provenance documents by a full URL, so without it they link none. It
  must be the one ``pypapo build --public-url`` is given. One that is no absolute http(s) URL
  is reported as an ERROR on every event and ignored.
- ``PYPAPO_LOG_LEVEL``: DEBUG, INFO (default), WARNING or ERROR.
- ``PYPAPO_RETRY_TIMEOUT``: seconds one storage call retries transient errors (default 60); past
  it the invocation fails and Eventarc redelivers the event.

Error policy under at-least-once delivery. A non-2xx answer makes Eventarc redeliver the event
for up to a day, so only trouble that a later delivery can outlive fails the invocation: the
storage (``StorageError``: unreachable, throttled, timed out; the client's own transport and
credential errors) and CAS conflicts past the retry budget (``ConflictError``). The state-based
refresh then converges on redelivery. Everything else is acknowledged:
- bad input (a bad distribution or object name, a corrupt project state, a request that is no
  CloudEvent) is logged as an ERROR naming it and the reason, outcome ``bad-input``;
- an event that is no object event of the index is logged and ignored;
- any other exception is a bug that this input met. Retrying would meet it again, every time,
  for a day, and delay nothing else; so it is logged as an ERROR with its traceback, outcome
  ``failed``, and acknowledged. The object stays as it is: ``pypapo check`` reports the drift
  and ``pypapo build`` (or the next event for its project, once the bug is fixed) repairs it.
Log fields are clipped: a hostile event may name a megabyte-long object.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Mapping
from functools import cache
from typing import Any

import functions_framework
import requests
from cloudevents.http import CloudEvent
from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import GoogleAuthError
from werkzeug.exceptions import HTTPException

from pypapo.errors import ConflictError, InputError
from pypapo.events import EventError, ObjectEvent, from_cloudevent, object_hint, object_path
from pypapo.layout import is_own_write
from pypapo.refresh import refresh
from pypapo.render import public_url_problem
from pypapo.report import Report
from pypapo.storage import Storage, StorageError
from pypapo.storage.gcs import GCSStorage

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_FIELD_LIMIT = 4096
"""Characters of one log field kept (its head and tail): Cloud Logging takes 256 KiB a line."""
TRANSIENT: tuple[type[BaseException], ...] = (
    StorageError,
    ConflictError,
    # the storage client's own failures, should one escape its wrapping: still the storage's
    GoogleAPIError,
    GoogleAuthError,
    requests.RequestException,
    ConnectionError,
    TimeoutError,
)
"""Failures a redelivery can outlive: these alone fail the invocation."""


def _clip(text: str) -> str:
    if len(text) <= _FIELD_LIMIT:
        return text
    half = _FIELD_LIMIT // 2
    return f"{text[:half]} ...({len(text) - 2 * half} characters)... {text[-half:]}"


def log(severity: str, message: str, **fields: Any) -> None:
    """One JSON line on stdout, the structured format Cloud Logging parses."""
    threshold = _LEVELS.get(os.environ.get("PYPAPO_LOG_LEVEL", "INFO").upper(), 20)
    if _LEVELS[severity] < threshold:
        return
    line = {"severity": severity, "message": message, "component": "pypapo-function", **fields}
    line = {k: _clip(v) if isinstance(v, str) else v for k, v in line.items()}
    sys.stdout.write(json.dumps(line, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


@cache
def storage_for(bucket: str, prefix: str) -> Storage:
    """One client per instance and bucket: created on first use, reused across events."""
    timeout = float(os.environ.get("PYPAPO_RETRY_TIMEOUT", "60"))
    return GCSStorage.from_url(f"gs://{bucket}/{prefix}".rstrip("/"), retry_timeout=timeout)


def handle(attributes: Mapping[str, Any], data: object) -> str:
    """Process one event; returns the outcome. Raises only for trouble worth a retry."""
    started = time.monotonic()
    fields: dict[str, Any] = {"event_id": attributes.get("id")}
    try:
        return _handle(attributes, data, fields, started)
    except TRANSIENT:
        raise
    except InputError as e:  # bad input that escaped the report: still bad input
        _log_bad_input(e, fields, started)
        return "bad-input"
    except Exception as e:  # noqa: BLE001  (a bug this input met: see the module docstring)
        log(
            "ERROR",
            f"failed: {type(e).__name__}: {e}",
            outcome="failed",
            traceback=traceback.format_exc(),
            duration_ms=_since(started),
            **fields,
        )
        return "failed"


def _handle(
    attributes: Mapping[str, Any], data: object, fields: dict[str, Any], started: float
) -> str:
    try:
        event = from_cloudevent(attributes, data)
    except EventError as e:
        log("WARNING", f"ignored event: {e}", outcome="ignored", **fields)
        return "ignored"
    fields.update(
        {
            "event_id": event.event_id,
            "event": event.kind,
            "object": f"gs://{event.bucket}/{event.name}",
        }
    )
    return _refresh(event, fields, started)


def _since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _refresh(event: ObjectEvent, fields: dict[str, Any], started: float) -> str:
    prefix = os.environ.get("PYPAPO_PREFIX", "")
    bucket = os.environ.get("PYPAPO_BUCKET") or event.bucket
    path = object_path(event, prefix)
    if event.bucket != bucket or path is None:
        log("DEBUG", "object outside the index", outcome="ignored", **fields)
        return "ignored"
    if is_own_write(path):  # loop guard: decided from the name alone, before any storage call
        log("DEBUG", "ignored pypapo's own write", outcome="own-write", **fields)
        return "own-write"
    hint = object_hint(event, path)
    report = refresh(
        storage_for(bucket, prefix),
        [path],
        hints={path: hint} if hint is not None else None,
        public_url=_public_url(fields),
        # its redelivery knows its own lease; meeting another's, it hands the path over
        event_id=event.event_id,
    )
    return _log_report(report, path, fields, started)


def _public_url(fields: dict[str, Any]) -> str | None:
    """``PYPAPO_PUBLIC_URL`` when it is a URL pages can link by; else said on every event, and
    nothing linked (a relative provenance link makes clients reject the whole page)."""
    url = os.environ.get("PYPAPO_PUBLIC_URL") or None
    problem = None if url is None else public_url_problem(url)
    if problem is None:
        return url
    log("ERROR", f"PYPAPO_PUBLIC_URL ignored, provenance not linked: {problem}", **fields)
    return None


def _log_bad_input(error: InputError, fields: dict[str, Any], started: float) -> None:
    log(
        "ERROR",
        f"skipped {error.path}: {error.reason}",
        outcome="bad-input",
        reason=error.reason,
        kind=error.kind,
        duration_ms=_since(started),
        **fields,
    )


def _log_report(report: Report, path: str, fields: dict[str, Any], started: float) -> str:
    # a refresh also reports the files other events handed over to it: each line names the
    # object it is about (the event that found it is in event_id and event_object)
    where = str(fields["object"]).removesuffix(path)
    for error in report.errors:
        about = dict(fields)
        if not (path.startswith(error.path) or error.path.startswith(path)):
            about |= {"object": where + error.path, "event_object": fields["object"]}
        _log_bad_input(error, about, started)
    outcome = (
        "bad-input"
        if report.errors
        else "ignored"
        if report.ignored
        else "handed-off"
        if report.handed_off
        else "refreshed"
    )
    log(
        "INFO",
        f"{outcome} {path}",
        outcome=outcome,
        projects=sorted(report.projects),
        writes=report.writes,
        conflicts=report.conflicts,
        duration_ms=_since(started),
        **fields,
    )
    return outcome


@functions_framework.cloud_event
def on_storage_event(cloud_event: CloudEvent) -> None:
    handle(dict(cloud_event.get_attributes()), cloud_event.get_data())


def unreadable_request(error: Exception) -> Any:
    """The framework's answer to a request it could not read as a CloudEvent (no ``type``,
    a body that is no JSON, a list where an event goes, bad base64, ...): input, so it is
    acknowledged. What ``on_storage_event`` raises is transient storage trouble: it still fails
    the invocation, through the framework's own 500 handler; other HTTP errors stand."""
    if isinstance(error, HTTPException) and error.code != 400:
        return error
    if isinstance(error, TRANSIENT):
        raise error
    log(
        "ERROR",
        f"not a CloudEvent: {type(error).__name__}: {error}",
        outcome="bad-input",
        kind="not a CloudEvent",
    )
    return "ignored: not a CloudEvent", 200


# registered as a call, not a decorator: outside the framework (tests) the decorator is a
# stand-in that would replace the function
functions_framework.errorhandler(Exception)(unreadable_request)
