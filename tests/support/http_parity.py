"""What NGINX and ``pypapo serve`` must both answer: one table, two servers.

``ACCEPT_CASES`` is the negotiation rule of ``pypapo.negotiation`` (stated in docs/clients.md) as
a table; ``tests/test_negotiation.py`` checks the pure function against it and
``tests/test_http_parity.py`` runs it against both servers.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass

from tests.support.hostile_tree import HELD, SDIST, WHEEL

JSON = "application/vnd.pypi.simple.v1+json"
LATEST = "application/vnd.pypi.simple.latest+json"
V1_HTML = "application/vnd.pypi.simple.v1+html"

STATUS_CASES: list[tuple[str, int, str | None]] = [
    ("/simple", 301, "simple/"),
    ("/simple/first", 301, "first/"),
    ("/simple/first/", 200, None),
    ("/simple/nope/", 404, None),
    ("/simple/first/.state.json", 404, None),
    ("/pkgs/first-1.0-py3-none-any.whl.yanked", 404, None),
    ("/pkgs/", 404, None),  # no directory listings
    ("/pkgs/.pypapo-tmp-x", 404, None),
    ("/healthz", 200, None),
]

# (why, Accept header or None for no header, the format both servers must answer)
ACCEPT_CASES: list[tuple[str, str | None, str]] = [
    # what installers and browsers send
    ("pip", f"{JSON}, {V1_HTML}; q=0.1, text/html; q=0.01", "json"),
    ("uv", f"{JSON}, {V1_HTML};q=0.2, text/html;q=0.01", "json"),
    ("pdm (unearth)", f"{JSON}, {V1_HTML}; q=0.1, text/html; q=0.01", "json"),
    ("poetry", f"{JSON}, */*;q=0.1", "json"),
    (
        "firefox",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
        "html",
    ),
    (
        "chrome",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
        "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
        "html",
    ),
    ("curl", "*/*", "html"),
    ("no header", None, "html"),
    ("empty header", "", "html"),
    # the JSON types themselves
    ("v1 json", JSON, "json"),
    ("latest json", LATEST, "json"),
    ("upper case", JSON.upper(), "json"),
    ("mixed case latest", "Application/Vnd.PyPI.Simple.Latest+JSON", "json"),
    ("spaces and tabs around", f" \t{JSON}\t ", "json"),
    ("other parameters", f"{JSON}; charset=utf-8; level=1", "json"),
    # q-values: only zero refuses; weights are not compared
    ("q=0", f"{JSON};q=0, text/html", "html"),
    ("q=0.000 with spaces", f"{JSON} ; q=0.000", "html"),
    ("Q=0.", f"{JSON};Q=0.", "html"),
    ("q = 0 with spaces around =", f"{JSON}; q = 0", "html"),
    ("zero q after another parameter", f"{JSON};charset=utf-8;q=0", "html"),
    ("latest refused, v1 wanted", f"{LATEST};q=0, {JSON}", "json"),
    ("low q still json", f"{JSON};q=0.001", "json"),
    ("html weighted higher", f"text/html;q=0.9, {JSON};q=0.5", "json"),
    ("json weighted lower than html", f"{JSON};q=0.1, text/html", "json"),
    ("q=0.0001 is not zero by the rule", f"{JSON};q=0.0001", "json"),
    ("malformed q is not zero", f"{JSON};q=oops", "json"),
    ("q=0 on html only", f"text/html;q=0, {JSON}", "json"),
    # wildcards and HTML types never select JSON
    ("application wildcard", "application/*", "html"),
    ("v1 html", V1_HTML, "html"),
    ("latest html", "application/vnd.pypi.simple.latest+html", "html"),
    ("text wildcard", "text/*", "html"),
    # near misses: not the JSON type
    ("+jsonx suffix", "application/vnd.pypi.simple.v1+jsonx", "html"),
    ("v2 json", "application/vnd.pypi.simple.v2+json", "html"),
    ("plain json", "application/json", "html"),
    ("prefix glued to the type", f"x{JSON}", "html"),
    ("type glued to a parameter without ;", f"{JSON}q=1", "html"),
    ("dot instead of slash", "application.vnd.pypi.simple.v1+json", "html"),
    ("inside a quoted parameter", f'text/html;p="{JSON}"', "html"),
    ("non-ASCII lookalike", "application/vnd.pypi.s\u0131mple.v1+json", "html"),
    ("unknown type", "image/png", "html"),
]

# (why, path, request headers, the status both servers must answer). NGINX's static files honour
# one byte range (nginx.conf sets max_ranges 1: installers read one range at a time, and a
# multi-range request gets the whole file, as HTTP allows); answers built by the config itself
# (front page, health, redirects, 404) ignore Range.
RANGE_CASES: list[tuple[str, str, dict[str, str | bytes], int]] = [
    ("first bytes", f"/{WHEEL}", {"Range": "bytes=0-9"}, 206),
    ("suffix", f"/{WHEEL}", {"Range": "bytes=-10"}, 206),
    ("open-ended", f"/{WHEEL}", {"Range": "bytes=100-"}, 206),
    ("end past the size is cut", f"/{WHEEL}", {"Range": "bytes=0-99999"}, 206),
    ("suffix longer than the file", f"/{WHEEL}", {"Range": "bytes=-99999"}, 206),
    ("last byte", f"/{WHEEL}", {"Range": "bytes=-1"}, 206),
    ("upper-case unit, spaces", f"/{WHEEL}", {"Range": "BYTES= 0 - 3"}, 206),
    ("multi-range: the whole file", f"/{WHEEL}", {"Range": "bytes=0-1,5-6"}, 200),
    ("multi-range, one satisfiable", f"/{WHEEL}", {"Range": "bytes=0-1,99999-"}, 206),
    ("start past the end", f"/{WHEEL}", {"Range": "bytes=99999-"}, 416),
    ("empty suffix", f"/{WHEEL}", {"Range": "bytes=-0"}, 416),
    ("reversed", f"/{WHEEL}", {"Range": "bytes=5-2"}, 416),
    ("not a number", f"/{WHEEL}", {"Range": "bytes=x"}, 416),
    ("trailing garbage", f"/{WHEEL}", {"Range": "bytes=1-2x"}, 416),
    ("trailing comma", f"/{WHEEL}", {"Range": "bytes=0-1,"}, 416),
    ("overflow", f"/{WHEEL}", {"Range": "bytes=99999999999999999999-"}, 416),
    ("other unit ignored", f"/{WHEEL}", {"Range": "chars=0-1"}, 200),
    ("too short to be a range", f"/{WHEEL}", {"Range": "bytes="}, 200),
    ("If-Range not matching", f"/{WHEEL}", {"Range": "bytes=0-3", "If-Range": '"x"'}, 200),
    ("sidecar", f"/{WHEEL}.metadata", {"Range": "bytes=0-3"}, 206),
    ("sdist suffix", f"/{SDIST}", {"Range": "bytes=-4"}, 206),
    ("page", "/simple/foo/", {"Range": "bytes=0-9"}, 206),
    ("json page", "/simple/foo/", {"Range": "bytes=0-9", "Accept": JSON}, 206),
    ("page past the end", "/simple/foo/", {"Range": "bytes=99999-"}, 416),
    ("json page file past the end", "/simple/index.json", {"Range": "bytes=99999-"}, 416),
    ("browse page", "/browse/foo/", {"Range": "bytes=0-9"}, 206),
    ("browse page past the end", "/browse/foo/", {"Range": "bytes=99999-"}, 416),
    ("front page ignores it", "/", {"Range": "bytes=0-9"}, 200),
    ("health ignores it", "/healthz", {"Range": "bytes=0-0"}, 200),
    ("redirect ignores it", "/simple/foo", {"Range": "bytes=0-9"}, 301),
    ("not found ignores it", "/nope", {"Range": "bytes=99999-"}, 404),
    ("quarantined stays refused", f"/{HELD}", {"Range": "bytes=0-3"}, 404),
]

# (request path, Location both servers answer): a project name as PEP 508 allows it, not
# normalized, redirects towards the normalized one; each redirect fixes up to
# http_policy.NORMALIZE_STEPS capitals or separator runs, so a longer name takes more hops
NAME_CASES: list[tuple[str, str]] = [
    ("/simple/Django/", "../django/"),
    ("/simple/Django", "django/"),
    ("/browse/Django/", "../django/"),
    ("/simple/zope.interface/", "../zope-interface/"),
    ("/simple/typing_extensions/", "../typing-extensions/"),
    ("/simple/a--b/", "../a-b/"),
    ("/simple/a-_.-b/", "../a-b/"),
    ("/simple/Flask-SQLAlchemy/", "../flask-sqlalchemy/"),
    ("/simple/A1/", "../a1/"),
    ("/simple/X/", "../x/"),
    # more fixes than one redirect makes: the rest on the next
    ("/simple/ABCDEFGHIJKLMNOPQRSTUVWXYZ/", "../abcdefghIJKLMNOPQRSTUVWXYZ/"),
    ("/simple/abcdefghIJKLMNOPQRSTUVWXYZ/", "../abcdefghijklmnopQRSTUVWXYZ/"),
    ("/simple/A_B_C_D_E_F_G_H/", "../a-b-c-d-E_F_G_H/"),
    ("/simple/a-b-c-d-E_F_G_H/", "../a-b-c-d-e-f-g-h/"),
]


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, headers (case-insensitive) and body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def fetch(
    port: int, path: str, headers: dict[str, str | bytes] | None = None, method: str = "GET"
) -> Reply:
    """One request to a loopback server, the path sent exactly as given (no re-encoding)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()
