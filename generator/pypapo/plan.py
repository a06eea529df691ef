"""What a project must look like in storage, as data: a pure function of its committed state.

``project_plan(state)`` lists every object the project's state implies, in the order they must
be written: the quarantine markers of files the PEP 792 status refuses (first, so that a
quarantine takes hold before anything else), the PEP 740 provenance documents of the files
served (before any page links them), the PEP 658 sidecars, ``index.html``, the
project's membership in the root pages, ``index.json``, the browse page, and last the publish
marker. Reconciling is applying the
plan; "is the project current" is comparing it. The marker (``simple/<p>/.published``) holds
the plan's digest, is removed before the first write of any publish and written back after the
last, so its presence with the plan's digest means every object of that plan was in place
when it was written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from packaging.utils import NormalizedName

from pypapo import browse, render
from pypapo.attestation import PROVENANCE_CONTENT_TYPE, provenance_document
from pypapo.layout import (
    attested_path,
    project_dir,
    provenance_path,
    quarantine_path,
    sidecar_path,
    status_path,
)
from pypapo.model import FileRecord, ProjectState

MARKER_NAME = ".published"
MARKER_CONTENT_TYPE = "text/plain; charset=utf-8"
QUARANTINE_CONTENT_TYPE = "text/plain; charset=utf-8"
SIDECAR_CONTENT_TYPE = "application/octet-stream"


def marker_path(project: str) -> str:
    return project_dir(project) + MARKER_NAME


@dataclass(frozen=True)
class Page:
    """An object whose bytes the state determines; ``data`` is ``None`` when it must not exist."""

    path: str
    data: bytes | None
    content_type: str

    def fingerprint(self) -> str:
        return "-" if self.data is None else hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Sidecar:
    """A PEP 658 sidecar: the state knows its hash, its bytes come from the distribution."""

    path: str
    record: FileRecord

    @property
    def sha256(self) -> str:
        return self.record.metadata_sha256 or ""  # plans hold sidecars of such records only

    def fingerprint(self) -> str:
        return self.sha256


@dataclass(frozen=True)
class Plan:
    project: NormalizedName
    markers: tuple[Page, ...]
    """One marker per file the status refuses; NGINX refuses a file whose marker exists."""
    provenance: tuple[Page, ...]
    """One PEP 740 provenance document per served file with a matching attestation."""
    sidecars: tuple[Sidecar, ...]
    html: Page
    json: Page
    browse: Page
    listed: bool
    """Whether the root pages list the project (exactly when it has files)."""

    @property
    def quarantine(self) -> tuple[Page, ...]:
        """The objects written before the sidecars, which ``publish`` writes, compares and
        removes as one group (the name predates provenance): quarantine markers, then
        provenance documents. A plan without either keeps its digest."""
        return self.markers + self.provenance

    def pages(self) -> tuple[Page, Page, Page]:
        return self.html, self.json, self.browse

    def digest(self) -> str:
        # markers first, and only when there are some: a plan without any keeps its digest
        lines = [f"{m.path}\0{m.fingerprint()}" for m in self.quarantine]
        lines += [f"{s.path}\0{s.fingerprint()}" for s in self.sidecars]
        lines += [f"{p.path}\0{p.fingerprint()}" for p in self.pages()]
        lines.append(f"listed\0{self.listed}")
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def marker(self) -> Page:
        """Written last; absent for a project with no files (a scratch build writes none)."""
        data = f"{self.digest()}\n".encode() if self.listed else None
        return Page(marker_path(self.project), data, MARKER_CONTENT_TYPE)

    def entries(self) -> Iterator[Sidecar | Page]:
        """Sidecars, then pages in the order the safety argument needs (without the root
        membership, which the publisher settles between ``index.html`` and ``index.json``)."""
        yield from self.quarantine
        yield from self.sidecars
        yield from self.pages()


def project_plan(state: ProjectState, public_url: str | None = None) -> Plan:
    """Everything the state implies. Records of twins keep their sidecars too: deleting the
    served file promotes a twin without another read of it. ``public_url`` is where the
    storage's root is served: the pages link provenance documents only by a full URL."""
    project = state.name
    sidecars = tuple(
        Sidecar(sidecar_path(r.path), r) for r in state.records if r.metadata_sha256 is not None
    )
    has_files = state.exists
    html = render.project_html(state, public_url) if has_files else None
    json = render.project_json(state, public_url) if has_files else None
    human = browse.project_page(state) if has_files else None
    return Plan(
        project=project,
        markers=quarantine_markers(state),
        provenance=provenance_documents(state),
        sidecars=sidecars,
        html=Page(project_dir(project) + "index.html", html, render.HTML_CONTENT_TYPE),
        json=Page(project_dir(project) + "index.json", json, render.JSON_CONTENT_TYPE),
        browse=Page(browse.project_page_path(project), human, browse.CONTENT_TYPE),
        listed=has_files,
    )


def quarantine_markers(state: ProjectState) -> tuple[Page, ...]:
    """A marker for every recorded file the status refuses, twins included: each is a file
    NGINX would otherwise serve by its URL."""
    data = f"{state.name}\n".encode()
    return tuple(
        Page(quarantine_path(r.path), data, QUARANTINE_CONTENT_TYPE)
        for r in state.records
        if state.refuses(r)
    )


def provenance_documents(state: ProjectState) -> tuple[Page, ...]:
    """A document for each served file with attestations of its bytes (none for a file the
    status refuses: nothing of it is served)."""
    pages = []
    for record in state.served():
        attested = state.attestations_of(record)
        if attested:
            data = provenance_document(attested)
            pages.append(Page(provenance_path(record.path), data, PROVENANCE_CONTENT_TYPE))
    return tuple(pages)


def stale_provenance(state: ProjectState, paths: Iterable[str]) -> list[str]:
    """Provenance documents that may exist for ``paths`` (distributions, attestations and the
    status object looked at) and that a verifying publish must remove unless the plan has
    them: only where an attestation is or was involved, so a project without any pays no
    request."""
    attested = {a.distribution for a in state.attestations}
    # a status change may refuse (or serve again) every file of the project
    every = attested if status_path(state.name) in paths else set()
    found = {provenance_path(d) for d in every}
    for path in paths:
        dist = attested_path(path)
        if dist is not None or path in attested:
            found.add(provenance_path(dist or path))
    return sorted(found)
