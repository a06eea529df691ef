"""``pypapo serve``: serve a folder index over HTTP the way ``nginx/nginx.conf`` does, and keep it
current while files come and go (watchfiles delivers batched change events).

The handler mirrors the NGINX config: same content negotiation, content types, ``Vary: Accept``,
cache headers, relative redirects, health endpoint, and 404 for private files.
"""

from __future__ import annotations

import io
import logging
import mimetypes
import os
import sys
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import watchfiles

from pypapo import http_policy, render
from pypapo.errors import ConflictError, describe_error
from pypapo.layout import INDEX_PREFIX, SIDECAR_SUFFIX
from pypapo.negotiation import choose_format
from pypapo.plan import SIDECAR_CONTENT_TYPE
from pypapo.refresh import refresh
from pypapo.report import Report
from pypapo.storage import FILE_CACHE_CONTROL, PAGE_CACHE_CONTROL, StorageError
from pypapo.storage.local import LocalStorage

log = logging.getLogger("pypapo.serve")


def _content_type(path: Path) -> str:
    if path.name.endswith(SIDECAR_SUFFIX):
        return SIDECAR_CONTENT_TYPE
    if path.name.endswith(".json"):
        return render.JSON_CONTENT_TYPE
    if path.name.endswith(".html"):
        return render.HTML_CONTENT_TYPE
    if path.name.endswith(".tar.gz"):
        return "application/gzip"
    if path.name.endswith(".whl"):
        return "application/zip"
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class IndexHandler(BaseHTTPRequestHandler):
    """Serves one root directory; set ``root`` on a subclass."""

    root: Path
    server_version = "pypapo"
    sys_version = ""
    # HTTP/1.1 keeps the connection for the next request (every answer has a Content-Length);
    # an idle one is closed after NGINX's keepalive_timeout
    protocol_version = "HTTP/1.1"
    timeout = http_policy.KEEPALIVE_TIMEOUT

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        if parsed and (
            "Transfer-Encoding" in self.headers or self.headers["Content-Length"] not in (None, "0")
        ):
            # a body this server does not read would be taken for the next request
            self.close_connection = True
        return parsed

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def send_header(self, keyword: str, value: str) -> None:
        # the headers NGINX adds to every answer (pypapo-headers.conf): nosniff, and the
        # content security policy on HTML
        if keyword == "Content-Type" and value.startswith("text/html"):
            super().send_header("Content-Security-Policy", http_policy.CONTENT_SECURITY_POLICY)
        super().send_header(keyword, value)

    def end_headers(self) -> None:
        super().send_header(*http_policy.NOSNIFF)
        super().end_headers()

    def _respond(self, *, send_body: bool) -> None:
        """Answer as nginx.conf does: the allow-list of ``pypapo.http_policy``, no symlinks."""
        path = http_policy.normalize(unquote(urlsplit(self.path).path))
        if path is None:  # above the root
            self._send_bytes(
                b"bad request\n", "text/plain", "no-store", send_body=send_body, status=400
            )
            return
        answer = http_policy.route(path)
        kind, target = answer.kind, answer.target
        if kind is http_policy.Kind.HEALTH:
            self._send_bytes(b"ok\n", "text/plain", "no-store", send_body=send_body)
        elif kind is http_policy.Kind.FRONT:
            self._send_bytes(
                http_policy.FRONT_PAGE,
                render.HTML_CONTENT_TYPE,
                PAGE_CACHE_CONTROL,
                send_body=send_body,
            )
        elif kind is http_policy.Kind.REDIRECT:
            self._redirect(target, send_body)
        elif kind is http_policy.Kind.PAGE:
            self._serve_page(target, send_body)
        elif kind is http_policy.Kind.PAGE_FILE:
            self._send_file(
                target,
                _content_type(Path(target)),
                PAGE_CACHE_CONTROL,
                send_body=send_body,
                vary=True,
            )
        elif kind is http_policy.Kind.BROWSE:
            self._send_file(
                target, render.HTML_CONTENT_TYPE, PAGE_CACHE_CONTROL, send_body=send_body
            )
        elif kind is http_policy.Kind.PROVENANCE and not self._refused(answer.refused_if):
            # a document that changes when its attestation does: a page's lifetime
            self._send_file(
                target,
                http_policy.PROVENANCE_CONTENT_TYPE,
                PAGE_CACHE_CONTROL,
                send_body=send_body,
            )
        elif kind is http_policy.Kind.DOWNLOAD and self._refused(answer.refused_if):
            self._not_found(send_body)
        elif kind is http_policy.Kind.DOWNLOAD:
            self._send_file(
                target,
                http_policy.DOWNLOAD_CONTENT_TYPE,
                FILE_CACHE_CONTROL,
                send_body=send_body,
                download=True,
            )
        else:
            self._not_found(send_body)

    def _refused(self, marker: str) -> bool:
        """A quarantine marker is there (a regular file, reached without symlinks, as NGINX's
        ``-f`` test under ``disable_symlinks on`` sees it)."""
        handle = http_policy.open_beneath(self.root, marker)
        if handle is None:
            return False
        handle.close()
        return True

    def _serve_page(self, directory: str, send_body: bool) -> None:
        fmt = choose_format(", ".join(self.headers.get_all("Accept") or []) or None)
        content_type = render.JSON_CONTENT_TYPE if fmt == "json" else render.HTML_CONTENT_TYPE
        page = f"{directory}index.{fmt}"
        self._send_file(page, content_type, PAGE_CACHE_CONTROL, send_body=send_body, vary=True)

    def _redirect(self, location: str, send_body: bool) -> None:
        body = http_policy.MOVED_BODY
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _not_found(self, send_body: bool) -> None:
        self._send_bytes(b"not found\n", "text/plain", "no-store", send_body=send_body, status=404)

    def _send_bytes(
        self,
        body: bytes,
        content_type: str,
        cache_control: str,
        *,
        send_body: bool,
        status: int = 200,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache_control)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _send_file(
        self,
        relative: str,
        content_type: str,
        cache_control: str,
        *,
        send_body: bool,
        vary: bool = False,
        download: bool = False,
    ) -> None:
        # an open handle survives a concurrent atomic replace; a symlink is never followed
        handle = http_policy.open_beneath(self.root, relative)
        if handle is None:
            self._not_found(send_body)
            return
        with handle:
            size = os.fstat(handle.fileno()).st_size
            wanted = http_policy.byte_range(
                self.headers.get("Range"), size, self.headers.get("If-Range")
            )
            if wanted is not None and not wanted:
                # NGINX's answer: its own page, the location's headers kept
                self._start_unsatisfiable(content_type, size, download=download)
                body = http_policy.RANGE_NOT_SATISFIABLE_BODY
                self._end_file_headers(cache_control, len(body), vary=vary, download=download)
                if send_body:
                    self.wfile.write(body)
                return
            if wanted is None:
                wanted = range(size)
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", content_type)
                self.send_header("Accept-Ranges", "bytes")
            else:
                self.send_response(HTTPStatus.PARTIAL_CONTENT)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Range", f"bytes {wanted.start}-{wanted.stop - 1}/{size}")
            self._end_file_headers(cache_control, len(wanted), vary=vary, download=download)
            if send_body:
                handle.seek(wanted.start)
                _copy(handle, self.wfile, len(wanted))

    def _start_unsatisfiable(self, content_type: str, size: int, *, download: bool) -> None:
        """A 416 as NGINX sends it: its HTML error page (with the charset of the page
        locations), the content security policy only where the file itself would have one."""
        self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
        if content_type.startswith("text/html"):
            super().send_header("Content-Security-Policy", http_policy.CONTENT_SECURITY_POLICY)
        error_type = "text/html" if download else "text/html; charset=utf-8"
        super().send_header("Content-Type", error_type)
        self.send_header("Content-Range", f"bytes */{size}")

    def _end_file_headers(
        self, cache_control: str, length: int, *, vary: bool, download: bool
    ) -> None:
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", cache_control)
        if vary:
            self.send_header("Vary", "Accept")
        if download:
            self.send_header("Content-Disposition", http_policy.DOWNLOAD_DISPOSITION)
        self.end_headers()


def _copy(source: BinaryIO, target: io.BufferedIOBase, length: int) -> None:
    """Copy ``length`` bytes; a file cut short (it cannot be: files are replaced, never
    truncated) ends the answer early rather than padding it."""
    while length > 0:
        chunk = source.read(min(length, 1 << 16))
        if not chunk:
            return
        target.write(chunk)
        length -= len(chunk)


def changed_paths(root: Path, changes: Iterable[tuple[object, str]]) -> list[str]:
    """Object paths (relative, POSIX) from watchfiles changes, skipping pypapo's own pages.

    A new directory is walked: files created in it before the watcher saw it raise no event.
    """
    paths: set[str] = set()
    for _change, raw in changes:
        changed = Path(raw)
        found = [p for p in changed.rglob("*") if p.is_file()] if changed.is_dir() else [changed]
        for path in found:
            try:
                rel = path.resolve().relative_to(root).as_posix()
            except ValueError:
                continue
            if not rel.startswith(INDEX_PREFIX):
                paths.add(rel)
    return sorted(paths)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple[str, int]) -> None:
        """One log line for an ``OSError`` while answering (socketserver prints a traceback):
        a client that hangs up mid-download is routine, so only a debug line."""
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]  # a bug
            return
        level = logging.DEBUG if isinstance(error, ConnectionError) else logging.WARNING
        host, port = client_address[:2]
        log.log(level, "%s:%s: %s", host, port, describe_error(error))


class IndexServer:
    """An HTTP server and a watcher over one folder; ``start()`` then ``stop()``."""

    def __init__(self, root: Path, host: str = "127.0.0.1", port: int = 3333) -> None:
        self.root = root.resolve()
        self.storage = LocalStorage(self.root)
        handler = type("BoundIndexHandler", (IndexHandler,), {"root": self.root})
        try:
            self.httpd = _Server((host, port), handler)
        except OSError as e:  # a busy port, an unknown host: the address is what to fix
            raise OSError(e.errno, e.strerror, f"{host}:{port}") from e
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.on_refresh: Callable[[Report], None] | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self.httpd.serve_forever, name="pypapo-http", daemon=True),
            threading.Thread(target=self._watch, name="pypapo-watch", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _watch(self) -> None:
        try:
            for changes in watchfiles.watch(
                self.root, stop_event=self._stop, debounce=200, step=50, raise_interrupt=False
            ):
                self._refresh(changes)
        except OSError as e:  # the folder is gone, or the system's watch limit is reached
            # one line, as for any error of the environment: there is no bug to trace
            log.error("stopped watching %s: %s", self.root, describe_error(e))  # noqa: TRY400

    def _refresh(self, changes: Iterable[tuple[object, str]]) -> None:
        """Refresh what changed; the watcher outlives any single failed refresh (the next
        change to the same project refreshes it again)."""
        paths: list[str] = []
        try:
            paths = changed_paths(self.root, changes)
            if not paths:
                return
            report = refresh(self.storage, paths)
        except (OSError, StorageError, ConflictError) as e:
            # the environment (a full disk, a storage outage), not a bug: no traceback
            log.error("refresh of %s failed: %s", " ".join(paths), describe_error(e))  # noqa: TRY400
            return
        except Exception:  # a bug in pypapo: its traceback helps whoever reports it
            log.exception("refresh failed for %s", paths)
            return
        if self.on_refresh is not None:
            self.on_refresh(report)

    def stop(self) -> None:
        self._stop.set()
        if self._threads:  # shutdown() waits for a serve_forever() that would never start
            self.httpd.shutdown()
        self.httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
