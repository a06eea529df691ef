"""Render index pages (PEP 503 HTML, PEP 691/700 JSON) as bytes. Pure: no I/O, no clock.

Links are relative to the page (``simple/<project>/``), so the same tree serves from NGINX, a
bucket, or a ``file://`` copy without rewriting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import jinja2

from pypapo.model import FileRecord, ProjectState
from pypapo.status import Status

API_VERSION = "1.1"
"""PEP 700 (``versions``, ``size``, ``upload-time``) is API version 1.1."""
STATUS_API_VERSION = "1.4"
"""PEP 792 (``project-status``) is API version 1.4. Only pages that carry it say so: every
other page keeps its bytes (and pip warns on a major version only)."""

JSON_CONTENT_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment for every page template (autoescaped HTML)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pypapo", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def file_url(record: FileRecord) -> str:
    """The href from ``simple/<project>/`` to the object, percent-encoded."""
    return "../../" + quote(record.path, safe="/")


@dataclass(frozen=True)
class _Link:
    url: str
    filename: str
    sha256: str
    requires_python: str | None
    metadata_sha256: str | None
    yanked: str | None
    size: int
    upload_time: str


def _links(state: ProjectState) -> list[_Link]:
    return [
        _Link(
            file_url(r),
            r.filename,
            r.sha256,
            r.requires_python,
            r.metadata_sha256,
            r.yanked,
            r.size,
            r.upload_time,
        )
        for r in state.served()
    ]


def _dumps(body: dict[str, Any]) -> bytes:
    return (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def api_version(state: ProjectState) -> str:
    return API_VERSION if state.status is None else STATUS_API_VERSION


def project_html(state: ProjectState) -> bytes:
    template = environment().get_template("project.html")
    page = template.render(
        api_version=api_version(state), name=state.name, files=_links(state), status=state.status
    )
    return page.encode()


def _file_json(record: FileRecord) -> dict[str, Any]:
    metadata: bool | dict[str, str] = (
        {"sha256": record.metadata_sha256} if record.metadata_sha256 is not None else False
    )
    entry: dict[str, Any] = {
        "filename": record.filename,
        "url": file_url(record),
        "hashes": {"sha256": record.sha256},
    }
    if record.requires_python is not None:
        entry["requires-python"] = record.requires_python
    entry["core-metadata"] = metadata
    entry["dist-info-metadata"] = metadata
    entry["yanked"] = (record.yanked or True) if record.yanked is not None else False
    entry["size"] = record.size
    entry["upload-time"] = record.upload_time
    return entry


def project_json(state: ProjectState) -> bytes:
    body: dict[str, Any] = {"meta": {"api-version": api_version(state)}, "name": state.name}
    if state.status is not None:
        body["project-status"] = _status_json(state.status)
    body["files"] = [_file_json(r) for r in state.served()]
    body["versions"] = state.versions()
    return _dumps(body)


def _status_json(status: Status) -> dict[str, str]:
    entry = {"status": status.status}
    if status.reason is not None:
        entry["reason"] = status.reason
    return entry


def root_html(projects: Iterable[str]) -> bytes:
    template = environment().get_template("root.html")
    return template.render(api_version=API_VERSION, projects=sorted(projects)).encode()


def root_json(projects: Iterable[str]) -> bytes:
    return _dumps(
        {"meta": {"api-version": API_VERSION}, "projects": [{"name": p} for p in sorted(projects)]}
    )
