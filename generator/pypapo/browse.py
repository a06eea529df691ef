"""Human-readable pages under ``browse/``: a root page and one page per project. Pure: no I/O.

They are separate from the machine pages under ``simple/`` so installers never see them. A project
page is a function of its ``ProjectState`` alone and the root page of the project names alone,
so a refresh renders them as cheaply as the machine pages and a full build gives the same bytes.
Links are relative (``browse/<project>/`` is as deep as ``simple/<project>/``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote

import jinja2
from packaging.version import Version

from pypapo import render
from pypapo.layout import BROWSE_PREFIX
from pypapo.model import FileRecord, ProjectState
from pypapo.render import file_url

ROOT_PAGE = BROWSE_PREFIX + "index.html"
CONTENT_TYPE = render.HTML_CONTENT_TYPE


def project_page_path(project: str) -> str:
    """``browse/<project>/index.html`` for a normalized project name."""
    return f"{BROWSE_PREFIX}{project}/index.html"


@cache
def _environment() -> jinja2.Environment:
    # the machine pages' environment (same loader and escaping) plus the browse pages' filter
    env = render.environment().overlay()
    env.filters["size"] = human_size
    return env


def human_size(size: int) -> str:
    """``1.5 MiB``-style sizes (exact bytes below 1 KiB)."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


@dataclass(frozen=True)
class _File:
    filename: str
    url: str
    size: int
    sha256: str
    upload_time: str
    requires_python: str | None
    yanked: str | None


@dataclass(frozen=True)
class _Version:
    version: str
    summary: str
    files: tuple[_File, ...]
    yanked: bool


def _file(record: FileRecord) -> _File:
    # "2024-01-02T03:04:05.000000Z" -> "2024-01-02 03:04:05 UTC": readable, still exact
    when = record.upload_time.split(".")[0].replace("T", " ") + " UTC"
    return _File(
        record.filename,
        file_url(record),
        record.size,
        record.sha256,
        when,
        record.requires_python,
        record.yanked,
    )


def _versions(state: ProjectState) -> list[_Version]:
    by_version: dict[Version, list[FileRecord]] = {}
    for record in state.served():
        by_version.setdefault(Version(record.version), []).append(record)
    return [
        _Version(
            str(version),
            next((r.summary for r in records if r.summary), ""),
            tuple(_file(r) for r in records),
            all(r.yanked is not None for r in records),
        )
        for version, records in sorted(by_version.items(), reverse=True)
    ]


def project_page(state: ProjectState) -> bytes:
    """The browse page of one project: versions (newest first), their files and details."""
    versions = _versions(state)
    current = next((v for v in versions if not v.yanked), versions[0] if versions else None)
    template = _environment().get_template("browse_project.html")
    return template.render(
        name=state.name,
        simple_url=f"../../simple/{quote(state.name)}/",
        summary=current.summary if current is not None else "",
        latest=current.version if current is not None else None,
        versions=versions,
        status=state.status,
    ).encode()


def root_page(projects: Iterable[str]) -> bytes:
    """The browse root: every project, linking to its browse page."""
    names = sorted(projects)
    template = _environment().get_template("browse_root.html")
    return template.render(projects=[(n, quote(n) + "/") for n in names]).encode()
