"""What the index serves over HTTP: the allow-list ``nginx/nginx.conf`` implements, as data.

``route(path)`` maps a decoded, normalized URL path to what answers it; everything the index
does not publish is ``NOT_FOUND``. ``pypapo serve`` answers from it, and
``tests/test_http_parity.py`` checks that NGINX and ``pypapo serve`` agree path for path. The
regular expressions are the ones in ``nginx.conf``, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import BinaryIO

# Pages need no script; the only inline content is the browse template's <style>, allowed by
# its hash (tests/deploy/test_nginx_allowlist.py recomputes it from a rendered page).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'sha256-kg0CvyrzhFs8GpXN3lnkKuyFTEmsIm3yY3XHy4qWvqk='; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
NOSNIFF = ("X-Content-Type-Options", "nosniff")
DOWNLOAD_CONTENT_TYPE = "application/octet-stream"
DOWNLOAD_DISPOSITION = "attachment"
PROVENANCE_CONTENT_TYPE = "application/json"
"""PEP 740 provenance documents: JSON a client reads, not a download (no disposition)."""
NOT_FOUND_BODY = b"not found\n"
FRONT_PAGE = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
    b"<title>Python package index</title></head><body>\n<h1>Python package index</h1>\n<ul>\n"
    b'<li><a href="simple/">simple/</a>: the index pip, uv, poetry and pdm read '
    b"(PEP 503, PEP 691)</li>\n"
    b'<li><a href="browse/">browse/</a>: the projects and their files, for people</li>\n'
    b"</ul>\n<p>pip install --index-url http://HOST/simple/ PACKAGE</p>\n</body></html>\n"
)
"""What ``/`` answers, byte for byte the string nginx.conf returns (a test compares them)."""
MOVED_BODY = (
    b"<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n"
    b"<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
RANGE_NOT_SATISFIABLE_BODY = (
    b"<html>\r\n<head><title>416 Requested Range Not Satisfiable</title></head>\r\n<body>\r\n"
    b"<center><h1>416 Requested Range Not Satisfiable</h1></center>\r\n"
    b"<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
"""NGINX's own pages for a redirect and an unsatisfiable range (``server_tokens off``), which
``pypapo serve`` answers too, so that both servers send the same bytes."""
KEEPALIVE_TIMEOUT = 65  # seconds an idle connection stays open, nginx.conf's keepalive_timeout
MAX_OFFSET = 2**63 - 1  # NGINX's off_t: a larger number in a range is unsatisfiable

_NAME = r"[a-z0-9]+(?:-[a-z0-9]+)*"  # a normalized project name (PEP 503)
_SEGMENT = r"[^/.][^/]*"  # no dot-files, no dot-directories
PAGE_DIR = re.compile(rf"^/simple/(?:(?P<project>{_NAME})/)?$")
PAGE_FILE = re.compile(rf"^/simple/(?:{_NAME}/)?index\.(?P<format>json|html)$")
BROWSE_DIR = re.compile(rf"^/browse/(?:{_NAME}/)?$")
BROWSE_FILE = re.compile(rf"^/browse/(?:{_NAME}/)?index\.html$")
REDIRECT = re.compile(rf"^/(?:simple|browse)/(?P<last>{_NAME})$|^/(?P<top>simple|browse)$")
DOWNLOAD = re.compile(
    rf"^/(?!(?:simple|browse)/)(?P<file>(?:{_SEGMENT}/)*{_SEGMENT}\.(?:whl|tar\.gz|zip))"
    r"(?:\.metadata)?$"
)
PROVENANCE = re.compile(
    rf"^/(?!(?:simple|browse)/)(?P<file>(?:{_SEGMENT}/)*{_SEGMENT}\.(?:whl|tar\.gz|zip))"
    r"\.provenance$"
)
_ANY_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"  # a project name as PEP 508 allows
# A valid name that is not normalized (the routes above took the normalized ones), with or
# without the slash: redirected towards its normalized form. PEP 508 names only: every step
# then makes progress and the result is a name, so no loop and no redirect to garbage.
NAME_REDIRECT = re.compile(rf"^/(?:simple|browse)/(?P<name>{_ANY_NAME})(?P<slash>/?)$")
NORMALIZE_STEPS = 8
"""How many capitals or separator runs one redirect fixes (NGINX cannot lower a whole string:
each step is a pair of ``map`` stages, nginx/pypapo-names.conf). A name with more takes more
redirects, each landing on the same route: pip follows 30, uv 10, so up to 80 fixes."""
# The first thing PEP 503 changes: a capital, or a separator run that is not a lone '-'. The
# prefix holds nothing a fix matches, so whatever ends it is the first fix, with no backtracking
# to find another (no possessive quantifier: gixy's parser reads none).
_FIRST_FIX = r"^(?<pre>(?:[a-z0-9]|-(?![-_.]))*)(?<bad>[A-Z]|[_.][-_.]*|-[-_.]+)(?<post>.*)$"
_FIRST_FIX_RE = re.compile(_FIRST_FIX.replace("(?<", "(?P<"))
QUARANTINE_DIR = "simple/.quarantine/"
"""While ``<this><file>`` exists the file and its sidecars are refused (``pypapo.layout``)."""


class Kind(Enum):
    HEALTH = "health"
    FRONT = "front"  # the front page, FRONT_PAGE
    REDIRECT = "redirect"
    PAGE = "page"  # negotiated: index.json or index.html in the directory
    PAGE_FILE = "page-file"  # a page by its own name
    BROWSE = "browse"
    DOWNLOAD = "download"  # a distribution or its PEP 658 sidecar
    PROVENANCE = "provenance"  # a distribution's PEP 740 provenance document
    NOT_FOUND = "not-found"


@dataclass(frozen=True)
class Route:
    kind: Kind
    target: str = ""  # the file or directory (relative to the root), or the redirect's Location
    refused_if: str = ""  # a download is refused (404) while this file exists


# (pattern, kind, the target from the match), in nginx.conf's order of precedence
_ROUTES: list[tuple[re.Pattern[str], Kind, Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^/healthz$"), Kind.HEALTH, lambda m: ""),
    (re.compile(r"^/$"), Kind.FRONT, lambda m: ""),
    (REDIRECT, Kind.REDIRECT, lambda m: (m["last"] or m["top"]) + "/"),
    (PAGE_DIR, Kind.PAGE, lambda m: "simple/" + (m["project"] + "/" if m["project"] else "")),
    (PAGE_FILE, Kind.PAGE_FILE, lambda m: m.string[1:]),
    (BROWSE_DIR, Kind.BROWSE, lambda m: m.string[1:] + "index.html"),
    (BROWSE_FILE, Kind.BROWSE, lambda m: m.string[1:]),
    (DOWNLOAD, Kind.DOWNLOAD, lambda m: m.string[1:]),
    (PROVENANCE, Kind.PROVENANCE, lambda m: m.string[1:]),
    (
        NAME_REDIRECT,
        Kind.REDIRECT,
        lambda m: ("../" if m["slash"] else "") + normalize_steps(m["name"]) + "/",
    ),
]


def route(path: str) -> Route:
    """What answers ``path`` (decoded, without dot segments); ``NOT_FOUND`` when nothing does."""
    for pattern, kind, target in _ROUTES:
        match = pattern.match(path)
        if match is not None:
            refusable = kind in {Kind.DOWNLOAD, Kind.PROVENANCE}
            marker = QUARANTINE_DIR + match["file"] if refusable else ""
            return Route(kind, target(match), marker)
    return Route(Kind.NOT_FOUND)


_RANGE_ITEM = re.compile(r" *(?:(?P<first>[0-9]+) *- *(?P<last>[0-9]*)|-(?P<suffix>[0-9]+)) *")


def byte_range(value: str | None, size: int, if_range: str | None = None) -> range | None:
    """The bytes a ``Range`` header asks of a file of ``size`` bytes, as NGINX's range filter
    reads it with ``max_ranges 1`` (nginx.conf): ``None`` for the whole file (no range, another
    unit, an ``If-Range``, or more than one satisfiable range), an empty range when nothing is
    satisfiable (416), else the one range (206).

    ``pypapo serve`` sends no validator, so no ``If-Range`` can match it: the whole file.
    """
    if value is None or len(value) < 7 or value[:6].lower() != "bytes=" or if_range is not None:
        return None
    found: range | None = None
    for item in value[6:].split(","):  # in order: NGINX stops at the first verdict
        match = _RANGE_ITEM.fullmatch(item)
        if match is None:
            return range(0)
        first, last, suffix = match["first"], match["last"], match["suffix"]
        if max(int(n) for n in (first, last, suffix) if n) > MAX_OFFSET:
            return range(0)
        if suffix is not None:
            start, stop = max(size - int(suffix), 0), size
        else:
            start, stop = int(first), min(int(last) + 1, size) if last else size
        if start < stop and found is not None:
            return None  # a second range: the whole file, as max_ranges 1 does
        if start < stop:
            found = range(start, stop)
        elif start == 0:  # an empty file: NGINX sends it whole
            return None
    return found if found is not None else range(0)


def normalize_steps(name: str, steps: int = NORMALIZE_STEPS) -> str:
    """``name`` with its first ``steps`` fixes made (a capital lowered, a separator run made
    one '-'), as NGINX's chain of maps makes them; after enough, ``canonicalize_name(name)``."""
    for _ in range(steps):
        match = _FIRST_FIX_RE.match(name)
        if match is None:
            break
        fix = match["bad"].lower() if match["bad"].isalpha() else "-"
        name = match["pre"] + fix + match["post"]
    return name


def nginx_name_maps(steps: int = NORMALIZE_STEPS) -> str:
    """nginx/pypapo-names.conf: ``$pypapo_name`` (a location's capture) with ``steps`` fixes
    made, as ``$pypapo_normalized``. Each step is a regex ``map`` splitting off the first fix
    and a ``map`` giving its replacement (a lookup lowers its key, so one entry per letter)."""
    lines = [
        "# Generated by pypapo.http_policy (python -m pypapo.http_policy > this file); a test",
        "# keeps it so. $pypapo_normalized: $pypapo_name, its first NORMALIZE_STEPS fixes made.",
    ]
    letters = "".join(f" {c} {c.lower()};" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    for step in range(1, steps + 1):
        source = "$pypapo_name" if step == 1 else f"$pypapo_name_{step - 1}"
        target = "$pypapo_normalized" if step == steps else f"$pypapo_name_{step}"
        regex = re.sub(r"\(\?<(\w+)>", rf"(?<pypapo_\1_{step}>", _FIRST_FIX)
        parts = "".join(f"${{pypapo_{p}_{step}}}" for p in ("pre", "fix", "post"))
        lines += [
            f"map {source} {target} {{",
            f"    default {source};",
            f'    "~{regex}" "{parts}";',
            "}",
            f"map $pypapo_bad_{step} $pypapo_fix_{step} {{",
            f"    default -;{letters}",
            "}",
        ]
    return "\n".join(lines) + "\n"


def normalize(path: str) -> str | None:
    """``path`` as NGINX matches it: slashes merged, ``.`` and ``..`` resolved; ``None`` when it
    climbs above the root (NGINX answers 400)."""
    kept: list[str] = []
    segments = path.split("/")
    for segment in segments:
        if segment in {"", "."}:
            continue
        if segment == "..":
            if not kept:
                return None
            kept.pop()
            continue
        kept.append(segment)
    trailing = "/" if kept and segments[-1] in {"", ".", ".."} else ""
    return "/" + "/".join(kept) + trailing


def open_beneath(root: Path, relative: str) -> BinaryIO | None:
    """A regular file under ``root`` opened for reading, or ``None``: missing, not a regular
    file, or reached through a symlink in any component (as NGINX's ``disable_symlinks on``)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    parts = [p for p in relative.split("/") if p]
    if not parts:
        return None
    fd = -1
    try:
        fd = os.open(root, flags | os.O_DIRECTORY)
        for part in parts[:-1]:
            fd, parent = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd), fd
            os.close(parent)
        leaf = os.open(parts[-1], flags, dir_fd=fd)
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
    if not stat.S_ISREG(os.fstat(leaf).st_mode):
        os.close(leaf)
        return None
    return os.fdopen(leaf, "rb")


if __name__ == "__main__":
    sys.stdout.write(nginx_name_maps())
