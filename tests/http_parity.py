"""What NGINX and ``pypapo serve`` must both answer: one table, two servers."""

from __future__ import annotations

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
