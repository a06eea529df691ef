"""Read Simple API pages back: the parsers beside ``render``, which writes them. Pure: bytes in,
records out, no I/O.

``parse(render(state)) == state`` for what a page can say (``tests/test_pages.py``): project
pages in PEP 691 JSON and PEP 503 HTML (with PEP 592, 629, 658/714, 700 and 792 as ``render``
writes them), and both root pages. They also read pages of other indexes, which are input like
any upload: each file link must be a relative link to a safe object path inside the index
(``object_path``), to a distribution of the page's project under the file name the entry gives,
with a sha256 (the one hash a mirror verifies). A bad entry is a ``BadLink`` naming why; a page
that cannot be read at all is a ``PageError``.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from pypapo.errors import InvalidFilenameError
from pypapo.layout import (
    looks_like_distribution,
    object_name_problem,
    parse_dist_filename,
    project_dir,
)
from pypapo.model import FileRecord, ProjectState
from pypapo.status import Status

MAX_NAME_BYTES = 255
"""The longest file or folder name common file systems hold: a longer one in a link would fail
the copy's write, not the link."""
_SHA256 = re.compile(r"[0-9a-f]{64}")
_STATUS_META = "pypi:project-status"
_REASON_META = "pypi:project-status-reason"

_Parser = TypeVar("_Parser", bound=HTMLParser)


class PageError(ValueError):
    """A page, or an entry of it, that cannot be read; the message says why."""


@dataclass(frozen=True)
class PageFile:
    """One file entry of a project page, with the object path its href points to."""

    record: FileRecord
    version: Version


@dataclass(frozen=True)
class BadLink:
    """A file entry of a page that is not read, and why."""

    href: object
    """The entry's ``url`` as the page gives it (not always a string)."""
    reason: str


@dataclass(frozen=True)
class ParsedPage:
    """A project page read entry by entry."""

    name: NormalizedName
    files: list[PageFile]
    bad_links: list[BadLink]
    hrefs: frozenset[str]
    """``url#sha256=...`` of every entry that has both (JSON), every link (HTML): the two pages
    of one refresh give the same."""
    status: Status | None = None
    """PEP 792, without ``since`` (no page says when a status was set)."""

    def state(self) -> ProjectState:
        """The state the page shows (no storage generation, no summary: neither is on it)."""
        return ProjectState.of(self.name, [f.record for f in self.files], self.status)


# --- links -------------------------------------------------------------------------------------


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


# --- file entries (a JSON entry; an HTML anchor is read into the same shape) -------------------


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
        return None  # no sidecar, or one without a hash, which a mirror cannot check
    return _sha256(metadata["sha256"], "the sidecar's sha256")


def _size(entry: dict[str, Any]) -> int:
    size = entry.get("size", 0)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise PageError("'size' is not a byte count")
    return size


def _page_file(project: NormalizedName, entry: object) -> PageFile:
    """One file entry; ``PageError`` (or ``InvalidFilenameError``) says why it is not read."""
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


def _read_entries(name: NormalizedName, entries: list[Any]) -> tuple[list[PageFile], list[BadLink]]:
    files, bad = [], []
    for entry in entries:
        try:
            files.append(_page_file(name, entry))
        except (PageError, InvalidFilenameError) as e:
            href = entry.get("url") if isinstance(entry, dict) else entry
            bad.append(BadLink(href, e.reason if isinstance(e, InvalidFilenameError) else str(e)))
    return files, bad


def _status(status: object, reason: object) -> Status | None:
    if status is None:
        return None
    if not isinstance(status, str) or not (reason is None or isinstance(reason, str)):
        raise PageError("a project status that is not a string")
    return Status(status, reason, "")


# --- project pages -----------------------------------------------------------------------------


def _json(data: bytes) -> object:
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise PageError("not UTF-8") from None
    except ValueError as e:
        raise PageError(f"not JSON ({e})") from None


def _href(entry: object) -> str | None:
    """The link the HTML page gives for this entry, when the entry says enough to tell."""
    if not isinstance(entry, dict):
        return None
    url, hashes = entry.get("url"), entry.get("hashes")
    sha = hashes.get("sha256") if isinstance(hashes, dict) else None
    return f"{url}#sha256={sha}" if isinstance(url, str) and isinstance(sha, str) else None


def parse_project_json(data: bytes, project: NormalizedName | None = None) -> ParsedPage:
    """A PEP 691 project page. Links resolve from ``simple/<project>/``, where the page was
    read, which must be the project it names (``None``: the one it names)."""
    body = _json(data)
    if not isinstance(body, dict) or not isinstance(body.get("files"), list):
        raise PageError("not a project page (no list of files)")
    named = body.get("name")
    if not isinstance(named, str):
        raise PageError("not a project page (no project name)")
    name = canonicalize_name(named)
    if project is not None and name != project:
        raise PageError(f"it names project {name!r}, not {project!r}")
    status = body.get("project-status")
    if status is not None and not isinstance(status, dict):
        raise PageError("a project status that is not an object")
    files, bad = _read_entries(name, body["files"])
    hrefs = frozenset(h for h in map(_href, body["files"]) if h is not None)
    if status is None:
        return ParsedPage(name, files, bad, hrefs)
    return ParsedPage(name, files, bad, hrefs, _status(status.get("status"), status.get("reason")))


class _ProjectAnchors(HTMLParser):
    """Each ``<a>`` as a JSON-shaped file entry, and the PEP 792 ``<meta>`` tags."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[dict[str, Any]] = []
        self.hrefs: set[str] = set()
        self.meta: dict[str, str | None] = {}
        self._open: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "meta" and found.get("name") in {_STATUS_META, _REASON_META}:
            self.meta[str(found["name"])] = found.get("content")
        if tag == "a" and found.get("href") is not None:
            self._open = _anchor_entry(found)
            self.hrefs.add(str(found["href"]))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["filename"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.entries.append(self._open)
            self._open = None


def _anchor_entry(attrs: dict[str, str | None]) -> dict[str, Any]:
    """A PEP 503 anchor in the shape of a PEP 691 file entry, so both are checked alike."""
    url, _, fragment = str(attrs["href"]).partition("#")
    algorithm, _, digest = fragment.partition("=")
    entry: dict[str, Any] = {"url": url, "filename": "", "hashes": {algorithm: digest}}
    if "data-requires-python" in attrs:
        entry["requires-python"] = attrs["data-requires-python"]
    metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
    if metadata is not None and metadata.startswith("sha256="):
        entry["core-metadata"] = {"sha256": metadata.removeprefix("sha256=")}
    if "data-yanked" in attrs:
        entry["yanked"] = attrs["data-yanked"] or ""
    size = attrs.get("data-size")
    if size is not None:
        entry["size"] = int(size) if size.isascii() and size.isdigit() else size
    if attrs.get("data-upload-time") is not None:
        entry["upload-time"] = attrs["data-upload-time"]
    return entry


def parse_project_html(data: bytes, project: NormalizedName) -> ParsedPage:
    """A PEP 503 project page of ``project`` (an HTML page does not name its project in a way
    an index must follow, so the caller says which it read)."""
    parser = _fed(_ProjectAnchors(), data)
    files, bad = _read_entries(project, parser.entries)
    status = _status(parser.meta.get(_STATUS_META), parser.meta.get(_REASON_META))
    return ParsedPage(project, files, bad, frozenset(parser.hrefs), status)


def records_of_page(data: bytes) -> tuple[NormalizedName, list[PageFile]]:
    """Parse a PEP 691 project page written by pypapo back into the records it was rendered
    from; ``PageError`` for a page with a bad link too."""
    page = parse_project_json(data)
    if page.bad_links:
        first = page.bad_links[0]
        raise PageError(f"bad link {first.href!r}: {first.reason}")
    return page.name, page.files


# --- root pages --------------------------------------------------------------------------------


def root_names_json(data: bytes) -> list[object]:
    """The names a PEP 691 root page lists, as it gives them (of any type: the caller reports
    each bad one); ``PageError`` when it is no root page."""
    body = _json(data)
    projects = body.get("projects") if isinstance(body, dict) else None
    if not isinstance(projects, list) or not all(isinstance(p, dict) for p in projects):
        raise PageError("not a root page (no list of projects)")
    return [p.get("name") for p in projects]


def parse_root_json(data: bytes) -> set[str]:
    """The project names of a PEP 691 root page, each a string."""
    names = root_names_json(data)
    if not all(isinstance(n, str) for n in names):
        raise PageError("not a root page (a project name is not a string)")
    return {str(n) for n in names}


class _RootAnchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = True
            self.names.append("")

    def handle_data(self, data: str) -> None:
        if self._open:
            self.names[-1] += data

    def handle_endtag(self, tag: str) -> None:
        self._open = self._open and tag != "a"


def parse_root_html(data: bytes) -> set[str]:
    """The project names of a PEP 503 root page: the text of each link."""
    parser = _fed(_RootAnchors(), data)
    return {n.strip() for n in parser.names}


def _fed(parser: _Parser, data: bytes) -> _Parser:
    """``parser`` after reading the whole page, which must be UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PageError("not UTF-8") from None
    parser.feed(text)
    parser.close()
    return parser
