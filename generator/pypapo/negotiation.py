"""PEP 691 content negotiation: pick the JSON or HTML page from an ``Accept`` header. Pure."""

from __future__ import annotations

from typing import Literal

Format = Literal["json", "html"]

_OFFERS: dict[str, Format] = {
    "application/vnd.pypi.simple.v1+json": "json",
    "application/vnd.pypi.simple.latest+json": "json",
    "application/vnd.pypi.simple.v1+html": "html",
    "application/vnd.pypi.simple.latest+html": "html",
    "text/html": "html",
}


def _quality(params: list[str]) -> float:
    for param in params:
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def choose_format(accept: str | None) -> Format:
    """The format to serve: highest q-value wins, JSON on ties; HTML when nothing matches.

    ``*/*`` and ``text/*`` select HTML, the format every client understands; ``application/*``
    selects JSON, the only ``application/`` type offered.
    """
    best: tuple[float, int, Format] | None = None
    for item in (accept or "").split(","):
        media, *params = item.split(";")
        media = media.strip().lower()
        if media in _OFFERS:
            fmt = _OFFERS[media]
        elif media in {"*/*", "text/*"}:
            fmt = "html"
        elif media == "application/*":
            fmt = "json"
        else:
            continue
        q = _quality(params)
        if q <= 0:
            continue
        candidate = (q, 1 if fmt == "json" else 0, fmt)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best is not None else "html"
