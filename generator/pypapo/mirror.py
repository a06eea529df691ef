"""``pypapo mirror SOURCE DIR [REQ...] [-r FILE]``: copy an index into a folder that works as a
``file://`` index with no server, e.g. inside a Cloud Build step that can read the bucket but
not the cluster.

Everything comes from the public pages (``simple/**``, what NGINX serves); the private
``.state.json`` files are neither read nor copied, so the mirror needs only read access and
copies one consistent snapshot of each project: its JSON page names the files, their sha256 and
their sidecars' sha256, and every download is checked against them.

- Full mirror (no requirements): the project pages are copied byte for byte — every href is
  relative, so they work from the copy as they are — with every file they list and every
  sidecar they advertise. The root pages list the projects with pages in DIR (the same bytes as
  the source's when every project was copied).
- Partial mirror (requirements): only the versions the requirements need. The copied projects'
  pages are re-rendered with ``pypapo.render`` from the records of the source's JSON page,
  restricted to the copied files, so every link and every advertised sidecar exists in the copy
  and an installer never picks a version that is not there. With nothing pruned the re-rendered
  pages are byte-identical to the source's (tested), so pruned pages are the same pages minus
  some files. The root pages list the projects with pages in DIR.
- Incremental: a file already in DIR with the size and sha256 the page gives is not downloaded.
- Hostile pages: the source's pages are input like any upload. Each link must be a relative
  link to a safe object path inside the index (``object_path``), to a distribution of the
  page's project under the file name the entry gives; a bad link is reported naming its page
  and href, and the rest goes on (a full mirror then leaves that project's pages out: they
  would link what is not copied; a partial one picks among the good links). Project names of
  the root page and the metadata in sidecars are checked the same way.

The resolver is deliberately small. For each name it takes the highest version that satisfies
every specifier (and constraint) met so far, for the running interpreter (or
``--python-version``): environment markers with extras, Requires-Python, and PEP 592 yanks (a
yanked file only when pinned with ``==``/``===``). It follows dependencies through the PEP 658
sidecars. It copies every file of a chosen version (all wheels and the sdist), so the installer
still makes its own platform choice. Limits: no backtracking (when a later specifier excludes a
version already chosen, the newer choice is copied and the dependencies of the old one stay);
a version without a sidecar (an sdist with dynamic metadata) has its dependencies reported, not
followed; names the source does not hold are left to the installer's other indexes.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.markers import default_environment
from packaging.metadata import Metadata
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidName, NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from pypapo import render
from pypapo.errors import InvalidFilenameError, PypapoError
from pypapo.layout import (
    INDEX_PREFIX,
    ROOT_HTML,
    ROOT_JSON,
    looks_like_distribution,
    object_name_problem,
    page_path,
    parse_dist_filename,
    project_dir,
    sidecar_path,
)
from pypapo.model import FileRecord, ProjectState
from pypapo.storage import Storage, StorageError
from pypapo.storage.local import temporary_beside

PAGE_READ_ATTEMPTS = 3
"""Tries at reading a project's HTML and JSON pages from the same refresh."""
MAX_NAME_BYTES = 255
"""The longest file or folder name common file systems hold: a longer one in a link would fail
the copy's write, not the link."""
_SHA256 = re.compile(r"[0-9a-f]{64}")


class MirrorError(PypapoError):
    """The source holds no index, or a requirement cannot be read."""


class PageError(ValueError):
    """A page of the source, or an entry of it, that cannot be mirrored; the message says why."""


@dataclass
class MirrorReport:
    """What one mirror run did; ``problems`` make the command exit 1."""

    copied: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    projects: set[NormalizedName] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PageFile:
    """One file entry of a project's JSON page, with the object path its href points to."""

    record: FileRecord
    version: Version


@dataclass(frozen=True)
class BadLink:
    """A file entry of a page that is not mirrored, and why."""

    href: object
    """The entry's ``url`` as the page gives it (not always a string)."""
    reason: str


@dataclass(frozen=True)
class ProjectPages:
    """A project's two pages as read together, the files the JSON page lists, and its links
    that are not mirrored."""

    name: NormalizedName
    html: bytes
    json: bytes
    files: tuple[PageFile, ...]
    bad_links: tuple[BadLink, ...] = ()


@dataclass(frozen=True)
class ParsedPage:
    """A JSON project page read entry by entry."""

    name: NormalizedName
    files: list[PageFile]
    bad_links: list[BadLink]
    hrefs: frozenset[str]
    """``url#sha256=...`` of every entry that has both: what the HTML page must link."""


# --- reading pages -----------------------------------------------------------------------------


def object_path(project: NormalizedName, url: str) -> str:
    """The object path an href of ``simple/<project>/`` points to. Only a relative link to a
    safe object path inside the index root is accepted (relative links are what make a copy
    work without rewriting): no scheme, host, query or backslash; no ``%2F`` or encoded dot
    segment, which a URL resolver and a file system would read as different paths; nothing
    ``layout.object_name_problem`` refuses, such as a control character. ``PageError`` says
    why not."""
    href = url.partition("#")[0]
    if not href:
        raise PageError("empty link")
    if "\\" in href:
        raise PageError("backslash in the link")
    try:
        parts = urlsplit(href)
    except ValueError as e:  # urlsplit: an unbalanced IPv6 bracket
        raise PageError(f"not a link ({e})") from e
    if parts.scheme or parts.netloc or href.startswith("/"):
        raise PageError("not a relative link")
    if "?" in href:
        raise PageError("query in the link")
    segments = [_decoded_segment(raw) for raw in href.split("/")]
    path = posixpath.normpath(posixpath.join(project_dir(project), *segments))
    if path.startswith("../") or path in {".", ".."}:
        raise PageError("link leaves the index")
    problem = object_name_problem(path)
    if problem is not None:
        raise PageError(f"link to an unsafe object path ({problem})")
    if any(len(name.encode()) > MAX_NAME_BYTES for name in path.split("/")):
        raise PageError(f"a name in the link is longer than {MAX_NAME_BYTES} bytes")
    return path


def _decoded_segment(raw: str) -> str:
    if not raw:
        raise PageError("empty segment in the link")
    try:
        text = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise PageError("link that is not UTF-8 once decoded") from None
    if "/" in text:
        raise PageError("encoded '/' in the link")
    if "\\" in text:
        raise PageError("encoded backslash in the link")
    if text in {".", ".."} and raw != text:
        raise PageError(f"encoded {text!r} segment in the link")
    return text


def _yank(value: object) -> str | None:
    if value is False or value is None:
        return None
    return value if isinstance(value, str) else ""


def _text(entry: dict[str, Any], key: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise PageError(f"{key!r} is not a string")
    return value


def _sha256(value: object, what: str) -> str:
    if not isinstance(value, str) or _SHA256.fullmatch(value) is None:
        raise PageError(f"{what} is not a sha256 hex digest")
    return value


def _metadata_sha256(entry: dict[str, Any]) -> str | None:
    metadata = entry.get("core-metadata", entry.get("dist-info-metadata", False))
    if not isinstance(metadata, dict) or "sha256" not in metadata:
        return None  # no sidecar, or one without a hash, which the mirror cannot check
    return _sha256(metadata["sha256"], "the sidecar's sha256")


def _size(entry: dict[str, Any]) -> int:
    size = entry.get("size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise PageError("'size' is not a byte count")
    return size


def _page_file(project: NormalizedName, entry: object) -> PageFile:
    """One file entry of a JSON page; ``PageError`` (or ``InvalidFilenameError``) says why it
    is not mirrored."""
    if not isinstance(entry, dict):
        raise PageError("not a file entry")
    path = object_path(project, _text(entry, "url"))
    filename = _text(entry, "filename")
    if not looks_like_distribution(path):
        raise PageError(f"links {path!r}, which is not a distribution")
    if posixpath.basename(path) != filename:
        raise PageError(f"file name {filename!r} differs from the linked {path!r}")
    dist = parse_dist_filename(path)
    if dist.project != project:
        raise PageError(f"links a file of project {dist.project!r}")
    hashes = entry.get("hashes")
    record = FileRecord(
        path=path,
        filename=filename,
        version=str(dist.version),
        size=_size(entry),
        sha256=_sha256(hashes.get("sha256") if isinstance(hashes, dict) else None, "sha256"),
        upload_time=_text(entry, "upload-time", ""),
        generation="",
        requires_python=(
            None if entry.get("requires-python") is None else _text(entry, "requires-python")
        ),
        yanked=_yank(entry.get("yanked", False)),
        metadata_sha256=_metadata_sha256(entry),
    )
    return PageFile(record, dist.version)


def _href(entry: object) -> str | None:
    """The link the HTML page gives for this entry, when the entry says enough to tell."""
    if not isinstance(entry, dict):
        return None
    url, hashes = entry.get("url"), entry.get("hashes")
    sha = hashes.get("sha256") if isinstance(hashes, dict) else None
    return f"{url}#sha256={sha}" if isinstance(url, str) and isinstance(sha, str) else None


def parse_page(data: bytes, project: NormalizedName | None = None) -> ParsedPage:
    """Read a PEP 691 project page entry by entry (as pypapo renders them: ``generation`` is
    not on the page and is left empty). Links resolve from ``simple/<project>/``, where the page
    was read, which must be the project it names (``None``: the one it names). ``ValueError``
    when the page as a whole cannot be read; a bad entry is a ``BadLink``."""
    body = json.loads(data)
    if not isinstance(body, dict) or not isinstance(body.get("files"), list):
        raise PageError("not a project page (no list of files)")
    named = body.get("name")
    if not isinstance(named, str):
        raise PageError("not a project page (no project name)")
    name = canonicalize_name(named)
    if project is not None and name != project:
        raise PageError(f"it names project {name!r}, not {project!r}")
    files, bad = [], []
    for entry in body["files"]:
        try:
            files.append(_page_file(name, entry))
        except (PageError, InvalidFilenameError) as e:
            href = entry.get("url") if isinstance(entry, dict) else entry
            bad.append(BadLink(href, e.reason if isinstance(e, InvalidFilenameError) else str(e)))
    hrefs = frozenset(h for h in map(_href, body["files"]) if h is not None)
    return ParsedPage(name, files, bad, hrefs)


def records_of_page(data: bytes) -> tuple[NormalizedName, list[PageFile]]:
    """Parse a PEP 691 project page written by pypapo back into the records it was rendered
    from; ``ValueError`` for a page with a bad link too."""
    page = parse_page(data)
    if page.bad_links:
        first = page.bad_links[0]
        raise PageError(f"bad link {first.href!r}: {first.reason}")
    return page.name, page.files


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.update(v for k, v in attrs if k == "href" and v is not None)


def _html_hrefs(name: NormalizedName, data: bytes) -> set[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MirrorError(f"unreadable page {page_path(name, 'html')}: not UTF-8") from None
    parser = _Anchors()
    parser.feed(text)
    parser.close()
    return parser.hrefs


def read_project(storage: Storage, name: NormalizedName) -> ProjectPages | None:
    """Both pages of a project from one refresh (the HTML is written before the JSON, so the
    HTML is read first and its links must be the JSON page's); ``None`` when there is none."""
    for _ in range(PAGE_READ_ATTEMPTS):
        html = storage.get(page_path(name, "html"))
        page = storage.get(page_path(name, "json"))
        if page is None:
            return None
        try:
            parsed = parse_page(page.data, name)
        except ValueError as e:  # not JSON, or not a project page
            raise MirrorError(f"unreadable page {page_path(name, 'json')}: {e}") from e
        if html is not None and _html_hrefs(name, html.data) == parsed.hrefs:
            return ProjectPages(
                parsed.name, html.data, page.data, tuple(parsed.files), tuple(parsed.bad_links)
            )
    raise MirrorError(
        f"{page_path(name, 'html')} and {page_path(name, 'json')} disagree after "
        f"{PAGE_READ_ATTEMPTS} reads: run pypapo check, or retry once uploads settle"
    )


def bad_link_problems(project: ProjectPages) -> list[str]:
    """One problem line per bad link, naming the page and the href."""
    page = page_path(project.name, "json")
    return [f"{page}: bad link {b.href!r}: {b.reason}" for b in project.bad_links]


# --- resolving ---------------------------------------------------------------------------------


def marker_environment(python_version: str | None = None) -> dict[str, str]:
    """The running interpreter's marker environment, optionally for another Python version."""
    env = {key: str(value) for key, value in default_environment().items()}
    if python_version is not None:
        version = Version(python_version)
        env["python_full_version"] = str(version)
        env["python_version"] = f"{version.major}.{version.minor}"
    return env


class Resolver:
    """Pick one version per name for a requirement set, from the source's pages."""

    def __init__(
        self,
        storage: Storage,
        *,
        python_version: str | None = None,
        constraints: Sequence[Requirement] = (),
    ) -> None:
        self.storage = storage
        self.environment = marker_environment(python_version)
        self.python = Version(self.environment["python_full_version"])
        self.pages: dict[NormalizedName, ProjectPages | None] = {}
        self.sidecars: dict[str, bytes] = {}
        self.specifiers: dict[NormalizedName, SpecifierSet] = {}
        for c in constraints:
            name = canonicalize_name(c.name)
            self.specifiers[name] = self.specifiers.get(name, SpecifierSet()) & c.specifier
        self.chosen: dict[NormalizedName, Version] = {}
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.unreadable: set[NormalizedName] = set()

    def project(self, name: NormalizedName) -> ProjectPages | None:
        """The project's pages, read once; a page that cannot be read is a problem of that
        project alone (``None``), and its bad links are problems too."""
        if name not in self.pages:
            try:
                project = read_project(self.storage, name)
            except MirrorError as e:
                self.problems.append(str(e))
                self.unreadable.add(name)
                project = None
            if project is not None:
                self.problems += bad_link_problems(project)
            self.pages[name] = project
        return self.pages[name]

    def _applies(self, req: Requirement, extras: frozenset[str]) -> bool:
        if req.marker is None:
            return True
        try:
            return any(
                req.marker.evaluate({**self.environment, "extra": extra})
                for extra in (sorted(extras) or [""])
            )
        except ValueError as e:  # a marker packaging cannot evaluate (from a sidecar)
            self.problems.append(f"{req}: the marker cannot be evaluated ({e})")
            return False

    def resolve(self, requirements: Iterable[Requirement]) -> dict[NormalizedName, Version]:
        queue = [(r, frozenset[str]()) for r in requirements]
        expanded: set[tuple[NormalizedName, Version, frozenset[str]]] = set()
        while queue:
            req, parent_extras = queue.pop(0)
            if not self._applies(req, parent_extras):
                continue
            name = canonicalize_name(req.name)
            if req.url is not None:
                self.problems.append(f"{req}: direct URL requirements are not mirrored")
                continue
            spec = self.specifiers.get(name, SpecifierSet()) & req.specifier
            self.specifiers[name] = spec
            version = self.chosen.get(name)
            if version is None or not spec.contains(version, prereleases=True):
                version = self._pick(name, spec)
                if version is None:
                    continue
                self.chosen[name] = version
            extras = frozenset(canonicalize_name(e) for e in req.extras)
            if (name, version, extras) in expanded:
                continue
            expanded.add((name, version, extras))
            queue += [(dep, extras) for dep in self._dependencies(name, version)]
        return self.chosen

    def _pick(self, name: NormalizedName, spec: SpecifierSet) -> Version | None:
        project = self.project(name)
        if project is None:
            if name not in self.unreadable:  # an unreadable page is a problem already
                self.notes.append(f"{name} is not in this index (left to other indexes)")
            return None
        pinned = {
            Version(s.version)
            for s in spec
            if s.operator in {"==", "==="} and "*" not in s.version and is_version(s.version)
        }
        prereleases = True if pinned else None
        candidates = []
        for file in project.files:
            if not spec.contains(file.version, prereleases=prereleases):
                continue
            if file.record.yanked is not None and file.version not in pinned:
                continue
            if file.record.requires_python and not _python_ok(
                file.record.requires_python, self.python
            ):
                continue
            candidates.append(file.version)
        if not candidates:
            self.problems.append(
                f"no version of {name} in the index matches {str(spec) or 'any version'} "
                f"(Python {self.python}, yanked files only when pinned)"
            )
            return None
        return max(candidates)

    def _dependencies(self, name: NormalizedName, version: Version) -> list[Requirement]:
        project = self.project(name)
        assert project is not None  # noqa: S101 (a version was just picked from it)
        for file in project.files:
            if file.version != version or file.record.metadata_sha256 is None:
                continue
            data = fetch_sidecar(self.storage, file.record)
            if data is None:
                self.problems.append(f"{sidecar_path(file.record.path)}: advertised but missing")
                continue
            self.sidecars[file.record.path] = data
            return self._requirements(file.record, data)
        self.notes.append(
            f"{name} {version}: no metadata sidecar (sdist with dynamic metadata), "
            "its dependencies are not followed"
        )
        return []

    def _requirements(self, record: FileRecord, sidecar: bytes) -> list[Requirement]:
        try:
            return list(Metadata.from_email(sidecar, validate=False).requires_dist or [])
        except ValueError as e:  # packaging's InvalidMetadata: a Requires-Dist it cannot read
            self.problems.append(f"{sidecar_path(record.path)}: unreadable metadata ({e})")
            return []


def is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def _python_ok(requires_python: str, python: Version) -> bool:
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True  # installers ignore an invalid Requires-Python too


def fetch_sidecar(storage: Storage, record: FileRecord) -> bytes | None:
    """The sidecar's bytes when they match the hash the page advertises."""
    blob = storage.get(sidecar_path(record.path))
    if blob is None or hashlib.sha256(blob.data).hexdigest() != record.metadata_sha256:
        return None
    return blob.data


# --- copying -----------------------------------------------------------------------------------


def _local(dest: Path, path: str) -> Path:
    return dest.joinpath(*path.split("/"))


def _has(target: Path, size: int | None, sha256: str) -> bool:
    try:
        if size is not None and target.stat().st_size != size:
            return False
        with target.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest() == sha256
    except (FileNotFoundError, NotADirectoryError):
        return False


def _write(dest: Path, path: str, data: bytes) -> None:
    """Atomically: a reader of the copy never sees half a page (and a failed write leaves no
    temporary file)."""
    target = _local(dest, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with temporary_beside(str(target)) as name:
        tmp = Path(name)
        tmp.write_bytes(data)
        tmp.replace(target)


def _copy_distribution(storage: Storage, record: FileRecord, dest: Path) -> str:
    """Download one file, checked against the page's sha256; returns what happened."""
    target = _local(dest, record.path)
    if _has(target, record.size or None, record.sha256):
        return "present"
    info = storage.stat(record.path)
    if info is None:
        raise MirrorError(f"{record.path}: listed but missing in {storage.describe()}")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with temporary_beside(str(target)) as name:  # removed when the copy or its check fails
        tmp = Path(name)
        with tmp.open("wb") as out:

            def sink(chunk: bytes) -> None:
                digest.update(chunk)
                out.write(chunk)

            storage.stream(record.path, info.generation, sink)
        if digest.hexdigest() != record.sha256:
            raise MirrorError(
                f"{record.path}: sha256 differs from the page's (overwritten since it was "
                f"indexed? run pypapo check)"
            )
        tmp.replace(target)
    return "copied"


def _copy_sidecar(storage: Storage, record: FileRecord, dest: Path, known: bytes | None) -> None:
    if record.metadata_sha256 is None:
        return
    path = sidecar_path(record.path)
    if _has(_local(dest, path), None, record.metadata_sha256):
        return
    data = known if known is not None else fetch_sidecar(storage, record)
    if data is None:
        raise MirrorError(f"{path}: advertised but missing or different in {storage.describe()}")
    _write(dest, path, data)


def _copy_files(
    storage: Storage,
    records: Sequence[FileRecord],
    dest: Path,
    report: MirrorReport,
    *,
    sidecars: dict[str, bytes],
    jobs: int,
) -> None:
    def one(record: FileRecord) -> tuple[str, str]:
        try:
            outcome = _copy_distribution(storage, record, dest)
            _copy_sidecar(storage, record, dest, sidecars.get(record.path))
        except (StorageError, MirrorError) as e:
            return "problem", str(e)
        return outcome, record.path

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for outcome, detail in pool.map(one, records):
            {"copied": report.copied, "present": report.present, "problem": report.problems}[
                outcome
            ].append(detail)


def _root_names(storage: Storage) -> tuple[list[NormalizedName], list[str]]:
    """The projects the root page lists, and a problem for each name that is none (it would
    become a path in the copy)."""
    root = storage.get(ROOT_JSON)
    if root is None:
        raise MirrorError(f"no index in {storage.describe()} (no {ROOT_JSON}); run pypapo build")
    try:
        listed = render.parse_root_json(root.data)
    except (ValueError, KeyError, TypeError) as e:
        raise MirrorError(f"unreadable page {ROOT_JSON}: {e}") from e
    names: set[NormalizedName] = set()
    problems = []
    for name in sorted(listed, key=repr):  # names of any type: repr sorts them all
        try:
            if not isinstance(name, str):
                raise InvalidName  # noqa: TRY301 (one report for every kind of bad name)
            names.add(canonicalize_name(name, validate=True))
        except InvalidName:
            problems.append(f"{ROOT_JSON}: bad project name {name!r}: not a PEP 508 name")
    return sorted(names), problems


def _projects_in(dest: Path) -> set[str]:
    top = _local(dest, INDEX_PREFIX)
    return {p.parent.name for p in top.glob("*/index.json")} if top.is_dir() else set()


def mirror(
    storage: Storage,
    dest: Path,
    requirements: Sequence[Requirement] = (),
    *,
    constraints: Sequence[Requirement] = (),
    python_version: str | None = None,
    jobs: int = 8,
) -> MirrorReport:
    """Copy the index (or the part ``requirements`` need) from ``storage`` into ``dest``.

    Files first, then each project's pages, then the root pages, so a reader of ``dest`` never
    follows a link to a file that is not there yet.
    """
    report = MirrorReport()
    names, root_problems = _root_names(storage)  # no index: an error, not "nothing needed"
    if not requirements:
        report.problems += root_problems
        for name in names:
            _mirror_project(storage, name, dest, report, jobs)
        _write_root_pages(dest)
        return report
    resolver = Resolver(storage, python_version=python_version, constraints=constraints)
    chosen = resolver.resolve(requirements)
    report.problems += resolver.problems
    report.notes += resolver.notes
    for name, version in sorted(chosen.items()):
        project = resolver.project(name)
        assert project is not None  # noqa: S101 (chosen from it)
        keep = [f.record for f in project.files if f.version == version]
        problems = len(report.problems)
        _copy_files(storage, keep, dest, report, sidecars=resolver.sidecars, jobs=jobs)
        if len(report.problems) == problems:
            state = ProjectState.of(project.name, keep)
            _write(dest, page_path(name, "html"), render.project_html(state))
            _write(dest, page_path(name, "json"), render.project_json(state))
            report.projects.add(name)
    _write_root_pages(dest)
    return report


def _mirror_project(
    storage: Storage, name: NormalizedName, dest: Path, report: MirrorReport, jobs: int
) -> None:
    """A project's files, then its pages byte for byte; no pages when any file is missing
    (they would link it)."""
    try:
        project = read_project(storage, name)
    except MirrorError as e:
        report.problems.append(str(e))
        return
    if project is None:
        report.problems.append(f"{name}: in the root page but has no project page")
        return
    problems = len(report.problems)
    report.problems += bad_link_problems(project)
    records = [f.record for f in project.files]
    _copy_files(storage, records, dest, report, sidecars={}, jobs=jobs)
    if len(report.problems) == problems:
        _write(dest, page_path(name, "html"), project.html)
        _write(dest, page_path(name, "json"), project.json)
        report.projects.add(name)


def _write_root_pages(dest: Path) -> None:
    """Root pages listing the projects with pages in ``dest``: those of this run and of earlier
    ones, and none the source lists but this run could not copy."""
    projects = _projects_in(dest)
    _write(dest, ROOT_HTML, render.root_html(projects))
    _write(dest, ROOT_JSON, render.root_json(projects))


# --- command line ------------------------------------------------------------------------------


def logical_lines(text: str) -> list[str]:
    """A requirements file's lines with continuations joined and comments removed."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = pending + raw
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.lstrip().startswith("#"):
            continue
        line = line.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(pending.strip())
    return lines


@dataclass
class RequirementSet:
    requirements: list[Requirement] = field(default_factory=list)
    constraints: list[Requirement] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


_NESTED = {"-r": "requirements", "--requirement": "requirements", "-c": "constraints",
           "--constraint": "constraints"}  # fmt: skip


def read_requirement_files(
    paths: Iterable[str], read: Callable[[Path], str] = Path.read_text
) -> RequirementSet:
    """Requirements (and ``-c`` constraints) of pip requirements files, following ``-r``/``-c``
    relative to the file naming them; other options (``--hash``, ``-e``, index options) are
    ignored and listed."""
    result = RequirementSet()
    seen: set[Path] = set()

    def visit(path: Path, kind: str) -> None:
        if path.resolve() in seen:
            return
        seen.add(path.resolve())
        try:
            text = read(path)
        except OSError as e:
            raise MirrorError(f"cannot read requirements file {str(path)!r}: {e}") from e
        for line in logical_lines(text):
            word, _, rest = line.partition(" ")
            option, eq, value = word.partition("=")
            if option in _NESTED:
                visit(path.parent / (value if eq else rest.strip()), _NESTED[option])
            elif line.startswith("-"):
                result.ignored.append(f"{path}: {line}")
            else:
                spec = line.split(" --", 1)[0].strip()  # drop per-line options (--hash=...)
                target = result.requirements if kind == "requirements" else result.constraints
                target.append(parse_requirement(spec, str(path)))

    for p in paths:
        visit(Path(p), "requirements")
    return result


def parse_requirement(text: str, where: str = "command line") -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as e:
        raise MirrorError(f"invalid requirement {text!r} ({where}): {e}") from e
