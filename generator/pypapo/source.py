"""Where ``pypapo mirror`` reads an index from: a storage (a folder, a bucket) or any index
over HTTP(S) that speaks PEP 691 JSON or PEP 503 HTML.

A ``Source`` answers four questions: which projects the root page lists, a project's pages,
a file's bytes, a sidecar's bytes. Only the public pages are read (never ``.state.json``), so
read access is all a mirror needs; pages are parsed by ``pypapo.pages``, whose link checks keep
every object inside the index.

An HTTP index is another party's server, so it is read as hostile: only ``http``/``https``,
redirects only within the same origin, every page and sidecar bounded in size and in time (a
server that trickles bytes hits the deadline, not just the socket timeout), every file bounded
by the size its page gives and checked against its sha256 by the mirror. Each failure is one
``MirrorError`` naming the URL.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPMessage
from typing import IO, Protocol
from urllib.parse import quote, urljoin, urlsplit

from packaging.utils import NormalizedName

from pypapo.errors import PypapoError
from pypapo.layout import INDEX_PREFIX, ROOT_JSON, page_path, sidecar_path
from pypapo.model import FileRecord
from pypapo.pages import (
    BadLink,
    PageError,
    PageFile,
    parse_project_html,
    parse_project_json,
    parse_root_html,
    root_names_json,
)
from pypapo.render import JSON_CONTENT_TYPE
from pypapo.storage import Storage

PAGE_READ_ATTEMPTS = 3
"""Tries at reading a project's HTML and JSON pages from the same refresh."""
ACCEPT = f"{JSON_CONTENT_TYPE}, text/html;q=0.1"
"""PEP 691: JSON preferred, HTML accepted."""
MAX_PAGE = 64 << 20
"""The largest page read over HTTP (the public index's largest project pages are some MB)."""
MAX_SIDECAR = 16 << 20
"""The largest metadata sidecar read over HTTP (real ones are kilobytes)."""
TIMEOUT = 30.0
"""Seconds any one connect or read of an HTTP source may take."""
PAGE_DEADLINE = 120.0
"""Seconds a whole page or sidecar may take, however the server spreads its bytes."""
CHUNK = 1 << 20


class MirrorError(PypapoError):
    """The source holds no index, a page of it cannot be read, or a requirement cannot be."""


@dataclass(frozen=True)
class ProjectPages:
    """A project's pages as read, the files they list, and their links that are not mirrored."""

    name: NormalizedName
    files: tuple[PageFile, ...]
    bad_links: tuple[BadLink, ...] = ()
    html: bytes | None = None
    """The pages' bytes when a copy may take them as they are (pypapo's own pages, whose links
    are relative), ``None``: render them from ``files``."""
    json: bytes | None = None
    where: str = ""
    """The page as problems name it."""

    def bad_link_problems(self) -> list[str]:
        """One problem line per bad link, naming the page and the href."""
        return [f"{self.where}: bad link {b.href!r}: {b.reason}" for b in self.bad_links]


class Source(Protocol):
    """An index to copy from."""

    def describe(self) -> str: ...

    def root_names(self) -> list[object]:
        """The names the root page lists, as it gives them; ``MirrorError`` when there is no
        index or its root page cannot be read."""
        ...

    def project(self, name: NormalizedName) -> ProjectPages | None:
        """The project's pages, ``None`` when the index has no such project; ``MirrorError``
        when they cannot be read."""
        ...

    def sidecar(self, record: FileRecord) -> bytes | None:
        """The advertised sidecar's bytes when they match the page's hash, else ``None``."""
        ...

    def download(self, record: FileRecord, sink: Callable[[bytes], object]) -> None:
        """Feed the file to ``sink`` in chunks; ``MirrorError`` when it cannot be read."""
        ...


def open_source(target: str) -> Source:
    """The source a CLI ``SOURCE`` names: an ``http(s)://`` index URL, or a storage target."""
    if urlsplit(target).scheme in {"http", "https"}:
        return HttpSource(target)
    from pypapo.storage import open_storage  # noqa: PLC0415 (gcs is an extra)

    return StorageSource(open_storage(target))


# --- a storage -----------------------------------------------------------------------------------


class StorageSource:
    """An index in a folder or a bucket, read through the storage protocol."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def describe(self) -> str:
        return self.storage.describe()

    def root_names(self) -> list[object]:
        root = self.storage.get(ROOT_JSON)
        if root is None:
            raise MirrorError(f"no index in {self.describe()} (no {ROOT_JSON}); run pypapo build")
        try:
            return root_names_json(root.data)
        except PageError as e:
            raise MirrorError(f"unreadable page {ROOT_JSON}: {e}") from e

    def project(self, name: NormalizedName) -> ProjectPages | None:
        """Both pages from one refresh: the HTML is written before the JSON, so it is read
        first, and its links must be the JSON page's."""
        html_path, json_path = page_path(name, "html"), page_path(name, "json")
        for _ in range(PAGE_READ_ATTEMPTS):
            html = self.storage.get(html_path)
            page = self.storage.get(json_path)
            if page is None:
                return None
            try:
                parsed = parse_project_json(page.data, name)
            except PageError as e:  # not JSON, or not a project page
                raise MirrorError(f"unreadable page {json_path}: {e}") from e
            if html is None:
                continue
            try:
                hrefs = parse_project_html(html.data, name).hrefs
            except PageError as e:
                raise MirrorError(f"unreadable page {html_path}: {e}") from e
            if hrefs == parsed.hrefs:
                files, bad = tuple(parsed.files), tuple(parsed.bad_links)
                return ProjectPages(name, files, bad, html.data, page.data, json_path)
        raise MirrorError(
            f"{html_path} and {json_path} disagree after {PAGE_READ_ATTEMPTS} reads: run "
            "pypapo check, or retry once uploads settle"
        )

    def sidecar(self, record: FileRecord) -> bytes | None:
        blob = self.storage.get(sidecar_path(record.path))
        if blob is None or hashlib.sha256(blob.data).hexdigest() != record.metadata_sha256:
            return None
        return blob.data

    def download(self, record: FileRecord, sink: Callable[[bytes], object]) -> None:
        info = self.storage.stat(record.path)
        if info is None:
            raise MirrorError(f"{record.path}: listed but missing in {self.describe()}")
        self.storage.stream(record.path, info.generation, sink)


# --- an index over HTTP ------------------------------------------------------------------------


class _SameOrigin(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the same scheme, host and port."""

    def redirect_request(  # noqa: PLR0917 (urllib's signature)
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            raise urllib.error.HTTPError(
                req.full_url, code, f"redirect to another origin: {newurl}", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


@dataclass(frozen=True)
class _Answer:
    content_type: str
    data: bytes


class HttpSource:
    """A PEP 691/503 index at ``url`` (its root page, ``.../simple/``). Object paths map to
    URLs as the index's relative links do: ``simple/<p>/...`` below ``url``, everything else
    below its parent."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = TIMEOUT,
        deadline: float = PAGE_DEADLINE,
        max_page: int = MAX_PAGE,
    ) -> None:
        if urlsplit(url).scheme not in {"http", "https"}:
            raise MirrorError(f"not an http or https URL: {url!r}")
        self.url = url if url.endswith("/") else url + "/"
        self.timeout, self.deadline, self.max_page = timeout, deadline, max_page
        self._opener = urllib.request.build_opener(_SameOrigin())

    def describe(self) -> str:
        return self.url

    def url_of(self, path: str) -> str:
        """The URL of an object path (one ``pages.object_path`` accepted)."""
        inside = path.removeprefix(INDEX_PREFIX + "/")
        if inside != path:
            return self.url + quote(inside)
        return urljoin(self.url, "../") + quote(path)

    def _open(self, url: str, accept: str) -> IO[bytes] | None:
        request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 (http only)
        try:
            response: IO[bytes] = self._opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            e.close()
            if e.code in {404, 410}:
                return None
            raise MirrorError(f"{url}: HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            raise MirrorError(f"{url}: {reason}") from None
        if _origin(getattr(response, "url", url)) != _origin(url):
            response.close()
            raise MirrorError(f"{url}: answered from another origin")
        return response

    def _read(self, url: str, accept: str, limit: int) -> _Answer | None:
        """The whole answer, at most ``limit`` bytes, within the deadline; ``None``: 404."""
        response = self._open(url, accept)
        if response is None:
            return None
        end = time.monotonic() + self.deadline
        data = bytearray()
        try:
            with response:
                while chunk := response.read(min(CHUNK, limit + 1 - len(data))):
                    data += chunk
                    if len(data) > limit:
                        raise MirrorError(f"{url}: larger than {limit} bytes")
                    if time.monotonic() > end:
                        raise MirrorError(f"{url}: took longer than {self.deadline:g}s")
        except (OSError, ValueError) as e:  # a timeout, a reset, a broken chunked encoding
            raise MirrorError(f"{url}: {e}") from None
        headers = getattr(response, "headers", Message())
        return _Answer(headers.get_content_type(), bytes(data))

    def root_names(self) -> list[object]:
        answer = self._read(self.url, ACCEPT, self.max_page)
        if answer is None:
            raise MirrorError(f"no index at {self.url} (404)")
        try:
            if answer.content_type == JSON_CONTENT_TYPE:
                return root_names_json(answer.data)
            return list[object](sorted(parse_root_html(answer.data)))
        except PageError as e:
            raise MirrorError(f"unreadable page {self.url}: {e}") from e

    def project(self, name: NormalizedName) -> ProjectPages | None:
        url = self.url + name + "/"
        answer = self._read(url, ACCEPT, self.max_page)
        if answer is None:
            return None
        try:
            if answer.content_type == JSON_CONTENT_TYPE:
                parsed = parse_project_json(answer.data, name)
            else:
                parsed = parse_project_html(answer.data, name)
        except PageError as e:
            raise MirrorError(f"unreadable page {url}: {e}") from e
        return ProjectPages(name, tuple(parsed.files), tuple(parsed.bad_links), where=url)

    def sidecar(self, record: FileRecord) -> bytes | None:
        try:
            answer = self._read(self.url_of(sidecar_path(record.path)), "*/*", MAX_SIDECAR)
        except MirrorError:
            return None  # the caller names the sidecar as missing or different
        if answer is None or hashlib.sha256(answer.data).hexdigest() != record.metadata_sha256:
            return None
        return answer.data

    def download(self, record: FileRecord, sink: Callable[[bytes], object]) -> None:
        """The file, never more bytes than its page gives (when it gives a size)."""
        url = self.url_of(record.path)
        response = self._open(url, "*/*")
        if response is None:
            raise MirrorError(f"{record.path}: listed but missing at {url}")
        limit = record.size or None
        done = 0
        try:
            with response:
                while chunk := response.read(CHUNK):
                    done += len(chunk)
                    if limit is not None and done > limit:
                        raise MirrorError(f"{url}: larger than the {limit} bytes its page gives")
                    sink(chunk)
        except (OSError, ValueError) as e:
            if isinstance(e, OSError) and e.filename is not None:
                raise  # the copy's own write failed (a full disk): not the source's fault
            raise MirrorError(f"{url}: {e}") from None
