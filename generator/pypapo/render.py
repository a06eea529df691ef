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
from urllib.parse import quote, urlsplit

import jinja2

from pypapo.layout import provenance_path
from pypapo.model import FileRecord, ProjectState
from pypapo.status import Status

API_VERSION = "1.1"
"""PEP 700 (``versions``, ``size``, ``upload-time``) is API version 1.1."""
PROVENANCE_API_VERSION = "1.3"
"""PEP 740 (``provenance``) is API version 1.3; likewise said only by pages that carry it."""
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
    provenance: str | None


def provenance_url(state: ProjectState, record: FileRecord, public_url: str | None) -> str | None:
    """The fully qualified URL of the record's provenance document (PEP 740 wants one, and
    pypi-simple's JSON model accepts no other), or ``None``: no matching attestation, or no
    ``public_url`` to qualify it with."""
    if public_url is None or not state.attestations_of(record):
        return None
    return public_url.rstrip("/") + "/" + quote(provenance_path(record.path), safe="/")


def public_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the URL the index's root is served at (``None``: it can): an
    absolute http(s) URL with a host, no query or fragment (PEP 740 wants a secure origin;
    plain http is allowed for a cluster-internal or test index)."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.netloc:
        return f"public URL {url!r} is not an absolute http(s) URL"
    if parts.query or parts.fragment or url != url.strip():
        return f"public URL {url!r} has a query, a fragment or spaces"
    return None


def _links(state: ProjectState, public_url: str | None) -> list[_Link]:
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
            provenance_url(state, r, public_url),
        )
        for r in state.served()
    ]


def _dumps(body: dict[str, Any]) -> bytes:
    return (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def api_version(state: ProjectState, links: Iterable[_Link] = ()) -> str:
    if state.status is not None:
        return STATUS_API_VERSION
    if any(link.provenance is not None for link in links):
        return PROVENANCE_API_VERSION
    return API_VERSION


def project_html(state: ProjectState, public_url: str | None = None) -> bytes:
    template = environment().get_template("project.html")
    links = _links(state, public_url)
    page = template.render(
        api_version=api_version(state, links), name=state.name, files=links, status=state.status
    )
    return page.encode()


def _file_json(record: FileRecord, provenance: str | None) -> dict[str, Any]:
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
    if provenance is not None:  # PEP 740 lets an index leave the key out when there is none
        entry["provenance"] = provenance
    return entry


def project_json(state: ProjectState, public_url: str | None = None) -> bytes:
    links = _links(state, public_url)
    body: dict[str, Any] = {"meta": {"api-version": api_version(state, links)}, "name": state.name}
    if state.status is not None:
        body["project-status"] = _status_json(state.status)
    served = state.served()
    body["files"] = [_file_json(r, link.provenance) for r, link in zip(served, links, strict=True)]
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
