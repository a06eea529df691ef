"""A built index with hostile files beside it, and what a server must answer for each path.

The tree is what a bucket can hold once publishers upload whatever they like: HTML, SVG and
JavaScript next to the wheels, dot-files, yank markers, and symlinks (Cloud Storage FUSE shows
objects carrying its symlink metadata as symlinks) to files in and out of the root. Every answer
is one of a few kinds, and each kind fixes the status and the headers (see ``expected_headers``).
"""

from __future__ import annotations

import http.client
from datetime import UTC, datetime
from pathlib import Path

from pypapo.build import build
from pypapo.status_command import set_status
from pypapo.storage.local import LocalStorage
from tests.support.attestations import attest_file
from tests.support.tools import add_sdist, add_wheel

SECRET = b"TOPSECRET outside the index root\n"
WHEEL = "pkgs/foo-1.0-py3-none-any.whl"
SDIST = "pkgs/foo-1.0.tar.gz"
PUBLIC_URL = "https://pypi.example.com/"
"""What the tree's pages give as the index's URL (provenance links are full URLs)."""
HELD = "pkgs/held-1.0-py3-none-any.whl"
"""A file of a quarantined project (PEP 792): its bytes stay, no server hands them out."""
NOSNIFF = "nosniff"


def make_tree(base: Path) -> Path:
    """Build an index for ``foo`` under ``base/root``, add the hostile files, return the root."""
    root, outside = base / "root", base / "outside"
    outside.mkdir(parents=True)
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "index.html").write_bytes(SECRET)
    add_wheel(root, "foo", "1.0")
    add_sdist(root, "foo", "1.0")
    attest_file(add_wheel(root, "held", "1.0"))
    attest_file(root / WHEEL)
    storage = LocalStorage(root)
    build(storage, public_url=PUBLIC_URL)
    set_status(storage, "held", "quarantined", "malware", now=datetime.now(UTC))
    files = {
        "pkgs/readme.html": b"<script>alert(document.cookie)</script>",
        "pkgs/logo.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "pkgs/app.js": b"alert(1)",
        "pkgs/data.json": b'{"a": 1}',
        "pkgs/notes.txt": b"plain",
        "pkgs/.hidden-1.0.tar.gz": b"\x1f\x8b hidden",
        ".git/config": b"[core]",
        f"{WHEEL}.yanked": b"broken",
        # left behind, as by a publish that died before the quarantine removed it: the
        # quarantine marker alone must refuse it
        f"{HELD}.provenance": b'{"version": 1}',
        "pkgs/html-1.0.zip": b"<html><script>alert(1)</script></html>",
        "simple/foo/evil.html": b"<script>alert(1)</script>",
        "simple/foo/evil-1.0.tar.gz": b"\x1f\x8b in simple",
        "browse/evil.js": b"alert(1)",
        "browse/foo/evil.html": b"<script>alert(1)</script>",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    links = {
        "pkgs/passwd-1.0.tar.gz": outside / "secret.txt",  # out of the root
        "pkgs/alias-1.0-py3-none-any.whl": root / WHEEL,  # inside the root
        "pkgs/relative-1.0.tar.gz": Path("foo-1.0.tar.gz"),  # relative, inside
        "linked": root / "pkgs",  # a directory inside the root
        "escape": outside,  # a directory out of the root
        "simple/evil": outside,  # a project page directory out of the root
        "browse/evil": outside,
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    return root


# (path, kind, redirect location) — kinds: page-html, page-json, browse, dist, health, redirect,
# not-found. Pages are asked for without an Accept header (so HTML) unless the path names JSON.
ANSWERS: list[tuple[str, str, str | None]] = [
    ("/simple/", "page-html", None),
    ("/simple/foo/", "page-html", None),
    ("/simple/index.json", "page-json", None),
    ("/simple/foo/index.json", "page-json", None),
    ("/simple/foo/index.html", "page-html", None),
    ("/simple", "redirect", "simple/"),
    ("/simple/foo", "redirect", "foo/"),
    ("/browse/", "browse", None),
    ("/browse/foo/", "browse", None),
    ("/browse/index.html", "browse", None),
    ("/browse/foo/index.html", "browse", None),
    ("/browse", "redirect", "browse/"),
    ("/browse/foo", "redirect", "foo/"),
    (f"/{WHEEL}", "dist", None),
    (f"/{WHEEL}.metadata", "dist", None),
    (f"/{WHEEL}.provenance", "provenance", None),
    (f"/{WHEEL}.publish.attestation", "not-found", None),  # the publisher's input, not served
    (f"/{SDIST}.provenance", "not-found", None),  # not attested
    (f"/{SDIST}", "dist", None),
    ("/pkgs/html-1.0.zip", "dist", None),  # HTML inside, but never rendered
    ("/healthz", "health", None),
    ("/", "front", None),  # the front door: links to simple/ and browse/
    ("/simple/held/", "page-html", None),
    # a quarantined project's files and sidecars, and the markers that refuse them
    (f"/{HELD}", "not-found", None),
    (f"/{HELD}.metadata", "not-found", None),
    (f"/{HELD}.provenance", "not-found", None),
    ("/pkgs/../pkgs/held-1.0-py3-none-any.whl", "not-found", None),
    (f"/simple/.quarantine/{HELD}", "not-found", None),
    ("/status/held.json", "not-found", None),
    # not what the index publishes
    ("/pkgs/", "not-found", None),
    ("/pkgs", "not-found", None),
    ("/pkgs/readme.html", "not-found", None),
    ("/pkgs/logo.svg", "not-found", None),
    ("/pkgs/app.js", "not-found", None),
    ("/pkgs/data.json", "not-found", None),
    ("/pkgs/notes.txt", "not-found", None),
    ("/pkgs/.hidden-1.0.tar.gz", "not-found", None),
    ("/.git/config", "not-found", None),
    (f"/{WHEEL}.yanked", "not-found", None),
    ("/simple/foo/.state.json", "not-found", None),
    ("/simple/foo/%2Estate.json", "not-found", None),
    ("/simple/foo/evil.html", "not-found", None),
    ("/simple/foo/evil-1.0.tar.gz", "not-found", None),
    # a name as PEP 503 allows but not normalized: to the normalized one (http_policy)
    ("/simple/Foo/", "redirect", "../foo/"),
    ("/simple/Foo", "redirect", "foo/"),
    ("/browse/FOO/", "redirect", "../foo/"),
    ("/simple/-foo/", "not-found", None),  # no project is named so: nothing to redirect to
    ("/simple/foo+bar/", "not-found", None),
    ("/simple/nope/", "not-found", None),
    ("/browse/evil.js", "redirect", "evil-js/"),  # a project's name, by PEP 503: not served
    ("/browse/foo/evil.html", "not-found", None),
    (f"/{WHEEL}/", "not-found", None),
    ("/pkgs/foo-2.0-py3-none-any.whl", "not-found", None),
    # symlinks, in and out of the root
    ("/pkgs/passwd-1.0.tar.gz", "not-found", None),
    ("/pkgs/alias-1.0-py3-none-any.whl", "not-found", None),
    ("/pkgs/relative-1.0.tar.gz", "not-found", None),
    ("/linked/foo-1.0.tar.gz", "not-found", None),
    ("/escape/secret.txt", "not-found", None),
    ("/simple/evil/", "not-found", None),
    ("/simple/evil/index.html", "not-found", None),
    ("/browse/evil/", "not-found", None),
    # encoded traversal that stays inside the root (above it, nginx answers 400)
    ("/pkgs/%2e%2e/escape/secret.txt", "not-found", None),
    ("/simple/foo/%2e%2e/%2e%2e/pkgs/foo-1.0.tar.gz", "dist", None),  # stays inside: fine
]


def expected_headers(kind: str, csp: str) -> dict[str, str | None]:
    """The headers every answer of ``kind`` carries (``None``: must be absent)."""
    common: dict[str, str | None] = {"X-Content-Type-Options": NOSNIFF}
    html = "text/html; charset=utf-8"
    page = {"Cache-Control": "public, max-age=10", "Vary": "Accept"}
    by_kind: dict[str, dict[str, str | None]] = {
        "page-html": {"Content-Type": html, "Content-Security-Policy": csp, **page},
        "page-json": {
            "Content-Type": "application/vnd.pypi.simple.v1+json",
            "Content-Security-Policy": None,
            **page,
        },
        "browse": {
            "Content-Type": html,
            "Content-Security-Policy": csp,
            "Cache-Control": "public, max-age=10",
        },
        "dist": {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": "attachment",
            "Cache-Control": "public, max-age=31536000, immutable",
            "Content-Security-Policy": None,
        },
        "provenance": {
            "Content-Type": "application/json",
            "Cache-Control": "public, max-age=10",
            "Content-Security-Policy": None,
            "Content-Disposition": None,
        },
        "health": {"Content-Type": "text/plain", "Cache-Control": "no-store"},
        "front": {
            "Content-Type": html,
            "Content-Security-Policy": csp,
            "Cache-Control": "public, max-age=10",
        },
        "redirect": {},
        "not-found": {
            "Content-Type": "text/plain",
            "Cache-Control": "no-store",
            "Content-Disposition": None,
        },
    }
    return common | by_kind[kind]


STATUS = {"redirect": 301, "not-found": 404}


def header_problems(headers: http.client.HTTPMessage, kind: str, csp: str) -> list[str]:
    """Where ``headers`` differ from what ``kind`` fixes (Vary compared as a set of tokens)."""
    problems = []
    for name, value in expected_headers(kind, csp).items():
        if name == "Vary":
            tokens = {t.strip() for v in headers.get_all(name) or [] for t in v.split(",")}
            if value not in tokens:
                problems.append(f"Vary {sorted(tokens)} lacks {value}")
        elif headers.get(name) != value:
            problems.append(f"{name}: {headers.get(name)!r}, expected {value!r}")
    return problems
